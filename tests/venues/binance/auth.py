"""Binance request authentication as the venue checks it.

SIGNED (TRADE / USER_DATA) endpoints: the `X-MBX-APIKEY` header names the key; the
`signature` parameter is HMAC-SHA256 (hex) with the secret of "totalParams" — the
query string concatenated with the request body, as sent, without the signature
itself; `timestamp` (ms) must be within `recvWindow` (default 5000, max 60000) of the
server time and not more than 1000 ms ahead of it. USER_STREAM endpoints (listenKey)
need the API key only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import parse_qsl

from . import errors

API_KEY_FORMAT = re.compile(r"^[A-Za-z0-9]{64}$")
DEFAULT_RECV_WINDOW = 5_000
MAX_RECV_WINDOW = 60_000
MAX_AHEAD_MS = 1_000


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def check_api_key(header: str | None, api_key: str) -> None:
    if not header or not API_KEY_FORMAT.match(header):
        raise errors.API_KEY_FORMAT
    if not hmac.compare_digest(header, api_key):
        raise errors.INVALID_API_KEY


def _strip_signature(raw: str) -> tuple[str, str | None]:
    """`raw` without its `signature=` parameter, and that signature."""
    kept: list[str] = []
    signature = None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            signature = part.removeprefix("signature=")
        else:
            kept.append(part)
    return "&".join(kept), signature


def verify_signed(
    *, api_key_header: str | None, query: str, body: str, api_key: str, secret: str, now_ms: int
) -> dict[str, str]:
    """Check a SIGNED request; returns its parameters (query and body merged)."""
    check_api_key(api_key_header, api_key)
    query_part, query_signature = _strip_signature(query)
    body_part, body_signature = _strip_signature(body)
    signature = query_signature if query_signature is not None else body_signature
    params = dict(parse_qsl(query_part, keep_blank_values=True))
    params.update(parse_qsl(body_part, keep_blank_values=True))
    if not signature:
        raise errors.missing_parameter("signature")
    timestamp_text = params.get("timestamp", "")
    if not timestamp_text.isdigit():
        raise errors.missing_parameter("timestamp")
    window_text = params.get("recvWindow", str(DEFAULT_RECV_WINDOW))
    if not window_text.isdigit():
        raise errors.bad_parameter("recvWindow", "0..60000")
    window = int(window_text)
    if window > MAX_RECV_WINDOW:
        raise errors.RECV_WINDOW_TOO_LARGE
    timestamp = int(timestamp_text)
    if timestamp > now_ms + MAX_AHEAD_MS or now_ms - timestamp > window:
        raise errors.RECV_WINDOW
    expected = sign(secret, query_part + body_part)
    if not hmac.compare_digest(expected, signature.lower()):
        raise errors.BAD_SIGNATURE
    return params
