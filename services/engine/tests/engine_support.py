"""Shared set-up of the engine runtime and service tests: a real sim connector, a real risk
service and the engine, all in-process on port 0, plus helpers to look at what happened.

    async with running_stack(tmp_path) as stack:
        await stack.wait_open_buys(5)
        await stack.connector.set_price("59900")
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import exchange_service_pb2 as exchange_pb
from opensqt.exchange.v1 import types_pb2
from opensqt.risk.v1 import risk_service_pb2 as risk_pb
from opensqt_common.enums import TradingState
from opensqt_common.settings import load_settings
from opensqt_common.testing import eventually
from opensqt_connector.testing import ConnectorClient, running_connector
from opensqt_engine.app import EngineApp
from opensqt_engine.config import load_config
from opensqt_engine.journal import EngineJournal, MemoryJournal
from opensqt_engine.runtime import Engine, EngineState
from opensqt_engine.settings import EngineSettings
from opensqt_risk.testing import RiskClient, running_risk

BTC = "BTC/USDT:USDT"
STRATEGY = "t1"
FIVE_BUYS = ["59950", "59900", "59850", "59800", "59750"]  # the grid at 60,000

# order_amount 1000 at ~60,000 buys 0.016 BTC per level (tick 0.1, step 0.001 on the sim).
GRID: dict[str, Any] = {
    "strategy_id": STRATEGY,
    "symbol": BTC,
    "market": "perp",
    "price_interval": "50",
    "order_amount": "1000",
    "buy_window": 5,
    "sell_window": 5,
    "anchor_price": "60000",
    "reconcile_seconds": 3600,
    "order_rate": 1000,
    "order_burst": 1000,
    "reject_backoff_seconds": "0.2",
    "reject_backoff_max_seconds": "0.4",
}

RISK: dict[str, Any] = {
    "limits": {
        "max_order_quantity": "0.1",
        "max_position": "1",
        "max_order_notional": "5000",
        "max_open_orders": 100,
        "max_order_rate": 1000,
        "drawdown_limit": "100000",
    },
    "symbols": {BTC: {}},
    "crash_detector": {"enabled": False},
}

ENGINE_FLAGS = (
    "--journal",
    "memory",
    "--reconnect-initial-seconds",
    "0.05",
    "--reconnect-max-seconds",
    "0.2",
    "--lookup-delay-seconds",
    "0.05",
    "--snapshot-interval-seconds",
    "0.05",
    "--shutdown-timeout-seconds",
    "5",
    "--no-startup-checks",
)


def trading_state(engine: Engine) -> TradingState | None:
    """The engine's effective trading state (a call, so checks before and after a change type-check)."""
    return engine.effective_trading_state


def engine_state(engine: Engine) -> EngineState:
    return engine.engine_state


def merged(base: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    result = dict(base)
    for key, value in (overrides or {}).items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def engine_settings(connector: str, risk: str, data_dir: Path, *flags: str) -> EngineSettings:
    return load_settings(
        EngineSettings,
        [
            "--listen",
            "127.0.0.1:0",
            "--connector",
            connector,
            "--risk",
            risk,
            "--audit-log",
            str(data_dir / "engine-audit.jsonl"),
            *ENGINE_FLAGS,
            *flags,
        ],
    )


def read_audit(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class Stack:
    connector: ConnectorClient
    risk: RiskClient | None
    app: EngineApp
    data_dir: Path
    journal: EngineJournal
    grid: dict[str, Any] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        assert self.app.engine is not None
        return self.app.engine

    @property
    def audit_path(self) -> Path:
        return self.data_dir / "engine-audit.jsonl"

    def audit(self, event: str | None = None) -> list[dict[str, Any]]:
        records = read_audit(self.audit_path)
        return [r for r in records if event is None or r["event"] == event]

    async def open_orders(self) -> list[types_pb2.Order]:
        response = await self.connector.exchange.ListOpenOrders(exchange_pb.ListOpenOrdersRequest(symbol=BTC))
        return list(response.orders)

    async def own_orders(self, side: int | None = None) -> list[types_pb2.Order]:
        return [
            order
            for order in await self.open_orders()
            if order.client_order_id.startswith(STRATEGY) and (side is None or order.side == side)
        ]

    async def wait_orders(
        self, predicate: Callable[[list[types_pb2.Order]], bool], *, what: str, timeout: float = 10.0
    ) -> list[types_pb2.Order]:
        found: list[types_pb2.Order] = []

        async def check() -> bool:
            nonlocal found
            found = await self.own_orders()
            return predicate(found)

        await eventually(check, timeout=timeout, interval=0.02, message=what)
        return found

    async def wait_open_buys(self, prices: list[str]) -> list[types_pb2.Order]:
        wanted = sorted(Decimal(p) for p in prices)
        return await self.wait_orders(
            lambda orders: (
                sorted(Decimal(o.price.value) for o in orders if o.side == common_pb2.SIDE_BUY) == wanted
            ),
            what=f"resting buys at {prices}",
        )

    async def halt(self, reason: str = "test halt") -> None:
        assert self.risk is not None
        await self.risk.stub.Halt(
            risk_pb.HaltRequest(reason=reason, state=common_pb2.TRADING_STATE_HALTED, operator="test")
        )

    async def resume_risk(self, reason: str = "test resume") -> None:
        assert self.risk is not None
        await self.risk.stub.Resume(risk_pb.ResumeRequest(reason=reason, operator="test"))

    async def position(self) -> Decimal:
        response = await self.connector.exchange.GetPositions(exchange_pb.GetPositionsRequest(symbol=BTC))
        return sum((Decimal(p.quantity.value) for p in response.positions), Decimal(0))


@asynccontextmanager
async def running_stack(
    data_dir: Path,
    *,
    grid: Mapping[str, Any] | None = None,
    risk: Mapping[str, Any] | None = None,
    engine_flags: tuple[str, ...] = (),
    journal: EngineJournal | None = None,
    connector: ConnectorClient | None = None,
    with_risk: bool = True,
    wait_ready: bool = True,
    **app_kwargs: Any,
) -> AsyncIterator[Stack]:
    """Connector (sim, random walk off), risk and a started engine (ready unless told not to)."""
    grid_config = merged(GRID, grid)
    journal = journal if journal is not None else MemoryJournal()
    async with AsyncExitStack() as stack:
        if connector is None:
            connector = await stack.enter_async_context(running_connector())
        risk_client: RiskClient | None = None
        risk_address = "127.0.0.1:1"
        if with_risk:
            risk_client = await stack.enter_async_context(
                running_risk(connector.address, data_dir, config=merged(RISK, risk))
            )
            risk_address = risk_client.address
        settings = engine_settings(connector.address, risk_address, data_dir, *engine_flags)
        app = EngineApp(settings, load_config(None, grid_config), journal=journal, **app_kwargs)
        await app.start()
        try:
            if wait_ready:
                await app.wait_ready(timeout=15)
            yield Stack(connector, risk_client, app, data_dir, journal, grid_config)
        finally:
            await app.stop()
