from decimal import Decimal

import pytest

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import exchange_service_pb2
from opensqt_common import enums
from opensqt_common.errors import InvalidArgument, UnknownSymbol
from opensqt_common.validation import (
    client_order_id_field,
    decimal_field,
    enum_field,
    symbol_field,
    text_field,
)

WIRE_MAPS = [
    (enums.SIDE, common_pb2.Side),
    (enums.ORDER_TYPE, common_pb2.OrderType),
    (enums.TIME_IN_FORCE, common_pb2.TimeInForce),
    (enums.ORDER_STATUS, common_pb2.OrderStatus),
    (enums.VENUE, common_pb2.Venue),
    (enums.MARKET_TYPE, common_pb2.MarketType),
    (enums.TRADING_STATE, common_pb2.TradingState),
]


@pytest.mark.parametrize(("wire", "proto_enum"), WIRE_MAPS)
def test_every_wire_value_but_unspecified_maps_both_ways(wire, proto_enum):
    for number in proto_enum.values():
        if number == 0:
            with pytest.raises(enums.UnspecifiedEnumError, match="UNSPECIFIED"):
                wire.from_proto(number)
            continue
        assert wire.to_proto(wire.from_proto(number)) == number


def test_unknown_enum_number_is_rejected():
    with pytest.raises(enums.UnspecifiedEnumError, match="unknown Side value 99"):
        enums.SIDE.from_proto(99)


def test_terminal_statuses():
    assert {s for s in enums.OrderStatus if s.is_terminal} == {
        enums.OrderStatus.FILLED,
        enums.OrderStatus.CANCELED,
        enums.OrderStatus.REJECTED,
        enums.OrderStatus.EXPIRED,
    }


def _order(**fields):
    return exchange_service_pb2.PlaceOrderRequest(**fields)


def test_decimal_field_messages_name_the_field():
    with pytest.raises(InvalidArgument, match=r"^quantity: is required$"):
        decimal_field(_order(), "quantity")
    for bad, expected in [
        ("-1", "quantity: must be > 0 (got '-1')"),
        ("0", "quantity: must be > 0 (got '0')"),
        ("NaN", "quantity: must be a finite decimal number string"),
        ("1e30", "quantity: must be a finite decimal number string"),
    ]:
        with pytest.raises(InvalidArgument) as raised:
            decimal_field(_order(quantity=common_pb2.Decimal(value=bad)), "quantity")
        assert raised.value.message.startswith(expected)
    assert decimal_field(_order(quantity=common_pb2.Decimal(value="0.5")), "quantity") == Decimal("0.5")
    assert decimal_field(_order(), "price", required=False) is None
    assert decimal_field(_order(price=common_pb2.Decimal(value="0")), "price", allow_zero=True) == 0


def test_enum_symbol_and_id_fields():
    with pytest.raises(InvalidArgument, match="side: Side must be set"):
        enum_field(0, enums.SIDE, "side")
    assert enum_field(common_pb2.SIDE_SELL, enums.SIDE, "side") is enums.Side.SELL
    with pytest.raises(UnknownSymbol, match="unknown symbol 'DOGE/USDT'"):
        symbol_field("DOGE/USDT", {"BTC/USDT:USDT"})
    with pytest.raises(InvalidArgument, match="symbol: is required"):
        symbol_field("", {"BTC/USDT:USDT"})
    assert client_order_id_field("abc_DEF-123") == "abc_DEF-123"
    for bad in ["", "x" * 33, "has space", "semi;colon", "ümlaut"]:
        with pytest.raises(InvalidArgument, match="client_order_id"):
            client_order_id_field(bad)
    with pytest.raises(InvalidArgument, match="at most 4 characters"):
        text_field("hello", "reason", max_length=4)
