"""Startup checks: refuse to trade, with numbers, when the setup cannot work.

All four checks are always reported, passed or not, in this order:

BALANCE            free balance > 0.
LEVERAGE           leverage <= max_leverage.
CAPACITY           whole slots = floor(free · leverage / order_amount) >= min_slots
                   (compared exactly as free · leverage >= min_slots · order_amount).
FEE_PROFITABILITY  one grid round trip earns more than its fees. Buying q at level L
                   and selling it at L + I with fee rates f_buy, f_sell (on notional):
                       profit = q·(L + I)·(1 - f_sell) - q·L·(1 + f_buy) > 0
                   <=> I · (1 - f_sell) > L · (f_buy + f_sell)
                   <=> I / L > (f_buy + f_sell) / (1 - f_sell)
                   checked exactly in the middle form at L = reference_price (levels above
                   the reference earn slightly less per unit of price). value = I / L,
                   threshold = (f_buy + f_sell) / (1 - f_sell). Both legs are charged the
                   maker fee when the grid posts post-only (the default: resting orders
                   make), the taker fee when post-only is off (a plain limit may cross).
                   Negative (rebate) fees are allowed.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from opensqt_common.decimals import format_decimal as fmt
from opensqt_risk.rules.arith import EXACT, ONE, ZERO, add, div, mul, ratio, sub
from opensqt_risk.rules.model import StartupCheck, StartupCheckKind


def run_startup_checks(
    *,
    free_balance: Decimal,
    leverage: Decimal,
    max_leverage: Decimal,
    order_amount: Decimal,
    min_slots: int,
    price_interval: Decimal,
    reference_price: Decimal,
    maker_fee: Decimal,
    taker_fee: Decimal,
    post_only: bool = True,
) -> list[StartupCheck]:
    """Run every check; raises ValueError only for inputs that make no sense at all."""
    _positive("leverage", leverage)
    _positive("max_leverage", max_leverage)
    _positive("order_amount", order_amount)
    _positive("price_interval", price_interval)
    _positive("reference_price", reference_price)
    if min_slots < 0:
        raise ValueError(f"min_slots must be >= 0, got {min_slots}")
    for name, fee in (("maker_fee", maker_fee), ("taker_fee", taker_fee)):
        if not fee.is_finite() or not -1 < fee < 1:
            raise ValueError(f"{name} must be a fraction in (-1, 1), got {fee}")
    if not free_balance.is_finite():
        raise ValueError(f"free_balance must be finite, got {free_balance}")
    fee = maker_fee if post_only else taker_fee
    return [
        check_balance(free_balance),
        check_leverage(leverage, max_leverage),
        check_capacity(free_balance, leverage, order_amount, min_slots),
        check_fee_profitability(price_interval, reference_price, fee, fee, "maker" if post_only else "taker"),
    ]


def startup_ok(checks: list[StartupCheck]) -> bool:
    return all(check.passed for check in checks)


def check_balance(free_balance: Decimal) -> StartupCheck:
    passed = free_balance > 0
    detail = (
        f"free balance {fmt(free_balance)} is available"
        if passed
        else f"no free balance: {fmt(free_balance)} (must be > 0)"
    )
    return StartupCheck(StartupCheckKind.BALANCE, passed, detail, free_balance, ZERO)


def check_leverage(leverage: Decimal, max_leverage: Decimal) -> StartupCheck:
    passed = leverage <= max_leverage
    relation = "<=" if passed else "is above the limit"
    return StartupCheck(
        StartupCheckKind.LEVERAGE,
        passed,
        f"leverage {fmt(leverage)} {relation} max_leverage {fmt(max_leverage)}",
        leverage,
        max_leverage,
    )


def check_capacity(
    free_balance: Decimal, leverage: Decimal, order_amount: Decimal, min_slots: int
) -> StartupCheck:
    buying_power = mul(free_balance, leverage)
    slots = div(buying_power, order_amount).to_integral_value(rounding=ROUND_FLOOR, context=EXACT)
    passed = buying_power >= mul(min_slots, order_amount)
    relation = ">=" if passed else "is below"
    return StartupCheck(
        StartupCheckKind.CAPACITY,
        passed,
        f"capacity: free {fmt(free_balance)} · leverage {fmt(leverage)} / order_amount "
        f"{fmt(order_amount)} = {fmt(slots)} whole slots, {relation} min_slots {min_slots}",
        slots,
        Decimal(min_slots),
    )


def check_fee_profitability(
    price_interval: Decimal, reference_price: Decimal, fee_buy: Decimal, fee_sell: Decimal, fee_kind: str
) -> StartupCheck:
    fees = add(fee_buy, fee_sell)
    keep = sub(ONE, fee_sell)
    passed = mul(price_interval, keep) > mul(reference_price, fees)
    value = ratio(price_interval, reference_price)
    threshold = ratio(fees, keep)
    break_even = ratio(mul(reference_price, fees), keep)
    verdict = "earns more than" if passed else "cannot pay"
    return StartupCheck(
        StartupCheckKind.FEE_PROFITABILITY,
        passed,
        f"interval {fmt(price_interval)} at price {fmt(reference_price)} ({fmt(value)} of the price) "
        f"{verdict} the {fee_kind}/{fee_kind} round-trip fees {fmt(fee_buy)} + {fmt(fee_sell)}: "
        f"needs interval / price > (f_buy + f_sell) / (1 - f_sell) = {fmt(threshold)}, "
        f"i.e. interval > {fmt(break_even)}",
        value,
        threshold,
    )


def _positive(name: str, value: Decimal) -> None:
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
