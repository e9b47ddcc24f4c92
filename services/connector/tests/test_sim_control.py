"""SimControlService over a real in-process grpc.aio server on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal as D

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from opensqt.common.v1 import common_pb2
from opensqt.sim.v1 import sim_service_pb2 as pb
from opensqt.sim.v1 import sim_service_pb2_grpc
from opensqt_common.enums import OrderStatus, OrderType, Side, TimeInForce
from opensqt_common.errors import error_info
from opensqt_common.server import GrpcServer
from opensqt_connector.models import FillInfo, KlineInfo, KlineInterval, OrderInfo, OrderRequest, TickerInfo
from opensqt_connector.sim import FaultConfig, SimVenue
from opensqt_connector.sim.control import add_sim_control, sim_control_service_name

BTC = "BTC/USDT:USDT"


class Sink:
    def __init__(self) -> None:
        self.events: list[object] = []

    def on_ticker(self, ticker: TickerInfo) -> None:
        self.events.append(ticker)

    def on_order(self, order: OrderInfo) -> None:
        self.events.append(order)

    def on_fill(self, fill: FillInfo) -> None:
        self.events.append(fill)

    def on_kline(self, kline: KlineInfo) -> None:
        self.events.append(kline)

    def on_stream_state(self, stream: str, connected: bool, detail: str = "") -> None:
        self.events.append((stream, connected))


@dataclass
class Harness:
    venue: SimVenue
    sink: Sink
    stub: sim_service_pb2_grpc.SimControlServiceAsyncStub
    channel: grpc.aio.Channel


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    venue = SimVenue(feed_running=False)
    sink = Sink()
    await venue.start(sink, KlineInterval.M1)
    server = GrpcServer(listen="127.0.0.1:0", service_names=[sim_control_service_name])
    add_sim_control(server.grpc, venue)
    await server.start()
    channel = grpc.aio.insecure_channel(server.address)
    try:
        yield Harness(venue, sink, sim_service_pb2_grpc.SimControlServiceStub(channel), channel)
    finally:
        await channel.close()
        await server.stop(grace=0)
        await venue.close()


def dec(text: str) -> common_pb2.Decimal:
    return common_pb2.Decimal(value=text)


async def invalid(call: object) -> str:
    """Await a call expected to fail with INVALID_ARGUMENT; return its message."""
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await call  # type: ignore[misc]
    assert failure.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    return failure.value.details() or ""


def test_the_service_name_matches_the_proto() -> None:
    assert sim_control_service_name == "opensqt.sim.v1.SimControlService"


async def test_the_service_reports_serving(harness: Harness) -> None:
    health = health_pb2_grpc.HealthStub(harness.channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(service=sim_control_service_name))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_set_price_fills_a_resting_order_partially(harness: Harness) -> None:
    request = OrderRequest(
        "b1", BTC, Side.BUY, OrderType.LIMIT, D(59990), D("0.01"), TimeInForce.GTC, True, False
    )
    await harness.venue.place_order(request)
    reply = await harness.stub.SetPrice(
        pb.SetPriceRequest(symbol=BTC, price=dec("59990"), volume=dec("1.5"), max_fill_quantity=dec("0.004"))
    )
    assert reply.fills == 1
    order = await harness.venue.fetch_order(BTC, client_order_id="b1")
    assert (order.status, order.filled_quantity) == (OrderStatus.PARTIALLY_FILLED, D("0.004"))
    assert (await harness.venue.fetch_ticker(BTC)).last == D(59990)
    assert [k.volume for k in harness.sink.events if isinstance(k, KlineInfo)][-1] == D("1.5")
    reply = await harness.stub.SetPrice(pb.SetPriceRequest(symbol=BTC, price=dec("59990")))
    assert reply.fills == 1
    assert (await harness.venue.fetch_order(BTC, client_order_id="b1")).status is OrderStatus.FILLED


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (pb.SetPriceRequest(symbol="", price=dec("1")), "symbol: is required"),
        (pb.SetPriceRequest(symbol="ETH/USDT:USDT", price=dec("1")), "unknown symbol 'ETH/USDT:USDT'"),
        (pb.SetPriceRequest(symbol=BTC), "price: is required"),
        (pb.SetPriceRequest(symbol=BTC, price=dec("NaN")), "price: must be a finite decimal"),
        (pb.SetPriceRequest(symbol=BTC, price=dec("-5")), "price: must be > 0"),
        (
            pb.SetPriceRequest(symbol=BTC, price=dec("60000.05")),
            "price: 60000.05 is not a multiple of the tick size 0.1",
        ),
        (pb.SetPriceRequest(symbol=BTC, price=dec("1e30")), "out of range"),
        (pb.SetPriceRequest(symbol=BTC, price=dec("60000"), volume=dec("-1")), "volume: must be >= 0"),
        (
            pb.SetPriceRequest(symbol=BTC, price=dec("60000"), max_fill_quantity=dec("0")),
            "max_fill_quantity: must be > 0",
        ),
        (
            pb.SetPriceRequest(symbol=BTC, price=dec("60000"), max_fill_quantity=dec("0.0001")),
            "max_fill_quantity: must be a positive multiple of the step size 0.001",
        ),
    ],
)
async def test_set_price_refuses_bad_input(
    harness: Harness, request_: pb.SetPriceRequest, message: str
) -> None:
    assert message in await invalid(harness.stub.SetPrice(request_))
    assert (await harness.venue.fetch_ticker(BTC)).last == D(60000)


async def test_an_unknown_symbol_carries_its_error_reason(harness: Harness) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await harness.stub.CloseKline(pb.CloseKlineRequest(symbol="XRP/USDT:USDT"))
    info = error_info(failure.value)
    assert info is not None
    assert info.reason == "UNKNOWN_SYMBOL"


async def test_close_kline_closes_the_streamed_kline(harness: Harness) -> None:
    await harness.stub.CloseKline(pb.CloseKlineRequest(symbol=BTC))
    closed, opened = [e for e in harness.sink.events if isinstance(e, KlineInfo)][-2:]
    assert (closed.closed, opened.closed, opened.volume) == (True, False, D(0))
    assert closed.interval is KlineInterval.M1


async def test_set_price_feed_starts_and_stops_the_walk(harness: Harness) -> None:
    assert not harness.venue.price_feed_running()
    await harness.stub.SetPriceFeed(pb.SetPriceFeedRequest(running=True))
    assert harness.venue.price_feed_running()
    await harness.stub.SetPriceFeed(pb.SetPriceFeedRequest(running=False))
    assert not harness.venue.price_feed_running()


async def test_set_faults_replaces_the_venue_faults(harness: Harness) -> None:
    faults = pb.Faults(latency_ms=3, unavailable_rate=dec("0.25"), fail_next=2, drop_streams=True)
    await harness.stub.SetFaults(pb.SetFaultsRequest(faults=faults))
    assert harness.venue.faults == FaultConfig(
        latency_ms=3, unavailable_rate=D("0.25"), fail_next=2, drop_streams=True
    )
    assert ("orders", False) in harness.sink.events
    assert harness.sink.events[-1] == ("fills", True)


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        (None, "faults: is required"),
        (pb.Faults(unavailable_rate=dec("1.5")), "faults.unavailable_rate: must be a fraction from 0 to 1"),
        (pb.Faults(reject_rate=dec("-0.1")), "faults.reject_rate: must be >= 0"),
        (pb.Faults(rate_limit_rate=dec("x")), "faults.rate_limit_rate: must be a finite decimal"),
        (pb.Faults(unavailable_rate=dec("0.6"), reject_rate=dec("0.6")), "must not exceed 1"),
        (pb.Faults(latency_ms=70_000), "latency_ms must be from 0 to 60000"),
    ],
)
async def test_set_faults_refuses_bad_input(harness: Harness, faults: pb.Faults | None, message: str) -> None:
    request = pb.SetFaultsRequest() if faults is None else pb.SetFaultsRequest(faults=faults)
    assert message in await invalid(harness.stub.SetFaults(request))
    assert harness.venue.faults == FaultConfig()


async def test_set_balance(harness: Harness) -> None:
    await harness.stub.SetBalance(pb.SetBalanceRequest(asset="USDT", amount=dec("123.45")))
    balances = {b.asset: b.total for b in await harness.venue.fetch_balances()}
    assert balances["USDT"] == D("123.45")
    await harness.stub.SetBalance(pb.SetBalanceRequest(asset="USDT", amount=dec("0")))
    assert {b.asset: b.total for b in await harness.venue.fetch_balances()}["USDT"] == 0


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (pb.SetBalanceRequest(asset="", amount=dec("1")), "asset: is required"),
        (
            pb.SetBalanceRequest(asset="DOGE", amount=dec("1")),
            "asset: unknown asset 'DOGE' (the sim holds BTC, USDT)",
        ),
        (pb.SetBalanceRequest(asset="USDT"), "amount: is required"),
        (pb.SetBalanceRequest(asset="USDT", amount=dec("-1")), "amount: must be >= 0"),
    ],
)
async def test_set_balance_refuses_bad_input(
    harness: Harness, request_: pb.SetBalanceRequest, message: str
) -> None:
    assert message in await invalid(harness.stub.SetBalance(request_))
