"""Retry policy, circuit breaker and ResilientVenue (opensqt_connector.resilience)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

import pytest

from opensqt_common.enums import OrderStatus, OrderType, Side, TimeInForce, Venue
from opensqt_connector.models import (
    BalanceInfo,
    FillInfo,
    KlineInfo,
    KlineInterval,
    MarketInfo,
    OrderInfo,
    OrderRequest,
    PositionInfo,
    TickerInfo,
)
from opensqt_connector.resilience import (
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
    ResilientVenue,
    RetryPolicy,
)
from opensqt_connector.venue import VenueEvents
from opensqt_connector.venue_errors import (
    DuplicateClientOrderId,
    InvalidOrder,
    OrderNotFound,
    VenueRateLimited,
    VenueUnavailable,
)


class Sleeper:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def policy(sleeper: Sleeper, **kwargs: float) -> RetryPolicy:
    return RetryPolicy(sleep=sleeper, random=lambda: 0.5, **kwargs)  # type: ignore[arg-type]


class Flaky:
    """Fails with the given errors, then returns "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


# -- RetryPolicy ----------------------------------------------------------------------


async def test_retry_honours_retry_after_from_the_venue() -> None:
    sleeper = Sleeper()
    call = Flaky(VenueRateLimited("429", retry_after=2.5), VenueUnavailable("503"))
    assert await policy(sleeper).call(call) == "ok"
    assert call.calls == 3
    # First wait is the venue's Retry-After; the second is the jittered backoff of
    # attempt 2: base 0.2 s, half fixed + half * random(0.5) = 0.15 s.
    assert sleeper.waits == [2.5, pytest.approx(0.15)]


async def test_backoff_grows_exponentially_with_jitter_and_caps() -> None:
    retry = RetryPolicy(base_delay_s=0.1, max_delay_s=0.4, random=lambda: 1.0)
    assert [retry.delay(n, None) for n in (1, 2, 3, 4, 5)] == [0.1, 0.2, 0.4, 0.4, 0.4]
    low = RetryPolicy(base_delay_s=0.1, max_delay_s=0.4, random=lambda: 0.0)
    assert [low.delay(n, None) for n in (1, 2, 3)] == [0.05, 0.1, 0.2]


async def test_retries_are_bounded_and_reraise_the_last_error() -> None:
    sleeper = Sleeper()
    call = Flaky(*(VenueUnavailable(f"down {i}") for i in range(10)))
    with pytest.raises(VenueUnavailable, match="down 2"):
        await policy(sleeper, max_attempts=3).call(call)
    assert call.calls == 3
    assert len(sleeper.waits) == 2


async def test_non_retryable_errors_are_not_retried() -> None:
    sleeper = Sleeper()
    call = Flaky(InvalidOrder("bad price"))
    with pytest.raises(InvalidOrder):
        await policy(sleeper).call(call)
    assert call.calls == 1
    assert sleeper.waits == []


async def test_a_retry_after_longer_than_the_limit_is_not_waited_for() -> None:
    sleeper = Sleeper()
    call = Flaky(VenueRateLimited("banned", retry_after=120.0))
    with pytest.raises(VenueRateLimited):
        await policy(sleeper, max_retry_after_s=30.0).call(call)
    assert call.calls == 1
    assert sleeper.waits == []


# -- CircuitBreaker -------------------------------------------------------------------


async def test_breaker_opens_after_consecutive_failures_then_half_opens_and_closes() -> None:
    clock = Clock()
    changes: list[tuple[BreakerState, BreakerState]] = []
    breaker = CircuitBreaker(
        "binance",
        failure_threshold=3,
        cooldown_s=10,
        clock=clock,
        on_change=lambda a, b: changes.append((a, b)),
    )
    failing = Flaky(*(VenueUnavailable("503") for _ in range(3)))
    for _ in range(3):
        with pytest.raises(VenueUnavailable):
            await breaker.call(failing)
    assert breaker.state is BreakerState.OPEN
    # Open: fails at once, without calling the venue.
    probe = Flaky()
    with pytest.raises(CircuitOpen) as info:
        await breaker.call(probe)
    assert probe.calls == 0
    assert info.value.metadata["retry_after_ms"] == "10000"
    clock.now += 10
    assert breaker.state is BreakerState.HALF_OPEN
    assert await breaker.call(probe) == "ok"
    assert breaker.state is BreakerState.CLOSED
    assert changes == [
        (BreakerState.CLOSED, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.CLOSED),
    ]


async def test_a_failed_probe_reopens_the_breaker() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=5, clock=clock)
    with pytest.raises(VenueUnavailable):
        await breaker.call(Flaky(VenueUnavailable("503")))
    clock.now += 5
    with pytest.raises(VenueRateLimited):
        await breaker.call(Flaky(VenueRateLimited("429")))
    assert breaker.state is BreakerState.OPEN
    clock.now += 4.9
    with pytest.raises(CircuitOpen):
        await breaker.call(Flaky())


async def test_half_open_admits_one_probe_at_a_time() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=1, clock=clock)
    breaker.record_failure()
    clock.now += 1
    breaker.acquire()  # the probe
    with pytest.raises(CircuitOpen):
        breaker.acquire()
    breaker.record_success()
    breaker.acquire()


async def test_business_errors_count_as_a_live_venue() -> None:
    breaker = CircuitBreaker(failure_threshold=2)
    with pytest.raises(VenueUnavailable):
        await breaker.call(Flaky(VenueUnavailable("503")))
    with pytest.raises(InvalidOrder):
        await breaker.call(Flaky(InvalidOrder("rejected")))
    assert breaker.consecutive_failures == 0
    with pytest.raises(VenueUnavailable):
        await breaker.call(Flaky(VenueUnavailable("503")))
    assert breaker.state is BreakerState.CLOSED


async def test_an_open_breaker_is_not_retried() -> None:
    sleeper = Sleeper()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=60, clock=Clock())
    call = Flaky(*(VenueUnavailable("503") for _ in range(5)))
    with pytest.raises(CircuitOpen):
        await policy(sleeper, max_attempts=5).call(lambda: breaker.call(call))
    assert call.calls == 1  # the first failure opened it; later attempts failed fast
    assert len(sleeper.waits) == 1


# -- ResilientVenue -------------------------------------------------------------------


def order_for(request: OrderRequest, status: OrderStatus = OrderStatus.NEW) -> OrderInfo:
    return OrderInfo(
        client_order_id=request.client_order_id,
        order_id="v-" + request.client_order_id,
        symbol=request.symbol,
        side=request.side,
        type=request.type,
        time_in_force=request.time_in_force,
        post_only=request.post_only,
        reduce_only=request.reduce_only,
        price=request.price,
        quantity=request.quantity,
        filled_quantity=Decimal(0),
        average_fill_price=None,
        status=status,
        created_ms=1,
        updated_ms=1,
    )


REQUEST = OrderRequest(
    client_order_id="g1L100B0",
    symbol="BTC/USDT:USDT",
    side=Side.BUY,
    type=OrderType.LIMIT,
    price=Decimal("60000"),
    quantity=Decimal("0.01"),
    time_in_force=TimeInForce.GTC,
    post_only=True,
    reduce_only=False,
)


class FakeVenue:
    """A venue whose place requests may land and still fail on the way back."""

    venue = Venue.SIM

    def __init__(self) -> None:
        self.orders: dict[str, OrderInfo] = {}
        self.placements = 0
        self.place_outcomes: list[str] = []  # "lost" (lands, answer lost), "fail", "ok"
        self.lookup_errors: list[Exception] = []
        self.cancel_outcomes: list[str] = []
        self.enforce_duplicates = True

    async def start(self, events: VenueEvents, kline_interval: KlineInterval) -> None:
        return None

    async def close(self) -> None:
        return None

    def markets(self) -> Mapping[str, MarketInfo]:
        return {}

    async def place_order(self, request: OrderRequest) -> OrderInfo:
        outcome = self.place_outcomes.pop(0) if self.place_outcomes else "ok"
        if outcome == "fail":
            raise VenueUnavailable("connection refused")
        if request.client_order_id in self.orders and self.enforce_duplicates:
            raise DuplicateClientOrderId("duplicate client order id")
        self.placements += 1
        order = order_for(request)
        self.orders[request.client_order_id] = order
        if outcome == "lost":
            raise VenueUnavailable("timeout after sending")
        return order

    async def fetch_order(self, symbol: str, *, client_order_id: str = "", order_id: str = "") -> OrderInfo:
        if self.lookup_errors:
            raise self.lookup_errors.pop(0)
        for order in self.orders.values():
            if client_order_id in ("", order.client_order_id) and order_id in ("", order.order_id):
                return order
        raise OrderNotFound("no such order")

    async def cancel_order(self, symbol: str, *, client_order_id: str = "", order_id: str = "") -> OrderInfo:
        order = await self.fetch_order(symbol, client_order_id=client_order_id, order_id=order_id)
        outcome = self.cancel_outcomes.pop(0) if self.cancel_outcomes else "ok"
        if order.status.is_terminal:
            raise OrderNotFound("unknown order sent")
        canceled = replace(order, status=OrderStatus.CANCELED)
        self.orders[order.client_order_id] = canceled
        if outcome == "lost":
            raise VenueUnavailable("timeout after sending")
        return canceled

    async def fetch_ticker(self, symbol: str) -> TickerInfo:
        raise VenueUnavailable("down")

    async def fetch_balances(self) -> Sequence[BalanceInfo]:
        return []

    async def fetch_positions(self, symbol: str | None) -> Sequence[PositionInfo]:
        return []

    async def cancel_all_orders(self, symbol: str | None, side: Side | None) -> Sequence[OrderInfo]:
        return []

    async def fetch_open_orders(self, symbol: str | None) -> Sequence[OrderInfo]:
        return []

    async def fetch_fills(self, symbol: str, since_ms: int) -> Sequence[FillInfo]:
        return []

    async def set_leverage(self, symbol: str, leverage: Decimal) -> Decimal:
        return leverage

    async def fetch_klines(self, symbol: str, interval: KlineInterval, limit: int) -> Sequence[KlineInfo]:
        return []


def resilient(venue: FakeVenue, sleeper: Sleeper, attempts: int = 4) -> ResilientVenue:
    return ResilientVenue(
        venue,
        policy(sleeper, max_attempts=attempts),
        CircuitBreaker(failure_threshold=10, clock=Clock()),
    )


async def test_a_lost_answer_is_found_by_lookup_instead_of_placing_again() -> None:
    venue, sleeper = FakeVenue(), Sleeper()
    venue.place_outcomes = ["lost"]
    order = await resilient(venue, sleeper).place_order(REQUEST)
    assert venue.placements == 1
    assert order.client_order_id == REQUEST.client_order_id
    assert len(sleeper.waits) == 1


async def test_a_failure_before_the_venue_is_resent_after_an_empty_lookup() -> None:
    venue, sleeper = FakeVenue(), Sleeper()
    venue.place_outcomes = ["fail", "fail", "ok"]
    order = await resilient(venue, sleeper).place_order(REQUEST)
    assert venue.placements == 1
    assert order.status is OrderStatus.NEW


async def test_a_duplicate_on_resend_returns_the_order_that_landed() -> None:
    venue, sleeper = FakeVenue(), Sleeper()
    # The first attempt lands but its answer is lost; the lookup itself fails; the
    # re-send hits the venue's duplicate check: the landed order is returned.
    venue.place_outcomes = ["lost", "ok"]
    venue.lookup_errors = [VenueUnavailable("lookup timed out")]
    order = await resilient(venue, sleeper).place_order(REQUEST)
    assert venue.placements == 1
    assert order.order_id == "v-g1L100B0"


async def test_lookup_before_retry_never_places_twice_even_without_a_duplicate_check() -> None:
    venue, sleeper = FakeVenue(), Sleeper()
    venue.enforce_duplicates = False  # like Gate, whose client ids are not unique
    venue.place_outcomes = ["lost", "lost", "lost"]
    order = await resilient(venue, sleeper).place_order(REQUEST)
    assert venue.placements == 1
    assert order.client_order_id == REQUEST.client_order_id


async def test_a_first_attempt_duplicate_goes_to_the_caller() -> None:
    venue, sleeper = FakeVenue(), Sleeper()
    venue.orders[REQUEST.client_order_id] = order_for(REQUEST)
    with pytest.raises(DuplicateClientOrderId):
        await resilient(venue, sleeper).place_order(REQUEST)
    assert venue.placements == 0


async def test_a_cancel_whose_answer_was_lost_returns_the_cancelled_order() -> None:
    venue, sleeper = FakeVenue(), Sleeper()
    venue.orders[REQUEST.client_order_id] = order_for(REQUEST)
    venue.cancel_outcomes = ["lost"]
    order = await resilient(venue, sleeper).cancel_order(
        REQUEST.symbol, client_order_id=REQUEST.client_order_id
    )
    assert order.status is OrderStatus.CANCELED


async def test_cancel_of_an_unknown_order_is_not_retried() -> None:
    venue, sleeper = FakeVenue(), Sleeper()
    with pytest.raises(OrderNotFound):
        await resilient(venue, sleeper).cancel_order(REQUEST.symbol, client_order_id="nope")
    assert sleeper.waits == []


async def test_reads_are_retried_then_give_up() -> None:
    venue, sleeper = FakeVenue(), Sleeper()
    with pytest.raises(VenueUnavailable):
        await resilient(venue, sleeper, attempts=3).fetch_ticker("BTC/USDT:USDT")
    assert len(sleeper.waits) == 2


async def test_the_wrapper_opens_its_breaker_on_a_failing_venue() -> None:
    venue, sleeper = FakeVenue(), Sleeper()
    clock = Clock()
    wrapped = ResilientVenue(
        venue,
        policy(sleeper, max_attempts=2),
        CircuitBreaker(failure_threshold=3, cooldown_s=30, clock=clock),
    )
    for _ in range(2):
        with pytest.raises(VenueUnavailable):
            await wrapped.fetch_ticker("BTC/USDT:USDT")
    assert wrapped.breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen):
        await wrapped.fetch_ticker("BTC/USDT:USDT")
    assert wrapped.venue is Venue.SIM


async def test_a_failed_half_open_probe_through_the_wrapper_reopens_the_breaker() -> None:
    venue, sleeper, clock = FakeVenue(), Sleeper(), Clock()
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=10, clock=clock)
    wrapped = ResilientVenue(venue, policy(sleeper, max_attempts=1), breaker)
    venue.place_outcomes = ["fail"] * 3
    for attempt in range(2):
        with pytest.raises(VenueUnavailable):
            await wrapped.place_order(replace_id(REQUEST, f"p{attempt}"))
    assert breaker.state is BreakerState.OPEN
    clock.now += 10
    with pytest.raises(VenueUnavailable):  # the probe is a place that fails again
        await wrapped.place_order(replace_id(REQUEST, "p2"))
    assert breaker.state is BreakerState.OPEN
    clock.now += 10
    assert (await wrapped.place_order(replace_id(REQUEST, "p3"))).client_order_id == "p3"
    assert breaker.state is BreakerState.CLOSED


async def test_a_refused_call_is_not_taken_for_a_live_venue() -> None:
    inner = CircuitBreaker(failure_threshold=1, cooldown_s=10, clock=Clock())
    inner.record_failure()  # open
    outer = CircuitBreaker(failure_threshold=2)
    outer.record_failure()
    with pytest.raises(CircuitOpen):
        await outer.call(lambda: inner.call(Flaky()))
    assert outer.consecutive_failures == 1  # not reset: the venue was never reached


def replace_id(request: OrderRequest, client_order_id: str) -> OrderRequest:
    return replace(request, client_order_id=client_order_id)
