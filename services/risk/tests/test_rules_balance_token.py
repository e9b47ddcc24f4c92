"""Margin reservations end only with a balance requested after the order's acknowledgement."""

from __future__ import annotations

from decimal import Decimal

from opensqt_common.enums import OrderStatus, TradingState
from opensqt_risk.rules import VetoReason, review
from opensqt_risk.rules.testing import LIMITS, NOW, buy, make_ctx, order_update

D = Decimal


def test_a_balance_requested_before_the_ack_keeps_the_reservation() -> None:
    ctx = make_ctx(free=D(100))
    first = buy("0.6", "100", coid="b1")  # margin 60 at leverage 1
    assert review(first, ctx, LIMITS, TradingState.ACTIVE, NOW).approved
    token = ctx.balance_token()  # the balance request leaves now ...
    ctx.on_order(order_update(first, OrderStatus.NEW))  # ... the ack overtakes its answer
    ctx.on_balance(D(100), token)  # figure from before the venue locked the order's margin
    assert ctx.reserved_margin == D(60)
    veto = review(buy("0.5", "100", coid="b2"), ctx, LIMITS, TradingState.ACTIVE, NOW).veto
    assert veto is not None
    assert veto.reason is VetoReason.INSUFFICIENT_MARGIN

    token = ctx.balance_token()  # requested after the ack: the venue's free nets the order
    ctx.on_balance(D(40), token)
    assert ctx.reserved_margin == D(0)
    assert ctx.available_margin == D(40)


def test_without_a_token_every_acknowledged_order_is_settled() -> None:
    ctx = make_ctx(free=D(100))
    first = buy("0.6", "100", coid="b1")
    assert review(first, ctx, LIMITS, TradingState.ACTIVE, NOW).approved
    ctx.on_order(order_update(first, OrderStatus.NEW))
    ctx.on_balance(D(40))
    assert ctx.reserved_margin == D(0)
