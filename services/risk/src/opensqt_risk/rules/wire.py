"""Exact conversions between the risk domain types and the protobuf messages.

The only module of the rules package that imports generated code. Parsing is strict:
malformed messages raise `opensqt_common.errors.InvalidArgument` naming the field
(the service answers an intent that fails to parse with `checks.invalid_intent`).
Times: google.protobuf.Timestamp <-> integer nanoseconds since the epoch.
"""

from __future__ import annotations

from decimal import Decimal

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import code_pb2

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import types_pb2 as exchange_pb2
from opensqt.risk.v1 import types_pb2 as risk_pb2
from opensqt_common import decimals
from opensqt_common.enums import ORDER_STATUS, ORDER_TYPE, SIDE, TRADING_STATE, OrderType, WireMap
from opensqt_common.errors import InvalidArgument
from opensqt_common.validation import (
    check_decimal,
    client_order_id_field,
    decimal_field,
    enum_field,
    text_field,
)
from opensqt_risk.rules.model import (
    AppliedLimit,
    Candle,
    Decision,
    Intent,
    Limits,
    OrderUpdate,
    PositionSnapshot,
    StartupCheck,
    StartupCheckKind,
    StateSource,
    StateUpdate,
    Veto,
    VetoReason,
)

VETO_REASON = WireMap(
    VetoReason,
    "VetoReason",
    {
        VetoReason.HALTED: risk_pb2.VETO_REASON_HALTED,
        VetoReason.REDUCE_ONLY: risk_pb2.VETO_REASON_REDUCE_ONLY,
        VetoReason.PRICE_BAND: risk_pb2.VETO_REASON_PRICE_BAND,
        VetoReason.MAX_QUANTITY: risk_pb2.VETO_REASON_MAX_QUANTITY,
        VetoReason.MAX_NOTIONAL: risk_pb2.VETO_REASON_MAX_NOTIONAL,
        VetoReason.MAX_POSITION: risk_pb2.VETO_REASON_MAX_POSITION,
        VetoReason.MAX_OPEN_ORDERS: risk_pb2.VETO_REASON_MAX_OPEN_ORDERS,
        VetoReason.INSUFFICIENT_MARGIN: risk_pb2.VETO_REASON_INSUFFICIENT_MARGIN,
        VetoReason.RATE: risk_pb2.VETO_REASON_RATE,
        VetoReason.STALE_MARKET_DATA: risk_pb2.VETO_REASON_STALE_MARKET_DATA,
        VetoReason.REDUCE_ONLY_INCREASES: risk_pb2.VETO_REASON_REDUCE_ONLY_INCREASES,
        VetoReason.INVALID_INTENT: risk_pb2.VETO_REASON_INVALID_INTENT,
        VetoReason.UNKNOWN_SYMBOL: risk_pb2.VETO_REASON_UNKNOWN_SYMBOL,
        VetoReason.NO_ACCOUNT_DATA: risk_pb2.VETO_REASON_NO_ACCOUNT_DATA,
    },
)
STATE_SOURCE = WireMap(
    StateSource,
    "StateSource",
    {
        StateSource.STARTUP: risk_pb2.STATE_SOURCE_STARTUP,
        StateSource.OPERATOR: risk_pb2.STATE_SOURCE_OPERATOR,
        StateSource.CRASH_DETECTOR: risk_pb2.STATE_SOURCE_CRASH_DETECTOR,
        StateSource.DRAWDOWN: risk_pb2.STATE_SOURCE_DRAWDOWN,
    },
)
STARTUP_CHECK_KIND = WireMap(
    StartupCheckKind,
    "StartupCheckKind",
    {
        StartupCheckKind.BALANCE: risk_pb2.STARTUP_CHECK_KIND_BALANCE,
        StartupCheckKind.LEVERAGE: risk_pb2.STARTUP_CHECK_KIND_LEVERAGE,
        StartupCheckKind.CAPACITY: risk_pb2.STARTUP_CHECK_KIND_CAPACITY,
        StartupCheckKind.FEE_PROFITABILITY: risk_pb2.STARTUP_CHECK_KIND_FEE_PROFITABILITY,
    },
)

_D = decimals.to_proto
_NANOS = 1_000_000_000
_MAX_SYMBOL = 64


def _signed(message: Message, field: str) -> Decimal:
    """A required decimal field of any sign."""
    value = decimal_field(message, field, positive=False)
    assert value is not None
    return value


# ------------------------------------------------------------------------ time


def timestamp_to_ns(timestamp: Timestamp) -> int:
    return int(timestamp.ToNanoseconds())


def ns_to_timestamp(nanos: int) -> Timestamp:
    timestamp = Timestamp()
    timestamp.FromNanoseconds(nanos)
    return timestamp


# ---------------------------------------------------------------------- intents


# Parsed positive decimals by their wire text. Grid engines send the same few price
# levels and quantities over and over; a hit skips re-parsing (Decimals are immutable,
# so sharing one is safe). Only texts that passed `check_decimal` are stored; the
# cache is emptied when full, so a stream of distinct values costs one parse each.
_POSITIVE_DECIMALS: dict[str, Decimal] = {}
_POSITIVE_DECIMALS_MAX = 4096


def _positive_decimal(text: str, field: str) -> Decimal:
    """`check_decimal(text, field)` (strictly positive), memoised by text."""
    value = _POSITIVE_DECIMALS.get(text)
    if value is None:
        value = check_decimal(text, field)
        if len(_POSITIVE_DECIMALS) >= _POSITIVE_DECIMALS_MAX:
            _POSITIVE_DECIMALS.clear()
        _POSITIVE_DECIMALS[text] = value
    return value


def intent_from_proto(message: risk_pb2.OrderIntent) -> Intent:
    """Parse an intent strictly; raises InvalidArgument naming the bad field.

    The ReviewOrders hot path: the fields are read directly (no generic field lookup)
    with the same rules and messages as `opensqt_common.validation`.
    """
    client_order_id = client_order_id_field(message.client_order_id)
    symbol = message.symbol
    if not symbol:
        raise InvalidArgument("symbol", "is required")
    if len(symbol) > _MAX_SYMBOL:
        raise InvalidArgument("symbol", f"must be at most {_MAX_SYMBOL} characters (got {len(symbol)})")
    side = enum_field(message.side, SIDE, "side")
    order_type = enum_field(message.type, ORDER_TYPE, "type")
    if not message.HasField("quantity"):
        raise InvalidArgument("quantity", "is required")
    quantity = _positive_decimal(message.quantity.value, "quantity")
    price = _positive_decimal(message.price.value, "price") if message.HasField("price") else None
    if order_type is OrderType.LIMIT and price is None:
        raise InvalidArgument("price", "is required for a LIMIT order")
    if order_type is OrderType.MARKET and price is not None:
        raise InvalidArgument("price", "must be unset for a MARKET order")
    return Intent(
        client_order_id,
        symbol,
        side,
        order_type,
        price,
        quantity,
        message.reduce_only,
        message.post_only,
        message.strategy_id,
    )


def intent_to_proto(intent: Intent, trace_context: dict[str, str] | None = None) -> risk_pb2.OrderIntent:
    message = risk_pb2.OrderIntent(
        client_order_id=intent.client_order_id,
        symbol=intent.symbol,
        side=SIDE.to_proto(intent.side),  # type: ignore[arg-type]
        type=ORDER_TYPE.to_proto(intent.type),  # type: ignore[arg-type]
        quantity=_D(intent.quantity),
        reduce_only=intent.reduce_only,
        post_only=intent.post_only,
        strategy_id=intent.strategy_id,
        trace_context=trace_context or {},
    )
    if intent.price is not None:
        message.price.CopyFrom(_D(intent.price))
    return message


# -------------------------------------------------------------------- decisions


def decision_to_proto(decision: Decision) -> risk_pb2.RiskDecision:
    message = risk_pb2.RiskDecision()
    fill_decision(message, decision)
    return message


def fill_decision(message: risk_pb2.RiskDecision, decision: Decision) -> None:
    """Write `decision` into an empty `message` (e.g. a response's own field: no copy)."""
    message.client_order_id = decision.client_order_id
    seconds, nanos = divmod(decision.decided_at_ns, _NANOS)
    stamp = message.decided_at
    stamp.seconds = seconds
    stamp.nanos = nanos
    veto = decision.veto
    if veto is None:
        message.approved = True
        return
    message.reason = VETO_REASON.to_proto(veto.reason)  # type: ignore[assignment]
    message.detail = veto.detail
    for applied in veto.limits:
        message.limits.add(name=applied.name, limit=_D(applied.limit), value=_D(applied.value))
    if veto.reason is VetoReason.INVALID_INTENT:
        message.error.CopyFrom(
            common_pb2.Error(
                code=code_pb2.INVALID_ARGUMENT,
                reason=common_pb2.ERROR_REASON_INVALID_ARGUMENT,
                message=veto.detail,
                metadata={"field": veto.field} if veto.field else {},
            )
        )


def decision_from_proto(message: risk_pb2.RiskDecision) -> Decision:
    """The engine's view of a decision (`closing` is not on the wire and reads False)."""
    decided_at_ns = timestamp_to_ns(message.decided_at)
    if message.approved:
        return Decision(message.client_order_id, None, decided_at_ns)
    veto = Veto(
        reason=enum_field(message.reason, VETO_REASON, "reason"),
        detail=message.detail,
        limits=tuple(
            AppliedLimit(applied.name, _signed(applied, "limit"), _signed(applied, "value"))
            for applied in message.limits
        ),
        field=message.error.metadata.get("field", "") if message.HasField("error") else "",
    )
    return Decision(message.client_order_id, veto, decided_at_ns)


# ----------------------------------------------------------------------- limits


def limits_to_proto(limits: Limits) -> risk_pb2.Limits:
    return risk_pb2.Limits(
        max_order_quantity=_D(limits.max_order_quantity),
        max_order_notional=_D(limits.max_order_notional),
        max_position=_D(limits.max_position),
        max_open_orders=limits.max_open_orders,
        price_band=_D(limits.price_band),
        max_order_rate=_D(limits.max_order_rate_per_second),
        stale_after_seconds=limits.stale_after_seconds,
        drawdown_limit=_D(limits.drawdown_limit),
        drawdown_state=TRADING_STATE.to_proto(limits.drawdown_state),  # type: ignore[arg-type]
        max_leverage=_D(limits.max_leverage),
        min_slots=limits.min_slots,
    )


def limits_from_proto(message: risk_pb2.Limits) -> Limits:
    """Every field is required; raises InvalidArgument naming the first bad one."""

    def dec(name: str) -> Decimal:
        value = decimal_field(message, name, path="limits.")
        assert value is not None
        return value

    try:
        return Limits(
            max_order_quantity=dec("max_order_quantity"),
            max_order_notional=dec("max_order_notional"),
            max_position=dec("max_position"),
            max_open_orders=message.max_open_orders,
            price_band=dec("price_band"),
            max_order_rate_per_second=dec("max_order_rate"),
            stale_after_seconds=message.stale_after_seconds,
            drawdown_limit=dec("drawdown_limit"),
            drawdown_state=enum_field(message.drawdown_state, TRADING_STATE, "limits.drawdown_state"),
            max_leverage=dec("max_leverage"),
            min_slots=message.min_slots,
        )
    except InvalidArgument:
        raise
    except ValueError as exc:
        raise InvalidArgument("limits", str(exc)) from None


# ---------------------------------------------------------------- trading state


def state_update_to_proto(update: StateUpdate) -> risk_pb2.TradingStateUpdate:
    return risk_pb2.TradingStateUpdate(
        state=TRADING_STATE.to_proto(update.state),  # type: ignore[arg-type]
        reason=update.reason,
        source=STATE_SOURCE.to_proto(update.source),  # type: ignore[arg-type]
        since=ns_to_timestamp(update.since_ns),
        sequence=update.sequence,
    )


def state_update_from_proto(message: risk_pb2.TradingStateUpdate) -> StateUpdate:
    return StateUpdate(
        state=enum_field(message.state, TRADING_STATE, "state"),
        reason=message.reason,
        source=enum_field(message.source, STATE_SOURCE, "source"),
        since_ns=timestamp_to_ns(message.since),
        sequence=message.sequence,
    )


# --------------------------------------------------------------- startup checks


def startup_check_to_proto(check: StartupCheck) -> risk_pb2.StartupCheck:
    return risk_pb2.StartupCheck(
        kind=STARTUP_CHECK_KIND.to_proto(check.kind),  # type: ignore[arg-type]
        passed=check.passed,
        detail=check.detail,
        value=_D(check.value),
        threshold=_D(check.threshold),
    )


def startup_check_from_proto(message: risk_pb2.StartupCheck) -> StartupCheck:
    return StartupCheck(
        kind=enum_field(message.kind, STARTUP_CHECK_KIND, "kind"),
        passed=message.passed,
        detail=message.detail,
        value=_signed(message, "value"),
        threshold=_signed(message, "threshold"),
    )


# ------------------------------------------------------- connector stream items


def candle_from_proto(message: exchange_pb2.Kline) -> Candle:
    close = decimal_field(message, "close")
    volume = decimal_field(message, "volume", allow_zero=True)
    assert close is not None
    assert volume is not None
    return Candle(
        symbol=text_field(message.symbol, "symbol", max_length=64),
        open_time_ns=timestamp_to_ns(message.open_time),
        close=close,
        volume=volume,
        closed=message.closed,
    )


def order_update_from_proto(message: exchange_pb2.Order) -> OrderUpdate:
    quantity = decimal_field(message, "quantity", allow_zero=True)
    filled = decimal_field(message, "filled_quantity", required=False, allow_zero=True)
    assert quantity is not None
    return OrderUpdate(
        client_order_id=text_field(message.client_order_id, "client_order_id", max_length=64),
        symbol=text_field(message.symbol, "symbol", max_length=64),
        side=enum_field(message.side, SIDE, "side"),
        status=enum_field(message.status, ORDER_STATUS, "status"),
        quantity=quantity,
        filled_quantity=filled if filled is not None else Decimal(0),
        price=decimal_field(message, "price", required=False),
        reduce_only=message.reduce_only,
    )


def position_from_proto(message: exchange_pb2.Position) -> PositionSnapshot:
    quantity = _signed(message, "quantity")
    realized = decimal_field(message, "realized_pnl", required=False, positive=False)
    unrealized = decimal_field(message, "unrealized_pnl", required=False, positive=False)
    return PositionSnapshot(
        symbol=text_field(message.symbol, "symbol", max_length=64),
        quantity=quantity,
        realized_pnl=realized if realized is not None else Decimal(0),
        unrealized_pnl=unrealized if unrealized is not None else Decimal(0),
    )
