"""Order-rate limiter: a token bucket over injected time, exact and deterministic.

The bucket refills at `rate` tokens per second up to a capacity of one second's worth
(at least one token), so `rate` opening orders per second pass on average and at most
`max(rate, 1)` at once. The rate is passed on every call so that a limits change takes
effect at once. Arithmetic is exact Decimal over integer nanoseconds.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from opensqt_risk.rules.arith import EXACT, NANOS_PER_SECOND, ONE, add, div, mul, sub


class TokenBucket:
    __slots__ = ("_tokens", "_updated_ns")

    def __init__(self) -> None:
        # None: never used, hence full.
        self._tokens: Decimal | None = None
        self._updated_ns = 0

    def level(self, rate: Decimal, now_ns: int) -> Decimal:
        """Tokens available at `now_ns` (a clock that steps back refills nothing)."""
        capacity = rate if rate > ONE else ONE
        tokens = self._tokens
        if tokens is None:
            return capacity
        elapsed = now_ns - self._updated_ns
        if elapsed > 0 and tokens < capacity:
            tokens = add(tokens, mul(elapsed, rate).scaleb(-9, EXACT))
        return tokens if tokens < capacity else capacity

    def allows(self, rate: Decimal, now_ns: int) -> bool:
        return self.level(rate, now_ns) >= ONE

    def take(self, rate: Decimal, now_ns: int) -> None:
        """Consume one token (the caller checked `allows`)."""
        self._tokens = sub(self.level(rate, now_ns), ONE)
        if now_ns > self._updated_ns:
            self._updated_ns = now_ns

    def wait_ns(self, rate: Decimal, now_ns: int) -> int:
        """Nanoseconds until one token is available (0 when one is)."""
        missing = sub(ONE, self.level(rate, now_ns))
        if missing <= 0:
            return 0
        return int(div(mul(missing, NANOS_PER_SECOND), rate).to_integral_value(rounding=ROUND_CEILING))
