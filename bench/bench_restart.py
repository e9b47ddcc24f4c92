"""Engine restart after kill -9: how soon does it trade again? (issue 6: within 2 s on SQLite)

    .venv/bin/python bench/bench_restart.py [--restarts 10] [--postgres]

Connector (`--exchange sim`), risk and engine run as their own processes, started the way an
operator starts them. Each sample:

1. the engine trades (its buys rest at the venue);
2. SIGKILL the engine (t = 0) and, while it is dead, print a price one level lower: the top buy
   fills, so the grid owes a take-profit sell it has not placed yet;
3. start a new engine process at once and measure, from t = 0:
   - serving: gRPC health SERVING (process up, imports done, server bound);
   - running: GetStatus RUNNING (journal opened, strategy claimed, DBOS launched, start-up
     recovery done, streams open, reconciled);
   - first order: the first order of the new process arrives at the sim venue (the
     take-profit sell, seen on the connector's order stream).

"First order" is the figure the issue's budget is about: kill -9 → trading again. It includes
starting a Python interpreter and importing gRPC, DBOS and SQLAlchemy (≈0.7 s here).
"""

from __future__ import annotations

from opensqt_common.grpc_transport import prefer_low_latency_transport

prefer_low_latency_transport()  # as the services do, before anything loads grpc

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import yaml

from opensqt.common.v1 import common_pb2
from opensqt.engine.v1 import engine_service_pb2 as engine_pb
from opensqt.engine.v1 import engine_service_pb2_grpc
from opensqt.engine.v1 import types_pb2 as engine_types
from opensqt.exchange.v1 import exchange_service_pb2 as exchange_pb
from opensqt.exchange.v1 import exchange_service_pb2_grpc
from opensqt.sim.v1 import sim_service_pb2, sim_service_pb2_grpc
from opensqt_common.testing import free_port, health_status

if TYPE_CHECKING:
    from opensqt.engine.v1.engine_service_pb2_grpc import EngineServiceAsyncStub
    from opensqt.exchange.v1.exchange_service_pb2_grpc import ExchangeServiceAsyncStub

SYMBOL = "BTC/USDT:USDT"
STRATEGY = "rst"
INTERVAL = Decimal(50)
ENGINE_CONFIG = {
    "strategy_id": STRATEGY,
    "symbol": SYMBOL,
    "market": "perp",
    "price_interval": "50",
    "order_amount": "1000",
    "buy_window": 5,
    "sell_window": 5,
    "anchor_price": "60000",
    "reconcile_seconds": 30,
}
RISK_CONFIG = {
    "limits": {
        "max_order_quantity": "0.1",
        "max_position": "2",
        "max_order_notional": "2000",
        "max_open_orders": 40,
        "max_order_rate": 100,
        "drawdown_limit": "100000",
    },
    "symbols": {SYMBOL: {}},
    "crash_detector": {"enabled": False},
}
FAST = [
    ("grpc.initial_reconnect_backoff_ms", 20),
    ("grpc.min_reconnect_backoff_ms", 20),
    ("grpc.max_reconnect_backoff_ms", 100),
]


def dec(value: Decimal | str) -> common_pb2.Decimal:
    return common_pb2.Decimal(value=str(value))


@dataclass
class Sample:
    serving_s: float
    running_s: float
    first_order_s: float


class Processes:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.children: dict[str, asyncio.subprocess.Process] = {}

    async def start(self, name: str, module: str, *argv: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENSQT_", "OTEL_"))}
        with (self.workdir / f"{name}.log").open("ab") as log:
            self.children[name] = await asyncio.create_subprocess_exec(
                sys.executable, "-m", module, *argv, cwd=self.workdir, env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip

    async def kill(self, name: str) -> None:
        child = self.children[name]
        if child.returncode is None:
            child.send_signal(signal.SIGKILL)
        await child.wait()

    async def stop_all(self) -> None:
        for child in self.children.values():
            if child.returncode is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children.values():
            try:
                await asyncio.wait_for(child.wait(), 30)
            except TimeoutError:
                child.kill()
                await child.wait()


async def until(condition: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout} s")
        await asyncio.sleep(0.002)


class OrderWatch:
    """The connector's order stream, read in the background: arrival time of every new order."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub: ExchangeServiceAsyncStub = exchange_service_pb2_grpc.ExchangeServiceStub(channel)
        self.first_seen: dict[str, float] = {}
        self.ready = asyncio.Event()
        self.task = asyncio.ensure_future(self._run())

    def new_order(self, known: set[str]) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return bool(set(self.first_seen) - known)

        return check

    async def _run(self) -> None:
        async for message in self._stub.StreamOrderUpdates(
            exchange_pb.StreamOrderUpdatesRequest(symbol=SYMBOL)
        ):
            kind = message.WhichOneof("event")
            if kind == "snapshot_end":
                self.ready.set()
            elif kind in ("update", "snapshot_order"):
                order = getattr(message, kind)
                self.first_seen.setdefault(order.client_order_id, time.monotonic())


async def run(restarts: int, database_url: str, workdir: Path) -> list[Sample]:
    connector, risk, engine = (f"127.0.0.1:{free_port()}" for _ in range(3))
    (workdir / "engine.yaml").write_text(yaml.safe_dump(ENGINE_CONFIG))
    (workdir / "risk.yaml").write_text(yaml.safe_dump(RISK_CONFIG))
    procs = Processes(workdir)
    engine_argv = [
        "--listen", engine, "--connector", connector, "--risk", risk,
        "--config", str(workdir / "engine.yaml"), "--audit-log", str(workdir / "engine-audit.jsonl"),
        "--database-url", database_url, "--journal", "durable",
        "--reconnect-initial-seconds", "0.05", "--reconnect-max-seconds", "0.2",
    ]  # fmt: skip
    samples: list[Sample] = []
    watch: OrderWatch | None = None
    channels = [grpc.aio.insecure_channel(target, options=FAST) for target in (connector, engine)]
    try:
        await procs.start("connector", "opensqt_connector", "--exchange", "sim", "--listen", connector)
        await until(lambda: serving(connector, "opensqt.exchange.v1.ExchangeService"), 60, "connector")
        sim = sim_service_pb2_grpc.SimControlServiceStub(channels[0])
        await sim.SetPriceFeed(sim_service_pb2.SetPriceFeedRequest(running=False))
        price = Decimal(60000)
        await sim.SetPrice(sim_service_pb2.SetPriceRequest(symbol=SYMBOL, price=dec(price), volume=dec("0")))
        await procs.start(
            "risk", "opensqt_risk", "--listen", risk, "--connector", connector, "--config",
            str(workdir / "risk.yaml"), "--audit-log", str(workdir / "risk-audit.jsonl"),
        )  # fmt: skip
        await until(lambda: serving(risk, "opensqt.risk.v1.RiskService"), 60, "risk")
        exchange: ExchangeServiceAsyncStub = exchange_service_pb2_grpc.ExchangeServiceStub(channels[0])
        watch = OrderWatch(channels[0])
        await asyncio.wait_for(watch.ready.wait(), 30)
        status: EngineServiceAsyncStub = engine_service_pb2_grpc.EngineServiceStub(channels[1])
        await procs.start("engine", "opensqt_engine", *engine_argv)
        await until(lambda: running(status), 60, "first engine start")
        for _ in range(restarts):
            await until(has_top_buy(exchange, price), 30, "the grid's top buy")
            known = set(watch.first_seen)
            started = time.monotonic()
            await procs.kill("engine")
            price -= INTERVAL  # fills the top buy while the engine is dead
            await sim.SetPrice(
                sim_service_pb2.SetPriceRequest(symbol=SYMBOL, price=dec(price), volume=dec("0"))
            )
            await procs.start("engine", "opensqt_engine", *engine_argv)
            await until(lambda: serving(engine, "opensqt.engine.v1.EngineService"), 60, "engine serving")
            serving_s = time.monotonic() - started
            await until(lambda: running(status), 60, "engine running")
            running_s = time.monotonic() - started
            await until(watch.new_order(known), 60, "the first new order")
            first = min(t for cid, t in watch.first_seen.items() if cid not in known)
            samples.append(Sample(serving_s, running_s, first - started))
    finally:
        if watch is not None:
            watch.task.cancel()
            await asyncio.gather(watch.task, return_exceptions=True)
        await procs.stop_all()
        for channel in channels:
            await channel.close()
    return samples


def has_top_buy(exchange: ExchangeServiceAsyncStub, price: Decimal) -> Callable[[], Awaitable[bool]]:
    """The grid's highest buy (one level below `price`) rests at the venue."""

    async def check() -> bool:
        response = await exchange.ListOpenOrders(exchange_pb.ListOpenOrdersRequest(symbol=SYMBOL))
        return any(
            o.side == common_pb2.SIDE_BUY
            and Decimal(o.price.value) == price - INTERVAL
            and o.client_order_id.startswith(STRATEGY)
            for o in response.orders
        )

    return check


async def serving(target: str, service: str) -> bool:
    return await health_status(target, service, timeout=0.2) == 1


async def running(stub: EngineServiceAsyncStub) -> bool:
    try:
        response = await stub.GetStatus(engine_pb.GetStatusRequest(), timeout=0.5)
    except grpc.aio.AioRpcError:
        return False
    status = response.status
    return bool(status.state == engine_types.ENGINE_STATE_RUNNING and status.risk_connected)


def report(label: str, samples: list[Sample]) -> None:
    def line(name: str, values: list[float]) -> str:
        ordered = sorted(values)
        p50 = statistics.median(ordered)
        return (
            f"  {name:<13} p50 {p50 * 1000:7.0f} ms   max {ordered[-1] * 1000:7.0f} ms   (n={len(ordered)})"
        )

    print(f"{label}: kill -9 -> ...")
    print(line("serving", [s.serving_s for s in samples]))
    print(line("running", [s.running_s for s in samples]))
    print(line("first order", [s.first_order_s for s in samples]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=10)
    parser.add_argument("--postgres", action="store_true", help="also measure on a throwaway PostgreSQL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="opensqt-restart-") as tmp:
        workdir = Path(tmp)
        (workdir / "sqlite").mkdir()
        samples = asyncio.run(
            run(args.restarts, f"sqlite:///{workdir / 'sqlite' / 'engine.sqlite'}", workdir / "sqlite")
        )
        report("SQLite", samples)
        if args.postgres:
            from opensqt_engine.durable.pgtemp import start_postgres

            server = start_postgres()
            try:
                (workdir / "pg").mkdir()
                url = server.create_database("opensqt_bench_restart")
                report("PostgreSQL", asyncio.run(run(args.restarts, url, workdir / "pg")))
            finally:
                server.stop()


if __name__ == "__main__":
    main()
