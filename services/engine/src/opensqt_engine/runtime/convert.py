"""Conversion at the edge: gRPC messages of the connector and risk ↔ core events and actions.

pb2 messages never reach the core; the core's dataclasses never reach the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from google.protobuf import timestamp_pb2

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import exchange_service_pb2 as exchange_pb
from opensqt.exchange.v1 import types_pb2
from opensqt.risk.v1 import types_pb2 as risk_pb2
from opensqt_common import decimals
from opensqt_common.enums import MARKET_TYPE, ORDER_STATUS, SIDE, MarketType, OrderStatus, Side
from opensqt_engine.core import (
    Fill,
    MarketRules,
    OrderUpdate,
    PlaceOrder,
    RejectReason,
    VenueOrder,
)
from opensqt_engine.journal import FillRecord, IntentRecord, Outcome

ZERO = Decimal(0)
_BUY = common_pb2.SIDE_BUY
_SELL = common_pb2.SIDE_SELL
_LIMIT = common_pb2.ORDER_TYPE_LIMIT
_GTC = common_pb2.TIME_IN_FORCE_GTC

# Venue answers that say for certain the order does not exist, and what the core calls them.
_DEFINITE_REJECTIONS: dict[int, RejectReason] = {
    common_pb2.ERROR_REASON_POST_ONLY_WOULD_CROSS: RejectReason.POST_ONLY_WOULD_CROSS,
    common_pb2.ERROR_REASON_INSUFFICIENT_MARGIN: RejectReason.INSUFFICIENT_MARGIN,
    common_pb2.ERROR_REASON_MIN_NOTIONAL: RejectReason.MIN_NOTIONAL,
    common_pb2.ERROR_REASON_INVALID_ARGUMENT: RejectReason.OTHER,
    common_pb2.ERROR_REASON_UNKNOWN_SYMBOL: RejectReason.OTHER,
    common_pb2.ERROR_REASON_INVALID_ORDER: RejectReason.OTHER,
    common_pb2.ERROR_REASON_REDUCE_ONLY_REJECTED: RejectReason.OTHER,
    common_pb2.ERROR_REASON_RATE_LIMITED: RejectReason.OTHER,
    common_pb2.ERROR_REASON_AUTH_FAILED: RejectReason.OTHER,
}

_FINAL_OUTCOMES: dict[OrderStatus, Outcome] = {
    OrderStatus.FILLED: Outcome.FILLED,
    OrderStatus.CANCELED: Outcome.CANCELED,
    OrderStatus.EXPIRED: Outcome.EXPIRED,
    OrderStatus.REJECTED: Outcome.REJECTED,
}


class MarketMismatch(ValueError):
    """The connector's market is not the one the config describes."""


def dec(value: Decimal) -> common_pb2.Decimal:
    return common_pb2.Decimal(value=decimals.format_decimal(value))


def parse(message: common_pb2.Decimal) -> Decimal:
    return decimals.parse_decimal(message.value)


def timestamp_ns(nanos: int) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(nanos)
    return stamp


def market_rules(market: types_pb2.Market) -> MarketRules:
    """Tick, step and minimums as the connector states them (never hard-coded).

    On spot the venue may take a buy's fee from the coins bought: the higher of the maker and
    taker fees bounds what a trade can lose that way (`base_fee_rate`)."""
    base_fee_rate = ZERO
    if MARKET_TYPE.from_proto(market.market_type, "market_type") is MarketType.SPOT:
        rates = [parse(f) for f in (market.maker_fee, market.taker_fee) if f.value]
        base_fee_rate = max([ZERO, *rates])
    return MarketRules(
        tick_size=parse(market.tick_size),
        step_size=parse(market.step_size),
        min_quantity=parse(market.min_quantity) if market.HasField("min_quantity") else ZERO,
        min_notional=parse(market.min_notional) if market.HasField("min_notional") else ZERO,
        base_fee_rate=base_fee_rate,
    )


def check_market(market: types_pb2.Market, expected: MarketType) -> None:
    actual = MARKET_TYPE.from_proto(market.market_type, "market_type")
    if actual is not expected:
        raise MarketMismatch(
            f"market: the connector serves {market.symbol} as {actual.value}, "
            f"but the config says {expected.value}"
        )
    contract = parse(market.contract_size) if market.HasField("contract_size") else Decimal(1)
    if contract != 1:
        raise MarketMismatch(
            f"symbol: {market.symbol} trades in contracts of {contract} base units; "
            "the grid sizes orders in base units and needs a contract size of 1"
        )


def order_status(order: types_pb2.Order) -> OrderStatus:
    return ORDER_STATUS.from_proto(order.status, "status")


def order_update(order: types_pb2.Order, now: float | None) -> OrderUpdate:
    filled = parse(order.filled_quantity) if order.HasField("filled_quantity") else ZERO
    average = parse(order.average_fill_price) if order.HasField("average_fill_price") else None
    return OrderUpdate(
        client_order_id=order.client_order_id,
        order_id=order.order_id,
        status=order_status(order),
        filled_quantity=filled,
        average_price=average,
        now=now,
    )


def venue_order(order: types_pb2.Order) -> VenueOrder:
    return VenueOrder(
        client_order_id=order.client_order_id,
        order_id=order.order_id,
        side=SIDE.from_proto(order.side, "side"),
        price=parse(order.price) if order.HasField("price") else ZERO,
        quantity=parse(order.quantity),
        filled_quantity=parse(order.filled_quantity) if order.HasField("filled_quantity") else ZERO,
        average_price=parse(order.average_fill_price) if order.HasField("average_fill_price") else None,
    )


def fill_time_ms(fill: types_pb2.Fill) -> int:
    return fill.time.seconds * 1000 + fill.time.nanos // 1_000_000


def fill_record(fill: types_pb2.Fill) -> FillRecord:
    return FillRecord(
        trade_id=fill.trade_id,
        client_order_id=fill.client_order_id,
        order_id=fill.order_id,
        symbol=fill.symbol,
        side=SIDE.from_proto(fill.side, "side"),
        price=parse(fill.price),
        quantity=parse(fill.quantity),
        fee=parse(fill.fee) if fill.HasField("fee") else ZERO,
        fee_asset=fill.fee_asset,
        time_ms=fill_time_ms(fill),
    )


def fill_event(record: FillRecord, fee_assets: frozenset[str], base_asset: str = "") -> Fill:
    """The core's fill. A fee paid in the quote (or settle) asset counts as such; one paid in
    `base_asset` (spot: taken from the coins bought) is a `base_fee`; any other asset (a
    discount token such as BNB) costs the grid nothing it holds and is left out."""
    quote_fee = record.fee if record.fee_asset in fee_assets or not record.fee_asset else ZERO
    base_fee = record.fee if base_asset and record.fee_asset == base_asset and record.fee > 0 else ZERO
    return Fill(
        client_order_id=record.client_order_id,
        trade_id=record.trade_id,
        price=record.price,
        quantity=record.quantity,
        fee=quote_fee,
        base_fee=base_fee,
    )


def intent_record(action: PlaceOrder, strategy_id: str, symbol: str, created_ms: int) -> IntentRecord:
    return IntentRecord(
        client_order_id=action.client_order_id,
        strategy_id=strategy_id,
        symbol=symbol,
        level_index=action.level_index,
        side=action.side,
        price=action.price,
        quantity=action.quantity,
        post_only=action.post_only,
        reduce_only=action.reduce_only,
        created_ms=created_ms,
    )


def place_request(
    action: PlaceOrder, symbol: str, trace_context: Mapping[str, str]
) -> exchange_pb.PlaceOrderRequest:
    return exchange_pb.PlaceOrderRequest(
        client_order_id=action.client_order_id,
        symbol=symbol,
        side=_BUY if action.side is Side.BUY else _SELL,
        type=_LIMIT,
        price=dec(action.price),
        quantity=dec(action.quantity),
        time_in_force=_GTC,
        post_only=action.post_only,
        reduce_only=action.reduce_only,
        trace_context=trace_context,
    )


def submit_place(
    action: PlaceOrder, symbol: str, trace_context: Mapping[str, str]
) -> exchange_pb.SubmitOrdersRequest:
    return exchange_pb.SubmitOrdersRequest(place=place_request(action, symbol, trace_context))


def order_intent(
    action: PlaceOrder, symbol: str, strategy_id: str, trace_context: Mapping[str, str]
) -> risk_pb2.OrderIntent:
    return risk_pb2.OrderIntent(
        client_order_id=action.client_order_id,
        symbol=symbol,
        side=_BUY if action.side is Side.BUY else _SELL,
        type=_LIMIT,
        price=dec(action.price),
        quantity=dec(action.quantity),
        reduce_only=action.reduce_only,
        post_only=action.post_only,
        strategy_id=strategy_id,
        trace_context=trace_context,
    )


def cancel_request(symbol: str, client_order_id: str) -> exchange_pb.CancelOrderRequest:
    return exchange_pb.CancelOrderRequest(symbol=symbol, client_order_id=client_order_id)


def rejection(error: common_pb2.Error) -> RejectReason | None:
    """What a place error means for the core; None when the order may exist after all
    (venue unavailable, internal error, timeout): the runtime must look it up."""
    return _DEFINITE_REJECTIONS.get(error.reason)


def error_text(error: common_pb2.Error) -> str:
    name = common_pb2.ErrorReason.Name(error.reason).removeprefix("ERROR_REASON_")
    return f"{name}: {error.message}" if error.message else name


def veto_name(reason: int) -> str:
    return risk_pb2.VetoReason.Name(reason).removeprefix("VETO_REASON_")  # type: ignore[arg-type]


def veto_rejection(decision: risk_pb2.RiskDecision) -> RejectReason:
    if decision.reason == risk_pb2.VETO_REASON_INSUFFICIENT_MARGIN:
        return RejectReason.INSUFFICIENT_MARGIN
    return RejectReason.RISK_VETO


def final_outcome(status: OrderStatus) -> Outcome | None:
    """The journal outcome of a terminal status; None while the order is open."""
    return _FINAL_OUTCOMES.get(status)
