"""Bad requests get precise INVALID_ARGUMENT answers naming the field, and the
connector keeps serving."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2
from grpc_status import rpc_status

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt.exchange.v1 import types_pb2
from opensqt_common.errors import error_info
from opensqt_common.testing import health_status
from opensqt_connector.testing import (
    SYMBOL,
    ConnectorClient,
    dec,
    limit_order,
    market_order,
    running_connector,
)


def _field_violations(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(error)
    assert status is not None
    fields: list[str] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields.extend(v.field for v in bad.field_violations)
    return fields


def _place(**changes: Any) -> pb.PlaceOrderRequest:
    request = limit_order("val-1", "buy", "59000", "0.001")
    for name, value in changes.items():
        if value is None:
            request.ClearField(name)  # type: ignore[arg-type]
        elif name in ("price", "quantity"):
            getattr(request, name).CopyFrom(dec(value))
        elif name == "trace_context":
            request.trace_context.update(value)
        else:
            setattr(request, name, value)
    return request


BAD_ORDERS: list[tuple[str, pb.PlaceOrderRequest, str]] = [
    ("side unspecified", _place(side=common_pb2.SIDE_UNSPECIFIED), "side"),
    ("side unknown number", _place(side=7), "side"),
    ("type unspecified", _place(type=common_pb2.ORDER_TYPE_UNSPECIFIED), "type"),
    ("tif unspecified on limit", _place(time_in_force=common_pb2.TIME_IN_FORCE_UNSPECIFIED), "time_in_force"),
    ("quantity missing", _place(quantity=None), "quantity"),
    ("quantity negative", _place(quantity="-0.001"), "quantity"),
    ("quantity zero", _place(quantity="0"), "quantity"),
    ("quantity NaN", _place(quantity="NaN"), "quantity"),
    ("quantity Infinity", _place(quantity="Infinity"), "quantity"),
    ("quantity huge", _place(quantity="1e30"), "quantity"),
    ("quantity not a number", _place(quantity="1,5"), "quantity"),
    ("quantity empty", _place(quantity=""), "quantity"),
    ("quantity off step", _place(quantity="0.0015"), "quantity"),
    ("price missing on limit", _place(price=None), "price"),
    ("price negative", _place(price="-59000"), "price"),
    ("price zero", _place(price="0"), "price"),
    ("price NaN", _place(price="nan"), "price"),
    ("price -Infinity", _place(price="-Infinity"), "price"),
    ("price huge", _place(price="99999999999999999999"), "price"),
    ("price off tick", _place(price="59000.05"), "price"),
    ("symbol missing", _place(symbol=""), "symbol"),
    ("client id missing", _place(client_order_id=""), "client_order_id"),
    ("client id too long", _place(client_order_id="x" * 33), "client_order_id"),
    ("client id with space", _place(client_order_id="bad id"), "client_order_id"),
    ("client id not ascii", _place(client_order_id="ordré"), "client_order_id"),
    ("post-only IOC", _place(post_only=True, time_in_force=common_pb2.TIME_IN_FORCE_IOC), "post_only"),
    ("trace context too big", _place(trace_context={f"k{i}": "v" for i in range(9)}), "trace_context"),
]


def _market(**changes: Any) -> pb.PlaceOrderRequest:
    request = market_order("val-m", "buy", "0.001")
    for name, value in changes.items():
        if name == "price":
            request.price.CopyFrom(dec(value))
        else:
            setattr(request, name, value)
    return request


BAD_ORDERS += [
    ("price on market", _market(price="60000"), "price"),
    ("market with GTC", _market(time_in_force=common_pb2.TIME_IN_FORCE_GTC), "time_in_force"),
    ("post-only market", _market(post_only=True), "post_only"),
]


@pytest.fixture
async def client() -> AsyncIterator[ConnectorClient]:
    async with running_connector() as running:
        yield running


async def _expect_invalid(call: Awaitable[Any], field: str, reason: str = "INVALID_ARGUMENT") -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()
    info = error_info(refused.value)
    assert info is not None
    assert info.reason == reason
    assert _field_violations(refused.value) == [field]
    assert field in (refused.value.details() or "")


async def test_bad_orders_are_refused_with_the_field_named(client: ConnectorClient) -> None:
    for name, request, field in BAD_ORDERS:
        try:
            await _expect_invalid(client.exchange.PlaceOrder(request), field)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc
    # None of them reached the venue, and the service still takes a good order.
    listed = await client.exchange.ListOpenOrders(pb.ListOpenOrdersRequest())
    assert list(listed.orders) == []
    placed = await client.exchange.PlaceOrder(limit_order("val-ok", "buy", "59000", "0.001"))
    assert placed.order.status == common_pb2.ORDER_STATUS_NEW
    assert await health_status(client.address) == health_pb2.HealthCheckResponse.SERVING


async def test_unknown_symbols_are_refused_with_reason_unknown_symbol(client: ConnectorClient) -> None:
    unknown = "DOGE/EUR:EUR"
    calls: list[tuple[Callable[[], Awaitable[Any]], str]] = [
        (lambda: client.exchange.PlaceOrder(_place(symbol=unknown)), "symbol"),
        (lambda: client.exchange.GetMarket(pb.GetMarketRequest(symbol=unknown)), "symbol"),
        (lambda: client.exchange.GetTicker(pb.GetTickerRequest(symbol=unknown)), "symbol"),
        (lambda: client.exchange.GetPositions(pb.GetPositionsRequest(symbol=unknown)), "symbol"),
        (lambda: client.exchange.ListOpenOrders(pb.ListOpenOrdersRequest(symbol=unknown)), "symbol"),
        (lambda: client.exchange.CancelAllOrders(pb.CancelAllOrdersRequest(symbol=unknown)), "symbol"),
        (
            lambda: client.exchange.CancelOrder(pb.CancelOrderRequest(symbol=unknown, client_order_id="a")),
            "symbol",
        ),
        (lambda: client.exchange.GetOrder(pb.GetOrderRequest(symbol=unknown, order_id="1")), "symbol"),
        (
            lambda: client.exchange.SetLeverage(pb.SetLeverageRequest(symbol=unknown, leverage=dec("2"))),
            "symbol",
        ),
        (
            lambda: client.exchange.GetKlines(
                pb.GetKlinesRequest(symbol=unknown, interval=types_pb2.KLINE_INTERVAL_1M)
            ),
            "symbol",
        ),
        (
            lambda: client.exchange.StreamPrices(pb.StreamPricesRequest(symbols=[SYMBOL, unknown])).read(),
            "symbols[1]",
        ),
        (
            lambda: client.exchange.StreamKlines(
                pb.StreamKlinesRequest(symbols=[unknown], interval=types_pb2.KLINE_INTERVAL_1M)
            ).read(),
            "symbols[0]",
        ),
        (
            lambda: client.exchange.StreamOrderUpdates(pb.StreamOrderUpdatesRequest(symbol=unknown)).read(),
            "symbol",
        ),
        (lambda: client.exchange.StreamFills(pb.StreamFillsRequest(symbol=unknown)).read(), "symbol"),
    ]
    for call, field in calls:
        await _expect_invalid(call(), field, reason="UNKNOWN_SYMBOL")


async def test_other_rpcs_validate_their_fields(client: ConnectorClient) -> None:
    exchange = client.exchange
    await _expect_invalid(exchange.CancelOrder(pb.CancelOrderRequest(symbol=SYMBOL)), "id")
    await _expect_invalid(
        exchange.CancelOrder(pb.CancelOrderRequest(symbol=SYMBOL, order_id="1 OR 1=1")), "order_id"
    )
    await _expect_invalid(
        exchange.GetOrder(pb.GetOrderRequest(symbol=SYMBOL, client_order_id="x" * 40)), "client_order_id"
    )
    await _expect_invalid(
        exchange.CancelAllOrders(pb.CancelAllOrdersRequest(side=common_pb2.SIDE_UNSPECIFIED)), "side"
    )
    for leverage in ("0", "-3", "NaN", "126"):
        await _expect_invalid(
            exchange.SetLeverage(pb.SetLeverageRequest(symbol=SYMBOL, leverage=dec(leverage))), "leverage"
        )
    await _expect_invalid(exchange.GetKlines(pb.GetKlinesRequest(symbol=SYMBOL)), "interval")
    await _expect_invalid(
        exchange.GetKlines(
            pb.GetKlinesRequest(symbol=SYMBOL, interval=types_pb2.KLINE_INTERVAL_1M, limit=1001)
        ),
        "limit",
    )
    await _expect_invalid(
        exchange.StreamFills(pb.StreamFillsRequest(since_unix_ms=-1)).read(), "since_unix_ms"
    )
    await _expect_invalid(exchange.StreamKlines(pb.StreamKlinesRequest(symbols=[SYMBOL])).read(), "interval")
    await _expect_invalid(exchange.GetMarket(pb.GetMarketRequest()), "symbol")


async def test_an_order_below_min_notional_is_refused_before_the_venue(client: ConnectorClient) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await client.exchange.PlaceOrder(limit_order("tiny", "buy", "1000", "0.001"))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(refused.value)
    assert info is not None
    assert info.reason == "MIN_NOTIONAL"
    assert info.metadata["min_notional"] == "5"


async def test_market_metadata_is_served_as_decimals(client: ConnectorClient) -> None:
    listed = await client.exchange.ListMarkets(pb.ListMarketsRequest())
    (market,) = listed.markets
    single = await client.exchange.GetMarket(pb.GetMarketRequest(symbol=SYMBOL))
    assert single.market == market
    assert (market.symbol, market.venue, market.market_type) == (
        SYMBOL,
        common_pb2.VENUE_SIM,
        common_pb2.MARKET_TYPE_LINEAR_PERPETUAL,
    )
    assert (market.tick_size.value, market.step_size.value, market.min_notional.value) == (
        "0.1",
        "0.001",
        "5",
    )
    assert (market.base, market.quote, market.settle) == ("BTC", "USDT", "USDT")
