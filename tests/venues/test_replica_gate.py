"""The Gate replica driven by real ccxt / ccxt.pro code (signing, request building,
parsing) on loopback, for spot (BTC/USDT) and USDT perpetual futures (BTC/USDT:USDT).

ccxt classes Gate's answers become (recorded by these tests):
- poc that would match: OrderImmediatelyFillable (spot POC_FILL_IMMEDIATELY,
  futures ORDER_POC_IMMEDIATE) — a subclass of InvalidOrder;
- a text already in use: no error at all (Gate accepts it; look-ups by text find
  the newest order);
- bad signature: AuthenticationError (INVALID_SIGNATURE; WebSocket error code 4);
- 429: RateLimitExceeded (TOO_MANY_REQUESTS, X-Gate-RateLimit-* headers);
- 5xx: ExchangeNotAvailable (TOO_BUSY / SERVER_ERROR);
- reduce-only with nothing to reduce: InvalidOrder (POSITION_EMPTY);
- a stream closed by the venue (close 1001): NetworkError, and the next watch
  reconnects.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import ccxt
import pytest

from opensqt_common.enums import MarketType

from .gate.client import gate_client
from .gate.replica import DEFAULT_BALANCES, GateReplica

TIMEOUT = 5.0


@dataclass(frozen=True)
class Case:
    symbol: str
    amount: float  # venue units: BTC on spot, contracts on futures
    half: str  # half the order in base units (the core's max_fill)
    market_type: MarketType


SPOT = Case("BTC/USDT", 0.002, "0.001", MarketType.SPOT)
SWAP = Case("BTC/USDT:USDT", 20, "0.001", MarketType.LINEAR_PERPETUAL)
CASES = [pytest.param(SPOT, id="spot"), pytest.param(SWAP, id="swap")]


async def eventually(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def snapshot(orders: list[Any], order_id: str) -> list[tuple[str, float]]:
    """(status, filled) of `order_id` in a watch_orders result, read at once."""
    return [(o["status"], o["filled"]) for o in orders if o["id"] == order_id]


@pytest.fixture
async def replica() -> AsyncIterator[GateReplica]:
    async with GateReplica() as venue:
        yield venue
    assert not venue.handler_errors
    unserved = [
        (r.method, r.path)
        for r in venue.requests
        if r.status == 404 and (r.method, r.path) not in venue.venue_not_found
    ]
    assert not unserved, f"the replica does not serve {unserved}"


@pytest.fixture
async def client(replica: GateReplica) -> AsyncIterator[Any]:
    exchange = gate_client(replica)
    await exchange.load_markets()
    yield exchange
    await exchange.close()


async def test_load_markets_precision_and_limits(client: Any) -> None:
    spot = client.market("BTC/USDT")
    assert (spot["id"], spot["spot"]) == ("BTC_USDT", True)
    assert (spot["precision"]["amount"], spot["precision"]["price"]) == (1e-06, 0.1)
    assert spot["limits"]["cost"]["min"] == 3
    assert spot["taker"] == 0.002
    swap = client.market("BTC/USDT:USDT")
    assert (swap["id"], swap["swap"], swap["linear"], swap["settle"]) == ("BTC_USDT", True, True, "USDT")
    assert swap["contractSize"] == 0.0001
    assert (swap["precision"]["amount"], swap["precision"]["price"]) == (1, 0.1)
    assert swap["limits"]["amount"]["min"] == 1
    assert swap["limits"]["leverage"]["max"] == 125
    assert client.options["unifiedAccount"] is False


@pytest.mark.parametrize("case", CASES)
async def test_ticker_ohlcv_balance(replica: GateReplica, client: Any, case: Case) -> None:
    replica.set_price(case.symbol, "60100", volume="3")
    ticker = await client.fetch_ticker(case.symbol)
    assert (ticker["last"], ticker["bid"], ticker["ask"]) == (60100.0, 60099.9, 60100.1)
    candles = await client.fetch_ohlcv(case.symbol, "1m", limit=5)
    assert candles[-1][4] == 60100.0
    assert candles == sorted(candles)
    balance = await client.fetch_balance({"type": "spot" if case.market_type is MarketType.SPOT else "swap"})
    assert balance["USDT"]["total"] == float(DEFAULT_BALANCES["USDT"])


@pytest.mark.parametrize("case", CASES)
async def test_post_only_rests_and_is_found_by_id_and_text(client: Any, case: Case) -> None:
    order = await client.create_order(
        case.symbol, "limit", "buy", case.amount, 59000, {"postOnly": True, "clientOrderId": "rest1"}
    )
    assert order["clientOrderId"] == "t-rest1"
    by_id = await client.fetch_order(order["id"], case.symbol)
    by_text = await client.fetch_order(None, case.symbol, {"clientOrderId": "rest1"})
    for fetched in (by_id, by_text):
        assert fetched["id"] == order["id"]
        assert (fetched["status"], fetched["postOnly"], fetched["amount"], fetched["price"]) == (
            "open",
            True,
            case.amount,
            59000,
        )
    assert [o["id"] for o in await client.fetch_open_orders(case.symbol)] == [order["id"]]


@pytest.mark.parametrize("case", CASES)
async def test_post_only_that_would_cross_is_refused(client: Any, case: Case) -> None:
    label = "POC_FILL_IMMEDIATELY" if case.market_type is MarketType.SPOT else "ORDER_POC_IMMEDIATE"
    with pytest.raises(ccxt.OrderImmediatelyFillable, match=label):
        await client.create_order(case.symbol, "limit", "buy", case.amount, 60100, {"postOnly": True})
    assert await client.fetch_open_orders(case.symbol) == []


@pytest.mark.parametrize("case", CASES)
async def test_partial_then_full_fill_via_rest_and_streams(replica: GateReplica, case: Case) -> None:
    rest = gate_client(replica)
    stream = gate_client(replica)
    try:
        await rest.load_markets()
        await stream.load_markets()
        orders = asyncio.ensure_future(stream.watch_orders(case.symbol))
        trades = asyncio.ensure_future(stream.watch_my_trades(case.symbol))
        await eventually(lambda: replica.private_ready(case.market_type, frozenset({"orders", "trades"})))
        order = await rest.create_order(
            case.symbol, "limit", "buy", case.amount, 59000, {"clientOrderId": "pf1"}
        )
        assert snapshot(await asyncio.wait_for(orders, TIMEOUT), order["id"]) == [("open", 0)]

        orders = asyncio.ensure_future(stream.watch_orders(case.symbol))
        assert (await rest.fetch_order(order["id"], case.symbol))["filled"] == 0
        replica.set_price(case.symbol, "59000", max_fill=case.half)
        assert snapshot(await asyncio.wait_for(orders, TIMEOUT), order["id"]) == [("open", case.amount / 2)]
        (first_fill,) = await asyncio.wait_for(trades, TIMEOUT)
        assert (first_fill["order"], first_fill["amount"], first_fill["price"]) == (
            order["id"],
            case.amount / 2,
            59000,
        )
        assert first_fill["takerOrMaker"] == "maker"
        partial = await rest.fetch_order(order["id"], case.symbol)
        assert (partial["status"], partial["filled"], partial["remaining"]) == (
            "open",
            case.amount / 2,
            case.amount / 2,
        )

        orders = asyncio.ensure_future(stream.watch_orders(case.symbol))
        trades = asyncio.ensure_future(stream.watch_my_trades(case.symbol))
        assert (await rest.fetch_order(order["id"], case.symbol))["status"] == "open"
        replica.set_price(case.symbol, "59000")
        assert snapshot(await asyncio.wait_for(orders, TIMEOUT), order["id"]) == [("closed", case.amount)]
        (second_fill,) = await asyncio.wait_for(trades, TIMEOUT)
        assert second_fill["amount"] == case.amount / 2
        assert second_fill["id"] != first_fill["id"]
        full = await rest.fetch_order(order["id"], case.symbol)
        assert (full["status"], full["filled"], full["average"]) == ("closed", case.amount, 59000)

        history = await rest.fetch_my_trades(case.symbol)
        assert sorted(t["id"] for t in history) == sorted([first_fill["id"], second_fill["id"]])
        assert all(t["order"] == order["id"] and t["amount"] == case.amount / 2 for t in history)
        if case.market_type is MarketType.LINEAR_PERPETUAL:
            (position,) = await rest.fetch_positions([case.symbol])
            assert (position["side"], position["contracts"], position["entryPrice"]) == ("long", 20, 59000)
    finally:
        await rest.close()
        await stream.close()


@pytest.mark.parametrize("case", CASES)
async def test_cancel_and_cancel_all(client: Any, case: Case) -> None:
    ids = []
    for index, price in enumerate((58000, 58100, 58200)):
        placed = await client.create_order(
            case.symbol, "limit", "buy", case.amount, price, {"clientOrderId": f"c{index}"}
        )
        ids.append(placed["id"])
    canceled = await client.cancel_order(ids[0], case.symbol)
    assert (canceled["id"], canceled["status"]) == (ids[0], "canceled")
    with pytest.raises(ccxt.ExchangeError):
        await client.cancel_order(ids[0], case.symbol)
    rest = await client.cancel_all_orders(case.symbol)
    assert sorted(o["id"] for o in rest) == sorted(ids[1:])
    assert await client.fetch_open_orders(case.symbol) == []


@pytest.mark.parametrize("case", CASES)
async def test_a_text_in_use_is_accepted_and_the_newest_order_owns_it(client: Any, case: Case) -> None:
    first = await client.create_order(
        case.symbol, "limit", "buy", case.amount, 58000, {"clientOrderId": "dup1"}
    )
    second = await client.create_order(
        case.symbol, "limit", "buy", case.amount, 58100, {"clientOrderId": "dup1"}
    )
    assert first["id"] != second["id"]
    found = await client.fetch_order(None, case.symbol, {"clientOrderId": "dup1"})
    assert found["id"] == second["id"]
    assert len(await client.fetch_open_orders(case.symbol)) == 2


async def test_lost_ack_leaves_the_order_findable_by_text(replica: GateReplica, client: Any) -> None:
    replica.faults.lose_next_acks()
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await client.create_order("BTC/USDT:USDT", "limit", "buy", 10, 58000, {"clientOrderId": "lost1"})
    found = await client.fetch_order(None, "BTC/USDT:USDT", {"clientOrderId": "lost1"})
    assert found["status"] == "open"


async def test_reduce_only_and_leverage_on_futures(client: Any) -> None:
    with pytest.raises(ccxt.InvalidOrder, match="POSITION_EMPTY"):
        await client.create_order("BTC/USDT:USDT", "limit", "sell", 10, 61000, {"reduceOnly": True})
    response = await client.set_leverage(20, "BTC/USDT:USDT")
    assert response["leverage"] == "20"
    # ccxt refuses leverage above 100 itself; the venue's own check via the implicit API:
    with pytest.raises(ccxt.InvalidOrder, match="LEVERAGE_TOO_HIGH"):
        await client.privateFuturesPostSettlePositionsContractLeverage(
            {"settle": "usdt", "contract": "BTC_USDT", "leverage": "200"}
        )


async def test_position_mode_is_set_by_a_query_parameter(replica: GateReplica, client: Any) -> None:
    """ccxt sends dual_mode in the query string of the POST; the answer is the futures
    account. In dual mode this replica refuses futures orders (not modelled)."""
    account = await client.set_position_mode(False, "BTC/USDT:USDT")
    assert account["in_dual_mode"] is False
    assert (await client.set_position_mode(True, "BTC/USDT:USDT"))["in_dual_mode"] is True
    with pytest.raises(ccxt.BadRequest, match="not modelled"):
        await client.create_order("BTC/USDT:USDT", "limit", "buy", 10, 50000)
    await client.set_position_mode(False, "BTC/USDT:USDT")
    assert replica.dual_mode is False
    with pytest.raises(ccxt.ArgumentsRequired, match="MISSING_REQUIRED_PARAM"):
        await client.privateFuturesPostSettleDualMode({"settle": "usdt"})


async def test_bad_signature_is_refused_on_rest_and_stream(replica: GateReplica) -> None:
    stream = gate_client(replica)
    try:
        await stream.load_markets()
        stream.secret = "0" * 64
        with pytest.raises(ccxt.AuthenticationError, match="INVALID_SIGNATURE"):
            await stream.fetch_balance()
        with pytest.raises(ccxt.AuthenticationError, match="INVALID_SIGNATURE"):
            await asyncio.wait_for(stream.watch_orders("BTC/USDT"), TIMEOUT)
        assert not any(s.authenticated for s in replica.sessions("spot"))
    finally:
        await stream.close()
    wrong_key = gate_client(replica, apiKey="0" * 32)
    try:
        with pytest.raises(ccxt.AuthenticationError, match="INVALID_KEY"):
            await wrong_key.fetch_balance()
    finally:
        await wrong_key.close()


async def test_rate_limit_and_server_error(replica: GateReplica, client: Any) -> None:
    replica.faults.rate_limit_next(path="/api/v4/spot/accounts", retry_after_s=2)
    with pytest.raises(ccxt.RateLimitExceeded, match="TOO_MANY_REQUESTS"):
        await client.fetch_balance()
    headers = client.last_response_headers
    assert headers["X-Gate-RateLimit-Requests-Remain"] == "0"
    assert int(headers["X-Gate-RateLimit-Reset-Timestamp"]) > int(time.time() * 1000)
    replica.faults.fail_next(path="/api/v4/spot/accounts")
    with pytest.raises(ccxt.ExchangeNotAvailable, match="TOO_BUSY"):
        await client.fetch_balance()
    assert (await client.fetch_balance())["USDT"]["total"] == 100_000
    assert int(client.last_response_headers["X-Gate-RateLimit-Requests-Remain"]) > 0


@pytest.mark.parametrize("case", CASES)
async def test_public_streams_and_reconnect_after_a_drop(
    replica: GateReplica, client: Any, case: Case
) -> None:
    endpoint = "spot" if case.market_type is MarketType.SPOT else "futures"
    ticker = asyncio.ensure_future(client.watch_ticker(case.symbol))
    candles = asyncio.ensure_future(client.watch_ohlcv(case.symbol, "1m"))
    await eventually(
        lambda: replica.public_ready(case.symbol, "ticker") and replica.public_ready(case.symbol, "kline")
    )
    replica.set_price(case.symbol, "60200")
    assert (await asyncio.wait_for(ticker, TIMEOUT))["last"] == 60200
    assert (await asyncio.wait_for(candles, TIMEOUT))[-1][4] == 60200
    pending = asyncio.ensure_future(client.watch_ticker(case.symbol))
    assert (await client.fetch_ticker(case.symbol))["last"] == 60200
    assert await replica.drop_streams(channel=endpoint) == 1
    with pytest.raises(ccxt.NetworkError):
        await asyncio.wait_for(pending, TIMEOUT)
    again = asyncio.ensure_future(client.watch_ticker(case.symbol))
    await eventually(lambda: replica.public_ready(case.symbol, "ticker"))
    replica.set_price(case.symbol, "60300")
    assert (await asyncio.wait_for(again, TIMEOUT))["last"] == 60300


async def test_stale_timestamp_is_refused() -> None:
    async with GateReplica(clock=lambda: time.time_ns() // 1_000_000 + 120_000) as venue:
        exchange = gate_client(venue)
        try:
            with pytest.raises(ccxt.AuthenticationError, match="REQUEST_EXPIRED"):
                await exchange.fetch_balance()
        finally:
            await exchange.close()


async def test_delayed_ack_arrives_after_the_stream_update(replica: GateReplica, client: Any) -> None:
    orders = asyncio.ensure_future(client.watch_orders("BTC/USDT:USDT"))
    await eventually(lambda: replica.private_ready(MarketType.LINEAR_PERPETUAL, frozenset({"orders"})))
    release = replica.faults.hold_next_ack()
    placing = asyncio.ensure_future(
        client.create_order("BTC/USDT:USDT", "limit", "buy", 10, 58000, {"clientOrderId": "slow1"})
    )
    (update,) = await asyncio.wait_for(orders, TIMEOUT)
    assert update["clientOrderId"] == "t-slow1"
    assert not placing.done()
    release.set()
    assert (await asyncio.wait_for(placing, TIMEOUT))["id"] == update["id"]


@pytest.mark.parametrize("case", CASES)
async def test_unknown_client_order_id_is_order_not_found(client: Any, case: Case) -> None:
    with pytest.raises(ccxt.OrderNotFound, match="CLIENT_ID_NOT_FOUND"):
        await client.fetch_order(None, case.symbol, {"clientOrderId": "never-placed"})


async def test_a_finished_order_is_found_by_text_only_within_the_window() -> None:
    skew = [0]
    start = time.time_ns() // 1_000_000
    async with GateReplica(clock=lambda: start + skew[0], text_lookup_window_ms=10_000) as venue:
        exchange = gate_client(venue)
        try:
            await exchange.load_markets()
            order = await exchange.create_order(
                "BTC/USDT", "limit", "buy", 0.002, 58000, {"clientOrderId": "win1"}
            )
            await exchange.cancel_order(order["id"], "BTC/USDT")
            skew[0] = 5_000
            assert (await exchange.fetch_order(None, "BTC/USDT", {"clientOrderId": "win1"}))["id"] == order[
                "id"
            ]
            skew[0] = 20_000  # past the window, still within the 60 s signature skew
            with pytest.raises(ccxt.OrderNotFound, match="CLIENT_ID_NOT_FOUND"):
                await exchange.fetch_order(None, "BTC/USDT", {"clientOrderId": "win1"})
            assert (await exchange.fetch_order(order["id"], "BTC/USDT"))["status"] == "canceled"
        finally:
            await exchange.close()


async def test_ccxt_prefixes_a_text_only_when_it_does_not_start_with_t(client: Any) -> None:
    # ccxt adds "t-" unless the id's first character is "t": "trade1" goes out as is
    # and Gate refuses it; "t-trade1" and "abc" ("t-abc") are accepted.
    with pytest.raises(ccxt.BadRequest, match="INVALID_PARAM_VALUE"):
        await client.create_order("BTC/USDT", "limit", "buy", 0.002, 58000, {"clientOrderId": "trade1"})
    accepted = await client.create_order(
        "BTC/USDT", "limit", "buy", 0.002, 58000, {"clientOrderId": "t-trade1"}
    )
    assert accepted["clientOrderId"] == "t-trade1"


@pytest.mark.parametrize("case", CASES)
async def test_market_order_fills_at_the_touch_as_taker(client: Any, case: Case) -> None:
    side = "sell" if case.market_type is MarketType.SPOT else "buy"
    order = await client.create_order(case.symbol, "market", side, case.amount)
    fetched = await client.fetch_order(order["id"], case.symbol)
    touch = 60000 - 0.1 if side == "sell" else 60000 + 0.1
    assert (fetched["status"], fetched["filled"], fetched["average"]) == ("closed", case.amount, touch)
    (trade,) = await client.fetch_my_trades(case.symbol)
    assert (trade["takerOrMaker"], trade["amount"], trade["price"]) == ("taker", case.amount, touch)
