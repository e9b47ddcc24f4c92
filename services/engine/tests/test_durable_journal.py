"""SqlJournal semantics, the same on SQLite and PostgreSQL (see `database_url`)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from opensqt_engine.durable import SqlJournal, StoreKind, StrategyBusyError, open_journal
from opensqt_engine.durable.testing import fill, intent
from opensqt_engine.journal import MemoryJournal, Outcome


@pytest.fixture
async def journal(database_url: str):
    opened = await open_journal(database_url)
    yield opened
    await opened.close()


async def test_store_kind_follows_the_url(journal: SqlJournal, database_url: str) -> None:
    expected = StoreKind.SQLITE if database_url.startswith("sqlite") else StoreKind.POSTGRESQL
    assert journal.location.kind is expected


async def test_intent_round_trips_exactly_and_is_idempotent(journal: SqlJournal) -> None:
    record = intent(price="100.10", quantity="0.00100")
    await journal.record_intent(record)
    await journal.record_intent(record)
    assert await journal.open_intents("grid1") == [record]
    stored = await journal.intent(record.client_order_id)
    assert stored == record
    assert stored is not None
    assert (str(stored.price), str(stored.quantity)) == ("100.10", "0.00100")


async def test_first_recording_of_an_intent_wins(journal: SqlJournal) -> None:
    first = intent(price="100")
    await journal.record_intent(first)
    await journal.record_intent(intent(price="200"))  # same client order id
    assert await journal.open_intents("grid1") == [first]


async def test_open_intents_lists_only_intents_without_a_final_outcome(journal: SqlJournal) -> None:
    records = [intent(level=level, created_ms=1_000 + level) for level in range(1, 6)]
    for record in records:
        await journal.record_intent(record)
    await journal.record_outcome(records[0].client_order_id, Outcome.ACKED, order_id="o-1")
    await journal.record_outcome(records[1].client_order_id, Outcome.FILLED, order_id="o-2")
    await journal.record_outcome(records[2].client_order_id, Outcome.VETOED)
    await journal.record_outcome(records[3].client_order_id, Outcome.NOT_FOUND)
    assert await journal.open_intents("grid1") == [records[0], records[4]]


async def test_intents_since_lists_recent_intents_whatever_their_outcome(journal: SqlJournal) -> None:
    records = [intent(level=level, created_ms=1_000 * level) for level in range(1, 5)]
    for record in records:
        await journal.record_intent(record)
    await journal.record_intent(intent("other", level=4, created_ms=4_000))
    await journal.record_outcome(records[2].client_order_id, Outcome.FILLED, order_id="o-3")
    assert await journal.intents_since("grid1", 2_000) == records[1:]
    assert await journal.intents_since("grid1", 4_001) == []


async def test_a_final_outcome_is_never_overwritten_but_history_keeps_everything(journal: SqlJournal) -> None:
    record = intent()
    await journal.record_intent(record)
    cid = record.client_order_id
    await journal.record_outcome(cid, Outcome.ACKED, order_id="o-9")
    await journal.record_outcome(cid, Outcome.FILLED)
    await journal.record_outcome(cid, Outcome.CANCELED, detail="late cancel ack")
    state = await journal.outcome_state(cid)
    assert state is not None
    assert (state.outcome, state.order_id, state.final) == (Outcome.FILLED, "o-9", True)
    history = await journal.outcome_history(cid)
    assert [(h.outcome, h.applied, h.detail) for h in history] == [
        (Outcome.ACKED, True, ""),
        (Outcome.FILLED, True, ""),
        (Outcome.CANCELED, False, "late cancel ack"),
    ]


async def test_fills_are_deduplicated_by_trade_id(journal: SqlJournal) -> None:
    record = intent()
    await journal.record_intent(record)
    first = fill(record, "t-1", "0.0004")
    assert await journal.record_fill(first) is True
    assert await journal.record_fill(first) is False
    assert await journal.record_fill(fill(record, "t-2", "0.0006")) is True
    fills = await journal.fills(record.client_order_id)
    assert [f.trade_id for f in fills] == ["t-1", "t-2"]
    assert sum((f.quantity for f in fills), Decimal(0)) == Decimal("0.0010")
    assert fills[0] == first


async def test_snapshot_round_trips_exactly_and_the_latest_wins(journal: SqlJournal) -> None:
    assert await journal.load_snapshot("grid1") is None
    snapshot = {
        "version": 1,
        "anchor": "100.000",
        "now": 1732431234.123456,
        "slots": [{"level": -3, "position": "0.00100"}],
        "paused": False,
        "margin_lock_until": None,
        "unicode": "ü",
    }
    await journal.save_snapshot("grid1", snapshot)
    assert await journal.load_snapshot("grid1") == snapshot
    newer = {**snapshot, "anchor": "101.5"}
    await journal.save_snapshot("grid1", newer)
    assert await journal.load_snapshot("grid1") == newer


async def test_snapshot_refuses_values_json_cannot_round_trip(journal: SqlJournal) -> None:
    with pytest.raises(TypeError, match="Decimal"):
        await journal.save_snapshot("grid1", {"anchor": Decimal("1.5")})
    with pytest.raises(ValueError, match="Out of range float"):
        await journal.save_snapshot("grid1", {"now": float("nan")})
    assert await journal.load_snapshot("grid1") is None


async def test_strategies_on_one_database_do_not_see_each_other(database_url: str) -> None:
    first, second = await open_journal(database_url), await open_journal(database_url)
    try:
        a, b = intent("alpha", level=1), intent("beta", level=1)
        await first.record_intent(a)
        await second.record_intent(b)
        await first.save_snapshot("alpha", {"anchor": "1"})
        await second.save_snapshot("beta", {"anchor": "2"})
        assert await first.open_intents("alpha") == [a]
        assert await first.open_intents("beta") == [b]  # one database: visible by strategy id only
        assert await second.open_intents("alpha") == [a]
        assert await second.load_snapshot("alpha") == {"anchor": "1"}
        assert await first.load_snapshot("beta") == {"anchor": "2"}
        assert await first.max_generation("alpha") == 0
        assert await first.max_generation("gamma") == -1
    finally:
        await first.close()
        await second.close()


async def test_max_generation_covers_every_journaled_id(journal: SqlJournal) -> None:
    for generation in (3, 41, 7):
        await journal.record_intent(intent(generation=generation, level=generation))
    await journal.record_outcome(intent(generation=41, level=41).client_order_id, Outcome.FILLED)
    assert await journal.max_generation("grid1") == 41


async def test_a_strategy_can_be_claimed_by_one_journal_at_a_time(database_url: str) -> None:
    first, second = await open_journal(database_url), await open_journal(database_url)
    try:
        first.claim("alpha")
        second.claim("beta")
        with pytest.raises(StrategyBusyError):
            second.claim("alpha")
        await first.close()  # releases its claims
        second.claim("alpha")
    finally:
        await first.close()
        await second.close()


async def test_wait_for_outcome_wakes_when_the_outcome_is_recorded(journal: SqlJournal) -> None:
    record = intent()
    await journal.record_intent(record)
    waiting = asyncio.create_task(journal.wait_for_outcome(record.client_order_id, timeout=30))
    await journal.record_outcome(record.client_order_id, Outcome.ACKED, order_id="o-5")
    state = await asyncio.wait_for(waiting, timeout=30)
    assert state is not None
    assert (state.outcome, state.order_id) == (Outcome.ACKED, "o-5")
    assert await journal.wait_for_outcome(intent(level=9).client_order_id, timeout=0) is None


async def test_a_closed_journal_refuses_work(database_url: str) -> None:
    journal = await open_journal(database_url)
    await journal.close()
    with pytest.raises(RuntimeError, match="closed"):
        await journal.record_intent(intent())


async def test_same_answers_as_the_memory_journal(journal: SqlJournal) -> None:
    memory = MemoryJournal()
    records = [intent(level=level, created_ms=level) for level in range(1, 5)]
    script = [
        (records[0].client_order_id, Outcome.ACKED),
        (records[0].client_order_id, Outcome.FILLED),
        (records[1].client_order_id, Outcome.REJECTED),
        (records[1].client_order_id, Outcome.ACKED),
        (records[2].client_order_id, Outcome.ACKED),
    ]
    for target in (memory, journal):
        for record in records:
            await target.record_intent(record)
        for cid, outcome in script:
            await target.record_outcome(cid, outcome)
    assert list(await journal.open_intents("grid1")) == list(await memory.open_intents("grid1"))
