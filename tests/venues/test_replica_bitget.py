"""The Bitget replica driven by real ccxt / ccxt.pro code (signing, request building,
parsing) on loopback, for spot (BTC/USDT) and USDT-FUTURES (BTC/USDT:USDT).

ccxt classes Bitget's answers become (recorded by these tests):
- post_only that would cross: no exception; the order comes back cancelled;
- duplicate clientOid: ExchangeError (40786 is not in ccxt's table);
- bad signature: AuthenticationError (40009; WebSocket login 30015);
- wrong demo/live environment: ExchangeError (40099 is not in ccxt's table);
- 429: DDoSProtection (code "429"); a 5xx with Bitget's JSON body: ExchangeError
  (40015), a 5xx gateway page: ExchangeNotAvailable;
- reduce-only with nothing to reduce: ExchangeError (22002);
- a stream closed by the venue (close 1001): NetworkError, and the next watch
  reconnects.
ccxt quirk: on a fill event watch_orders reports `filled` as that fill's size (Bitget's
baseVolume); the cumulative fill is info["accBaseVolume"].
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

from .bitget.client import bitget_client
from .bitget.replica import DEFAULT_BALANCES, BitgetReplica

TIMEOUT = 5.0


@dataclass(frozen=True)
class Case:
    symbol: str
    amount: float  # base units on both markets
    half: str
    market_type: MarketType


SPOT = Case("BTC/USDT", 0.002, "0.001", MarketType.SPOT)
SWAP = Case("BTC/USDT:USDT", 0.002, "0.001", MarketType.LINEAR_PERPETUAL)
CASES = [pytest.param(SPOT, id="spot"), pytest.param(SWAP, id="swap")]


async def eventually(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def snapshot(orders: list[Any], order_id: str) -> list[tuple[str, str]]:
    """(status, cumulative filled) of `order_id` in a watch_orders result, read at once."""
    return [(o["status"], o["info"]["accBaseVolume"]) for o in orders if o["id"] == order_id]


@pytest.fixture
async def replica() -> AsyncIterator[BitgetReplica]:
    async with BitgetReplica() as venue:
        yield venue
    assert not venue.handler_errors
    unserved = [(r.method, r.path) for r in venue.requests if r.status == 404]
    assert not unserved, f"the replica does not serve {unserved}"


@pytest.fixture
async def client(replica: BitgetReplica) -> AsyncIterator[Any]:
    exchange = bitget_client(replica)
    await exchange.load_markets()
    yield exchange
    await exchange.close()


async def test_load_markets_precision_and_limits(client: Any) -> None:
    assert client.options["uta"] is False
    spot = client.market("BTC/USDT")
    assert (spot["id"], spot["spot"]) == ("BTCUSDT", True)
    assert (spot["precision"]["amount"], spot["precision"]["price"]) == (1e-06, 0.01)
    assert spot["limits"]["cost"]["min"] == 1
    swap = client.market("BTC/USDT:USDT")
    assert (swap["id"], swap["swap"], swap["linear"], swap["settle"]) == ("BTCUSDT", True, True, "USDT")
    assert swap["contractSize"] == 1
    assert (swap["precision"]["amount"], swap["precision"]["price"]) == (0.0001, 0.1)
    assert swap["limits"]["amount"]["min"] == 0.0001
    assert swap["limits"]["cost"]["min"] == 5
    assert swap["limits"]["leverage"]["max"] == 125
    assert client.market("ETH/USDT:USDT")["precision"]["price"] == 0.01


@pytest.mark.parametrize("case", CASES)
async def test_ticker_ohlcv_balance(replica: BitgetReplica, client: Any, case: Case) -> None:
    replica.set_price(case.symbol, "60100", volume="3")
    ticker = await client.fetch_ticker(case.symbol)
    tick = 0.01 if case.market_type is MarketType.SPOT else 0.1
    assert (ticker["last"], ticker["bid"], ticker["ask"]) == (60100.0, 60100 - tick, 60100 + tick)
    candles = await client.fetch_ohlcv(case.symbol, "1m", limit=5)
    assert candles[-1][4] == 60100.0
    assert candles == sorted(candles)
    balance = await client.fetch_balance({"type": "spot" if case.market_type is MarketType.SPOT else "swap"})
    assert balance["USDT"]["total"] == float(DEFAULT_BALANCES["USDT"])


@pytest.mark.parametrize("case", CASES)
async def test_post_only_rests_and_is_found_by_id_and_client_id(client: Any, case: Case) -> None:
    order = await client.create_order(
        case.symbol, "limit", "buy", case.amount, 59000, {"postOnly": True, "clientOrderId": "rest1"}
    )
    assert order["clientOrderId"] == "rest1"
    by_id = await client.fetch_order(order["id"], case.symbol)
    by_client = await client.fetch_order(None, case.symbol, {"clientOrderId": "rest1"})
    for fetched in (by_id, by_client):
        assert fetched["id"] == order["id"]
        assert (fetched["status"], fetched["amount"], fetched["price"]) == ("open", case.amount, 59000)
    (listed,) = await client.fetch_open_orders(case.symbol)
    assert (listed["id"], listed["price"], listed["amount"]) == (order["id"], 59000, case.amount)
    if case.market_type is MarketType.LINEAR_PERPETUAL:
        assert (by_id["postOnly"], listed["postOnly"]) == (True, True)


@pytest.mark.parametrize("case", CASES)
async def test_post_only_that_would_cross_comes_back_cancelled(
    replica: BitgetReplica, client: Any, case: Case
) -> None:
    orders = asyncio.ensure_future(client.watch_orders(case.symbol))
    await eventually(lambda: replica.private_ready(case.market_type, frozenset({"orders"})))
    order = await client.create_order(case.symbol, "limit", "buy", case.amount, 60100, {"postOnly": True})
    fetched = await client.fetch_order(order["id"], case.symbol)
    assert (fetched["status"], fetched["filled"]) == ("canceled", 0)
    (update,) = await asyncio.wait_for(orders, TIMEOUT)
    assert (update["id"], update["status"]) == (order["id"], "canceled")
    assert await client.fetch_open_orders(case.symbol) == []


@pytest.mark.parametrize("case", CASES)
async def test_partial_then_full_fill_via_rest_and_streams(replica: BitgetReplica, case: Case) -> None:
    rest = bitget_client(replica)
    stream = bitget_client(replica)
    try:
        await rest.load_markets()
        await stream.load_markets()
        orders = asyncio.ensure_future(stream.watch_orders(case.symbol))
        trades = asyncio.ensure_future(stream.watch_my_trades(case.symbol))
        await eventually(lambda: replica.private_ready(case.market_type, frozenset({"orders", "trades"})))
        order = await rest.create_order(
            case.symbol, "limit", "buy", case.amount, 59000, {"clientOrderId": "pf1"}
        )
        assert snapshot(await asyncio.wait_for(orders, TIMEOUT), order["id"]) == [("open", "0")]

        orders = asyncio.ensure_future(stream.watch_orders(case.symbol))
        assert (await rest.fetch_order(order["id"], case.symbol))["filled"] == 0
        replica.set_price(case.symbol, "59000", max_fill=case.half)
        (update,) = await asyncio.wait_for(orders, TIMEOUT)
        assert (update["status"], update["info"]["accBaseVolume"], update["filled"]) == (
            "open",
            case.half,
            0.001,
        )
        (first_fill,) = await asyncio.wait_for(trades, TIMEOUT)
        assert (first_fill["order"], first_fill["amount"], first_fill["price"]) == (order["id"], 0.001, 59000)
        assert first_fill["takerOrMaker"] == "maker"
        partial = await rest.fetch_order(order["id"], case.symbol)
        assert (partial["status"], partial["filled"], partial["remaining"]) == ("open", 0.001, 0.001)

        orders = asyncio.ensure_future(stream.watch_orders(case.symbol))
        trades = asyncio.ensure_future(stream.watch_my_trades(case.symbol))
        assert (await rest.fetch_order(order["id"], case.symbol))["status"] == "open"
        replica.set_price(case.symbol, "59000")
        (update,) = await asyncio.wait_for(orders, TIMEOUT)
        # ccxt reports this fill's size as `filled`; the cumulative size is accBaseVolume.
        assert (update["status"], update["info"]["accBaseVolume"], update["filled"]) == (
            "closed",
            "0.002",
            0.001,
        )
        (second_fill,) = await asyncio.wait_for(trades, TIMEOUT)
        assert second_fill["amount"] == 0.001
        assert second_fill["id"] != first_fill["id"]
        full = await rest.fetch_order(order["id"], case.symbol)
        assert (full["status"], full["filled"], full["average"]) == ("closed", case.amount, 59000)
        assert full["fee"]["cost"] > 0

        history = await rest.fetch_my_trades(case.symbol)
        assert sorted(t["id"] for t in history) == sorted([first_fill["id"], second_fill["id"]])
        assert all(t["order"] == order["id"] and t["amount"] == 0.001 for t in history)
        if case.market_type is MarketType.LINEAR_PERPETUAL:
            (position,) = await rest.fetch_positions([case.symbol])
            assert (position["side"], position["contracts"], position["entryPrice"]) == ("long", 0.002, 59000)
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
    assert canceled["id"] == ids[0]
    assert (await client.fetch_order(ids[0], case.symbol))["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound):
        await client.cancel_order(ids[0], case.symbol)
    await client.cancel_all_orders(case.symbol)
    assert await client.fetch_open_orders(case.symbol) == []
    for order_id in ids[1:]:
        assert (await client.fetch_order(order_id, case.symbol))["status"] == "canceled"


@pytest.mark.parametrize("case", CASES)
async def test_duplicate_client_order_id_is_refused(client: Any, case: Case) -> None:
    await client.create_order(case.symbol, "limit", "buy", case.amount, 58000, {"clientOrderId": "dup1"})
    with pytest.raises(ccxt.ExchangeError, match="40786") as raised:
        await client.create_order(case.symbol, "limit", "buy", case.amount, 58000, {"clientOrderId": "dup1"})
    assert type(raised.value) is ccxt.ExchangeError
    assert len(await client.fetch_open_orders(case.symbol)) == 1


async def test_lost_ack_leaves_the_order_findable_by_client_id(replica: BitgetReplica, client: Any) -> None:
    replica.faults.lose_next_acks()
    with pytest.raises(ccxt.ExchangeError):
        await client.create_order("BTC/USDT:USDT", "limit", "buy", 0.002, 58000, {"clientOrderId": "lost1"})
    found = await client.fetch_order(None, "BTC/USDT:USDT", {"clientOrderId": "lost1"})
    assert found["status"] == "open"


async def test_reduce_only_and_leverage_on_swap(client: Any) -> None:
    with pytest.raises(ccxt.ExchangeError, match="22002"):
        await client.create_order("BTC/USDT:USDT", "limit", "sell", 0.002, 61000, {"reduceOnly": True})
    response = await client.set_leverage(20, "BTC/USDT:USDT")
    assert response["data"]["crossMarginLeverage"] == "20"
    with pytest.raises(ccxt.ExchangeError, match="40797"):
        await client.set_leverage(126, "BTC/USDT:USDT")


async def test_position_mode(replica: BitgetReplica, client: Any) -> None:
    """set-position-mode answers the mode set; in hedge mode this replica refuses
    futures orders (not modelled)."""
    response = await client.set_position_mode(False, "BTC/USDT:USDT")
    assert response["data"]["posMode"] == "one_way_mode"
    await client.set_position_mode(True, "BTC/USDT:USDT")
    assert replica.hedge_mode is True
    with pytest.raises(ccxt.ExchangeError, match="not modelled"):
        await client.create_order("BTC/USDT:USDT", "limit", "buy", 0.002, 58000)
    await client.set_position_mode(False, "BTC/USDT:USDT")
    assert replica.hedge_mode is False


async def test_a_failed_client_id_lookup_crashes_ccxt_unless_an_id_is_given(client: Any) -> None:
    """Spot answers an unknown clientOid with an empty list, and ccxt's bitget
    fetch_order concatenates the order id into its "not found" message: with id None
    it raises TypeError; the adapter passes "" instead. Futures answer 40768."""
    with pytest.raises(TypeError):
        await client.fetch_order(None, "BTC/USDT", {"clientOrderId": "never1"})
    with pytest.raises(ccxt.OrderNotFound):
        await client.fetch_order("", "BTC/USDT", {"clientOrderId": "never1"})
    with pytest.raises(ccxt.OrderNotFound, match="40768"):
        await client.fetch_order(None, "BTC/USDT:USDT", {"clientOrderId": "never1"})


async def test_bad_signature_is_refused_on_rest_and_stream(replica: BitgetReplica) -> None:
    stream = bitget_client(replica)
    try:
        await stream.load_markets()
        stream.secret = "0" * 64
        with pytest.raises(ccxt.AuthenticationError, match="40009"):
            await stream.fetch_balance()
        with pytest.raises(ccxt.AuthenticationError, match="30015"):
            await asyncio.wait_for(stream.watch_orders("BTC/USDT"), TIMEOUT)
        assert not any(s.authenticated for s in replica.sessions("private"))
    finally:
        await stream.close()
    wrong_passphrase = bitget_client(replica, password="nope")
    try:
        with pytest.raises(ccxt.AuthenticationError, match="40012"):
            await wrong_passphrase.fetch_balance()
    finally:
        await wrong_passphrase.close()


async def test_demo_trading_needs_the_paptrading_header() -> None:
    async with BitgetReplica(demo=True) as venue:
        live = bitget_client(venue)
        demo = bitget_client(venue, demo=True)
        try:
            with pytest.raises(ccxt.ExchangeError, match="40099"):
                await live.fetch_balance()
            await demo.load_markets()
            assert (await demo.fetch_balance())["USDT"]["total"] == 100_000
            orders = asyncio.ensure_future(demo.watch_orders("BTC/USDT:USDT"))
            await eventually(lambda: venue.private_ready(MarketType.LINEAR_PERPETUAL, frozenset({"orders"})))
            order = await demo.create_order("BTC/USDT:USDT", "limit", "buy", 0.002, 58000)
            assert (await demo.fetch_order(order["id"], "BTC/USDT:USDT"))["status"] == "open"
            (update,) = await asyncio.wait_for(orders, TIMEOUT)
            assert update["id"] == order["id"]
        finally:
            await live.close()
            await demo.close()


async def test_rate_limit_and_server_errors(replica: BitgetReplica, client: Any) -> None:
    replica.faults.rate_limit_next(path="/api/v2/spot/account/assets")
    with pytest.raises(ccxt.DDoSProtection, match='"code":"429"'):
        await client.fetch_balance()
    replica.faults.fail_next(path="/api/v2/spot/account/assets")
    with pytest.raises(ccxt.ExchangeError, match="40015") as raised:
        await client.fetch_balance()
    assert not isinstance(raised.value, ccxt.ExchangeNotAvailable)
    replica.faults.fail_next(path="/api/v2/spot/account/assets", gateway=True)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await client.fetch_balance()
    assert (await client.fetch_balance())["USDT"]["total"] == 100_000


@pytest.mark.parametrize("case", CASES)
async def test_public_streams_and_reconnect_after_a_drop(
    replica: BitgetReplica, client: Any, case: Case
) -> None:
    first = await asyncio.wait_for(client.watch_ticker(case.symbol), TIMEOUT)
    assert first["last"] == 60000
    candles = await asyncio.wait_for(client.watch_ohlcv(case.symbol, "1m"), TIMEOUT)
    assert candles[-1][4] == 60000
    pending = asyncio.ensure_future(client.watch_ticker(case.symbol))
    assert (await client.fetch_ticker(case.symbol))["last"] == 60000
    assert await replica.drop_streams(channel="public") == 1
    with pytest.raises(ccxt.NetworkError):
        await asyncio.wait_for(pending, TIMEOUT)
    snapshot_after_reconnect = await asyncio.wait_for(client.watch_ticker(case.symbol), TIMEOUT)
    assert snapshot_after_reconnect["last"] == 60000
    update = asyncio.ensure_future(client.watch_ticker(case.symbol))
    assert (await client.fetch_ticker(case.symbol))["last"] == 60000
    replica.set_price(case.symbol, "60300")
    assert (await asyncio.wait_for(update, TIMEOUT))["last"] == 60300


async def test_stale_timestamp_is_refused() -> None:
    async with BitgetReplica(clock=lambda: time.time_ns() // 1_000_000 + 60_000) as venue:
        exchange = bitget_client(venue)
        try:
            with pytest.raises(ccxt.InvalidNonce, match="40008"):
                await exchange.fetch_balance()
        finally:
            await exchange.close()


async def test_delayed_ack_arrives_after_the_stream_update(replica: BitgetReplica, client: Any) -> None:
    orders = asyncio.ensure_future(client.watch_orders("BTC/USDT:USDT"))
    await eventually(lambda: replica.private_ready(MarketType.LINEAR_PERPETUAL, frozenset({"orders"})))
    release = replica.faults.hold_next_ack()
    placing = asyncio.ensure_future(
        client.create_order("BTC/USDT:USDT", "limit", "buy", 0.002, 58000, {"clientOrderId": "slow1"})
    )
    (update,) = await asyncio.wait_for(orders, TIMEOUT)
    assert update["clientOrderId"] == "slow1"
    assert not placing.done()
    release.set()
    assert (await asyncio.wait_for(placing, TIMEOUT))["id"] == update["id"]


@pytest.mark.parametrize("case", CASES)
async def test_unknown_client_order_id_is_order_not_found(client: Any, case: Case) -> None:
    with pytest.raises(ccxt.OrderNotFound):
        await client.fetch_order("", case.symbol, {"clientOrderId": "never-placed"})
    if case.market_type is MarketType.SPOT:
        # Spot answers an empty list; ccxt then builds its OrderNotFound message with the
        # order id and fails on None: a client must pass "" as the id.
        with pytest.raises(TypeError):
            await client.fetch_order(None, case.symbol, {"clientOrderId": "never-placed"})


@pytest.mark.parametrize("case", CASES)
async def test_market_order_fills_at_the_touch_as_taker(client: Any, case: Case) -> None:
    side = "sell" if case.market_type is MarketType.SPOT else "buy"
    order = await client.create_order(case.symbol, "market", side, case.amount)
    fetched = await client.fetch_order(order["id"], case.symbol)
    touch = 60000 - 0.1 if side == "sell" else 60000 + 0.1
    if case.market_type is MarketType.SPOT:
        touch = 60000 - 0.01  # Bitget's spot tick is 0.01
    assert (fetched["status"], fetched["filled"], fetched["average"]) == ("closed", case.amount, touch)
    (trade,) = await client.fetch_my_trades(case.symbol)
    assert (trade["takerOrMaker"], trade["amount"], trade["price"]) == ("taker", case.amount, touch)
