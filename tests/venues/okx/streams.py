"""OKX v5 WebSocket protocol pieces: endpoints, channel arguments and events.

Endpoints: /ws/v5/public (tickers), /ws/v5/business (candle<bar>), /ws/v5/private
(orders, after {"op": "login"}). A subscription is {"op": "subscribe", "args":
[{"channel": ..., "instId" | "instType": ...}]}; each argument is answered with
{"event": "subscribe", "arg": {...}, "connId": ...} and the data arrives as
{"arg": {...}, "data": [...]}. Text "ping" is answered with text "pong".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opensqt_connector.models import KlineInterval

from . import errors
from .errors import WsError

PUBLIC = "public"
BUSINESS = "business"
PRIVATE = "private"
ENDPOINTS = {"/ws/v5/public": PUBLIC, "/ws/v5/business": BUSINESS, "/ws/v5/private": PRIVATE}
ORDER_INST_TYPES = ("ANY", "SPOT", "SWAP", "MARGIN", "FUTURES", "OPTION")
BARS: dict[str, KlineInterval] = {
    "1s": KlineInterval.S1,
    "1m": KlineInterval.M1,
    "3m": KlineInterval.M3,
    "5m": KlineInterval.M5,
    "15m": KlineInterval.M15,
    "30m": KlineInterval.M30,
    "1H": KlineInterval.H1,
    "4H": KlineInterval.H4,
    "1D": KlineInterval.D1,
    "1Dutc": KlineInterval.D1,
}
BAR_OF = {interval: bar for bar, interval in BARS.items() if bar != "1Dutc"}


@dataclass(frozen=True, slots=True)
class Topic:
    """One subscribed argument: `key` is what pushes are matched against."""

    channel: str
    key: str
    arg: dict[str, Any]


def ticker_key(inst_id: str) -> str:
    return f"tickers|{inst_id}"


def candle_key(interval: KlineInterval, inst_id: str) -> str:
    return f"candle{BAR_OF[interval]}|{inst_id}"


def parse_arg(endpoint: str, arg: object, inst_ids: set[str]) -> Topic:
    """Check one subscription argument against the endpoint's channels."""
    if not isinstance(arg, dict) or not isinstance(arg.get("channel"), str):
        raise errors.WS_INVALID_ARGS
    channel = arg["channel"]
    inst_id = str(arg.get("instId", ""))
    if endpoint == PUBLIC and channel == "tickers":
        if inst_id not in inst_ids:
            raise errors.ws_missing_channel(channel, inst_id)
        return Topic(channel, ticker_key(inst_id), dict(arg))
    if endpoint == BUSINESS and channel.startswith("candle"):
        bar = channel.removeprefix("candle")
        if bar not in BARS or inst_id not in inst_ids:
            raise errors.ws_missing_channel(channel, inst_id)
        return Topic(channel, f"candle{BAR_OF[BARS[bar]]}|{inst_id}", dict(arg))
    if endpoint == PRIVATE and channel == "orders":
        inst_type = str(arg.get("instType", ""))
        if inst_type not in ORDER_INST_TYPES or (inst_id and inst_id not in inst_ids):
            raise errors.WS_INVALID_ARGS
        return Topic(channel, f"orders|{inst_type}|{inst_id}", dict(arg))
    raise errors.ws_missing_channel(channel, inst_id)


def orders_match(key: str, inst_type: str, inst_id: str) -> bool:
    """Whether an "orders" subscription `key` receives the orders of this instrument."""
    return orders_type_match(key, inst_type) and key.split("|")[2] in ("", inst_id)


def orders_type_match(key: str, inst_type: str) -> bool:
    channel, _, rest = key.partition("|")
    return channel == "orders" and rest.split("|")[0] in ("ANY", inst_type)


def error_event(error: WsError, conn_id: str) -> dict[str, Any]:
    return {"event": "error", "code": error.code, "msg": error.msg, "connId": conn_id}


def notice_event(error: WsError, conn_id: str) -> dict[str, Any]:
    return {"event": "notice", "code": error.code, "msg": error.msg, "connId": conn_id}
