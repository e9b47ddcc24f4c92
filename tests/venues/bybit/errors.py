"""Bybit v5 error answers: `{"retCode": n, "retMsg": "...", "result": {}, "retExtInfo": {},
"time": ms}` — HTTP 200 for business errors, 401 for API-key / signature errors.

Codes follow the v5 error-code page: 10001-10018 general, 110xxx for UTA
derivatives orders, 170xxx for spot orders.
"""

from __future__ import annotations

from dataclasses import dataclass

from opensqt_common.errors import ServiceError
from opensqt_connector import venue_errors


@dataclass(frozen=True, slots=True)
class BybitError(Exception):
    ret_code: int
    ret_msg: str
    status: int = 200


ORDER_LINK_ID_PATTERN = r"^[A-Za-z0-9_-]{1,36}$"

INVALID_API_KEY = BybitError(10003, "API key is invalid.", 401)
PERMISSION_DENIED = BybitError(10005, "Permission denied, please check your API key permissions.")
TOO_MANY_VISITS = BybitError(10006, "Too many visits!")
SERVER_ERROR = BybitError(10016, "Server error.", 503)
NOT_SUPPORTED_SYMBOLS = BybitError(10001, "Not supported symbols")
LEVERAGE_NOT_MODIFIED = BybitError(110043, "leverage not modified")
REDUCE_ONLY = BybitError(110017, "Reduce-only rule not satisfied")
POSITION_MODE_NOT_MODIFIED = BybitError(110025, "Position mode is not modified")
POSITION_MODE_HAS_POSITION = BybitError(
    110024, "You have an existing position, so position mode cannot be switched"
)
POSITION_IDX_MISMATCH = BybitError(10001, "position idx not match position mode")


def bad_sign(origin: str) -> BybitError:
    return BybitError(10004, f"error sign! origin_string[{origin}]", 401)


def recv_window(request_ts: str, server_ts: int, window: str) -> BybitError:
    return BybitError(
        10002,
        "invalid request, please check your server timestamp or recv_window param. "
        f"req_timestamp[{request_ts}],server_timestamp[{server_ts}],recv_window[{window}]",
    )


def params_error(detail: str) -> BybitError:
    return BybitError(10001, f"params error: {detail}")


def duplicate_order_link_id(spot: bool) -> BybitError:
    return (
        BybitError(170141, "Duplicate clientOrderId.")
        if spot
        else BybitError(110072, "OrderLinkedID is duplicate")
    )


def order_not_found(spot: bool) -> BybitError:
    return (
        BybitError(170213, "Order does not exist.")
        if spot
        else BybitError(110001, "order not exists or too late to cancel")
    )


def insufficient(spot: bool) -> BybitError:
    return (
        BybitError(170131, "Insufficient balance.")
        if spot
        else BybitError(110007, "ab not enough for new order")
    )


def min_notional(spot: bool, minimum: str, quote: str) -> BybitError:
    if spot:
        return BybitError(170140, "Order value exceeded lower limit.")
    return BybitError(110094, f"Order does not meet minimum order value {minimum}{quote}")


def tick_size(spot: bool) -> BybitError:
    return BybitError(170134, "Order price has too many decimals.") if spot else params_error("price invalid")


def qty_step(spot: bool) -> BybitError:
    return (
        BybitError(170137, "Order quantity has too many decimals.") if spot else params_error("Qty invalid")
    )


def qty_too_small(spot: bool) -> BybitError:
    if spot:
        return BybitError(170136, "Order quantity is lower than the minimum.")
    return BybitError(10001, "The number of contracts is below the minimum allowed.")


def from_sim(error: ServiceError, spot: bool, minimum: str, quote: str) -> BybitError:
    """The venue's answer for an order the shared matching core refused."""
    match error:
        case venue_errors.DuplicateClientOrderId():
            return duplicate_order_link_id(spot)
        case venue_errors.InsufficientMargin():
            return insufficient(spot)
        case venue_errors.MinNotional():
            return min_notional(spot, minimum, quote)
        case venue_errors.ReduceOnlyRejected():
            return REDUCE_ONLY
        case venue_errors.OrderNotFound():
            return order_not_found(spot)
    return params_error(error.message)
