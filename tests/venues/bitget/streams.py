"""Bitget v2 WebSocket protocol pieces: endpoints, channel arguments and events.

Endpoints: /v2/ws/public (ticker, candle<bar>) and /v2/ws/private (orders, fill, after
{"op": "login"}). A subscription is {"op": "subscribe", "args": [{"instType": "SPOT" |
"USDT-FUTURES", "channel": ..., "instId": ...}]}; each argument is answered with
{"event": "subscribe", "arg": {...}} and data arrives as {"action": "snapshot" |
"update", "arg": {...}, "data": [...], "ts": ms}. Text "ping" is answered with "pong".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opensqt_connector.models import KlineInterval

from . import errors
from .errors import WsError
from .markets import PRODUCT_TYPE

PUBLIC = "public"
PRIVATE = "private"
ENDPOINTS = {"/v2/ws/public": PUBLIC, "/v2/ws/private": PRIVATE}
INST_TYPES = ("SPOT", PRODUCT_TYPE)
BARS: dict[str, KlineInterval] = {
    "1m": KlineInterval.M1,
    "3m": KlineInterval.M3,
    "5m": KlineInterval.M5,
    "15m": KlineInterval.M15,
    "30m": KlineInterval.M30,
    "1H": KlineInterval.H1,
    "4H": KlineInterval.H4,
    "1D": KlineInterval.D1,
}
BAR_OF = {interval: bar for bar, interval in BARS.items()}
DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class Topic:
    inst_type: str
    channel: str
    inst_id: str
    arg: dict[str, Any]

    @property
    def key(self) -> str:
        return topic_key(self.inst_type, self.channel, self.inst_id)


def topic_key(inst_type: str, channel: str, inst_id: str) -> str:
    return f"{inst_type}|{channel}|{inst_id}"


def parse_arg(endpoint: str, arg: object, ids_by_type: dict[str, set[str]]) -> Topic:
    if not isinstance(arg, dict):
        raise errors.WS_PARAM_ERROR
    inst_type = str(arg.get("instType", ""))
    channel = str(arg.get("channel", ""))
    inst_id = str(arg.get("instId", ""))
    known = ids_by_type.get(inst_type)
    if known is None:
        raise errors.ws_missing(inst_type, channel, inst_id)
    if endpoint == PUBLIC:
        valid = channel == "ticker" or (
            channel.startswith("candle") and channel.removeprefix("candle") in BARS
        )
        if not valid or inst_id not in known:
            raise errors.ws_missing(inst_type, channel, inst_id)
    else:
        if channel not in ("orders", "fill") or (inst_id != DEFAULT and inst_id not in known):
            raise errors.ws_missing(inst_type, channel, inst_id)
    return Topic(inst_type, channel, inst_id, {"instType": inst_type, "channel": channel, "instId": inst_id})


def push(topic: Topic, data: list[Any], now_ms: int, action: str = "snapshot") -> dict[str, Any]:
    return {"action": action, "arg": topic.arg, "data": data, "ts": now_ms}


def error_event(error: WsError, arg: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"event": "error", "code": error.code, "msg": error.msg}
    if arg is not None:
        body["arg"] = arg
    return body
