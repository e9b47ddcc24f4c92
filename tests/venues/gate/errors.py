"""Gate v4 error answers: a non-2xx status with {"label": "...", "message": "..."}
(some futures errors carry "detail" instead of "message"), labels from the v4
"label list"; 401 for authentication, 429 for the rate limit, 404 for a missing order.
WebSocket errors are {"error": {"code": n, "message": "..."}, "result": null} on the
subscription's own event (code 4 = authentication, 2 = invalid argument).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class GateError(Exception):
    status: int
    label: str
    message: str
    field: str = "message"  # "detail" for the futures errors that use it

    def body(self) -> dict[str, Any]:
        return {"label": self.label, self.field: self.message}


@dataclass(frozen=True, slots=True)
class WsError(Exception):
    code: int
    message: str


MISSING_HEADER = GateError(401, "MISSING_REQUIRED_HEADER", "Missing required header: KEY, Timestamp or SIGN")
INVALID_KEY = GateError(401, "INVALID_KEY", "Invalid key provided")
INVALID_SIGNATURE = GateError(401, "INVALID_SIGNATURE", "Signature mismatch")
REQUEST_EXPIRED = GateError(
    401, "REQUEST_EXPIRED", "gap between request Timestamp and server time exceeds 60"
)
TOO_MANY_REQUESTS = GateError(429, "TOO_MANY_REQUESTS", "Request Rate limit Exceeded (007)")
SERVER_ERROR = GateError(500, "SERVER_ERROR", "Internal server error")
TOO_BUSY = GateError(503, "TOO_BUSY", "Server is too busy at the moment")
ORDER_NOT_FOUND = GateError(404, "ORDER_NOT_FOUND", "Order not found")
BALANCE_NOT_ENOUGH = GateError(400, "BALANCE_NOT_ENOUGH", "Balance is not enough")
INSUFFICIENT_AVAILABLE = GateError(400, "INSUFFICIENT_AVAILABLE", "Insufficient available balance")
POC_FILL_IMMEDIATELY = GateError(
    400, "POC_FILL_IMMEDIATELY", "Order would match and take immediately so it's cancelled"
)
POSITION_EMPTY = GateError(400, "POSITION_EMPTY", "Position is empty", "detail")
REDUCE_EXCEEDED = GateError(400, "REDUCE_EXCEEDED", "Reduce order would exceed position", "detail")
ORDER_FINISHED = GateError(400, "ORDER_FINISHED", "Order already finished", "detail")
ORDER_CLOSED = GateError(400, "ORDER_CLOSED", "Order already closed")
ORDER_CANCELLED = GateError(400, "ORDER_CANCELLED", "Order already cancelled")
SIZE_TOO_SMALL = GateError(400, "SIZE_TOO_SMALL", "Order size does not reach minimum", "detail")
SIZE_TOO_LARGE = GateError(400, "SIZE_TOO_LARGE", "Order size exceeds maximum", "detail")
LEVERAGE_TOO_HIGH = GateError(400, "LEVERAGE_TOO_HIGH", "leverage too high", "detail")
LEVERAGE_TOO_LOW = GateError(400, "LEVERAGE_TOO_LOW", "leverage too low", "detail")
LIQUIDATE_IMMEDIATELY = GateError(400, "LIQUIDATE_IMMEDIATELY", "Operation may cause liquidation", "detail")


def invalid_param(name: str, value: str) -> GateError:
    return GateError(400, "INVALID_PARAM_VALUE", f"Invalid parameter `{name}` with value: {value}")


def missing_param(name: str) -> GateError:
    return GateError(400, "MISSING_REQUIRED_PARAM", f"Missing required parameter: {name}")


def invalid_pair(pair: str) -> GateError:
    return GateError(400, "INVALID_CURRENCY_PAIR", f"Invalid currency pair {pair}")


def contract_not_found(contract: str) -> GateError:
    return GateError(400, "CONTRACT_NOT_FOUND", f"contract {contract} not found", "detail")


def client_id_not_found(text: str) -> GateError:
    return GateError(404, "CLIENT_ID_NOT_FOUND", f"Order with client ID {text} not found")


def amount_too_small(notional: str, minimum: str, quote: str) -> GateError:
    return GateError(
        400,
        "INVALID_PARAM_VALUE",
        f"Your order size {notional} {quote} is too small. The minimum is {minimum} {quote}",
    )


def poc_immediate(price: str, counter: str) -> GateError:
    return GateError(
        400, "ORDER_POC_IMMEDIATE", f"order price {price} while counter price {counter}", "detail"
    )


# ------------------------------------------------------------------ WebSocket
WS_AUTH_FAILED = WsError(11, "Authentication failed")


def ws_auth(label: str, message: str) -> WsError:
    return WsError(4, '{"label":"' + label + '","message":"' + message + '"}\n')


def ws_invalid(message: str) -> WsError:
    return WsError(2, message)
