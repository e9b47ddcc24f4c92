"""Exact decimal arithmetic for the risk rules, independent of the thread's decimal context.

Every product and sum the rules compare against a limit goes through one private
context with 80 significant digits, so results never depend on whatever a library
did to `decimal.getcontext()` and products of wire decimals (at most 40 digits each,
see `opensqt_common.decimals.parse_decimal`) are exact. Limits are compared by
multiplication, never by division; division is used only for figures shown to people.
"""

from __future__ import annotations

from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)

EXACT = Context(
    prec=80,
    rounding=ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)

ZERO = Decimal(0)
ONE = Decimal(1)
NANOS_PER_SECOND = 1_000_000_000

mul = EXACT.multiply
add = EXACT.add
sub = EXACT.subtract
div = EXACT.divide

# Figures shown to people (details, report values) are quantized to this.
_DISPLAY = Decimal("1e-12")


def display(value: Decimal) -> Decimal:
    """A quotient rounded to 12 decimal places, short enough for the wire's 40-digit limit."""
    return value.quantize(_DISPLAY, context=EXACT).normalize(EXACT)


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    """numerator / denominator for display; 0 when the denominator is 0."""
    if denominator.is_zero():
        return ZERO
    return display(div(numerator, denominator))


def seconds(nanos: int) -> Decimal:
    """Nanoseconds as an exact decimal number of seconds."""
    return Decimal(nanos).scaleb(-9, EXACT)
