"""Request validation: turn a bad field into INVALID_ARGUMENT with a precise message.

Every function raises `InvalidArgument(field, description)`; the message reads like
"quantity: must be > 0 (got '-1')".
"""

from __future__ import annotations

import re
from collections.abc import Container
from decimal import Decimal
from typing import TypeVar

from google.protobuf.message import Message

from opensqt.common.v1 import common_pb2
from opensqt_common.decimals import DecimalFormatError, parse_decimal
from opensqt_common.enums import UnspecifiedEnumError, WireMap
from opensqt_common.errors import InvalidArgument, UnknownSymbol

E = TypeVar("E")

CLIENT_ORDER_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")


def decimal_field(
    message: Message,
    field: str,
    *,
    required: bool = True,
    positive: bool = True,
    allow_zero: bool = False,
    path: str = "",
) -> Decimal | None:
    """Read a `common.v1.Decimal` field of `message` strictly."""
    name = f"{path}{field}"
    if not message.HasField(field):
        if required:
            raise InvalidArgument(name, "is required")
        return None
    value = getattr(message, field)
    assert isinstance(value, common_pb2.Decimal)
    return check_decimal(value.value, name, positive=positive, allow_zero=allow_zero)


def check_decimal(text: str, field: str, *, positive: bool = True, allow_zero: bool = False) -> Decimal:
    try:
        number = parse_decimal(text)
    except DecimalFormatError as exc:
        raise InvalidArgument(field, f"must be a finite decimal number string ({exc})") from None
    if positive and number < 0:
        raise InvalidArgument(
            field, f"must be >= 0 (got {text!r})" if allow_zero else f"must be > 0 (got {text!r})"
        )
    if positive and not allow_zero and number == 0:
        raise InvalidArgument(field, f"must be > 0 (got {text!r})")
    return number


def enum_field(value: int, wire: WireMap[E], field: str) -> E:  # type: ignore[type-var]
    """Map a wire enum to its domain value; UNSPECIFIED or unknown numbers are invalid."""
    try:
        return wire.from_proto(value)
    except UnspecifiedEnumError as exc:
        raise InvalidArgument(field, str(exc)) from None


def symbol_field(symbol: str, known: Container[str], field: str = "symbol") -> str:
    if not symbol:
        raise InvalidArgument(field, "is required")
    if symbol not in known:
        raise UnknownSymbol(symbol, field)
    return symbol


def client_order_id_field(value: str, field: str = "client_order_id") -> str:
    if not value:
        raise InvalidArgument(field, "is required")
    if not CLIENT_ORDER_ID_PATTERN.fullmatch(value):
        raise InvalidArgument(
            field, f"must be 1-32 characters of A-Z, a-z, 0-9, '_' or '-' (got {value[:40]!r})"
        )
    return value


def text_field(value: str, field: str, *, max_length: int = 256, required: bool = True) -> str:
    if required and not value:
        raise InvalidArgument(field, "is required")
    if len(value) > max_length:
        raise InvalidArgument(field, f"must be at most {max_length} characters (got {len(value)})")
    return value
