"""Fault injection for the sim venue's order entry and streams (tests and chaos runs).

`FaultConfig` is the setting (from `--sim-faults` or SimControl.SetFaults);
`FaultInjector` draws from a seeded RNG, so a seed gives the same faults every run.
Each order-entry call first waits `latency_ms`, then fails if `fail_next` is still
counting down (as unavailable), else draws once: below unavailable_rate → 5xx-like
VenueUnavailable; below + rate_limit_rate → 429-like VenueRateLimited; below
+ reject_rate (placements only) → the venue refuses the order (InvalidOrder).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, fields
from decimal import Decimal

from opensqt_common.decimals import ZERO, DecimalFormatError, parse_decimal
from opensqt_connector.venue_errors import InvalidOrder, VenueRateLimited, VenueUnavailable

DEFAULT_RETRY_AFTER_MS = 50
MAX_LATENCY_MS = 60_000


class FaultSpecError(ValueError):
    """A --sim-faults string or fault setting is malformed."""


@dataclass(frozen=True, slots=True)
class FaultConfig:
    latency_ms: int = 0
    unavailable_rate: Decimal = ZERO
    rate_limit_rate: Decimal = ZERO
    reject_rate: Decimal = ZERO
    fail_next: int = 0
    drop_streams: bool = False
    retry_after_ms: int = DEFAULT_RETRY_AFTER_MS

    def __post_init__(self) -> None:
        if not 0 <= self.latency_ms <= MAX_LATENCY_MS:
            raise FaultSpecError(f"latency_ms must be from 0 to {MAX_LATENCY_MS} (got {self.latency_ms})")
        for name in ("unavailable_rate", "rate_limit_rate", "reject_rate"):
            rate: Decimal = getattr(self, name)
            if not rate.is_finite() or not ZERO <= rate <= 1:
                raise FaultSpecError(f"{name} must be a fraction from 0 to 1 (got {rate})")
        if self.unavailable_rate + self.rate_limit_rate + self.reject_rate > 1:
            raise FaultSpecError("unavailable_rate + rate_limit_rate + reject_rate must not exceed 1")
        if self.fail_next < 0:
            raise FaultSpecError(f"fail_next must be >= 0 (got {self.fail_next})")
        if not 0 <= self.retry_after_ms <= MAX_LATENCY_MS:
            raise FaultSpecError(
                f"retry_after_ms must be from 0 to {MAX_LATENCY_MS} (got {self.retry_after_ms})"
            )


_INT_KEYS = {"latency_ms", "fail_next", "retry_after_ms"}
_RATE_KEYS = {"unavailable_rate", "rate_limit_rate", "reject_rate"}
_BOOL_KEYS = {"drop_streams"}
_BOOLS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
_WHOLE = re.compile(r"[0-9]{1,9}")
_KEYS = [f.name for f in fields(FaultConfig)]


def parse_faults(text: str) -> FaultConfig:
    """Parse "latency_ms=5,unavailable_rate=0.1,fail_next=2" (empty → no faults)."""
    values: dict[str, int | Decimal | bool] = {}
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        key, eq, value = (part.strip() for part in item.partition("="))
        if not eq or not value:
            raise FaultSpecError(f"sim faults: {item!r} must be key=value")
        if key not in _KEYS:
            raise FaultSpecError(f"sim faults: unknown key {key!r} (known: {', '.join(_KEYS)})")
        if key in values:
            raise FaultSpecError(f"sim faults: {key} is given twice")
        values[key] = _parse_value(key, value)
    try:
        return FaultConfig(**values)  # type: ignore[arg-type]
    except FaultSpecError as exc:
        raise FaultSpecError(f"sim faults: {exc}") from None


def _parse_value(key: str, value: str) -> int | Decimal | bool:
    if key in _INT_KEYS:
        if not _WHOLE.fullmatch(value):
            raise FaultSpecError(f"sim faults: {key} must be a whole number >= 0 (got {value!r})")
        return int(value)
    if key in _RATE_KEYS:
        try:
            return parse_decimal(value)
        except DecimalFormatError:
            raise FaultSpecError(f"sim faults: {key} must be a decimal fraction (got {value!r})") from None
    assert key in _BOOL_KEYS
    flag = _BOOLS.get(value.lower())
    if flag is None:
        raise FaultSpecError(f"sim faults: {key} must be true/false or 1/0 (got {value!r})")
    return flag


class FaultInjector:
    """Applies a FaultConfig to order-entry calls with a seeded RNG."""

    def __init__(self, config: FaultConfig | None = None, *, seed: int = 0) -> None:
        self._rng = random.Random(f"sim-faults:{seed}")
        self._config = FaultConfig()
        self._fail_next = 0
        self._drop_pending = False
        self.configure(config or FaultConfig())

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig) -> None:
        """Replace the faults; fail_next restarts its count, drop_streams fires once."""
        self._config = config
        self._fail_next = config.fail_next
        self._drop_pending = config.drop_streams

    @property
    def latency_s(self) -> float:
        return self._config.latency_ms / 1000

    def take_drop_streams(self) -> bool:
        """True once after drop_streams was configured."""
        pending, self._drop_pending = self._drop_pending, False
        return pending

    def check(self, operation: str, *, placement: bool) -> None:
        """Raise the injected failure for this order-entry call, if any."""
        config = self._config
        if self._fail_next > 0:
            self._fail_next -= 1
            raise VenueUnavailable(f"sim fault: {operation} failed (fail_next)")
        if not (config.unavailable_rate or config.rate_limit_rate or config.reject_rate):
            return
        draw = Decimal(self._rng.random())
        threshold = config.unavailable_rate
        if draw < threshold:
            raise VenueUnavailable(f"sim fault: {operation} got a 503")
        threshold += config.rate_limit_rate
        if draw < threshold:
            raise VenueRateLimited(
                f"sim fault: {operation} got a 429", retry_after=config.retry_after_ms / 1000
            )
        threshold += config.reject_rate
        if placement and draw < threshold:
            raise InvalidOrder(f"sim fault: the venue rejected the {operation}")
