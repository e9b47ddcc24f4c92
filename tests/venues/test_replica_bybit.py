"""Bybit replica specifics: raw v5 error bodies and headers, the WebSocket login,
post-only rejection on the private stream, orderLinkId uniqueness and ccxt's handling
of leverage that is already set.

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

import aiohttp
import pytest
from ccxt.base import errors as ccxt_errors

from opensqt_common.testing import eventually

from .bybit.replica import BybitReplica
from .cases import CASES_BY_ID


@pytest.fixture
async def bybit() -> AsyncIterator[BybitReplica]:
    async with BybitReplica() as replica:
        yield replica
    assert not replica.handler_errors


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _headers(key: str, secret: str, payload: str, *, timestamp: int | None = None) -> dict[str, str]:
    ts = str(timestamp if timestamp is not None else _now_ms())
    signature = hmac.new(secret.encode(), f"{ts}{key}5000{payload}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-BAPI-API-KEY": key,
        "X-BAPI-TIMESTAMP": ts,
        "X-BAPI-RECV-WINDOW": "5000",
        "X-BAPI-SIGN": signature,
    }


async def _post(
    http: aiohttp.ClientSession, replica: BybitReplica, path: str, body: dict[str, Any]
) -> tuple[int, Any, dict[str, str]]:
    payload = json.dumps(body)
    headers = _headers(replica.credentials.api_key, replica.credentials.api_secret, payload)
    headers["Content-Type"] = "application/json"
    async with http.post(f"{replica.rest_url}{path}", data=payload, headers=headers) as response:
        return response.status, await response.json(), dict(response.headers)


@pytest.mark.parametrize(
    ("variant", "status", "ret_code"),
    [("unknown-key", 401, 10003), ("bad-sign", 401, 10004), ("stale", 200, 10002), ("good", 200, 0)],
)
async def test_signed_get_errors(
    bybit: BybitReplica, http: aiohttp.ClientSession, variant: str, status: int, ret_code: int
) -> None:
    key, secret = bybit.credentials.api_key, bybit.credentials.api_secret
    query = "accountType=UNIFIED"
    headers = _headers(key, secret, query, timestamp=_now_ms() - 30_000 if variant == "stale" else None)
    if variant == "unknown-key":
        headers["X-BAPI-API-KEY"] = "NotTheKey0000000"
    if variant == "bad-sign":
        headers["X-BAPI-SIGN"] = "0" * 64
    async with http.get(f"{bybit.rest_url}/v5/account/wallet-balance?{query}", headers=headers) as response:
        body = await response.json()
        assert (response.status, body["retCode"]) == (status, ret_code)
        assert set(body) == {"retCode", "retMsg", "result", "retExtInfo", "time"}
    if variant == "bad-sign":
        assert body["retMsg"].startswith(f"error sign! origin_string[{headers['X-BAPI-TIMESTAMP']}{key}5000")
    if variant == "good":
        assert body["result"]["list"][0]["accountType"] == "UNIFIED"
        assert response.headers["X-Bapi-Limit"] == "10"


async def test_rate_limit_answer(bybit: BybitReplica, http: aiohttp.ClientSession) -> None:
    bybit.faults.rate_limit_next(retry_after_s=2, path="/v5/order/create")
    status, body, headers = await _post(http, bybit, "/v5/order/create", {"category": "linear"})
    assert (status, body["retCode"], body["retMsg"]) == (200, 10006, "Too many visits!")
    assert headers["X-Bapi-Limit-Status"] == "0"
    assert int(headers["X-Bapi-Limit-Reset-Timestamp"]) > _now_ms() + 1_000


async def test_order_link_id_is_unique_for_ever(bybit: BybitReplica, http: aiohttp.ClientSession) -> None:
    order = {
        "category": "linear",
        "symbol": "BTCUSDT",
        "side": "Buy",
        "orderType": "Limit",
        "qty": "0.01",
        "price": "59000",
        "timeInForce": "PostOnly",
        "orderLinkId": "once-1",
    }
    status, body, _ = await _post(http, bybit, "/v5/order/create", order)
    assert (status, body["retCode"], body["result"]["orderLinkId"]) == (200, 0, "once-1")
    cancel = {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "once-1"}
    assert (await _post(http, bybit, "/v5/order/cancel", cancel))[1]["retCode"] == 0
    assert (await _post(http, bybit, "/v5/order/cancel", cancel))[1]["retCode"] == 110001
    status, body, _ = await _post(http, bybit, "/v5/order/create", order)
    assert (body["retCode"], body["retMsg"]) == (110072, "OrderLinkedID is duplicate")
    spot = order | {"category": "spot", "orderLinkId": "spot-1", "qty": "0.001", "price": "59000.00"}
    assert (await _post(http, bybit, "/v5/order/create", spot))[1]["retCode"] == 0
    assert (await _post(http, bybit, "/v5/order/create", spot))[1]["retCode"] == 170141
    bad = order | {"orderLinkId": "no spaces allowed"}
    assert (await _post(http, bybit, "/v5/order/create", bad))[1]["retCode"] == 10001


async def test_post_only_cross_is_pushed_cancelled(bybit: BybitReplica, http: aiohttp.ClientSession) -> None:
    key, secret = bybit.credentials.api_key, bybit.credentials.api_secret
    expires = str(_now_ms() + 10_000)
    signature = hmac.new(secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()
    async with http.ws_connect(f"{bybit.ws_url}/v5/private") as ws:
        await ws.send_json({"op": "subscribe", "req_id": "1", "args": ["order"]})
        refused = await ws.receive_json(timeout=5)
        assert (refused["success"], refused["ret_msg"]) == (False, "Request not authorized")
        await ws.send_json({"op": "auth", "args": [key, expires, signature]})
        assert (await ws.receive_json(timeout=5))["success"] is True
        await ws.send_json({"op": "subscribe", "req_id": "2", "args": ["order"]})
        assert (await ws.receive_json(timeout=5))["success"] is True
        cross = {
            "category": "linear",
            "symbol": "BTCUSDT",
            "side": "Buy",
            "orderType": "Limit",
            "qty": "0.01",
            "price": "61000",
            "timeInForce": "PostOnly",
            "orderLinkId": "po-x",
        }
        status, body, _ = await _post(http, bybit, "/v5/order/create", cross)
        assert (status, body["retCode"]) == (200, 0)
        pushed = await ws.receive_json(timeout=5)
    assert pushed["topic"] == "order"
    entry = pushed["data"][0]
    assert (entry["orderId"], entry["orderStatus"], entry["rejectReason"], entry["category"]) == (
        body["result"]["orderId"],
        "Cancelled",
        "EC_PostOnlyWillTakeLiquidity",
        "linear",
    )


async def test_ws_login_with_a_bad_secret_is_an_authentication_error() -> None:
    case = CASES_BY_ID["bybit-perp"]
    async with BybitReplica() as replica:
        good = case.ccxt_exchange(replica)
        bad = case.ccxt_exchange(replica, secret="y" * 36)
        try:
            await good.load_markets()
            bad.set_markets(good.markets)
            bad.options["enableUnifiedMargin"] = False  # what a REST call would have learnt
            bad.options["enableUnifiedAccount"] = True
            with pytest.raises(ccxt_errors.AuthenticationError):
                await bad.watch_orders(case.symbol)
        finally:
            await good.close()
            await bad.close()
        assert not any(s.authenticated for s in replica.sessions("private"))


async def test_leverage_already_set_is_a_ccxt_bad_request() -> None:
    """Setting the leverage in force answers 110043, which ccxt raises as BadRequest:
    the adapter must read it as success."""
    case = CASES_BY_ID["bybit-perp"]
    async with BybitReplica() as replica:
        client = case.ccxt_exchange(replica)
        try:
            await client.set_leverage(7, case.symbol)
            with pytest.raises(ccxt_errors.BadRequest, match="110043"):
                await client.set_leverage(7, case.symbol)
            assert replica.core.leverage(case.symbol) == 7
        finally:
            await client.close()


async def test_position_mode_switch(bybit: BybitReplica, http: aiohttp.ClientSession) -> None:
    """The account starts one-way: switching to one-way again answers 110025 (ccxt:
    NoChange, which the adapter reads as success); in hedge mode an order with
    positionIdx 0 is refused with 10001."""
    case = CASES_BY_ID["bybit-perp"]
    client = case.ccxt_exchange(bybit)
    try:
        with pytest.raises(ccxt_errors.NoChange, match="110025"):
            await client.set_position_mode(False, case.symbol)
        await client.set_position_mode(True, case.symbol)
        with pytest.raises(ccxt_errors.BadRequest, match="position idx not match position mode"):
            await client.create_order(case.symbol, "limit", "buy", "0.01", "50000", {"positionIdx": 0})
        await client.set_position_mode(False, case.symbol)
        order = await client.create_order(case.symbol, "limit", "buy", "0.01", "50000", {"positionIdx": 0})
        assert order["id"]
    finally:
        await client.close()
    status, body, _ = await _post(http, bybit, "/v5/position/switch-mode", {"category": "linear", "mode": 1})
    assert (status, body["retCode"]) == (200, 10001)


async def test_public_ticker_snapshot_then_deltas(bybit: BybitReplica, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(f"{bybit.ws_url}/v5/public/linear") as ws:
        await ws.send_json({"op": "subscribe", "req_id": "9", "args": ["tickers.BTCUSDT", "kline.1.BTCUSDT"]})
        assert (await ws.receive_json(timeout=5))["success"] is True
        snapshot = await ws.receive_json(timeout=5)
        kline = await ws.receive_json(timeout=5)
        await eventually(lambda: bybit.public_ready("BTC/USDT:USDT", "ticker"))
        bybit.set_price("BTC/USDT:USDT", "60100.5", volume="3")
        delta = await ws.receive_json(timeout=5)
    assert (snapshot["topic"], snapshot["type"], snapshot["data"]["lastPrice"]) == (
        "tickers.BTCUSDT",
        "snapshot",
        "60000",
    )
    assert kline["topic"] == "kline.1.BTCUSDT"
    assert kline["data"][0]["confirm"] is False
    assert (delta["type"], delta["data"]["lastPrice"], delta["data"]["markPrice"]) == (
        "delta",
        "60100.5",
        "60100.5",
    )
