"""What the chaos tests assert after the kills: the venue's book against the engine's records.

The venue side (`VenueBook`) comes from the venue itself: the sim connector's order and fill
streams recorded from the first order on (cross-checked against the fills each print
reported), or the replica's matching core read directly. The engine side (`EngineRecords`)
comes from its durable store: every intent, every recorded fill (the crash-consistent audit,
ADR 004) and the final snapshot of the grid state, plus the JSON-lines audit log.

`check_book` returns every violated invariant as one line of text (empty: all hold):

1. unique ids: every client order id appears at most once at the venue (one venue order,
   one accepted placement);
2. known orders: every order of this strategy at the venue has a journaled intent with the
   same side, price and quantity (the intent was durable before the order left);
3. fills in the audit: the venue's fills of our orders and the engine's recorded fills are the
   same set of (client order id, trade id) with the same quantities and prices — each exactly
   once (the table's primary key), none missing, none invented; the JSON-lines log shows each
   at least once and applied live at most once;
4. fills in the slots: the grid state counted each venue fill exactly once (fill count and
   remembered trade ids equal the venue's fills);
5. positions: the venue's position equals the sum of the slot positions, and every slot's
   position equals the quantity its own orders (by level) filled at the venue, buys minus
   sells;
6. open orders: the venue's open orders of this strategy are exactly the orders the slots hold
   (none unknown to the engine; after a graceful stop, none at all).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from opensqt_common.enums import OrderStatus, Side
from opensqt_engine.core import parse_client_order_id
from opensqt_engine.durable import locate_store
from opensqt_engine.durable.codec import snapshot_from_text

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class VenueOrderFact:
    client_order_id: str
    order_id: str
    side: Side
    price: Decimal
    quantity: Decimal
    filled: Decimal
    status: OrderStatus


@dataclass(frozen=True, slots=True)
class VenueFillFact:
    trade_id: str
    client_order_id: str
    side: Side
    price: Decimal
    quantity: Decimal


@dataclass
class VenueBook:
    """One strategy's orders and fills as the venue has them."""

    orders: dict[str, VenueOrderFact]
    fills: dict[tuple[str, str], VenueFillFact]  # (client order id, trade id)
    position: Decimal
    # venue order ids seen per client order id, and accepted placements per client order id
    order_ids: dict[str, set[str]] = field(default_factory=dict)
    placements: Counter[str] = field(default_factory=Counter)

    @property
    def open_ids(self) -> set[str]:
        return {cid for cid, order in self.orders.items() if order.status.is_open}


@dataclass(frozen=True, slots=True)
class IntentFact:
    client_order_id: str
    side: Side
    price: Decimal
    quantity: Decimal
    outcome: str | None
    final: bool


@dataclass(frozen=True, slots=True)
class RecordedFill:
    client_order_id: str
    trade_id: str
    price: Decimal
    quantity: Decimal


@dataclass
class EngineRecords:
    intents: dict[str, IntentFact]
    fills: list[RecordedFill]
    snapshot: dict[str, Any]
    audit: list[dict[str, Any]]

    @property
    def slots(self) -> list[dict[str, Any]]:
        slots: list[dict[str, Any]] = self.snapshot["slots"]
        return slots

    @property
    def live_slot_ids(self) -> set[str]:
        return {s["client_order_id"] for s in self.slots if s["status"] != "free"}


def read_engine_records(database_url: str, strategy_id: str, audit_log: Path) -> EngineRecords:
    """Everything the engine wrote, read straight from its tables (the engine is stopped)."""
    location = locate_store(database_url)
    engine = sa.create_engine(location.engine_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as db:
            intents = {
                row[0]: IntentFact(
                    row[0], Side(row[1]), Decimal(row[2]), Decimal(row[3]), row[4], bool(row[5])
                )
                for row in db.execute(
                    sa.text(
                        "SELECT client_order_id, side, price, quantity, outcome, final FROM engine_intents "
                        "WHERE strategy_id = :sid"
                    ),
                    {"sid": strategy_id},
                )
            }
            fills = [
                RecordedFill(row[0], row[1], Decimal(row[2]), Decimal(row[3]))
                for row in db.execute(
                    sa.text("SELECT client_order_id, trade_id, price, quantity FROM engine_fills")
                )
            ]
            body = db.execute(
                sa.text("SELECT body FROM engine_snapshots WHERE strategy_id = :sid"), {"sid": strategy_id}
            ).scalar_one()
    finally:
        engine.dispose()
    audit = [json.loads(line) for line in audit_log.read_text().splitlines() if line.strip()]
    return EngineRecords(intents, fills, snapshot_from_text(str(body)), audit)


def _level(client_order_id: str) -> int:
    parsed = parse_client_order_id(client_order_id)
    assert parsed is not None, client_order_id
    return parsed.level_index


def expected_slot_positions(book: VenueBook) -> dict[int, Decimal]:
    """Per level: what that level's orders filled at the venue, buys minus sells."""
    positions: dict[int, Decimal] = {}
    for order in book.orders.values():
        if order.filled:
            signed = order.filled if order.side is Side.BUY else -order.filled
            level = _level(order.client_order_id)
            positions[level] = positions.get(level, ZERO) + signed
    return {level: quantity for level, quantity in positions.items() if quantity}


def check_book(book: VenueBook, records: EngineRecords, *, stopped: bool) -> list[str]:
    """Every violated invariant (see the module docstring); `stopped`: after a graceful stop."""
    failures: list[str] = []
    failures += _unique_ids(book)
    failures += _known_orders(book, records)
    failures += _fills_in_audit(book, records)
    failures += _fills_in_slots(book, records.snapshot)
    failures += _positions(book, records.slots)
    if stopped and book.open_ids:
        failures.append(
            f"open orders: still open at the venue after a graceful stop: {sorted(book.open_ids)}"
        )
    failures += open_orders_match(book.open_ids, records.live_slot_ids if not stopped else set())
    return failures


def open_orders_match(venue_open: set[str], slot_ids: Iterable[str]) -> list[str]:
    held = set(slot_ids)
    failures = []
    if venue_open - held:
        failures.append(f"open orders: at the venue but unknown to the slots: {sorted(venue_open - held)}")
    if held - venue_open:
        failures.append(f"open orders: held by slots but not open at the venue: {sorted(held - venue_open)}")
    return failures


def _unique_ids(book: VenueBook) -> list[str]:
    failures = []
    for cid, ids in sorted(book.order_ids.items()):
        if len(ids) > 1:
            failures.append(f"unique ids: {cid} is {len(ids)} venue orders {sorted(ids)}")
    for cid, count in sorted(book.placements.items()):
        if count > 1:
            failures.append(f"unique ids: {cid} was accepted by the venue {count} times")
    return failures


def _known_orders(book: VenueBook, records: EngineRecords) -> list[str]:
    failures = []
    for cid, order in sorted(book.orders.items()):
        intent = records.intents.get(cid)
        if intent is None:
            failures.append(
                f"known orders: {cid} ({order.side.value} {order.quantity} @ {order.price}) has no intent"
            )
        elif (intent.side, intent.price, intent.quantity) != (order.side, order.price, order.quantity):
            failures.append(
                f"known orders: {cid} is {order.side.value} {order.quantity} @ {order.price} at the venue, "
                f"{intent.side.value} {intent.quantity} @ {intent.price} in the journal"
            )
    return failures


def _fills_in_audit(book: VenueBook, records: EngineRecords) -> list[str]:
    failures = []
    recorded = Counter((f.client_order_id, f.trade_id) for f in records.fills)
    for key, count in sorted(recorded.items()):
        if count != 1:
            failures.append(f"audit: fill {key} recorded {count} times")
    for key in sorted(set(book.fills) - set(recorded)):
        failures.append(f"audit: venue fill {key} never recorded")
    for key in sorted(set(recorded) - set(book.fills)):
        failures.append(f"audit: recorded fill {key} is not a venue fill")
    by_key = {(f.client_order_id, f.trade_id): f for f in records.fills}
    for key, fill in sorted(book.fills.items()):
        mine = by_key.get(key)
        if mine is not None and (mine.quantity, mine.price) != (fill.quantity, fill.price):
            venue = f"{fill.quantity} @ {fill.price}"
            failures.append(f"audit: fill {key} is {venue}, recorded {mine.quantity} @ {mine.price}")
    lines = Counter((r["client_order_id"], r["trade_id"]) for r in records.audit if r["event"] == "fill")
    live = Counter(
        (r["client_order_id"], r["trade_id"])
        for r in records.audit
        if r["event"] == "fill" and not r.get("replayed")
    )
    for key in sorted(set(book.fills) - set(lines)):
        failures.append(f"audit log: venue fill {key} has no line")
    for key in sorted(set(lines) - set(book.fills)):
        failures.append(f"audit log: line for {key}, which is not a venue fill")
    for key, count in sorted(live.items()):
        if count > 1:
            failures.append(f"audit log: fill {key} applied live {count} times")
    return failures


def _fills_in_slots(book: VenueBook, snapshot: Mapping[str, Any]) -> list[str]:
    failures = []
    venue_trades = {trade_id for _, trade_id in book.fills}
    if snapshot["fill_count"] != len(book.fills):
        failures.append(
            f"slots: the grid counted {snapshot['fill_count']} fills, the venue has {len(book.fills)}"
        )
    if snapshot["trade_id_capacity"] >= len(venue_trades):
        remembered = set(snapshot["trade_ids"])
        if remembered != venue_trades:
            failures.append(
                f"slots: trade ids applied but not at the venue {sorted(remembered - venue_trades)}, "
                f"at the venue but never applied {sorted(venue_trades - remembered)}"
            )
    return failures


def _positions(book: VenueBook, slots: Iterable[Mapping[str, Any]]) -> list[str]:
    failures = []
    held = {int(s["level_index"]): Decimal(s["position"]) for s in slots if Decimal(s["position"])}
    total = sum(held.values(), ZERO)
    if total != book.position:
        failures.append(f"positions: the venue holds {book.position}, the slots {total}")
    expected = expected_slot_positions(book)
    for level in sorted(set(held) | set(expected)):
        if held.get(level, ZERO) != expected.get(level, ZERO):
            failures.append(
                f"positions: level {level} holds {held.get(level, ZERO)}, "
                f"its orders filled {expected.get(level, ZERO)} net at the venue"
            )
    return failures


def fills_by_order(book: VenueBook) -> list[str]:
    """The venue's own consistency: each order's filled quantity is the sum of its fills."""
    summed: dict[str, Decimal] = {}
    for (cid, _), fill in book.fills.items():
        summed[cid] = summed.get(cid, ZERO) + fill.quantity
    return [
        f"venue: {cid} reports {order.filled} filled, its fills sum to {summed.get(cid, ZERO)}"
        for cid, order in sorted(book.orders.items())
        if order.filled != summed.get(cid, ZERO)
    ]
