"""ccxt exceptions → venue errors, by exception type and the venue's error code.

Classification never reads message text. The venue's structured error code (and, for
one documented Binance case, the exact message paired with that code) is captured
from the parsed response by a hook on ccxt's `handle_errors`, attached to the ccxt
exception, and looked up in the venue table before falling back to the exception's
type (ccxt's class alone is not enough behind URL overrides: Binance's error table is
chosen by host name). An HTTP 429 is a rate limit whatever ccxt called it. A rate
limit's wait is the response's Retry-After, else the venue's reset-time header (epoch
milliseconds: Bybit, Gate), else the venue's rate-limit window (OKX, Bitget).

Every message leaving the adapter passes through `Sanitizer`, which removes the
configured secrets and anything that looks like a signature, key or passphrase (ccxt
puts request URLs, and so signed query strings, into its exception messages). The
mapped error is raised `from None`, so the ccxt exception with its raw message is not
chained into any traceback.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import ccxt
import grpc

from opensqt.common.v1 import common_pb2
from opensqt_common.errors import ServiceError
from opensqt_common.logging import get_logger
from opensqt_connector.ccxt_venue.tables import VenueRow
from opensqt_connector.venue_errors import (
    AuthFailed,
    DuplicateClientOrderId,
    InsufficientMargin,
    InvalidOrder,
    OrderNotFound,
    PostOnlyWouldCross,
    VenueRateLimited,
    VenueUnavailable,
)

_log = get_logger(__name__)

MAX_MESSAGE = 300
_CODE_ATTR = "opensqt_venue_code"
_MESSAGE_ATTR = "opensqt_venue_message"
_HEADERS_ATTR = "opensqt_response_headers"
_STATUS_ATTR = "opensqt_http_status"
TOO_MANY_REQUESTS = 429


class UnclassifiedVenueError(ServiceError):
    """The venue refused with an error neither ccxt nor the venue table classifies."""

    code = grpc.StatusCode.UNKNOWN
    reason = common_pb2.ERROR_REASON_INTERNAL


# Most specific first: the first matching ccxt type decides.
TYPE_TABLE: tuple[tuple[type[BaseException], type[ServiceError]], ...] = (
    (ccxt.OrderImmediatelyFillable, PostOnlyWouldCross),
    (ccxt.DuplicateOrderId, DuplicateClientOrderId),
    (ccxt.OrderNotFound, OrderNotFound),
    (ccxt.InsufficientFunds, InsufficientMargin),
    (ccxt.InvalidOrder, InvalidOrder),
    (ccxt.AuthenticationError, AuthFailed),  # incl. PermissionDenied, AccountSuspended
    (ccxt.BadRequest, InvalidOrder),  # incl. BadSymbol
    (ccxt.ArgumentsRequired, InvalidOrder),
    (ccxt.NotSupported, InvalidOrder),
    (ccxt.OperationRejected, InvalidOrder),  # incl. MarketClosed
    (ccxt.RateLimitExceeded, VenueRateLimited),
    (ccxt.DDoSProtection, VenueRateLimited),
    (ccxt.NetworkError, VenueUnavailable),  # ExchangeNotAvailable, OnMaintenance, RequestTimeout, ...
    (ccxt.OperationFailed, VenueUnavailable),  # BadResponse, NullResponse, CancelPending
    (ccxt.ExchangeClosedByUser, VenueUnavailable),
)


# -- response capture -----------------------------------------------------------------


@dataclass(frozen=True)
class VenueResponse:
    status: int | None
    headers: Mapping[str, str]


_last_response: ContextVar[VenueResponse | None] = ContextVar("opensqt_ccxt_last_response", default=None)


def extract_code(row: VenueRow, response: object) -> tuple[str | None, str | None]:
    """(error code, message) from a parsed venue response, or (None, None) when the
    response carries no error code (or the venue's success code)."""
    for path in row.error_code_paths:
        container: object = response
        value: object = response
        for step in path:
            container = value
            if isinstance(step, int):
                value = value[step] if isinstance(value, list) and len(value) > step else None
            else:
                value = value.get(step) if isinstance(value, Mapping) else None
        if value is None or value == "" or isinstance(value, bool):
            continue
        code = str(value)
        if code in row.success_codes:
            continue
        message = None
        if isinstance(container, Mapping):
            for key in ("msg", "sMsg", "retMsg", "message", "detail"):
                text = container.get(key)
                if isinstance(text, str) and text:
                    message = text
                    break
        return code, message
    return None, None


def install_response_hook(exchange: Any, row: VenueRow) -> None:
    """Wrap the exchange's `handle_errors` to remember each response's status and
    headers (for Retry-After) and to tag raised exceptions with the venue's code."""
    original: Callable[..., Any] = exchange.handle_errors

    def handle_errors(
        code: int,
        reason: str,
        url: str,
        method: str,
        headers: Mapping[str, str] | None,
        body: str,
        response: object,
        request_headers: object,
        request_body: object,
    ) -> Any:
        captured = VenueResponse(code, dict(headers or {}))
        _last_response.set(captured)
        try:
            return original(code, reason, url, method, headers, body, response, request_headers, request_body)
        except ccxt.BaseError as exc:
            venue_code, message = extract_code(row, response)
            setattr(exc, _CODE_ATTR, venue_code)
            setattr(exc, _MESSAGE_ATTR, message)
            setattr(exc, _HEADERS_ATTR, captured.headers)
            setattr(exc, _STATUS_ATTR, code)
            raise

    exchange.handle_errors = handle_errors


def begin_call() -> None:
    """Forget the previous response of this task (call before each venue request)."""
    _last_response.set(None)


def retry_after_seconds(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """The Retry-After of a response, in seconds (delta-seconds or an HTTP date)."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds < 0:  # NaN or in the past
        return 0.0
    return min(seconds, 3600.0)


def reset_after_seconds(
    headers: Mapping[str, str] | None, name: str, now: float | None = None
) -> float | None:
    """Seconds until the epoch-milliseconds time in header `name` (a venue's
    rate-limit reset time), or None when the header is absent or not a number."""
    if not headers:
        return None
    wanted = name.lower()
    value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    if value is None:
        return None
    try:
        reset_ms = int(str(value).strip())
    except ValueError:
        return None
    seconds = reset_ms / 1000 - (time.time() if now is None else now)
    return min(max(seconds, 0.0), 3600.0)


# -- sanitising -----------------------------------------------------------------------

_SENSITIVE_NAMES = (
    r"signature|sign|apikey|api_key|api-key|secret|secretkey|passphrase|password|listenkey|token|"
    r"x-mbx-apikey|ok-access-key|ok-access-sign|ok-access-passphrase|access-key|access-sign|"
    r"access-passphrase|x-bapi-api-key|x-bapi-sign|key"
)
_QUERY = re.compile(rf"(?i)\b({_SENSITIVE_NAMES})=([^&\s'\"]+)")
_MAPPING = re.compile(rf"(?i)([\"']?)\b({_SENSITIVE_NAMES})\1(\s*[:=]\s*)([\"']?)([^\"',}}\s]+)")
# Long opaque tokens anywhere (hex signatures, Binance listen keys in stream URLs).
_TOKEN = re.compile(r"[A-Za-z0-9]{40,}")


class Sanitizer:
    """Removes credentials and signatures from text bound for logs or errors."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = _QUERY.sub(r"\1=***", text)
        text = _MAPPING.sub(r"\1\2\1\3\4***", text)
        text = _TOKEN.sub("***", text)
        if len(text) > MAX_MESSAGE:
            text = text[:MAX_MESSAGE] + "…"
        return text


# -- classification -------------------------------------------------------------------


def classify(
    exc: BaseException, row: VenueRow, sanitize: Sanitizer, *, now: float | None = None
) -> ServiceError:
    """The venue error for a ccxt exception (`exc` must be a ccxt.BaseError)."""
    code: str | None = getattr(exc, _CODE_ATTR, None)
    venue_message: str | None = getattr(exc, _MESSAGE_ATTR, None)
    headers: Mapping[str, str] | None = getattr(exc, _HEADERS_ATTR, None)
    status: int | None = getattr(exc, _STATUS_ATTR, None)
    if headers is None:
        last = _last_response.get()
        headers = last.headers if last is not None else None
        status = last.status if last is not None else None
    message = sanitize(f"{row.venue.value}: {type(exc).__name__}: {exc}")
    metadata = {"venue_code": sanitize(code)} if code else {}
    target: type[ServiceError] | None = None
    if code is not None:
        target = row.error_codes.get(code)
        if target is None and venue_message is not None:
            target = row.error_messages.get((code, venue_message))
    if (
        target is None
        and status == TOO_MANY_REQUESTS
        and isinstance(exc, ccxt.OperationFailed | ccxt.ExchangeError)
    ):
        target = VenueRateLimited  # some ccxt venues call a plain HTTP 429 "not available"
    if target is None:
        target = next((mapped for kind, mapped in TYPE_TABLE if isinstance(exc, kind)), None)
    if target is None:
        _log.warning(
            "unclassified_venue_error", venue=row.venue.value, error=type(exc).__name__, venue_code=code
        )
        return UnclassifiedVenueError(message, metadata=metadata)
    if issubclass(target, VenueRateLimited):
        delay = retry_after_seconds(headers, now)
        if delay is None and row.rate_limit_reset_header is not None:
            delay = reset_after_seconds(headers, row.rate_limit_reset_header, now)
        if delay is None:
            delay = row.rate_limit_window_s
        error = VenueRateLimited(message, retry_after=delay)
        if delay is not None:
            error.metadata["retry_after_ms"] = str(round(delay * 1000))
        error.metadata.update(metadata)
        return error
    return target(message, metadata=metadata)


__all__ = [
    "TYPE_TABLE",
    "Sanitizer",
    "UnclassifiedVenueError",
    "VenueResponse",
    "begin_call",
    "classify",
    "extract_code",
    "install_response_hook",
    "reset_after_seconds",
    "retry_after_seconds",
]
