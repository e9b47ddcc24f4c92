"""Mapping of real ccxt parse results (on recorded venue responses) to our records,
and of our order requests to ccxt create_order arguments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import structlog
from ccxt_recorded import recorded_session  # type: ignore[import-not-found]

from opensqt_common.enums import MarketType, OrderStatus, OrderType, Side, TimeInForce, Venue
from opensqt_common.errors import InvalidArgument
from opensqt_connector.ccxt_venue import mapping
from opensqt_connector.ccxt_venue.exchange import build_exchange
from opensqt_connector.ccxt_venue.tables import VenueRow, venue_row
from opensqt_connector.models import OrderInfo, OrderRequest
from opensqt_connector.venue_errors import InvalidOrder

COMBOS = [
    (venue, market) for venue in ("binance", "bitget", "gate", "okx", "bybit") for market in ("spot", "perp")
]
COMBO_IDS = [f"{v}-{m}" for v, m in COMBOS]


class Loaded:
    def __init__(
        self, row: VenueRow, market_type: MarketType, exchange: Any, fixture: dict[str, Any]
    ) -> None:
        self.row = row
        self.market_type = market_type
        self.exchange = exchange
        self.fixture = fixture
        self.market = exchange.market(fixture["symbol"])


@pytest.fixture(params=COMBOS, ids=COMBO_IDS)
async def loaded(request: pytest.FixtureRequest) -> AsyncIterator[Loaded]:
    venue, market = request.param
    session, fixture = recorded_session(venue, market)
    row = venue_row(Venue(venue))
    market_type = MarketType.SPOT if market == "spot" else MarketType.LINEAR_PERPETUAL
    exchange = build_exchange(row, market_type, session=session, rate_limit=False)
    exchange.timeout_on_exit = 0  # no grace period for sockets: there are none
    await exchange.load_markets()
    yield Loaded(row, market_type, exchange, fixture)
    await exchange.close()


def dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def check_order(order: OrderInfo, expect: dict[str, Any]) -> None:
    assert order.order_id == expect["order_id"]
    assert order.client_order_id == expect["client_order_id"]
    assert order.status is OrderStatus(expect["status"])
    assert order.side is Side(expect["side"])
    assert order.type is OrderType(expect["type"])
    assert order.time_in_force is TimeInForce(expect["time_in_force"])
    assert order.post_only is expect["post_only"]
    assert order.reduce_only is expect["reduce_only"]
    assert order.price == dec(expect["price"])
    assert order.quantity == Decimal(expect["quantity"])
    assert order.filled_quantity == Decimal(expect["filled_quantity"])
    assert order.average_fill_price == dec(expect["average_fill_price"])
    assert order.created_ms == expect["created_ms"]
    assert order.status_detail == expect.get("status_detail", "")
    for value in (order.price, order.quantity, order.filled_quantity, order.average_fill_price):
        assert value is None or isinstance(value, Decimal)


async def test_orders_parsed_by_ccxt_map_exactly(loaded: Loaded) -> None:
    for name, case in loaded.fixture["orders"].items():
        parsed = loaded.exchange.parse_order(case["raw"], loaded.market)
        order = mapping.order_info(loaded.row, parsed, loaded.market)
        try:
            check_order(order, case["expect"])
        except AssertionError as exc:
            raise AssertionError(f"{name}: {order}") from exc


async def test_each_fixture_covers_the_order_lifecycle(loaded: Loaded) -> None:
    statuses = {
        mapping.order_info(
            loaded.row, loaded.exchange.parse_order(case["raw"], loaded.market), loaded.market
        ).status
        for case in loaded.fixture["orders"].values()
    }
    assert {
        OrderStatus.NEW,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
    } <= statuses


async def test_trades_parsed_by_ccxt_map_exactly(loaded: Loaded) -> None:
    case = loaded.fixture["trade"]
    expect = case["expect"]
    parsed = loaded.exchange.parse_trade(case["raw"], loaded.market)
    client_id = mapping.trade_client_order_id(loaded.row, parsed)
    assert client_id == expect.get("client_order_id")
    fill = mapping.fill_info(loaded.row, parsed, loaded.market, client_id or "resolved-elsewhere")
    assert fill.trade_id == expect["trade_id"]
    assert fill.order_id == expect["order_id"]
    assert fill.side is Side(expect["side"])
    assert fill.price == Decimal(expect["price"])
    assert fill.quantity == Decimal(expect["quantity"])
    assert fill.fee == Decimal(expect["fee"])
    assert fill.fee_asset == expect["fee_asset"]
    assert fill.maker is expect["maker"]
    assert fill.time_ms == expect["time_ms"]


@pytest.mark.parametrize("market", ["spot", "perp"])
async def test_stream_orders_parsed_by_ccxt_pro_map_exactly(market: str) -> None:
    """Binance's user-data-stream orders differ from its REST orders (one-letter keys,
    the original client id in "C" on cancels, no creation time on futures)."""
    session, fixture = recorded_session("binance", market)
    row = venue_row(Venue.BINANCE)
    market_type = MarketType.SPOT if market == "spot" else MarketType.LINEAR_PERPETUAL
    exchange = build_exchange(row, market_type, session=session, rate_limit=False)
    exchange.timeout_on_exit = 0
    try:
        await exchange.load_markets()
        ccxt_market = exchange.market(fixture["symbol"])
        for name, case in fixture["ws_orders"].items():
            parsed = exchange.parse_ws_order(case["raw"], ccxt_market)
            try:
                check_order(mapping.order_info(row, parsed, ccxt_market), case["expect"])
            except AssertionError as exc:
                raise AssertionError(name) from exc
    finally:
        await exchange.close()


EXPECTED_MARKETS = {
    # (venue, market): tick, step (base units), min quantity (base), min notional, contract size
    ("binance", "spot"): ("0.01", "0.00001", "0.00001", "5", "1"),
    ("binance", "perp"): ("0.1", "0.001", "0.001", "100", "1"),
    ("bitget", "spot"): ("0.01", "0.000001", "0.000001", "1", "1"),
    ("bitget", "perp"): ("0.1", "0.001", "0.001", "5", "1"),
    ("gate", "spot"): ("0.1", "0.000001", "0.00001", "3", "1"),
    ("gate", "perp"): ("0.1", "0.0001", "0.0001", "0", "0.0001"),
    ("okx", "spot"): ("0.1", "0.00000001", "0.00001", "0", "1"),
    ("okx", "perp"): ("0.1", "0.0001", "0.0001", "0", "0.01"),
    ("bybit", "spot"): ("0.01", "0.000001", "0.000048", "1", "1"),
    ("bybit", "perp"): ("0.1", "0.001", "0.001", "5", "1"),
}


async def test_market_metadata_is_exact_and_in_base_units(loaded: Loaded) -> None:
    info = mapping.market_info(loaded.market, loaded.row.venue, loaded.market_type)
    key = (loaded.row.venue.value, "spot" if loaded.market_type is MarketType.SPOT else "perp")
    tick, step, min_qty, min_notional, contract = (Decimal(v) for v in EXPECTED_MARKETS[key])
    assert (info.tick_size, info.step_size, info.min_quantity, info.min_notional, info.contract_size) == (
        tick,
        step,
        min_qty,
        min_notional,
        contract,
    )
    assert info.symbol == loaded.fixture["symbol"]
    assert info.venue_symbol == loaded.row.venue_symbol(
        loaded.market["baseId"], loaded.market["quoteId"], loaded.market_type
    )
    assert info.settle == ("" if loaded.market_type is MarketType.SPOT else "USDT")
    assert mapping.served_market_problem(loaded.market, loaded.market_type) is None
    other = (
        MarketType.SPOT if loaded.market_type is MarketType.LINEAR_PERPETUAL else MarketType.LINEAR_PERPETUAL
    )
    assert mapping.served_market_problem(loaded.market, other) is not None


# -- unknown data takes the explicit error path ----------------------------------------


async def test_an_unknown_venue_status_is_an_error_with_a_log_line(loaded: Loaded) -> None:
    case = next(iter(loaded.fixture["orders"].values()))
    parsed = loaded.exchange.parse_order(case["raw"], loaded.market)
    field = next(f for f in loaded.row.status_fields if f in parsed["info"] and parsed["info"][f])
    parsed["info"] = {**parsed["info"], field: "SOMETHING_NEW"}
    with (
        structlog.testing.capture_logs() as logs,
        pytest.raises(mapping.UnmappedVenueData, match="SOMETHING_NEW"),
    ):
        mapping.order_info(loaded.row, parsed, loaded.market)
    assert any(entry["event"] == "unknown_venue_order_status" for entry in logs)


def test_without_a_venue_status_field_ccxt_unified_status_is_used_strictly() -> None:
    row = venue_row(Venue.OKX)
    market = {"symbol": "BTC/USDT", "contract": False}
    base = {
        "id": "1",
        "side": "buy",
        "type": "limit",
        "price": "1",
        "amount": "2",
        "timestamp": 5,
        "info": {},
    }
    order = mapping.order_info(row, {**base, "status": "open", "filled": "1"}, market)
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert (
        mapping.order_info(row, {**base, "status": "closed", "filled": "2"}, market).status
        is OrderStatus.FILLED
    )
    with pytest.raises(mapping.UnmappedVenueData):
        mapping.order_info(row, {**base, "status": "canceling"}, market)
    with pytest.raises(mapping.UnmappedVenueData):
        mapping.order_info(row, {**base, "status": None}, market)


def test_acknowledgements_without_state_are_pending_new() -> None:
    row = venue_row(Venue.OKX)
    market = {"symbol": "BTC/USDT:USDT", "contract": True, "contractSize": "0.01"}
    ack = {"id": "42", "clientOrderId": "g1", "status": None, "info": {"ordId": "42", "sCode": "0"}}
    order = mapping.acknowledged_order(row, ack, market, REQUEST, now_ms=7)
    assert order.status is OrderStatus.PENDING_NEW
    assert (order.order_id, order.quantity, order.price, order.created_ms) == (
        "42",
        REQUEST.quantity,
        REQUEST.price,
        7,
    )


# -- numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.00100000", Decimal("0.001")),
        ("61000.10", Decimal("61000.1")),
        (0.1, Decimal("0.1")),  # repr of a float parsed from "0.1" is "0.1": no binary noise
        (1e-8, Decimal("1E-8")),
        (3, Decimal(3)),
        ("-0", Decimal(0)),
    ],
)
def test_to_decimal_is_exact(value: object, expected: Decimal) -> None:
    assert mapping.to_decimal(value, "x") == expected


@pytest.mark.parametrize("value", [None, "", "abc", "NaN", "Infinity", True, [1]])
def test_to_decimal_refuses_non_numbers(value: object) -> None:
    with pytest.raises(mapping.UnmappedVenueData):
        mapping.to_decimal(value, "x")


# -- order requests --------------------------------------------------------------------

REQUEST = OrderRequest(
    client_order_id="g1L100B0",
    symbol="BTC/USDT:USDT",
    side=Side.BUY,
    type=OrderType.LIMIT,
    price=Decimal("60000.1"),
    quantity=Decimal("0.01"),
    time_in_force=TimeInForce.GTC,
    post_only=True,
    reduce_only=False,
)


async def test_requests_become_unified_ccxt_arguments(loaded: Loaded) -> None:
    market_row = loaded.row.market(loaded.market_type)
    perp = loaded.market_type is MarketType.LINEAR_PERPETUAL
    request = OrderRequest(
        client_order_id="g1L100S1",
        symbol=loaded.fixture["symbol"],
        side=Side.SELL,
        type=OrderType.LIMIT,
        price=Decimal("61000.1") if perp else Decimal("61000"),
        quantity=Decimal("0.01") if perp else Decimal("0.001"),
        time_in_force=TimeInForce.GTC,
        post_only=True,
        reduce_only=perp,
    )
    args = mapping.create_order_args(loaded.row, market_row, loaded.market, request)
    size = mapping.contract_size_of(loaded.market)
    assert (args.symbol, args.type, args.side) == (request.symbol, "limit", "sell")
    assert Decimal(args.amount) * size == request.quantity
    assert args.price == ("61000.1" if perp else "61000")
    assert args.params["clientOrderId"] == loaded.row.client_id.to_venue("g1L100S1")
    assert args.params["postOnly"] is True
    assert "timeInForce" not in args.params
    assert args.params.get("reduceOnly", False) is perp
    for key, value in market_row.order_params.items():
        assert args.params[key] == value


async def test_request_validation(loaded: Loaded) -> None:
    market_row = loaded.row.market(loaded.market_type)
    perp = loaded.market_type is MarketType.LINEAR_PERPETUAL
    good = OrderRequest(
        client_order_id="g1",
        symbol=loaded.fixture["symbol"],
        side=Side.BUY,
        type=OrderType.LIMIT,
        price=Decimal("60000"),
        quantity=Decimal("0.01"),
        time_in_force=TimeInForce.IOC,
        post_only=False,
        reduce_only=False,
    )
    args = mapping.create_order_args(loaded.row, market_row, loaded.market, good)
    assert args.params["timeInForce"] == "IOC"

    def refused(field: str, **changes: Any) -> None:
        bad = _replace(good, **changes)
        with pytest.raises(InvalidArgument) as info:
            mapping.create_order_args(loaded.row, market_row, loaded.market, bad)
        assert info.value.field == field

    refused("quantity", quantity=Decimal("0.0100000001"))
    refused("price", price=Decimal("60000.001"))
    refused("price", price=None)
    refused("price", type=OrderType.MARKET)
    refused("post_only", post_only=True)  # with IOC
    refused("client_order_id", client_order_id="x" * 33)
    if not perp:
        refused("reduce_only", reduce_only=True)
    if loaded.row.venue is Venue.OKX:
        refused("client_order_id", client_order_id="grid_1")


def _replace(request: OrderRequest, **changes: Any) -> OrderRequest:
    from dataclasses import replace

    return replace(request, **changes)


@pytest.mark.parametrize(
    ("venue", "allowed"),
    [
        (Venue.BINANCE, True),
        (Venue.OKX, True),
        (Venue.BYBIT, True),
        (Venue.GATE, False),
        (Venue.BITGET, False),
    ],
)
def test_spot_market_buys_are_sized_in_base_or_refused(venue: Venue, allowed: bool) -> None:
    row = venue_row(venue)
    market = {"symbol": "BTC/USDT", "contract": False, "precision": {"amount": "0.00001", "price": "0.01"}}
    request = _replace(REQUEST, symbol="BTC/USDT", type=OrderType.MARKET, price=None, post_only=False)
    if not allowed:
        with pytest.raises(InvalidOrder, match="quote currency"):
            mapping.create_order_args(row, row.market(MarketType.SPOT), market, request)
        return
    args = mapping.create_order_args(row, row.market(MarketType.SPOT), market, request)
    assert args.price is None
    assert "timeInForce" not in args.params
    for key, value in (row.market(MarketType.SPOT).market_buy_base_params or {}).items():
        assert args.params[key] == value


def test_balances_positions_and_candles_are_exact() -> None:
    balances = mapping.balance_infos(
        {
            "info": {},
            "USDT": {"free": "1000.123456789012345678", "used": "10", "total": "1010.123456789012345678"},
            "BTC": {"free": "0", "used": "0", "total": "0"},
            "free": {},
            "timestamp": 1,
        }
    )
    assert [(b.asset, b.free, b.total) for b in balances] == [
        ("USDT", Decimal("1000.123456789012345678"), Decimal("1010.123456789012345678"))
    ]
    market = {"symbol": "BTC/USDT:USDT", "contract": True, "contractSize": "0.01"}
    position = mapping.position_info(
        {"contracts": "3", "contractSize": "0.01", "side": "short", "entryPrice": "60000.5", "leverage": "5"},
        market,
    )
    assert position is not None
    assert (position.quantity, position.entry_price, position.leverage) == (
        Decimal("-0.03"),
        Decimal("60000.5"),
        Decimal(5),
    )
    assert mapping.position_info({"contracts": "0", "side": None}, market) is None
    from opensqt_connector.models import KlineInterval

    candle = mapping.kline_info(
        "BTC/USDT:USDT",
        KlineInterval.M1,
        [1718000000000, "1.5", "2", "1", "1.75", "1200"],
        volume_unit=Decimal("0.01"),
        closed=True,
    )
    assert (candle.open, candle.close, candle.volume, candle.closed) == (
        Decimal("1.5"),
        Decimal("1.75"),
        Decimal("12"),
        True,
    )
