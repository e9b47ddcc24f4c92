"""Binance replica specifics: raw status codes and bodies of its errors, the listen-key
and WebSocket API flows, stream routing, and how ccxt's host-based error tables
behave with the URL overrides.

Requests here are signed by the test itself (hashlib), independently of the
replica's own auth module.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from ccxt.base import errors as ccxt_errors

from opensqt_common.testing import eventually

from .binance.replica import BinanceReplica
from .cases import CASES_BY_ID
from .streams import Watcher


@pytest.fixture
async def binance() -> AsyncIterator[BinanceReplica]:
    async with BinanceReplica() as replica:
        yield replica
    assert not replica.handler_errors


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _signed_query(secret: str, params: dict[str, str], *, timestamp: int | None = None) -> str:
    query = urlencode({**params, "timestamp": str(timestamp or time.time_ns() // 1_000_000)})
    signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={signature}"


async def _call(
    http: aiohttp.ClientSession, method: str, url: str, *, key: str | None, body: str | None = None
) -> tuple[int, Any, dict[str, str]]:
    headers = {"X-MBX-APIKEY": key} if key is not None else {}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    async with http.request(method, url, data=body, headers=headers) as response:
        return response.status, json.loads(await response.text()), dict(response.headers)


@pytest.mark.parametrize(
    ("variant", "status", "code"),
    [
        ("no-key", 401, -2014),
        ("malformed-key", 401, -2014),
        ("unknown-key", 401, -2015),
        ("bad-signature", 400, -1022),
        ("stale-timestamp", 400, -1021),
        ("no-signature", 400, -1102),
        ("good", 200, None),
    ],
)
async def test_signed_endpoint_errors(
    binance: BinanceReplica, http: aiohttp.ClientSession, variant: str, status: int, code: int | None
) -> None:
    key, secret = binance.credentials.api_key, binance.credentials.api_secret
    query = _signed_query(secret, {"recvWindow": "5000"})
    sent_key: str | None = key
    if variant == "no-key":
        sent_key = None
    elif variant == "malformed-key":
        sent_key = "short"
    elif variant == "unknown-key":
        sent_key = "A" * 64
    elif variant == "bad-signature":
        query = query[:-4] + "0000"
    elif variant == "stale-timestamp":
        query = _signed_query(secret, {"recvWindow": "5000"}, timestamp=time.time_ns() // 1_000_000 - 60_000)
    elif variant == "no-signature":
        query = query.rsplit("&signature=", 1)[0]
    got_status, body, headers = await _call(
        http, "GET", f"{binance.rest_url}/fapi/v3/account?{query}", key=sent_key
    )
    assert got_status == status
    if code is None:
        assert body["assets"][0]["asset"] == "USDT"
    else:
        assert body["code"] == code
        assert isinstance(body["msg"], str)
    assert "X-MBX-USED-WEIGHT-1M" in headers


async def test_post_only_and_duplicate_raw_errors(
    binance: BinanceReplica, http: aiohttp.ClientSession
) -> None:
    key, secret = binance.credentials.api_key, binance.credentials.api_secret
    cross = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTX",
        "quantity": "0.01",
        "price": "61000",
        "newClientOrderId": "gtx1",
    }
    status, body, _ = await _call(
        http, "POST", f"{binance.rest_url}/fapi/v1/order", key=key, body=_signed_query(secret, cross)
    )
    assert (status, body["code"]) == (400, -5022)
    assert body["msg"].startswith("Due to the order could not be executed as maker")
    spot = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT_MAKER",
        "quantity": "0.01",
        "price": "61000",
        "newClientOrderId": "lm1",
    }
    status, body, _ = await _call(
        http, "POST", f"{binance.rest_url}/api/v3/order", key=key, body=_signed_query(secret, spot)
    )
    assert (status, body) == (400, {"code": -2010, "msg": "Order would immediately match and take."})
    rest = cross | {"price": "59000", "newClientOrderId": "dup1"}
    status, body, _ = await _call(
        http, "POST", f"{binance.rest_url}/fapi/v1/order", key=key, body=_signed_query(secret, rest)
    )
    assert (status, body["status"], body["timeInForce"]) == (200, "NEW", "GTX")
    status, body, _ = await _call(
        http, "POST", f"{binance.rest_url}/fapi/v1/order", key=key, body=_signed_query(secret, rest)
    )
    assert (status, body) == (400, {"code": -4116, "msg": "ClientOrderId is duplicated."})
    bad_id = rest | {"newClientOrderId": "has space"}
    status, body, _ = await _call(
        http, "POST", f"{binance.rest_url}/fapi/v1/order", key=key, body=_signed_query(secret, bad_id)
    )
    assert (status, body["code"]) == (400, -4015)


async def test_rate_limit_answer(binance: BinanceReplica, http: aiohttp.ClientSession) -> None:
    binance.faults.rate_limit_next(retry_after_s=7, path="/api/v3/ticker")
    status, body, headers = await _call(
        http, "GET", f"{binance.rest_url}/api/v3/ticker/24hr?symbol=BTCUSDT", key=None
    )
    assert (status, body["code"], headers["Retry-After"]) == (429, -1003, "7")
    status, body, _ = await _call(
        http, "GET", f"{binance.rest_url}/api/v3/ticker/24hr?symbol=BTCUSDT", key=None
    )
    assert (status, body["lastPrice"]) == (200, "60000")


async def test_ccxt_error_tables_are_chosen_by_host() -> None:
    """ccxt picks binance's per-market error table from the URL's host; behind URL
    overrides only the top-level table applies. Recorded: the connector's adapter must
    classify -4116 / -2022 / -5022 itself (or merge the market table) to match prod."""
    import ccxt.async_support as ccxt

    exchange = ccxt.binanceusdm()
    try:
        prod = exchange.get_exceptions_by_url("https://fapi.binance.com/fapi/v1/order", "exact")
        loopback = exchange.get_exceptions_by_url("http://127.0.0.1:1/fapi/v1/order", "exact")
        assert prod["-5022"] is ccxt_errors.OrderNotFillable
        assert prod["-4116"] is ccxt_errors.InvalidOrder
        assert prod["-2022"] is ccxt_errors.InvalidOrder
        assert loopback == {}
        assert exchange.exceptions["exact"]["-5022"] is ccxt_errors.InvalidOrder
        assert "-4116" not in exchange.exceptions["exact"]
    finally:
        await exchange.close()


async def test_listen_key_flow(binance: BinanceReplica, http: aiohttp.ClientSession) -> None:
    key = binance.credentials.api_key
    url = f"{binance.rest_url}/fapi/v1/listenKey"
    first = (await _call(http, "POST", url, key=key))[1]["listenKey"]
    assert (await _call(http, "POST", url, key=key))[1]["listenKey"] == first  # same key while alive
    assert (await _call(http, "PUT", url, key=key))[0] == 200
    assert (await _call(http, "POST", url, key=None))[1]["code"] == -2014
    async with http.ws_connect(f"{binance.ws_url}/private/ws?listenKey={first}") as ws:
        await eventually(lambda: len(binance.sessions("linear-private")) == 1)
        assert (await _call(http, "DELETE", url, key=key))[0] == 200
        message = await ws.receive()
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    status, body, _ = await _call(http, "PUT", url, key=key)
    assert (status, body["code"]) == (400, -1125)
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await http.ws_connect(f"{binance.ws_url}/private/ws?listenKey={first}")


@pytest.mark.parametrize(
    ("path", "stream", "accepted"),
    [
        ("/ws/0", "btcusdt@kline_1m", True),
        ("/ws/0", "btcusdt@nonsense", False),
        ("/ws/0", "xyzusdt@ticker", False),
        ("/public/ws/0", "btcusdt@bookTicker", True),
        ("/public/ws/0", "btcusdt@kline_1m", False),
        ("/market/ws/0", "btcusdt@kline_1m", True),
        ("/market/ws/0", "btcusdt@bookTicker", False),
    ],
)
async def test_stream_routing(
    binance: BinanceReplica, http: aiohttp.ClientSession, path: str, stream: str, accepted: bool
) -> None:
    async with http.ws_connect(f"{binance.ws_url}{path}") as ws:
        await ws.send_json({"method": "SUBSCRIBE", "params": [stream], "id": 7})
        reply = await ws.receive_json(timeout=5)
    if accepted:
        assert reply == {"result": None, "id": 7}
    else:
        assert reply["id"] == 7
        assert reply["error"]["code"] == 2


async def test_spot_ws_api_rejects_a_bad_signature() -> None:
    """The WS API answers -1022; ccxt 4.5.90 then trips over its own cleanup (it deletes
    the 'spot' subscription twice) and raises KeyError('spot') with the
    AuthenticationError as its context. Recorded so the adapter checks credentials over
    REST first and treats that KeyError as an auth failure."""
    case = CASES_BY_ID["binance-spot"]
    async with BinanceReplica() as replica:
        client = case.ccxt_exchange(replica, secret="x" * 64)
        client.options["fetchCurrencies"] = False  # keep load_markets public: the WS login is under test
        client.options["fetchMargins"] = False
        try:
            await client.load_markets()
            with pytest.raises(KeyError) as raised:
                await client.watch_orders(case.symbol)
            assert isinstance(raised.value.__context__, ccxt_errors.AuthenticationError)
            assert "-1022" in str(raised.value.__context__)
        finally:
            await client.close()
        assert not any("subscription_id" in s.state for s in replica.sessions("spot-api"))


async def test_spot_ws_api_server_shutdown_event() -> None:
    case = CASES_BY_ID["binance-spot"]
    async with BinanceReplica() as replica:
        client = case.ccxt_exchange(replica)
        try:
            watcher = Watcher(lambda: client.watch_orders(case.symbol))
            await eventually(lambda: replica.private_ready(case.market, frozenset({"orders"})))
            session = replica.sessions("spot-api")[0]
            await replica.drop_streams(channel="spot-api")
            assert session.sent[-1]["event"]["e"] == "serverShutdown"
            await eventually(lambda: any(isinstance(e, ccxt_errors.NetworkError) for e in watcher.errors))
            await watcher.stop()
        finally:
            await client.close()
