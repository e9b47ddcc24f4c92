"""Builders for tests of the risk rules and of the service around them.

Small, deterministic inputs: one symbol (`SYMBOL`) at price 100, a fixed clock (`NOW`),
tight `LIMITS`, and shorthands for intents and the connector's order updates.
"""

from __future__ import annotations

from decimal import Decimal

from opensqt_common.enums import OrderStatus, OrderType, Side
from opensqt_risk.rules.context import RiskContext
from opensqt_risk.rules.model import Intent, Limits, OrderUpdate, PositionSnapshot

D = Decimal
SEC = 1_000_000_000
NOW = 1_700_000_000 * SEC
SYMBOL = "BTC/USDT:USDT"
_FREE = D(100_000)
_PRICE = D(100)
_ZERO = D(0)
_ONE = D(1)

LIMITS = Limits(
    max_order_quantity=D(1),
    max_position=D(2),
    max_order_notional=D(1000),
    max_open_orders=5,
    price_band=D("0.05"),
    max_order_rate_per_second=D(10),
    stale_after_seconds=30,
)


def make_ctx(
    *,
    free: Decimal | None = _FREE,
    position: Decimal = _ZERO,
    price: Decimal | None = _PRICE,
    leverage: Decimal = _ONE,
    klines: bool = True,
    at_ns: int = NOW,
    nets: bool = True,
) -> RiskContext:
    """A warm context for SYMBOL: fresh price and kline at `at_ns`, the given position and balance."""
    ctx = RiskContext(venue_free_nets_open_orders=nets)
    ctx.add_symbol(SYMBOL, leverage=leverage)
    if price is not None:
        ctx.on_price(SYMBOL, price, at_ns)
    if klines:
        ctx.on_kline(SYMBOL, at_ns)
    if free is not None:
        ctx.on_balance(free)
    ctx.on_position(PositionSnapshot(SYMBOL, position))
    return ctx


def limit(
    side: Side,
    quantity: str | Decimal = "0.1",
    price: str | Decimal | None = "100",
    *,
    coid: str = "c1",
    reduce_only: bool = False,
    post_only: bool = False,
    symbol: str = SYMBOL,
) -> Intent:
    return Intent(
        client_order_id=coid,
        symbol=symbol,
        side=side,
        type=OrderType.LIMIT,
        price=None if price is None else D(price),
        quantity=D(quantity),
        reduce_only=reduce_only,
        post_only=post_only,
    )


def buy(
    quantity: str | Decimal = "0.1",
    price: str | Decimal | None = "100",
    *,
    coid: str = "c1",
    reduce_only: bool = False,
) -> Intent:
    return limit(Side.BUY, quantity, price, coid=coid, reduce_only=reduce_only)


def sell(
    quantity: str | Decimal = "0.1",
    price: str | Decimal | None = "100",
    *,
    coid: str = "c1",
    reduce_only: bool = False,
) -> Intent:
    return limit(Side.SELL, quantity, price, coid=coid, reduce_only=reduce_only)


def market(side: Side, quantity: str | Decimal, *, coid: str = "m1", reduce_only: bool = False) -> Intent:
    return Intent(coid, SYMBOL, side, OrderType.MARKET, None, D(quantity), reduce_only=reduce_only)


def order_update(
    intent: Intent,
    status: OrderStatus = OrderStatus.NEW,
    filled: str | Decimal = "0",
) -> OrderUpdate:
    """The connector's report of the order an intent became."""
    return OrderUpdate(
        client_order_id=intent.client_order_id,
        symbol=intent.symbol,
        side=intent.side,
        status=status,
        quantity=intent.quantity,
        filled_quantity=D(filled),
        price=intent.price,
        reduce_only=intent.reduce_only,
    )
