"""Start a real risk service in-process for tests and benchmarks, and talk to it over gRPC.

async with running_risk(connector.address, tmp_path, config={...}) as risk:
    session = await risk.review_session()
    decision = await session.review(intent(...))
    await risk.stub.Halt(...)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace

from opensqt.common.v1 import common_pb2
from opensqt.risk.v1 import risk_service_pb2 as pb
from opensqt.risk.v1 import risk_service_pb2_grpc as pb_grpc
from opensqt.risk.v1 import types_pb2 as risk_pb2
from opensqt_common.settings import load_settings
from opensqt_risk.app import RiskApp
from opensqt_risk.config import load_config
from opensqt_risk.settings import RiskSettings

if TYPE_CHECKING:
    from opensqt.risk.v1.risk_service_pb2_grpc import RiskServiceAsyncStub

SIDES = {"buy": common_pb2.SIDE_BUY, "sell": common_pb2.SIDE_SELL}


def intent(
    client_order_id: str,
    symbol: str,
    side: str,
    quantity: str | Decimal,
    price: str | Decimal | None = None,
    *,
    reduce_only: bool = False,
    trace_context: Mapping[str, str] | None = None,
) -> risk_pb2.OrderIntent:
    """A limit intent when `price` is given, else a market intent."""
    message = risk_pb2.OrderIntent(
        client_order_id=client_order_id,
        symbol=symbol,
        side=SIDES[side],
        type=common_pb2.ORDER_TYPE_LIMIT if price is not None else common_pb2.ORDER_TYPE_MARKET,
        quantity=common_pb2.Decimal(value=str(quantity)),
        reduce_only=reduce_only,
        trace_context=dict(trace_context or {}),
    )
    if price is not None:
        message.price.CopyFrom(common_pb2.Decimal(value=str(price)))
    return message


class ReviewSession:
    """One open ReviewOrders stream: write intents, read decisions in order."""

    def __init__(
        self, call: grpc.aio.StreamStreamCall[pb.ReviewOrdersRequest, pb.ReviewOrdersResponse]
    ) -> None:
        self.call = call

    async def send(self, message: risk_pb2.OrderIntent | None) -> None:
        request = pb.ReviewOrdersRequest() if message is None else pb.ReviewOrdersRequest(intent=message)
        await self.call.write(request)

    async def receive(self) -> risk_pb2.RiskDecision:
        response = await self.call.read()
        if response is grpc.aio.EOF:
            raise AssertionError("ReviewOrders ended")
        assert isinstance(response, pb.ReviewOrdersResponse)
        return response.decision

    async def review(self, message: risk_pb2.OrderIntent | None) -> risk_pb2.RiskDecision:
        await self.send(message)
        return await self.receive()

    async def close(self) -> None:
        await self.call.done_writing()
        self.call.cancel()


@dataclass
class RiskClient:
    app: RiskApp
    channel: grpc.aio.Channel
    stub: RiskServiceAsyncStub

    @property
    def address(self) -> str:
        return self.app.address

    async def review_session(self) -> ReviewSession:
        return ReviewSession(self.stub.ReviewOrders())


def risk_flags(connector_address: str, data_dir: Path, *flags: str) -> list[str]:
    return [
        "--listen",
        "127.0.0.1:0",
        "--connector",
        connector_address,
        "--audit-log",
        str(data_dir / "risk-audit.jsonl"),
        "--account-poll-seconds",
        "0.1",
        "--reconnect-initial-seconds",
        "0.05",
        "--reconnect-max-seconds",
        "0.2",
        *flags,
    ]


@asynccontextmanager
async def running_risk(
    connector_address: str,
    data_dir: Path,
    *flags: str,
    config: Mapping[str, Any] | None = None,
    meter_provider: otel_metrics.MeterProvider | None = None,
    tracer_provider: trace.TracerProvider | None = None,
) -> AsyncIterator[RiskClient]:
    """A risk service on 127.0.0.1 port 0 against `connector_address`, with fast polls and
    reconnects; `config` is the config file's content as a mapping (env vars still apply)."""
    settings = load_settings(RiskSettings, risk_flags(connector_address, data_dir, *flags))
    app = RiskApp(
        settings,
        load_config(None, config),
        meter_provider=meter_provider,
        tracer_provider=tracer_provider,
    )
    await app.start()
    channel = grpc.aio.insecure_channel(app.address)
    try:
        yield RiskClient(app, channel, pb_grpc.RiskServiceStub(channel))
    finally:
        await channel.close()
        await app.stop()
