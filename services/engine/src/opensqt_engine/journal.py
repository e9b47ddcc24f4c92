"""The engine's durable record: the seam between the runtime and its store.

The runtime calls `record_intent` on the hot path *before* an order leaves the
engine (its deterministic client order id is the idempotency key), so that after a
crash at any instant recovery can ask the connector about every intent that has no
final outcome, adopt what exists and re-send nothing that already exists. Every
other call is off the hot path. Implementations: `MemoryJournal` (tests, no
durability) and the SQL/DBOS store in `opensqt_engine.durable`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from opensqt_common.enums import Side


class Outcome(enum.Enum):
    """What finally became of an intent. Only ACKED is not final."""

    ACKED = "acked"  # live at the venue
    VETOED = "vetoed"  # risk refused it; never sent
    REJECTED = "rejected"  # the venue refused it
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    NOT_FOUND = "not_found"  # recovery found no such order at the venue

    @property
    def is_final(self) -> bool:
        return self is not Outcome.ACKED


@dataclass(frozen=True, slots=True)
class IntentRecord:
    client_order_id: str
    strategy_id: str
    symbol: str
    level_index: int
    side: Side
    price: Decimal
    quantity: Decimal
    post_only: bool
    reduce_only: bool
    created_ms: int


@dataclass(frozen=True, slots=True)
class FillRecord:
    trade_id: str
    client_order_id: str
    order_id: str
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    time_ms: int


class EngineJournal(Protocol):
    async def record_intent(self, intent: IntentRecord) -> None:
        """Durable against a crash of this process when it returns; cheap (hot path)."""

    async def record_outcome(
        self, client_order_id: str, outcome: Outcome, *, order_id: str = "", detail: str = ""
    ) -> None: ...

    async def record_fill(self, fill: FillRecord) -> bool:
        """False when this trade id was already recorded (the fill is a duplicate)."""

    async def open_intents(self, strategy_id: str) -> Sequence[IntentRecord]:
        """Intents without a final outcome (sent or maybe sent, result unknown)."""

    async def save_snapshot(self, strategy_id: str, snapshot: Mapping[str, Any]) -> None:
        """Persist the grid state (anchor, slots, PnL) — `GridState.to_snapshot()`."""

    async def load_snapshot(self, strategy_id: str) -> dict[str, Any] | None: ...

    async def close(self) -> None: ...


class MemoryJournal:
    """An in-memory EngineJournal: same semantics, no durability (for tests)."""

    def __init__(self) -> None:
        self.intents: dict[str, IntentRecord] = {}
        self.outcomes: dict[str, Outcome] = {}
        self.fills: dict[str, FillRecord] = {}
        self.snapshots: dict[str, dict[str, Any]] = {}

    async def record_intent(self, intent: IntentRecord) -> None:
        self.intents.setdefault(intent.client_order_id, intent)

    async def record_outcome(
        self, client_order_id: str, outcome: Outcome, *, order_id: str = "", detail: str = ""
    ) -> None:
        if not self.outcomes.get(client_order_id, Outcome.ACKED).is_final:
            self.outcomes[client_order_id] = outcome

    async def record_fill(self, fill: FillRecord) -> bool:
        if fill.trade_id in self.fills:
            return False
        self.fills[fill.trade_id] = fill
        return True

    async def open_intents(self, strategy_id: str) -> Sequence[IntentRecord]:
        return [
            intent
            for cid, intent in self.intents.items()
            if intent.strategy_id == strategy_id and not self.outcomes.get(cid, Outcome.ACKED).is_final
        ]

    async def save_snapshot(self, strategy_id: str, snapshot: Mapping[str, Any]) -> None:
        self.snapshots[strategy_id] = dict(snapshot)

    async def load_snapshot(self, strategy_id: str) -> dict[str, Any] | None:
        snapshot = self.snapshots.get(strategy_id)
        return dict(snapshot) if snapshot is not None else None

    async def close(self) -> None:
        return None
