"""The ReviewOrders intent parser: the same rules and messages as the generic field
validation, with parsed prices and quantities memoised by their wire text."""

from __future__ import annotations

from decimal import Decimal

import pytest

from opensqt.common.v1 import common_pb2
from opensqt.risk.v1 import types_pb2 as risk_pb2
from opensqt_common.errors import InvalidArgument
from opensqt_common.validation import decimal_field, text_field
from opensqt_risk.rules import wire
from opensqt_risk.rules.testing import SYMBOL


def _message(quantity: str = "1", price: str | None = "100", symbol: str = SYMBOL) -> risk_pb2.OrderIntent:
    message = risk_pb2.OrderIntent(
        client_order_id="c1",
        symbol=symbol,
        side=common_pb2.SIDE_BUY,
        type=common_pb2.ORDER_TYPE_LIMIT if price is not None else common_pb2.ORDER_TYPE_MARKET,
        quantity=common_pb2.Decimal(value=quantity),
    )
    if price is not None:
        message.price.value = price
    return message


def _generic_error(message: risk_pb2.OrderIntent, field: str) -> InvalidArgument:
    """What `opensqt_common.validation.decimal_field` says about the field."""
    with pytest.raises(InvalidArgument) as caught:
        decimal_field(message, field)
    return caught.value


@pytest.mark.parametrize("text", ["", "abc", "-1", "0", "0.000", "1e400", "NaN", "Infinity", "1" * 41])
def test_a_bad_quantity_or_price_is_refused_as_the_generic_validation_refuses_it(text: str) -> None:
    # Cache the good values first: a refusal must not depend on what was parsed before.
    wire.intent_from_proto(_message("1", "100"))
    for message, field in ((_message(quantity=text), "quantity"), (_message(price=text), "price")):
        with pytest.raises(InvalidArgument) as caught:
            wire.intent_from_proto(message)
        expected = _generic_error(message, field)
        assert (caught.value.field, caught.value.description) == (expected.field, expected.description)


def test_a_repeated_text_parses_to_the_same_exact_value() -> None:
    for _ in range(3):
        intent = wire.intent_from_proto(_message("0.00100", "60000.50"))
        assert intent.quantity == Decimal("0.00100")
        assert str(intent.quantity) == "0.00100"  # as sent, exponent kept
        assert intent.price == Decimal("60000.50")
    # The same text as a price and as a quantity (both must be strictly positive).
    intent = wire.intent_from_proto(_message("7", "7"))
    assert intent.quantity == intent.price == Decimal(7)


def test_many_distinct_values_all_parse_exactly() -> None:
    # More distinct texts than the memo holds: it empties itself and every value stays exact.
    for index in range(1, 10_001):
        text = f"0.{index:06d}"
        intent = wire.intent_from_proto(_message(quantity=text, price=None))
        assert intent.quantity == Decimal(text)
        assert intent.price is None


@pytest.mark.parametrize("symbol", ["", "S" * 65])
def test_a_bad_symbol_is_refused_as_the_generic_validation_refuses_it(symbol: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        wire.intent_from_proto(_message(symbol=symbol))
    with pytest.raises(InvalidArgument) as expected:
        text_field(symbol, "symbol", max_length=64)
    assert (caught.value.field, caught.value.description) == ("symbol", expected.value.description)
