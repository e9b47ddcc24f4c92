"""Gate v4 WebSocket protocol pieces: endpoints, channels and events.

Endpoints: /ws/v4/ (spot) and /v4/ws/usdt (USDT futures). A request is {"time": s,
"id": n, "channel": "spot.tickers", "event": "subscribe", "payload": [...]}; private
channels add {"auth": {...}} per request and futures private channels take the user
id as the first payload item. Answers echo channel / event / payload with
"result": {"status": "success"} or an "error" object; pushes are {"time", "time_ms",
"channel", "event": "update", "result": ...}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opensqt_connector.models import KlineInterval

from . import errors
from .errors import WsError

SPOT = "spot"
FUTURES = "futures"
ENDPOINTS = {"/ws/v4/": SPOT, "/v4/ws/usdt": FUTURES}
PUBLIC_CHANNELS = ("tickers", "candlesticks")
PRIVATE_CHANNELS = ("orders", "usertrades")
INTERVALS: dict[str, KlineInterval] = {
    "1m": KlineInterval.M1,
    "5m": KlineInterval.M5,
    "15m": KlineInterval.M15,
    "30m": KlineInterval.M30,
    "1h": KlineInterval.H1,
    "4h": KlineInterval.H4,
    "1d": KlineInterval.D1,
}
INTERVAL_NAME = {interval: name for name, interval in INTERVALS.items()}
ALL = "!all"


@dataclass(frozen=True, slots=True)
class Subscription:
    """A subscribed request: the keys pushes are matched against."""

    channel: str  # e.g. "spot.orders"
    keys: tuple[str, ...]
    private: bool


def key(channel: str, market_id: str, interval: str = "") -> str:
    return f"{channel}|{interval}|{market_id}"


def parse(endpoint: str, message: dict[str, Any], market_ids: set[str], uid: int) -> Subscription:
    """Check a subscribe / unsubscribe request; private auth is checked by the caller."""
    channel = message.get("channel")
    payload = message.get("payload")
    if not isinstance(channel, str) or "." not in channel:
        raise errors.ws_invalid("invalid channel")
    prefix, _, name = channel.partition(".")
    if prefix != endpoint or name not in PUBLIC_CHANNELS + PRIVATE_CHANNELS:
        raise errors.ws_invalid(f"unknown channel {channel}")
    if not isinstance(payload, list) or not payload or not all(isinstance(p, str) for p in payload):
        raise errors.ws_invalid("invalid payload")
    items = list(payload)
    private = name in PRIVATE_CHANNELS
    if name == "candlesticks":
        if len(items) != 2 or items[0] not in INTERVALS or items[1] not in market_ids:
            raise errors.ws_invalid(f"invalid argument: {items}")
        return Subscription(channel, (key(channel, items[1], items[0]),), private)
    if private and endpoint == FUTURES:
        if items[0] != str(uid):
            raise errors.ws_invalid(f"user id {items[0]} does not match the API key")
        items = items[1:]
    if not items:
        raise errors.ws_invalid("invalid payload")
    for item in items:
        if item not in market_ids and not (private and item == ALL):
            label = "currency pair" if endpoint == SPOT else "contract"
            raise errors.ws_invalid(f"unknown {label} {item}")
    return Subscription(channel, tuple(key(channel, item) for item in items), private)


def answer(
    message: dict[str, Any], conn_id: str, now_ms: int, error: WsError | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "time": now_ms // 1000,
        "time_ms": now_ms,
        "id": message.get("id"),
        "conn_id": conn_id,
        "trace_id": conn_id,
        "channel": message.get("channel"),
        "event": message.get("event"),
        "payload": message.get("payload"),
        "requestId": conn_id,
    }
    if error is None:
        return body | {"result": {"status": "success"}}
    return body | {"error": {"code": error.code, "message": error.message}, "result": {"status": "fail"}}


def update(channel: str, result: Any, now_ms: int) -> dict[str, Any]:
    return {
        "time": now_ms // 1000,
        "time_ms": now_ms,
        "channel": channel,
        "event": "update",
        "result": result,
    }
