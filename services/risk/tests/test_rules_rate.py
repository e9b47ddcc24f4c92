"""The token bucket behind the order-rate check."""

from __future__ import annotations

from opensqt_risk.rules.rate import TokenBucket
from opensqt_risk.rules.testing import NOW, SEC, D


def test_a_fresh_bucket_holds_one_second_of_burst() -> None:
    bucket = TokenBucket()
    assert bucket.level(D(25), NOW) == D(25)
    for _ in range(25):
        assert bucket.allows(D(25), NOW)
        bucket.take(D(25), NOW)
    assert not bucket.allows(D(25), NOW)
    assert bucket.wait_ns(D(25), NOW) == SEC // 25


def test_refill_is_exact_and_capped() -> None:
    bucket = TokenBucket()
    bucket.take(D(4), NOW)
    bucket.take(D(4), NOW)
    assert bucket.level(D(4), NOW + SEC // 8) == D("2.5")
    assert bucket.level(D(4), NOW + 100 * SEC) == D(4)


def test_fractional_rates_hold_at_least_one_token() -> None:
    bucket = TokenBucket()
    assert bucket.level(D("0.5"), NOW) == D(1)
    bucket.take(D("0.5"), NOW)
    assert not bucket.allows(D("0.5"), NOW + 2 * SEC - 1)
    assert bucket.allows(D("0.5"), NOW + 2 * SEC)
    assert bucket.wait_ns(D("0.5"), NOW + SEC) == SEC


def test_a_clock_stepping_back_refills_nothing() -> None:
    bucket = TokenBucket()
    bucket.take(D(1), NOW)
    assert not bucket.allows(D(1), NOW - 10 * SEC)
    bucket.take(D(1), NOW - 10 * SEC)  # forced: the level may go negative, never up
    assert bucket.level(D(1), NOW) == D(-1)
    assert bucket.level(D(1), NOW + 2 * SEC) == D(1)


def test_a_rate_change_applies_at_once() -> None:
    bucket = TokenBucket()
    bucket.take(D(1), NOW)
    assert not bucket.allows(D(1), NOW + SEC // 2)
    assert bucket.allows(D(10), NOW + SEC // 2)
