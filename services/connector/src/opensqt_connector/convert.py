"""Domain records (models.py) to protobuf messages, and the kline-interval wire map.

Outbound only: the connector's records are trusted here. Inbound requests are parsed
and validated in `requests.py`.
"""

from __future__ import annotations

from decimal import Decimal

from google.protobuf import timestamp_pb2

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import types_pb2
from opensqt_common import decimals
from opensqt_common.enums import (
    MARKET_TYPE,
    ORDER_STATUS,
    ORDER_TYPE,
    SIDE,
    TIME_IN_FORCE,
    VENUE,
)
from opensqt_connector.models import (
    BalanceInfo,
    FillInfo,
    KlineInfo,
    KlineInterval,
    MarketInfo,
    OrderInfo,
    PositionInfo,
    TickerInfo,
)

_INTERVAL_TO_WIRE: dict[KlineInterval, types_pb2.KlineInterval.ValueType] = {
    KlineInterval.S1: types_pb2.KLINE_INTERVAL_1S,
    KlineInterval.M1: types_pb2.KLINE_INTERVAL_1M,
    KlineInterval.M3: types_pb2.KLINE_INTERVAL_3M,
    KlineInterval.M5: types_pb2.KLINE_INTERVAL_5M,
    KlineInterval.M15: types_pb2.KLINE_INTERVAL_15M,
    KlineInterval.M30: types_pb2.KLINE_INTERVAL_30M,
    KlineInterval.H1: types_pb2.KLINE_INTERVAL_1H,
    KlineInterval.H4: types_pb2.KLINE_INTERVAL_4H,
    KlineInterval.D1: types_pb2.KLINE_INTERVAL_1D,
}
_INTERVAL_FROM_WIRE: dict[int, KlineInterval] = {
    int(n): interval for interval, n in _INTERVAL_TO_WIRE.items()
}


def interval_to_proto(interval: KlineInterval) -> types_pb2.KlineInterval.ValueType:
    return _INTERVAL_TO_WIRE[interval]


def interval_from_proto(number: int) -> KlineInterval | None:
    """The domain interval, or None for UNSPECIFIED and unknown numbers."""
    return _INTERVAL_FROM_WIRE.get(number)


def dec(value: Decimal) -> common_pb2.Decimal:
    return decimals.to_proto(value)


def timestamp(ms: int) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromMilliseconds(ms)
    return stamp


def market_to_proto(market: MarketInfo) -> types_pb2.Market:
    return types_pb2.Market(
        symbol=market.symbol,
        venue_symbol=market.venue_symbol,
        venue=common_pb2.Venue.ValueType(VENUE.to_proto(market.venue)),
        market_type=common_pb2.MarketType.ValueType(MARKET_TYPE.to_proto(market.market_type)),
        base=market.base,
        quote=market.quote,
        settle=market.settle,
        tick_size=dec(market.tick_size),
        step_size=dec(market.step_size),
        min_quantity=dec(market.min_quantity),
        min_notional=dec(market.min_notional),
        contract_size=dec(market.contract_size),
        maker_fee=dec(market.maker_fee),
        taker_fee=dec(market.taker_fee),
        max_leverage=dec(market.max_leverage),
    )


def ticker_to_proto(ticker: TickerInfo) -> types_pb2.Ticker:
    return types_pb2.Ticker(
        symbol=ticker.symbol,
        last=dec(ticker.last),
        bid=dec(ticker.bid),
        ask=dec(ticker.ask),
        time=timestamp(ticker.time_ms),
    )


def balance_to_proto(balance: BalanceInfo) -> types_pb2.Balance:
    return types_pb2.Balance(
        asset=balance.asset, free=dec(balance.free), used=dec(balance.used), total=dec(balance.total)
    )


def position_to_proto(position: PositionInfo) -> types_pb2.Position:
    message = types_pb2.Position(
        symbol=position.symbol,
        quantity=dec(position.quantity),
        entry_price=dec(position.entry_price),
        unrealized_pnl=dec(position.unrealized_pnl),
        realized_pnl=dec(position.realized_pnl),
        leverage=dec(position.leverage),
        margin=dec(position.margin),
    )
    if position.liquidation_price is not None:
        message.liquidation_price.CopyFrom(dec(position.liquidation_price))
    return message


def order_to_proto(order: OrderInfo) -> types_pb2.Order:
    message = types_pb2.Order(
        client_order_id=order.client_order_id,
        order_id=order.order_id,
        symbol=order.symbol,
        side=common_pb2.Side.ValueType(SIDE.to_proto(order.side)),
        type=common_pb2.OrderType.ValueType(ORDER_TYPE.to_proto(order.type)),
        time_in_force=common_pb2.TimeInForce.ValueType(TIME_IN_FORCE.to_proto(order.time_in_force)),
        post_only=order.post_only,
        reduce_only=order.reduce_only,
        quantity=dec(order.quantity),
        filled_quantity=dec(order.filled_quantity),
        status=common_pb2.OrderStatus.ValueType(ORDER_STATUS.to_proto(order.status)),
        created_at=timestamp(order.created_ms),
        updated_at=timestamp(order.updated_ms),
        status_detail=order.status_detail,
    )
    if order.price is not None:
        message.price.CopyFrom(dec(order.price))
    if order.average_fill_price is not None:
        message.average_fill_price.CopyFrom(dec(order.average_fill_price))
    return message


def fill_to_proto(fill: FillInfo) -> types_pb2.Fill:
    return types_pb2.Fill(
        trade_id=fill.trade_id,
        order_id=fill.order_id,
        client_order_id=fill.client_order_id,
        symbol=fill.symbol,
        side=common_pb2.Side.ValueType(SIDE.to_proto(fill.side)),
        price=dec(fill.price),
        quantity=dec(fill.quantity),
        fee=dec(fill.fee),
        fee_asset=fill.fee_asset,
        maker=fill.maker,
        time=timestamp(fill.time_ms),
    )


def kline_to_proto(kline: KlineInfo) -> types_pb2.Kline:
    return types_pb2.Kline(
        symbol=kline.symbol,
        interval=interval_to_proto(kline.interval),
        open_time=timestamp(kline.open_time_ms),
        open=dec(kline.open),
        high=dec(kline.high),
        low=dec(kline.low),
        close=dec(kline.close),
        volume=dec(kline.volume),
        closed=kline.closed,
    )
