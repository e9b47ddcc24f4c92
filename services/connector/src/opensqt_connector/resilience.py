"""Retries and a circuit breaker around any `VenueAdapter` (the ccxt adapter or `sim`).

- `RetryPolicy`: tenacity retries of retryable venue errors only (`VenueUnavailable`,
  `VenueRateLimited`), bounded attempts, exponential backoff with jitter, and a
  venue's `retry_after` honoured (a wait longer than `max_retry_after_s` is not
  waited for: the error goes to the caller, who can tell its client when to retry).
- `CircuitBreaker`: closed → open after `failure_threshold` consecutive retryable
  failures → half-open once `cooldown_s` has passed (a limited number of probe
  calls) → closed on a probe's success, open again on its failure. While open every
  call fails at once with `CircuitOpen`, which is never retried.
- `ResilientVenue`: the adapter with both applied. Reads, cancels and leverage are
  idempotent and simply retried. `place_order` is not: after a failed attempt that
  may have reached the venue, the next attempt first looks the order up by its
  client order id and re-sends only when the venue has no such order; a
  `DuplicateClientOrderId` on a re-send means an earlier attempt landed, so the
  order is fetched and returned. One client order id therefore never yields two
  orders through this wrapper.

Time and randomness are injected (`clock`, `sleep`, `random`) so tests run without
waiting.
"""

from __future__ import annotations

import asyncio
import enum
import random as _random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, stop_any
from tenacity.stop import stop_base

from opensqt_common.enums import Side, Venue
from opensqt_common.logging import get_logger
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
from opensqt_connector.venue import VenueAdapter, VenueEvents
from opensqt_connector.venue_errors import (
    RETRYABLE,
    DuplicateClientOrderId,
    OrderNotFound,
    VenueUnavailable,
)

_log = get_logger(__name__)

T = TypeVar("T")


class CircuitOpen(VenueUnavailable):
    """The venue's circuit breaker is open: the call was not attempted."""


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, RETRYABLE) and not isinstance(exc, CircuitOpen)


def _retry_after(exc: BaseException | None) -> float | None:
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, int | float) and value >= 0 else None


class _StopOnLongRetryAfter(stop_base):
    """Give up when the venue asks for a longer pause than we are willing to wait."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        retry_after = _retry_after(outcome.exception() if outcome is not None else None)
        return retry_after is not None and retry_after > self.limit_s


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a retryable venue call is repeated."""

    max_attempts: int = 4
    base_delay_s: float = 0.1
    max_delay_s: float = 5.0
    max_retry_after_s: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    random: Callable[[], float] = field(default=_random.random)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if not 0 < self.base_delay_s <= self.max_delay_s:
            raise ValueError("need 0 < base_delay_s <= max_delay_s")

    def delay(self, attempt: int, exc: BaseException | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based).

        Exponential backoff with "equal jitter" (half fixed, half random), and never
        less than the venue's Retry-After."""
        backoff = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
        jittered = backoff / 2 + backoff / 2 * self.random()
        retry_after = _retry_after(exc)
        return max(jittered, retry_after) if retry_after is not None else jittered

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        delay: float = self.delay(state.attempt_number, exc)
        return delay

    def retrying(self, operation: str = "") -> AsyncRetrying:
        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            _log.warning(
                "venue_call_retry",
                operation=operation,
                attempt=state.attempt_number,
                error=type(exc).__name__,
                wait_s=round(state.upcoming_sleep, 3),
            )

        return AsyncRetrying(
            stop=stop_any(
                stop_after_attempt(self.max_attempts), _StopOnLongRetryAfter(self.max_retry_after_s)
            ),
            wait=self._wait,
            retry=retry_if_exception(is_retryable),
            sleep=self.sleep,
            before_sleep=log_retry,
            reraise=True,
        )

    async def call(self, fn: Callable[[], Awaitable[T]], operation: str = "") -> T:
        """Call `fn`, retrying retryable failures.

        The first attempt runs outside tenacity: setting up its retry machinery costs
        several times a sim order's whole handling, and nearly every call succeeds at
        once. A retryable first failure is handed to tenacity as its first attempt's
        outcome, so stop, wait and logging apply exactly as if it had made that call.
        """
        try:
            return await fn()
        except Exception as exc:
            if not is_retryable(exc):
                raise
            first_failure: Exception | None = exc

        async def attempt() -> T:
            # A coroutine function, so tenacity awaits it (it would treat a lambda
            # returning a coroutine as a plain function).
            nonlocal first_failure
            if first_failure is not None:
                failure, first_failure = first_failure, None
                raise failure
            return await fn()

        result: T = await self.retrying(operation)(attempt)
        return result


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """A per-venue breaker counting consecutive retryable failures."""

    def __init__(
        self,
        name: str = "venue",
        *,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        half_open_max_calls: int = 1,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState, BreakerState], None] | None = None,
    ) -> None:
        if failure_threshold < 1 or half_open_max_calls < 1 or cooldown_s < 0:
            raise ValueError("failure_threshold and half_open_max_calls must be >= 1, cooldown_s >= 0")
        self.name = name
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.half_open_max_calls = half_open_max_calls
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probes = 0

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.cooldown_s:
            self._transition(BreakerState.HALF_OPEN)
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def acquire(self) -> None:
        """Admit one call or raise CircuitOpen."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and self._probes < self.half_open_max_calls:
            self._probes += 1
            return
        remaining = max(0.0, self.cooldown_s - (self._clock() - self._opened_at))
        raise CircuitOpen(
            f"{self.name}: circuit breaker open after {self._failures} consecutive failures",
            metadata={"retry_after_ms": str(max(1, round(remaining * 1000)))},
        )

    def record_success(self) -> None:
        self._failures = 0
        self._release_probe()
        if self._state is not BreakerState.CLOSED:
            self._transition(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self._failures += 1
        self._release_probe()
        if self._state is BreakerState.HALF_OPEN or (
            self._state is BreakerState.CLOSED and self._failures >= self.failure_threshold
        ):
            self._opened_at = self._clock()
            self._transition(BreakerState.OPEN)

    def record_abandoned(self) -> None:
        """A call ended without telling anything about the venue (cancelled)."""
        self._release_probe()

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        self.acquire()
        try:
            result = await fn()
        except BaseException as exc:
            if is_retryable(exc):
                self.record_failure()
            elif isinstance(exc, Exception) and not isinstance(exc, CircuitOpen):
                self.record_success()  # the venue answered, with a business error
            else:
                self.record_abandoned()  # cancelled, or never reached the venue
            raise
        self.record_success()
        return result

    def _release_probe(self) -> None:
        if self._probes:
            self._probes -= 1

    def _transition(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        if new is not BreakerState.HALF_OPEN:
            self._probes = 0
        log = _log.warning if new is BreakerState.OPEN else _log.info
        log("circuit_breaker", venue=self.name, state=new.value, previous=old.value, failures=self._failures)
        if self._on_change is not None:
            self._on_change(old, new)


class ResilientVenue:
    """A `VenueAdapter` that retries and breaks circuits around another one."""

    def __init__(
        self,
        adapter: VenueAdapter,
        retry_policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.adapter = adapter
        self.venue: Venue = adapter.venue
        self.retry_policy = retry_policy or RetryPolicy()
        self.breaker = breaker or CircuitBreaker(adapter.venue.value)

    async def _call(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        """One venue call per attempt, each through the breaker."""
        return await self.retry_policy.call(lambda: self.breaker.call(fn), operation)

    async def start(self, events: VenueEvents, kline_interval: KlineInterval) -> None:
        await self.adapter.start(events, kline_interval)

    async def close(self) -> None:
        await self.adapter.close()

    def markets(self) -> Mapping[str, MarketInfo]:
        return self.adapter.markets()

    async def fetch_ticker(self, symbol: str) -> TickerInfo:
        return await self._call("fetch_ticker", lambda: self.adapter.fetch_ticker(symbol))

    async def fetch_balances(self) -> Sequence[BalanceInfo]:
        return await self._call("fetch_balances", self.adapter.fetch_balances)

    async def fetch_positions(self, symbol: str | None) -> Sequence[PositionInfo]:
        return await self._call("fetch_positions", lambda: self.adapter.fetch_positions(symbol))

    async def place_order(self, request: OrderRequest) -> OrderInfo:
        sent = False

        async def lookup() -> OrderInfo:
            return await self.breaker.call(
                lambda: self.adapter.fetch_order(request.symbol, client_order_id=request.client_order_id)
            )

        async def attempt() -> OrderInfo:
            nonlocal sent
            resend = sent
            if resend:
                try:
                    found = await lookup()
                except OrderNotFound:
                    pass
                else:
                    _log.info("place_found_after_failure", client_order_id=request.client_order_id)
                    return found
            sent = True
            try:
                return await self.breaker.call(lambda: self.adapter.place_order(request))
            except DuplicateClientOrderId as duplicate:
                if not resend:
                    raise
                try:
                    return await lookup()
                except OrderNotFound:
                    raise duplicate from None

        # Each step inside an attempt passes the breaker itself.
        return await self.retry_policy.call(attempt, "place_order")

    async def cancel_order(self, symbol: str, *, client_order_id: str = "", order_id: str = "") -> OrderInfo:
        tried = False

        async def attempt() -> OrderInfo:
            nonlocal tried
            earlier, tried = tried, True
            try:
                return await self.breaker.call(
                    lambda: self.adapter.cancel_order(
                        symbol, client_order_id=client_order_id, order_id=order_id
                    )
                )
            except OrderNotFound:
                if not earlier:
                    raise
                # An earlier attempt may have cancelled it before its answer was lost.
                order = await self.breaker.call(
                    lambda: self.adapter.fetch_order(
                        symbol, client_order_id=client_order_id, order_id=order_id
                    )
                )
                if order.status.is_terminal:
                    return order
                raise

        return await self.retry_policy.call(attempt, "cancel_order")

    async def cancel_all_orders(self, symbol: str | None, side: Side | None) -> Sequence[OrderInfo]:
        return await self._call("cancel_all_orders", lambda: self.adapter.cancel_all_orders(symbol, side))

    async def fetch_order(self, symbol: str, *, client_order_id: str = "", order_id: str = "") -> OrderInfo:
        return await self._call(
            "fetch_order",
            lambda: self.adapter.fetch_order(symbol, client_order_id=client_order_id, order_id=order_id),
        )

    async def fetch_open_orders(self, symbol: str | None) -> Sequence[OrderInfo]:
        return await self._call("fetch_open_orders", lambda: self.adapter.fetch_open_orders(symbol))

    async def fetch_fills(self, symbol: str, since_ms: int) -> Sequence[FillInfo]:
        return await self._call("fetch_fills", lambda: self.adapter.fetch_fills(symbol, since_ms))

    async def set_leverage(self, symbol: str, leverage: Decimal) -> Decimal:
        return await self._call("set_leverage", lambda: self.adapter.set_leverage(symbol, leverage))

    async def fetch_klines(self, symbol: str, interval: KlineInterval, limit: int) -> Sequence[KlineInfo]:
        return await self._call("fetch_klines", lambda: self.adapter.fetch_klines(symbol, interval, limit))


__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpen",
    "ResilientVenue",
    "RetryPolicy",
    "is_retryable",
]
