"""Bitget v2 request authentication as the venue checks it.

REST: headers ACCESS-KEY, ACCESS-SIGN, ACCESS-TIMESTAMP (Unix ms) and
ACCESS-PASSPHRASE; ACCESS-SIGN = base64(HMAC-SHA256(secret, timestamp + METHOD +
requestPath + ("?" + queryString if any) + body)) over the decoded query string (what
ccxt signs: its URL carries the percent-encoded form of the same sorted parameters).
The timestamp must be within 30 s of the server time. Demo trading
keys only work with the header paptrading: 1, live keys only without it.

WebSocket login: {"op": "login", "args": [{"apiKey", "passphrase", "timestamp" (Unix
seconds), "sign": base64(HMAC-SHA256(secret, timestamp + "GET" + "/user/verify"))}]}.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import unquote

from ..framework.server import Credentials
from . import errors

MAX_SKEW_MS = 30_000
WS_VERIFY_PATH = "/user/verify"


def sign(secret: str, prehash: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()


def verify_rest(
    headers: Mapping[str, str],
    *,
    method: str,
    path: str,
    raw_query: str,
    body: str,
    credentials: Credentials,
    now_ms: int,
    demo: bool,
) -> None:
    key = headers.get("ACCESS-KEY", "")
    signature = headers.get("ACCESS-SIGN", "")
    timestamp = headers.get("ACCESS-TIMESTAMP", "")
    passphrase = headers.get("ACCESS-PASSPHRASE", "")
    if not key:
        raise errors.MISSING_KEY
    if not signature:
        raise errors.MISSING_SIGN
    if not passphrase:
        raise errors.MISSING_PASSPHRASE
    if not timestamp.isdigit():
        raise errors.INVALID_TIMESTAMP
    if abs(now_ms - int(timestamp)) > MAX_SKEW_MS:
        raise errors.TIMESTAMP_EXPIRED
    if not hmac.compare_digest(key, credentials.api_key):
        raise errors.INVALID_KEY
    if not hmac.compare_digest(passphrase, credentials.passphrase):
        raise errors.WRONG_PASSPHRASE
    if (headers.get("paptrading", "") == "1") != demo:
        raise errors.WRONG_ENVIRONMENT
    query = "?" + unquote(raw_query) if raw_query else ""
    expected = sign(credentials.api_secret, timestamp + method.upper() + path + query + body)
    if not hmac.compare_digest(expected, signature):
        raise errors.BAD_SIGN


def verify_ws_login(args: object, credentials: Credentials, now_ms: int) -> None:
    if not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
        raise errors.WS_PARAM_ERROR
    entry = args[0]
    timestamp = str(entry.get("timestamp", ""))
    if not timestamp.isdigit():
        raise errors.WS_INVALID_TIMESTAMP
    if abs(now_ms - int(timestamp) * 1000) > MAX_SKEW_MS:
        raise errors.WS_TIMESTAMP_EXPIRED
    if not hmac.compare_digest(str(entry.get("apiKey", "")), credentials.api_key):
        raise errors.WS_INVALID_KEY
    if not hmac.compare_digest(str(entry.get("passphrase", "")), credentials.passphrase):
        raise errors.WS_INVALID_PASSPHRASE
    expected = sign(credentials.api_secret, timestamp + "GET" + WS_VERIFY_PATH)
    if not hmac.compare_digest(expected, str(entry.get("sign", ""))):
        raise errors.WS_INVALID_SIGN
