"""Binance error answers: `{"code": <negative int>, "msg": "..."}` with the HTTP status
the venue uses (4xx request errors, 401 for API-key errors, 429 rate limit, 5xx).

Codes and messages follow the spot and USDⓈ-M error-code pages. Where spot and
futures answer the same condition differently, both are in the table.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from opensqt_common.errors import ServiceError
from opensqt_connector import venue_errors


@dataclass(frozen=True, slots=True)
class BinanceError(Exception):
    status: int
    code: int
    msg: str

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


class Api(enum.Enum):
    SPOT = "spot"
    FUTURES = "futures"


CLIENT_ID_PATTERN = r"^[\.A-Z\:/a-z0-9_-]{1,36}$"

API_KEY_FORMAT = BinanceError(401, -2014, "API-key format invalid.")
INVALID_API_KEY = BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
BAD_SIGNATURE = BinanceError(400, -1022, "Signature for this request is not valid.")
RECV_WINDOW = BinanceError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
RECV_WINDOW_TOO_LARGE = BinanceError(400, -1131, "recvWindow must be less than 60000")
INVALID_SYMBOL = BinanceError(400, -1121, "Invalid symbol.")
UNKNOWN_ORDER_QUERY = BinanceError(400, -2013, "Order does not exist.")
UNKNOWN_ORDER_CANCEL = BinanceError(400, -2011, "Unknown order sent.")
INVALID_LISTEN_KEY = BinanceError(400, -1125, "This listenKey does not exist.")
TOO_MANY_REQUESTS = BinanceError(
    429,
    -1003,
    "Too many requests; current limit of IP(127.0.0.1) is 2400 requests per minute. "
    "Please use the websocket for live updates to avoid polling the API.",
)
INTERNAL_ERROR = BinanceError(503, -1001, "Internal error; unable to process your request. Please try again.")


def missing_parameter(name: str) -> BinanceError:
    return BinanceError(
        400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def bad_parameter(name: str, value: str) -> BinanceError:
    return BinanceError(
        400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '{value}'."
    )


def invalid_client_order_id(api: Api) -> BinanceError:
    if api is Api.FUTURES:
        return BinanceError(400, -4015, "Client order id is not valid.")
    return bad_parameter("newClientOrderId", CLIENT_ID_PATTERN)


def duplicate_client_order_id(api: Api) -> BinanceError:
    if api is Api.FUTURES:
        return BinanceError(400, -4116, "ClientOrderId is duplicated.")
    return BinanceError(400, -2010, "Duplicate order sent.")


def post_only_would_cross(api: Api) -> BinanceError:
    if api is Api.FUTURES:
        return BinanceError(
            400,
            -5022,
            "Due to the order could not be executed as maker, the Post Only order will be rejected. "
            "The order will not be recorded in the order history",
        )
    return BinanceError(400, -2010, "Order would immediately match and take.")


def insufficient_funds(api: Api) -> BinanceError:
    if api is Api.FUTURES:
        return BinanceError(400, -2019, "Margin is insufficient.")
    return BinanceError(400, -2010, "Account has insufficient balance for requested action.")


def min_notional(api: Api, minimum: str) -> BinanceError:
    if api is Api.FUTURES:
        return BinanceError(
            400, -4164, f"Order's notional must be no smaller than {minimum} (unless you choose reduce only)."
        )
    return BinanceError(400, -1013, "Filter failure: NOTIONAL")


def price_filter(api: Api) -> BinanceError:
    if api is Api.FUTURES:
        return BinanceError(400, -4014, "Price not increased by tick size.")
    return BinanceError(400, -1013, "Filter failure: PRICE_FILTER")


def lot_size(api: Api) -> BinanceError:
    if api is Api.FUTURES:
        return BinanceError(400, -1111, "Precision is over the maximum defined for this asset.")
    return BinanceError(400, -1013, "Filter failure: LOT_SIZE")


REDUCE_ONLY_REJECTED = BinanceError(400, -2022, "ReduceOnly Order is rejected.")


def invalid_leverage(leverage: str) -> BinanceError:
    return BinanceError(400, -4028, f"Leverage {leverage} is not valid")


def from_sim(error: ServiceError, api: Api, min_notional_text: str) -> BinanceError:
    """The venue's answer for an order the shared matching core refused."""
    match error:
        case venue_errors.PostOnlyWouldCross():
            return post_only_would_cross(api)
        case venue_errors.DuplicateClientOrderId():
            return duplicate_client_order_id(api)
        case venue_errors.InsufficientMargin():
            return insufficient_funds(api)
        case venue_errors.MinNotional():
            return min_notional(api, min_notional_text)
        case venue_errors.ReduceOnlyRejected():
            return REDUCE_ONLY_REJECTED
        case venue_errors.OrderNotFound():
            return UNKNOWN_ORDER_QUERY
    return BinanceError(400, -1013 if api is Api.SPOT else -1116, error.message)
