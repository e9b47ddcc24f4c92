"""The sim venue's matching core: pure, synchronous, deterministic; time is passed in.

One account trades every served market. Spot markets move base and quote balances;
linear perpetuals keep one-way signed positions whose margin comes from the settle
asset's wallet. Every state change returns domain events (`OrderInfo`, `FillInfo`,
`TickerInfo`) in a fixed order, and order ids and trade ids are counters, so the
same calls always give the same events.

Matching model (simplifications on purpose):
- The book is the last trade price plus a fixed spread: bid = last − spread_ticks·tick,
  ask = last + spread_ticks·tick. Nothing moves the price but `apply_trade`.
- An incoming limit order that reaches the touch (buy at or above the ask, sell at or
  below the bid) is taker: it fills at once at the touch price for its full quantity
  (infinite liquidity at the touch). Post-only orders that would do that are rejected.
  A market order does the same. An IOC/FOK limit order that does not reach the touch
  expires unfilled; a GTC one rests.
- A trade print at `price` fills resting buys with limit >= price and sells with limit
  <= price, best price first then oldest first, at each order's limit price as maker;
  `max_fill_quantity` caps the quantity each order fills on that print.

Money:
- Fees are price · quantity · rate (maker or taker rate of the market), charged in the
  quote asset at each fill, exact.
- Spot: a resting buy reserves quantity · price · (1 + max(maker, taker)) quote, a sell
  reserves its base quantity. A fill moves base and quote and releases the reserve.
- Perpetuals: margin balance (BalanceInfo.total) = wallet + unrealised PnL at the last
  price; used = Σ (position cost + open order notional) / leverage over the asset's
  perpetuals; free = total − used. Every open order that is not reduce-only reserves
  initial margin for its unfilled quantity, even one that would only reduce the position
  (conservative; reduce-only orders reserve nothing). Realised PnL excludes fees.
  No liquidation and no funding are simulated.
- Reduce-only: refused when it would open, increase or flip the position; a fill is capped
  at the position size, and reduce-only orders are expired when nothing is left to reduce.
- Arithmetic is exact while products fit Decimal's 28 significant digits (every realistic
  price · quantity does). Quotients: entry price and margin are reported at 28 digits;
  the cost share of a partial close is rounded to 1e-12 quote and booked exactly, so
  wallet = deposits + Σ realised PnL − Σ fees holds to the last digit.

Errors raise before anything changes: a refused order consumes no id. A client order id
that reached the book is never accepted again (DuplicateClientOrderId).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeAlias

from opensqt_common.decimals import ZERO, format_decimal, is_multiple
from opensqt_common.enums import MarketType, OrderStatus, OrderType, Side, TimeInForce
from opensqt_common.errors import InvalidArgument, UnknownSymbol
from opensqt_connector.models import (
    BalanceInfo,
    FillInfo,
    MarketInfo,
    OrderInfo,
    OrderRequest,
    PositionInfo,
    TickerInfo,
)
from opensqt_connector.venue_errors import (
    DuplicateClientOrderId,
    InsufficientMargin,
    InvalidOrder,
    MinNotional,
    OrderNotFound,
    PostOnlyWouldCross,
    ReduceOnlyRejected,
    VenueUnavailable,
)

SimEvent: TypeAlias = OrderInfo | FillInfo | TickerInfo

DEFAULT_LEVERAGE = Decimal(10)
DEFAULT_FILL_HISTORY = 10_000
DEFAULT_ORDER_HISTORY = 100_000
COST_QUANTUM = Decimal("1e-12")


def _fmt(value: Decimal) -> str:
    return format_decimal(value)


@dataclass(slots=True)
class _Book:
    last: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    time_ms: int = 0


@dataclass(slots=True)
class _Position:
    quantity: Decimal = ZERO  # signed, base units
    cost: Decimal = ZERO  # Σ quantity · price of the open quantity (>= 0)
    realized: Decimal = ZERO


@dataclass(slots=True)
class _Order:
    seq: int
    order_id: str
    request: OrderRequest
    price: Decimal | None  # limit price; None for market orders
    created_ms: int
    updated_ms: int
    # What the unfilled quantity holds: spot → `hold_asset` at `hold_per_unit` per unit;
    # perpetual (not reduce-only) → order notional of the symbol at `price` per unit.
    hold_asset: str = ""
    hold_per_unit: Decimal = ZERO
    filled: Decimal = ZERO
    filled_notional: Decimal = ZERO
    status: OrderStatus = OrderStatus.NEW
    detail: str = ""

    @property
    def remaining(self) -> Decimal:
        return self.request.quantity - self.filled

    def info(self) -> OrderInfo:
        r = self.request
        return OrderInfo(
            client_order_id=r.client_order_id,
            order_id=self.order_id,
            symbol=r.symbol,
            side=r.side,
            type=r.type,
            time_in_force=r.time_in_force,
            post_only=r.post_only,
            reduce_only=r.reduce_only,
            price=self.price,
            quantity=r.quantity,
            filled_quantity=self.filled,
            average_fill_price=self.filled_notional / self.filled if self.filled else None,
            status=self.status,
            created_ms=self.created_ms,
            updated_ms=self.updated_ms,
            status_detail=self.detail,
        )


_Entry: TypeAlias = tuple[Decimal, int, _Order]  # (priority key, seq, order): smallest is best


@dataclass(slots=True)
class _SymbolState:
    market: MarketInfo
    book: _Book = field(default_factory=_Book)
    open: dict[str, _Order] = field(default_factory=dict)  # order id → order, oldest first
    # Resting limit orders as heaps keyed (−price, seq) for buys and (price, seq) for sells.
    # Entries of orders that ended meanwhile are dropped when they surface.
    bids: list[_Entry] = field(default_factory=list)
    asks: list[_Entry] = field(default_factory=list)
    position: _Position = field(default_factory=_Position)
    leverage: Decimal = DEFAULT_LEVERAGE
    order_notional: Decimal = ZERO  # perpetual: Σ remaining · price of open non-reduce-only orders
    reduce_only_open: int = 0

    @property
    def perp(self) -> bool:
        return self.market.market_type is MarketType.LINEAR_PERPETUAL

    def rest(self, order: _Order) -> None:
        self.open[order.order_id] = order
        self._push(order)

    def take_reached(self, price: Decimal) -> list[_Entry]:
        """Remove and return the entries of open orders a print at `price` reaches, best first."""
        reached: list[_Entry] = []
        for heap, threshold in ((self.bids, -price), (self.asks, price)):
            while heap and heap[0][0] <= threshold:
                entry = heapq.heappop(heap)
                if entry[2].order_id in self.open:
                    reached.append(entry)
        reached.sort(key=lambda entry: (entry[0], entry[1]))
        return reached

    def put_back(self, entries: Iterable[_Entry]) -> None:
        for entry in entries:
            if entry[2].order_id in self.open:
                heapq.heappush(self.bids if entry[2].request.side is Side.BUY else self.asks, entry)

    def compact(self) -> None:
        """Drop the entries of ended orders once they outnumber the open ones."""
        if len(self.bids) + len(self.asks) > 2 * len(self.open) + 64:
            self.bids.clear()
            self.asks.clear()
            for order in self.open.values():
                self._push(order)

    def _push(self, order: _Order) -> None:
        assert order.price is not None
        if order.request.side is Side.BUY:
            heapq.heappush(self.bids, (-order.price, order.seq, order))
        else:
            heapq.heappush(self.asks, (order.price, order.seq, order))


class SimExchange:
    """The matching engine and account of the sim venue (see the module docstring)."""

    def __init__(
        self,
        markets: Iterable[MarketInfo],
        balances: Mapping[str, Decimal],
        *,
        leverage: Decimal = DEFAULT_LEVERAGE,
        spread_ticks: int = 1,
        fill_history: int = DEFAULT_FILL_HISTORY,
        order_history: int = DEFAULT_ORDER_HISTORY,
        spot_fees_in_base: bool = False,
    ) -> None:
        self._spot_fees_in_base = spot_fees_in_base
        if spread_ticks < 0:
            raise ValueError(f"spread_ticks must be >= 0, got {spread_ticks}")
        self._symbols: dict[str, _SymbolState] = {}
        for market in markets:
            state = _SymbolState(market)
            if state.perp:
                state.leverage = min(leverage, market.max_leverage)
            self._symbols[market.symbol] = state
        if not self._symbols:
            raise ValueError("the sim needs at least one market")
        self._assets = sorted({a for s in self._symbols.values() for a in (s.market.base, s.market.quote)})
        self._wallet: dict[str, Decimal] = dict.fromkeys(self._assets, ZERO)
        for asset, amount in balances.items():
            self.set_balance(asset, amount)
        self._spot_reserved: dict[str, Decimal] = dict.fromkeys(self._assets, ZERO)
        self._perps_by_asset: dict[str, list[_SymbolState]] = {a: [] for a in self._assets}
        for state in self._symbols.values():
            if state.perp:
                self._perps_by_asset[state.market.settle].append(state)
        self._spread_ticks = spread_ticks
        self._orders: dict[str, _Order] = {}
        self._by_client: dict[str, _Order] = {}
        self._used_client_ids: set[str] = set()
        self._terminal: deque[str] = deque()
        self._order_history = order_history
        self._fills: deque[FillInfo] = deque(maxlen=fill_history)
        self._order_seq = 0
        self._trade_seq = 0

    # ---------------------------------------------------------------- queries

    @property
    def markets(self) -> Mapping[str, MarketInfo]:
        return {symbol: state.market for symbol, state in self._symbols.items()}

    @property
    def assets(self) -> list[str]:
        return list(self._assets)

    def ticker(self, symbol: str) -> TickerInfo:
        state = self._state(symbol)
        book = state.book
        if book.last is None or book.bid is None or book.ask is None:
            raise VenueUnavailable(f"no price for {symbol} yet")
        return TickerInfo(symbol=symbol, last=book.last, bid=book.bid, ask=book.ask, time_ms=book.time_ms)

    def get_order(self, symbol: str, *, client_order_id: str = "", order_id: str = "") -> OrderInfo:
        return self._find(symbol, client_order_id, order_id).info()

    def open_orders(self, symbol: str | None = None) -> list[OrderInfo]:
        states = [self._state(symbol)] if symbol is not None else list(self._symbols.values())
        orders = [order for state in states for order in state.open.values()]
        orders.sort(key=lambda order: order.seq)
        return [order.info() for order in orders]

    def fills(self, symbol: str | None = None, since_ms: int = 0) -> list[FillInfo]:
        if symbol is not None:
            self._state(symbol)
        return [
            fill
            for fill in self._fills
            if fill.time_ms >= since_ms and (symbol is None or fill.symbol == symbol)
        ]

    def balances(self) -> list[BalanceInfo]:
        result = []
        for asset in self._assets:
            total, used = self._total_and_used(asset)
            result.append(BalanceInfo(asset=asset, free=total - used, used=used, total=total))
        return result

    def balance(self, asset: str) -> BalanceInfo:
        self._check_asset(asset)
        total, used = self._total_and_used(asset)
        return BalanceInfo(asset=asset, free=total - used, used=used, total=total)

    def positions(self, symbol: str | None = None) -> list[PositionInfo]:
        states = [self._state(symbol)] if symbol is not None else list(self._symbols.values())
        return [self._position_info(state) for state in states if state.perp]

    def leverage(self, symbol: str) -> Decimal:
        return self._state(symbol).leverage

    # --------------------------------------------------------------- commands

    def set_balance(self, asset: str, amount: Decimal) -> None:
        """Set the wallet balance of `asset` (a deposit or withdrawal in tests)."""
        self._check_asset(asset)
        if not amount.is_finite() or amount < 0:
            raise InvalidArgument("amount", f"must be >= 0 (got {amount})")
        self._wallet[asset] = amount

    def set_leverage(self, symbol: str, leverage: Decimal) -> Decimal:
        state = self._state(symbol)
        if not state.perp:
            raise InvalidOrder(f"{symbol} is a spot market: leverage applies to perpetuals only")
        maximum = state.market.max_leverage
        if (
            not leverage.is_finite()
            or leverage != leverage.to_integral_value()
            or not 1 <= leverage <= maximum
        ):
            raise InvalidOrder(f"leverage must be a whole number from 1 to {_fmt(maximum)} (got {leverage})")
        previous = state.leverage
        state.leverage = leverage
        if leverage < previous:
            total, used = self._total_and_used(state.market.settle)
            if total - used < 0:
                state.leverage = previous
                raise InsufficientMargin(
                    f"leverage {_fmt(leverage)} for {symbol} needs {_fmt(used)} {state.market.settle} "
                    f"of margin; {_fmt(total)} available"
                )
        return state.leverage

    def place_order(self, request: OrderRequest, now_ms: int) -> tuple[OrderInfo, list[SimEvent]]:
        state = self._state(request.symbol)
        market = state.market
        if not request.client_order_id:
            raise InvalidOrder("client_order_id is required")
        if request.client_order_id in self._used_client_ids:
            raise DuplicateClientOrderId(f"client order id {request.client_order_id!r} already exists")
        _validate_shape(request, market)
        book = state.book
        side = request.side
        touch = (book.ask if side is Side.BUY else book.bid) if book.last is not None else None
        if request.type is OrderType.MARKET:
            if touch is None:
                raise InvalidOrder(f"no price for {request.symbol} yet: a market order cannot be priced")
            limit = None
            reference = touch
            crosses = True
        else:
            assert request.price is not None  # _validate_shape
            limit = request.price
            reference = limit
            crosses = touch is not None and (limit >= touch if side is Side.BUY else limit <= touch)
        notional = request.quantity * reference
        if notional < market.min_notional:
            raise MinNotional(
                f"notional {_fmt(notional)} {market.quote} is below the minimum {_fmt(market.min_notional)} "
                f"of {market.symbol}"
            )
        if request.reduce_only:
            self._check_reduce_only(state, request)
        if request.post_only and crosses:
            assert touch is not None
            book_side = "ask" if side is Side.BUY else "bid"
            raise PostOnlyWouldCross(
                f"post-only {side.value} at {_fmt(reference)} would cross the {book_side} {_fmt(touch)}"
            )
        order = _Order(
            seq=self._order_seq + 1,
            order_id="",
            request=request,
            price=limit,
            created_ms=now_ms,
            updated_ms=now_ms,
        )
        self._set_hold(state, order, reference)
        self._check_margin(state, order)
        self._order_seq = order.seq
        order.order_id = str(order.seq)
        self._orders[order.order_id] = order
        self._by_client[request.client_order_id] = order
        self._used_client_ids.add(request.client_order_id)
        self._reserve(state, order, request.quantity)
        events: list[SimEvent] = [order.info()]
        if crosses:
            assert touch is not None
            events.extend(self._fill(state, order, touch, request.quantity, maker=False, now_ms=now_ms))
            if state.perp:
                events.extend(self._expire_reduce_only(state, now_ms))
        elif request.time_in_force is not TimeInForce.GTC:
            self._end(
                state,
                order,
                OrderStatus.EXPIRED,
                now_ms,
                f"{request.time_in_force.name}: no match at the limit price",
            )
            events.append(order.info())
        else:
            state.rest(order)
            if request.reduce_only:
                state.reduce_only_open += 1
        return order.info(), events

    def cancel_order(
        self, symbol: str, *, client_order_id: str = "", order_id: str = "", now_ms: int
    ) -> tuple[OrderInfo, list[SimEvent]]:
        """Cancel one order. An order that is already final is returned unchanged."""
        order = self._find(symbol, client_order_id, order_id)
        if order.status.is_terminal:
            return order.info(), []
        state = self._symbols[order.request.symbol]
        self._end(state, order, OrderStatus.CANCELED, now_ms, "")
        info = order.info()
        return info, [info]

    def cancel_all(
        self, symbol: str | None, side: Side | None, now_ms: int
    ) -> tuple[list[OrderInfo], list[SimEvent]]:
        states = [self._state(symbol)] if symbol is not None else list(self._symbols.values())
        targets = [o for s in states for o in s.open.values() if side is None or o.request.side is side]
        targets.sort(key=lambda order: order.seq)
        canceled: list[OrderInfo] = []
        for order in targets:
            self._end(self._symbols[order.request.symbol], order, OrderStatus.CANCELED, now_ms, "")
            canceled.append(order.info())
        return canceled, list(canceled)

    def apply_trade(
        self, symbol: str, price: Decimal, now_ms: int, max_fill_quantity: Decimal | None = None
    ) -> list[SimEvent]:
        """A trade print at `price`: move the book, then fill the resting orders it reaches."""
        state = self._state(symbol)
        market = state.market
        if not price.is_finite() or price <= 0:
            raise InvalidArgument("price", f"must be > 0 (got {price})")
        if not is_multiple(price, market.tick_size):
            raise InvalidArgument(
                "price",
                f"{_fmt(price)} is not a multiple of the tick size {_fmt(market.tick_size)} of {symbol}",
            )
        if max_fill_quantity is not None and (
            max_fill_quantity <= 0 or not is_multiple(max_fill_quantity, market.step_size)
        ):
            raise InvalidArgument(
                "max_fill_quantity",
                f"must be a positive multiple of the step size {_fmt(market.step_size)} "
                f"(got {max_fill_quantity})",
            )
        spread = market.tick_size * self._spread_ticks
        book = state.book
        book.last = price
        book.bid = max(price - spread, market.tick_size) if spread else price
        book.ask = price + spread
        book.time_ms = now_ms
        events: list[SimEvent] = [TickerInfo(symbol, price, book.bid, book.ask, now_ms)]
        reached = state.take_reached(price)
        for _, _, order in reached:
            limit = order.price
            assert limit is not None
            if order.status.is_terminal:
                continue
            quantity = order.remaining
            if max_fill_quantity is not None:
                quantity = min(quantity, max_fill_quantity)
            if order.request.reduce_only:
                quantity = min(quantity, self._reducible(state, order.request.side))
                if quantity <= 0:
                    continue  # expired below
            events.extend(self._fill(state, order, limit, quantity, maker=True, now_ms=now_ms))
        state.put_back(reached)
        if state.perp:
            events.extend(self._expire_reduce_only(state, now_ms))
        return events

    # --------------------------------------------------------------- internals

    def _state(self, symbol: str) -> _SymbolState:
        state = self._symbols.get(symbol)
        if state is None:
            raise UnknownSymbol(symbol)
        return state

    def _check_asset(self, asset: str) -> None:
        if asset not in self._wallet:
            raise InvalidArgument(
                "asset", f"unknown asset {asset!r} (the sim holds {', '.join(self._assets)})"
            )

    def _find(self, symbol: str, client_order_id: str, order_id: str) -> _Order:
        self._state(symbol)
        if not client_order_id and not order_id:
            raise InvalidArgument("order_id", "order_id or client_order_id is required")
        by_id = self._orders.get(order_id) if order_id else None
        by_client = self._by_client.get(client_order_id) if client_order_id else None
        order = by_id or by_client
        if (
            order is None
            or (order_id and by_id is None)
            or (client_order_id and by_client is not order)
            or order.request.symbol != symbol
        ):
            wanted = " / ".join(x for x in (order_id, client_order_id) if x)
            raise OrderNotFound(f"no order {wanted} on {symbol}")
        return order

    def _total_and_used(self, asset: str) -> tuple[Decimal, Decimal]:
        total = self._wallet[asset]
        used = self._spot_reserved[asset]
        for state in self._perps_by_asset[asset]:
            position = state.position
            used += (position.cost + state.order_notional) / state.leverage
            total += _unrealized(state)
        return total, used

    def _position_info(self, state: _SymbolState) -> PositionInfo:
        position = state.position
        size = abs(position.quantity)
        return PositionInfo(
            symbol=state.market.symbol,
            quantity=position.quantity,
            entry_price=position.cost / size if size else ZERO,
            unrealized_pnl=_unrealized(state),
            realized_pnl=position.realized,
            leverage=state.leverage,
            margin=position.cost / state.leverage,
            liquidation_price=None,
        )

    def _reducible(self, state: _SymbolState, side: Side) -> Decimal:
        """How much an order on `side` can reduce the position without flipping it."""
        quantity = state.position.quantity
        if quantity * side.sign < 0:
            return abs(quantity)
        return ZERO

    def _check_reduce_only(self, state: _SymbolState, request: OrderRequest) -> None:
        if not state.perp:
            raise InvalidOrder("reduce_only applies to perpetuals only")
        position = state.position.quantity
        reducible = self._reducible(state, request.side)
        if reducible == 0:
            raise ReduceOnlyRejected(
                f"reduce-only {request.side.value} would increase the position "
                f"({_fmt(position)} {state.market.base})"
            )
        if request.quantity > reducible:
            raise ReduceOnlyRejected(
                f"reduce-only {request.side.value} of {_fmt(request.quantity)} would flip the position "
                f"({_fmt(position)} {state.market.base})"
            )

    def _set_hold(self, state: _SymbolState, order: _Order, reference: Decimal) -> None:
        market = state.market
        request = order.request
        if state.perp:
            order.hold_asset = market.settle
            order.hold_per_unit = ZERO if request.reduce_only else reference
        elif request.side is Side.BUY:
            order.hold_asset = market.quote
            order.hold_per_unit = reference * (1 + max(market.maker_fee, market.taker_fee))
        else:
            order.hold_asset = market.base
            order.hold_per_unit = Decimal(1)

    def _check_margin(self, state: _SymbolState, order: _Order) -> None:
        quantity = order.request.quantity
        amount = order.hold_per_unit * quantity
        if amount == 0:
            return
        if state.perp:
            amount = amount / state.leverage
        total, used = self._total_and_used(order.hold_asset)
        free = total - used
        if free < amount:
            kind = "margin" if state.perp else "balance"
            raise InsufficientMargin(
                f"{order.request.side.value} {_fmt(quantity)} {state.market.symbol} needs "
                f"{_fmt(amount)} {order.hold_asset} of {kind}; {_fmt(free)} free"
            )

    def _reserve(self, state: _SymbolState, order: _Order, quantity: Decimal) -> None:
        amount = order.hold_per_unit * quantity
        if state.perp:
            state.order_notional += amount
        else:
            self._spot_reserved[order.hold_asset] += amount

    def _release(self, state: _SymbolState, order: _Order, quantity: Decimal) -> None:
        self._reserve(state, order, -quantity)

    def _end(self, state: _SymbolState, order: _Order, status: OrderStatus, now_ms: int, detail: str) -> None:
        self._release(state, order, order.remaining)
        self._retire(state, order, status, now_ms, detail)

    def _retire(
        self, state: _SymbolState, order: _Order, status: OrderStatus, now_ms: int, detail: str
    ) -> None:
        order.status = status
        order.updated_ms = now_ms
        order.detail = detail
        if state.open.pop(order.order_id, None) is not None:
            if order.request.reduce_only:
                state.reduce_only_open -= 1
            state.compact()
        self._terminal.append(order.order_id)
        if len(self._terminal) > self._order_history:
            old = self._orders.pop(self._terminal.popleft())
            del self._by_client[old.request.client_order_id]

    def _fill(
        self,
        state: _SymbolState,
        order: _Order,
        price: Decimal,
        quantity: Decimal,
        *,
        maker: bool,
        now_ms: int,
    ) -> list[SimEvent]:
        market = state.market
        request = order.request
        notional = price * quantity
        rate = market.maker_fee if maker else market.taker_fee
        fee = notional * rate
        fee_asset = market.settle if state.perp else market.quote
        self._release(state, order, quantity)
        if state.perp:
            self._move_position(state, request.side.sign * quantity, price)
            self._wallet[market.settle] -= fee
        elif request.side is Side.BUY and self._spot_fees_in_base:  # as most spot venues charge a buy
            fee, fee_asset = quantity * rate, market.base
            self._wallet[market.quote] -= notional
            self._wallet[market.base] += quantity - fee
        elif request.side is Side.BUY:
            self._wallet[market.quote] -= notional + fee
            self._wallet[market.base] += quantity
        else:
            self._wallet[market.base] -= quantity
            self._wallet[market.quote] += notional - fee
        order.filled += quantity
        order.filled_notional += notional
        order.updated_ms = now_ms
        self._trade_seq += 1
        fill = FillInfo(
            trade_id=str(self._trade_seq),
            order_id=order.order_id,
            client_order_id=request.client_order_id,
            symbol=market.symbol,
            side=request.side,
            price=price,
            quantity=quantity,
            fee=fee,
            fee_asset=fee_asset,
            maker=maker,
            time_ms=now_ms,
        )
        self._fills.append(fill)
        if order.remaining == 0:
            self._retire(state, order, OrderStatus.FILLED, now_ms, "")
        else:
            order.status = OrderStatus.PARTIALLY_FILLED
        return [fill, order.info()]

    def _move_position(self, state: _SymbolState, delta: Decimal, price: Decimal) -> None:
        position = state.position
        held = position.quantity
        if held == 0 or (held > 0) == (delta > 0):
            position.cost += abs(delta) * price
            position.quantity += delta
            return
        size = abs(held)
        closing = min(abs(delta), size)
        # The cost share of a partial close is a quotient: round it once (to COST_QUANTUM)
        # and book that exact amount, so wallet, cost and realised PnL stay consistent.
        removed = (
            position.cost if closing == size else (position.cost * closing / size).quantize(COST_QUANTUM)
        )
        pnl = closing * price - removed if held > 0 else removed - closing * price
        position.realized += pnl
        self._wallet[state.market.settle] += pnl
        position.cost -= removed
        position.quantity += delta
        opened = abs(delta) - closing
        if opened > 0:
            position.cost = opened * price

    def _expire_reduce_only(self, state: _SymbolState, now_ms: int) -> list[SimEvent]:
        if state.reduce_only_open == 0:
            return []
        events: list[SimEvent] = []
        for order in list(state.open.values()):
            if order.request.reduce_only and self._reducible(state, order.request.side) == 0:
                self._end(
                    state, order, OrderStatus.EXPIRED, now_ms, "reduce-only: no position left to reduce"
                )
                events.append(order.info())
        return events


def _unrealized(state: _SymbolState) -> Decimal:
    position = state.position
    last = state.book.last
    if position.quantity == 0 or last is None:
        return ZERO
    value = abs(position.quantity) * last
    return value - position.cost if position.quantity > 0 else position.cost - value


def _validate_shape(request: OrderRequest, market: MarketInfo) -> None:
    quantity = request.quantity
    symbol = market.symbol
    if not quantity.is_finite() or quantity <= 0:
        raise InvalidOrder(f"quantity must be > 0 (got {quantity})")
    if not is_multiple(quantity, market.step_size):
        raise InvalidOrder(
            f"quantity {_fmt(quantity)} is not a multiple of the step size {_fmt(market.step_size)} "
            f"of {symbol}"
        )
    if quantity < market.min_quantity:
        raise InvalidOrder(
            f"quantity {_fmt(quantity)} is below the minimum quantity {_fmt(market.min_quantity)} of {symbol}"
        )
    if request.type is OrderType.LIMIT:
        price = request.price
        if price is None:
            raise InvalidOrder("a limit order needs a price")
        if not price.is_finite() or price <= 0:
            raise InvalidOrder(f"price must be > 0 (got {price})")
        if not is_multiple(price, market.tick_size):
            raise InvalidOrder(
                f"price {_fmt(price)} is not a multiple of the tick size {_fmt(market.tick_size)} of {symbol}"
            )
    elif request.post_only:
        raise InvalidOrder("post_only applies to limit orders only")
    if request.post_only and request.time_in_force is not TimeInForce.GTC:
        raise InvalidOrder(f"post_only needs time_in_force GTC (got {request.time_in_force.name})")
    if request.reduce_only and market.market_type is MarketType.SPOT:
        raise InvalidOrder("reduce_only applies to perpetuals only")
