"""Hypothesis sends thousands of random requests, valid and invalid, to a real
connector on `sim`. Every answer is OK or a precise, expected error code, and the
service keeps serving."""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt.exchange.v1 import exchange_service_pb2_grpc
from opensqt.sim.v1 import sim_service_pb2, sim_service_pb2_grpc
from opensqt_connector.testing import SYMBOL, ConnectorClient, limit_order, running_connector

OK = grpc.StatusCode.OK
INVALID = grpc.StatusCode.INVALID_ARGUMENT
# Well-formed requests may still be refused by the venue's rules or name a missing order.
VENUE_ANSWERS = frozenset({OK, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND})
T = TypeVar("T")
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
FUZZ = settings(
    max_examples=1500,
    derandomize=True,  # reproducible runs: the mix checks below must not depend on luck
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class ThreadedConnector:
    """A real connector on its own event loop thread, for synchronous hypothesis tests."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="connector-loop", daemon=True)
        self._context = running_connector("--sim-seed", "7")

    def __enter__(self) -> ConnectorClient:
        self._thread.start()
        client: ConnectorClient = self._run(self._context.__aenter__())
        return client

    def __exit__(self, *exc: object) -> None:
        self._run(self._context.__aexit__(None, None, None))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)


@dataclass
class Stubs:
    channel: grpc.Channel
    exchange: exchange_service_pb2_grpc.ExchangeServiceStub
    address: str


@pytest.fixture(scope="module")
def stubs() -> Iterator[Stubs]:
    with ThreadedConnector() as client, grpc.insecure_channel(client.address) as channel:
        sim = sim_service_pb2_grpc.SimControlServiceStub(channel)
        sim.SetBalance(
            sim_service_pb2.SetBalanceRequest(asset="USDT", amount=common_pb2.Decimal(value="1000000"))
        )
        yield Stubs(channel, exchange_service_pb2_grpc.ExchangeServiceStub(channel), client.address)


def _code(call: Any, request: Any) -> grpc.StatusCode:
    try:
        call(request, timeout=10)
    except grpc.RpcError as exc:
        code: grpc.StatusCode = exc.code()
        return code
    return OK


# -- decimal fields: (wire text or None for unset, valid?) ------------------------------


def mostly(valid: st.SearchStrategy[T], invalid: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """Nine draws in ten from `valid`, so that whole requests are often well-formed."""
    return st.integers(0, 99).flatmap(lambda k: invalid if 40 <= k < 50 else valid)


def _multiples(step: Decimal, low: int, high: int) -> st.SearchStrategy[tuple[str | None, bool]]:
    return st.integers(low, high).map(lambda k: (str(k * step), True))


def _not_a_positive_number(text: str) -> bool:
    try:
        value = Decimal(text.strip())
    except ArithmeticError:
        return True
    return not value.is_finite() or value <= 0 or len(text) > 64


_BAD_DECIMALS = st.sampled_from(
    ["0", "-1", "-0.1", "NaN", "nan", "Infinity", "-Infinity", "inf", "1e30", "1E+19", "", " ", "1,5", "0x10"]
).map(lambda text: (text, False)) | st.text(max_size=70).filter(_not_a_positive_number).map(
    lambda t: (t, False)
)


def prices() -> st.SearchStrategy[tuple[str | None, bool]]:
    near_market = _multiples(Decimal("0.1"), 500_000, 700_000)
    anywhere = _multiples(Decimal("0.1"), 1, 10**7)
    off_tick = st.integers(1, 10**6).map(lambda k: (f"{k}.05", False))
    return mostly(near_market | anywhere, _BAD_DECIMALS | off_tick | st.just((None, False)))


def quantities() -> st.SearchStrategy[tuple[str | None, bool]]:
    off_step = st.integers(0, 1000).map(lambda k: (f"{k}.0005", False))
    valid = _multiples(Decimal("0.001"), 1, 50) | _multiples(Decimal("0.001"), 1, 5_000)
    return mostly(valid, _BAD_DECIMALS | off_step | st.just((None, False)))


client_order_ids = mostly(st.from_regex(CLIENT_ID, fullmatch=True), st.text(max_size=40))
symbols = mostly(
    st.just(SYMBOL),
    st.sampled_from(["", "ETH/USDT:USDT", "BTC/USDT", "btc/usdt:usdt"]) | st.text(max_size=20),
)
enum_numbers = mostly(st.sampled_from([0, 1, 2, 3]), st.integers(-(2**31), 2**31 - 1))
_BAD_ENUMS = st.sampled_from([0, 3]) | st.integers(-(2**31), 2**31 - 1)
sides = mostly(st.sampled_from([1, 2]), _BAD_ENUMS)
order_types = mostly(st.sampled_from([1, 2]), _BAD_ENUMS)


@st.composite
def place_requests(draw: st.DrawFn) -> tuple[pb.PlaceOrderRequest, bool]:
    """A PlaceOrderRequest and whether it is well-formed (passes validation)."""
    cid = draw(client_order_ids)
    symbol = draw(symbols)
    side, order_type, tif = draw(sides), draw(order_types), draw(enum_numbers)
    price, price_ok = draw(prices())
    quantity, quantity_ok = draw(quantities())
    post_only, reduce_only = draw(mostly(st.just(False), st.just(True))), draw(st.booleans())
    request = pb.PlaceOrderRequest(
        client_order_id=cid,
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        type=order_type,  # type: ignore[arg-type]
        time_in_force=tif,  # type: ignore[arg-type]
        post_only=post_only,
        reduce_only=reduce_only,
    )
    if price is not None:
        request.price.SetInParent()
        request.price.value = price
    if quantity is not None:
        request.quantity.SetInParent()
        request.quantity.value = quantity
    valid = (
        bool(CLIENT_ID.fullmatch(cid))
        and symbol == SYMBOL
        and side in (1, 2)
        and order_type in (1, 2)
        and quantity_ok
    )
    if order_type == common_pb2.ORDER_TYPE_LIMIT:
        valid = valid and price_ok and tif in (1, 2, 3) and not (post_only and tif != 1)
    else:
        valid = valid and price is None and tif in (0, 2) and not post_only
    return request, valid


@st.composite
def order_refs(draw: st.DrawFn) -> tuple[str, str, bool]:
    """(client_order_id, order_id, well-formed) for cancel and get."""
    kind = draw(st.sampled_from(["client", "venue", "none"]))
    if kind == "client":
        cid = draw(client_order_ids)
        return cid, "", bool(CLIENT_ID.fullmatch(cid))
    if kind == "venue":
        oid = draw(st.from_regex(r"[0-9]{1,6}", fullmatch=True) | st.text(max_size=70))
        return "", oid, bool(re.fullmatch(r"[A-Za-z0-9_\-:.]{1,64}", oid))
    return "", "", False


@st.composite
def any_request(draw: st.DrawFn) -> tuple[str, Any, bool]:
    """(rpc name, request, well-formed) for any unary RPC."""
    rpc = draw(
        st.sampled_from(
            ["PlaceOrder"] * 6
            + ["CancelOrder", "GetOrder", "CancelAllOrders", "SetLeverage", "GetKlines", "GetMarket"]
        )
    )
    if rpc == "PlaceOrder":
        request, valid = draw(place_requests())
        return rpc, request, valid
    symbol = draw(symbols)
    if rpc in ("CancelOrder", "GetOrder"):
        cid, oid, ref_ok = draw(order_refs())
        message_type = pb.CancelOrderRequest if rpc == "CancelOrder" else pb.GetOrderRequest
        ref_request = message_type(symbol=symbol)
        if cid:
            ref_request.client_order_id = cid
        if oid:
            ref_request.order_id = oid
        return rpc, ref_request, symbol == SYMBOL and ref_ok
    if rpc == "CancelAllOrders":
        cancel_all = pb.CancelAllOrdersRequest(symbol=symbol if draw(st.booleans()) else "")
        side = draw(st.none() | enum_numbers)
        if side is not None:
            cancel_all.side = side  # type: ignore[assignment]
        return rpc, cancel_all, cancel_all.symbol in ("", SYMBOL) and side in (None, 1, 2)
    if rpc == "SetLeverage":
        leverage, leverage_ok = draw(_multiples(Decimal(1), 1, 200) | _BAD_DECIMALS | st.just((None, False)))
        leverage_request = pb.SetLeverageRequest(symbol=symbol)
        if leverage is not None:
            leverage_request.leverage.SetInParent()
            leverage_request.leverage.value = leverage
        ok = symbol == SYMBOL and leverage_ok and leverage is not None and Decimal(leverage) <= 125
        return rpc, leverage_request, ok
    if rpc == "GetKlines":
        interval, limit = draw(enum_numbers), draw(st.integers(0, 2**32 - 1))
        klines = pb.GetKlinesRequest(symbol=symbol, interval=interval, limit=limit)  # type: ignore[arg-type]
        return rpc, klines, symbol == SYMBOL and 1 <= interval <= 9 and limit <= 1000
    return rpc, pb.GetMarketRequest(symbol=symbol), symbol == SYMBOL


def _assert_expected(rpc: str, request: Any, valid: bool, code: grpc.StatusCode) -> None:
    if valid:
        assert code in VENUE_ANSWERS, f"{rpc} {request} -> {code}"
    else:
        assert code == INVALID, f"{rpc} {request} -> {code}, expected INVALID_ARGUMENT"


def test_random_unary_requests_get_ok_or_a_precise_error(stubs: Stubs) -> None:
    seen: Counter[tuple[bool, grpc.StatusCode]] = Counter()

    @FUZZ
    @given(case=any_request())
    def send(case: tuple[str, Any, bool]) -> None:
        rpc, request, valid = case
        code = _code(getattr(stubs.exchange, rpc), request)
        _assert_expected(rpc, request, valid, code)
        seen[valid, code] += 1

    send()
    # The run really mixed both kinds, and valid orders really reached the venue.
    assert seen[False, INVALID] >= 500, seen
    assert seen[True, OK] >= 100, seen
    assert seen[True, grpc.StatusCode.FAILED_PRECONDITION] >= 3, seen


def test_random_order_streams_answer_every_request_in_order(stubs: Stubs) -> None:
    seen: Counter[tuple[bool, grpc.StatusCode]] = Counter()

    @settings(FUZZ, max_examples=80)
    @given(batch=st.lists(place_requests(), min_size=1, max_size=25))
    def send(batch: list[tuple[pb.PlaceOrderRequest, bool]]) -> None:
        stream = stubs.exchange.SubmitOrders(
            iter([pb.SubmitOrdersRequest(place=r) for r, _ in batch]), timeout=30
        )
        answers = list(stream)
        assert len(answers) == len(batch)
        for (request, valid), answer in zip(batch, answers, strict=True):
            assert answer.client_order_id == request.client_order_id[:64]
            code = OK if answer.HasField("order") else _status_code(answer.error.code)
            _assert_expected("SubmitOrders", request, valid, code)
            seen[valid, code] += 1

    send()
    assert seen[False, INVALID] >= 200, seen
    assert seen[True, OK] >= 5, seen


def _status_code(number: int) -> grpc.StatusCode:
    return next(code for code in grpc.StatusCode if code.value[0] == number)


def test_still_serving_after_the_fuzzing(stubs: Stubs) -> None:
    health = health_pb2_grpc.HealthStub(stubs.channel)
    status = health.Check(health_pb2.HealthCheckRequest(service="opensqt.exchange.v1.ExchangeService"))
    assert status.status == health_pb2.HealthCheckResponse.SERVING
    placed = stubs.exchange.PlaceOrder(limit_order("after-fuzz-ok", "buy", "100", "0.1"))
    assert placed.order.status == common_pb2.ORDER_STATUS_NEW
