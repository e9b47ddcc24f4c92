"""Gate v4 request authentication as the venue checks it.

REST (APIv4 "Authentication"): headers KEY, Timestamp (Unix seconds) and SIGN, where
SIGN = hex(HMAC-SHA512(secret, METHOD + "\\n" + "/api/v4" + path + "\\n" + query +
"\\n" + hex(SHA512(body)) + "\\n" + Timestamp)); the query is the decoded query string
and the body the raw JSON ("" when none). The Timestamp must be within 60 s of the
server time.

WebSocket (v4 "Authentication"): each private subscription carries
{"auth": {"method": "api_key", "KEY": key, "SIGN": hex(HMAC-SHA512(secret,
"channel=<channel>&event=<event>&time=<time>"))}} with the request's own "time".
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import unquote

from ..framework.server import Credentials
from . import errors

MAX_SKEW_S = 60


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha512).hexdigest()


def verify_rest(
    headers: Mapping[str, str],
    *,
    method: str,
    path: str,
    raw_query: str,
    body: str,
    credentials: Credentials,
    now_ms: int,
) -> None:
    key = headers.get("KEY", "")
    timestamp = headers.get("Timestamp", "")
    signature = headers.get("SIGN", "")
    if not key or not timestamp or not signature:
        raise errors.MISSING_HEADER
    if not hmac.compare_digest(key, credentials.api_key):
        raise errors.INVALID_KEY
    try:
        moment = float(timestamp)
    except ValueError:
        raise errors.REQUEST_EXPIRED from None
    if abs(now_ms / 1000 - moment) > MAX_SKEW_S:
        raise errors.REQUEST_EXPIRED
    body_hash = hashlib.sha512(body.encode()).hexdigest()
    payload = "\n".join([method.upper(), path, unquote(raw_query), body_hash, timestamp])
    if not hmac.compare_digest(sign(credentials.api_secret, payload), signature.lower()):
        raise errors.INVALID_SIGNATURE


def verify_ws(message: Mapping[str, object], credentials: Credentials, now_ms: int) -> None:
    auth = message.get("auth")
    if not isinstance(auth, dict) or auth.get("method") != "api_key":
        raise errors.ws_auth("MISSING_REQUIRED_HEADER", "Missing required authentication")
    key = str(auth.get("KEY", ""))
    signature = str(auth.get("SIGN", ""))
    if not hmac.compare_digest(key, credentials.api_key):
        raise errors.ws_auth("INVALID_KEY", "Invalid key provided")
    time = message.get("time")
    if not isinstance(time, int) or abs(now_ms // 1000 - time) > MAX_SKEW_S:
        raise errors.ws_auth("REQUEST_EXPIRED", "gap between request time and server time exceeds 60")
    payload = f"channel={message.get('channel')}&event={message.get('event')}&time={time}"
    if not hmac.compare_digest(sign(credentials.api_secret, payload), signature.lower()):
        raise errors.ws_auth("INVALID_SIGNATURE", "Signature mismatch")
