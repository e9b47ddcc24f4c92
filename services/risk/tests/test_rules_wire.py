"""Conversions between the risk domain types and the protobuf messages."""

from __future__ import annotations

import pytest
from google.rpc import code_pb2

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import types_pb2 as exchange_pb2
from opensqt.risk.v1 import types_pb2 as risk_pb2
from opensqt_common.enums import OrderStatus, Side, TradingState
from opensqt_common.errors import InvalidArgument
from opensqt_risk.rules import (
    AppliedLimit,
    Candle,
    Decision,
    OrderUpdate,
    PositionSnapshot,
    StartupCheck,
    StartupCheckKind,
    StateSource,
    StateUpdate,
    Veto,
    VetoReason,
    wire,
)
from opensqt_risk.rules.testing import LIMITS, NOW, SYMBOL, D, buy, market

ENUMS = [
    (wire.VETO_REASON, risk_pb2.VetoReason, VetoReason),
    (wire.STATE_SOURCE, risk_pb2.StateSource, StateSource),
    (wire.STARTUP_CHECK_KIND, risk_pb2.StartupCheckKind, StartupCheckKind),
]


@pytest.mark.parametrize(("mapping", "proto_enum", "domain"), ENUMS)
def test_enum_maps_are_bijections_onto_the_wire_values(mapping, proto_enum, domain) -> None:
    wire_numbers = {number for number in proto_enum.values() if number != 0}
    assert {mapping.to_proto(member) for member in domain} == wire_numbers
    for member in domain:
        assert mapping.from_proto(mapping.to_proto(member)) is member
        # Names line up: VETO_REASON_PRICE_BAND <-> VetoReason.PRICE_BAND.
        assert proto_enum.Name(mapping.to_proto(member)).endswith("_" + member.name)
    with pytest.raises(ValueError, match="UNSPECIFIED"):
        mapping.from_proto(0)


def _d(text: str) -> common_pb2.Decimal:
    return common_pb2.Decimal(value=text)


def test_intent_round_trip() -> None:
    for intent in (
        buy("0.00123", price="60000.5", coid="g1-L12-B-3"),
        market(Side.SELL, "2", reduce_only=True),
    ):
        message = wire.intent_to_proto(intent, {"traceparent": "00-abc"})
        assert wire.intent_from_proto(message) == intent
    assert wire.intent_to_proto(buy()).price.value == "100"
    assert not wire.intent_to_proto(market(Side.BUY, "1")).HasField("price")


def _intent_message(**fields: object) -> risk_pb2.OrderIntent:
    base: dict[str, object] = {
        "client_order_id": "c1",
        "symbol": SYMBOL,
        "side": common_pb2.SIDE_BUY,
        "type": common_pb2.ORDER_TYPE_LIMIT,
        "price": _d("100"),
        "quantity": _d("1"),
    }
    base.update(fields)
    return risk_pb2.OrderIntent(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"client_order_id": ""}, "client_order_id"),
        ({"client_order_id": "has space"}, "client_order_id"),
        ({"symbol": ""}, "symbol"),
        ({"side": common_pb2.SIDE_UNSPECIFIED}, "side"),
        ({"type": 7}, "type"),
        ({"quantity": _d("")}, "quantity"),
        ({"quantity": _d("1e400")}, "quantity"),
        ({"quantity": _d("-1")}, "quantity"),
        ({"price": _d("abc")}, "price"),
        ({"price": None}, "price"),
        ({"type": common_pb2.ORDER_TYPE_MARKET}, "price"),
    ],
)
def test_malformed_intent_raises_naming_the_field(fields: dict[str, object], field: str) -> None:
    message = _intent_message(**fields)
    with pytest.raises(InvalidArgument) as caught:
        wire.intent_from_proto(message)
    assert caught.value.field == field


def test_approved_decision_to_proto() -> None:
    message = wire.decision_to_proto(Decision("c1", None, NOW + 123, closing=True))
    assert message.approved
    assert message.reason == risk_pb2.VETO_REASON_UNSPECIFIED
    assert message.decided_at.ToNanoseconds() == NOW + 123
    assert not message.limits
    assert not message.HasField("error")
    assert wire.decision_from_proto(message) == Decision("c1", None, NOW + 123)


def test_veto_decision_round_trip_with_limits() -> None:
    veto = Veto(
        VetoReason.MAX_POSITION,
        "too big",
        (AppliedLimit("max_position", D(2), D("2.5")), AppliedLimit("x", D("-1"), D(0))),
    )
    message = wire.decision_to_proto(Decision("c1", veto, NOW))
    assert not message.approved
    assert message.reason == risk_pb2.VETO_REASON_MAX_POSITION
    assert [(a.name, a.limit.value, a.value.value) for a in message.limits] == [
        ("max_position", "2", "2.5"),
        ("x", "-1", "0"),
    ]
    assert not message.HasField("error")
    assert wire.decision_from_proto(message) == Decision("c1", veto, NOW)


def test_invalid_intent_decision_carries_an_error() -> None:
    veto = Veto(VetoReason.INVALID_INTENT, "quantity: must be > 0", field="quantity")
    message = wire.decision_to_proto(Decision("c1", veto, NOW))
    assert message.reason == risk_pb2.VETO_REASON_INVALID_INTENT
    assert message.error.code == code_pb2.INVALID_ARGUMENT
    assert message.error.reason == common_pb2.ERROR_REASON_INVALID_ARGUMENT
    assert message.error.message == "quantity: must be > 0"
    assert dict(message.error.metadata) == {"field": "quantity"}
    assert wire.decision_from_proto(message) == Decision("c1", veto, NOW)


def test_limits_round_trip() -> None:
    limits = LIMITS
    message = wire.limits_to_proto(limits)
    assert message.max_order_rate.value == "10"
    assert message.drawdown_state == common_pb2.TRADING_STATE_HALTED
    assert wire.limits_from_proto(message) == limits


def test_limits_from_proto_rejects_missing_or_invalid_fields() -> None:
    message = wire.limits_to_proto(LIMITS)
    message.ClearField("price_band")
    with pytest.raises(InvalidArgument) as caught:
        wire.limits_from_proto(message)
    assert caught.value.field == "limits.price_band"
    message = wire.limits_to_proto(LIMITS)
    message.price_band.value = "1.5"
    with pytest.raises(InvalidArgument, match="price_band must be a fraction"):
        wire.limits_from_proto(message)
    message = wire.limits_to_proto(LIMITS)
    message.drawdown_state = common_pb2.TRADING_STATE_ACTIVE
    with pytest.raises(InvalidArgument, match="drawdown_state"):
        wire.limits_from_proto(message)


def test_state_update_round_trip() -> None:
    update = StateUpdate(TradingState.REDUCE_ONLY, "loss", StateSource.DRAWDOWN, NOW + 7, 42)
    message = wire.state_update_to_proto(update)
    assert message.state == common_pb2.TRADING_STATE_REDUCE_ONLY
    assert message.source == risk_pb2.STATE_SOURCE_DRAWDOWN
    assert message.sequence == 42
    assert wire.state_update_from_proto(message) == update


def test_startup_check_round_trip() -> None:
    check = StartupCheck(StartupCheckKind.CAPACITY, False, "9 slots", D(9), D(10))
    message = wire.startup_check_to_proto(check)
    assert message.kind == risk_pb2.STARTUP_CHECK_KIND_CAPACITY
    assert (message.value.value, message.threshold.value) == ("9", "10")
    assert wire.startup_check_from_proto(message) == check


def test_connector_messages_to_domain() -> None:
    kline = exchange_pb2.Kline(
        symbol=SYMBOL,
        open_time=wire.ns_to_timestamp(NOW),
        close=_d("99.5"),
        volume=_d("0"),
        closed=True,
    )
    assert wire.candle_from_proto(kline) == Candle(SYMBOL, NOW, D("99.5"), D(0), True)
    order = exchange_pb2.Order(
        client_order_id="c1",
        symbol=SYMBOL,
        side=common_pb2.SIDE_SELL,
        status=common_pb2.ORDER_STATUS_PARTIALLY_FILLED,
        quantity=_d("1"),
        filled_quantity=_d("0.4"),
        price=_d("101"),
        reduce_only=True,
    )
    update = wire.order_update_from_proto(order)
    assert update == OrderUpdate(
        "c1", SYMBOL, Side.SELL, OrderStatus.PARTIALLY_FILLED, D(1), D("0.4"), D(101), True
    )
    assert update.remaining == D("0.6")
    market_order = exchange_pb2.Order(
        client_order_id="m1",
        symbol=SYMBOL,
        side=common_pb2.SIDE_BUY,
        status=common_pb2.ORDER_STATUS_NEW,
        quantity=_d("2"),
    )
    parsed = wire.order_update_from_proto(market_order)
    assert (parsed.price, parsed.filled_quantity) == (None, D(0))
    position = exchange_pb2.Position(
        symbol=SYMBOL, quantity=_d("-0.5"), realized_pnl=_d("-3"), unrealized_pnl=_d("1.25")
    )
    assert wire.position_from_proto(position) == PositionSnapshot(SYMBOL, D("-0.5"), D(-3), D("1.25"))
    assert wire.position_from_proto(exchange_pb2.Position(symbol=SYMBOL, quantity=_d("0"))) == (
        PositionSnapshot(SYMBOL, D(0))
    )
