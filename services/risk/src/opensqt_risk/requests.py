"""Strict parsing of the unary RiskService requests; a bad field raises InvalidArgument naming it.

(ReviewOrders intents are parsed by `rules.wire.intent_from_proto`, whose failures are
answered as INVALID_INTENT decisions instead, so the stream stays up.)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from opensqt.risk.v1 import risk_service_pb2 as pb
from opensqt_common.enums import TRADING_STATE, TradingState
from opensqt_common.errors import InvalidArgument
from opensqt_common.validation import decimal_field, enum_field, text_field

MAX_REASON = 500
MAX_OPERATOR = 100
MAX_SYMBOL = 64


@dataclass(frozen=True, slots=True)
class HaltParams:
    state: TradingState
    reason: str
    operator: str


@dataclass(frozen=True, slots=True)
class ResumeParams:
    reason: str
    operator: str


@dataclass(frozen=True, slots=True)
class StartupParams:
    symbol: str
    order_amount: Decimal
    price_interval: Decimal
    leverage: Decimal | None
    reference_price: Decimal | None


def halt_params(request: pb.HaltRequest) -> HaltParams:
    state = enum_field(request.state, TRADING_STATE, "state")
    if state is TradingState.ACTIVE:
        raise InvalidArgument(
            "state", "must be TRADING_STATE_HALTED or TRADING_STATE_REDUCE_ONLY (use Resume to trade again)"
        )
    return HaltParams(
        state=state,
        reason=text_field(request.reason, "reason", max_length=MAX_REASON, required=False),
        operator=text_field(request.operator, "operator", max_length=MAX_OPERATOR, required=False),
    )


def resume_params(request: pb.ResumeRequest) -> ResumeParams:
    return ResumeParams(
        reason=text_field(request.reason, "reason", max_length=MAX_REASON, required=False),
        operator=text_field(request.operator, "operator", max_length=MAX_OPERATOR, required=False),
    )


def limits_symbol(request: pb.GetLimitsRequest) -> str:
    """The requested symbol; empty asks for the default limits."""
    return text_field(request.symbol, "symbol", max_length=MAX_SYMBOL, required=False)


def startup_params(request: pb.CheckStartupRequest) -> StartupParams:
    symbol = text_field(request.symbol, "symbol", max_length=MAX_SYMBOL)
    order_amount = decimal_field(request, "order_amount")
    price_interval = decimal_field(request, "price_interval")
    assert order_amount is not None
    assert price_interval is not None
    return StartupParams(
        symbol=symbol,
        order_amount=order_amount,
        price_interval=price_interval,
        leverage=decimal_field(request, "leverage", required=False),
        reference_price=decimal_field(request, "reference_price", required=False),
    )
