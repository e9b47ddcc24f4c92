"""Start a real connector in-process for tests and benchmarks, and talk to it over gRPC.

async with running_connector("--order-rate", "0") as client:
    await client.exchange.PlaceOrder(...)
    await client.sim.SetPrice(...)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import grpc
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace as otel_trace
from pydantic import SecretStr

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt.exchange.v1 import exchange_service_pb2_grpc
from opensqt.sim.v1 import sim_service_pb2, sim_service_pb2_grpc
from opensqt_common.channels import token_interceptors
from opensqt_common.settings import load_settings
from opensqt_connector.app import Connector
from opensqt_connector.resilience import RetryPolicy
from opensqt_connector.settings import ConnectorSettings, VenueCredentials

if TYPE_CHECKING:
    from opensqt.exchange.v1.exchange_service_pb2_grpc import ExchangeServiceAsyncStub
    from opensqt.sim.v1.sim_service_pb2_grpc import SimControlServiceAsyncStub

SYMBOL = "BTC/USDT:USDT"
T = TypeVar("T")


@dataclass
class ConnectorClient:
    connector: Connector
    channel: grpc.aio.Channel
    exchange: ExchangeServiceAsyncStub
    sim: SimControlServiceAsyncStub

    @property
    def address(self) -> str:
        return self.connector.address

    async def set_price(
        self, price: str, *, symbol: str = SYMBOL, max_fill_quantity: str | None = None, volume: str = "0"
    ) -> int:
        """Trade at `price` on the sim; returns how many fills it produced."""
        request = sim_service_pb2.SetPriceRequest(symbol=symbol, price=dec(price), volume=dec(volume))
        if max_fill_quantity is not None:
            request.max_fill_quantity.CopyFrom(dec(max_fill_quantity))
        response = await self.sim.SetPrice(request)
        return int(response.fills)


def dec(value: str | Decimal) -> common_pb2.Decimal:
    return common_pb2.Decimal(value=str(value))


def limit_order(
    client_order_id: str,
    side: str,
    price: str,
    quantity: str,
    *,
    symbol: str = SYMBOL,
    post_only: bool = False,
    reduce_only: bool = False,
    time_in_force: int = common_pb2.TIME_IN_FORCE_GTC,
) -> pb.PlaceOrderRequest:
    return pb.PlaceOrderRequest(
        client_order_id=client_order_id,
        symbol=symbol,
        side=common_pb2.SIDE_BUY if side == "buy" else common_pb2.SIDE_SELL,
        type=common_pb2.ORDER_TYPE_LIMIT,
        price=dec(price),
        quantity=dec(quantity),
        time_in_force=time_in_force,  # type: ignore[arg-type]
        post_only=post_only,
        reduce_only=reduce_only,
    )


def market_order(
    client_order_id: str, side: str, quantity: str, *, symbol: str = SYMBOL, reduce_only: bool = False
) -> pb.PlaceOrderRequest:
    return pb.PlaceOrderRequest(
        client_order_id=client_order_id,
        symbol=symbol,
        side=common_pb2.SIDE_BUY if side == "buy" else common_pb2.SIDE_SELL,
        type=common_pb2.ORDER_TYPE_MARKET,
        quantity=dec(quantity),
        reduce_only=reduce_only,
    )


class StreamCollector(Generic[T]):
    """Reads a server stream in the background; tests wait on what it has received."""

    def __init__(self, call: grpc.aio.UnaryStreamCall[Any, T]) -> None:
        self.call = call
        self.items: list[T] = []
        self.error: grpc.aio.AioRpcError | None = None
        self.ended = False
        self._changed = asyncio.Condition()
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            async for item in self.call:
                async with self._changed:
                    self.items.append(item)
                    self._changed.notify_all()
        except grpc.aio.AioRpcError as exc:
            self.error = exc
        except asyncio.CancelledError:
            if not self.call.cancelled():  # cancelled by `close`, not from outside
                raise
        finally:
            async with self._changed:
                self.ended = True
                self._changed.notify_all()

    async def wait_for(
        self, predicate: Callable[[list[T]], bool], *, timeout: float = 5.0, what: str = "items"
    ) -> list[T]:
        """Wait until `predicate(items)` holds; AssertionError if the stream ends or time runs out."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: predicate(self.items) or self.ended), timeout
                )
            except TimeoutError:
                raise AssertionError(
                    f"stream: {what} not received within {timeout} s: {self.items}"
                ) from None
            if not predicate(self.items):
                raise AssertionError(f"stream ended ({self.error}) before {what}: {self.items}")
            return list(self.items)

    async def wait_ended(self, timeout: float = 5.0) -> grpc.aio.AioRpcError | None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.ended), timeout)
        return self.error

    async def close(self) -> None:
        self.call.cancel()
        await self._task


@asynccontextmanager
async def running_connector(
    *flags: str,
    meter_provider: otel_metrics.MeterProvider | None = None,
    tracer_provider: otel_trace.TracerProvider | None = None,
    client_token: str | None = None,
    price_feed: bool = False,
    retry_policy: RetryPolicy | None = None,
    breaker_clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[ConnectorClient]:
    """A sim connector on 127.0.0.1 port 0 with the order limiter off unless `flags`
    say otherwise; the random walk is stopped unless `price_feed`, so prices move only
    when the caller sets them."""
    settings = load_settings(ConnectorSettings, ["--listen", "127.0.0.1:0", "--order-rate", "0", *flags])
    connector = Connector(
        settings,
        VenueCredentials(),
        meter_provider=meter_provider,
        tracer_provider=tracer_provider,
        retry_policy=retry_policy,
        breaker_clock=breaker_clock,
    )
    await connector.start()
    interceptors = token_interceptors(SecretStr(client_token)) if client_token else None
    channel = grpc.aio.insecure_channel(connector.address, interceptors=interceptors)
    try:
        client = ConnectorClient(
            connector,
            channel,
            exchange_service_pb2_grpc.ExchangeServiceStub(channel),
            sim_service_pb2_grpc.SimControlServiceStub(channel),
        )
        if settings.exchange == "sim" and not price_feed:
            await client.sim.SetPriceFeed(sim_service_pb2.SetPriceFeedRequest(running=False))
        yield client
    finally:
        await channel.close()
        await connector.stop()
