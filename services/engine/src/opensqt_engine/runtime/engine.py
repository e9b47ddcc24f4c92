"""The live engine: one consumer task drives the pure grid core from the connector and risk.

Tasks (all on one event loop):

- stream sessions (prices, order updates, fills, risk's trading state) and the two bidi
  order paths (risk ReviewOrders, connector SubmitOrders), each re-opened when it ends;
- the consumer: the only task that touches the grid state. It applies every inbox item
  to the core and carries out the actions the core returns;
- the journal writer (`Persistence`), a timer, a periodic reconciliation and the sender
  of orders the token bucket deferred.

Order paths (DESIGN §1, §4):

- opening order (a buy): journal intent → risk ReviewOrders → (approved) SubmitOrders.
  The decision is forwarded to the connector by the task that reads it, without a hop
  through the consumer. Vetoed, or risk unreachable → OrderRejected(RISK_VETO): fail closed.
- closing order (a take-profit sell; it never exceeds the position of its slot) and every
  cancel: journal intent → SubmitOrders at once; they never wait for risk.
- risk HALTED or REDUCE_ONLY, or risk unreachable (a stream down) → the core gets
  TradingStateChanged: it cancels every resting buy at once (a burst on SubmitOrders) and
  places no opening order until risk says ACTIVE again.

Every place is answered to the core (accepted / rejected / looked up when the answer was
lost) and every cancel too (terminal update or CancelFailed), as `core` requires.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from opensqt.common.v1 import common_pb2
from opensqt.engine.v1 import types_pb2 as engine_pb
from opensqt.exchange.v1 import exchange_service_pb2 as exchange_pb
from opensqt.exchange.v1 import exchange_service_pb2_grpc
from opensqt.risk.v1 import risk_service_pb2_grpc
from opensqt.risk.v1 import types_pb2 as risk_types
from opensqt_common.eager import start_eagerly
from opensqt_common.enums import TRADING_STATE, MarketType, OrderStatus, Side, TradingState
from opensqt_common.logging import get_logger
from opensqt_engine.audit import AuditLog
from opensqt_engine.core import (
    Action,
    CancelFailed,
    CancelOrder,
    CancelReason,
    DriftSeverity,
    Event,
    GridState,
    GridStrategy,
    Note,
    NoteKind,
    OrderRejected,
    OrderUpdate,
    Paused,
    PlaceOrder,
    RejectReason,
    Slot,
    SlotStatus,
    Timer,
    TradingStateChanged,
    is_own_client_order_id,
    reconcile,
)
from opensqt_engine.journal import EngineJournal, IntentRecord, Outcome
from opensqt_engine.metrics import EngineMetrics
from opensqt_engine.runtime import convert
from opensqt_engine.runtime.crashpoints import CrashPoint, CrashPoints
from opensqt_engine.runtime.events import EventHub
from opensqt_engine.runtime.feeds import ConnectorFeeds, RiskWatch
from opensqt_engine.runtime.gateway import ConnectorGateway, GatewayError
from opensqt_engine.runtime.inbox import Inbox
from opensqt_engine.runtime.links import Backoff, ReviewLink, StreamSupervisor, SubmitLink
from opensqt_engine.runtime.messages import (
    AnswerLost,
    Command,
    Control,
    DurableReconciled,
    FillIn,
    LinkChange,
    LookupResult,
    OrderIn,
    OrderSource,
    PlaceFailed,
    ReconcileRequest,
    RequestKind,
    RiskStateIn,
    Settled,
    StreamItem,
    TickIn,
    TimerIn,
    VenueAnswer,
)
from opensqt_engine.runtime.persistence import Persistence
from opensqt_engine.runtime.ratelimit import TokenBucket
from opensqt_engine.runtime.recovery import (
    NOT_FOUND_DETAIL,
    RUNTIME_KEY,
    owning_slot,
    recover,
    recover_durably,
)

if TYPE_CHECKING:
    from opensqt_engine.durable import ReconcileReport, Settlement, ShutdownReport
    from opensqt_engine.runtime.durability import Durability

_log = get_logger(__name__)

TRACER_NAME = "opensqt.engine"
SPAN_ORDER = "engine.order"
STREAM_BATCH = 64
_W3C = TraceContextTextMapPropagator()
# Cancels that only tidy the windows (not halts, margin locks or unknown orders) may trail
# the venue's answer to the opening orders decided with them, by up to HOLD_LIMIT_S.
_TIDY_REASONS = frozenset(
    {CancelReason.BELOW_BUY_WINDOW, CancelReason.ABOVE_SELL_WINDOW, CancelReason.MAX_OPEN_ORDERS}
)
HOLD_LIMIT_S = 0.05

# Why the grid is paused (the core has one flag; the engine remembers the reasons).
PAUSE_OPERATOR = "operator"
PAUSE_DRIFT = "drift"
PAUSE_STALE = "stale_state"
PAUSE_SHUTDOWN = "shutdown"
PAUSE_ERROR = "error"
_OPERATOR_CLEARS = (PAUSE_OPERATOR, PAUSE_DRIFT, PAUSE_STALE, PAUSE_ERROR)

# Names of the supervised streams.
PRICES, ORDERS, FILLS, SUBMIT = "prices", "order_updates", "fills", "submit_orders"
WATCH, REVIEW = "trading_state", "review_orders"
CONNECTOR_STREAMS = (PRICES, ORDERS, FILLS, SUBMIT)
RISK_STREAMS = (WATCH, REVIEW)


class EngineState(enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"


ENGINE_STATE_PROTO = {
    EngineState.STARTING: engine_pb.ENGINE_STATE_STARTING,
    EngineState.RUNNING: engine_pb.ENGINE_STATE_RUNNING,
    EngineState.PAUSED: engine_pb.ENGINE_STATE_PAUSED,
    EngineState.STOPPING: engine_pb.ENGINE_STATE_STOPPING,
}


@dataclass(frozen=True, slots=True)
class EngineOptions:
    symbol: str
    strategy_id: str
    market: MarketType
    fee_assets: frozenset[str]
    reconcile_seconds: float
    cancel_on_exit: bool
    order_rate: float
    order_burst: int
    snapshot_interval_s: float = 0.5
    lookup_delay_s: float = 1.0
    shutdown_timeout_s: float = 20.0
    reconnect_initial_s: float = 0.2
    reconnect_max_s: float = 5.0
    inbox_size: int = 10_000
    timer_interval_s: float = 0.25
    drift_confirm_s: float = 1.0
    fill_replay_margin_ms: int = 60_000
    lifecycle_grace_s: float = 1.0  # durable store: unanswered this long -> lifecycle workflow
    base_asset: str = ""  # spot: a fee paid in it was taken from the coins bought


class _Pending:
    """A request waiting on a stream for its answer."""

    __slots__ = ("client_order_id", "kind")

    def __init__(self, kind: RequestKind, client_order_id: str) -> None:
        self.kind = kind
        self.client_order_id = client_order_id


class InFlight(_Pending):
    """A place from the core's decision until the venue's (or risk's) answer."""

    __slots__ = (
        "action",
        "after",
        "carrier",
        "closing",
        "journal_error",
        "journaled",
        "request",
        "sent",
        "span",
        "tick_ns",
        "waiter",
    )

    def __init__(
        self,
        action: PlaceOrder,
        span: trace.Span,
        carrier: dict[str, str],
        tick_ns: int,
        closing: bool,
    ) -> None:
        super().__init__(RequestKind.PLACE, action.client_order_id)
        self.action = action
        self.carrier = carrier
        self.request: exchange_pb.SubmitOrdersRequest | None = None
        self.span = span
        self.tick_ns = tick_ns
        self.closing = closing
        self.sent = False
        self.journaled = False
        self.journal_error: str | None = None
        self.after: list[CancelOrder] | None = None
        self.waiter: asyncio.Future[None] | None = None


@dataclass(frozen=True, slots=True)
class StatusView:
    strategy_id: str
    symbol: str
    state: EngineState
    risk_state: TradingState | None
    risk_connected: bool
    connector_connected: bool
    last_price: Decimal | None
    anchor: Decimal | None
    price_interval: Decimal
    order_amount: Decimal
    position: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal
    open_orders: int
    slots_free: int
    slots_pending: int
    slots_locked: int
    fills: int
    started_ns: int
    detail: str


@dataclass(frozen=True, slots=True)
class CancelAllResult:
    canceled: int
    remaining: int | None  # None: the venue's open orders could not be listed


def _error(reason: int, message: str) -> common_pb2.Error:
    return common_pb2.Error(code=grpc.StatusCode.UNAVAILABLE.value[0], reason=reason, message=message)  # type: ignore[arg-type]


class Engine:
    def __init__(
        self,
        strategy: GridStrategy,
        options: EngineOptions,
        *,
        journal: EngineJournal,
        gateway: ConnectorGateway,
        connector_channel: grpc.aio.Channel,
        risk_channel: grpc.aio.Channel,
        connector_metadata: Sequence[tuple[str, str]] = (),
        risk_metadata: Sequence[tuple[str, str]] = (),
        audit: AuditLog,
        metrics: EngineMetrics,
        events: EventHub,
        tracer: trace.Tracer,
        durability: Durability | None = None,
        crash: CrashPoints | None = None,
        clock: Callable[[], float] = time.time,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.strategy = strategy
        self.config = strategy.config
        self.options = options
        self._journal = journal
        self._durability = durability  # DBOS workflows (the durable store); None: in-memory journal
        self._crash = crash if crash is not None else CrashPoints()
        self._gateway = gateway
        self._audit = audit
        self._metrics = metrics
        self._events = events
        self._tracer = tracer
        self._clock = clock
        self._clock_ns = clock_ns
        self._symbol = options.symbol
        self._sid = options.strategy_id
        self._perp = options.market is MarketType.LINEAR_PERPETUAL
        self.inbox: Inbox[TickIn, Control, StreamItem] = Inbox(options.inbox_size)
        self.state: GridState = strategy.new_state()
        self._persistence: Persistence | None = None
        self._bucket = TokenBucket(options.order_rate, options.order_burst)
        self._deferred: deque[tuple[PlaceOrder, int]] = deque()
        self._deferred_wakeup = asyncio.Event()
        self._in_flight: dict[str, InFlight] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._cancels: set[str] = set()  # cancels sent, answer not yet applied
        self._settling: set[str] = set()  # orders of no flight whose lifecycle workflow settles them
        self._durable_round: asyncio.Task[None] | None = None
        self._fills_up_at = 0.0  # when the fill stream (re)opened last (its replay follows)
        self._recheck_pending = False
        self._lookups: set[str] = set()
        self._acked: set[str] = set()
        self._pause_reasons: set[str] = set()
        self._last_fill_ms = 0
        self._started_ms = 0  # wall clock when this process started trading: no own fill is older
        self._risk_state: TradingState | None = None
        self._risk_reason = ""
        self._effective: TradingState | None = None
        self._links: dict[str, bool] = dict.fromkeys((*CONNECTOR_STREAMS, *RISK_STREAMS), False)
        self._ready = False
        self._stopping = False
        self._engine_state = EngineState.STARTING
        self._drift_strikes = 0
        self._drift_seen_at = 0.0
        self._alert = ""
        self._reconciling = False
        self._changed = False
        self.started_ns = clock_ns()
        self._tasks: list[asyncio.Task[Any]] = []
        self._helpers: set[asyncio.Task[Any]] = set()
        self._consumer: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        backoff = self._backoff
        self._review: ReviewLink[InFlight] = ReviewLink(
            risk_service_pb2_grpc.RiskServiceStub(risk_channel),
            risk_metadata,
            client_order_id=lambda pending: pending.client_order_id,
            on_decision=self._on_decision,
            on_lost=self._on_review_lost,
        )
        self._submit: SubmitLink[_Pending] = SubmitLink(
            exchange_service_pb2_grpc.ExchangeServiceStub(connector_channel),
            connector_metadata,
            client_order_id=lambda pending: pending.client_order_id,
            on_answer=self._on_answer,
            on_lost=self._on_submit_lost,
        )
        feeds = ConnectorFeeds(
            connector_channel,
            connector_metadata,
            symbol=self._symbol,
            strategy_id=self._sid,
            inbox=self.inbox,
            fills_since_ms=self._fills_since_ms,
            clock=clock,
        )
        watch = RiskWatch(risk_channel, risk_metadata, self.inbox)
        self._supervisors = [
            StreamSupervisor(PRICES, feeds.prices, backoff=backoff(), on_change=self._link_changed),
            StreamSupervisor(ORDERS, feeds.orders, backoff=backoff(), on_change=self._link_changed),
            StreamSupervisor(FILLS, feeds.fills, backoff=backoff(), on_change=self._link_changed),
            StreamSupervisor(SUBMIT, self._submit.session, backoff=backoff(), on_change=self._link_changed),
            StreamSupervisor(WATCH, watch.session, backoff=backoff(), on_change=self._link_changed),
            StreamSupervisor(REVIEW, self._review.session, backoff=backoff(), on_change=self._link_changed),
        ]

    def _backoff(self) -> Backoff:
        return Backoff(self.options.reconnect_initial_s, self.options.reconnect_max_s)

    # ================================================================ lifecycle

    async def start(self) -> None:
        """Recover, then open every stream and start trading once reconciled."""
        self._started_ms = self._clock_ns() // 1_000_000
        if self._durability is not None:
            recovery = await recover_durably(
                self.strategy,
                self._durability.journal,
                self._durability,
                self._gateway,
                clock=self._clock,
                backoff=self._backoff(),
                crash=self._crash,
            )
        else:
            recovery = await recover(
                self.strategy, self._journal, self._gateway, clock=self._clock, backoff=self._backoff()
            )
        self.state = recovery.state
        self._last_fill_ms = recovery.last_fill_ms
        self._pause_reasons = recovery.pause_reasons - {PAUSE_SHUTDOWN}
        self._audit.write(
            "recovery",
            restored=recovery.restored,
            anchor=self.state.anchor,
            next_generation=self.state.next_generation,
            adopted=recovery.adopted,
            unadoptable=recovery.unadoptable,
            looked_up=recovery.looked_up,
            deferred=recovery.deferred,
            durable=self._durability is not None,
        )
        persistence = Persistence(
            self._journal,
            self._sid,
            self._snapshot,
            lambda: self.state.next_generation,
            interval_s=self.options.snapshot_interval_s,
        )
        self._persistence = persistence
        for outcome in recovery.outcomes:  # the durable path's workflows recorded theirs
            persistence.outcome(
                outcome.client_order_id, outcome.outcome, order_id=outcome.order_id, detail=outcome.detail
            )
        self._acked.update(recovery.acked)
        # Until risk says otherwise, trade as if HALTED; the pause reasons survive restarts.
        self._effective = TradingState.HALTED
        self.strategy.handle(self.state, TradingStateChanged(TradingState.HALTED))
        self.strategy.handle(self.state, Paused(bool(self._pause_reasons)))
        await persistence.save()  # the id ceiling is durable before any order can leave
        self._metrics.grid(self.state)
        self._writer = self._spawn(persistence.run(), "journal_writer")
        self._consumer = self._spawn(self._consume(), "consumer")
        for supervisor in self._supervisors:
            self._tasks.append(self._spawn(supervisor.run(), f"stream_{supervisor.name}"))
        self._tasks.append(self._spawn(self._send_deferred(), "deferred_orders"))
        self._tasks.append(self._spawn(self._every(self.options.timer_interval_s, TimerIn), "timer"))
        self._tasks.append(
            self._spawn(
                self._every(self.options.reconcile_seconds, lambda: ReconcileRequest("periodic")),
                "reconcile_timer",
            )
        )
        for cid in recovery.deferred:  # their lifecycle workflows settle them (in-flight window)
            self._settling.add(cid)
            self._follow(cid)
        _log.info(
            "engine_started",
            strategy_id=self._sid,
            symbol=self._symbol,
            restored=recovery.restored,
            anchor=str(self.state.anchor) if self.state.anchor is not None else None,
            next_generation=self.state.next_generation,
        )

    def _spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return asyncio.get_running_loop().create_task(coroutine, name=f"engine.{name}")

    async def _every(self, seconds: float, make: Callable[[], Control]) -> None:
        while True:
            await asyncio.sleep(seconds)
            self.inbox.put_control(make())

    async def stop(self) -> None:
        """Graceful stop: no new orders, cancel ours (bounded), save, close the streams."""
        if self._stopping:
            return
        self._stopping = True
        self._set_engine_state()
        consumer = self._consumer
        if consumer is not None and not consumer.done():
            await self._command(lambda: self._set_pause(PAUSE_SHUTDOWN, True))
            self._drop_deferred("not sent: the engine is stopping")
            if self.options.cancel_on_exit:
                deadline = time.monotonic() + self.options.shutdown_timeout_s
                if self._durability is not None:
                    result = await self._durable_shutdown(deadline)
                else:
                    result = await self._cancel_own_orders(deadline)
                if result.remaining is None:
                    self._raise_alert("shutdown: the connector did not answer; our orders may still be open")
                elif result.remaining:
                    self._raise_alert(
                        f"shutdown: {result.remaining} of our orders may still be open at the venue "
                        "(could not confirm their cancels in time)"
                    )
                _log.info("shutdown_orders_cancelled", canceled=result.canceled, remaining=result.remaining)
            else:
                await self._wait_idle(time.monotonic() + self.options.shutdown_timeout_s)
            await self._command(_noop)  # everything read so far is applied
        if consumer is not None:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
        for task in [*self._tasks, *self._helpers]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._helpers, return_exceptions=True)
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        if self._persistence is not None:
            try:
                await self._persistence.flush()
            except Exception:
                _log.exception("final_snapshot_failed")
        self._events.close()
        _log.info("engine_stopped", strategy_id=self._sid)

    # ================================================================ operator API

    async def _command(self, action: Callable[[], Awaitable[Any]]) -> Any:
        command = Command(action)
        self.inbox.put_control(command)
        return await command.done

    async def pause(self, reason: str) -> None:
        await self._command(lambda: self._set_pause(PAUSE_OPERATOR, True, reason))

    async def resume(self, reason: str) -> None:
        async def clear() -> None:
            for name in _OPERATOR_CLEARS:
                await self._set_pause(name, False, reason)
            self._alert = ""
            self._drift_strikes = 0

        await self._command(clear)

    async def cancel_all(self, reason: str) -> CancelAllResult:
        """Pause (or the grid would re-place at once) and cancel every order of this grid."""
        await self._command(lambda: self._set_pause(PAUSE_OPERATOR, True, f"cancel-all: {reason}"))
        self._drop_deferred("not sent: cancel-all")
        return await self._cancel_own_orders(time.monotonic() + self.options.shutdown_timeout_s)

    def status(self) -> StatusView:
        state = self.state
        counts = dict.fromkeys(SlotStatus, 0)
        for slot in state.slots.values():
            counts[slot.status] += 1
        return StatusView(
            strategy_id=self._sid,
            symbol=self._symbol,
            state=self._engine_state,
            risk_state=self._risk_state,
            risk_connected=self.risk_connected,
            connector_connected=self.connector_connected,
            last_price=state.last_price,
            anchor=state.anchor,
            price_interval=self.config.price_interval,
            order_amount=self.config.order_amount,
            position=state.position,
            realized_pnl=state.realized_pnl,
            fees_paid=state.fees_paid,
            open_orders=counts[SlotStatus.PENDING] + counts[SlotStatus.LOCKED],
            slots_free=counts[SlotStatus.FREE],
            slots_pending=counts[SlotStatus.PENDING],
            slots_locked=counts[SlotStatus.LOCKED],
            fills=state.fill_count,
            started_ns=self.started_ns,
            detail=self._detail(),
        )

    def slots(self) -> list[Slot]:
        return [self.state.slots[index] for index in sorted(self.state.slots, reverse=True)]

    @property
    def engine_state(self) -> EngineState:
        return self._engine_state

    @property
    def risk_connected(self) -> bool:
        return all(self._links[name] for name in RISK_STREAMS)

    @property
    def connector_connected(self) -> bool:
        return all(self._links[name] for name in CONNECTOR_STREAMS)

    @property
    def effective_trading_state(self) -> TradingState | None:
        return self._effective

    @property
    def in_flight(self) -> int:
        return len(self._in_flight) + len(self._deferred)

    def _detail(self) -> str:
        parts = []
        if self._pause_reasons:
            parts.append("paused: " + ", ".join(sorted(self._pause_reasons)))
        if not self.risk_connected:
            parts.append("risk unreachable: no opening orders")
        elif self._risk_state is not None and self._risk_state is not TradingState.ACTIVE:
            parts.append(f"risk {self._risk_state.value}: {self._risk_reason}")
        if not self.connector_connected:
            down = [name for name in CONNECTOR_STREAMS if not self._links[name]]
            parts.append("connector streams down: " + ", ".join(down))
        if self._alert:
            parts.append(f"alert: {self._alert}")
        return "; ".join(parts)

    # ================================================================ the consumer

    async def _consume(self) -> None:
        inbox = self.inbox
        while True:
            if not inbox.has_work(ticks=self._ready):
                await inbox.wait()
            while inbox.control:
                await self._guarded(self._on_control, inbox.control.popleft())
            if self._ready:
                item = inbox.take_tick()
                if item is not None:
                    await self._guarded(self._on_tick, item)
            handled = 0
            while inbox.stream and handled < STREAM_BATCH:
                await self._guarded(self._on_stream, inbox.take_stream())
                handled += 1
            if self._changed:
                self._changed = False
                self._metrics.grid(self.state)
                if self._persistence is not None:
                    self._persistence.mark_dirty()
            if self._persistence is not None and self._persistence.overloaded:
                await self._wait_for_journal(self._persistence)
            if not self._in_flight and not self._deferred:
                self._idle.set()

    async def _wait_for_journal(self, persistence: Persistence) -> None:
        """The journal fell far behind (slow or down): stop consuming until it catches up,
        rather than hold an ever-growing backlog in memory."""
        self._raise_alert(f"the journal is {persistence.backlog} writes behind; the engine waits for it")
        await persistence.wait_drained()
        _log.info("journal_caught_up", backlog=persistence.backlog)

    async def _guarded(self, handler: Callable[[Any], Awaitable[None]], item: Any) -> None:
        """A bug in handling one item must not stop the engine: alert, stop placing, go on
        (answers, cancels and fills keep being applied)."""
        try:
            await handler(item)
        except Exception as exc:
            _log.exception("engine_item_failed", item=type(item).__name__)
            self._raise_alert(f"internal error while handling {type(item).__name__}: {exc!r}; trading paused")
            if PAUSE_ERROR not in self._pause_reasons:
                try:
                    await self._set_pause(PAUSE_ERROR, True, "internal error")
                except Exception:
                    _log.exception("engine_pause_failed")

    async def _apply(self, event: Event, tick_ns: int = 0) -> None:
        actions = self.strategy.handle(self.state, event)
        if type(event) is not Timer or actions:
            self._changed = True
        if actions:
            await self._dispatch(actions, tick_ns)

    async def _on_tick(self, item: TickIn) -> None:
        tick = item.tick
        actions = self.strategy.handle(self.state, tick)
        if actions:
            self._changed = True
            await self._dispatch(actions, item.received_ns)
        self._metrics.last_price(tick.price)

    async def _dispatch(self, actions: list[Action], tick_ns: int) -> None:
        """Carry out the core's actions. Opening orders go first: their intent is on its way to
        risk while the cancels and closing orders that came with it are sent."""
        persistence = self._persistence
        if persistence is not None and self.state.next_generation > persistence.ceiling:
            await persistence.extend_ceiling()
        rest: list[Action] = []
        last: InFlight | None = None
        for action in actions:
            if type(action) is PlaceOrder and action.side is Side.BUY:
                flight = await self._place(action, tick_ns)
                last = flight or last
            else:
                rest.append(action)
        held: list[CancelOrder] = []
        for action in rest:
            if type(action) is PlaceOrder:
                assert isinstance(action, PlaceOrder)
                await self._place(action, tick_ns)
            elif type(action) is CancelOrder:
                assert isinstance(action, CancelOrder)
                if last is not None and action.reason in _TIDY_REASONS:
                    held.append(action)
                else:
                    await self._cancel(action)
            else:
                assert isinstance(action, Note)
                self._note(action)
        if held:
            assert last is not None
            if self._in_flight.get(last.client_order_id) is not last:
                await self._send_cancels(held)
            else:
                # Tidying cancels wait until the venue has answered the opening order decided
                # with them, so that the connector handles that order first (HOLD_LIMIT_S at most).
                last.after = held
                asyncio.get_running_loop().call_later(HOLD_LIMIT_S, self._release_held, last)

    async def _send_cancels(self, cancels: list[CancelOrder]) -> None:
        for cancel in cancels:
            await self._cancel(cancel)

    def _release_held(self, flight: InFlight) -> None:
        held = flight.after
        if held:
            flight.after = None
            task = asyncio.ensure_future(self._send_cancels(held))
            self._helpers.add(task)
            task.add_done_callback(self._helpers.discard)

    async def _on_control(self, item: Control) -> None:
        kind = type(item)
        if kind is VenueAnswer:
            assert isinstance(item, VenueAnswer)
            await self._on_venue_answer(item)
        elif kind is PlaceFailed:
            assert isinstance(item, PlaceFailed)
            await self._on_place_failed(item)
        elif kind is AnswerLost:
            assert isinstance(item, AnswerLost)
            self._audit.write(
                "venue_result",
                client_order_id=item.client_order_id,
                request=item.kind.value,
                lost=item.detail,
            )
            self._look_up(item.kind, item.client_order_id, self.options.lookup_delay_s)
        elif kind is LookupResult:
            assert isinstance(item, LookupResult)
            await self._on_lookup(item)
        elif kind is Settled:
            assert isinstance(item, Settled)
            await self._on_settled(item.client_order_id, item.settlement)
        elif kind is DurableReconciled:
            assert isinstance(item, DurableReconciled)
            await self._on_durable_reconciled(item.report)
        elif kind is RiskStateIn:
            assert isinstance(item, RiskStateIn)
            self._risk_state = item.state
            self._risk_reason = item.reason
            await self._update_trading_state(item.source, item.since_ns)
        elif kind is LinkChange:
            assert isinstance(item, LinkChange)
            await self._on_link_change(item)
        elif kind is TimerIn:
            if self._ready:
                await self._apply(Timer(self._clock()))
        elif kind is ReconcileRequest:
            assert isinstance(item, ReconcileRequest)
            await self._reconcile(item.reason)
        elif kind is Command:
            assert isinstance(item, Command)
            try:
                result = await item.action()
            except Exception as exc:
                if not item.done.done():
                    item.done.set_exception(exc)
            else:
                if not item.done.done():
                    item.done.set_result(result)
        else:
            raise TypeError(f"unexpected inbox item {item!r}")

    async def _on_stream(self, item: StreamItem) -> None:
        if type(item) is OrderIn:
            assert isinstance(item, OrderIn)
            update = convert.order_update(item.order, self._clock())
            if item.source is OrderSource.STREAM:
                self._audit.write(
                    "order_update",
                    client_order_id=update.client_order_id,
                    order_id=update.order_id,
                    status=update.status,
                    filled_quantity=update.filled_quantity,
                    detail=item.order.status_detail,
                )
            self._journal_order(update)
            await self._apply(update)
        else:
            assert isinstance(item, FillIn)
            await self._on_fill(item)

    # ================================================================ orders out

    async def _place(self, action: PlaceOrder, tick_ns: int) -> InFlight | None:
        """Send now, or defer when the token bucket is empty; the flight when it went to risk."""
        if self._deferred or not self._bucket.try_take():
            self._deferred.append((action, tick_ns))
            self._idle.clear()
            self._deferred_wakeup.set()
            return None
        return await self._send_place(action, tick_ns)

    async def _send_deferred(self) -> None:
        while True:
            await self._deferred_wakeup.wait()
            self._deferred_wakeup.clear()
            while self._deferred:
                wait = self._bucket.wait_time()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                if self._bucket.try_take() and self._deferred:
                    action, tick_ns = self._deferred.popleft()
                    await self._send_place(action, tick_ns)

    def _drop_deferred(self, detail: str) -> None:
        while self._deferred:
            action, _ = self._deferred.popleft()
            self.inbox.put_control(
                PlaceFailed(action.client_order_id, RejectReason.OTHER, detail, vetoed=False)
            )

    async def _send_place(self, action: PlaceOrder, tick_ns: int) -> InFlight | None:
        """One order out. The hot path does only what must precede the first byte on the wire."""
        cid = action.client_order_id
        closing = action.side is Side.SELL  # a long grid's sells only ever close a slot's position
        span = self._tracer.start_span(SPAN_ORDER)
        carrier: dict[str, str] = {}
        if span.is_recording():  # an unsampled order carries no context: nobody makes spans for it
            _W3C.inject(carrier, context=trace.set_span_in_context(span))
        flight = InFlight(action, span, carrier, tick_ns, closing)
        self._in_flight[cid] = flight
        self._idle.clear()
        if closing:
            # Straight to the venue: the intent must be durable before the order leaves.
            record = convert.intent_record(action, self._sid, self._symbol, self._clock_ns() // 1_000_000)
            flight.request = convert.submit_place(action, self._symbol, carrier)
            if await self._journal_intent(flight, record):
                if await self._submit.send(flight.request, flight):
                    self._sent(flight)
                else:
                    self.inbox.put_control(
                        PlaceFailed(cid, RejectReason.OTHER, "not sent: connector unavailable", vetoed=False)
                    )
            else:
                self.inbox.put_control(
                    PlaceFailed(cid, RejectReason.OTHER, "not sent: journal unavailable", vetoed=False)
                )
        else:
            # Risk reviews while the intent is journaled; the approved order waits for both.
            # The intent's write is handed to gRPC now, and the rest is done while it
            # completes: waiting for gRPC to confirm the write (hundreds of µs) before
            # journaling would leave that work to be done just as risk's answer arrives.
            intent = convert.order_intent(action, self._symbol, self._sid, carrier)
            sending = start_eagerly(self._review.send(intent, flight))
            # Built while risk reviews, so that an approval is forwarded at once.
            flight.request = convert.submit_place(action, self._symbol, carrier)
            record = convert.intent_record(action, self._sid, self._symbol, self._clock_ns() // 1_000_000)
            await self._journal_intent(flight, record)
            self._describe_sent(flight)
            reviewing = await sending
            if not reviewing:
                self.inbox.put_control(
                    PlaceFailed(cid, RejectReason.RISK_VETO, "not sent: risk unreachable", vetoed=True)
                )
            return flight if reviewing else None
        self._describe_sent(flight)
        return None

    async def _journal_intent(self, flight: InFlight, record: IntentRecord) -> bool:
        try:
            await self._journal.record_intent(record)
        except Exception as exc:
            _log.exception("journal_intent_failed", client_order_id=flight.client_order_id)
            flight.journal_error = str(exc) or type(exc).__name__
        else:
            self._crash.hit(CrashPoint.AFTER_INTENT)
        flight.journaled = True
        waiter = flight.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return flight.journal_error is None

    def _describe_sent(self, flight: InFlight) -> None:
        """Span attributes, audit line and event of an order just sent (off the hot path)."""
        action = flight.action
        route = "direct" if flight.closing else "risk"
        flight.span.set_attributes(
            {
                "opensqt.client_order_id": action.client_order_id,
                "opensqt.symbol": self._symbol,
                "opensqt.side": action.side.value,
                "opensqt.price": str(action.price),
                "opensqt.quantity": str(action.quantity),
                "opensqt.level_index": action.level_index,
                "opensqt.route": route,
            }
        )
        self._audit.write(
            "intent",
            client_order_id=action.client_order_id,
            level_index=action.level_index,
            side=action.side,
            price=action.price,
            quantity=action.quantity,
            post_only=action.post_only,
            reduce_only=action.reduce_only,
            route=route,
        )
        if self._events.listening:
            self._publish(
                engine_pb.EVENT_KIND_ORDER_INTENT,
                client_order_id=action.client_order_id,
                level_index=action.level_index,
                detail=f"{action.side.value} {action.quantity} @ {action.price}",
            )

    def _sent(self, flight: InFlight) -> None:
        flight.sent = True
        if flight.tick_ns:
            self._metrics.tick_to_order((time.perf_counter_ns() - flight.tick_ns) / 1e6)
        if self._durability is not None:
            grace = self.options.lifecycle_grace_s
            if grace > 0:
                asyncio.get_running_loop().call_later(grace, self._follow_unanswered, flight.client_order_id)
            else:
                self._follow(flight.client_order_id)
        self._crash.hit(CrashPoint.AFTER_SEND)

    # ================================================================ durable lifecycle

    def _follow(self, cid: str) -> None:
        """Start the order's lifecycle workflow in the background (durable store only): it
        settles the order if the venue's answer never comes, even across a crash."""
        if self._durability is not None:
            self._durability.follow(cid, self._on_lifecycle)

    def _follow_unanswered(self, cid: str) -> None:
        """`lifecycle_grace_s` after the send: an order still waiting for the venue's answer gets
        its lifecycle workflow. Orders answered in time (nearly all) never pay for one: a DBOS
        workflow costs milliseconds of CPU that would compete with the next ticks."""
        if cid in self._in_flight:
            self._follow(cid)

    def _on_lifecycle(self, cid: str, settlement: Settlement) -> None:
        """A lifecycle ended. Most end right after the runtime recorded the venue's answer
        itself; only a settlement somebody waits for goes to the consumer."""
        if cid in self._in_flight or cid in self._settling:
            self.inbox.put_control(Settled(cid, settlement))

    def _look_up(self, kind: RequestKind, cid: str, delay: float) -> None:
        """A place whose answer was lost or left open: its lifecycle workflow settles it
        (waiting out the in-flight window before "not found" counts). Without the durable
        store, and for cancels: GetOrder after `delay`."""
        if kind is RequestKind.PLACE and self._durability is not None:
            self._follow(cid)
        else:
            self._schedule_lookup(kind, cid, delay)

    async def _on_settled(self, cid: str, settlement: Settlement) -> None:
        self._settling.discard(cid)
        if cid not in self._in_flight and owning_slot(self.state, cid) is None:
            return  # answered meanwhile
        self._audit.write(
            "venue_result",
            client_order_id=cid,
            request="lifecycle",
            outcome=settlement.outcome,
            status=settlement.status,
            filled_quantity=settlement.filled_quantity,
        )
        now = self._clock()
        if settlement.outcome is Outcome.NOT_FOUND:  # recorded by the workflow
            await self._end_flight(cid, NOT_FOUND_DETAIL)
            await self._apply(OrderRejected(cid, RejectReason.OTHER, NOT_FOUND_DETAIL, now))
            return
        await self._end_flight(cid)
        if settlement.status is None:
            return  # the runtime recorded the venue's answer itself: the core has it already
        update = OrderUpdate(cid, settlement.order_id, settlement.status, settlement.filled_quantity, now=now)
        if not update.status.is_terminal:
            self._acked.add(cid)  # the workflow recorded ACKED (and any final outcome) already
        await self._apply(update)

    async def _on_decision(self, flight: InFlight, decision: risk_types.RiskDecision) -> None:
        """Runs in the ReviewOrders reader: an approval goes straight to the connector."""
        cid = flight.client_order_id
        if decision.approved:
            if not flight.journaled:  # the journal write (and the request) are still under way
                flight.waiter = asyncio.get_running_loop().create_future()
                await flight.waiter
            self._audit.write("risk_decision", client_order_id=cid, approved=True)
            if flight.journal_error is not None:
                detail = f"approved but not sent: journal unavailable ({flight.journal_error})"
                self.inbox.put_control(PlaceFailed(cid, RejectReason.OTHER, detail, vetoed=False))
                return
            assert flight.request is not None
            sent = await self._submit.send(flight.request, flight)
            if sent:
                self._sent(flight)
            else:
                detail = "approved but not sent: connector unavailable"
                self.inbox.put_control(PlaceFailed(cid, RejectReason.OTHER, detail, vetoed=False))
            return
        veto = convert.veto_name(decision.reason)
        detail = f"{veto}: {decision.detail}" if decision.detail else veto
        self._audit.write(
            "risk_decision", client_order_id=cid, approved=False, reason=veto, detail=decision.detail
        )
        self.inbox.put_control(PlaceFailed(cid, convert.veto_rejection(decision), detail, vetoed=True))

    def _on_review_lost(self, flight: InFlight, why: str) -> None:
        self.inbox.put_control(
            PlaceFailed(
                flight.client_order_id, RejectReason.RISK_VETO, f"risk unreachable ({why})", vetoed=True
            )
        )

    def _on_answer(self, pending: _Pending, response: exchange_pb.SubmitOrdersResponse) -> None:
        has_order = response.WhichOneof("result") == "order"
        self.inbox.put_control(
            VenueAnswer(
                pending.kind,
                pending.client_order_id,
                response.order if has_order else None,
                None if has_order else response.error,
            )
        )

    def _on_submit_lost(self, pending: _Pending, why: str) -> None:
        self.inbox.put_control(AnswerLost(pending.kind, pending.client_order_id, why))

    async def _cancel(self, action: CancelOrder) -> None:
        cid = action.client_order_id
        if cid in self._cancels:
            return
        self._cancels.add(cid)
        self._audit.write(
            "cancel",
            client_order_id=cid,
            order_id=action.order_id,
            level_index=action.level_index,
            reason=action.reason,
        )
        sent = await self._submit.cancel(
            convert.cancel_request(self._symbol, cid), _Pending(RequestKind.CANCEL, cid)
        )
        if not sent:
            error = _error(common_pb2.ERROR_REASON_VENUE_UNAVAILABLE, "not sent: connector unavailable")
            self.inbox.put_control(VenueAnswer(RequestKind.CANCEL, cid, None, error))

    # ================================================================ answers in

    async def _end_flight(self, cid: str, error: str = "") -> None:
        """The place is answered: close its span, send the cancels that waited for it."""
        flight = self._in_flight.pop(cid, None)
        if flight is None:
            return
        if error:
            flight.span.set_status(trace.Status(trace.StatusCode.ERROR, error))
        flight.span.end()
        held = flight.after
        if held:
            flight.after = None
            await self._send_cancels(held)

    def _journal_order(self, update: OrderUpdate) -> None:
        """ACKED once per order, then its final outcome (after a snapshot that knows it)."""
        persistence = self._persistence
        if persistence is None:
            return
        cid = update.client_order_id
        final = convert.final_outcome(update.status)
        if final is not None:
            self._acked.discard(cid)
            persistence.outcome(cid, final, order_id=update.order_id)
        elif cid not in self._acked:
            if len(self._acked) > 100_000:
                self._acked.clear()
            self._acked.add(cid)
            persistence.outcome(cid, Outcome.ACKED, order_id=update.order_id)

    async def _on_venue_answer(self, answer: VenueAnswer) -> None:
        cid = answer.client_order_id
        now = self._clock()
        if answer.kind is RequestKind.PLACE:
            if answer.order is not None:
                update = convert.order_update(answer.order, now)
                self._audit.write(
                    "venue_result",
                    client_order_id=cid,
                    request="place",
                    order_id=update.order_id,
                    status=update.status,
                    filled_quantity=update.filled_quantity,
                )
                await self._end_flight(cid)
                self._journal_order(update)
                if self._events.listening:
                    self._publish(engine_pb.EVENT_KIND_ORDER_PLACED, client_order_id=cid, order=answer.order)
                await self._apply(update)
                return
            assert answer.error is not None
            text = convert.error_text(answer.error)
            reason = convert.rejection(answer.error)
            self._audit.write("venue_result", client_order_id=cid, request="place", error=text)
            if reason is None:
                self._look_up(RequestKind.PLACE, cid, self.options.lookup_delay_s)
                return
            await self._end_flight(cid, text)
            if self._persistence is not None:
                self._persistence.outcome(cid, Outcome.REJECTED, detail=text)
            if self._events.listening:
                self._publish(engine_pb.EVENT_KIND_ORDER_REJECTED, client_order_id=cid, detail=text)
            await self._apply(OrderRejected(cid, reason, text, now))
            return
        self._cancels.discard(cid)
        if answer.order is not None:
            update = convert.order_update(answer.order, now)
            self._audit.write(
                "venue_result",
                client_order_id=cid,
                request="cancel",
                order_id=update.order_id,
                status=update.status,
                filled_quantity=update.filled_quantity,
            )
            self._journal_order(update)
            if self._events.listening and update.status is OrderStatus.CANCELED:
                self._publish(engine_pb.EVENT_KIND_ORDER_CANCELED, client_order_id=cid, order=answer.order)
            await self._apply(update)
            return
        assert answer.error is not None
        text = convert.error_text(answer.error)
        self._audit.write("venue_result", client_order_id=cid, request="cancel", error=text)
        if answer.error.reason == common_pb2.ERROR_REASON_ORDER_NOT_FOUND:
            self._schedule_lookup(RequestKind.CANCEL, cid, 0.0)
        else:
            await self._apply(CancelFailed(cid, text, now))

    async def _on_place_failed(self, failed: PlaceFailed) -> None:
        cid = failed.client_order_id
        flight = self._in_flight.get(cid)
        await self._end_flight(cid, failed.detail)
        if self._persistence is not None:
            outcome = Outcome.VETOED if failed.vetoed else Outcome.REJECTED
            self._persistence.outcome(cid, outcome, detail=failed.detail)
        self._audit.write(
            "not_sent", client_order_id=cid, vetoed=failed.vetoed, reason=failed.reason, detail=failed.detail
        )
        if self._events.listening:
            kind = engine_pb.EVENT_KIND_RISK_VETO if failed.vetoed else engine_pb.EVENT_KIND_ORDER_REJECTED
            self._publish(kind, client_order_id=cid, detail=failed.detail)
        # Logged in the order's trace (its span has ended; its ids still lead to it).
        with trace.use_span(flight.span if flight is not None else trace.INVALID_SPAN, end_on_exit=False):
            _log.info("order_not_sent", client_order_id=cid, vetoed=failed.vetoed, detail=failed.detail)
        await self._apply(OrderRejected(cid, failed.reason, failed.detail, self._clock()))

    def _schedule_lookup(self, kind: RequestKind, cid: str, delay: float) -> None:
        if cid in self._lookups:
            return
        self._lookups.add(cid)
        task = asyncio.ensure_future(self._lookup(kind, cid, delay))
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)

    async def _lookup(self, kind: RequestKind, cid: str, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        backoff = self._backoff()
        while True:
            try:
                order = await self._gateway.order(cid)
            except GatewayError as exc:
                wait = backoff.next_delay()
                _log.warning("order_lookup_failed", client_order_id=cid, error=str(exc), retry_in_s=wait)
                await asyncio.sleep(wait)
                continue
            self.inbox.put_control(LookupResult(kind, cid, order))
            return

    async def _on_lookup(self, result: LookupResult) -> None:
        cid = result.client_order_id
        self._lookups.discard(cid)
        now = self._clock()
        order = result.order
        self._audit.write(
            "venue_result",
            client_order_id=cid,
            request=f"lookup_{result.kind.value}",
            found=order is not None,
            status=convert.order_status(order) if order is not None else None,
        )
        if result.kind is RequestKind.PLACE:
            if order is None:
                await self._end_flight(cid, "not found at the venue")
                if self._persistence is not None:
                    self._persistence.outcome(cid, Outcome.NOT_FOUND, detail="not found at the venue")
                await self._apply(OrderRejected(cid, RejectReason.OTHER, "not found at the venue", now))
                return
            await self._end_flight(cid)
            update = convert.order_update(order, now)
            self._journal_order(update)
            await self._apply(update)
            return
        self._cancels.discard(cid)
        if order is None:
            await self._apply(OrderUpdate(cid, "", OrderStatus.CANCELED, convert.ZERO, now=now))
            return
        update = convert.order_update(order, now)
        self._journal_order(update)
        await self._apply(update)
        if not update.status.is_terminal:
            await self._apply(CancelFailed(cid, "the cancel was not confirmed; the order is still open", now))

    async def _on_fill(self, item: FillIn) -> None:
        record = convert.fill_record(item.fill)
        before = self.state.fill_count
        await self._apply(convert.fill_event(record, self.options.fee_assets, self.options.base_asset))
        if self.state.fill_count != before:
            self._crash.hit(CrashPoint.AFTER_FILL)  # applied to the slots, recorded nowhere yet
        if self._persistence is not None:
            self._persistence.fill(record)
        if record.time_ms > self._last_fill_ms:
            self._last_fill_ms = record.time_ms
        if self.state.fill_count == before:
            return
        self._metrics.fill(record.side)
        self._audit.write(
            "fill",
            client_order_id=record.client_order_id,
            order_id=record.order_id,
            trade_id=record.trade_id,
            side=record.side,
            price=record.price,
            quantity=record.quantity,
            fee=record.fee,
            fee_asset=record.fee_asset,
            replayed=item.replayed,
            fill_time_ms=record.time_ms,
        )
        if self._events.listening:
            self._publish(engine_pb.EVENT_KIND_FILL, client_order_id=record.client_order_id, fill=item.fill)

    # ================================================================ risk & links

    def _link_changed(self, name: str, up: bool, detail: str) -> None:
        """Called by a stream supervisor: the flag at once (status reads it), the rest in order."""
        self._links[name] = up
        self.inbox.put_control(LinkChange(name, up, detail))

    async def _on_link_change(self, change: LinkChange) -> None:
        if change.up:
            _log.info("stream_up", stream=change.name)
        else:
            _log.warning("stream_down", stream=change.name, detail=change.detail)
        self._audit.write("stream", stream=change.name, up=change.up, detail=change.detail)
        if change.name == FILLS and change.up:
            self._fills_up_at = time.monotonic()
        if change.name in RISK_STREAMS:
            await self._update_trading_state("UNREACHABLE" if not change.up else "", 0)
        elif change.up and change.name in (FILLS, SUBMIT) and self._ready:
            await self._reconcile(f"{change.name} stream reopened")

    async def _update_trading_state(self, source: str, since_ns: int) -> None:
        """Risk's state while risk is reachable; HALTED (for opening orders) while it is not."""
        connected = self.risk_connected and self._risk_state is not None
        effective = self._risk_state if connected and self._risk_state is not None else TradingState.HALTED
        if effective is self._effective:
            return
        self._effective = effective
        reason = self._risk_reason if connected else "risk unreachable"
        since_ns = since_ns or self._clock_ns()
        self._audit.write(
            "trading_state",
            state=effective,
            risk_state=self._risk_state,
            risk_connected=connected,
            reason=reason,
            source=source,
            since_ns=since_ns,
        )
        _log.warning("trading_state", state=effective.value, reason=reason, risk_connected=connected)
        if self._events.listening:
            self._publish(
                engine_pb.EVENT_KIND_TRADING_STATE,
                trading_state=TRADING_STATE.to_proto(effective),
                detail=reason,
            )
        await self._apply(TradingStateChanged(effective))

    # ================================================================ reconciliation

    async def _reconcile(self, reason: str) -> None:
        if self._reconciling:
            return
        self._reconciling = True
        try:
            await self._reconcile_once(reason)
        finally:
            self._reconciling = False
        if reason == "periodic":
            self._start_durable_round()

    def _start_durable_round(self) -> None:
        """The reconciliation workflow (durable store), in the background: it settles the
        journal's open intents against the venue; its report comes back through the inbox."""
        durability = self._durability
        if durability is None or (self._durable_round is not None and not self._durable_round.done()):
            return

        async def run() -> None:
            try:
                report = await durability.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("reconcile_workflow_failed", error=str(exc))
                return
            self.inbox.put_control(DurableReconciled(report))

        self._durable_round = self._spawn(run(), "durable_reconcile")
        self._helpers.add(self._durable_round)
        self._durable_round.add_done_callback(self._helpers.discard)

    async def _on_durable_reconciled(self, report: ReconcileReport) -> None:
        """Apply the orders the workflow found closed (or never arrived) to the slots that
        still hold them; open ones are the core's reconciliation's business."""
        now = self._clock()
        closed: list[str] = []
        for settlement in report.settled:
            cid = settlement.client_order_id
            if cid in self._in_flight or owning_slot(self.state, cid) is None:
                continue  # its answer is on the way, or the slots are past it
            if settlement.outcome is Outcome.NOT_FOUND:
                closed.append(cid)
                await self._apply(OrderRejected(cid, RejectReason.OTHER, NOT_FOUND_DETAIL, now))
            elif settlement.status is not None and settlement.status.is_terminal:
                closed.append(cid)
                update = OrderUpdate(
                    cid, settlement.order_id, settlement.status, settlement.filled_quantity, now=now
                )
                await self._apply(update)
        deferred = [
            cid
            for cid in report.deferred
            if cid not in self._in_flight and owning_slot(self.state, cid) is not None
        ]
        for cid in deferred:
            self._settling.add(cid)
            self._follow(cid)
        if closed or deferred or report.orphans:
            self._audit.write(
                "reconcile",
                reason="workflow",
                closed=closed,
                deferred=deferred,
                orphans=[order.client_order_id for order in report.orphans],
            )

    async def _reconcile_once(self, reason: str) -> None:
        state = self.state
        try:
            orders = await self._gateway.open_orders()
            venue_position = await self._gateway.position() if self._perp else state.position
        except GatewayError as exc:
            _log.warning("reconcile_failed", reason=reason, error=str(exc))
            return
        venue_orders = [convert.venue_order(order) for order in orders]
        report = reconcile(self.config, self.strategy.rules, state, venue_orders, venue_position)
        drift = report.drift
        summary = {
            "reason": reason,
            "open_orders": len(venue_orders),
            "foreign_orders": len(report.foreign_orders),
            "venue_position": drift.venue_position,
            "local_position": drift.local_position,
            "drift": drift.drift,
            "severity": drift.severity,
            "stale_state": report.stale_state,
        }
        if report.stale_state:
            # The venue holds orders this state never made (a newer state, or another engine
            # with the same strategy id): repair nothing, trade nothing, tell the operator.
            self._audit.write("reconcile", **summary, repaired=False)
            await self._set_pause(PAUSE_STALE, True, "stale state")
            self._raise_alert(
                f"the venue holds orders of generation {report.max_generation_seen} but the grid state is "
                f"at {state.next_generation}: the saved state is older than the venue (or another engine "
                "trades this strategy id); trading paused, nothing repaired"
            )
            self._mark_ready()
            return
        for update in report.updates:
            self._journal_order(update)
            await self._apply(update)
        waiting = {action.client_order_id for action, _ in self._deferred}
        lookups = [
            cid
            for cid in report.lookups
            if cid not in self._in_flight
            and cid not in waiting
            and cid not in self._cancels
            and cid not in self._settling
        ]
        for cid in lookups:
            self._schedule_lookup(RequestKind.PLACE, cid, 0.0)
        for cancel in report.cancels:
            await self._cancel(cancel)
        self._audit.write(
            "reconcile",
            **summary,
            repaired=True,
            updates=[update.client_order_id for update in report.updates],
            lookups=lookups,
            cancels=[cancel.client_order_id for cancel in report.cancels],
        )
        if self._events.listening and not report.clean:
            self._publish(
                engine_pb.EVENT_KIND_RECONCILE,
                detail=(
                    f"{len(report.updates)} updated, {len(lookups)} looked up, "
                    f"{len(report.cancels)} cancelled, "
                    f"drift {drift.drift} ({drift.severity.value})"
                ),
            )
        await self._check_drift(drift.severity, drift.drift, drift.one_order, unresolved=bool(report.lookups))
        self._mark_ready()

    def _mark_ready(self) -> None:
        if not self._ready:
            self._ready = True
            self.ready.set()
            self._set_engine_state()
            self.inbox.poke()

    async def _check_drift(
        self, severity: DriftSeverity, drift: Decimal, one_order: Decimal, *, unresolved: bool = False
    ) -> None:
        """Pause on a large drift only once it is confirmed: seen again `drift_confirm_s` after
        the first look and after the fill stream last (re)opened (its replay), with no slot
        whose order's fate is still being looked up (`unresolved`: its fills may explain it)."""
        if severity is DriftSeverity.NONE:
            self._drift_strikes = 0
            return
        now = time.monotonic()
        if self._drift_strikes == 0:
            # Fills may still be on their way: replay recent fills and look again shortly.
            self._drift_strikes = 1
            self._drift_seen_at = now
            _log.info("position_drift_seen", drift=str(drift), severity=severity.value)
            self._supervisor(FILLS).restart()
            self._schedule_recheck()
            return
        if unresolved or now - max(self._drift_seen_at, self._fills_up_at) < self.options.drift_confirm_s:
            # Too early to call it confirmed: the replay (asked for at the first look, or sent by
            # a fill stream that reopened since, e.g. after a connector restart) may be arriving,
            # or an order whose fills would explain it is still being looked up.
            self._schedule_recheck()
            return
        self._drift_strikes += 1
        if severity is DriftSeverity.SMALL:
            _log.warning(
                "position_drift_small",
                drift=str(drift),
                threshold=str(one_order),
                detail="trading goes on; a missed fill should arrive by replay",
            )
            return
        if PAUSE_DRIFT not in self._pause_reasons:
            await self._set_pause(PAUSE_DRIFT, True, "large position drift")
            self._raise_alert(
                f"position at the venue differs from the slots by {drift} "
                f"(more than one order of {one_order}); "
                "trading paused until an operator resumes"
            )

    def _supervisor(self, name: str) -> StreamSupervisor:
        return next(supervisor for supervisor in self._supervisors if supervisor.name == name)

    def _schedule_recheck(self) -> None:
        if self._recheck_pending:
            return
        self._recheck_pending = True

        async def later() -> None:
            await asyncio.sleep(self.options.drift_confirm_s)
            self._recheck_pending = False
            self.inbox.put_control(ReconcileRequest("drift re-check"))

        task = asyncio.ensure_future(later())
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)

    # ================================================================ pause, alerts, notes

    async def _set_pause(self, name: str, on: bool, reason: str = "") -> None:
        before = bool(self._pause_reasons)
        if on:
            self._pause_reasons.add(name)
        else:
            self._pause_reasons.discard(name)
        after = bool(self._pause_reasons)
        if before != after:
            self._audit.write("pause" if after else "resume", cause=name, reason=reason)
            await self._apply(Paused(after))
        self._set_engine_state()

    def _set_engine_state(self) -> None:
        if self._stopping:
            new = EngineState.STOPPING
        elif not self._ready:
            new = EngineState.STARTING
        elif self._pause_reasons:
            new = EngineState.PAUSED
        else:
            new = EngineState.RUNNING
        if new is self._engine_state:
            return
        self._engine_state = new
        detail = self._detail()
        self._audit.write("engine_state", state=new, detail=detail)
        _log.info("engine_state", state=new.value, detail=detail)
        if self._events.listening:
            self._publish(
                engine_pb.EVENT_KIND_ENGINE_STATE, engine_state=ENGINE_STATE_PROTO[new], detail=detail
            )

    def _raise_alert(self, text: str) -> None:
        self._alert = text
        self._audit.write("alert", detail=text)
        _log.error("alert", detail=text)
        if self._events.listening:
            self._publish(engine_pb.EVENT_KIND_ALERT, detail=text)

    def _note(self, note: Note) -> None:
        _log.info("grid_decision", kind=note.kind.value, level_index=note.level_index, detail=note.text)
        if note.kind is NoteKind.SKIPPED_BELOW_MINIMUM and self._events.listening:
            self._publish(engine_pb.EVENT_KIND_SKIP, level_index=note.level_index or 0, detail=note.text)

    def _publish(self, kind: int, **fields: Any) -> None:
        self._events.publish(engine_pb.EngineEvent(kind=kind, **fields))  # type: ignore[arg-type]

    # ================================================================ cancelling everything

    async def _wait_idle(self, deadline: float) -> bool:
        while self._in_flight or self._deferred:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._idle.clear()
            try:
                await asyncio.wait_for(self._idle.wait(), min(remaining, 0.25))
            except TimeoutError:
                continue
        return True

    async def _durable_shutdown(self, deadline: float) -> CancelAllResult:
        """The shutdown workflow cancels this grid's open orders and waits (bounded) until the
        venue lists none, recording each final status; if the engine dies meanwhile, DBOS
        finishes it at the next launch, before trading resumes."""
        assert self._durability is not None
        await self._wait_idle(deadline)
        try:
            report = await self._durability.shutdown()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _log.warning("shutdown_workflow_failed", error=str(exc))
            return CancelAllResult(0, None)
        await self._command(lambda: self._apply_shutdown(report))
        return CancelAllResult(len(report.closed), len(report.still_open))

    async def _apply_shutdown(self, report: ShutdownReport) -> None:
        now = self._clock()
        for settlement in report.closed:
            cid = settlement.client_order_id
            self._audit.write(
                "cancel",
                client_order_id=cid,
                order_id=settlement.order_id,
                reason="shutdown",
                status=settlement.status,
            )
            if settlement.status is not None and owning_slot(self.state, cid) is not None:
                update = OrderUpdate(
                    cid, settlement.order_id, settlement.status, settlement.filled_quantity, now=now
                )
                await self._apply(update)
        for cid in report.still_open:
            self._audit.write("cancel", client_order_id=cid, reason="shutdown", confirmed=False)

    async def _cancel_own_orders(self, deadline: float) -> CancelAllResult:
        """Cancel every open order of this grid at the venue, until none is left or time is up."""
        canceled = 0
        remaining: int | None = 0
        backoff = self._backoff()
        while True:
            await self._wait_idle(deadline)
            try:
                orders = [o for o in await self._gateway.open_orders() if self._own(o.client_order_id)]
            except GatewayError as exc:
                _log.warning("cancel_all_list_failed", error=str(exc))
                if time.monotonic() >= deadline:
                    return CancelAllResult(canceled, None)
                await asyncio.sleep(min(backoff.next_delay(), max(deadline - time.monotonic(), 0)))
                continue
            remaining = len(orders)
            if not orders and not self._in_flight:
                break
            if time.monotonic() >= deadline:
                break
            results = await asyncio.gather(*(self._cancel_unary(order.client_order_id) for order in orders))
            canceled += sum(1 for done in results if done)
        await self._command(_noop)
        return CancelAllResult(canceled, remaining)

    async def _cancel_unary(self, cid: str) -> bool:
        self._audit.write("cancel", client_order_id=cid, reason="cancel_all")
        try:
            order = await self._gateway.cancel(cid)
        except GatewayError as exc:
            _log.warning("cancel_failed", client_order_id=cid, error=str(exc))
            return False
        if order is None:
            self.inbox.put_control(LookupResult(RequestKind.CANCEL, cid, None))
            return False
        self.inbox.put_control(VenueAnswer(RequestKind.CANCEL, cid, order, None))
        return convert.order_status(order) is OrderStatus.CANCELED

    def _own(self, client_order_id: str) -> bool:
        return is_own_client_order_id(client_order_id, self._sid)

    # ================================================================ snapshots

    def _fills_since_ms(self) -> int:
        """Where a (re)opened fill stream replays from: the last fill seen, less a margin; with
        none seen yet, this process's start, so that fills made while the stream was down
        before the first one arrived are replayed too (0 would ask for no replay at all)."""
        seen = self._last_fill_ms or self._started_ms
        if not seen:
            return 0
        return max(1, seen - self.options.fill_replay_margin_ms)

    def _snapshot(self) -> dict[str, Any]:
        snapshot = self.state.to_snapshot()
        snapshot[RUNTIME_KEY] = {
            "last_fill_ms": self._last_fill_ms,
            "pause_reasons": sorted(self._pause_reasons),
            "saved_unix_ms": self._clock_ns() // 1_000_000,
        }
        return snapshot


async def _noop() -> None:
    return None
