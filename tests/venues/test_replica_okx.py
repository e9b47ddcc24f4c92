"""The OKX replica driven by real ccxt / ccxt.pro code (signing, request building,
parsing) on loopback, for SPOT (BTC/USDT) and linear SWAP (BTC/USDT:USDT).

ccxt classes OKX's answers become (recorded by these tests):
- post_only that would cross: no exception; the order comes back cancelled with
  info.cancelSource "31" (fetch_order and watch_orders);
- duplicate clOrdId: InvalidOrder (sCode 51016);
- bad signature: AuthenticationError (50113; WebSocket login 60007);
- wrong demo/live environment: AuthenticationError (50101);
- stale timestamp: InvalidNonce (50102);
- 429: RateLimitExceeded (50011); 5xx: ExchangeNotAvailable (50026);
- reduce-only with nothing to reduce: ExchangeError (51169 is not in ccxt's table);
- a stream closed by the venue (notice 64008 then close 1001): NetworkError, and the
  next watch reconnects.
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

from .okx.client import okx_client
from .okx.replica import DEFAULT_BALANCES, OkxReplica

TIMEOUT = 5.0


@dataclass(frozen=True)
class Case:
    symbol: str
    amount: float  # venue units: BTC on SPOT, contracts on SWAP
    half: str  # half the order in base units (the core's max_fill)
    market_type: MarketType


SPOT = Case("BTC/USDT", 0.002, "0.001", MarketType.SPOT)
SWAP = Case("BTC/USDT:USDT", 2, "0.01", MarketType.LINEAR_PERPETUAL)
CASES = [pytest.param(SPOT, id="spot"), pytest.param(SWAP, id="swap")]


async def eventually(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


@pytest.fixture
async def replica() -> AsyncIterator[OkxReplica]:
    async with OkxReplica() as venue:
        yield venue
    assert not venue.handler_errors
    unserved = [(r.method, r.path) for r in venue.requests if r.status == 404]
    assert not unserved, f"the replica does not serve {unserved}"


@pytest.fixture
async def client(replica: OkxReplica) -> AsyncIterator[Any]:
    exchange = okx_client(replica)
    await exchange.load_markets()
    yield exchange
    await exchange.close()


# ------------------------------------------------------------------ markets & data


async def test_load_markets_precision_and_limits(client: Any) -> None:
    spot = client.market("BTC/USDT")
    assert spot["id"] == "BTC-USDT"
    assert spot["spot"] is True
    assert (spot["precision"]["amount"], spot["precision"]["price"]) == (1e-08, 0.1)
    assert spot["limits"]["amount"]["min"] == 0.00001
    swap = client.market("BTC/USDT:USDT")
    assert swap["id"] == "BTC-USDT-SWAP"
    assert (swap["swap"], swap["linear"], swap["settle"]) == (True, True, "USDT")
    assert swap["contractSize"] == 0.01
    assert swap["precision"]["amount"] == 0.01
    assert swap["precision"]["price"] == 0.1
    assert swap["limits"]["amount"]["min"] == 0.01
    assert swap["limits"]["leverage"]["max"] == 100
    assert client.currencies["USDT"]["id"] == "USDT"


@pytest.mark.parametrize("case", CASES)
async def test_ticker_ohlcv_balance(replica: OkxReplica, client: Any, case: Case) -> None:
    replica.set_price(case.symbol, "60100", volume="3")
    ticker = await client.fetch_ticker(case.symbol)
    assert (ticker["last"], ticker["bid"], ticker["ask"]) == (60100.0, 60099.9, 60100.1)
    candles = await client.fetch_ohlcv(case.symbol, "1m", limit=5)
    assert candles[-1][4] == 60100.0
    assert candles == sorted(candles)
    balance = await client.fetch_balance()
    assert balance["USDT"]["total"] == float(DEFAULT_BALANCES["USDT"])
    assert balance["BTC"]["free"] == 1.0


# ------------------------------------------------------------------ orders


@pytest.mark.parametrize("case", CASES)
async def test_post_only_rests_and_is_found_by_id_and_client_id(
    replica: OkxReplica, client: Any, case: Case
) -> None:
    order = await client.create_order(
        case.symbol, "limit", "buy", case.amount, 59000, {"postOnly": True, "clientOrderId": "rest1"}
    )
    assert order["id"]
    assert order["clientOrderId"] == "rest1"
    by_id = await client.fetch_order(order["id"], case.symbol)
    by_client = await client.fetch_order(None, case.symbol, {"clientOrderId": "rest1"})
    for fetched in (by_id, by_client):
        assert fetched["id"] == order["id"]
        assert fetched["status"] == "open"
        assert fetched["postOnly"] is True
        assert fetched["amount"] == case.amount
        assert fetched["price"] == 59000
    open_orders = await client.fetch_open_orders(case.symbol)
    assert [o["id"] for o in open_orders] == [order["id"]]
    assert replica.paths_requested("POST", "/api/v5/trade/batch-orders")


@pytest.mark.parametrize("case", CASES)
async def test_post_only_that_would_cross_comes_back_cancelled(
    replica: OkxReplica, client: Any, case: Case
) -> None:
    orders = asyncio.ensure_future(client.watch_orders(case.symbol))
    await eventually(lambda: replica.private_ready(case.market_type, frozenset({"orders"})))
    order = await client.create_order(
        case.symbol, "limit", "buy", case.amount, 60100, {"postOnly": True, "clientOrderId": "cross1"}
    )
    fetched = await client.fetch_order(order["id"], case.symbol)
    assert (fetched["status"], fetched["filled"]) == ("canceled", 0)
    assert fetched["info"]["cancelSource"] == "31"
    (update,) = await asyncio.wait_for(orders, TIMEOUT)
    assert (update["id"], update["status"]) == (order["id"], "canceled")
    assert update["info"]["cancelSource"] == "31"
    assert await client.fetch_open_orders(case.symbol) == []


@pytest.mark.parametrize("case", CASES)
async def test_partial_then_full_fill_via_rest_and_streams(replica: OkxReplica, case: Case) -> None:
    rest = okx_client(replica)
    stream = okx_client(replica)
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
        assert (await rest.fetch_balance())["USDT"]["total"] > 0
        replica.set_price(case.symbol, "59000")
        assert snapshot(await asyncio.wait_for(orders, TIMEOUT), order["id"]) == [("closed", case.amount)]
        (second_fill,) = await asyncio.wait_for(trades, TIMEOUT)
        assert second_fill["amount"] == case.amount / 2
        assert second_fill["id"] != first_fill["id"]
        full = await rest.fetch_order(order["id"], case.symbol)
        assert (full["status"], full["filled"], full["average"]) == ("closed", case.amount, 59000)
        assert full["fee"]["cost"] > 0

        history = await rest.fetch_my_trades(case.symbol)
        assert sorted(t["id"] for t in history) == sorted([first_fill["id"], second_fill["id"]])
        assert all(t["order"] == order["id"] and t["amount"] == case.amount / 2 for t in history)
        if case.market_type is MarketType.LINEAR_PERPETUAL:
            (position,) = await rest.fetch_positions([case.symbol])
            assert (position["side"], position["contracts"], position["entryPrice"]) == ("long", 2, 59000)
    finally:
        await rest.close()
        await stream.close()


def snapshot(orders: list[Any], order_id: str) -> list[tuple[str, float]]:
    """(status, filled) of `order_id` in a watch_orders result, read at once (ccxt
    keeps updating the same cached objects)."""
    return [(o["status"], o["filled"]) for o in orders if o["id"] == order_id]


@pytest.mark.parametrize("case", CASES)
async def test_cancel_and_cancel_all(client: Any, case: Case) -> None:
    ids = []
    for index, price in enumerate((58000, 58100, 58200)):
        placed = await client.create_order(
            case.symbol, "limit", "buy", case.amount, price, {"clientOrderId": f"c{index}"}
        )
        ids.append(placed["id"])
    canceled = await client.cancel_order(ids[0], case.symbol)
    assert canceled["id"] == ids[0]
    assert (await client.fetch_order(ids[0], case.symbol))["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound):
        await client.cancel_order(ids[0], case.symbol)
    # OKX has no cancel-all for spot / swap: ccxt's has['cancelAllOrders'] is False,
    # a client cancels the open orders in one cancel-batch-orders request.
    assert client.has["cancelAllOrders"] is False
    rest = await client.cancel_orders(ids[1:], case.symbol)
    assert sorted(o["id"] for o in rest) == sorted(ids[1:])
    assert await client.fetch_open_orders(case.symbol) == []


@pytest.mark.parametrize("case", CASES)
async def test_duplicate_client_order_id_is_refused(client: Any, case: Case) -> None:
    await client.create_order(case.symbol, "limit", "buy", case.amount, 58000, {"clientOrderId": "dup1"})
    with pytest.raises(ccxt.InvalidOrder, match="51016"):
        await client.create_order(case.symbol, "limit", "buy", case.amount, 58000, {"clientOrderId": "dup1"})
    assert len(await client.fetch_open_orders(case.symbol)) == 1


async def test_lost_ack_leaves_the_order_findable_by_client_id(replica: OkxReplica, client: Any) -> None:
    replica.faults.lose_next_acks()
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await client.create_order("BTC/USDT:USDT", "limit", "buy", 1, 58000, {"clientOrderId": "lost1"})
    found = await client.fetch_order(None, "BTC/USDT:USDT", {"clientOrderId": "lost1"})
    assert found["status"] == "open"


async def test_reduce_only_and_leverage_on_swap(client: Any) -> None:
    with pytest.raises(ccxt.ExchangeError, match="51169"):
        await client.create_order("BTC/USDT:USDT", "limit", "sell", 1, 61000, {"reduceOnly": True})
    response = await client.set_leverage(20, "BTC/USDT:USDT")
    assert response["data"][0]["lever"] == "20"
    with pytest.raises(ccxt.ExchangeError, match="59102"):
        await client.set_leverage(101, "BTC/USDT:USDT")


# ------------------------------------------------------------------ auth & faults


async def test_bad_signature_and_passphrase_are_refused(replica: OkxReplica) -> None:
    wrong_secret = okx_client(replica, secret="00000000000000000000000000000000")
    wrong_passphrase = okx_client(replica, password="nope")
    try:
        with pytest.raises(ccxt.AuthenticationError, match="50113"):
            await wrong_secret.fetch_balance()
        with pytest.raises(ccxt.AuthenticationError, match="50105"):
            await wrong_passphrase.fetch_balance()
    finally:
        await wrong_secret.close()
        await wrong_passphrase.close()

    # WebSocket login: markets loaded with the right key, then the secret goes bad.
    stream = okx_client(replica)
    try:
        await stream.load_markets()
        stream.secret = "00000000000000000000000000000000"
        with pytest.raises(ccxt.AuthenticationError, match="60007"):
            await asyncio.wait_for(stream.watch_orders("BTC/USDT"), TIMEOUT)
        assert not any(s.authenticated for s in replica.sessions("private"))
    finally:
        await stream.close()


async def test_stale_timestamp_is_refused() -> None:
    async with OkxReplica(clock=lambda: time.time_ns() // 1_000_000 + 60_000) as venue:
        exchange = okx_client(venue)
        try:
            with pytest.raises(ccxt.InvalidNonce, match="50102"):
                await exchange.fetch_balance()
        finally:
            await exchange.close()


async def test_demo_trading_needs_the_simulated_trading_header() -> None:
    async with OkxReplica(demo=True) as venue:
        live = okx_client(venue)
        demo = okx_client(venue, demo=True)
        try:
            with pytest.raises(ccxt.AuthenticationError, match="50101"):
                await live.fetch_balance()
            balance = await demo.fetch_balance()
            assert balance["USDT"]["total"] == 100_000
            # ccxt's demo WebSocket URLs (wspap…?brokerId=9999) rewritten to the replica.
            assert (await asyncio.wait_for(demo.watch_ticker("BTC/USDT"), TIMEOUT))["last"] == 60000
            orders = asyncio.ensure_future(demo.watch_orders("BTC/USDT"))
            await eventually(lambda: venue.private_ready(MarketType.SPOT, frozenset({"orders"})))
            placed = await demo.create_order("BTC/USDT", "limit", "buy", 0.002, 58000)
            (update,) = await asyncio.wait_for(orders, TIMEOUT)
            assert update["id"] == placed["id"]
        finally:
            await live.close()
            await demo.close()


async def test_rate_limit_and_server_error(replica: OkxReplica, client: Any) -> None:
    replica.faults.rate_limit_next(path="/api/v5/account/balance")
    with pytest.raises(ccxt.RateLimitExceeded, match="50011"):
        await client.fetch_balance()
    replica.faults.fail_next(path="/api/v5/account/balance")
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await client.fetch_balance()
    assert (await client.fetch_balance())["USDT"]["total"] == 100_000


@pytest.mark.parametrize("abrupt", [False, True], ids=["close-frame", "cut"])
async def test_public_streams_and_reconnect_after_a_drop(
    replica: OkxReplica, client: Any, abrupt: bool
) -> None:
    first = await asyncio.wait_for(client.watch_ticker("BTC/USDT"), TIMEOUT)
    assert first["last"] == 60000
    candles = await asyncio.wait_for(client.watch_ohlcv("BTC/USDT:USDT", "1m"), TIMEOUT)
    assert candles[-1][4] == 60000
    pending = asyncio.ensure_future(client.watch_ticker("BTC/USDT"))
    assert (await client.fetch_ticker("BTC/USDT"))["last"] == 60000
    assert await replica.drop_streams(channel="public", abrupt=abrupt) == 1
    with pytest.raises(ccxt.NetworkError):
        await asyncio.wait_for(pending, TIMEOUT)
    # The next watch reconnects and gets OKX's snapshot, then live updates.
    assert (await asyncio.wait_for(client.watch_ticker("BTC/USDT"), TIMEOUT))["last"] == 60000
    update = asyncio.ensure_future(client.watch_ticker("BTC/USDT"))
    assert (await client.fetch_ticker("BTC/USDT"))["last"] == 60000
    replica.set_price("BTC/USDT", "60500")
    assert (await asyncio.wait_for(update, TIMEOUT))["last"] == 60500


async def test_delayed_ack_arrives_after_the_stream_update(replica: OkxReplica, client: Any) -> None:
    orders = asyncio.ensure_future(client.watch_orders("BTC/USDT:USDT"))
    await eventually(lambda: replica.private_ready(MarketType.LINEAR_PERPETUAL, frozenset({"orders"})))
    release = replica.faults.hold_next_ack()
    placing = asyncio.ensure_future(
        client.create_order("BTC/USDT:USDT", "limit", "buy", 1, 58000, {"clientOrderId": "slow1"})
    )
    (update,) = await asyncio.wait_for(orders, TIMEOUT)
    assert update["clientOrderId"] == "slow1"
    assert not placing.done()
    release.set()
    assert (await asyncio.wait_for(placing, TIMEOUT))["id"] == update["id"]


@pytest.mark.parametrize("case", CASES)
async def test_unknown_client_order_id_is_order_not_found(client: Any, case: Case) -> None:
    with pytest.raises(ccxt.OrderNotFound, match="51603"):
        await client.fetch_order(None, case.symbol, {"clientOrderId": "neverplaced"})


@pytest.mark.parametrize("case", CASES)
async def test_market_order_fills_at_the_touch_as_taker(client: Any, case: Case) -> None:
    side = "sell" if case.market_type is MarketType.SPOT else "buy"
    order = await client.create_order(case.symbol, "market", side, case.amount)
    fetched = await client.fetch_order(order["id"], case.symbol)
    touch = 60000 - 0.1 if side == "sell" else 60000 + 0.1
    assert (fetched["status"], fetched["filled"], fetched["average"]) == ("closed", case.amount, touch)
    (trade,) = await client.fetch_my_trades(case.symbol)
    assert (trade["takerOrMaker"], trade["amount"], trade["price"]) == ("taker", case.amount, touch)
