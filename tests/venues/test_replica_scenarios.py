"""The same scenarios for every venue × market, through real ccxt / ccxt.pro code
against the loopback replicas (the `case`, `replica` and `exchange` fixtures).

Exception classes are asserted exactly (`type(error) is ...`): they are what ccxt
4.5.90 makes of each venue's own error with the URL overrides, recorded in `cases.py`.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from ccxt.base import errors as ccxt_errors

from opensqt_common.enums import MarketType
from opensqt_common.testing import eventually

from .cases import CASES, VenueCase
from .framework.server import StreamKind, VenueReplica
from .streams import Watcher

POST_ONLY_REJECT = "EC_PostOnlyWillTakeLiquidity"


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def _level(case: VenueCase, replica: VenueReplica) -> Decimal:
    return replica.core.ticker(case.symbol).last - case.rest_offset


async def _rest(case: VenueCase, exchange: Any, replica: VenueReplica, client_id: str) -> dict[str, Any]:
    """A post-only buy resting `rest_offset` below the price."""
    order: dict[str, Any] = await exchange.create_order(
        case.symbol,
        "limit",
        "buy",
        str(case.quantity),
        str(_level(case, replica)),
        {"postOnly": True, "clientOrderId": client_id},
    )
    return order


async def _private_watchers(
    case: VenueCase, exchange: Any, replica: VenueReplica, *streams: StreamKind
) -> dict[StreamKind, Watcher]:
    watchers: dict[StreamKind, Watcher] = {}
    for stream in streams:
        if stream == "orders":
            watchers[stream] = Watcher(lambda: exchange.watch_orders(case.symbol))
        else:
            watchers[stream] = Watcher(lambda: exchange.watch_my_trades(case.symbol))
    await eventually(
        lambda: replica.private_ready(case.market, frozenset(streams)),
        message=f"{case.id} private streams up",
    )
    return watchers


async def _stop(*watchers: Watcher) -> None:
    for watcher in watchers:
        await watcher.stop()


async def test_load_markets_precision_and_limits(
    case: VenueCase, replica: VenueReplica, exchange: Any
) -> None:
    markets = await exchange.load_markets()
    info = replica.core.market(case.symbol)
    market = markets[case.symbol]
    assert market["id"] == info.venue_symbol
    assert _d(market["precision"]["price"]) == info.tick_size
    assert _d(market["precision"]["amount"]) == info.step_size
    assert _d(market["limits"]["amount"]["min"]) == info.min_quantity
    assert _d(market["limits"]["cost"]["min"]) == info.min_notional
    if case.perp:
        assert (market["swap"], market["linear"], market["settle"]) == (True, True, info.settle)
        assert _d(market["contractSize"]) == info.contract_size
    else:
        assert market["spot"] is True
    wanted = {s for s in replica.core.markets if (":" in s) == case.perp}
    assert set(markets) == wanted  # only the case's market type is loaded


async def test_ticker_klines_and_balance(case: VenueCase, replica: VenueReplica, exchange: Any) -> None:
    ticker = await exchange.fetch_ticker(case.symbol)
    assert _d(ticker["last"]) == replica.core.ticker(case.symbol).last
    new_price = replica.core.ticker(case.symbol).last + 50
    replica.set_price(case.symbol, new_price, volume="2.5")
    assert _d((await exchange.fetch_ticker(case.symbol))["last"]) == new_price
    candles = await exchange.fetch_ohlcv(case.symbol, "1m", limit=5)
    assert len(candles) == 5
    assert all(row[0] % 60_000 == 0 for row in candles)
    assert [row[0] for row in candles] == sorted(row[0] for row in candles)
    assert _d(candles[-1][4]) == new_price
    assert _d(candles[-1][5]) == Decimal("2.5")
    balance = await exchange.fetch_balance()
    assert _d(balance["USDT"]["total"]) == Decimal(100_000)
    assert _d(balance["USDT"]["free"]) == Decimal(100_000)


async def test_post_only_order_rests(case: VenueCase, replica: VenueReplica, exchange: Any) -> None:
    created = await _rest(case, exchange, replica, "rest1")
    order = await exchange.fetch_order(created["id"], case.symbol, {"acknowledged": True})
    assert (order["status"], order["clientOrderId"], order["postOnly"]) == ("open", "rest1", True)
    assert _d(order["price"]) == _level(case, replica)
    assert _d(order["amount"]) == case.quantity
    assert _d(order["filled"]) == 0
    open_orders = await exchange.fetch_open_orders(case.symbol)
    assert [o["id"] for o in open_orders] == [created["id"]]
    assert [o.venue_id for o in replica.core.open_orders(case.symbol)] == [created["id"]]


async def test_post_only_that_would_cross(case: VenueCase, replica: VenueReplica, exchange: Any) -> None:
    above = replica.core.ticker(case.symbol).last + case.rest_offset
    params = {"postOnly": True, "clientOrderId": "cross1"}
    if case.post_only_cross_error is not None:
        with pytest.raises(ccxt_errors.InvalidOrder) as raised:
            await exchange.create_order(case.symbol, "limit", "buy", str(case.quantity), str(above), params)
        assert raised.type is case.post_only_cross_error
        assert replica.core.orders(case.symbol) == []  # rejected before it reached the book
        return
    watcher = (await _private_watchers(case, exchange, replica, "orders"))["orders"]
    created = await exchange.create_order(case.symbol, "limit", "buy", str(case.quantity), str(above), params)
    assert created["id"]  # accepted with an order id ...
    order = await case.by_client_id(exchange, case.symbol, "cross1")
    assert order["status"] == "canceled"  # ... and cancelled at once
    assert order["info"]["rejectReason"] == POST_ONLY_REJECT
    await watcher.until(
        lambda items: any(o["id"] == created["id"] and o["status"] == "canceled" for o in items)
    )
    await _stop(watcher)
    assert replica.core.open_orders(case.symbol) == []


async def test_partial_then_full_fill(case: VenueCase, replica: VenueReplica, exchange: Any) -> None:
    watchers = await _private_watchers(case, exchange, replica, "orders", "trades")
    created = await _rest(case, exchange, replica, "fill1")
    level = _level(case, replica)
    replica.set_price(case.symbol, level, max_fill=case.partial)
    order = await exchange.fetch_order(created["id"], case.symbol, {"acknowledged": True})
    assert (order["status"], _d(order["filled"]), _d(order["remaining"])) == (
        "open",
        case.partial,
        case.quantity - case.partial,
    )
    await watchers["orders"].until(
        lambda items: any(o["id"] == created["id"] and _d(o["filled"]) == case.partial for o in items),
        what="partial fill on watch_orders",
    )
    replica.set_price(case.symbol, level)
    order = await exchange.fetch_order(created["id"], case.symbol, {"acknowledged": True})
    assert (order["status"], _d(order["filled"])) == ("closed", case.quantity)
    await watchers["orders"].until(
        lambda items: any(o["id"] == created["id"] and o["status"] == "closed" for o in items),
        what="full fill on watch_orders",
    )
    await watchers["trades"].until(lambda items: len({t["id"] for t in items}) == 2, what="two trades")
    streamed = {t["id"]: t for t in watchers["trades"].items}
    await _stop(*watchers.values())
    assert sorted(_d(t["amount"]) for t in streamed.values()) == sorted(
        [case.partial, case.quantity - case.partial]
    )
    assert all(t["order"] == created["id"] and _d(t["price"]) == level for t in streamed.values())
    assert all(t["takerOrMaker"] == "maker" for t in streamed.values())
    rest_trades = await exchange.fetch_my_trades(case.symbol)
    assert {t["id"] for t in rest_trades} == set(streamed)
    fee_asset = case.symbol.split("/")[0] if not case.perp else "USDT"
    assert all(t["fee"]["currency"] == fee_asset for t in rest_trades)


async def test_cancel_and_cancel_all(case: VenueCase, replica: VenueReplica, exchange: Any) -> None:
    first = await _rest(case, exchange, replica, "cxl1")
    canceled = await exchange.cancel_order(first["id"], case.symbol)
    assert canceled["id"] == first["id"]
    order = await exchange.fetch_order(first["id"], case.symbol, {"acknowledged": True})
    assert order["status"] == "canceled"
    with pytest.raises(ccxt_errors.OrderNotFound):
        await exchange.cancel_order(first["id"], case.symbol)
    ids = {(await _rest(case, exchange, replica, f"cxl{n}"))["id"] for n in (2, 3)}
    assert {o["id"] for o in await exchange.fetch_open_orders(case.symbol)} == ids
    await exchange.cancel_all_orders(case.symbol)
    assert await exchange.fetch_open_orders(case.symbol) == []
    assert replica.core.open_orders(case.symbol) == []


async def test_fetch_by_client_order_id(case: VenueCase, replica: VenueReplica, exchange: Any) -> None:
    created = await _rest(case, exchange, replica, "cid-lookup_1")
    order = await case.by_client_id(exchange, case.symbol, "cid-lookup_1")
    assert (order["id"], order["clientOrderId"], order["status"]) == (created["id"], "cid-lookup_1", "open")
    await exchange.cancel_order(created["id"], case.symbol)
    order = await case.by_client_id(exchange, case.symbol, "cid-lookup_1")
    assert order["status"] == "canceled"  # still found once closed
    with pytest.raises(ccxt_errors.OrderNotFound):
        await case.by_client_id(exchange, case.symbol, "never-placed")


async def test_duplicate_client_order_id(case: VenueCase, replica: VenueReplica, exchange: Any) -> None:
    await _rest(case, exchange, replica, "dup1")
    with pytest.raises(ccxt_errors.ExchangeError) as raised:
        await _rest(case, exchange, replica, "dup1")
    assert raised.type is case.duplicate_error
    assert len(replica.core.orders(case.symbol)) == 1


@pytest.mark.parametrize("credential", ["secret", "key"])
async def test_bad_credentials_are_authentication_errors(
    case: VenueCase, replica: VenueReplica, exchange: Any, credential: str
) -> None:
    key = replica.credentials.api_key
    wrong_key = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    client = case.ccxt_exchange(
        replica,
        api_key=wrong_key if credential == "key" else key,
        secret="0" * len(replica.credentials.api_secret) if credential == "secret" else "",
    )
    await exchange.load_markets()
    client.set_markets(exchange.markets, exchange.currencies)  # only private calls remain
    before = len(replica.requests)
    try:
        with pytest.raises(ccxt_errors.AuthenticationError):
            await client.fetch_balance()
        with pytest.raises(ccxt_errors.AuthenticationError):
            await client.create_order(case.symbol, "limit", "buy", str(case.quantity), "50000")
    finally:
        await client.close()
    refused = replica.requests[before:]
    assert refused
    assert all(r.status in (200, 400, 401) for r in refused)
    assert any(r.status in (400, 401) for r in refused)
    assert replica.core.orders(case.symbol) == []


async def test_rate_limit(case: VenueCase, replica: VenueReplica, exchange: Any) -> None:
    await exchange.fetch_balance()  # bybit resolves the account mode once, with two concurrent calls
    replica.faults.rate_limit_next(retry_after_s=3)
    with pytest.raises(ccxt_errors.NetworkError) as raised:
        await exchange.fetch_balance()
    assert raised.type is case.rate_limit_error
    headers = exchange.last_response_headers
    if case.venue == "binance":
        assert headers["Retry-After"] == "3"
        assert raised.value.args[0].startswith("binance")
        assert "-1003" in raised.value.args[0]
    else:
        assert headers["X-Bapi-Limit-Status"] == "0"
        assert int(headers["X-Bapi-Limit-Reset-Timestamp"]) >= replica.core.now_ms() + 2_000
    assert _d((await exchange.fetch_balance())["USDT"]["total"]) == Decimal(100_000)  # one-shot fault


@pytest.mark.parametrize("gateway", [False, True], ids=["venue-body", "gateway-page"])
async def test_server_error(case: VenueCase, replica: VenueReplica, exchange: Any, gateway: bool) -> None:
    await exchange.load_markets()
    replica.faults.fail_next(status=503, gateway=gateway)
    with pytest.raises(ccxt_errors.BaseError) as raised:
        await exchange.fetch_open_orders(case.symbol)
    assert raised.type is (ccxt_errors.ExchangeNotAvailable if gateway else case.server_error)
    assert await exchange.fetch_open_orders(case.symbol) == []


async def test_public_streams(case: VenueCase, replica: VenueReplica, exchange: Any) -> None:
    tickers = Watcher(lambda: exchange.watch_ticker(case.symbol))
    candles = Watcher(lambda: exchange.watch_ohlcv(case.symbol, "1m"))
    await eventually(
        lambda: replica.public_ready(case.symbol, "ticker") and replica.public_ready(case.symbol, "kline")
    )
    price = replica.core.ticker(case.symbol).last + 123
    replica.set_price(case.symbol, price, volume="0.75")
    await tickers.until(lambda items: any(_d(t["last"]) == price for t in items), what="ticker update")
    await candles.until(lambda items: any(_d(c[4]) == price for c in items), what="kline update")
    candle = next(c for c in reversed(candles.items) if _d(c[4]) == price)
    await _stop(tickers, candles)
    assert candle[0] % 60_000 == 0
    assert _d(candle[2]) >= price


@pytest.mark.parametrize("abrupt", [True, False], ids=["cut", "close-frame"])
async def test_stream_drop_then_reconnect(
    case: VenueCase, replica: VenueReplica, exchange: Any, abrupt: bool
) -> None:
    watcher = (await _private_watchers(case, exchange, replica, "orders"))["orders"]
    dropped = await replica.drop_streams(abrupt=abrupt)
    assert dropped >= 1
    await eventually(lambda: any(isinstance(e, ccxt_errors.NetworkError) for e in watcher.errors))
    await eventually(lambda: replica.private_ready(case.market, frozenset({"orders"})), message="reconnected")
    created = await _rest(case, exchange, replica, "after-drop")
    await watcher.until(
        lambda items: any(o["id"] == created["id"] for o in items), what="update after reconnect"
    )
    await _stop(watcher)


async def test_lost_ack_then_retry_finds_the_order(
    case: VenueCase, replica: VenueReplica, exchange: Any
) -> None:
    await exchange.load_markets()
    replica.faults.lose_next_acks()
    with pytest.raises(ccxt_errors.BaseError) as raised:
        await _rest(case, exchange, replica, "lost1")
    assert raised.type is case.server_error
    found = await case.by_client_id(exchange, case.symbol, "lost1")
    assert found["status"] == "open"
    with pytest.raises(ccxt_errors.ExchangeError) as duplicate:
        await _rest(case, exchange, replica, "lost1")  # a blind retry is refused, not doubled
    assert duplicate.type is case.duplicate_error
    assert [o.venue_id for o in replica.core.orders(case.symbol)] == [found["id"]]


async def test_delayed_ack_arrives_after_the_stream_update(
    case: VenueCase, replica: VenueReplica, exchange: Any
) -> None:
    watcher = (await _private_watchers(case, exchange, replica, "orders"))["orders"]
    release = replica.faults.hold_next_ack()
    placing = asyncio.create_task(_rest(case, exchange, replica, "slow1"))
    await watcher.until(lambda items: any(o["clientOrderId"] == "slow1" for o in items), what="stream first")
    assert not placing.done()
    release.set()
    created = await placing
    assert any(o["id"] == created["id"] for o in watcher.items)
    await _stop(watcher)


@pytest.mark.parametrize("case", [c for c in CASES if c.perp], ids=lambda c: c.id)
async def test_positions_leverage_and_reduce_only(
    case: VenueCase, replica: VenueReplica, exchange: Any
) -> None:
    await exchange.set_leverage(5, case.symbol)
    assert replica.core.leverage(case.symbol) == 5
    with pytest.raises(ccxt_errors.ExchangeError) as raised:
        await exchange.create_order(
            case.symbol,
            "limit",
            "sell",
            str(case.quantity),
            "70000",
            {"reduceOnly": True, "clientOrderId": "ro1"},
        )
    assert raised.type is case.reduce_only_error
    level = _level(case, replica)
    created = await _rest(case, exchange, replica, "pos1")
    replica.set_price(case.symbol, level)
    positions = [p for p in await exchange.fetch_positions([case.symbol]) if p["contracts"]]
    assert len(positions) == 1
    position = positions[0]
    assert (position["symbol"], position["side"]) == (case.symbol, "long")
    assert _d(position["contracts"]) == case.quantity
    assert _d(position["entryPrice"]) == level
    assert created["id"] in {o.venue_id for o in replica.core.orders(case.symbol)}
    closing = await exchange.create_order(
        case.symbol, "limit", "sell", str(case.quantity), str(level + 500), {"reduceOnly": True}
    )
    assert closing["id"]
    assert replica.core.market(case.symbol).market_type is MarketType.LINEAR_PERPETUAL
