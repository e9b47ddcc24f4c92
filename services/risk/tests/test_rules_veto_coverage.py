"""Every wire VetoReason (except UNSPECIFIED, which means approved) is produced by `review`.

The registry holds one example per reason; the test enumerates the proto enum, so a
reason added to the proto without a rule producing it fails here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import pytest

from opensqt.risk.v1 import types_pb2 as risk_pb2
from opensqt_common.enums import Side, TradingState
from opensqt_risk.rules import Intent, Limits, RiskContext, VetoReason, review
from opensqt_risk.rules.testing import LIMITS, NOW, SEC, D, buy, make_ctx, market, sell
from opensqt_risk.rules.wire import VETO_REASON


class Example(NamedTuple):
    intent: Intent
    ctx: RiskContext
    state: TradingState = TradingState.ACTIVE
    limits: Limits = LIMITS
    now_ns: int = NOW


def _rate_limited() -> Example:
    limits = dataclasses.replace(LIMITS, max_order_rate_per_second=D(1))
    ctx = make_ctx()
    assert review(buy(coid="first"), ctx, limits, TradingState.ACTIVE, NOW).approved
    return Example(buy(coid="second"), ctx, limits=limits)


def _crowded() -> Example:
    ctx = make_ctx()
    for i in range(5):
        assert review(buy(coid=f"b{i}"), ctx, LIMITS, TradingState.ACTIVE, NOW).approved
    return Example(buy(coid="b5"), ctx)


EXAMPLES: dict[VetoReason, Callable[[], Example]] = {
    VetoReason.HALTED: lambda: Example(buy(), make_ctx(), TradingState.HALTED),
    VetoReason.REDUCE_ONLY: lambda: Example(buy(), make_ctx(), TradingState.REDUCE_ONLY),
    VetoReason.PRICE_BAND: lambda: Example(buy(price="106"), make_ctx()),
    VetoReason.MAX_QUANTITY: lambda: Example(buy("1.1"), make_ctx()),
    VetoReason.MAX_NOTIONAL: lambda: Example(market(Side.BUY, "1"), make_ctx(price=D(1001))),
    VetoReason.MAX_POSITION: lambda: Example(buy("0.5"), make_ctx(position=D("1.6"))),
    VetoReason.MAX_OPEN_ORDERS: _crowded,
    VetoReason.INSUFFICIENT_MARGIN: lambda: Example(buy("1"), make_ctx(free=D("99.99"))),
    VetoReason.RATE: _rate_limited,
    VetoReason.STALE_MARKET_DATA: lambda: Example(buy(), make_ctx(), now_ns=NOW + 31 * SEC),
    VetoReason.REDUCE_ONLY_INCREASES: lambda: Example(sell(reduce_only=True), make_ctx()),
    VetoReason.INVALID_INTENT: lambda: Example(buy("0"), make_ctx()),
    VetoReason.UNKNOWN_SYMBOL: lambda: Example(dataclasses.replace(buy(), symbol="DOGE/USDT"), make_ctx()),
    VetoReason.NO_ACCOUNT_DATA: lambda: Example(buy(), make_ctx(free=None)),
}

WIRE_REASONS = [
    number for number in risk_pb2.VetoReason.values() if number != risk_pb2.VETO_REASON_UNSPECIFIED
]


def test_registry_covers_the_domain_enum() -> None:
    assert set(EXAMPLES) == set(VetoReason)


@pytest.mark.parametrize("number", WIRE_REASONS, ids=lambda n: risk_pb2.VetoReason.Name(n))
def test_every_wire_reason_is_produced(number: int) -> None:
    expected = VETO_REASON.from_proto(number)
    assert expected in EXAMPLES, f"no example produces {risk_pb2.VetoReason.Name(number)}"  # type: ignore[arg-type]
    example = EXAMPLES[expected]()
    decision = review(example.intent, example.ctx, example.limits, example.state, example.now_ns)
    assert decision.veto is not None
    assert decision.veto.reason is expected
    assert decision.veto.detail
    assert VETO_REASON.to_proto(decision.veto.reason) == number
