"""Bybit v5 request authentication as the venue checks it.

REST: headers X-BAPI-API-KEY, X-BAPI-TIMESTAMP (ms), X-BAPI-RECV-WINDOW (default 5000)
and X-BAPI-SIGN = hex HMAC-SHA256(secret, timestamp + api_key + recv_window + payload),
where payload is the raw query string for GET and the raw JSON body for POST. The
timestamp must satisfy server_time − recv_window ≤ timestamp < server_time + 1000.

WebSocket: {"op": "auth", "args": [api_key, expires, signature]} with signature = hex
HMAC-SHA256(secret, "GET/realtime" + expires) and expires (ms) in the future.
"""

from __future__ import annotations

import hashlib
import hmac

from . import errors

DEFAULT_RECV_WINDOW = 5_000
MAX_AHEAD_MS = 1_000


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def verify_rest(headers: dict[str, str], payload: str, *, api_key: str, secret: str, now_ms: int) -> None:
    key = headers.get("X-BAPI-API-KEY", "")
    if not key or not hmac.compare_digest(key, api_key):
        raise errors.INVALID_API_KEY
    timestamp = headers.get("X-BAPI-TIMESTAMP", "")
    window = headers.get("X-BAPI-RECV-WINDOW", str(DEFAULT_RECV_WINDOW))
    if not timestamp.isdigit() or not window.isdigit():
        raise errors.recv_window(timestamp, now_ms, window)
    ts = int(timestamp)
    if ts < now_ms - int(window) or ts >= now_ms + MAX_AHEAD_MS:
        raise errors.recv_window(timestamp, now_ms, window)
    origin = timestamp + key + window + payload
    signature = headers.get("X-BAPI-SIGN", "")
    if not hmac.compare_digest(sign(secret, origin), signature.lower()):
        raise errors.bad_sign(origin)


def verify_ws(args: object, *, api_key: str, secret: str, now_ms: int) -> str:
    """ "" when `args` authenticate, else the venue's failure message."""
    if not isinstance(args, list) or len(args) != 3 or not all(isinstance(a, str | int) for a in args):
        return "Params Error"
    key, expires, signature = (str(a) for a in args)
    if not hmac.compare_digest(key, api_key):
        return "Invalid apikey"
    if not expires.isdigit() or int(expires) <= now_ms:
        return "Params Error"
    if not hmac.compare_digest(sign(secret, "GET/realtime" + expires), signature.lower()):
        return "Invalid sign"
    return ""
