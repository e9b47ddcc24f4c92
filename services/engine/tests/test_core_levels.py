"""Level arithmetic: tick grid, windows with the 0.1·interval buffer, order sizes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opensqt_common.decimals import round_nearest
from opensqt_engine.core import (
    LevelGrid,
    MarketRules,
    anchor_on_tick,
    buy_quantity,
    sell_quantity,
    size_problem,
)

D = Decimal


def test_exact_levels_when_interval_is_on_the_tick_grid() -> None:
    grid = LevelGrid(D("100"), D("2.5"), D("0.5"))
    assert [grid.price(k) for k in (-2, -1, 0, 1, 2)] == [D("95"), D("97.5"), D("100"), D("102.5"), D("105")]


def test_levels_are_rounded_to_the_tick_when_the_interval_is_not() -> None:
    grid = LevelGrid(D("100"), D("0.25"), D("0.1"))
    # 100.25 → 100.2 and 100.75 → 100.8 (nearest, ties to even)
    assert [grid.price(k) for k in range(4)] == [D("100"), D("100.2"), D("100.5"), D("100.8")]
    assert grid.price(-1) == D("99.8")


def test_interval_below_tick_is_refused() -> None:
    with pytest.raises(ValueError, match="tick"):
        LevelGrid(D("100"), D("0.05"), D("0.1"))


def test_anchor_is_put_on_the_tick_grid() -> None:
    assert anchor_on_tick(D("100.04"), D("0.1")) == D("100.0")
    assert anchor_on_tick(D("100.06"), D("0.1")) == D("100.1")
    with pytest.raises(ValueError, match="non-positive"):
        anchor_on_tick(D("0.04"), D("0.1"))


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        (D("100"), -1),  # 100 is not below 99.9
        (D("100.1"), -1),  # threshold 100.0: 100 is not strictly below
        (D("100.11"), 0),  # threshold 100.01
        (D("99.15"), -1),  # threshold 99.05: 99 is below
        (D("99.05"), -2),  # threshold 98.95: 99 is not below
        (D("99.1"), -2),  # threshold 99.0 exactly
    ],
)
def test_buy_boundary_uses_the_tenth_interval_buffer(price: Decimal, expected: int) -> None:
    grid = LevelGrid(D("100"), D("1"), D("0.01"))
    assert grid.buy_boundary(price) == expected


@pytest.mark.parametrize(
    ("price", "expected"), [(D("100"), 1), (D("99.99"), 0), (D("100.5"), 1), (D("101"), 2), (D("98.2"), -1)]
)
def test_sell_boundary_is_the_first_level_strictly_above(price: Decimal, expected: int) -> None:
    grid = LevelGrid(D("100"), D("1"), D("0.01"))
    assert grid.sell_boundary(price) == expected


@given(
    anchor_ticks=st.integers(100, 100_000),
    interval_ticks=st.integers(10, 500),
    price_ticks=st.integers(1, 200_000),
    tick=st.sampled_from([D("0.1"), D("0.01"), D("0.5")]),
    odd=st.booleans(),
)
def test_boundaries_match_their_definitions(
    anchor_ticks: int, interval_ticks: int, price_ticks: int, tick: Decimal, odd: bool
) -> None:
    anchor = anchor_ticks * tick
    interval = interval_ticks * tick + (tick / 4 if odd else 0)
    price = price_ticks * tick
    grid = LevelGrid(anchor, interval, tick)
    kb = grid.buy_boundary(price)
    threshold = price - interval / 10
    assert grid.price(kb) < threshold <= grid.price(kb + 1)
    ka = grid.sell_boundary(price)
    assert grid.price(ka - 1) <= price < grid.price(ka)
    for k in (kb, ka, kb - 1, ka + 1):
        assert grid.price(k) == round_nearest(anchor + k * interval, tick)
        assert grid.price(k) < grid.price(k + 1)


def test_buy_quantity_rounds_down_to_step() -> None:
    assert buy_quantity(D("99"), D("10"), D("0.001")) == D("0.101")
    assert buy_quantity(D("3"), D("1"), D("0.01")) == D("0.33")
    assert buy_quantity(D("60000"), D("100"), D("0.001")) == D("0.001")
    assert buy_quantity(D("60000"), D("10"), D("0.001")) == 0


@given(
    price=st.decimals(min_value=D("0.0001"), max_value=D("1000000"), places=4),
    amount=st.decimals(min_value=D("1"), max_value=D("100000"), places=2),
    step=st.sampled_from([D("1"), D("0.1"), D("0.001"), D("0.00001"), D("5")]),
)
def test_buy_quantity_is_the_largest_step_multiple_within_the_amount(
    price: Decimal, amount: Decimal, step: Decimal
) -> None:
    quantity = buy_quantity(price, amount, step)
    assert (quantity % step) == 0
    assert quantity * price <= amount
    assert (quantity + step) * price > amount


def test_sell_quantity_rounds_the_position_down() -> None:
    assert sell_quantity(D("0.1019"), D("0.001")) == D("0.101")
    assert sell_quantity(D("0.0009"), D("0.001")) == 0


def test_size_problem() -> None:
    rules = MarketRules(
        tick_size=D("0.01"), step_size=D("0.001"), min_quantity=D("0.01"), min_notional=D("5")
    )
    assert size_problem(D("100"), D("0.05"), rules, D("0")) is None
    assert "quantity" in (size_problem(D("100"), D("0.005"), rules, D("0")) or "")
    assert "quantity" in (size_problem(D("100"), D("0"), rules, D("0")) or "")
    assert "notional" in (size_problem(D("100"), D("0.04"), rules, D("0")) or "")
    # the grid's own min order value raises the floor above the venue's
    assert "notional 5.00" in (size_problem(D("100"), D("0.05"), rules, D("6")) or "")
