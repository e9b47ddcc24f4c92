"""Shared set-up of the risk service tests: a real sim connector and a real risk service,
both in-process on port 0, and helpers to wait for what the risk service has seen."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from opensqt.risk.v1 import risk_service_pb2 as pb
from opensqt_common.testing import eventually
from opensqt_connector.testing import ConnectorClient, StreamCollector, running_connector
from opensqt_risk.testing import RiskClient, running_risk

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
SOL = "SOL/USDT:USDT"


@dataclass
class Stack:
    connector: ConnectorClient
    risk: RiskClient

    @property
    def runtime(self) -> Any:
        return self.risk.app.runtime

    def position(self, symbol: str) -> Decimal:
        return Decimal(self.runtime.core.context.symbols[symbol].position)

    async def wait_price(self, symbol: str, price: str) -> None:
        """Trade at `price` on the sim and wait until risk has it as the last price."""
        await self.connector.set_price(price, symbol=symbol)
        state = self.runtime.core.context.symbols[symbol]
        await eventually(lambda: state.last_price == Decimal(price), message=f"risk sees {symbol} at {price}")

    async def wait_free_margin(self, predicate: Any) -> None:
        context = self.runtime.core.context
        await eventually(lambda: context.free_margin is not None and predicate(context.free_margin))


@asynccontextmanager
async def running_stack(
    data_dir: Path,
    *,
    symbols: tuple[str, ...] = (BTC,),
    connector_flags: tuple[str, ...] = (),
    risk_flags: tuple[str, ...] = (),
    config: Mapping[str, Any] | None = None,
    **risk_kwargs: Any,
) -> AsyncIterator[Stack]:
    """Connector (sim, given symbols) and risk, with the feeds connected and a balance known."""
    async with (
        running_connector("--symbols", ",".join(symbols), *connector_flags) as connector,
        running_risk(connector.address, data_dir, *risk_flags, config=config, **risk_kwargs) as risk,
    ):
        stack = Stack(connector, risk)
        await asyncio.wait_for(risk.app.feeds.ready.wait(), 5)
        hub = connector.connector.hub
        topics: list[Any] = [hub.prices, hub.orders, hub.fills]
        if risk.app.settings.klines_required or stack.runtime.monitored_symbols:
            topics.append(hub.klines)
        await eventually(
            lambda: all(topic.subscriber_count >= 1 for topic in topics), message="risk subscribed"
        )
        await stack.wait_free_margin(lambda free: free > 0)
        for symbol in symbols:
            if symbol in stack.runtime.core.context.symbols:
                await eventually(_has_price(stack, symbol), message=f"{symbol} price")
        yield stack


def _has_price(stack: Stack, symbol: str) -> Callable[[], bool]:
    state = stack.runtime.core.context.symbols[symbol]
    return lambda: state.last_price is not None


def watch(risk: RiskClient) -> StreamCollector[pb.WatchTradingStateResponse]:
    return StreamCollector(risk.stub.WatchTradingState(pb.WatchTradingStateRequest()))


def audit_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
