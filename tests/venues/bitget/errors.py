"""Bitget v2 error answers: {"code": "<5 digits>", "msg": "...", "requestTime": ms,
"data": null}, HTTP 400 for request errors, 429 for the rate limit ({"code": "429",
"msg": "Too Many Requests"}), 5xx for the server. WebSocket errors are {"event":
"error", "code": 300xx, "msg": "..."} (numbers, not strings).

Codes follow the v2 "Error codes" page and ccxt's bitget table; the ccxt class each
becomes is recorded in the test module.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BitgetError(Exception):
    status: int
    code: str
    msg: str


@dataclass(frozen=True, slots=True)
class WsError(Exception):
    code: int
    msg: str


MISSING_KEY = BitgetError(400, "40001", "ACCESS_KEY cannot be empty")
MISSING_SIGN = BitgetError(400, "40003", "Signature cannot be empty")
INVALID_TIMESTAMP = BitgetError(400, "40005", "Invalid ACCESS_TIMESTAMP")
INVALID_KEY = BitgetError(400, "40006", "Invalid ACCESS_KEY")
TIMESTAMP_EXPIRED = BitgetError(400, "40008", "Request timestamp expired")
BAD_SIGN = BitgetError(400, "40009", "sign signature error")
MISSING_PASSPHRASE = BitgetError(400, "40011", "ACCESS_PASSPHRASE cannot be empty")
WRONG_PASSPHRASE = BitgetError(400, "40012", "apikey/password is incorrect")
WRONG_ENVIRONMENT = BitgetError(400, "40099", "exchange environment is incorrect")
NOT_UNIFIED = BitgetError(
    400, "40084", "You are in Classic Account mode, and the Unified Account API is not supported at this time"
)
TOO_MANY_REQUESTS = BitgetError(429, "429", "Too Many Requests")
SYSTEM_ERROR = BitgetError(500, "40015", "System is abnormal, please try again later")
DUPLICATE_CLIENT_OID = BitgetError(400, "40786", "Duplicate clientOid")
INVALID_CLIENT_OID = BitgetError(
    400, "40305", "Client_oid length is not greater than 50, and cannot be Martian characters"
)
ORDER_NOT_FOUND_MIX = BitgetError(400, "40768", "Order does not exist")
ORDER_NOT_FOUND_SPOT = BitgetError(400, "43001", "The order does not exist")
INSUFFICIENT_SPOT = BitgetError(400, "43012", "Insufficient balance")
INSUFFICIENT_MIX = BitgetError(400, "40762", "The order amount exceeds the balance")
NO_POSITION = BitgetError(400, "22002", "No position to close")
ONE_WAY_TRADE_SIDE = BitgetError(
    400, "40774", "The order type for unilateral position must also be the unilateral position type."
)
LEVERAGE_TOO_HIGH = BitgetError(400, "40797", "Exceeded the maximum settable leverage")
PARAMETER_FAILED = BitgetError(400, "40017", "Parameter verification failed")


def empty(name: str) -> BitgetError:
    return BitgetError(400, "40019", f"Parameter {name} cannot be empty")


def invalid(name: str) -> BitgetError:
    return BitgetError(400, "40017", f"Parameter verification failed {name}")


def scale(name: str, value: str, places: int) -> BitgetError:
    return BitgetError(
        400,
        "40808",
        f"Parameter verification exception {name} checkBDScale error value={value} checkScale={places}",
    )


def below_min_quantity(minimum: str) -> BitgetError:
    return BitgetError(400, "45111", f"less than the minimum order quantity {minimum}")


def below_min_amount(minimum: str, quote: str) -> BitgetError:
    return BitgetError(400, "45110", f"less than the minimum amount {minimum} {quote}")


def symbol_missing(symbol: str) -> BitgetError:
    return BitgetError(400, "40034", f"Parameter {symbol} does not exist")


# ------------------------------------------------------------------ WebSocket
WS_NOT_LOGGED_IN = WsError(30004, "User not logged in")
WS_INVALID_KEY = WsError(30011, "Invalid ACCESS_KEY")
WS_INVALID_PASSPHRASE = WsError(30012, "Invalid ACCESS_PASSPHRASE")
WS_INVALID_TIMESTAMP = WsError(30013, "Invalid ACCESS_TIMESTAMP")
WS_TIMESTAMP_EXPIRED = WsError(30014, "Request timestamp expired")
WS_INVALID_SIGN = WsError(30015, "Invalid sign")
WS_PARAM_ERROR = WsError(30016, "Param error")


def ws_missing(inst_type: str, channel: str, inst_id: str) -> WsError:
    return WsError(30001, f"instType:{inst_type},channel:{channel},instId:{inst_id} doesn't exist")
