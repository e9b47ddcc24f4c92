"""Exact decimal helpers: wire conversion, parsing and rounding to venue increments.

Money never passes through float. On the wire a decimal is a canonical string
without exponent ("0.001", "-12.5", "100").
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation

from opensqt.common.v1 import common_pb2

ZERO = Decimal(0)
ONE = Decimal(1)
# Largest magnitude accepted from the wire; anything bigger is a mistake, not an order.
MAX_MAGNITUDE = Decimal("1e18")
MAX_DIGITS = 40


class DecimalFormatError(ValueError):
    """A string is not a finite decimal number within the accepted range."""


def parse_decimal(text: str) -> Decimal:
    """Parse a decimal string strictly: finite, no more than 40 digits, |x| < 1e18."""
    if not text or len(text) > 64:
        raise DecimalFormatError(f"{text!r} is not a decimal number")
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise DecimalFormatError(f"{text!r} is not a decimal number") from None
    if not value.is_finite():
        raise DecimalFormatError(f"{text!r} is not finite")
    if abs(value) >= MAX_MAGNITUDE:
        raise DecimalFormatError(f"{text!r} is out of range (|x| must be < 1e18)")
    if len(value.as_tuple().digits) > MAX_DIGITS:
        raise DecimalFormatError(f"{text!r} has more than {MAX_DIGITS} significant digits")
    return value


def format_decimal(value: Decimal) -> str:
    """Canonical wire form: no exponent, no trailing zeros, "-0" folded to "0"."""
    if not value.is_finite():
        raise DecimalFormatError(f"{value!r} is not finite")
    if value.is_zero():
        return "0"
    text = format(value.normalize(), "f")
    return text


def to_proto(value: Decimal) -> common_pb2.Decimal:
    return common_pb2.Decimal(value=format_decimal(value))


def from_proto(message: common_pb2.Decimal) -> Decimal:
    return parse_decimal(message.value)


def round_down(value: Decimal, increment: Decimal) -> Decimal:
    """Largest multiple of `increment` that is <= value (toward minus infinity)."""
    return _round(value, increment, ROUND_FLOOR)


def round_up(value: Decimal, increment: Decimal) -> Decimal:
    """Smallest multiple of `increment` that is >= value."""
    return _round(value, increment, ROUND_CEILING)


def round_nearest(value: Decimal, increment: Decimal) -> Decimal:
    """Nearest multiple of `increment` (ties to even)."""
    return _round(value, increment, ROUND_HALF_EVEN)


def is_multiple(value: Decimal, increment: Decimal) -> bool:
    return increment > 0 and (value % increment).is_zero()


def _round(value: Decimal, increment: Decimal, rounding: str) -> Decimal:
    if increment <= 0:
        raise ValueError(f"increment must be positive, got {increment}")
    steps = (value / increment).to_integral_value(rounding=rounding)
    return steps * increment
