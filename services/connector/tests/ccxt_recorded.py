"""Test support for the ccxt adapter tests: recorded venue responses, no network.

`RecordedSession` stands in for the aiohttp session under a real ccxt exchange, so
ccxt's own request building, signing, error handling and parsing all run; only the
socket is replaced. It answers from recorded routes ("METHOD /path") and keeps every
request it was sent, for assertions on what ccxt put on the wire.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yarl
from multidict import CIMultiDict, CIMultiDictProxy

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(venue: str, market: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / venue / f"{market}.json").read_text())
    return data


@dataclass
class Reply:
    """One recorded HTTP answer."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SentRequest:
    method: str
    url: yarl.URL
    headers: dict[str, str]
    body: str | None

    @property
    def path(self) -> str:
        return self.url.path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.url.query_string, keep_blank_values=True))

    @property
    def params(self) -> dict[str, Any]:
        """Query, form or JSON body parameters, merged."""
        merged: dict[str, Any] = dict(self.query)
        if self.body:
            try:
                parsed = json.loads(self.body)
            except ValueError:
                merged.update(parse_qsl(self.body, keep_blank_values=True))
            else:
                if isinstance(parsed, list) and len(parsed) == 1:
                    parsed = parsed[0]  # a batch endpoint carrying one order
                if isinstance(parsed, dict):
                    merged.update(parsed)
        return merged

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


class _Response:
    def __init__(self, reply: Reply) -> None:
        self.status = reply.status
        self.reason = "OK" if reply.status < 400 else "Error"
        self.headers = CIMultiDictProxy(CIMultiDict(reply.headers))
        self._text = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
        self.content = self._text.encode()

    async def text(self, errors: str = "strict") -> str:
        return self._text

    async def __aenter__(self) -> _Response:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class RouteMissing(AssertionError):
    pass


class RecordedSession:
    """An aiohttp.ClientSession look-alike answering from recorded routes."""

    def __init__(self, routes: dict[str, Any] | None = None) -> None:
        self._routes: dict[str, deque[Reply] | Reply] = {}
        self.requests: list[SentRequest] = []
        self.closed = False
        self.headers: dict[str, str] = {}
        self._changed: asyncio.Event | None = None
        self.failures: dict[str, deque[BaseException]] = {}
        for key, value in (routes or {}).items():
            self.set(key, value)

    def set(self, route: str, body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> None:
        """Answer `route` ("GET /path") with `body` from now on."""
        self._routes[route] = Reply(body, status, dict(headers or {}))

    def queue(self, route: str, *replies: Reply) -> None:
        """Answer the next requests to `route` with these replies, in order."""
        self._routes[route] = deque(replies)

    def fail(self, route: str, *errors: BaseException) -> None:
        """Raise these transport errors on the next requests to `route`."""
        self.failures[route] = deque(errors)

    def sent(self, route: str) -> list[SentRequest]:
        method, _, path = route.partition(" ")
        return [r for r in self.requests if r.method == method and r.path == path]

    def _request(self, method: str, url: yarl.URL, **kwargs: Any) -> _Response:
        body = kwargs.get("data")
        text = body.decode() if isinstance(body, bytes) else body
        headers = {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items()}
        request = SentRequest(method.upper(), url, headers, text)
        self.requests.append(request)
        if self._changed is not None:
            self._changed.set()
        key = f"{request.method} {request.path}"
        failures = self.failures.get(key)
        if failures:
            raise failures.popleft()
        reply = self._routes.get(key)
        if isinstance(reply, deque):
            if not reply:
                raise RouteMissing(f"no more recorded replies for {key}")
            return _Response(reply.popleft())
        if reply is None:
            raise RouteMissing(f"no recorded reply for {key} (query {request.query})")
        return _Response(reply)

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `condition` holds, re-checking after every request."""
        self._changed = self._changed or asyncio.Event()
        changed = self._changed

        async def loop() -> None:
            while not condition():
                changed.clear()
                await changed.wait()

        await asyncio.wait_for(loop(), timeout)

    def get(self, url: yarl.URL, **kwargs: Any) -> _Response:
        return self._request("GET", url, **kwargs)

    def post(self, url: yarl.URL, **kwargs: Any) -> _Response:
        return self._request("POST", url, **kwargs)

    def put(self, url: yarl.URL, **kwargs: Any) -> _Response:
        return self._request("PUT", url, **kwargs)

    def delete(self, url: yarl.URL, **kwargs: Any) -> _Response:
        return self._request("DELETE", url, **kwargs)

    async def close(self) -> None:
        self.closed = True


# Account-mode probes ccxt makes on its own before private calls (classic accounts).
ACCOUNT_ROUTES: dict[str, dict[str, Reply]] = {
    "bitget": {
        "GET /api/v3/account/settings": Reply(
            {
                "code": "40084",
                "msg": "You are in Classic Account mode",
                "requestTime": 1718000000000,
                "data": None,
            },
            status=400,
        )
    },
    "gate": {
        "GET /api/v4/account/detail": Reply(
            {"user_id": 10001, "ip_whitelist": [], "currency_pairs": [], "key": {"mode": 1}, "tier": 0}
        )
    },
    "bybit": {
        "GET /v5/user/query-api": Reply(
            {
                "retCode": 0,
                "retMsg": "",
                "result": {
                    "id": "1",
                    "readOnly": 0,
                    "unified": 0,
                    "uta": 1,
                    "userID": 1,
                    "vipLevel": "No VIP",
                },
                "retExtInfo": {},
                "time": 1718000000000,
            }
        ),
        "GET /v5/account/info": Reply(
            {
                "retCode": 0,
                "retMsg": "success",
                "result": {"marginMode": "REGULAR_MARGIN", "unifiedMarginStatus": 5, "dcpStatus": "OFF"},
                "retExtInfo": {},
                "time": 1718000000000,
            }
        ),
    },
}

API_KEY = "AKtest0123456789abcdef"
API_SECRET = "SKtest-very-secret-0123456789"
API_PASSPHRASE = "PPtest-passphrase-42"


@dataclass(frozen=True)
class FakeCredentials:
    api_key: Any
    api_secret: Any
    api_passphrase: Any


def credentials() -> FakeCredentials:
    from pydantic import SecretStr

    return FakeCredentials(SecretStr(API_KEY), SecretStr(API_SECRET), SecretStr(API_PASSPHRASE))


def recorded_session(venue: str, market: str) -> tuple[RecordedSession, dict[str, Any]]:
    fixture = load_fixture(venue, market)
    session = RecordedSession(fixture["markets"])
    for route, reply in ACCOUNT_ROUTES.get(venue, {}).items():
        session.set(route, reply.body, status=reply.status, headers=reply.headers)
    return session, fixture


# How each venue answers the one-way position-mode check of a perpetual account.
POSITION_MODE_ROUTES: dict[str, tuple[str, Reply]] = {
    "binance": ("GET /fapi/v1/positionSide/dual", Reply({"dualSidePosition": False})),
    "okx": (
        "GET /api/v5/account/config",
        Reply(
            {
                "code": "0",
                "msg": "",
                "data": [{"acctLv": "2", "posMode": "net_mode", "uid": "1", "mainUid": "1"}],
            }
        ),
    ),
    "bybit": (
        "POST /v5/position/switch-mode",
        Reply(
            {
                "retCode": 110025,
                "retMsg": "Position mode is not modified",
                "result": {},
                "time": 1718000000000,
            }
        ),
    ),
    "gate": (
        "POST /api/v4/futures/usdt/dual_mode",
        Reply({"user": 10001, "currency": "USDT", "total": "100", "in_dual_mode": False}),
    ),
    "bitget": (
        "POST /api/v2/mix/account/set-position-mode",
        Reply(
            {
                "code": "00000",
                "msg": "success",
                "requestTime": 1718000000000,
                "data": {"posMode": "one_way_mode"},
            }
        ),
    ),
}

SYMBOLS = {"spot": "BTC/USDT", "perp": "BTC/USDT:USDT"}


async def prepared_venue(
    venue: str, market: str, *, with_credentials: bool = True, symbols: list[str] | None = None, **kwargs: Any
) -> tuple[Any, RecordedSession, dict[str, Any]]:
    """A CcxtVenue over recorded responses with its markets loaded (no streams)."""
    from opensqt_common.enums import MarketType, Venue
    from opensqt_connector.ccxt_venue.adapter import CcxtVenue

    session, fixture = recorded_session(venue, market)
    if market == "perp":
        route, reply = POSITION_MODE_ROUTES[venue]
        session.set(route, reply.body, status=reply.status)
    if with_credentials:  # the credentials check of `prepare` reads the open orders
        open_orders = fixture["requests"]["open_orders"]
        session.set(open_orders["route"], open_orders["response"])
    market_type = MarketType.SPOT if market == "spot" else MarketType.LINEAR_PERPETUAL
    adapter = CcxtVenue(
        Venue(venue),
        market_type,
        symbols or [fixture["symbol"]],
        credentials() if with_credentials else None,
        http_session=session,
        rate_limit=False,
        **kwargs,
    )
    adapter.exchange.timeout_on_exit = 0
    await adapter.prepare()
    return adapter, session, fixture
