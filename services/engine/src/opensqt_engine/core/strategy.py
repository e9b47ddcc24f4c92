"""The grid strategy: ``handle(state, event) -> actions``, pure and deterministic.

Purity contract. `GridStrategy.handle` reads only its arguments and the strategy's frozen config
and rules; it performs no I/O, reads no clock and draws no random numbers. For speed it mutates
`state` in place instead of returning a copy: the "(state, event) → (state, actions)" function is
``handle(state, event)`` followed by reading `state`. The same initial state and the same events
always give the same actions and the same final state (and the same snapshot).

What happens on each event:

- Every event that changes a slot, the trading state or the pause flag triggers an *evaluation*
  (as soon as a price is known), so a fill gets its take-profit in the same call.
- A price tick evaluates only when the buy or sell boundary level moved, a slot changed since the
  last evaluation, or a backoff / the margin lock expired; otherwise it returns ``[]`` after four
  decimal comparisons (the O(1) common case).

An evaluation, for price p (see `levels` for the windows):

1. Live orders: resting buys are cancelled in HALTED / REDUCE_ONLY or under the margin lock
   (even partially filled ones: the partial position stays and gets its sell). Otherwise, unless
   paused, buys below the buy window and sells whose take-profit is above the sell window are
   cancelled — never when partially filled. Orders not yet acknowledged are never cancelled (the
   next evaluation after their acknowledgement does it).
2. Candidates: each buy-window level whose slot is FREE, flat and not in backoff gets a buy at the
   level price for ``order_amount / price`` rounded down to step (skipped, with a note, below min
   quantity or below max(min notional, min_order_value)); each FREE slot with a position, not in
   backoff, whose take-profit (level + 1) is within the sell window gets a sell of its position
   rounded down to step (skipped, with a note, below the venue minimums — dust stays on the slot,
   which then counts as flat: its next buy adds to it). On spot, a reserve of `base_fee_rate` ×
   the quantity whose fills have not arrived yet is held back, so that a base-asset fee still to
   come cannot leave the sell larger than what the account holds.
   Buys need ACTIVE, no margin lock and no pause; sells only need no pause (they reduce risk, so
   they continue in HALTED and REDUCE_ONLY).
3. Max open orders: cancellable live orders and candidates are ranked by distance of their price
   from p (sells first on a tie, then by level); the nearest ``max_open_orders − pinned`` stay and
   cancellable live orders beyond them are cancelled farthest first. New orders are placed nearest
   first, and only while the live count (including orders whose cancel is not yet confirmed) is
   below the cap, so the cap holds at the venue at every instant.

Order flags: post-only unless the slot had ``post_only_max_failures`` post-only rejections (the
counter resets when one of its orders fills completely), and never for an order that would cross
the last price (a take-profit already in the money); reduce-only for sells on perpetuals only.

Fills and positions. A slot's position changes only through its current order, by the order's
cumulative filled quantity ``min(quantity, max(largest OrderUpdate.filled_quantity, Σ distinct
fills))`` — the two sources may arrive in any order and are never added together. Fills (deduped
by trade id) are the ledger for money: fees (quote units, both sides) and, for sells,
``qty × (fill price − level price)`` of realised PnL. A fill of a recently terminated order still
counts in fees and PnL but not in the position (the terminal cumulative quantity already did).
A fee the venue took in the base asset (`Fill.base_fee`, spot) is taken off the level's position
when its fill arrives, whether the order is still live or not, and counts in fees at the fill's
price.
Updates, acknowledgements, rejections and fills for an id that is not a slot's current order
produce a note and change nothing else.

Rejections: post-only rejections count toward the fallback and retry at once; anything else puts
the slot in exponential backoff (``reject_backoff_seconds · 2^(n−1)``, capped); insufficient
margin also starts the margin lock (from the latest `now` seen). An order that ends without fills
and without our cancel (expired post-only excepted, which counts as a post-only rejection) backs
off the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from opensqt_common.enums import MarketType, OrderStatus, Side, TradingState

from .actions import Action, CancelOrder, CancelReason, Note, NoteKind, PlaceOrder
from .client_ids import encode_client_order_id, parse_client_order_id
from .config import GridConfig, MarketRules
from .events import (
    CancelFailed,
    Event,
    Fill,
    OrderAccepted,
    OrderRejected,
    OrderUpdate,
    Paused,
    PriceTick,
    RejectReason,
    Timer,
    TradingStateChanged,
)
from .levels import LevelGrid, anchor_on_tick, buy_quantity, sell_quantity, size_problem
from .slots import Slot, SlotStatus
from .state import GridState, RecentOrder, RecentOrders, SnapshotError, TradeIdMemory

ZERO = Decimal(0)
INF = float("inf")
_NOTED_LIMIT = 10_000
_FREE = SlotStatus.FREE
_PENDING = SlotStatus.PENDING
_LOCKED = SlotStatus.LOCKED
_BUY = Side.BUY
_SELL = Side.SELL


@dataclass(frozen=True, slots=True)
class _Candidate:
    side: Side
    price: Decimal
    quantity: Decimal


class _Ranked(NamedTuple):
    distance: Decimal
    side_rank: int  # 0 = sell, 1 = buy: sells win ties, they reduce risk
    level_index: int
    candidate: _Candidate | None  # None: an order already live


class GridStrategy:
    """The grid core for one (config, market rules). Holds no mutable trading state itself."""

    def __init__(self, config: GridConfig, rules: MarketRules) -> None:
        config.check_rules(rules)
        self.config = config
        self.rules = rules
        self._reduce_only_sells = config.market is MarketType.LINEAR_PERPETUAL
        self._grid: LevelGrid | None = None
        self._handlers: dict[type[Any], Callable[[GridState, Any], list[Action]]] = {
            PriceTick: self._on_price,
            OrderAccepted: self._on_accepted,
            OrderRejected: self._on_rejected,
            OrderUpdate: self._on_update,
            Fill: self._on_fill,
            CancelFailed: self._on_cancel_failed,
            TradingStateChanged: self._on_trading_state,
            Paused: self._on_paused,
            Timer: self._on_timer,
        }

    # ---- state construction -----------------------------------------------------------------

    def new_state(self) -> GridState:
        """A fresh state; the anchor is the configured one (on the tick grid) or set by the first price."""
        cfg = self.config
        anchor = None
        if cfg.anchor_price is not None:
            anchor = anchor_on_tick(cfg.anchor_price, self.rules.tick_size)
        return GridState(
            strategy_id=cfg.strategy_id,
            symbol=cfg.symbol,
            trade_ids=TradeIdMemory(cfg.trade_id_memory),
            recent_orders=RecentOrders(cfg.order_memory),
            anchor=anchor,
        )

    def restore_state(self, snapshot: dict[str, Any]) -> GridState:
        """A state from `GridState.to_snapshot()`, checked to belong to this strategy.

        The persisted anchor wins over a configured one: levels must not move under open orders.
        """
        state = GridState.from_snapshot(snapshot)
        if state.strategy_id != self.config.strategy_id or state.symbol != self.config.symbol:
            raise SnapshotError(
                f"snapshot is for {state.strategy_id}/{state.symbol}, "
                f"not {self.config.strategy_id}/{self.config.symbol}"
            )
        if state.anchor is None and self.config.anchor_price is not None:
            state.anchor = anchor_on_tick(self.config.anchor_price, self.rules.tick_size)
        state.dirty = True
        return state

    # ---- entry point ------------------------------------------------------------------------

    def handle(self, state: GridState, event: Event) -> list[Action]:
        """Apply one event to `state` (in place) and return the actions to carry out, in order."""
        if type(event) is PriceTick:
            price = event.price
            if event.now > state.now:
                state.now = event.now
            state.last_price = price
            if (
                not state.dirty
                and state.band_buy_low < price <= state.band_buy_high
                and state.band_sell_low <= price < state.band_sell_high
                and state.now < state.wakeup
            ):
                return []
            return self._on_price(state, event)
        handler = self._handlers.get(type(event))
        if handler is None:
            raise TypeError(f"not a grid event: {type(event).__name__}")
        return handler(state, event)

    # ---- event handlers ---------------------------------------------------------------------

    def _on_price(self, state: GridState, event: PriceTick) -> list[Action]:
        actions: list[Action] = []
        if state.anchor is None:
            state.anchor = anchor_on_tick(event.price, self.rules.tick_size)
            text = f"anchor set to {state.anchor} from the first price"
            actions.append(Note(None, NoteKind.ANCHOR_SET, text))
        actions.extend(self._evaluate(state))
        return actions

    def _on_timer(self, state: GridState, event: Timer) -> list[Action]:
        if event.now > state.now:
            state.now = event.now
        if state.dirty or state.now >= state.wakeup:
            return self._evaluate(state)
        return []

    def _on_trading_state(self, state: GridState, event: TradingStateChanged) -> list[Action]:
        if event.state is state.trading_state:
            return []
        previous = state.trading_state
        state.trading_state = event.state
        state.dirty = True
        note = Note(None, NoteKind.TRADING_STATE, f"trading state {previous.value} → {event.state.value}")
        return [note, *self._evaluate(state)]

    def _on_paused(self, state: GridState, event: Paused) -> list[Action]:
        if event.paused is state.paused:
            return []
        state.paused = event.paused
        state.dirty = True
        text = "paused: no new orders, resting orders stay" if event.paused else "resumed"
        return [Note(None, NoteKind.PAUSED, text), *self._evaluate(state)]

    def _on_accepted(self, state: GridState, event: OrderAccepted) -> list[Action]:
        slot = self._current_slot(state, event.client_order_id)
        if slot is None:
            return [self._unknown_note(state, event.client_order_id, "acknowledgement")]
        if event.order_id and not slot.order_id:
            slot.order_id = event.order_id
        if slot.status is _PENDING:
            slot.move(_LOCKED)
        slot.reject_streak = 0
        state.dirty = True
        return self._evaluate(state)

    def _on_rejected(self, state: GridState, event: OrderRejected) -> list[Action]:
        if event.now is not None and event.now > state.now:
            state.now = event.now
        slot = self._current_slot(state, event.client_order_id)
        if slot is None:
            return [self._unknown_note(state, event.client_order_id, "rejection")]
        side = slot.side.value if slot.side is not None else "?"
        detail = f": {event.detail}" if event.detail else ""
        notes: list[Action] = [
            Note(
                slot.level_index,
                NoteKind.ORDER_REJECTED,
                f"{side} {slot.order_quantity} @ {slot.order_price} ({event.client_order_id}) "
                f"rejected: {event.reason.value}{detail}",
            )
        ]
        if event.reason is RejectReason.POST_ONLY_WOULD_CROSS and slot.post_only:
            slot.post_only_failures += 1
        else:
            self._back_off(state, slot)
        if event.reason is RejectReason.INSUFFICIENT_MARGIN:
            until = state.now + self.config.margin_lock_seconds
            if until > state.margin_lock_until:
                state.margin_lock_until = until
            notes.append(
                Note(
                    None,
                    NoteKind.MARGIN_LOCK,
                    f"insufficient margin: no new buys until t={state.margin_lock_until}, "
                    "resting buys cancelled",
                )
            )
        self._end_order(state, slot)
        state.dirty = True
        notes.extend(self._evaluate(state))
        return notes

    def _on_update(self, state: GridState, event: OrderUpdate) -> list[Action]:
        if event.now is not None and event.now > state.now:
            state.now = event.now
        slot = self._current_slot(state, event.client_order_id)
        if slot is None:
            return [self._unknown_note(state, event.client_order_id, f"{event.status.value} update")]
        if event.order_id and not slot.order_id:
            slot.order_id = event.order_id
        if event.filled_quantity > slot.reported_filled:
            slot.reported_filled = event.filled_quantity
        if event.status is OrderStatus.FILLED and slot.reported_filled < slot.order_quantity:
            slot.reported_filled = slot.order_quantity  # FILLED means all of it, whatever the count says
        actions: list[Action] = []
        self._apply_progress(state, slot, actions)
        if event.status.is_terminal or slot.filled_quantity >= slot.order_quantity:
            self._finish(state, slot, event.status)
        elif slot.status is _PENDING:
            slot.move(_LOCKED)
            slot.reject_streak = 0
        state.dirty = True
        actions.extend(self._evaluate(state))
        return actions

    def _on_fill(self, state: GridState, event: Fill) -> list[Action]:
        cid = event.client_order_id
        if event.trade_id in state.trade_ids:
            return [Note(None, NoteKind.DUPLICATE_FILL, f"ignored duplicate fill {event.trade_id} ({cid})")]
        slot = self._current_slot(state, cid)
        if slot is None:
            recent = state.recent_orders.get(cid)
            if recent is None:
                return [self._unknown_note(state, cid, f"fill {event.trade_id}")]
            # A late fill of a terminated order: its quantity is already in the position; its
            # money counts, and so does a fee taken in the base asset (that much was never held).
            state.trade_ids.add(event.trade_id)
            self._account(state, recent.side, recent.level_price, event)
            owner = state.slots.get(recent.level_index)
            if owner is None or (recent.side is not _BUY and not event.base_fee):
                return []
            if recent.side is _BUY:
                owner.fills_arrived_late(event.quantity)
            late: list[Action] = []
            if event.base_fee:
                self._take_base_fee(state, owner, event, late)
            state.dirty = True
            late.extend(self._evaluate(state))
            return late
        state.trade_ids.add(event.trade_id)
        assert slot.side is not None  # a live slot always has a side
        self._account(state, slot.side, slot.level_price, event)
        slot.fills_quantity += event.quantity
        actions: list[Action] = []
        self._apply_progress(state, slot, actions)
        if event.base_fee:
            self._take_base_fee(state, slot, event, actions)
        if slot.filled_quantity >= slot.order_quantity:
            self._finish(state, slot, OrderStatus.FILLED)
        elif slot.status is _PENDING:
            slot.move(_LOCKED)
            slot.reject_streak = 0
        state.dirty = True
        actions.extend(self._evaluate(state))
        return actions

    def _on_cancel_failed(self, state: GridState, event: CancelFailed) -> list[Action]:
        if event.now is not None and event.now > state.now:
            state.now = event.now
        slot = self._current_slot(state, event.client_order_id)
        if slot is None:
            return [self._unknown_note(state, event.client_order_id, "cancel failure")]
        slot.cancel_requested = False
        slot.retry_after = state.now + self.config.reject_backoff_seconds
        detail = f": {event.detail}" if event.detail else ""
        note = Note(
            slot.level_index,
            NoteKind.CANCEL_FAILED,
            f"cancel of {event.client_order_id} failed{detail}; retry after t={slot.retry_after}",
        )
        state.dirty = True
        return [note, *self._evaluate(state)]

    # ---- order bookkeeping ------------------------------------------------------------------

    def _current_slot(self, state: GridState, client_order_id: str) -> Slot | None:
        """The slot whose current (live) order has this id, or None."""
        parsed = parse_client_order_id(client_order_id)
        if parsed is None or parsed.strategy_id != self.config.strategy_id:
            return None
        slot = state.slots.get(parsed.level_index)
        if slot is None or slot.status is _FREE or slot.client_order_id != client_order_id:
            return None
        return slot

    def _unknown_note(self, state: GridState, client_order_id: str, what: str) -> Note:
        parsed = parse_client_order_id(client_order_id)
        ours = parsed is not None and parsed.strategy_id == self.config.strategy_id
        level = parsed.level_index if parsed is not None and ours else None
        if state.recent_orders.get(client_order_id) is not None:
            why = "stale (order already ended)"
        elif ours:
            why = "unknown (not a current order of this grid)"
        else:
            why = "unknown (not an id of this grid)"
        text = f"ignored {what} for {why} client order id {client_order_id!r}"
        return Note(level, NoteKind.UNKNOWN_ORDER, text)

    @staticmethod
    def _account(state: GridState, side: Side, level_price: Decimal, fill: Fill) -> None:
        state.fees_paid += fill.fee + fill.base_fee * fill.price
        state.fill_count += 1
        if side is _SELL:
            state.realized_pnl += fill.quantity * (fill.price - level_price)

    def _apply_progress(self, state: GridState, slot: Slot, actions: list[Action]) -> None:
        delta = slot.apply_progress()
        if delta:
            if slot.side is _BUY:
                slot.position += delta
            else:
                slot.position -= delta
        if slot.overfilled and self._note_once(state, "overfill", slot.level_index):
            actions.append(
                Note(
                    slot.level_index,
                    NoteKind.OVERFILL,
                    f"venue reports more filled than the order quantity {slot.order_quantity} "
                    f"for {slot.client_order_id}; capped at the order quantity",
                )
            )

    def _take_base_fee(self, state: GridState, slot: Slot, fill: Fill, actions: list[Action]) -> None:
        """The venue kept `base_fee` of what was bought: the level holds that much less."""
        if fill.base_fee <= slot.position:
            slot.position -= fill.base_fee
            return
        if self._note_once(state, "base fee", slot.level_index):
            actions.append(
                Note(
                    slot.level_index,
                    NoteKind.OVERFILL,
                    f"fill {fill.trade_id} was charged {fill.base_fee} in the base asset, more than "
                    f"the {slot.position} this level holds; its position is now 0",
                )
            )
        slot.position = ZERO

    def _finish(self, state: GridState, slot: Slot, status: OrderStatus) -> None:
        """The slot's order ended (terminal status, or fully filled)."""
        if slot.filled_quantity >= slot.order_quantity:
            slot.post_only_failures = 0
            slot.reject_streak = 0
        elif not slot.cancel_requested:
            if status is OrderStatus.EXPIRED and slot.post_only and not slot.filled_quantity:
                slot.post_only_failures += 1  # how some venues report a post-only order that would cross
            else:
                self._back_off(state, slot)
        self._end_order(state, slot)

    @staticmethod
    def _end_order(state: GridState, slot: Slot) -> None:
        assert slot.side is not None  # a live slot always has a side
        record = RecentOrder(slot.level_index, slot.side, slot.level_price)
        state.recent_orders.add(slot.client_order_id, record)
        slot.close_order()

    def _back_off(self, state: GridState, slot: Slot) -> None:
        slot.reject_streak += 1
        cfg = self.config
        delay = cfg.reject_backoff_seconds * 2.0 ** min(slot.reject_streak - 1, 32)
        delay = min(delay, cfg.reject_backoff_max_seconds)
        slot.retry_after = state.now + delay

    @staticmethod
    def _note_once(state: GridState, kind: str, level_index: int) -> bool:
        key = (kind, level_index)
        if key in state.noted:
            return False
        if len(state.noted) >= _NOTED_LIMIT:
            state.noted.clear()
        state.noted.add(key)
        return True

    # ---- evaluation -------------------------------------------------------------------------

    def _level_grid(self, anchor: Decimal) -> LevelGrid:
        grid = self._grid
        if grid is None or grid.anchor != anchor:
            grid = LevelGrid(anchor, self.config.price_interval, self.rules.tick_size)
            self._grid = grid
        return grid

    def _evaluate(self, state: GridState) -> list[Action]:
        price = state.last_price
        anchor = state.anchor
        if price is None or anchor is None:
            return []
        cfg = self.config
        grid = self._level_grid(anchor)
        now = state.now
        buy_top = grid.buy_boundary(price)
        sell_bottom = grid.sell_boundary(price)
        state.band_buy_low = grid.price(buy_top) + grid.buffer
        state.band_buy_high = grid.price(buy_top + 1) + grid.buffer
        state.band_sell_low = grid.price(sell_bottom - 1)
        state.band_sell_high = grid.price(sell_bottom)
        buy_bottom = buy_top - cfg.buy_window + 1
        sell_top = sell_bottom + cfg.sell_window - 1  # highest level a take-profit may sit on

        locked = now < state.margin_lock_until
        active = state.trading_state is TradingState.ACTIVE
        opening = active and not locked
        placing = not state.paused
        wakeup = state.margin_lock_until if locked else INF

        notes: list[Note] = []
        cancels: list[CancelOrder] = []
        ranked: list[_Ranked] = []
        idle: list[int] = []
        pinned = 0  # live orders that stay whatever the cap says
        live = 0

        for index, slot in state.slots.items():
            if slot.retry_after > now and slot.retry_after < wakeup:
                wakeup = slot.retry_after
            if slot.status is _FREE:
                if slot.retry_after > now:
                    continue
                if slot.position > ZERO:
                    if placing and index + 1 <= sell_top:
                        candidate = self._sell_candidate(state, grid, slot, price, notes)
                        if candidate is not None:
                            ranked.append(candidate)
                elif not (buy_bottom <= index <= buy_top) or (
                    slot.post_only_failures == 0 and slot.reject_streak == 0
                ):
                    idle.append(index)
                continue
            live += 1
            if slot.status is _PENDING or slot.cancel_requested or slot.retry_after > now:
                pinned += 1
                continue
            if slot.side is _BUY:
                if not opening:
                    reason = CancelReason.MARGIN_LOCK if active else CancelReason.TRADING_STATE
                    cancels.append(self._cancel(slot, reason))
                    pinned += 1
                    continue
                if slot.filled_quantity > ZERO:
                    pinned += 1
                    continue
                if placing and index < buy_bottom:
                    cancels.append(self._cancel(slot, CancelReason.BELOW_BUY_WINDOW))
                    pinned += 1
                    continue
                ranked.append(_Ranked(abs(slot.order_price - price), 1, index, None))
            else:
                if slot.filled_quantity > ZERO:
                    pinned += 1
                    continue
                if placing and index + 1 > sell_top:
                    cancels.append(self._cancel(slot, CancelReason.ABOVE_SELL_WINDOW))
                    pinned += 1
                    continue
                ranked.append(_Ranked(abs(slot.order_price - price), 0, index, None))

        if placing and opening:
            self._buy_candidates(state, grid, price, buy_bottom, buy_top, ranked, notes)

        actions: list[Action] = []
        if notes:
            notes.sort(key=lambda note: (note.level_index or 0, note.kind.value))
            actions.extend(notes)
        if cancels:
            cancels.sort(key=lambda cancel: cancel.level_index)
            actions.extend(cancels)

        if placing and ranked:
            ranked.sort(key=lambda entry: (entry.distance, entry.side_rank, entry.level_index))
            capacity = max(cfg.max_open_orders - pinned, 0)
            for entry in reversed(ranked[capacity:]):
                if entry.candidate is None:
                    actions.append(self._cancel(state.slots[entry.level_index], CancelReason.MAX_OPEN_ORDERS))
            room = cfg.max_open_orders - live
            for entry in ranked[:capacity]:
                if room <= 0:
                    break
                if entry.candidate is not None:
                    actions.append(self._place(state, grid, entry.level_index, entry.candidate, price))
                    room -= 1

        for index in idle:
            if state.slots[index].status is _FREE:
                del state.slots[index]
        state.wakeup = wakeup
        state.dirty = False
        return actions

    def _buy_candidates(
        self,
        state: GridState,
        grid: LevelGrid,
        price: Decimal,
        bottom: int,
        top: int,
        ranked: list[_Ranked],
        notes: list[Note],
    ) -> None:
        cfg = self.config
        rules = self.rules
        now = state.now
        slots = state.slots
        for index in range(top, bottom - 1, -1):
            slot = slots.get(index)
            if slot is not None and (
                slot.status is not _FREE or slot.retry_after > now or self._holds_sellable(grid, slot)
            ):
                continue
            level_price = grid.price(index)
            if level_price <= ZERO:
                break  # every level below is lower still
            quantity = buy_quantity(level_price, cfg.order_amount, rules.step_size)
            problem = size_problem(level_price, quantity, rules, cfg.min_order_value)
            if problem is not None:
                if self._note_once(state, "buy size", index):
                    text = f"buy @ {level_price} skipped: {problem}"
                    notes.append(Note(index, NoteKind.SKIPPED_BELOW_MINIMUM, text))
                continue
            ranked.append(_Ranked(price - level_price, 1, index, _Candidate(_BUY, level_price, quantity)))

    def _sell_candidate(
        self, state: GridState, grid: LevelGrid, slot: Slot, price: Decimal, notes: list[Note]
    ) -> _Ranked | None:
        target, quantity, problem = self._take_profit(grid, slot)
        if problem is not None:
            if self._note_once(state, f"dust {slot.position}", slot.level_index):
                notes.append(
                    Note(
                        slot.level_index,
                        NoteKind.DUST_POSITION,
                        f"position {slot.position} cannot be sold @ {target}: {problem}; "
                        "the level's next buy adds to it",
                    )
                )
            return None
        return _Ranked(abs(target - price), 0, slot.level_index, _Candidate(_SELL, target, quantity))

    def _sell_size(self, slot: Slot) -> Decimal:
        """The position less what base-asset fees not yet known may still take from it (spot),
        rounded down to the step: a take-profit never asks for more than the account holds."""
        sellable = slot.position
        rate = self.rules.base_fee_rate
        if rate:
            sellable -= slot.fee_unknown_quantity * rate
        return sell_quantity(sellable, self.rules.step_size) if sellable > ZERO else ZERO

    def _take_profit(self, grid: LevelGrid, slot: Slot) -> tuple[Decimal, Decimal, str | None]:
        """The slot's take-profit: its price, its quantity, and why it may not be sent (or None)."""
        target = grid.price(slot.level_index + 1)
        quantity = self._sell_size(slot)
        return target, quantity, size_problem(target, quantity, self.rules, ZERO)

    def _holds_sellable(self, grid: LevelGrid, slot: Slot) -> bool:
        """A position a take-profit can sell; below the venue's minimums it is dust, and the slot
        counts as flat (its next buy adds to it)."""
        return slot.position > ZERO and self._take_profit(grid, slot)[2] is None

    @staticmethod
    def _cancel(slot: Slot, reason: CancelReason) -> CancelOrder:
        slot.cancel_requested = True
        return CancelOrder(slot.level_index, slot.client_order_id, slot.order_id, reason)

    def _place(
        self, state: GridState, grid: LevelGrid, index: int, candidate: _Candidate, price: Decimal
    ) -> PlaceOrder:
        cfg = self.config
        slot = state.slots.get(index)
        if slot is None:
            slot = Slot(index, grid.price(index))
            state.slots[index] = slot
        generation = state.next_generation
        state.next_generation = generation + 1
        client_order_id = encode_client_order_id(cfg.strategy_id, index, candidate.side, generation)
        if candidate.side is _BUY:
            crossing = candidate.price >= price
            reduce_only = False
        else:
            crossing = candidate.price <= price
            reduce_only = self._reduce_only_sells
        post_only = cfg.post_only and not crossing and slot.post_only_failures < cfg.post_only_max_failures
        slot.open_order(
            client_order_id, candidate.side, candidate.price, candidate.quantity, post_only, reduce_only
        )
        return PlaceOrder(
            level_index=index,
            client_order_id=client_order_id,
            side=candidate.side,
            price=candidate.price,
            quantity=candidate.quantity,
            post_only=post_only,
            reduce_only=reduce_only,
        )
