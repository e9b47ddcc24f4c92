"""The engine's durable workflows (DBOS), off the tick hot path.

Decisions are the pure functions of `decisions`; the workflows gather facts in steps (journal
reads, venue calls, the clock — each checkpointed, so a replay after a crash sees the same facts)
and record outcomes in steps. Idempotency key = workflow id: re-running a workflow under the
same id returns its recorded result without calling the venue again.

- `order_lifecycle` (workflow id = the client order id): started right after an order is sent.
  Waits (≤ `ack_timeout_s`) for the runtime to record the venue's answer; when none comes (lost
  ack, broken stream, crash) it asks the venue by client order id and records what it finds,
  waiting out the in-flight window (`settle_ms`) with durable sleeps before "not found" counts.
- `recover_open_intents` (``<strategy>.recover.<boot id>``): at start-up, before anything else:
  GetOrder for every intent without a final outcome; adopt what exists, NOT_FOUND for what never
  arrived, defer what may still be in flight (start `order_lifecycle` for those).
- `reconcile_orders` (``<strategy>.reconcile.<round id>``): ListOpenOrders against the open
  intents; adopt the open ones, GetOrder the rest, report this strategy's orphan orders.
- `graceful_shutdown` (``<strategy>.shutdown.<boot id>``): cancel this strategy's open orders,
  wait (durably, bounded) until the venue lists none, record each final status.

Recovered workflows run on DBOS's own event loop; venue calls are therefore always made on the
runtime's loop (`home_loop`), where its gRPC channel lives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from dbos import DBOS, DBOSConfiguredInstance, SetWorkflowID, WorkflowHandleAsync

from opensqt_engine.core.client_ids import validate_strategy_id
from opensqt_engine.journal import EngineJournal, IntentRecord

from .decisions import Settlement, Verdict, adopt, own_open_orders, plan_reconcile, settle
from .store import Clock, OutcomeState, wall_clock_ms
from .venue import VenueOrders, VenueOrderView

T = TypeVar("T")

DEFAULT_SETTLE_MS = 15_000
DEFAULT_ACK_TIMEOUT_S = 5.0
DEFAULT_SHUTDOWN_TIMEOUT_S = 10.0
DEFAULT_POLL_S = 0.25
_VENUE_RETRY = {"retries_allowed": True, "max_attempts": 5, "interval_seconds": 0.2, "backoff_rate": 2.0}


class SettlementJournal(EngineJournal, Protocol):
    """What the workflows need of the journal beyond EngineJournal (SqlJournal has it)."""

    async def intent(self, client_order_id: str) -> IntentRecord | None: ...

    async def outcome_state(self, client_order_id: str) -> OutcomeState | None: ...

    async def wait_for_outcome(self, client_order_id: str, timeout: float) -> OutcomeState | None: ...


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    settled: tuple[Settlement, ...]  # ADOPT (feed as OrderUpdate) or NOT_FOUND (feed as OrderRejected)
    deferred: tuple[str, ...]  # may still be in flight: start order_lifecycle for each


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    settled: tuple[Settlement, ...]
    deferred: tuple[str, ...]
    orphans: tuple[VenueOrderView, ...]  # this strategy's open orders with no open intent


@dataclass(frozen=True, slots=True)
class ShutdownReport:
    closed: tuple[Settlement, ...]  # the final venue state of every order it cancelled
    still_open: tuple[str, ...]  # client order ids still open when the deadline passed


def _from_state(client_order_id: str, state: OutcomeState) -> Settlement:
    return Settlement(client_order_id, Verdict.ADOPT, outcome=state.outcome, order_id=state.order_id)


@DBOS.dbos_class()
class EngineWorkflows(DBOSConfiguredInstance):
    """One per strategy and process; create it on the runtime's event loop, before launch."""

    def __init__(
        self,
        *,
        strategy_id: str,
        symbol: str,
        journal: SettlementJournal,
        venue: VenueOrders,
        settle_ms: int = DEFAULT_SETTLE_MS,
        ack_timeout_s: float = DEFAULT_ACK_TIMEOUT_S,
        shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S,
        poll_s: float = DEFAULT_POLL_S,
        clock_ms: Clock = wall_clock_ms,
        home_loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.strategy_id = validate_strategy_id(strategy_id)
        self.symbol = symbol
        self.journal = journal
        self.venue = venue
        self.settle_ms = settle_ms
        self.ack_timeout_s = ack_timeout_s
        self.shutdown_timeout_s = shutdown_timeout_s
        self.poll_s = poll_s
        self._clock_ms = clock_ms
        self._home_loop = home_loop if home_loop is not None else asyncio.get_running_loop()
        super().__init__(config_name=strategy_id)

    # --- what the runtime calls ------------------------------------------------------------

    async def start_order_lifecycle(self, client_order_id: str) -> WorkflowHandleAsync[Settlement]:
        """Start (or attach to) the lifecycle workflow of an order that was just sent."""
        with SetWorkflowID(client_order_id):
            return await DBOS.start_workflow_async(self.order_lifecycle, client_order_id)

    async def recover(self, boot_id: str) -> RecoveryReport:
        with SetWorkflowID(f"{self.strategy_id}.recover.{boot_id}"):
            handle = await DBOS.start_workflow_async(self.recover_open_intents)
        return await handle.get_result()

    async def reconcile(self, round_id: str) -> ReconcileReport:
        with SetWorkflowID(f"{self.strategy_id}.reconcile.{round_id}"):
            handle = await DBOS.start_workflow_async(self.reconcile_orders)
        return await handle.get_result()

    async def shutdown(self, boot_id: str) -> ShutdownReport:
        with SetWorkflowID(f"{self.strategy_id}.shutdown.{boot_id}"):
            handle = await DBOS.start_workflow_async(self.graceful_shutdown)
        return await handle.get_result()

    # --- workflows ---------------------------------------------------------------------------

    @DBOS.workflow()
    async def order_lifecycle(self, client_order_id: str) -> Settlement:
        state = await self.await_answer(client_order_id)
        if state is not None:
            return _from_state(client_order_id, state)
        intent = await self.load_intent(client_order_id)
        if intent is None:
            raise LookupError(f"no journaled intent {client_order_id!r} (record_intent before sending)")
        return await self._settle(intent)

    @DBOS.workflow()
    async def recover_open_intents(self) -> RecoveryReport:
        intents = await self.load_open_intents()
        settled: list[Settlement] = []
        deferred: list[str] = []
        for intent in intents:
            venue = await self.get_order(intent.client_order_id)
            decision = settle(intent, venue, now_ms=await self.now_ms(), settle_ms=self.settle_ms)
            if decision.verdict is Verdict.WAIT:
                deferred.append(intent.client_order_id)
            else:
                await self.record(decision)
                settled.append(decision)
        return RecoveryReport(tuple(settled), tuple(deferred))

    @DBOS.workflow()
    async def reconcile_orders(self) -> ReconcileReport:
        # Open orders first, intents second: an order the venue lists was journaled before it was
        # sent, so its intent is in the list read after (never a false orphan).
        venue_open = await self.list_open_orders()
        intents = await self.load_open_intents()
        plan = plan_reconcile(self.strategy_id, intents, venue_open)
        settled: list[Settlement] = []
        for decision in plan.adopt:
            await self.record(decision)
            settled.append(decision)
        deferred: list[str] = []
        for intent in plan.lookups:
            venue = await self.get_order(intent.client_order_id)
            decision = settle(intent, venue, now_ms=await self.now_ms(), settle_ms=self.settle_ms)
            if decision.verdict is Verdict.WAIT:
                deferred.append(intent.client_order_id)
            else:
                await self.record(decision)
                settled.append(decision)
        return ReconcileReport(tuple(settled), tuple(deferred), plan.orphans)

    @DBOS.workflow()
    async def graceful_shutdown(self) -> ShutdownReport:
        targets = own_open_orders(self.strategy_id, await self.list_open_orders())
        for order in targets:
            await self.cancel(order.client_order_id)
        started = await self.now_ms()
        remaining = targets
        while remaining:
            remaining = own_open_orders(self.strategy_id, await self.list_open_orders())
            if not remaining or await self.now_ms() - started >= self.shutdown_timeout_s * 1000:
                break
            await DBOS.sleep_async(self.poll_s)
        still_open = {order.client_order_id for order in remaining}
        closed: list[Settlement] = []
        for order in targets:
            if order.client_order_id in still_open:
                continue
            venue = await self.get_order(order.client_order_id)
            if venue is None:
                continue
            decision = adopt(venue)
            await self.record(decision)
            closed.append(decision)
        return ShutdownReport(tuple(closed), tuple(sorted(still_open)))

    async def _settle(self, intent: IntentRecord) -> Settlement:
        """Look the intent up until the venue's answer is conclusive; record it (workflow code)."""
        while True:
            venue = await self.get_order(intent.client_order_id)
            now = await self.now_ms()
            decision = settle(intent, venue, now_ms=now, settle_ms=self.settle_ms)
            if decision.verdict is not Verdict.WAIT:
                await self.record(decision)
                return decision
            await DBOS.sleep_async(max(decision.recheck_ms - now, 1) / 1000)

    # --- steps ---------------------------------------------------------------------------------

    @DBOS.step()
    async def await_answer(self, client_order_id: str) -> OutcomeState | None:
        return await self.journal.wait_for_outcome(client_order_id, self.ack_timeout_s)

    @DBOS.step()
    async def load_intent(self, client_order_id: str) -> IntentRecord | None:
        return await self.journal.intent(client_order_id)

    @DBOS.step()
    async def load_open_intents(self) -> list[IntentRecord]:
        return list(await self.journal.open_intents(self.strategy_id))

    @DBOS.step()
    async def now_ms(self) -> int:
        return self._clock_ms()

    @DBOS.step(**_VENUE_RETRY)  # type: ignore[arg-type]
    async def get_order(self, client_order_id: str) -> VenueOrderView | None:
        return await self._at_home(lambda: self.venue.get_order(self.symbol, client_order_id))

    @DBOS.step(**_VENUE_RETRY)  # type: ignore[arg-type]
    async def list_open_orders(self) -> list[VenueOrderView]:
        orders: Sequence[VenueOrderView] = await self._at_home(lambda: self.venue.open_orders(self.symbol))
        return list(orders)

    @DBOS.step(**_VENUE_RETRY)  # type: ignore[arg-type]
    async def cancel(self, client_order_id: str) -> VenueOrderView | None:
        return await self._at_home(lambda: self.venue.cancel_order(self.symbol, client_order_id))

    @DBOS.step()
    async def record(self, decision: Settlement) -> None:
        """Record a conclusive decision unless the journal already says exactly that."""
        assert decision.outcome is not None
        current = await self.journal.outcome_state(decision.client_order_id)
        if (
            current is not None
            and current.outcome is decision.outcome
            and current.order_id == decision.order_id
        ):
            return
        await self.journal.record_outcome(
            decision.client_order_id, decision.outcome, order_id=decision.order_id, detail=decision.detail
        )

    async def _at_home(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run a venue call on the runtime's loop (recovered workflows run on DBOS's loop)."""
        home = self._home_loop
        if home is asyncio.get_running_loop() or not home.is_running():
            return await call()

        async def run() -> T:
            return await call()

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), home))
