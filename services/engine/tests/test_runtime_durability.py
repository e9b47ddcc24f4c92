"""The runtime on the durable store: test-only crash points, start-up recovery through DBOS's
recovery workflow, order lifecycles that settle what the venue never answered, and a graceful
stop through the shutdown workflow. (Restarts across processes: tests/chaos.)"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
from engine_support import BTC, FIVE_BUYS, STRATEGY, running_stack  # type: ignore[import-not-found]

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import types_pb2
from opensqt.sim.v1 import sim_service_pb2
from opensqt_common.enums import OrderStatus, Side
from opensqt_common.testing import eventually
from opensqt_connector.resilience import RetryPolicy
from opensqt_connector.testing import running_connector
from opensqt_engine.config import load_config
from opensqt_engine.core import GridStrategy, MarketRules, SlotStatus, encode_client_order_id
from opensqt_engine.durable import (
    RecoveryReport,
    Settlement,
    SqlJournal,
    VenueOrderView,
    Verdict,
    open_journal,
)
from opensqt_engine.durable.testing import FakeVenue, venue_order
from opensqt_engine.journal import IntentRecord, Outcome
from opensqt_engine.runtime.crashpoints import ENV_VAR, CrashPoint, CrashPoints
from opensqt_engine.runtime.durability import Durability, DurableOptions
from opensqt_engine.runtime.links import Backoff
from opensqt_engine.runtime.recovery import RUNTIME_KEY, recover_durably

D = Decimal
_numbers = itertools.count(1)


def strategy_id() -> str:
    """DBOS keeps a workflow instance per strategy id for the life of the process: one per test
    (all start with engine_support's STRATEGY, whose helpers filter the venue's orders by it)."""
    return f"{STRATEGY}d{next(_numbers)}"


# ---- crash points -------------------------------------------------------------------------------


def test_a_crash_point_fires_on_its_pass_only() -> None:
    kills: list[str] = []
    points = CrashPoints(CrashPoint.AFTER_SEND, 3, kill=lambda: kills.append("killed"))  # not SIGKILL
    assert CrashPoints.from_env({ENV_VAR: "after_send:3"}).armed is CrashPoint.AFTER_SEND
    for _ in range(2):
        points.hit(CrashPoint.AFTER_SEND)
        points.hit(CrashPoint.AFTER_INTENT)
    assert kills == []
    points.hit(CrashPoint.AFTER_SEND)
    points.hit(CrashPoint.AFTER_SEND)
    assert kills == ["killed"]


def test_crash_points_are_off_unless_set_and_refuse_nonsense() -> None:
    assert CrashPoints.from_env({}).armed is None
    assert CrashPoints.from_env({ENV_VAR: "after_fill"}).armed is CrashPoint.AFTER_FILL
    for bad in ("after_lunch:1", "after_send:x", "after_send:0"):
        with pytest.raises(ValueError, match=ENV_VAR):
            CrashPoints.from_env({ENV_VAR: bad})


# ---- recovery on the durable store (fakes for DBOS and the connector) ------------------------

RULES = MarketRules(tick_size=D("0.1"), step_size=D("0.001"), min_quantity=D("0.001"), min_notional=D("5"))


def grid(sid: str) -> GridStrategy:
    config = load_config(
        None,
        {"strategy_id": sid, "symbol": BTC, "market": "perp", "price_interval": "50", "order_amount": "1000"},
    )
    return GridStrategy(config.grid_config(), RULES)


def buy(sid: str, level: int, generation: int, created_ms: int) -> IntentRecord:
    price = D(60000) + 50 * level
    return IntentRecord(
        encode_client_order_id(sid, level, Side.BUY, generation),
        sid,
        BTC,
        level,
        Side.BUY,
        price,
        D("0.016"),
        True,
        False,
        created_ms,
    )


@dataclass
class FakeDurability:
    report: RecoveryReport

    async def recover(self, backoff: Backoff) -> RecoveryReport:
        return self.report


@dataclass
class FakeGateway:
    orders: dict[str, types_pb2.Order] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def order(self, client_order_id: str) -> types_pb2.Order | None:
        self.asked.append(client_order_id)
        return self.orders.get(client_order_id)


def filled(record: IntentRecord) -> types_pb2.Order:
    return types_pb2.Order(
        client_order_id=record.client_order_id,
        order_id="v-1",
        symbol=BTC,
        side=common_pb2.SIDE_BUY,
        price=common_pb2.Decimal(value=str(record.price)),
        quantity=common_pb2.Decimal(value=str(record.quantity)),
        filled_quantity=common_pb2.Decimal(value=str(record.quantity)),
        status=common_pb2.ORDER_STATUS_FILLED,
    )


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[SqlJournal]:
    opened = await open_journal(f"sqlite:///{tmp_path / 'engine.sqlite'}")
    yield opened
    await opened.close()


async def saved_state(journal: SqlJournal, sid: str, taken_ms: int) -> GridStrategy:
    strategy = grid(sid)
    state = strategy.new_state()
    state.anchor = D(60000)
    snapshot = state.to_snapshot()
    snapshot[RUNTIME_KEY] = {"last_fill_ms": 0, "pause_reasons": [], "saved_unix_ms": taken_ms}
    await journal.save_snapshot(sid, snapshot)
    return strategy


async def test_an_order_a_workflow_closed_after_the_snapshot_is_still_applied(journal: SqlJournal) -> None:
    # The snapshot was taken before the buy was sent; a workflow then recorded it FILLED, and the
    # engine died before any newer snapshot. The slots must still get its position.
    sid = strategy_id()
    strategy = await saved_state(journal, sid, taken_ms=10_000)
    record = buy(sid, -1, 5, created_ms=20_000)
    await journal.record_intent(record)
    await journal.record_outcome(record.client_order_id, Outcome.FILLED, order_id="v-1")
    gateway = FakeGateway({record.client_order_id: filled(record)})
    recovery = await recover_durably(
        strategy,
        journal,
        cast(Any, FakeDurability(RecoveryReport((), ()))),
        cast(Any, gateway),
        clock=lambda: 1.0,
        backoff=Backoff(0.01, 0.01),
        crash=CrashPoints(),
    )
    assert gateway.asked == [record.client_order_id]
    assert recovery.adopted == [record.client_order_id]
    assert recovery.state.slots[-1].position == D("0.016")
    assert recovery.state.next_generation == 6  # above every journaled id


async def test_an_intent_that_may_still_be_in_flight_keeps_its_slot_pending(journal: SqlJournal) -> None:
    sid = strategy_id()
    strategy = await saved_state(journal, sid, taken_ms=10_000)
    young = buy(sid, -2, 3, created_ms=20_000)
    gone = buy(sid, -3, 4, created_ms=20_000)
    for record in (young, gone):
        await journal.record_intent(record)
    report = RecoveryReport(
        settled=(Settlement(gone.client_order_id, Verdict.NOT_FOUND, outcome=Outcome.NOT_FOUND),),
        deferred=(young.client_order_id,),
    )
    gateway = FakeGateway()
    recovery = await recover_durably(
        strategy,
        journal,
        cast(Any, FakeDurability(report)),
        cast(Any, gateway),
        clock=lambda: 1.0,
        backoff=Backoff(0.01, 0.01),
        crash=CrashPoints(),
    )
    assert gateway.asked == []  # the workflow asked already
    assert recovery.deferred == [young.client_order_id]
    slot = recovery.state.slots[-2]
    assert (slot.status, slot.client_order_id) == (SlotStatus.PENDING, young.client_order_id)
    assert -3 not in recovery.state.slots or recovery.state.slots[-3].status is SlotStatus.FREE


# ---- lifecycles through DBOS -----------------------------------------------------------------


class FlakyVenue(FakeVenue):
    """GetOrder fails `failures` times (a connector that is down), then answers."""

    def __init__(self, orders: list[VenueOrderView], failures: int) -> None:
        super().__init__(orders)
        self.failures = failures

    async def get_order(self, symbol: str, client_order_id: str) -> VenueOrderView | None:
        if self.failures > 0:
            self.failures -= 1
            self.calls["failed"] += 1
            raise RuntimeError("connector unavailable")
        return await super().get_order(symbol, client_order_id)


async def test_a_lifecycle_that_gave_up_runs_again_until_it_settles(journal: SqlJournal) -> None:
    sid = strategy_id()
    record = buy(sid, -1, 0, created_ms=0)  # long ago: its fate is final whatever the venue says
    await journal.record_intent(record)
    venue = FlakyVenue([venue_order(record, OrderStatus.NEW)], failures=5)  # one whole step's retries
    options = DurableOptions(settle_ms=1_000, ack_timeout_s=0, shutdown_timeout_s=1, claim_timeout_s=0)
    durability = await Durability.open(
        journal,
        strategy_id=sid,
        symbol="BTCUSDT",
        venue=cast(Any, venue),
        options=options,
        backoff=lambda: Backoff(0.01, 0.01),
    )
    settled: list[tuple[str, Settlement]] = []
    try:
        durability.follow(record.client_order_id, lambda cid, s: settled.append((cid, s)))
        durability.follow(record.client_order_id, lambda cid, s: settled.append((cid, s)))  # no second one
        await eventually(lambda: bool(settled), timeout=30, message="the lifecycle settled")
        assert venue.calls["failed"] == 5
        [(cid, settlement)] = settled
        assert cid == record.client_order_id
        assert (settlement.verdict, settlement.status) == (Verdict.ADOPT, OrderStatus.NEW)
        state = await journal.outcome_state(record.client_order_id)
        assert state is not None
        assert (state.outcome, state.order_id) == (Outcome.ACKED, "o-1")
    finally:
        await durability.close()


# ---- the engine on the durable store (in process) ------------------------------------------


@pytest.fixture
async def durable_journal(tmp_path: Path) -> SqlJournal:
    return await open_journal(f"sqlite:///{tmp_path / 'durable.sqlite'}")  # the engine app closes it


async def test_a_stop_on_the_durable_store_cancels_through_the_shutdown_workflow(
    tmp_path: Path, durable_journal: SqlJournal
) -> None:
    sid = strategy_id()
    async with (
        running_connector() as connector,
        running_stack(
            tmp_path, connector=connector, journal=durable_journal, grid={"strategy_id": sid}
        ) as stack,
    ):
        ids = {o.client_order_id for o in await stack.wait_open_buys(FIVE_BUYS)}
        await stack.app.stop()
        assert await stack.own_orders() == []
        cancels = {r["client_order_id"] for r in stack.audit("cancel") if r.get("reason") == "shutdown"}
        assert cancels == ids
        assert all(slot.status is SlotStatus.FREE for slot in stack.engine.slots())
    check = await open_journal(f"sqlite:///{tmp_path / 'durable.sqlite'}")
    try:
        assert await check.open_intents(sid) == []
        for cid in ids:
            state = await check.outcome_state(cid)
            assert state is not None
            assert state.outcome is Outcome.CANCELED
    finally:
        await check.close()


async def test_an_order_the_venue_may_not_have_is_settled_after_the_in_flight_window(
    tmp_path: Path, durable_journal: SqlJournal
) -> None:
    # The venue answers VENUE_UNAVAILABLE: the order may or may not exist. Its lifecycle looks it
    # up; "not found" counts only once the in-flight window is over, then the level is placed
    # again under a new client order id.
    sid = strategy_id()
    flags = ("--order-settle-seconds", "1", "--order-ack-timeout-seconds", "0.1")
    async with (
        running_connector(retry_policy=RetryPolicy(max_attempts=1)) as connector,
        running_stack(
            tmp_path,
            connector=connector,
            journal=durable_journal,
            grid={"strategy_id": sid},
            engine_flags=flags,
        ) as stack,
    ):
        await stack.wait_open_buys(FIVE_BUYS)
        once = sim_service_pb2.Faults(fail_next=1)
        await connector.sim.SetFaults(sim_service_pb2.SetFaultsRequest(faults=once))
        await connector.set_price("60010")  # the grid moves up: a new buy at 60000
        failed = await eventually_audit(
            stack, "venue_result", lambda r: "VENUE_UNAVAILABLE" in r.get("error", "")
        )
        cid = failed["client_order_id"]
        settled = await eventually_audit(
            stack,
            "venue_result",
            lambda r: r.get("request") == "lifecycle" and r["client_order_id"] == cid,
        )
        assert settled["outcome"] == "not_found"
        sent = next(r for r in stack.audit("intent") if r["client_order_id"] == cid)
        assert settled["time_ns"] - sent["time_ns"] >= 1_000_000_000  # never inside the window
        again = await stack.wait_open_buys(["60000", *FIVE_BUYS[:-1]])
        assert cid not in {o.client_order_id for o in again}
    check = await open_journal(f"sqlite:///{tmp_path / 'durable.sqlite'}")
    try:
        recorded = await check.outcome_state(cid)
        assert recorded is not None
        assert recorded.outcome is Outcome.NOT_FOUND
    finally:
        await check.close()


async def eventually_audit(stack: Any, event: str, predicate: Any, timeout: float = 15) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def seen() -> bool:
        found[:] = [r for r in stack.audit(event) if predicate(r)]
        return bool(found)

    await eventually(seen, timeout=timeout, message=f"an audit {event}")
    return found[0]
