"""Three real processes on `sim`: connector, risk and engine, each started the way an operator
starts it (`python -m opensqt_<service>` with flags), on free ports, with temporary data dirs.

    async with running_system(tmp_path, engine_config=..., risk_config=...) as system:
        await system.set_price("59900")
        status = await system.status()
        system.stop("engine")                  # SIGTERM, returns the exit code

The connector's random walk is stopped before risk and the engine start, so prices move
only when the test sets them (SimControl.SetPrice). Every process logs to a file in the
temporary directory; a failing test prints the tails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import yaml

from opensqt.common.v1 import common_pb2
from opensqt.engine.v1 import engine_service_pb2 as engine_pb
from opensqt.engine.v1 import engine_service_pb2_grpc
from opensqt.engine.v1 import types_pb2 as engine_types
from opensqt.exchange.v1 import exchange_service_pb2 as exchange_pb
from opensqt.exchange.v1 import exchange_service_pb2_grpc, types_pb2
from opensqt.risk.v1 import risk_service_pb2 as risk_pb
from opensqt.risk.v1 import risk_service_pb2_grpc
from opensqt.sim.v1 import sim_service_pb2, sim_service_pb2_grpc
from opensqt_common.testing import eventually, free_port, wait_serving

if TYPE_CHECKING:
    from opensqt.engine.v1.engine_service_pb2_grpc import EngineServiceAsyncStub
    from opensqt.exchange.v1.exchange_service_pb2_grpc import ExchangeServiceAsyncStub
    from opensqt.risk.v1.risk_service_pb2_grpc import RiskServiceAsyncStub
    from opensqt.sim.v1.sim_service_pb2_grpc import SimControlServiceAsyncStub

SYMBOL = "BTC/USDT:USDT"
STRATEGY = "e2e"
STOP_TIMEOUT_S = 30.0
HEALTH = {
    "connector": "opensqt.exchange.v1.ExchangeService",
    "risk": "opensqt.risk.v1.RiskService",
    "engine": "opensqt.engine.v1.EngineService",
}

# 1000 USDT per buy at ~60,000 is 0.016 BTC per level (sim: tick 0.1, step 0.001).
ENGINE_CONFIG: dict[str, Any] = {
    "strategy_id": STRATEGY,
    "symbol": SYMBOL,
    "market": "perp",
    "price_interval": "50",
    "order_amount": "1000",
    "buy_window": 5,
    "sell_window": 5,
    "anchor_price": "60000",
    "post_only": True,
    "max_open_orders": 20,
    "reconcile_seconds": 30,
    "cancel_on_exit": True,
}

RISK_CONFIG: dict[str, Any] = {
    "limits": {
        "max_order_quantity": "0.1",
        "max_position": "1",
        "max_order_notional": "2000",
        "max_open_orders": 40,
        "max_order_rate": 100,
        "drawdown_limit": "1000",
    },
    "symbols": {SYMBOL: {}},
    "crash_detector": {"enabled": False},
}


def dec(value: str | Decimal) -> common_pb2.Decimal:
    return common_pb2.Decimal(value=str(value))


@dataclass
class Process:
    name: str
    argv: list[str]
    log: Path
    address: str
    popen: subprocess.Popen[bytes] | None = None

    def tail(self, lines: int = 30) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class System:
    data_dir: Path
    processes: dict[str, Process] = field(default_factory=dict)
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    # ---- processes --------------------------------------------------------------------------

    def start(self, name: str) -> Process:
        process = self.processes[name]
        with process.log.open("ab") as sink:
            process.popen = subprocess.Popen(
                process.argv,
                cwd=self.data_dir,
                env=_environment(),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        return process

    async def wait_serving(self, name: str) -> None:
        process = self.processes[name]
        try:
            await wait_serving(process.address, service=HEALTH[name], timeout=60)
        except AssertionError:
            raise AssertionError(f"{name} not serving:\n{process.tail()}") from None

    def stop(self, name: str, sig: int = signal.SIGTERM) -> int:
        """Send `sig` and wait for the exit; returns the exit code."""
        popen = self.processes[name].popen
        assert popen is not None, f"{name} was not started"
        if popen.poll() is None:
            popen.send_signal(sig)
        try:
            return popen.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(timeout=STOP_TIMEOUT_S)
            raise AssertionError(
                f"{name} did not exit within {STOP_TIMEOUT_S} s:\n{self.processes[name].tail()}"
            ) from None

    def running(self, name: str) -> bool:
        popen = self.processes[name].popen
        return popen is not None and popen.poll() is None

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.tail()}" for p in self.processes.values())

    # ---- clients ----------------------------------------------------------------------------

    def _channel(self, name: str) -> grpc.aio.Channel:
        channel = grpc.aio.insecure_channel(self.processes[name].address)
        self.channels.append(channel)
        return channel

    def exchange(self) -> ExchangeServiceAsyncStub:
        stub: ExchangeServiceAsyncStub = exchange_service_pb2_grpc.ExchangeServiceStub(
            self._channel("connector")
        )
        return stub

    def sim(self) -> SimControlServiceAsyncStub:
        stub: SimControlServiceAsyncStub = sim_service_pb2_grpc.SimControlServiceStub(
            self._channel("connector")
        )
        return stub

    def engine(self) -> EngineServiceAsyncStub:
        stub: EngineServiceAsyncStub = engine_service_pb2_grpc.EngineServiceStub(self._channel("engine"))
        return stub

    def risk(self) -> RiskServiceAsyncStub:
        stub: RiskServiceAsyncStub = risk_service_pb2_grpc.RiskServiceStub(self._channel("risk"))
        return stub

    # ---- the sim venue ----------------------------------------------------------------------

    async def set_price(self, price: str, *, volume: str = "0") -> int:
        response = await self.sim().SetPrice(
            sim_service_pb2.SetPriceRequest(symbol=SYMBOL, price=dec(price), volume=dec(volume))
        )
        return int(response.fills)

    async def close_kline(self) -> None:
        await self.sim().CloseKline(sim_service_pb2.CloseKlineRequest(symbol=SYMBOL))

    async def open_orders(self) -> list[types_pb2.Order]:
        response = await self.exchange().ListOpenOrders(exchange_pb.ListOpenOrdersRequest(symbol=SYMBOL))
        return list(response.orders)

    async def own_orders(self, side: int | None = None) -> list[types_pb2.Order]:
        return [
            order
            for order in await self.open_orders()
            if order.client_order_id.startswith(STRATEGY) and (side is None or order.side == side)
        ]

    async def usdt_total(self) -> Decimal:
        response = await self.exchange().GetBalances(exchange_pb.GetBalancesRequest())
        return next(Decimal(b.total.value) for b in response.balances if b.asset == "USDT")

    async def position(self) -> Decimal:
        response = await self.exchange().GetPositions(exchange_pb.GetPositionsRequest(symbol=SYMBOL))
        return sum((Decimal(p.quantity.value) for p in response.positions), Decimal(0))

    # ---- the engine -------------------------------------------------------------------------

    async def status(self) -> engine_types.EngineStatus:
        return (await self.engine().GetStatus(engine_pb.GetStatusRequest())).status

    def audit(self, event: str | None = None) -> list[dict[str, Any]]:
        path = self.data_dir / "engine-audit.jsonl"
        if not path.exists():
            return []
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [r for r in records if event is None or r["event"] == event]

    async def wait_orders(
        self, prices: Mapping[int, list[str]], *, timeout: float = 15.0, what: str = ""
    ) -> list[types_pb2.Order]:
        """Wait until the grid's open orders are exactly these prices per side."""
        wanted = {side: sorted(Decimal(p) for p in ps) for side, ps in prices.items()}
        found: list[types_pb2.Order] = []

        async def matches() -> bool:
            nonlocal found
            found = await self.own_orders()
            return all(
                sorted(Decimal(o.price.value) for o in found if o.side == side) == levels
                for side, levels in wanted.items()
            )

        try:
            await eventually(matches, timeout=timeout, interval=0.02, message=what or f"orders {prices}")
        except AssertionError as exc:
            seen = [(o.side, o.price.value, o.quantity.value) for o in found]
            raise AssertionError(f"{exc}; open: {seen}\n{self.logs()}") from None
        return found

    async def wait_status(
        self, predicate: Any, *, timeout: float = 15.0, what: str
    ) -> engine_types.EngineStatus:
        status = engine_types.EngineStatus()

        async def check() -> bool:
            nonlocal status
            status = await self.status()
            return bool(predicate(status))

        try:
            await eventually(check, timeout=timeout, interval=0.02, message=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; status: {status}\n{self.logs()}") from None
        return status

    async def halt_state(self) -> risk_pb.WatchTradingStateResponse:
        call = self.risk().WatchTradingState(risk_pb.WatchTradingStateRequest())
        try:
            response = await call.read()
        finally:
            call.cancel()
        assert isinstance(response, risk_pb.WatchTradingStateResponse)
        return response


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENSQT_", "OTEL_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@asynccontextmanager
async def running_system(
    data_dir: Path,
    *,
    engine_config: Mapping[str, Any] | None = None,
    risk_config: Mapping[str, Any] | None = None,
    start_engine: bool = True,
) -> AsyncIterator[System]:
    """Connector (sim, no random walk), risk and engine as processes; everything stopped at the end."""
    python = sys.executable
    ports = {name: free_port() for name in ("connector", "risk", "engine")}
    address = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    (data_dir / "engine.yaml").write_text(yaml.safe_dump(dict(ENGINE_CONFIG, **(engine_config or {}))))
    (data_dir / "risk.yaml").write_text(yaml.safe_dump(dict(RISK_CONFIG, **(risk_config or {}))))
    system = System(data_dir)
    common = ["--log-format", "console"]
    system.processes = {
        "connector": Process(
            "connector",
            [
                python,
                "-m",
                "opensqt_connector",
                "--exchange",
                "sim",
                "--listen",
                address["connector"],
                *common,
            ],
            data_dir / "connector.log",
            address["connector"],
        ),
        "risk": Process(
            "risk",
            [
                python,
                "-m",
                "opensqt_risk",
                "--listen",
                address["risk"],
                "--connector",
                address["connector"],
                "--config",
                str(data_dir / "risk.yaml"),
                "--audit-log",
                str(data_dir / "risk-audit.jsonl"),
                "--account-poll-seconds",
                "0.2",
                "--reconnect-initial-seconds",
                "0.05",
                "--reconnect-max-seconds",
                "0.2",
                *common,
            ],
            data_dir / "risk.log",
            address["risk"],
        ),
        "engine": Process(
            "engine",
            [
                python,
                "-m",
                "opensqt_engine",
                "--listen",
                address["engine"],
                "--connector",
                address["connector"],
                "--risk",
                address["risk"],
                "--config",
                str(data_dir / "engine.yaml"),
                "--audit-log",
                str(data_dir / "engine-audit.jsonl"),
                "--database-url",
                f"sqlite:///{data_dir / 'engine.sqlite'}",
                "--reconnect-initial-seconds",
                "0.05",
                "--reconnect-max-seconds",
                "0.2",
                "--lookup-delay-seconds",
                "0.1",
                *common,
            ],
            data_dir / "engine.log",
            address["engine"],
        ),
    }
    try:
        system.start("connector")
        await system.wait_serving("connector")
        await system.sim().SetPriceFeed(sim_service_pb2.SetPriceFeedRequest(running=False))
        await system.set_price("60000")
        system.start("risk")
        await system.wait_serving("risk")
        if start_engine:
            system.start("engine")
            await system.wait_serving("engine")
            await system.wait_status(
                lambda s: s.state == engine_types.ENGINE_STATE_RUNNING and s.risk_connected,
                what="engine running with risk",
                timeout=60,
            )
        yield system
    finally:
        for channel in system.channels:
            await channel.close()
        for name in ("engine", "risk", "connector"):
            if system.running(name):
                system.stop(name)


def elapsed_ms(start_ns: int, end_ns: int) -> float:
    return (end_ns - start_ns) / 1e6
