from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opensqt_common.decimals import (
    DecimalFormatError,
    format_decimal,
    from_proto,
    is_multiple,
    parse_decimal,
    round_down,
    round_nearest,
    round_up,
    to_proto,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.001", Decimal("0.001")), ("-12.5", Decimal("-12.5")), ("1e2", Decimal("100")), (" 7 ", Decimal(7))],
)
def test_parse_accepts_finite_numbers(text, expected):
    assert parse_decimal(text) == expected


@pytest.mark.parametrize(
    "text", ["", "abc", "NaN", "nan", "Infinity", "-inf", "1e18", "1" * 41, "1" * 65, "0x10"]
)
def test_parse_rejects_non_finite_garbage_and_huge(text):
    with pytest.raises(DecimalFormatError):
        parse_decimal(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("100.000"), "100"),
        (Decimal("1E+2"), "100"),
        (Decimal("-0.0"), "0"),
        (Decimal("0.00012"), "0.00012"),
    ],
)
def test_format_is_canonical_without_exponent(value, text):
    assert format_decimal(value) == text


def test_rounding_to_increments():
    assert round_down(Decimal("1.23456"), Decimal("0.001")) == Decimal("1.234")
    assert round_down(Decimal("-1.2345"), Decimal("0.01")) == Decimal("-1.24")
    assert round_up(Decimal("7"), Decimal("5")) == Decimal("10")
    assert round_nearest(Decimal("0.125"), Decimal("0.01")) == Decimal("0.12")
    assert round_down(Decimal("123.4"), Decimal("5")) == Decimal("120")
    with pytest.raises(ValueError, match="positive"):
        round_down(Decimal(1), Decimal(0))


decimals = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, allow_infinity=False, places=8
)
steps = st.sampled_from(
    [Decimal("0.001"), Decimal("0.1"), Decimal("1"), Decimal("5"), Decimal("0.00001"), Decimal("0.25")]
)


@given(decimals)
def test_wire_round_trip_is_exact(value):
    assert from_proto(to_proto(value)) == value


@given(decimals, steps)
def test_round_down_is_largest_multiple_not_above(value, step):
    rounded = round_down(value, step)
    assert rounded <= value < rounded + step
    assert is_multiple(rounded, step)
    up = round_up(value, step)
    assert up - step < value <= up
