"""Startup checks: all four always reported, each with its numbers, exact at the boundary."""

from __future__ import annotations

import pytest

from opensqt_risk.rules import StartupCheck, StartupCheckKind, run_startup_checks, startup_ok
from opensqt_risk.rules.testing import D

KINDS = [
    StartupCheckKind.BALANCE,
    StartupCheckKind.LEVERAGE,
    StartupCheckKind.CAPACITY,
    StartupCheckKind.FEE_PROFITABILITY,
]


def checks(**overrides: object) -> dict[StartupCheckKind, StartupCheck]:
    arguments: dict[str, object] = {
        "free_balance": D(1000),
        "leverage": D(5),
        "max_leverage": D(10),
        "order_amount": D(20),
        "min_slots": 10,
        "price_interval": D(50),
        "reference_price": D(60000),
        "maker_fee": D("0.0002"),
        "taker_fee": D("0.0005"),
    }
    arguments.update(overrides)
    result = run_startup_checks(**arguments)  # type: ignore[arg-type]
    assert [check.kind for check in result] == KINDS
    return {check.kind: check for check in result}


def test_a_sound_setup_passes_every_check() -> None:
    result = checks()
    assert all(check.passed for check in result.values())
    assert startup_ok(list(result.values()))
    assert result[StartupCheckKind.CAPACITY].value == D(250)


def test_every_failure_is_reported_at_once_with_numbers() -> None:
    result = checks(
        free_balance=D(0), leverage=D(20), max_leverage=D(10), price_interval=D(10), reference_price=D(60000)
    )
    assert not startup_ok(list(result.values()))
    assert [check.passed for check in result.values()] == [False, False, False, False]
    balance = result[StartupCheckKind.BALANCE]
    assert "no free balance: 0" in balance.detail
    leverage = result[StartupCheckKind.LEVERAGE]
    assert (leverage.value, leverage.threshold) == (D(20), D(10))
    assert leverage.detail == "leverage 20 is above the limit max_leverage 10"
    capacity = result[StartupCheckKind.CAPACITY]
    assert (capacity.value, capacity.threshold) == (D(0), D(10))
    assert "= 0 whole slots, is below min_slots 10" in capacity.detail


def test_capacity_boundary_is_exact() -> None:
    # 40 · 5 / 20 = exactly 10 slots.
    at = checks(free_balance=D(40))[StartupCheckKind.CAPACITY]
    assert at.passed
    assert at.value == D(10)
    below = checks(free_balance=D("39.99999999"))[StartupCheckKind.CAPACITY]
    assert not below.passed
    assert below.value == D(9)


def test_leverage_boundary() -> None:
    assert checks(leverage=D(10))[StartupCheckKind.LEVERAGE].passed
    assert not checks(leverage=D("10.0001"))[StartupCheckKind.LEVERAGE].passed


def test_fee_profitability_boundary_is_strict_and_exact() -> None:
    # I · (1 - f) > L · 2f with f = 0.5 on both legs: break-even exactly at I = 2L.
    at = checks(reference_price=D(100), price_interval=D(200), maker_fee=D("0.5"))[
        StartupCheckKind.FEE_PROFITABILITY
    ]
    assert not at.passed  # earns exactly its fees: not more
    above = checks(reference_price=D(100), price_interval=D("200.000001"), maker_fee=D("0.5"))[
        StartupCheckKind.FEE_PROFITABILITY
    ]
    assert above.passed
    assert above.threshold == D(2)
    assert above.value == D("2.00000001")


def test_fee_profitability_reports_ratio_threshold_and_break_even_interval() -> None:
    check = checks(price_interval=D(10), reference_price=D(60000))[StartupCheckKind.FEE_PROFITABILITY]
    assert not check.passed
    assert check.value == D("0.000166666667")
    assert check.threshold == D("0.000400080016")  # 0.0004 / 0.9998 = 0.00040008001600…
    assert "cannot pay the maker/maker round-trip fees 0.0002 + 0.0002" in check.detail
    assert "interval > 24.004800960192" in check.detail


def test_round_trip_uses_taker_fees_when_post_only_is_off() -> None:
    # Maker round trip: 2 · 0.0002 = 0.0004 of the price; taker: 0.001.
    interval = D(30)  # 0.0005 of 60000
    assert checks(price_interval=interval)[StartupCheckKind.FEE_PROFITABILITY].passed
    taker = checks(price_interval=interval, post_only=False)[StartupCheckKind.FEE_PROFITABILITY]
    assert not taker.passed
    assert "taker/taker" in taker.detail


def test_rebates_make_any_interval_profitable() -> None:
    assert checks(price_interval=D("0.01"), maker_fee=D("-0.0001"))[StartupCheckKind.FEE_PROFITABILITY].passed


@pytest.mark.parametrize(
    "overrides",
    [
        {"leverage": D(0)},
        {"order_amount": D(0)},
        {"price_interval": D(-1)},
        {"reference_price": D(0)},
        {"maker_fee": D(1)},
        {"taker_fee": D("NaN")},
        {"min_slots": -1},
        {"free_balance": D("Infinity")},
    ],
)
def test_nonsensical_inputs_raise(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        checks(**overrides)
