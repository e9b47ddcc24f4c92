"""OKX v5 request authentication as the venue checks it.

REST: headers OK-ACCESS-KEY, OK-ACCESS-SIGN, OK-ACCESS-TIMESTAMP (ISO 8601 UTC with
milliseconds, "2020-12-08T09:08:57.715Z") and OK-ACCESS-PASSPHRASE; the sign is
base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath + body)) where
requestPath carries the query string of a GET ("/api/v5/account/balance?ccy=BTC").
The timestamp must be within 30 seconds of the server time. Demo trading keys only
work with the header x-simulated-trading: 1 (and live keys only without it).

WebSocket login: {"op": "login", "args": [{"apiKey", "passphrase", "timestamp" (Unix
seconds), "sign": base64(HMAC-SHA256(secret, timestamp + "GET" + "/users/self/verify"))}]}.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime

from ..framework.server import Credentials
from . import errors

MAX_SKEW_MS = 30_000
WS_VERIFY_PATH = "/users/self/verify"


def sign(secret: str, prehash: str) -> str:
    digest = hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _parse_iso(text: str) -> int | None:
    try:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(moment.timestamp() * 1000)


def verify_rest(
    headers: Mapping[str, str],
    *,
    method: str,
    request_path: str,
    body: str,
    credentials: Credentials,
    now_ms: int,
    demo: bool,
) -> None:
    """Raise the venue's error for a request that fails authentication."""
    key = headers.get("OK-ACCESS-KEY", "")
    signature = headers.get("OK-ACCESS-SIGN", "")
    timestamp = headers.get("OK-ACCESS-TIMESTAMP", "")
    passphrase = headers.get("OK-ACCESS-PASSPHRASE", "")
    if not key:
        raise errors.MISSING_KEY
    if not signature:
        raise errors.MISSING_SIGN
    if not timestamp:
        raise errors.MISSING_TIMESTAMP
    if not passphrase:
        raise errors.MISSING_PASSPHRASE
    moment = _parse_iso(timestamp)
    if moment is None:
        raise errors.INVALID_TIMESTAMP
    if abs(now_ms - moment) > MAX_SKEW_MS:
        raise errors.TIMESTAMP_EXPIRED
    if not hmac.compare_digest(key, credentials.api_key):
        raise errors.INVALID_KEY
    if (headers.get("x-simulated-trading", "") == "1") != demo:
        raise errors.WRONG_ENVIRONMENT
    if not hmac.compare_digest(passphrase, credentials.passphrase):
        raise errors.WRONG_PASSPHRASE
    expected = sign(credentials.api_secret, timestamp + method.upper() + request_path + body)
    if not hmac.compare_digest(expected, signature):
        raise errors.INVALID_SIGN


def verify_ws_login(args: object, credentials: Credentials, now_ms: int) -> None:
    """Raise the venue's WebSocket error for a login that fails."""
    if not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
        raise errors.WS_INVALID_ARGS
    entry = args[0]
    key = str(entry.get("apiKey", ""))
    passphrase = str(entry.get("passphrase", ""))
    timestamp = str(entry.get("timestamp", ""))
    signature = str(entry.get("sign", ""))
    if not key:
        raise errors.WS_MISSING_KEY
    if not signature:
        raise errors.WS_MISSING_SIGN
    if not passphrase:
        raise errors.WS_MISSING_PASSPHRASE
    if not timestamp.isdigit():
        raise errors.WS_INVALID_TIMESTAMP
    if abs(now_ms - int(timestamp) * 1000) > MAX_SKEW_MS:
        raise errors.WS_TIMESTAMP_EXPIRED
    if not hmac.compare_digest(key, credentials.api_key):
        raise errors.WS_INVALID_KEY
    if not hmac.compare_digest(passphrase, credentials.passphrase):
        raise errors.WS_WRONG_PASSPHRASE
    expected = sign(credentials.api_secret, timestamp + "GET" + WS_VERIFY_PATH)
    if not hmac.compare_digest(expected, signature):
        raise errors.WS_INVALID_SIGN
