"""Pre-trade checks: one pure function per check, and `review`, which runs them in order.

Each check reads only what it needs and returns a `Veto` or None; none allocates on the
pass path. Boundaries are inclusive: a value exactly at its limit passes.

`review` classifies an intent first:
- closing: `reduce_only`, or a plain order against the position that (with the closing
  orders already resting on its side) does not exceed it. Closing intents never wait on
  the trading state, market-data freshness, per-order size, position, open-order, margin
  or rate checks: a halted system must still be able to get flat. They are checked only
  for validity, that a reduce-only order really is against the position, and, when a
  fresh last price exists, that a limit price does not cross the price band (a passive
  close far from the market is harmless and is let through);
- opening: everything else. Opening intents fail closed.

Fixed order (the first veto wins, carrying the limits that applied):
 1. validity                      INVALID_INTENT
 2. symbol known                  UNKNOWN_SYMBOL
 3. client order id not reused    INVALID_INTENT   (a retry of a tracked order is fine)
 4. reduce-only reduces           REDUCE_ONLY_INCREASES
 then, closing:
 5c. price band, crossing side    PRICE_BAND       (only with a fresh last price)
 then, opening:
 5. trading state                 HALTED / REDUCE_ONLY
 6. market data fresh             STALE_MARKET_DATA
 7. price band                    PRICE_BAND       (limit orders)
 8. per-order quantity            MAX_QUANTITY
 9. per-order notional            MAX_NOTIONAL     (market orders at the last price)
10. position after the order      MAX_POSITION     (aggregate)
11. open orders after the order   MAX_OPEN_ORDERS  (aggregate)
12. free margin                   INSUFFICIENT_MARGIN (aggregate)
13. order rate                    RATE             (aggregate)

An approved intent is recorded in the context (an open order in flight, its margin
reserved, a rate token taken); that is the only mutation. A retry under the client
order id of an order already tracked, with the same parameters, is re-checked against
the per-order checks (5-9) but not against the aggregates it is already counted in.
"""

from __future__ import annotations

from decimal import Decimal

from opensqt_common.decimals import format_decimal as fmt
from opensqt_common.enums import OrderType, Side, TradingState
from opensqt_risk.rules.arith import ONE, ZERO, add, mul, ratio, seconds, sub
from opensqt_risk.rules.context import RiskContext, SymbolState, margin_for
from opensqt_risk.rules.model import AppliedLimit, Decision, Intent, Limits, Veto, VetoReason
from opensqt_risk.rules.rate import TokenBucket

_VETO_HALTED = Veto(
    VetoReason.HALTED, "trading is HALTED: opening orders are refused; cancels and closes pass"
)
_VETO_REDUCE_ONLY = Veto(
    VetoReason.REDUCE_ONLY, "trading is REDUCE_ONLY: only orders that reduce the position pass"
)


def _invalid(field: str, description: str) -> Veto:
    return Veto(VetoReason.INVALID_INTENT, f"{field}: {description}", field=field)


def validate_intent(intent: Intent) -> Veto | None:
    """The intent is well formed: ids set, quantity > 0, a positive price iff LIMIT."""
    if not intent.client_order_id:
        return _invalid("client_order_id", "is required")
    if not intent.symbol:
        return _invalid("symbol", "is required")
    quantity = intent.quantity
    if not quantity.is_finite() or quantity <= 0:
        return _invalid("quantity", f"must be > 0 (got {quantity})")
    price = intent.price
    if intent.type is OrderType.LIMIT:
        if price is None:
            return _invalid("price", "is required for a LIMIT order")
        if not price.is_finite() or price <= 0:
            return _invalid("price", f"must be > 0 (got {price})")
    else:
        if price is not None:
            return _invalid("price", "must be unset for a MARKET order")
        if intent.post_only:
            return _invalid("post_only", "a MARKET order cannot be post-only")
    return None


def check_reduce_only(intent: Intent, state: SymbolState) -> Veto | None:
    """A reduce-only intent must go against a non-zero position.

    Its quantity may exceed the position: the venue never lets a reduce-only order
    increase it (it caps or rejects the excess).
    """
    if not intent.reduce_only or state.opposes(intent.side):
        return None
    side = "sell" if intent.side is Side.SELL else "buy"
    return Veto(
        VetoReason.REDUCE_ONLY_INCREASES,
        f"reduce-only {side} of {fmt(intent.quantity)} would not reduce position {fmt(state.position)}",
        (AppliedLimit("position", ZERO, state.position),),
    )


def check_trading_state(trading_state: TradingState) -> Veto | None:
    """Opening orders pass only while ACTIVE."""
    if trading_state is TradingState.ACTIVE:
        return None
    return _VETO_HALTED if trading_state is TradingState.HALTED else _VETO_REDUCE_ONLY


def check_market_data(state: SymbolState, limits: Limits, now_ns: int) -> Veto | None:
    """The last price (and kline, when required) is at most `stale_after_seconds` old."""
    stale_after_ns = limits.stale_after_ns
    veto = _freshness(state.symbol, "price", state.last_price_at_ns, stale_after_ns, limits, now_ns)
    if veto is None and state.klines_required:
        veto = _freshness(state.symbol, "kline", state.last_kline_at_ns, stale_after_ns, limits, now_ns)
    return veto


def _freshness(
    symbol: str, what: str, at_ns: int | None, stale_after_ns: int, limits: Limits, now_ns: int
) -> Veto | None:
    if at_ns is None:
        return Veto(VetoReason.STALE_MARKET_DATA, f"no {what} received yet for {symbol}")
    age_ns = now_ns - at_ns
    if age_ns <= stale_after_ns:
        return None
    age = seconds(age_ns)
    return Veto(
        VetoReason.STALE_MARKET_DATA,
        f"last {what} for {symbol} is {fmt(age)} s old (limit {limits.stale_after_seconds} s)",
        (AppliedLimit(f"stale_after_seconds.{what}", Decimal(limits.stale_after_seconds), age),),
    )


def check_price_band(
    intent: Intent, last_price: Decimal, band: Decimal, *, crossing_only: bool = False
) -> Veto | None:
    """|price - last| <= band · last for limit orders (market orders have no price).

    With `crossing_only`, only the aggressive side is checked: a buy above
    last · (1 + band) or a sell below last · (1 - band).
    """
    price = intent.price
    if price is None:
        return None
    deviation = sub(price, last_price)
    allowed = mul(band, last_price)
    if crossing_only:
        beyond = deviation > allowed if intent.side is Side.BUY else -deviation > allowed
    else:
        beyond = abs(deviation) > allowed
    if not beyond:
        return None
    distance = abs(deviation)
    return Veto(
        VetoReason.PRICE_BAND,
        f"price {fmt(price)} is {fmt(ratio(distance, last_price))} away from last price "
        f"{fmt(last_price)} (band {fmt(band)})",
        (AppliedLimit("price_band", band, ratio(distance, last_price)),),
    )


def check_max_quantity(intent: Intent, limits: Limits) -> Veto | None:
    if intent.quantity <= limits.max_order_quantity:
        return None
    return Veto(
        VetoReason.MAX_QUANTITY,
        f"quantity {fmt(intent.quantity)} exceeds max_order_quantity {fmt(limits.max_order_quantity)}",
        (AppliedLimit("max_order_quantity", limits.max_order_quantity, intent.quantity),),
    )


def check_max_notional(notional: Decimal, limits: Limits) -> Veto | None:
    """price · quantity (market orders: last price · quantity) <= max_order_notional."""
    if notional <= limits.max_order_notional:
        return None
    return Veto(
        VetoReason.MAX_NOTIONAL,
        f"notional {fmt(notional)} exceeds max_order_notional {fmt(limits.max_order_notional)}",
        (AppliedLimit("max_order_notional", limits.max_order_notional, notional),),
    )


def check_max_position(intent: Intent, state: SymbolState, limits: Limits) -> Veto | None:
    """|position + resting opening orders on this side + this order| <= max_position.

    Worst case: every resting opening order on the intent's side fills, and none of
    the closing orders does.
    """
    if intent.side is Side.BUY:
        projected = add(add(state.position, state.opening_buy_quantity), intent.quantity)
    else:
        projected = sub(sub(state.position, state.opening_sell_quantity), intent.quantity)
    size = abs(projected)
    if size <= limits.max_position:
        return None
    return Veto(
        VetoReason.MAX_POSITION,
        f"position would reach {fmt(projected)} (now {fmt(state.position)}, resting same-side "
        f"opening orders included) beyond max_position {fmt(limits.max_position)}",
        (AppliedLimit("max_position", limits.max_position, size),),
    )


def check_max_open_orders(state: SymbolState, limits: Limits) -> Veto | None:
    after = state.open_orders + 1
    if after <= limits.max_open_orders:
        return None
    return Veto(
        VetoReason.MAX_OPEN_ORDERS,
        f"{state.open_orders} orders already open on {state.symbol}; "
        f"max_open_orders is {limits.max_open_orders}",
        (AppliedLimit("max_open_orders", Decimal(limits.max_open_orders), Decimal(after)),),
    )


def check_margin(notional: Decimal, leverage: Decimal, available: Decimal | None) -> Veto | None:
    """notional / leverage <= free margin - margin reserved by tracked opening orders.

    Compared as notional <= available · leverage (exact). No balance yet: fail closed, with a
    reason of its own: it is not a shortage (the engine would lock buys for a while).
    """
    if available is None:
        return Veto(VetoReason.NO_ACCOUNT_DATA, "no balance received yet")
    if notional <= mul(available, leverage):
        return None
    required = margin_for(notional, leverage)
    return Veto(
        VetoReason.INSUFFICIENT_MARGIN,
        f"order needs margin {fmt(required)} (notional {fmt(notional)} / leverage {fmt(leverage)}) "
        f"but only {fmt(available)} is free after reservations",
        (AppliedLimit("free_margin", available, required),),
    )


def check_rate(bucket: TokenBucket, limits: Limits, now_ns: int) -> Veto | None:
    """A token is available in the symbol's bucket (`max_order_rate_per_second`)."""
    rate = limits.max_order_rate_per_second
    level = bucket.level(rate, now_ns)
    if level >= ONE:
        return None
    wait_ms = seconds(bucket.wait_ns(rate, now_ns)).scaleb(3)
    return Veto(
        VetoReason.RATE,
        f"more than {fmt(rate)} opening orders per second; next slot in {fmt(wait_ms)} ms",
        (AppliedLimit("order_rate_tokens", ONE, level),),
    )


def invalid_intent(client_order_id: str, field: str, description: str, now_ns: int) -> Decision:
    """The decision for an intent that could not even be parsed from the wire."""
    return Decision(client_order_id, _invalid(field, description), now_ns)


def review(
    intent: Intent, ctx: RiskContext, limits: Limits, trading_state: TradingState, now_ns: int
) -> Decision:
    """Decide one intent (see the module docstring for the order of checks)."""
    ctx.expire_in_flight(now_ns)
    client_order_id = intent.client_order_id
    veto = validate_intent(intent)
    if veto is not None:
        return Decision(client_order_id, veto, now_ns)
    state = ctx.symbols.get(intent.symbol)
    if state is None:
        return Decision(
            client_order_id,
            Veto(VetoReason.UNKNOWN_SYMBOL, f"symbol {intent.symbol!r} is not traded here", field="symbol"),
            now_ns,
        )
    tracked = ctx.orders.get(client_order_id)
    if tracked is not None and not tracked.matches(intent):
        return Decision(
            client_order_id,
            _invalid("client_order_id", "already used for a different order"),
            now_ns,
        )
    if intent.reduce_only:
        veto = check_reduce_only(intent, state)
        if veto is not None:
            return Decision(client_order_id, veto, now_ns)
        closing = True
    elif tracked is not None:
        closing = tracked.closing
    else:
        closing = state.closes(intent.side, intent.quantity)

    if closing:
        return _review_closing(intent, ctx, state, limits, now_ns, retry=tracked is not None)
    return _review_opening(intent, ctx, state, limits, trading_state, now_ns, retry=tracked is not None)


def _review_closing(
    intent: Intent, ctx: RiskContext, state: SymbolState, limits: Limits, now_ns: int, *, retry: bool
) -> Decision:
    last_price = state.last_price
    if (
        last_price is not None
        and state.last_price_at_ns is not None
        and now_ns - state.last_price_at_ns <= limits.stale_after_ns
    ):
        veto = check_price_band(intent, last_price, limits.price_band, crossing_only=True)
        if veto is not None:
            return Decision(intent.client_order_id, veto, now_ns, closing=True)
    if not retry:
        ctx.record_approval(
            intent,
            state,
            closing=True,
            reference_price=intent.price if intent.price is not None else last_price or ZERO,
            margin=ZERO,
            now_ns=now_ns,
        )
    return Decision(intent.client_order_id, None, now_ns, closing=True)


def _review_opening(
    intent: Intent,
    ctx: RiskContext,
    state: SymbolState,
    limits: Limits,
    trading_state: TradingState,
    now_ns: int,
    *,
    retry: bool,
) -> Decision:
    client_order_id = intent.client_order_id
    veto = check_trading_state(trading_state) or check_market_data(state, limits, now_ns)
    if veto is not None:
        return Decision(client_order_id, veto, now_ns)
    # Fresh market data implies a last price.
    last_price = state.last_price
    assert last_price is not None
    veto = check_price_band(intent, last_price, limits.price_band) or check_max_quantity(intent, limits)
    if veto is not None:
        return Decision(client_order_id, veto, now_ns)
    reference_price = intent.price if intent.price is not None else last_price
    notional = mul(reference_price, intent.quantity)
    veto = check_max_notional(notional, limits)
    if veto is None and not retry:
        veto = (
            check_max_position(intent, state, limits)
            or check_max_open_orders(state, limits)
            or check_margin(notional, state.leverage, ctx.available_margin)
            or check_rate(state.rate, limits, now_ns)
        )
    if veto is not None:
        return Decision(client_order_id, veto, now_ns)
    if not retry:
        state.rate.take(limits.max_order_rate_per_second, now_ns)
        ctx.record_approval(
            intent,
            state,
            closing=False,
            reference_price=reference_price,
            margin=margin_for(notional, state.leverage),
            now_ns=now_ns,
        )
    return Decision(client_order_id, None, now_ns)
