"""The engine's durable workflows (DBOS), wired to the live runtime, off the tick hot path.

The hot path pays one durable append per order (`record_intent`, before the order leaves);
everything DBOS does runs in the background or outside trading:

- start-up recovery: `recover` runs the `recover_open_intents` workflow (GetOrder for every
  intent without a final outcome; "not found" only counts once the order can no longer be in
  flight) until the connector answers;
- order lifecycle: `follow(cid)` starts the `order_lifecycle` workflow (workflow id = client
  order id) after the order was sent, from a background task, and hands its settlement back;
  the runtime only uses it when the venue's answer never came (lost ack, broken stream);
- reconciliation: `reconcile` runs `reconcile_orders` (open orders against open intents);
- graceful shutdown: `shutdown` runs `graceful_shutdown` (cancel this strategy's open orders,
  wait until none is listed, record each final status). A shutdown cut short by a crash is
  finished by DBOS at the next launch.

`open` claims the strategy on the store (one engine per strategy id) before DBOS launches with
this strategy's executor id, so DBOS resumes only this engine's unfinished workflows.
See docs/adr/004-durable-engine-store.md.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dbos import DBOS, SetWorkflowID, WorkflowHandleAsync

from opensqt.exchange.v1 import types_pb2
from opensqt_common.logging import get_logger
from opensqt_engine.durable import (
    DurableApp,
    EngineWorkflows,
    ReconcileReport,
    RecoveryReport,
    Settlement,
    ShutdownReport,
    SqlJournal,
    StrategyBusyError,
    VenueOrderView,
    executor_id_for,
)
from opensqt_engine.runtime import convert
from opensqt_engine.runtime.gateway import ConnectorGateway
from opensqt_engine.runtime.links import Backoff

_log = get_logger(__name__)

CLAIM_RETRY_S = 0.1
RETRY_INITIAL_S = 0.5  # a failed lifecycle runs again after this, then up to RETRY_MAX_S apart
RETRY_MAX_S = 5.0

OnSettled = Callable[[str, Settlement], None]


def _retry_backoff() -> Backoff:
    return Backoff(RETRY_INITIAL_S, RETRY_MAX_S)


def venue_view(order: types_pb2.Order) -> VenueOrderView:
    venue = convert.venue_order(order)
    return VenueOrderView(
        client_order_id=venue.client_order_id,
        order_id=venue.order_id,
        side=venue.side,
        status=convert.order_status(order),
        price=venue.price,
        quantity=venue.quantity,
        filled_quantity=venue.filled_quantity,
        detail=order.status_detail,
    )


class GatewayVenue:
    """`VenueOrders` over the connector's unary RPCs (GetOrder, ListOpenOrders, CancelOrder).
    A failed call raises `GatewayError`; the workflow step retries it."""

    def __init__(self, gateway: ConnectorGateway) -> None:
        self._gateway = gateway

    def _check(self, symbol: str) -> None:
        if symbol != self._gateway.symbol:
            raise ValueError(f"this engine trades {self._gateway.symbol}, not {symbol}")

    async def get_order(self, symbol: str, client_order_id: str) -> VenueOrderView | None:
        self._check(symbol)
        order = await self._gateway.order(client_order_id)
        return None if order is None else venue_view(order)

    async def open_orders(self, symbol: str) -> Sequence[VenueOrderView]:
        self._check(symbol)
        return [venue_view(order) for order in await self._gateway.open_orders()]

    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrderView | None:
        self._check(symbol)
        order = await self._gateway.cancel(client_order_id)
        return None if order is None else venue_view(order)


@dataclass(frozen=True, slots=True)
class DurableOptions:
    settle_ms: int  # how long an order may be in flight: "not found" is final only after this
    ack_timeout_s: float  # a lifecycle looks the order up when no answer was recorded by then
    shutdown_timeout_s: float
    claim_timeout_s: float  # wait this long for a killed predecessor's claim to vanish


class Durability:
    """DBOS for one engine: created by `open`, closed by `close`."""

    def __init__(
        self,
        journal: SqlJournal,
        workflows: EngineWorkflows,
        app: DurableApp,
        *,
        backoff: Callable[[], Backoff] | None = None,
    ) -> None:
        self.journal = journal
        self._backoff = backoff or _retry_backoff
        self.workflows = workflows
        self._app = app
        self.boot_id = uuid.uuid4().hex[:12]
        self._pending: asyncio.Queue[tuple[str, OnSettled]] = asyncio.Queue()
        self._followed: set[str] = set()
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._starter: asyncio.Task[None] | None = None
        self._rounds = 0

    @classmethod
    async def open(
        cls,
        journal: SqlJournal,
        *,
        strategy_id: str,
        symbol: str,
        venue: GatewayVenue,
        options: DurableOptions,
        clock: Callable[[], float] = time.monotonic,
        backoff: Callable[[], Backoff] | None = None,
    ) -> Durability:
        """Claim `strategy_id` (waiting up to `claim_timeout_s` for a dead holder's claim to go),
        then launch DBOS, which resumes this engine's unfinished workflows."""
        deadline = clock() + options.claim_timeout_s
        while True:
            try:
                journal.claim(strategy_id)
                break
            except StrategyBusyError:
                if clock() >= deadline:
                    raise
                await asyncio.sleep(CLAIM_RETRY_S)
        workflows = EngineWorkflows(
            strategy_id=strategy_id,
            symbol=symbol,
            journal=journal,
            venue=venue,
            settle_ms=options.settle_ms,
            ack_timeout_s=options.ack_timeout_s,
            shutdown_timeout_s=options.shutdown_timeout_s,
        )
        app = await DurableApp.launch(journal.location, executor_id=executor_id_for(strategy_id))
        return cls(journal, workflows, app, backoff=backoff)

    # ---- start-up -----------------------------------------------------------------------

    async def recover(self, backoff: Backoff) -> RecoveryReport:
        """The recovery workflow's report; re-run under a new id until the connector answers."""
        attempt = 0
        while True:
            try:
                return await self.workflows.recover(f"{self.boot_id}-{attempt}")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = backoff.next_delay()
                _log.warning("recovery_workflow_failed", error=str(exc), attempt=attempt, retry_in_s=delay)
                attempt += 1
                await asyncio.sleep(delay)

    # ---- per order, in the background --------------------------------------------------------

    def follow(self, client_order_id: str, on_settled: OnSettled) -> None:
        """Start (or attach to) the order's lifecycle workflow soon, off the caller's path;
        `on_settled(cid, settlement)` gets its result. Never blocks, never raises; a second
        call for an order already followed does nothing."""
        if self._closed or client_order_id in self._followed:
            return
        self._followed.add(client_order_id)
        if self._starter is None:
            self._starter = asyncio.get_running_loop().create_task(
                self._start_lifecycles(), name="durable.lifecycles"
            )
        self._pending.put_nowait((client_order_id, on_settled))

    async def _start_lifecycles(self) -> None:
        """One start at a time, so that bursts of orders never pile DBOS work onto the loop."""
        while True:
            client_order_id, on_settled = await self._pending.get()
            handle = await self._start(client_order_id, client_order_id)
            task = asyncio.get_running_loop().create_task(self._settle(client_order_id, handle, on_settled))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _start(self, client_order_id: str, workflow_id: str) -> WorkflowHandleAsync[Settlement] | None:
        try:
            if workflow_id == client_order_id:
                return await self.workflows.start_order_lifecycle(client_order_id)
            with SetWorkflowID(workflow_id):
                return await DBOS.start_workflow_async(self.workflows.order_lifecycle, client_order_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("lifecycle_start_failed", client_order_id=client_order_id, workflow_id=workflow_id)
            return None

    async def _settle(
        self,
        client_order_id: str,
        handle: WorkflowHandleAsync[Settlement] | None,
        on_settled: OnSettled,
    ) -> None:
        """The lifecycle's settlement. A lifecycle that failed (its venue lookups gave up while
        the connector was down) is run again under a new workflow id, after a pause, until one
        settles: an order is never left without an answer."""
        attempt = 0
        backoff = self._backoff()
        while True:
            if handle is not None:
                try:
                    settlement = await handle.get_result()
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    _log.warning("lifecycle_failed", client_order_id=client_order_id, error=str(exc))
            attempt += 1
            await asyncio.sleep(backoff.next_delay())
            handle = await self._start(client_order_id, f"{client_order_id}.retry.{attempt}")
        self._followed.discard(client_order_id)
        on_settled(client_order_id, settlement)

    # ---- reconciliation and shutdown ------------------------------------------------------

    async def reconcile(self) -> ReconcileReport:
        self._rounds += 1
        return await self.workflows.reconcile(f"{self.boot_id}-{self._rounds}")

    async def shutdown(self) -> ShutdownReport:
        return await self.workflows.shutdown(self.boot_id)

    async def close(self) -> None:
        """Stop following lifecycles (they stay PENDING in DBOS and resume at the next launch)
        and destroy DBOS. The journal is closed by its owner."""
        if self._closed:
            return
        self._closed = True
        tasks = [*self._tasks, *([self._starter] if self._starter is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._app.close()
