"""Building the ccxt exchange: --api-url / --ws-url overrides and sandbox switches.

A loopback replica of a venue is reached through the overrides, so every REST request
and every WebSocket connection ccxt makes must land on the given origin, on the
venue's own paths."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt.pro
import pytest
from ccxt_recorded import prepared_venue  # type: ignore[import-not-found]

from opensqt_common.enums import MarketType, Venue
from opensqt_connector.ccxt_venue.exchange import (
    ExchangeConfigError,
    all_urls,
    build_exchange,
    override_urls,
    rebase_url,
    url_at,
)
from opensqt_connector.ccxt_venue.tables import VENUES, SandboxKind, VenueRow, venue_row

REST, WS = "http://127.0.0.1:8080", "ws://127.0.0.1:9090"
CASES = [
    (row, market_type, sandbox)
    for row in VENUES.values()
    for market_type in MarketType
    for sandbox in (False, True)
    if not sandbox or market_type in row.sandbox.markets
]
CASE_IDS = [f"{r.venue.value}-{m.value}{'-sandbox' if s else ''}" for r, m, s in CASES]


@pytest.mark.parametrize(("row", "market_type", "sandbox"), CASES, ids=CASE_IDS)
def test_every_url_is_rebased_onto_the_overrides(
    row: VenueRow, market_type: MarketType, sandbox: bool
) -> None:
    plain = build_exchange(row, market_type, sandbox=sandbox)
    moved = build_exchange(row, market_type, sandbox=sandbox, api_url=REST, ws_url=WS)
    urls = all_urls(moved.urls["api"])
    assert urls
    for url in urls:
        assert url.startswith((REST + "/", WS + "/")) or url in (REST, WS), url
    market = row.market(market_type)
    for key in (*market.rest_url_keys, *market.ws_url_keys):
        try:
            original = url_at(plain.urls["api"], key)
        except KeyError:
            # Binance's demo environment has no kind-routed futures streams.
            assert sandbox, key
            assert key.startswith("ws.option"), key
            continue
        target = REST if original.startswith("http") else WS
        assert url_at(moved.urls["api"], key) == rebase_url(original, target), key


def test_rebase_keeps_the_venue_path_and_prefixes_the_override_path() -> None:
    assert rebase_url("https://fapi.binance.com/fapi/v1", REST) == REST + "/fapi/v1"
    assert rebase_url("wss://api.gateio.ws/ws/v4/", WS) == WS + "/ws/v4/"
    assert rebase_url("https://api.{hostname}", REST) == REST
    assert rebase_url("https://api.binance.com/api/v3", "http://h:1/binance/") == "http://h:1/binance/api/v3"
    tree = {"a": "https://x.com/p", "b": {"c": "wss://y.com/q", "d": ["https://z.com/r"]}, "e": 5}
    assert override_urls(tree, REST, None) == {
        "a": REST + "/p",
        "b": {"c": "wss://y.com/q", "d": [REST + "/r"]},
        "e": 5,
    }
    assert tree["a"] == "https://x.com/p"  # pure: the input is untouched


@pytest.mark.parametrize(
    ("api_url", "ws_url"),
    [
        ("ftp://127.0.0.1", None),
        ("http://", None),
        ("http://h:1/?x=1", None),
        (None, "http://h:1"),
        ("ws://h", None),
    ],
)
def test_malformed_overrides_are_refused(api_url: str | None, ws_url: str | None) -> None:
    with pytest.raises(ExchangeConfigError):
        build_exchange(venue_row(Venue.OKX), MarketType.SPOT, api_url=api_url, ws_url=ws_url)


def test_a_missing_sandbox_is_refused() -> None:
    with pytest.raises(ExchangeConfigError, match="no sandbox"):
        build_exchange(venue_row(Venue.GATE), MarketType.SPOT, sandbox=True)


@pytest.mark.parametrize(
    ("venue", "market_type", "host"),
    [
        (Venue.BINANCE, MarketType.LINEAR_PERPETUAL, "demo-fapi.binance.com"),
        (Venue.BINANCE, MarketType.SPOT, "demo-api.binance.com"),
        (Venue.BYBIT, MarketType.SPOT, "api-testnet.bybit.com"),
        (Venue.GATE, MarketType.LINEAR_PERPETUAL, "api-testnet.gateapi.io"),
    ],
)
def test_url_sandboxes_switch_hosts(venue: Venue, market_type: MarketType, host: str) -> None:
    exchange = build_exchange(venue_row(venue), market_type, sandbox=True)
    row = venue_row(venue)
    url = url_at(exchange.urls["api"], row.market(market_type).rest_url_keys[0])
    assert host in exchange.implode_hostname(url)


@pytest.mark.parametrize("venue", [Venue.OKX, Venue.BITGET])
def test_header_sandboxes_keep_production_rest_hosts_and_send_the_header(venue: Venue) -> None:
    row = venue_row(venue)
    assert row.sandbox.kind is SandboxKind.HEADER
    assert row.sandbox.header is not None
    exchange = build_exchange(row, MarketType.LINEAR_PERPETUAL, sandbox=True)
    plain = build_exchange(row, MarketType.LINEAR_PERPETUAL)
    key = row.market(MarketType.LINEAR_PERPETUAL).rest_url_keys[0]
    assert url_at(exchange.urls["api"], key) == url_at(plain.urls["api"], key)
    name, value = row.sandbox.header
    assert exchange.headers[name] == value


@pytest.mark.parametrize("venue", ["okx", "bitget"])
async def test_header_sandbox_is_on_every_request_through_the_override(venue: str) -> None:
    adapter, session, _ = await prepared_venue(venue, "perp", sandbox=True, api_url=REST, ws_url=WS)
    try:
        name, value = venue_row(Venue(venue)).sandbox.header or ("", "")
        assert session.requests
        for request in session.requests:
            assert request.url.host == "127.0.0.1"
            assert request.url.port == 8080
            assert request.header(name) == value, request.path
    finally:
        await adapter.close()


class Captured(Exception):
    pass


LISTEN_KEY_ROUTES = {
    ("binance", "perp"): ("POST /fapi/v1/listenKey", {"listenKey": "pqia91ma19a5s61cv6a81va65sdf19v8a65a1"}),
}

COMBOS = [(v, m) for v in ("binance", "bitget", "gate", "okx", "bybit") for m in ("spot", "perp")]


@pytest.mark.parametrize(("venue", "market"), COMBOS, ids=[f"{v}-{m}" for v, m in COMBOS])
async def test_every_stream_connects_to_the_ws_override(venue: str, market: str) -> None:
    adapter, session, fixture = await prepared_venue(venue, market, api_url=REST, ws_url=WS)
    if (venue, market) in LISTEN_KEY_ROUTES:
        session.set(*LISTEN_KEY_ROUTES[(venue, market)])
    if venue == "gate":
        session.set("GET /api/v4/account/detail", {"user_id": 10001, "key": {"mode": 1}})
    exchange = adapter.exchange
    original = exchange.client
    seen: list[str] = []

    def client(url: str) -> Any:
        if "://" not in url:  # ccxt's internal keys (e.g. Binance's authentication flights)
            return original(url)
        seen.append(url)
        raise Captured(url)

    exchange.client = client
    symbol = fixture["symbol"]
    watches = {
        "tickers": lambda: exchange.watch_tickers([symbol]),
        "bids/asks": lambda: exchange.watch_bids_asks([symbol]),
        "candles": lambda: exchange.watch_ohlcv(symbol, "1m"),
        "orders": lambda: exchange.watch_orders(symbol),
        "fills": lambda: exchange.watch_my_trades(symbol),
    }
    try:
        if venue == "gate":
            await adapter.prepare()  # loads the account uid ccxt needs for private channels
        for name, watch in watches.items():
            with pytest.raises(Captured):
                await asyncio.wait_for(watch(), 5)
            assert seen[-1].startswith(WS + "/"), (name, seen[-1])
        for request in session.requests:
            assert (request.url.host, request.url.port) == ("127.0.0.1", 8080), request.url
    finally:
        exchange.client = original
        await adapter.close()


def test_ccxt_keeps_the_classes_the_tables_name() -> None:
    for row in VENUES.values():
        for market_type in MarketType:
            assert hasattr(ccxt.pro, row.market(market_type).ccxt_class)
