"""ccxt exceptions → venue errors (by type and venue code), Retry-After, and secrets
never leaving the adapter in messages, logs or tracebacks."""

from __future__ import annotations

import time
import traceback
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt
import grpc
import pytest
import structlog
from ccxt_recorded import API_KEY, API_PASSPHRASE, API_SECRET, prepared_venue  # type: ignore[import-not-found]

from opensqt_common.enums import OrderType, Side, TimeInForce, Venue
from opensqt_common.errors import ServiceError
from opensqt_connector.ccxt_venue.errors import (
    Sanitizer,
    UnclassifiedVenueError,
    classify,
    extract_code,
    reset_after_seconds,
    retry_after_seconds,
)
from opensqt_connector.ccxt_venue.tables import venue_row
from opensqt_connector.models import OrderRequest
from opensqt_connector.venue_errors import (
    AuthFailed,
    DuplicateClientOrderId,
    InsufficientMargin,
    InvalidOrder,
    MinNotional,
    OrderNotFound,
    PostOnlyWouldCross,
    ReduceOnlyRejected,
    VenueRateLimited,
    VenueUnavailable,
)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (ccxt.OrderImmediatelyFillable, PostOnlyWouldCross),
        (ccxt.DuplicateOrderId, DuplicateClientOrderId),
        (ccxt.OrderNotFound, OrderNotFound),
        (ccxt.InsufficientFunds, InsufficientMargin),
        (ccxt.InvalidOrder, InvalidOrder),
        (ccxt.OrderNotFillable, InvalidOrder),
        (ccxt.BadSymbol, InvalidOrder),
        (ccxt.AuthenticationError, AuthFailed),
        (ccxt.PermissionDenied, AuthFailed),
        (ccxt.AccountSuspended, AuthFailed),
        (ccxt.RateLimitExceeded, VenueRateLimited),
        (ccxt.DDoSProtection, VenueRateLimited),
        (ccxt.NetworkError, VenueUnavailable),
        (ccxt.ExchangeNotAvailable, VenueUnavailable),
        (ccxt.OnMaintenance, VenueUnavailable),
        (ccxt.RequestTimeout, VenueUnavailable),
        (ccxt.InvalidNonce, VenueUnavailable),
        (ccxt.BadResponse, VenueUnavailable),
        (ccxt.ExchangeError, UnclassifiedVenueError),
    ],
)
def test_ccxt_exception_types_map_to_venue_errors(
    raised: type[Exception], expected: type[ServiceError]
) -> None:
    error = classify(raised("binance something happened"), venue_row(Venue.BINANCE), Sanitizer())
    assert type(error) is expected


def test_reasons_and_codes_follow_the_error_type() -> None:
    row, sanitize = venue_row(Venue.OKX), Sanitizer()
    cases = {
        ccxt.OrderImmediatelyFillable: (grpc.StatusCode.FAILED_PRECONDITION, "POST_ONLY_WOULD_CROSS"),
        ccxt.InsufficientFunds: (grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_MARGIN"),
        ccxt.RateLimitExceeded: (grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED"),
        ccxt.ExchangeNotAvailable: (grpc.StatusCode.UNAVAILABLE, "VENUE_UNAVAILABLE"),
        ccxt.OrderNotFound: (grpc.StatusCode.NOT_FOUND, "ORDER_NOT_FOUND"),
        ccxt.InvalidOrder: (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_ORDER"),
        ccxt.AuthenticationError: (grpc.StatusCode.UNAUTHENTICATED, "AUTH_FAILED"),
    }
    for raised, (code, reason) in cases.items():
        error = classify(raised("x"), row, sanitize)
        assert (error.code, error.reason_name) == (code, reason)


# -- venue error bodies through ccxt's own error handling --------------------------------

PLACE_ROUTE = {
    ("binance", "spot"): "POST /api/v3/order",
    ("binance", "perp"): "POST /fapi/v1/order",
    ("okx", "perp"): "POST /api/v5/trade/batch-orders",
    ("bybit", "perp"): "POST /v5/order/create",
    ("bybit", "spot"): "POST /v5/order/create",
    ("gate", "perp"): "POST /api/v4/futures/usdt/orders",
    ("bitget", "perp"): "POST /api/v2/mix/order/place-order",
}


def okx_failure(code: str, message: str) -> dict[str, Any]:
    return {
        "code": "1",
        "msg": "All operations failed",
        "data": [{"clOrdId": "g1L100B0", "ordId": "", "sCode": code, "sMsg": message, "tag": ""}],
        "inTime": "1",
        "outTime": "2",
    }


def bybit_failure(code: int, message: str) -> dict[str, Any]:
    return {"retCode": code, "retMsg": message, "result": {}, "retExtInfo": {}, "time": 1718000000000}


def bitget_failure(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "msg": message, "requestTime": 1718000000000, "data": None}


VENUE_ERRORS = [
    # (venue, market, HTTP status, recorded body, expected error, venue code)
    (
        "binance",
        "perp",
        400,
        {
            "code": -5022,
            "msg": "Due to the order could not be executed as maker, the Post Only order will be rejected. "
            "The order will not be recorded in the order history",
        },
        PostOnlyWouldCross,
        "-5022",
    ),
    (
        "binance",
        "perp",
        400,
        {"code": -4116, "msg": "ClientOrderId is duplicated."},
        DuplicateClientOrderId,
        "-4116",
    ),
    ("binance", "perp", 400, {"code": -2019, "msg": "Margin is insufficient."}, InsufficientMargin, "-2019"),
    (
        "binance",
        "perp",
        400,
        {
            "code": -4164,
            "msg": "Order's notional must be no smaller than 100 (unless you choose reduce only).",
        },
        MinNotional,
        "-4164",
    ),
    (
        "binance",
        "perp",
        400,
        {"code": -2022, "msg": "ReduceOnly Order is rejected."},
        ReduceOnlyRejected,
        "-2022",
    ),
    (
        "binance",
        "perp",
        401,
        {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."},
        AuthFailed,
        "-2015",
    ),
    (
        "binance",
        "spot",
        400,
        {"code": -2010, "msg": "Duplicate order sent."},
        DuplicateClientOrderId,
        "-2010",
    ),
    (
        "binance",
        "spot",
        400,
        {"code": -2010, "msg": "Order would immediately match and take."},
        PostOnlyWouldCross,
        "-2010",
    ),
    (
        "binance",
        "spot",
        400,
        {"code": -2010, "msg": "Account has insufficient balance for requested action."},
        InsufficientMargin,
        "-2010",
    ),
    # Spot, after the credentials check succeeded: ccxt raises DDoSProtection
    # ("hasAlreadyAuthenticatedSuccessfully"); the venue code says the key is refused.
    (
        "binance",
        "spot",
        401,
        {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."},
        AuthFailed,
        "-2015",
    ),
    (
        "binance",
        "spot",
        503,
        {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."},
        VenueUnavailable,
        "-1001",
    ),
    ("bybit", "spot", 503, bybit_failure(10016, "Server error."), VenueUnavailable, "10016"),
    ("bybit", "perp", 401, bybit_failure(10003, "API key is invalid."), AuthFailed, "10003"),
    ("okx", "perp", 200, okx_failure("51016", "Duplicated clOrdId"), DuplicateClientOrderId, "51016"),
    (
        "okx",
        "perp",
        200,
        okx_failure("51008", "Order failed. Insufficient USDT margin in account"),
        InsufficientMargin,
        "51008",
    ),
    (
        "okx",
        "perp",
        200,
        okx_failure(
            "51169",
            "Order failed because you don't have any positions in this direction for this contract "
            "to reduce or close.",
        ),
        ReduceOnlyRejected,
        "51169",
    ),
    (
        "okx",
        "perp",
        200,
        okx_failure("51020", "Your order should meet or exceed the minimum order amount."),
        MinNotional,
        "51020",
    ),
    (
        "bybit",
        "perp",
        200,
        bybit_failure(110072, "OrderLinkedID is duplicate"),
        DuplicateClientOrderId,
        "110072",
    ),
    (
        "bybit",
        "perp",
        200,
        bybit_failure(110007, "ab not enough for new order"),
        InsufficientMargin,
        "110007",
    ),
    (
        "bybit",
        "perp",
        200,
        bybit_failure(110017, "Reduce-only rule not satisfied"),
        ReduceOnlyRejected,
        "110017",
    ),
    (
        "bybit",
        "perp",
        200,
        bybit_failure(110094, "Order notional value below the lower limit"),
        MinNotional,
        "110094",
    ),
    (
        "bybit",
        "spot",
        200,
        bybit_failure(170218, "The LIMIT-MAKER order is rejected due to invalid price."),
        PostOnlyWouldCross,
        "170218",
    ),
    ("bybit", "perp", 200, bybit_failure(10006, "Too many visits!"), VenueRateLimited, "10006"),
    (
        "gate",
        "perp",
        400,
        {"label": "ORDER_POC_IMMEDIATE", "detail": "order price 60000.1 while counter price 59990"},
        PostOnlyWouldCross,
        "ORDER_POC_IMMEDIATE",
    ),
    (
        "gate",
        "perp",
        400,
        {"label": "INSUFFICIENT_AVAILABLE", "message": "Insufficient available balance"},
        InsufficientMargin,
        "INSUFFICIENT_AVAILABLE",
    ),
    (
        "gate",
        "perp",
        400,
        {"label": "INCREASE_POSITION", "message": "reduce-only order would increase position"},
        ReduceOnlyRejected,
        "INCREASE_POSITION",
    ),
    (
        "gate",
        "perp",
        401,
        {"label": "INVALID_KEY", "message": "Invalid key provided"},
        AuthFailed,
        "INVALID_KEY",
    ),
    ("bitget", "perp", 400, bitget_failure("40786", "Duplicate clientOid"), DuplicateClientOrderId, "40786"),
    ("bitget", "perp", 400, bitget_failure("43012", "Insufficient balance"), InsufficientMargin, "43012"),
    (
        "bitget",
        "perp",
        400,
        bitget_failure("45110", "less than the minimum amount 5 USDT"),
        MinNotional,
        "45110",
    ),
    ("bitget", "perp", 400, bitget_failure("22002", "No position to close"), ReduceOnlyRejected, "22002"),
]


def buy(venue: str, market: str) -> OrderRequest:
    perp = market == "perp"
    return OrderRequest(
        client_order_id="g1L100B0",
        symbol="BTC/USDT:USDT" if perp else "BTC/USDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        price=Decimal("60000.1") if perp else Decimal("60000"),
        quantity=Decimal("0.01") if perp else Decimal("0.001"),
        time_in_force=TimeInForce.GTC,
        post_only=True,
        reduce_only=False,
    )


@pytest.mark.parametrize(
    ("venue", "market", "status", "body", "expected", "code"),
    VENUE_ERRORS,
    ids=[f"{c[0]}-{c[1]}-{c[5]}-{c[4].__name__}" for c in VENUE_ERRORS],
)
async def test_venue_error_bodies_are_classified(
    venue: str, market: str, status: int, body: dict[str, Any], expected: type[ServiceError], code: str
) -> None:
    adapter, session, _ = await prepared_venue(venue, market)
    try:
        session.set(PLACE_ROUTE[(venue, market)], body, status=status)
        with pytest.raises(expected) as info:
            await adapter.place_order(buy(venue, market))
        assert type(info.value) is expected
        assert info.value.metadata.get("venue_code") == code
        assert info.value.__cause__ is None
        assert info.value.__suppress_context__
    finally:
        await adapter.close()


async def test_429_honours_retry_after() -> None:
    adapter, session, _ = await prepared_venue("binance", "perp")
    try:
        session.set(
            "POST /fapi/v1/order",
            {"code": -1003, "msg": "Too many requests; current limit is 2400 requests per minute."},
            status=429,
            headers={"Retry-After": "7"},
        )
        with pytest.raises(VenueRateLimited) as info:
            await adapter.place_order(buy("binance", "perp"))
        assert info.value.retry_after == 7.0
        assert info.value.metadata["retry_after_ms"] == "7000"
    finally:
        await adapter.close()


async def test_a_rate_limit_without_retry_after_waits_for_the_venues_reset_time() -> None:
    adapter, session, _ = await prepared_venue("bybit", "perp")
    try:
        reset_ms = int(time.time() * 1000) + 5_000
        session.set(
            "POST /v5/order/create",
            bybit_failure(10006, "Too many visits!"),
            headers={"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": str(reset_ms)},
        )
        with pytest.raises(VenueRateLimited) as info:
            await adapter.place_order(buy("bybit", "perp"))
        assert info.value.retry_after is not None
        assert 0 < info.value.retry_after <= 5.0
    finally:
        await adapter.close()


def test_reset_header_forms() -> None:
    name = "X-Bapi-Limit-Reset-Timestamp"
    assert (
        reset_after_seconds({"x-bapi-limit-reset-timestamp": "1718000002500"}, name, now=1718000000.0) == 2.5
    )
    assert reset_after_seconds({name: "1717999999000"}, name, now=1718000000.0) == 0.0  # already reset
    assert reset_after_seconds({name: "soon"}, name, now=1718000000.0) is None
    assert reset_after_seconds({}, name, now=1718000000.0) is None
    assert reset_after_seconds({name: str(10**15)}, name, now=1718000000.0) == 3600.0


async def test_plain_http_failures_are_venue_unavailable_or_rate_limited() -> None:
    adapter, session, _ = await prepared_venue("okx", "perp")
    try:
        session.set("GET /api/v5/trade/order", "<html>502 Bad Gateway</html>", status=502)
        with pytest.raises(VenueUnavailable):
            await adapter.fetch_order("BTC/USDT:USDT", order_id="1")
        session.set("GET /api/v5/trade/order", "Too Many Requests", status=429, headers={"Retry-After": "2"})
        with pytest.raises(VenueRateLimited) as info:
            await adapter.fetch_order("BTC/USDT:USDT", order_id="1")
        assert info.value.retry_after == 2.0
    finally:
        await adapter.close()


async def test_transport_failures_are_venue_unavailable() -> None:
    adapter, session, _ = await prepared_venue("bybit", "perp")
    try:
        session.fail("POST /v5/order/create", aiohttp.ClientConnectionError("connection reset"))
        with pytest.raises(VenueUnavailable):
            await adapter.place_order(buy("bybit", "perp"))
        session.fail("POST /v5/order/create", TimeoutError())
        with pytest.raises(VenueUnavailable, match="RequestTimeout"):
            await adapter.place_order(buy("bybit", "perp"))
    finally:
        await adapter.close()


async def test_order_not_found_on_lookup() -> None:
    adapter, session, _ = await prepared_venue("binance", "spot")
    try:
        session.set("GET /api/v3/order", {"code": -2013, "msg": "Order does not exist."}, status=400)
        with pytest.raises(OrderNotFound):
            await adapter.fetch_order("BTC/USDT", client_order_id="g1L100B0")
        # An id this venue could never have accepted is simply not there.
        okx, _, _ = await prepared_venue("okx", "spot")
        with pytest.raises(OrderNotFound):
            await okx.fetch_order("BTC/USDT", client_order_id="grid_1")
        await okx.close()
    finally:
        await adapter.close()


def test_extract_code_reads_each_venues_error_envelope() -> None:
    assert extract_code(venue_row(Venue.BINANCE), {"code": -2010, "msg": "Duplicate order sent."}) == (
        "-2010",
        "Duplicate order sent.",
    )
    assert extract_code(venue_row(Venue.BINANCE), {"code": 200, "msg": "success"}) == (None, None)
    assert extract_code(venue_row(Venue.OKX), okx_failure("51016", "dup")) == ("51016", "dup")
    assert extract_code(venue_row(Venue.OKX), {"code": "50011", "msg": "Too Many Requests", "data": []}) == (
        "50011",
        "Too Many Requests",
    )
    assert extract_code(venue_row(Venue.OKX), {"code": "0", "data": [{"sCode": "0"}]}) == (None, None)
    assert extract_code(venue_row(Venue.BYBIT), bybit_failure(0, "OK")) == (None, None)
    assert extract_code(venue_row(Venue.GATE), {"label": "INVALID_KEY"}) == ("INVALID_KEY", None)
    assert extract_code(venue_row(Venue.BITGET), bitget_failure("00000", "success")) == (None, None)
    assert extract_code(venue_row(Venue.BITGET), [1, 2]) == (None, None)


def test_retry_after_header_forms() -> None:
    assert retry_after_seconds({"retry-after": "12"}) == 12.0
    assert retry_after_seconds({"Retry-After": "0.5"}) == 0.5
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0) == 10.0
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412490.0) == 0.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None
    assert retry_after_seconds(None) is None


# -- secrets ----------------------------------------------------------------------------


def test_sanitizer_removes_credentials_and_signatures() -> None:
    sanitize = Sanitizer([API_KEY, API_SECRET, API_PASSPHRASE])
    text = (
        f"binance GET https://api.binance.com/api/v3/order?symbol=BTCUSDT&timestamp=1&signature=deadbeef99"
        f"&apiKey={API_KEY} headers {{'X-MBX-APIKEY': '{API_KEY}', "
        f"'OK-ACCESS-PASSPHRASE': 'x{API_PASSPHRASE}'}}"
        f" secret={API_SECRET} listenKey=pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"
        f' "ACCESS-SIGN": "c2lnbmF0dXJl"'
    )
    clean = sanitize(text)
    for secret in (API_KEY, API_SECRET, API_PASSPHRASE, "deadbeef99", "pqia91ma19a5s61", "c2lnbmF0dXJl"):
        assert secret not in clean
    assert "symbol=BTCUSDT" in clean  # what is not secret stays readable
    listen_key = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va6"
    stream = f"NetworkError: wss://fstream.binance.com/ws/{listen_key} closed"
    assert sanitize(stream) == "NetworkError: wss://fstream.binance.com/ws/*** closed"
    assert sanitize("order 1321003749386327552 / fd4300ae-7847-404e-b947-b46980a4d140") == (
        "order 1321003749386327552 / fd4300ae-7847-404e-b947-b46980a4d140"
    )
    assert len(sanitize("x" * 1000)) <= 301


async def test_no_secret_reaches_errors_logs_or_tracebacks() -> None:
    adapter, session, _ = await prepared_venue("binance", "spot")
    try:
        # ccxt puts the request URL (signed query string) into transport errors.
        session.fail(
            "GET /api/v3/openOrders", aiohttp.ClientConnectionError(f"reset while sending key {API_KEY}")
        )
        with structlog.testing.capture_logs() as logs, pytest.raises(VenueUnavailable) as info:
            await adapter.fetch_open_orders("BTC/USDT")
        error = info.value
        rendered = "".join(traceback.format_exception(error)) + repr(logs) + str(error.to_proto())
        sent = session.requests[-1]
        assert sent.query["signature"]  # the request was signed...
        for secret in (API_KEY, API_SECRET, sent.query["signature"]):
            assert secret not in rendered  # ...but the signature never leaves
        assert "openOrders" in error.message
        assert logs
        assert logs[-1]["event"] == "venue_call_failed"
    finally:
        await adapter.close()


def test_ccxt_debug_logging_of_request_headers_is_off() -> None:
    import logging

    import opensqt_connector.ccxt_venue.exchange  # noqa: F401  (sets the levels)

    for name in ("ccxt", "ccxt.base.exchange", "ccxt.async_support.base.exchange"):
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG)
