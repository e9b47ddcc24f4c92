"""CcxtVenue through real ccxt code over recorded venue responses: what goes on the wire
for each venue, what comes back, and the streams' resync-after-reconnect."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import ccxt
import pytest
from ccxt_recorded import Reply, SentRequest, prepared_venue  # type: ignore[import-not-found]

from opensqt_common.decimals import format_decimal
from opensqt_common.enums import MarketType, OrderStatus, OrderType, Side, TimeInForce, Venue
from opensqt_common.errors import InvalidArgument
from opensqt_connector.ccxt_venue import mapping
from opensqt_connector.ccxt_venue.streams import StreamSettings
from opensqt_connector.ccxt_venue.tables import venue_row
from opensqt_connector.models import FillInfo, KlineInfo, KlineInterval, OrderInfo, OrderRequest, TickerInfo
from opensqt_connector.venue_errors import OrderNotFound, PostOnlyWouldCross

COMBOS = [(v, m) for v in ("binance", "bitget", "gate", "okx", "bybit") for m in ("spot", "perp")]
COMBO_IDS = [f"{v}-{m}" for v, m in COMBOS]
ACK_ONLY = {"okx", "bybit", "bitget"}  # answer a place request with ids only


def wire_equal(sent: object, expected: str | bool) -> bool:
    return str(sent).lower() == str(expected).lower()


def sent_values(request: SentRequest) -> set[str]:
    return {str(v) for v in request.params.values()} | set(request.path.split("/"))


def order_request(market: str, **changes: Any) -> OrderRequest:
    perp = market == "perp"
    fields: dict[str, Any] = {
        "client_order_id": "g1L100B0",
        "symbol": "BTC/USDT:USDT" if perp else "BTC/USDT",
        "side": Side.BUY,
        "type": OrderType.LIMIT,
        "price": Decimal("60000.1") if perp else Decimal("60000"),
        "quantity": Decimal("0.01") if perp else Decimal("0.001"),
        "time_in_force": TimeInForce.GTC,
        "post_only": True,
        "reduce_only": False,
    }
    fields.update(changes)
    return OrderRequest(**fields)


@pytest.mark.parametrize(("venue", "market"), COMBOS, ids=COMBO_IDS)
async def test_place_sends_the_tables_wire_form(venue: str, market: str) -> None:
    adapter, session, fixture = await prepared_venue(venue, market)
    row = venue_row(Venue(venue))
    market_row = row.market(adapter.market_type)
    try:
        place = fixture["requests"]["place"]
        session.set(place["route"], place["response"])
        read_back = venue in ACK_ONLY and bool(row.post_only_markers or row.post_only_cancel_unmarked)
        if read_back:  # a post-only order only acknowledged is read back (cancelled for crossing?)
            fetch = fixture["requests"]["fetch_order"]
            session.set(fetch["route"], fetch["response"])
        perp = market == "perp"
        request = order_request(market, reduce_only=perp, side=Side.SELL if perp else Side.BUY)
        order = await adapter.place_order(request)
        sent = session.sent(place["route"])[-1]
        params = sent.params
        assert wire_equal(params[market_row.post_only_wire.field], market_row.post_only_wire.value)
        assert params[market_row.client_id_wire] == row.client_id.to_venue("g1L100B0")
        if perp:
            assert market_row.reduce_only_wire is not None
            assert wire_equal(params[market_row.reduce_only_wire.field], market_row.reduce_only_wire.value)
        contract = adapter.markets()[request.symbol].contract_size
        amount = format_decimal(request.quantity / contract)
        assert {amount, "-" + amount} & sent_values(sent)  # Gate signs futures sizes by side
        assert format_decimal(request.price or Decimal(0)) in sent_values(sent)
        for key, value in market_row.order_params.items():
            assert wire_equal(params[key], value)  # type: ignore[arg-type]
        if read_back:
            assert order.status is OrderStatus.NEW
            assert session.sent(fixture["requests"]["fetch_order"]["route"])
        elif venue in ACK_ONLY:
            assert order.status is OrderStatus.PENDING_NEW
            assert (order.quantity, order.price, order.side) == (
                request.quantity,
                request.price,
                request.side,
            )
        else:
            assert order.status is OrderStatus.NEW
        assert order.client_order_id == "g1L100B0"
        assert order.order_id == fixture["orders"]["new"]["expect"]["order_id"]
    finally:
        await adapter.close()


@pytest.mark.parametrize(("venue", "market"), COMBOS, ids=COMBO_IDS)
async def test_orders_are_found_and_cancelled_by_client_order_id(venue: str, market: str) -> None:
    adapter, session, fixture = await prepared_venue(venue, market)
    row = venue_row(Venue(venue))
    requests = fixture["requests"]
    symbol = fixture["symbol"]
    try:
        session.set(requests["fetch_order"]["route"], requests["fetch_order"]["response"])
        order = await adapter.fetch_order(symbol, client_order_id="g1L100B0")
        assert (order.client_order_id, order.status) == ("g1L100B0", OrderStatus.NEW)
        assert row.client_id.to_venue("g1L100B0") in sent_values(session.requests[-1])

        session.set(requests["cancel"]["route"], requests["cancel"]["response"])
        if "cancel_fetch" in requests:
            session.set(requests["cancel_fetch"]["route"], requests["cancel_fetch"]["response"])
        cancelled = await adapter.cancel_order(symbol, client_order_id="g1L098B0")
        assert (cancelled.client_order_id, cancelled.status) == ("g1L098B0", OrderStatus.CANCELED)
        cancel_request = session.sent(requests["cancel"]["route"])[-1]
        assert row.client_id.to_venue("g1L098B0") in sent_values(cancel_request)
    finally:
        await adapter.close()


@pytest.mark.parametrize(("venue", "market"), COMBOS, ids=COMBO_IDS)
async def test_open_orders_and_fills(venue: str, market: str) -> None:
    adapter, session, fixture = await prepared_venue(venue, market)
    requests = fixture["requests"]
    symbol = fixture["symbol"]
    try:
        session.set(requests["open_orders"]["route"], requests["open_orders"]["response"])
        orders = await adapter.fetch_open_orders(None)
        assert [o.status for o in orders] == [OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED]
        assert [o.client_order_id for o in orders] == ["g1L100B0", "g1L101S0"]
        session.set(requests["my_trades"]["route"], requests["my_trades"]["response"])
        fills = await adapter.fetch_fills(symbol, 1718000000000)
        expect = fixture["trade"]["expect"]
        assert [(f.trade_id, f.client_order_id, f.quantity) for f in fills] == [
            (expect["trade_id"], "g1L101S0", Decimal(expect["quantity"]))
        ]
    finally:
        await adapter.close()


async def test_a_fills_client_id_is_looked_up_when_the_trade_lacks_it() -> None:
    adapter, session, fixture = await prepared_venue("binance", "perp")
    try:
        session.set("GET /fapi/v1/userTrades", [fixture["trade"]["raw"]])
        session.set("GET /fapi/v1/order", fixture["orders"]["partially_filled"]["raw"])
        fills = await adapter.fetch_fills("BTC/USDT:USDT", 1718000000000)
        assert fills[0].client_order_id == "g1L101S0"
        assert session.sent("GET /fapi/v1/order")[-1].query["orderId"] == "4071234502"
        # Known now: a second fetch does not ask again.
        await adapter.fetch_fills("BTC/USDT:USDT", 1718000000000)
        assert len(session.sent("GET /fapi/v1/order")) == 1
    finally:
        await adapter.close()


async def test_a_post_only_order_cancelled_in_the_answer_is_a_post_only_error() -> None:
    adapter, session, fixture = await prepared_venue("gate", "spot")
    try:
        session.set("POST /api/v4/spot/orders", fixture["orders"]["post_only_rejected"]["raw"])
        with pytest.raises(PostOnlyWouldCross):
            await adapter.place_order(
                order_request("spot", client_order_id="g1L102B0", price=Decimal("62000"))
            )
    finally:
        await adapter.close()


async def test_cancel_all_of_one_side_cancels_only_that_side() -> None:
    adapter, session, fixture = await prepared_venue("binance", "perp")
    orders = fixture["orders"]
    try:
        session.set("GET /fapi/v1/openOrders", [orders["new"]["raw"], orders["partially_filled"]["raw"]])
        cancelled_buy = {**orders["new"]["raw"], "status": "CANCELED", "updateTime": 1718000020000}
        session.set("DELETE /fapi/v1/order", cancelled_buy)
        result = await adapter.cancel_all_orders(None, Side.BUY)
        assert [(o.order_id, o.side, o.status) for o in result] == [
            ("4071234501", Side.BUY, OrderStatus.CANCELED)
        ]
        deletes = session.sent("DELETE /fapi/v1/order")
        assert [d.query["orderId"] for d in deletes] == ["4071234501"]
    finally:
        await adapter.close()


async def test_cancel_all_reports_orders_that_finished_meanwhile() -> None:
    adapter, session, fixture = await prepared_venue("binance", "perp")
    orders = fixture["orders"]
    try:
        session.set("GET /fapi/v1/openOrders", [orders["new"]["raw"]])
        session.set("DELETE /fapi/v1/order", {"code": -2011, "msg": "Unknown order sent."}, status=400)
        filled = {**orders["new"]["raw"], "status": "FILLED", "executedQty": "0.010", "avgPrice": "60000.1"}
        session.set("GET /fapi/v1/order", filled)
        result = await adapter.cancel_all_orders("BTC/USDT:USDT", None)
        assert [o.status for o in result] == [OrderStatus.FILLED]
    finally:
        await adapter.close()


async def test_an_acknowledged_post_only_order_cancelled_for_crossing_is_a_post_only_error() -> None:
    """Bybit answers a crossing post-only order with its ids, then cancels it
    (rejectReason EC_PostOnlyWillTakeLiquidity): the adapter reads the order back."""
    adapter, session, fixture = await prepared_venue("bybit", "perp")
    requests = fixture["requests"]
    rejected = fixture["orders"]["post_only_rejected"]["raw"]
    try:
        session.set(
            requests["place"]["route"],
            {
                "retCode": 0,
                "retMsg": "OK",
                "result": {"orderId": rejected["orderId"], "orderLinkId": rejected["orderLinkId"]},
                "retExtInfo": {},
                "time": 1718000000600,
            },
        )
        session.set(
            requests["fetch_order"]["route"],
            {"retCode": 0, "retMsg": "OK", "result": {"list": [rejected]}, "retExtInfo": {}, "time": 1},
        )
        with pytest.raises(PostOnlyWouldCross):
            await adapter.place_order(
                order_request("perp", client_order_id="g1L102B0", price=Decimal("62000"))
            )
        assert session.sent(requests["fetch_order"]["route"])[-1].query["orderId"] == rejected["orderId"]
    finally:
        await adapter.close()


async def test_an_unmarked_post_only_cancel_at_once_is_a_post_only_error() -> None:
    """Bitget cancels a crossing post-only order without a reason field: an
    acknowledged post-only order whose first state is cancelled and unfilled crossed."""
    adapter, session, fixture = await prepared_venue("bitget", "spot")
    requests = fixture["requests"]
    place_route, fetch_route = requests["place"]["route"], requests["fetch_order"]["route"]
    try:
        session.set(place_route, requests["place"]["response"])
        session.set(fetch_route, requests["fetch_order"]["response"])  # live: it rests
        assert (await adapter.place_order(order_request("spot"))).status is OrderStatus.NEW
        crossed_id = "1198770000000000009"
        cancelled = {
            **fixture["orders"]["canceled"]["raw"],
            "orderId": crossed_id,
            "clientOid": "g1L100B1",
            "force": "post_only",
        }
        ack = requests["place"]["response"]
        session.set(place_route, {**ack, "data": {"orderId": crossed_id, "clientOid": "g1L100B1"}})
        session.set(fetch_route, {"code": "00000", "msg": "success", "requestTime": 1, "data": [cancelled]})
        with pytest.raises(PostOnlyWouldCross):
            await adapter.place_order(order_request("spot", client_order_id="g1L100B1"))
    finally:
        await adapter.close()


async def test_a_client_id_lookup_that_finds_nothing_is_order_not_found() -> None:
    """Bitget spot answers an unknown clientOid with an empty list; ccxt's not-found
    message concatenates the order id, so the adapter passes "" rather than None."""
    adapter, session, fixture = await prepared_venue("bitget", "spot")
    route = fixture["requests"]["fetch_order"]["route"]
    try:
        session.set(route, {"code": "00000", "msg": "success", "requestTime": 1, "data": []})
        with pytest.raises(OrderNotFound):
            await adapter.fetch_order("BTC/USDT", client_order_id="g1L999B0")
        assert session.sent(route)[-1].query["clientOid"] == "g1L999B0"
    finally:
        await adapter.close()


def test_a_stream_orders_cumulative_fill_is_read_from_the_venues_field() -> None:
    """ccxt's bitget stream parser reports the last fill's size as `filled`; the
    cumulative fill is info["accBaseVolume"]."""
    row = venue_row(Venue.BITGET)
    market = {"symbol": "BTC/USDT", "contract": False, "spot": True}
    raw = {
        "id": "1198770000000000001",
        "clientOrderId": "g1L100B0",
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "limit",
        "price": "60000",
        "amount": "0.01",
        "filled": "0.001",  # this fill
        "timestamp": 1718000000100,
        "status": "open",
        "info": {"status": "partially_filled", "accBaseVolume": "0.004", "baseVolume": "0.001"},
    }
    order = mapping.order_info(row, raw, market)
    assert (order.status, order.filled_quantity) == (OrderStatus.PARTIALLY_FILLED, Decimal("0.004"))


async def test_a_cancel_answer_is_read_by_the_orders_own_client_id() -> None:
    """Binance spot answers a cancel with clientOrderId = the cancel request's id and
    origClientOrderId = the order's."""
    adapter, session, fixture = await prepared_venue("binance", "spot")
    cancel = fixture["requests"]["cancel"]
    try:
        answer = {**cancel["response"], "clientOrderId": "cancel0000017", "origClientOrderId": "g1L098B0"}
        session.set(cancel["route"], answer)
        order = await adapter.cancel_order("BTC/USDT", order_id=str(answer["orderId"]))
        assert (order.client_order_id, order.status) == ("g1L098B0", OrderStatus.CANCELED)
    finally:
        await adapter.close()


async def test_leverage_already_in_force_is_success() -> None:
    adapter, session, _ = await prepared_venue("bybit", "perp")
    try:
        session.set(
            "POST /v5/position/set-leverage",
            {"retCode": 110043, "retMsg": "leverage not modified", "result": {}, "retExtInfo": {}, "time": 1},
        )
        assert await adapter.set_leverage("BTC/USDT:USDT", Decimal("5")) == Decimal(5)
    finally:
        await adapter.close()


@pytest.mark.parametrize(
    ("venue", "route", "expected"),
    [
        ("bybit", "POST /v5/position/set-leverage", {"buyLeverage": "5", "sellLeverage": "5"}),
        ("okx", "POST /api/v5/account/set-leverage", {"lever": "5", "mgnMode": "cross"}),
        ("binance", "POST /fapi/v1/leverage", {"leverage": "5"}),
    ],
)
async def test_set_leverage(venue: str, route: str, expected: dict[str, str]) -> None:
    adapter, session, _ = await prepared_venue(venue, "perp")
    answers = {
        "bybit": {"retCode": 0, "retMsg": "OK", "result": {}, "retExtInfo": {}, "time": 1},
        "okx": {
            "code": "0",
            "msg": "",
            "data": [{"instId": "BTC-USDT-SWAP", "lever": "5", "mgnMode": "cross"}],
        },
        "binance": {"leverage": 5, "maxNotionalValue": "1000000", "symbol": "BTCUSDT"},
    }
    try:
        session.set(route, answers[venue])
        assert await adapter.set_leverage("BTC/USDT:USDT", Decimal("5")) == Decimal(5)
        params = session.sent(route)[-1].params
        for key, value in expected.items():
            assert str(params[key]) == value
        with pytest.raises(InvalidArgument):
            await adapter.set_leverage("BTC/USDT:USDT", Decimal("2.5"))
        with pytest.raises(InvalidArgument):
            await adapter.set_leverage("BTC/USDT:USDT", Decimal("0"))
    finally:
        await adapter.close()


async def test_a_ticker_without_best_prices_is_completed_from_the_book() -> None:
    adapter, session, _ = await prepared_venue("binance", "perp")
    try:
        session.set(
            "GET /fapi/v1/ticker/24hr",
            {
                "symbol": "BTCUSDT",
                "priceChange": "10.0",
                "lastPrice": "60010.50",
                "lastQty": "0.001",
                "openPrice": "60000.50",
                "highPrice": "60100",
                "lowPrice": "59900",
                "volume": "1000.001",
                "quoteVolume": "60000000.1",
                "openTime": 1717913600000,
                "closeTime": 1718000000000,
                "firstId": 1,
                "lastId": 2,
                "count": 2,
            },
        )
        session.set(
            "GET /fapi/v1/ticker/bookTicker",
            [
                {
                    "symbol": "BTCUSDT",
                    "bidPrice": "60010.4",
                    "bidQty": "1.5",
                    "askPrice": "60010.5",
                    "askQty": "0.8",
                    "time": 1718000000001,
                }
            ],
        )
        ticker = await adapter.fetch_ticker("BTC/USDT:USDT")
        assert (ticker.last, ticker.bid, ticker.ask) == (
            Decimal("60010.50"),
            Decimal("60010.4"),
            Decimal("60010.5"),
        )
        assert ticker.time_ms == 1718000000000
    finally:
        await adapter.close()


async def test_positions_are_one_way_in_base_units() -> None:
    adapter, session, _ = await prepared_venue("okx", "perp")
    position = {
        "adl": "1",
        "avgPx": "60000.5",
        "cTime": "1718000000000",
        "ccy": "USDT",
        "imr": "18.00015",
        "instId": "BTC-USDT-SWAP",
        "instType": "SWAP",
        "last": "60010",
        "lever": "10",
        "liqPx": "54000.1",
        "markPx": "60010",
        "mgnMode": "cross",
        "mmr": "0.9",
        "notionalUsd": "180.03",
        "pos": "-3",
        "posSide": "net",
        "posId": "1",
        "uTime": "1718000005000",
        "upl": "-0.0285",
        "uplRatio": "-0.0015",
        "realizedPnl": "0.1",
        "fee": "-0.1",
        "fundingFee": "0",
        "margin": "",
        "closeOrderAlgo": [],
    }
    try:
        session.set("GET /api/v5/account/positions", {"code": "0", "msg": "", "data": [position]})
        [result] = await adapter.fetch_positions(None)
        assert (result.symbol, result.quantity, result.entry_price, result.leverage) == (
            "BTC/USDT:USDT",
            Decimal("-0.03"),
            Decimal("60000.5"),
            Decimal(10),
        )
        assert result.liquidation_price == Decimal("54000.1")
    finally:
        await adapter.close()


async def test_a_position_without_leverage_takes_it_from_the_leverage_settings() -> None:
    """Binance USD-M positionRisk v3 has no leverage: it is read from symbolConfig."""
    adapter, session, _ = await prepared_venue("binance", "perp")
    risk = {
        "symbol": "BTCUSDT",
        "positionSide": "BOTH",
        "positionAmt": "0.010",
        "entryPrice": "59000.0",
        "breakEvenPrice": "59000.0",
        "markPrice": "59010.0",
        "unRealizedProfit": "0.1",
        "liquidationPrice": "0",
        "isolatedMargin": "0",
        "notional": "590.1",
        "marginAsset": "USDT",
        "isolatedWallet": "0",
        "initialMargin": "84.3",
        "maintMargin": "2.36",
        "positionInitialMargin": "84.3",
        "openOrderInitialMargin": "0",
        "adl": 0,
        "bidNotional": "0",
        "askNotional": "0",
        "updateTime": 1718000005000,
    }
    config = {
        "symbol": "BTCUSDT",
        "marginType": "CROSSED",
        "isAutoAddMargin": "false",
        "leverage": 7,
        "maxNotionalValue": "80000000",
    }
    try:
        brackets = [
            {
                "symbol": "BTCUSDT",
                "brackets": [
                    {
                        "bracket": 1,
                        "initialLeverage": 125,
                        "notionalCap": 50000,
                        "notionalFloor": 0,
                        "maintMarginRatio": 0.004,
                        "cum": 0.0,
                    }
                ],
            }
        ]
        session.set("GET /fapi/v1/leverageBracket", brackets)  # ccxt loads these first
        session.set("GET /fapi/v3/positionRisk", [risk])
        session.set("GET /fapi/v1/symbolConfig", [config])
        [result] = await adapter.fetch_positions("BTC/USDT:USDT")
        assert (result.quantity, result.entry_price, result.leverage) == (
            Decimal("0.01"),
            Decimal("59000"),
            Decimal(7),
        )
    finally:
        await adapter.close()


def test_leverage_of_a_one_way_position() -> None:
    both = {"longLeverage": 5, "shortLeverage": 7}
    assert mapping.leverage_of(both, Decimal("0.1")) == 5
    assert mapping.leverage_of(both, Decimal("-0.1")) == 7
    assert mapping.leverage_of({"longLeverage": None, "shortLeverage": "3"}, Decimal(1)) == 3
    assert mapping.leverage_of(None, Decimal(1)) == 0


async def test_spot_balances() -> None:
    adapter, session, _ = await prepared_venue("binance", "spot")
    account = {
        "makerCommission": 10,
        "takerCommission": 10,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "updateTime": 1718000000000,
        "accountType": "SPOT",
        "permissions": ["SPOT"],
        "balances": [
            {"asset": "BTC", "free": "0.00100000", "locked": "0.00000000"},
            {"asset": "USDT", "free": "1000.12345678", "locked": "61.00000000"},
            {"asset": "ETH", "free": "0.00000000", "locked": "0.00000000"},
        ],
    }
    try:
        session.set("GET /api/v3/account", account)
        balances = await adapter.fetch_balances()
        assert [(b.asset, b.free, b.used, b.total) for b in balances] == [
            ("BTC", Decimal("0.001"), Decimal(0), Decimal("0.001")),
            ("USDT", Decimal("1000.12345678"), Decimal(61), Decimal("1061.12345678")),
        ]
        assert await adapter.fetch_positions(None) == []
    finally:
        await adapter.close()


async def test_contract_candles_are_converted_to_base_volume() -> None:
    adapter, session, _ = await prepared_venue("gate", "perp")
    try:
        session.set(
            "GET /api/v4/futures/usdt/candlesticks",
            [
                {
                    "t": 1718000000,
                    "v": 1200,
                    "c": "60010",
                    "h": "60020",
                    "l": "59990",
                    "o": "60000",
                    "sum": "7201.2",
                }
            ],
        )
        [candle] = await adapter.fetch_klines("BTC/USDT:USDT", KlineInterval.M1, 1)
        assert (candle.open_time_ms, candle.close, candle.volume, candle.closed) == (
            1718000000000,
            Decimal("60010"),
            Decimal("0.12"),
            True,
        )
    finally:
        await adapter.close()


async def test_unknown_symbols_and_missing_markets_are_refused() -> None:
    adapter, _, _ = await prepared_venue("okx", "spot")
    try:
        with pytest.raises(InvalidArgument, match="unknown symbol"):
            await adapter.fetch_ticker("ETH/USDT")
    finally:
        await adapter.close()
    with pytest.raises(InvalidArgument, match="unknown symbol"):
        await prepared_venue("okx", "spot", symbols=["DOGE/USDT"])


# -- streams ----------------------------------------------------------------------------


class Sink:
    """A VenueEvents recorder that can be waited on."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self._changed = asyncio.Event()

    def _add(self, kind: str, value: Any) -> None:
        self.events.append((kind, value))
        self._changed.set()

    def on_ticker(self, ticker: TickerInfo) -> None:
        self._add("ticker", ticker)

    def on_order(self, order: OrderInfo) -> None:
        self._add("order", order)

    def on_fill(self, fill: FillInfo) -> None:
        self._add("fill", fill)

    def on_kline(self, kline: KlineInfo) -> None:
        self._add("kline", kline)

    def on_stream_state(self, stream: str, connected: bool, detail: str = "") -> None:
        self._add("state", (stream, connected))

    def of(self, kind: str) -> list[Any]:
        return [value for k, value in self.events if k == kind]

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        async def loop() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)


class Script:
    """A fake ccxt.pro watch: returns (or raises) scripted items, then waits forever."""

    def __init__(self, *items: Any) -> None:
        self.items = list(items)
        self.calls = 0
        self._forever = asyncio.Event()

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if not self.items:
            await self._forever.wait()
        item = self.items.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1


async def no_sleep(_: float) -> None:
    await asyncio.sleep(0)


NOW_S = 1718000100.0  # the adapter's injected clock in stream tests


async def started(
    venue: str, market: str, watches: dict[str, Script], settings: StreamSettings | None = None
) -> tuple[Any, Any, dict[str, Any], Sink]:
    adapter, session, fixture = await prepared_venue(
        venue,
        market,
        streams=settings or StreamSettings(market_quiet_s=60, private_quiet_s=60, fill_lookback_s=600),
        sleep=no_sleep,
        clock=lambda: NOW_S,
    )
    for name in ("watch_tickers", "watch_bids_asks", "watch_ohlcv", "watch_orders", "watch_my_trades"):
        setattr(adapter.exchange, name, watches.get(name, Script()))
    adapter.exchange.close_ws_clients = Counter()
    sink = Sink()
    return adapter, session, fixture, sink


def parsed(adapter: Any, raw: dict[str, Any], **changes: Any) -> dict[str, Any]:
    market = adapter.exchange.market(adapter.markets().keys().__iter__().__next__())
    order: dict[str, Any] = adapter.exchange.parse_order({**raw, **changes}, market)
    return order


async def test_orders_stream_pushes_the_snapshot_difference_before_live_updates() -> None:
    adapter, session, fixture, sink = await started("binance", "perp", {})
    orders = fixture["orders"]
    new_a, partial_b = orders["new"]["raw"], orders["partially_filled"]["raw"]
    a_partial = {
        **new_a,
        "status": "PARTIALLY_FILLED",
        "executedQty": "0.004",
        "avgPrice": "60000.1",
        "updateTime": 1718000006000,
    }
    a_filled = {
        **new_a,
        "status": "FILLED",
        "executedQty": "0.010",
        "avgPrice": "60000.1",
        "updateTime": 1718000008000,
    }
    watch = Script(
        [parsed(adapter, a_partial)],  # live on the first connection
        ccxt.NetworkError("connection reset by peer"),  # the socket drops
        [parsed(adapter, a_partial)],  # a stale message buffered across the reconnect
        [parsed(adapter, partial_b, executedQty="0.006", updateTime=1718000009000)],
    )
    adapter.exchange.watch_orders = watch
    session.queue(
        "GET /fapi/v1/openOrders",
        Reply([new_a, partial_b]),  # the credentials check of start()
        Reply([new_a, partial_b]),  # first connection: A new, B partially filled
        Reply([partial_b]),  # after the reconnect: A is gone (it filled meanwhile)
    )
    session.set("GET /fapi/v1/order", a_filled)
    session.set("GET /fapi/v1/userTrades", [])
    session.set("GET /fapi/v1/klines", [])
    try:
        await adapter.start(sink, KlineInterval.M1)
        await sink.wait_for(lambda: len(sink.of("order")) >= 5)
        orders_stream = [
            (v.order_id, v.status, v.filled_quantity) if k == "order" else v
            for k, v in sink.events
            if k == "order" or (k == "state" and v[0] == "orders")
        ]
        assert orders_stream == [
            ("4071234501", OrderStatus.NEW, Decimal("0")),  # snapshot
            ("4071234502", OrderStatus.PARTIALLY_FILLED, Decimal("0.004")),
            ("orders", True),
            ("4071234501", OrderStatus.PARTIALLY_FILLED, Decimal("0.004")),  # live
            ("orders", False),  # dropped
            ("4071234501", OrderStatus.FILLED, Decimal("0.010")),  # resync: A's final state
            ("orders", True),
            # the stale buffered update of A was not pushed
            ("4071234502", OrderStatus.PARTIALLY_FILLED, Decimal("0.006")),  # live again
        ]
        assert watch.calls >= 4
    finally:
        await adapter.close()


async def test_fills_stream_resyncs_and_never_pushes_a_trade_twice() -> None:
    adapter, session, fixture, sink = await started("bybit", "perp", {})
    trade = fixture["trade"]["raw"]
    market = adapter.exchange.market("BTC/USDT:USDT")
    later = {**trade, "execId": "f00dcafe-0000-0000-0000-000000000002", "execTime": "1718000007000"}
    watch = Script(
        [adapter.exchange.parse_trade(trade, market)],  # already delivered by the resync
        [adapter.exchange.parse_trade(later, market)],
    )
    adapter.exchange.watch_my_trades = watch
    session.set(
        "GET /v5/execution/list",
        {
            "retCode": 0,
            "retMsg": "OK",
            "result": {"list": [trade], "nextPageCursor": "", "category": "linear"},
            "time": 1,
        },
    )
    session.set(
        "GET /v5/order/realtime",
        {
            "retCode": 0,
            "retMsg": "OK",
            "result": {"list": [], "nextPageCursor": "", "category": "linear"},
            "time": 1,
        },
    )
    session.set(
        "GET /v5/market/kline",
        {
            "retCode": 0,
            "retMsg": "OK",
            "result": {"category": "linear", "symbol": "BTCUSDT", "list": []},
            "time": 1,
        },
    )
    try:
        await adapter.start(sink, KlineInterval.M1)
        await sink.wait_for(lambda: len(sink.of("fill")) >= 2 and watch.calls >= 3)
        fills = sink.of("fill")
        assert [f.trade_id for f in fills] == [trade["execId"], later["execId"]]
        assert all(f.client_order_id == "g1L101S0" for f in fills)
        # the first connection looks back fill_lookback_s from the start
        assert session.sent("GET /v5/execution/list")[0].query["startTime"] == str(int((NOW_S - 600) * 1000))
    finally:
        await adapter.close()


async def test_tickers_merge_a_separate_best_bid_ask_stream() -> None:
    ticker = {
        "symbol": "BTC/USDT:USDT",
        "timestamp": 1718000000000,
        "last": "60010.5",
        "bid": None,
        "ask": None,
    }
    book = {"symbol": "BTC/USDT:USDT", "timestamp": 1718000000001, "bid": "60010.4", "ask": "60010.5"}
    tickers = Script({"BTC/USDT:USDT": ticker})
    books = Script({"BTC/USDT:USDT": book})
    adapter, session, _, sink = await started(
        "binance", "perp", {"watch_tickers": tickers, "watch_bids_asks": books}
    )
    session.set("GET /fapi/v1/klines", [])
    session.set("GET /fapi/v1/openOrders", [])
    session.set("GET /fapi/v1/userTrades", [])
    try:
        await adapter.start(sink, KlineInterval.M1)
        await sink.wait_for(lambda: bool(sink.of("ticker")))
        [merged] = sink.of("ticker")
        assert (merged.last, merged.bid, merged.ask) == (
            Decimal("60010.5"),
            Decimal("60010.4"),
            Decimal("60010.5"),
        )
        assert books.calls >= 1
    finally:
        await adapter.close()


async def test_candles_close_when_the_next_one_opens_and_gaps_are_filled_by_rest() -> None:
    t0, t1 = 1718000000000, 1718000060000
    candles = Script(
        [[t0, "60000", "60010", "59990", "60005", "1.5"]],
        [[t0, "60000", "60020", "59990", "60015", "2.5"], [t1, "60015", "60016", "60014", "60016", "0.1"]],
    )
    adapter, session, _, sink = await started("binance", "spot", {"watch_ohlcv": candles})
    session.set(
        "GET /api/v3/klines",
        [[t0 - 60000, "59990", "60001", "59980", "60000", "3.2", t0 - 1, "0", 10, "0", "0", "0"]],
    )
    session.set("GET /api/v3/openOrders", [])
    session.set("GET /api/v3/myTrades", [])
    try:
        await adapter.start(sink, KlineInterval.M1)
        await sink.wait_for(lambda: len(sink.of("kline")) >= 5)
        got = [(k.open_time_ms, k.close, k.volume, k.closed) for k in sink.of("kline")]
        assert got == [
            (t0 - 60000, Decimal("60000"), Decimal("3.2"), True),  # from REST on connect
            (t0, Decimal("60005"), Decimal("1.5"), False),
            (t0, Decimal("60015"), Decimal("2.5"), False),
            (t0, Decimal("60015"), Decimal("2.5"), True),  # closed as t1 opened
            (t1, Decimal("60016"), Decimal("0.1"), False),
        ]
    finally:
        await adapter.close()


async def test_a_silent_market_stream_reconnects() -> None:
    tickers = Script()  # never answers
    adapter, session, _, sink = await started(
        "okx", "spot", {"watch_tickers": tickers}, StreamSettings(market_quiet_s=0.01, private_quiet_s=60)
    )
    session.set("GET /api/v5/market/candles", {"code": "0", "msg": "", "data": []})
    session.set("GET /api/v5/trade/orders-pending", {"code": "0", "msg": "", "data": []})
    session.set("GET /api/v5/trade/fills-history", {"code": "0", "msg": "", "data": []})
    try:
        await adapter.start(sink, KlineInterval.M1)
        await sink.wait_for(lambda: ("state", ("tickers", False)) in sink.events and tickers.calls >= 2)
        assert adapter.exchange.close_ws_clients.calls >= 1
    finally:
        await adapter.close()


async def test_a_quiet_private_stream_resyncs_instead_of_reconnecting() -> None:
    adapter, session, _fixture, sink = await started(
        "binance", "perp", {}, StreamSettings(market_quiet_s=60, private_quiet_s=0.01)
    )
    session.set("GET /fapi/v1/openOrders", [])
    session.set("GET /fapi/v1/userTrades", [])
    session.set("GET /fapi/v1/klines", [])
    try:
        await adapter.start(sink, KlineInterval.M1)
        await session.wait_for(lambda: len(session.sent("GET /fapi/v1/openOrders")) >= 3)
        assert ("state", ("orders", False)) not in sink.events
        assert adapter.exchange.close_ws_clients.calls == 0
    finally:
        await adapter.close()


async def test_bybit_reads_a_closed_order_from_its_history() -> None:
    adapter, session, fixture = await prepared_venue("bybit", "perp")
    empty = {"retCode": 0, "retMsg": "OK", "result": {"list": [], "nextPageCursor": "", "category": "linear"}}
    closed = {
        **empty,
        "result": {**empty["result"], "list": [fixture["orders"]["partially_filled_canceled"]["raw"]]},  # type: ignore[dict-item]
    }
    try:
        session.set("GET /v5/order/realtime", empty)
        session.set("GET /v5/order/history", closed)
        order = await adapter.fetch_order("BTC/USDT:USDT", client_order_id="g1L097B0")
        assert (order.status, order.filled_quantity, order.status_detail) == (
            OrderStatus.CANCELED,
            Decimal("0.003"),
            "PartiallyFilledCanceled",
        )
        assert session.sent("GET /v5/order/history")[-1].query["orderLinkId"] == "g1L097B0"
        session.set("GET /v5/order/history", empty)
        with pytest.raises(OrderNotFound):
            await adapter.fetch_order("BTC/USDT:USDT", client_order_id="g1L097B0")
    finally:
        await adapter.close()


async def test_market_data_only_without_credentials() -> None:
    adapter, session, _ = await prepared_venue("bybit", "spot", with_credentials=False)
    try:
        assert all("query-api" not in r.path for r in session.requests)
        sink = Sink()
        for name in ("watch_tickers", "watch_ohlcv", "watch_orders", "watch_my_trades"):
            setattr(adapter.exchange, name, Script())
        session.set("GET /v5/market/kline", {"retCode": 0, "result": {"list": []}, "time": 1})
        await adapter.start(sink, KlineInterval.M1)
        assert sorted(loop.name for loop in adapter.loops) == ["klines", "tickers"]
    finally:
        await adapter.close()


def test_order_mapping_never_returns_float_money() -> None:
    row = venue_row(Venue.BYBIT)
    market = {"symbol": "BTC/USDT:USDT", "contract": True, "contractSize": 1}
    order = {
        "id": "1",
        "side": "buy",
        "type": "limit",
        "price": 60000.1,
        "amount": "0.010",
        "filled": 0.004,
        "average": None,
        "timestamp": 1,
        "status": "open",
        "info": {"orderStatus": "PartiallyFilled"},
    }
    info = mapping.order_info(row, order, market)
    assert info.price == Decimal("60000.1")
    assert info.filled_quantity == Decimal("0.004")
    assert info.status is OrderStatus.PARTIALLY_FILLED


async def test_from_settings_builds_the_configured_venue() -> None:
    from opensqt_connector.ccxt_venue.adapter import CcxtVenue
    from opensqt_connector.settings import ConnectorSettings

    settings = ConnectorSettings(
        exchange="okx", market="perp", sandbox=True, api_url="http://127.0.0.1:1", ws_url="ws://127.0.0.1:2"
    )
    adapter = CcxtVenue.from_settings(settings, None)
    assert (adapter.venue, adapter.market_type) == (Venue.OKX, MarketType.LINEAR_PERPETUAL)
    assert adapter.exchange.headers["x-simulated-trading"] == "1"
    assert adapter.exchange.urls["api"]["rest"] == "http://127.0.0.1:1"


async def test_stream_loop_backs_off_exponentially_with_jitter_and_reports_sanitised_reasons() -> None:
    from opensqt_connector.ccxt_venue.errors import Sanitizer
    from opensqt_connector.ccxt_venue.streams import Backoff, OnQuiet, StreamLoop

    delays: list[float] = []
    sink = Sink()
    secret = "AKtest0123456789abcdef"
    watch = Script(
        ccxt.NetworkError(f"reset, key {secret}"),
        ccxt.RequestTimeout("ping-pong keepalive missing"),
        ccxt.NetworkError("reset"),
        {"batch": 1},
    )
    delivered: list[Any] = []
    got_batch = asyncio.Event()

    async def deliver(batch: Any) -> None:
        delivered.append(batch)
        got_batch.set()

    async def record(delay: float) -> None:
        delays.append(delay)

    sanitize = Sanitizer([secret])
    loop: StreamLoop[Any] = StreamLoop(
        "tickers",
        watch=watch,
        deliver=deliver,
        events=sink,
        quiet_after_s=60,
        on_quiet=OnQuiet.RECONNECT,
        backoff=Backoff(0.5, 1.5, random=lambda: 1.0),
        describe=lambda exc: sanitize(str(exc)),
        sleep=record,
    )
    task = asyncio.create_task(loop.run())
    try:
        await asyncio.wait_for(got_batch.wait(), 5)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert delays == [0.5, 1.0, 1.5]  # doubling, capped at 1.5 s (random() = 1: the full step)
    assert Backoff(0.5, 1.5, random=lambda: 0.0).delay(2) == 0.5  # half of it is jitter
    states = sink.of("state")
    assert states == [("tickers", True), ("tickers", False), ("tickers", True), ("tickers", False),
                      ("tickers", True), ("tickers", False), ("tickers", True)]  # fmt: skip
    assert loop.failures == 3
    assert delivered == [{"batch": 1}]
    assert not any(secret in str(event) for event in sink.events)
