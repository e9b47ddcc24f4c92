"""The cached inputs a decision reads: market data, positions, balance and open orders.

The risk service pushes every event it receives into one `RiskContext` (prices, klines,
positions, the free balance, order updates) and `review` reads it synchronously. Every
method is O(1) amortised except the snapshot/balance resyncs, which are O(open orders).

Open orders are tracked by client order id from the moment an intent is approved
("in flight"), so that a burst of intents cannot each pass the aggregate limits
(position, open orders, margin) that they break together. An approval the connector
never acknowledges is dropped after `in_flight_timeout_ns`.

Margin reservation. Each resting opening order reserves price · remaining / leverage
(rounded up to 1e-12). How long it is reserved depends on what the venue's free balance
means:
- `venue_free_nets_open_orders=True` (the default; ccxt's `free` on the supported venues
  already excludes what resting orders lock): an order's margin is reserved from its
  approval until the first balance requested after the connector acknowledged it (see
  `balance_token`), because from then on the venue's own free balance accounts for it.
  Counting it after that would count it twice and halve the grid's usable capacity.
- `False`: the free balance does not account for resting orders; the margin stays
  reserved until the order ends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

from opensqt_common.enums import Side
from opensqt_risk.rules.arith import EXACT, NANOS_PER_SECOND, ONE, ZERO, add, div, mul, sub
from opensqt_risk.rules.model import Intent, OrderUpdate, PositionSnapshot
from opensqt_risk.rules.rate import TokenBucket

DEFAULT_IN_FLIGHT_TIMEOUT_NS = 10 * NANOS_PER_SECOND
_MARGIN_QUANTUM = Decimal("1e-12")


def margin_for(notional: Decimal, leverage: Decimal) -> Decimal:
    """notional / leverage rounded up to 1e-12 (a reservation errs on the safe side)."""
    return div(notional, leverage).quantize(_MARGIN_QUANTUM, rounding=ROUND_CEILING, context=EXACT)


@dataclass(slots=True, eq=False)
class SymbolState:
    """Everything cached about one symbol. Mutated only by `RiskContext`."""

    symbol: str
    leverage: Decimal = ONE
    # When True, the symbol's kline feed must be fresh too (not only its price).
    klines_required: bool = True
    last_price: Decimal | None = None
    last_price_at_ns: int | None = None
    last_kline_at_ns: int | None = None
    position: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    # Aggregates over the tracked open orders (in flight or resting) of this symbol.
    open_orders: int = 0
    opening_buy_quantity: Decimal = ZERO
    opening_sell_quantity: Decimal = ZERO
    closing_buy_quantity: Decimal = ZERO
    closing_sell_quantity: Decimal = ZERO
    rate: TokenBucket = field(default_factory=TokenBucket)

    def opposes(self, side: Side) -> bool:
        """True when an order on `side` goes against the current (non-zero) position."""
        if side is Side.SELL:
            return self.position > 0
        return self.position < 0

    def closes(self, side: Side, quantity: Decimal) -> bool:
        """True when a plain order only reduces the position.

        It must go against the position, and together with the closing orders already
        resting on its side it must not exceed the position (or the excess would open).
        """
        if side is Side.SELL:
            return self.position > 0 and add(self.closing_sell_quantity, quantity) <= self.position
        return self.position < 0 and add(self.closing_buy_quantity, quantity) <= -self.position


@dataclass(slots=True, eq=False)
class TrackedOrder:
    """An order the context counts: approved and in flight, or resting at the venue."""

    client_order_id: str
    symbol: str
    side: Side
    # As sent: the limit price (None for market), the original quantity, the flag.
    price: Decimal | None
    quantity: Decimal
    reduce_only: bool
    closing: bool
    remaining: Decimal
    # Price the margin is computed at: the limit price, or the last price for market orders.
    reference_price: Decimal
    margin: Decimal
    margin_counted: bool
    acknowledged: bool
    expires_at_ns: int

    def matches(self, intent: Intent) -> bool:
        """True when `intent` is the same order (a retry under the same client order id)."""
        return (
            intent.symbol == self.symbol
            and intent.side is self.side
            and intent.price == self.price
            and intent.quantity == self.quantity
            and intent.reduce_only == self.reduce_only
        )


class RiskContext:
    """The pushed inputs of every decision. Not thread-safe: one event loop owns it."""

    __slots__ = (
        "_awaiting_balance",
        "_in_flight",
        "free_margin",
        "in_flight_timeout_ns",
        "orders",
        "reserved_margin",
        "symbols",
        "venue_free_nets_open_orders",
    )

    def __init__(
        self,
        *,
        in_flight_timeout_ns: int = DEFAULT_IN_FLIGHT_TIMEOUT_NS,
        venue_free_nets_open_orders: bool = True,
    ) -> None:
        if in_flight_timeout_ns <= 0:
            raise ValueError(f"in_flight_timeout_ns must be positive, got {in_flight_timeout_ns}")
        self.in_flight_timeout_ns = in_flight_timeout_ns
        self.venue_free_nets_open_orders = venue_free_nets_open_orders
        self.symbols: dict[str, SymbolState] = {}
        self.orders: dict[str, TrackedOrder] = {}
        # Free margin of the account's settlement asset as last reported; None until then.
        self.free_margin: Decimal | None = None
        # Margin of tracked opening orders not yet reflected in `free_margin`.
        self.reserved_margin: Decimal = ZERO
        self._in_flight: deque[tuple[int, str]] = deque()
        self._awaiting_balance: dict[str, TrackedOrder] = {}

    # ----------------------------------------------------------------- symbols

    def add_symbol(
        self, symbol: str, *, leverage: Decimal = ONE, klines_required: bool = True
    ) -> SymbolState:
        """Register a tradable symbol; a second call updates its leverage and kline rule."""
        _check_leverage(leverage)
        state = self.symbols.get(symbol)
        if state is None:
            state = SymbolState(symbol, leverage=leverage, klines_required=klines_required)
            self.symbols[symbol] = state
        else:
            state.leverage = leverage
            state.klines_required = klines_required
        return state

    def set_leverage(self, symbol: str, leverage: Decimal) -> bool:
        _check_leverage(leverage)
        state = self.symbols.get(symbol)
        if state is None:
            return False
        state.leverage = leverage
        return True

    # ------------------------------------------------------------- market data

    def on_price(self, symbol: str, price: Decimal, at_ns: int) -> bool:
        """A last-trade price, stamped with the local receive time. False if not tracked."""
        state = self.symbols.get(symbol)
        if state is None or not price.is_finite() or price <= 0:
            return False
        state.last_price = price
        state.last_price_at_ns = at_ns
        return True

    def on_kline(self, symbol: str, at_ns: int) -> bool:
        """Any kline update (closed or not) proves the kline feed alive."""
        state = self.symbols.get(symbol)
        if state is None:
            return False
        state.last_kline_at_ns = at_ns
        return True

    # ------------------------------------------------------- account and orders

    def on_position(self, position: PositionSnapshot) -> bool:
        state = self.symbols.get(position.symbol)
        if state is None:
            return False
        state.position = position.quantity
        state.realized_pnl = position.realized_pnl
        state.unrealized_pnl = position.unrealized_pnl
        return True

    def balance_token(self) -> frozenset[str]:
        """The acknowledged orders a balance requested from now on already accounts for.

        Take it just before requesting the balance and pass it to `on_balance` with the
        answer: an order acknowledged while the request was in flight may be missing from
        that figure, so its margin stays reserved until the next balance.
        """
        return frozenset(self._awaiting_balance)

    def on_balance(self, free_margin: Decimal, settled: AbstractSet[str] | None = None) -> None:
        """The venue's free balance of the settlement asset.

        `settled`: a `balance_token()` taken before the balance was requested; only those
        orders stop reserving margin. None: every acknowledged order (a balance known to
        postdate all acknowledgements received so far).
        """
        self.free_margin = free_margin
        if not self._awaiting_balance:
            return
        if settled is None:
            released = list(self._awaiting_balance.values())
            self._awaiting_balance.clear()
        else:
            released = [self._awaiting_balance.pop(key) for key in settled if key in self._awaiting_balance]
        for order in released:
            if order.margin_counted:
                self.reserved_margin = sub(self.reserved_margin, order.margin)
                order.margin_counted = False

    @property
    def available_margin(self) -> Decimal | None:
        """Free margin minus what tracked opening orders reserve; None before any balance."""
        if self.free_margin is None:
            return None
        return sub(self.free_margin, self.reserved_margin)

    def pnl(self) -> tuple[Decimal, Decimal]:
        """(realised, unrealised) PnL summed over every tracked symbol."""
        realized = ZERO
        unrealized = ZERO
        for state in self.symbols.values():
            realized = add(realized, state.realized_pnl)
            unrealized = add(unrealized, state.unrealized_pnl)
        return realized, unrealized

    def on_order(self, update: OrderUpdate) -> None:
        """An order update from the connector (live or part of a snapshot)."""
        tracked = self.orders.get(update.client_order_id)
        remaining = update.remaining
        if update.status.is_terminal or remaining <= 0:
            if tracked is not None:
                self._forget(tracked)
            return
        if tracked is None:
            self._adopt(update, remaining)
            return
        state = self.symbols[tracked.symbol]
        self._remove(tracked, state)
        tracked.remaining = remaining
        if tracked.margin_counted:
            tracked.margin = margin_for(mul(tracked.reference_price, remaining), state.leverage)
        if not tracked.acknowledged:
            tracked.acknowledged = True
            if self.venue_free_nets_open_orders and tracked.margin_counted:
                self._awaiting_balance[tracked.client_order_id] = tracked
        self._add(tracked, state)

    def sync_open_orders(self, updates: Sequence[OrderUpdate]) -> None:
        """Replace the acknowledged orders with a snapshot of the venue's open orders.

        Approvals still in flight (not yet acknowledged) are kept unless the snapshot
        names them.
        """
        present = {update.client_order_id for update in updates}
        for order in list(self.orders.values()):
            if order.acknowledged and order.client_order_id not in present:
                self._forget(order)
        for update in updates:
            self.on_order(update)

    def record_approval(
        self,
        intent: Intent,
        state: SymbolState,
        *,
        closing: bool,
        reference_price: Decimal,
        margin: Decimal,
        now_ns: int,
    ) -> None:
        """Count an approved intent as an open order until it ends or times out."""
        expires_at_ns = now_ns + self.in_flight_timeout_ns
        order = TrackedOrder(
            client_order_id=intent.client_order_id,
            symbol=intent.symbol,
            side=intent.side,
            price=intent.price,
            quantity=intent.quantity,
            reduce_only=intent.reduce_only,
            closing=closing,
            remaining=intent.quantity,
            reference_price=reference_price,
            margin=margin,
            margin_counted=not closing,
            acknowledged=False,
            expires_at_ns=expires_at_ns,
        )
        self.orders[intent.client_order_id] = order
        self._add(order, state)
        self._in_flight.append((expires_at_ns, intent.client_order_id))

    def expire_in_flight(self, now_ns: int) -> None:
        """Drop approvals the connector has not acknowledged within the timeout."""
        queue = self._in_flight
        while queue and queue[0][0] <= now_ns:
            expires_at_ns, client_order_id = queue.popleft()
            order = self.orders.get(client_order_id)
            if order is not None and not order.acknowledged and order.expires_at_ns == expires_at_ns:
                self._forget(order)

    # ------------------------------------------------------------------ private

    def _adopt(self, update: OrderUpdate, remaining: Decimal) -> None:
        state = self.symbols.get(update.symbol)
        if state is None:
            return
        closing = update.reduce_only or state.closes(update.side, remaining)
        reference = update.price if update.price is not None else state.last_price
        if reference is None:
            reference = ZERO
        counted = not closing
        order = TrackedOrder(
            client_order_id=update.client_order_id,
            symbol=update.symbol,
            side=update.side,
            price=update.price,
            quantity=update.quantity,
            reduce_only=update.reduce_only,
            closing=closing,
            remaining=remaining,
            reference_price=reference,
            margin=margin_for(mul(reference, remaining), state.leverage) if counted else ZERO,
            margin_counted=counted,
            acknowledged=True,
            expires_at_ns=0,
        )
        self.orders[update.client_order_id] = order
        self._add(order, state)
        if self.venue_free_nets_open_orders and counted:
            self._awaiting_balance[update.client_order_id] = order

    def _forget(self, order: TrackedOrder) -> None:
        self._remove(order, self.symbols[order.symbol])
        del self.orders[order.client_order_id]
        self._awaiting_balance.pop(order.client_order_id, None)

    def _add(self, order: TrackedOrder, state: SymbolState) -> None:
        state.open_orders += 1
        quantity = order.remaining
        if order.closing:
            if order.side is Side.BUY:
                state.closing_buy_quantity = add(state.closing_buy_quantity, quantity)
            else:
                state.closing_sell_quantity = add(state.closing_sell_quantity, quantity)
        elif order.side is Side.BUY:
            state.opening_buy_quantity = add(state.opening_buy_quantity, quantity)
        else:
            state.opening_sell_quantity = add(state.opening_sell_quantity, quantity)
        if order.margin_counted:
            self.reserved_margin = add(self.reserved_margin, order.margin)

    def _remove(self, order: TrackedOrder, state: SymbolState) -> None:
        state.open_orders -= 1
        quantity = order.remaining
        if order.closing:
            if order.side is Side.BUY:
                state.closing_buy_quantity = sub(state.closing_buy_quantity, quantity)
            else:
                state.closing_sell_quantity = sub(state.closing_sell_quantity, quantity)
        elif order.side is Side.BUY:
            state.opening_buy_quantity = sub(state.opening_buy_quantity, quantity)
        else:
            state.opening_sell_quantity = sub(state.opening_sell_quantity, quantity)
        if order.margin_counted:
            self.reserved_margin = sub(self.reserved_margin, order.margin)


def _check_leverage(leverage: Decimal) -> None:
    if not leverage.is_finite() or leverage <= 0:
        raise ValueError(f"leverage must be positive, got {leverage}")
