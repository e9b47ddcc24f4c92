"""OKX v5 error answers.

REST errors are {"code": "<5 digits>", "msg": "...", "data": []} with the HTTP status
the venue uses (401 for authentication, 429 for the rate limit, 400 for malformed
parameters, 200 for business refusals). A refused order is answered per item:
{"code": "1", "msg": "Operation failed.", "data": [{"sCode": "51016", "sMsg": ...}]}
(batch: "All operations failed", or code "2" when some items succeeded).
WebSocket errors are {"event": "error", "code": "600xx", "msg": "...", "connId": ...}.

Codes and messages follow the "Error Code" pages of the v5 documentation; ccxt's
`okx.exceptions['exact']` maps every one used here (see the test module for the
ccxt class each becomes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class OkxError(Exception):
    """A request-level error: the whole request failed."""

    status: int
    code: str
    msg: str

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg, "data": []}


@dataclass(frozen=True, slots=True)
class ItemError(Exception):
    """One item of a trade request failed (sCode / sMsg); HTTP 200."""

    s_code: str
    s_msg: str


@dataclass(frozen=True, slots=True)
class WsError(Exception):
    code: str
    msg: str


# ------------------------------------------------------------------ REST: authentication
MISSING_KEY = OkxError(401, "50103", 'Request header "OK-ACCESS-KEY" can not be empty.')
MISSING_PASSPHRASE = OkxError(401, "50104", 'Request header "OK-ACCESS-PASSPHRASE" can not be empty.')
WRONG_PASSPHRASE = OkxError(401, "50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.')
MISSING_SIGN = OkxError(401, "50106", 'Request header "OK-ACCESS-SIGN" can not be empty.')
MISSING_TIMESTAMP = OkxError(401, "50107", 'Request header "OK-ACCESS-TIMESTAMP" can not be empty.')
INVALID_KEY = OkxError(401, "50111", "Invalid OK-ACCESS-KEY.")
INVALID_TIMESTAMP = OkxError(401, "50112", "Invalid OK-ACCESS-TIMESTAMP.")
INVALID_SIGN = OkxError(401, "50113", "Invalid Sign.")
TIMESTAMP_EXPIRED = OkxError(401, "50102", "Timestamp request expired.")
WRONG_ENVIRONMENT = OkxError(401, "50101", "APIKey does not match current environment.")

# ------------------------------------------------------------------ REST: service
TOO_MANY_REQUESTS = OkxError(429, "50011", "Too Many Requests")
SYSTEM_ERROR = OkxError(503, "50026", "System error. Try again later.")
EMPTY_BODY = OkxError(400, "50000", "Body can not be empty.")
ORDER_NOT_FOUND = OkxError(200, "51603", "Order does not exist")
LEVERAGE_TOO_HIGH = OkxError(
    200, "59102", "Leverage exceeds the maximum leverage. Please adjust the leverage."
)
LEVERAGE_MARGIN = OkxError(
    200, "59108", "Your account leverage is too low and has insufficient margins. Please adjust the leverage."
)


def param_error(name: str) -> OkxError:
    return OkxError(400, "51000", f"Parameter {name} error")


def param_empty(name: str) -> OkxError:
    return OkxError(400, "50014", f"Parameter {name} can not be empty.")


def instrument_missing() -> OkxError:
    return OkxError(400, "51001", "Instrument ID does not exist.")


# ------------------------------------------------------------------ per order (sCode)
DUPLICATE_CL_ORD_ID = ItemError("51016", "Duplicated clOrdId")
ORDER_MISSING = ItemError("51603", "Order does not exist")
CANCEL_MISSING = ItemError(
    "51400", "Cancellation failed as the order has been filled, canceled or does not exist."
)
CANCEL_CANCELED = ItemError("51401", "Cancellation failed as the order is already canceled.")
CANCEL_FILLED = ItemError("51402", "Cancellation failed as the order is already completed.")
LOT_SIZE = ItemError("51121", "Order quantity must be a multiple of the lot size.")
BELOW_MIN_SIZE = ItemError("51020", "Your order should meet or exceed the minimum order amount.")
REDUCE_NO_POSITION = ItemError(
    "51169",
    "Order failed because you don't have any positions in this direction for this contract "
    "to reduce or close.",
)
REDUCE_ONLY_UNAVAILABLE = ItemError("51205", "Reduce Only is not available.")


def item_param_error(name: str) -> ItemError:
    return ItemError("51000", f"Parameter {name} error")


def item_instrument_missing() -> ItemError:
    return ItemError("51001", "Instrument ID does not exist.")


def insufficient(asset: str, swap: bool) -> ItemError:
    kind = "margin" if swap else "balance"
    return ItemError("51008", f"Order failed. Insufficient {asset} {kind} in account.")


# ------------------------------------------------------------------ WebSocket
WS_MISSING_KEY = WsError("60001", '"OK-ACCESS-KEY" can not be empty')
WS_MISSING_SIGN = WsError("60002", '"OK-ACCESS-SIGN" can not be empty')
WS_MISSING_PASSPHRASE = WsError("60003", '"OK-ACCESS-PASSPHRASE" can not be empty')
WS_INVALID_TIMESTAMP = WsError("60004", "Invalid OK-ACCESS-TIMESTAMP")
WS_INVALID_KEY = WsError("60005", "Invalid OK-ACCESS-KEY")
WS_TIMESTAMP_EXPIRED = WsError("60006", "Timestamp request expired")
WS_INVALID_SIGN = WsError("60007", "Invalid sign")
WS_LOGIN_ON_PUBLIC = WsError(
    "60008", "The current WebSocket endpoint does not support subscribing to login channels."
)
WS_NOT_LOGGED_IN = WsError("60011", "Please log in")
WS_INVALID_ARGS = WsError("60013", "Invalid args")
WS_WRONG_PASSPHRASE = WsError("60024", "Wrong passphrase")
SERVICE_UPGRADE_NOTICE = WsError(
    "64008", "The connection will soon be closed for a service upgrade. Please reconnect."
)


def ws_invalid_request(text: str) -> WsError:
    return WsError("60012", f"Invalid request: {text}")


def ws_missing_channel(channel: str, inst_id: str) -> WsError:
    return WsError("60018", f"Wrong URL or channel:{channel},instId:{inst_id} doesn't exist.")
