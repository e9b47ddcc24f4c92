"""Records <-> rows. Money is stored as the exact decimal text `str(Decimal)` round-trips."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from opensqt_common.enums import Side
from opensqt_engine.journal import FillRecord, IntentRecord


def decimal_text(value: Decimal) -> str:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"expected a finite Decimal, got {value!r}")
    return str(value)


def intent_row(intent: IntentRecord) -> tuple[object, ...]:
    return (
        intent.client_order_id,
        intent.strategy_id,
        intent.symbol,
        intent.level_index,
        intent.side.value,
        decimal_text(intent.price),
        decimal_text(intent.quantity),
        int(intent.post_only),
        int(intent.reduce_only),
        intent.created_ms,
    )


def intent_from_row(row: Sequence[Any]) -> IntentRecord:
    return IntentRecord(
        client_order_id=str(row[0]),
        strategy_id=str(row[1]),
        symbol=str(row[2]),
        level_index=int(row[3]),
        side=Side(row[4]),
        price=Decimal(row[5]),
        quantity=Decimal(row[6]),
        post_only=bool(row[7]),
        reduce_only=bool(row[8]),
        created_ms=int(row[9]),
    )


def fill_row(fill: FillRecord) -> tuple[object, ...]:
    return (
        fill.client_order_id,
        fill.trade_id,
        fill.order_id,
        fill.symbol,
        fill.side.value,
        decimal_text(fill.price),
        decimal_text(fill.quantity),
        decimal_text(fill.fee),
        fill.fee_asset,
        fill.time_ms,
    )


def fill_from_row(row: Sequence[Any]) -> FillRecord:
    return FillRecord(
        client_order_id=str(row[0]),
        trade_id=str(row[1]),
        order_id=str(row[2]),
        symbol=str(row[3]),
        side=Side(row[4]),
        price=Decimal(row[5]),
        quantity=Decimal(row[6]),
        fee=Decimal(row[7]),
        fee_asset=str(row[8]),
        time_ms=int(row[9]),
    )


def _reject(value: object) -> object:
    raise TypeError(
        f"snapshot values must be JSON types (decimals as strings), got {type(value).__name__}: {value!r}"
    )


def snapshot_text(snapshot: Mapping[str, Any]) -> str:
    """Canonical JSON; refuses anything JSON cannot round-trip exactly (e.g. a Decimal, NaN)."""
    return json.dumps(dict(snapshot), sort_keys=True, separators=(",", ":"), allow_nan=False, default=_reject)


def snapshot_from_text(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("stored snapshot is not a JSON object")
    return value
