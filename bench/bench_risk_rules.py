"""Micro-benchmark of the pure risk rules: decisions per second of `review` on a warm context.

Run: .venv/bin/python bench/bench_risk_rules.py [--n 50000]

Scenarios (each intent is a fresh client order id on one symbol, time advancing 1 µs
per intent):
- approve:   opening limit buy that passes every check; the connector then reports it
             canceled, so the context stays the same size (only `review` is timed);
- close:     reduce-only sell against a long position (the closing path);
- veto-late: opening buy refused by the margin check (all earlier checks run, a veto
             with its detail and applied limit is built);
- halted:    opening buy refused by the trading-state gate;
- wire:      approve, plus parsing the OrderIntent message and building the
             RiskDecision message (what the gRPC service pays per intent).
Target: >= 10,000 decisions/s.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from opensqt.risk.v1.types_pb2 import OrderIntent
from opensqt_common.enums import OrderStatus, OrderType, Side, TradingState
from opensqt_risk.rules import (
    Intent,
    Limits,
    OrderUpdate,
    PositionSnapshot,
    RiskContext,
    VetoReason,
    review,
)
from opensqt_risk.rules.wire import decision_to_proto, intent_from_proto, intent_to_proto

SYMBOL = "BTC/USDT:USDT"
START_NS = 1_700_000_000 * 1_000_000_000
TARGET = 10_000

LIMITS = Limits(
    max_order_quantity=Decimal(10),
    max_position=Decimal(1_000_000),
    max_order_notional=Decimal(1_000_000),
    max_open_orders=1_000,
    max_order_rate_per_second=Decimal(1_000_000_000),
    stale_after_seconds=3_600,
)


def warm_context(free_margin: Decimal) -> RiskContext:
    ctx = RiskContext()
    ctx.add_symbol(SYMBOL, leverage=Decimal(5))
    ctx.on_price(SYMBOL, Decimal("60000.5"), START_NS)
    ctx.on_kline(SYMBOL, START_NS)
    ctx.on_balance(free_margin)
    ctx.on_position(PositionSnapshot(SYMBOL, Decimal("0.5")))
    return ctx


def intent(i: int, side: Side = Side.BUY, reduce_only: bool = False) -> Intent:
    return Intent(
        client_order_id=f"b{i}",
        symbol=SYMBOL,
        side=side,
        type=OrderType.LIMIT,
        price=Decimal("59990.1"),
        quantity=Decimal("0.001"),
        reduce_only=reduce_only,
        post_only=True,
    )


def canceled(client_order_id: str, side: Side = Side.BUY) -> OrderUpdate:
    return OrderUpdate(
        client_order_id, SYMBOL, side, OrderStatus.CANCELED, Decimal("0.001"), Decimal(0), Decimal("59990.1")
    )


def run(
    name: str,
    n: int,
    prepare: Callable[[int], Any],
    decide: Callable[[Any, int], bool],
    after: Callable[[Any], None] | None = None,
) -> float:
    """Time `decide` over n prepared items; `after` runs outside the timed region."""
    items = [prepare(i) for i in range(n)]
    gc.collect()
    gc.disable()
    try:
        spent = 0
        for i, item in enumerate(items):
            begin = time.perf_counter_ns()
            ok = decide(item, START_NS + i * 1_000)
            spent += time.perf_counter_ns() - begin
            if not ok:
                raise SystemExit(f"{name}: unexpected decision at {i}")
            if after is not None:
                after(item)
    finally:
        gc.enable()
    per_second = n / (spent / 1e9)
    verdict = "ok" if per_second >= TARGET else "BELOW TARGET"
    print(f"{name:10s} {per_second:12,.0f} decisions/s  {spent / n / 1000:7.2f} µs/decision  {verdict}")
    return per_second


def main() -> None:
    parser = argparse.ArgumentParser(description="Decisions per second of the pure risk rules")
    parser.add_argument("--n", type=int, default=50_000)
    n = parser.parse_args().n
    active, halted = TradingState.ACTIVE, TradingState.HALTED
    print(f"{n} intents per scenario; target {TARGET:,} decisions/s")

    ctx = warm_context(Decimal(1_000_000))
    run(
        "approve",
        n,
        intent,
        lambda item, now: review(item, ctx, LIMITS, active, now).approved,
        lambda item: ctx.on_order(canceled(item.client_order_id)),
    )

    close_ctx = warm_context(Decimal(1_000_000))
    run(
        "close",
        n,
        lambda i: intent(i, Side.SELL, reduce_only=True),
        lambda item, now: review(item, close_ctx, LIMITS, halted, now).approved,
        lambda item: close_ctx.on_order(canceled(item.client_order_id, Side.SELL)),
    )

    poor_ctx = warm_context(Decimal(1))

    def veto_late(item: Intent, now: int) -> bool:
        veto = review(item, poor_ctx, LIMITS, active, now).veto
        return veto is not None and veto.reason is VetoReason.INSUFFICIENT_MARGIN

    run("veto-late", n, intent, veto_late)
    run("halted", n, intent, lambda item, now: not review(item, ctx, LIMITS, halted, now).approved)

    wire_ctx = warm_context(Decimal(1_000_000))

    def wire(message: OrderIntent, now: int) -> bool:
        decision = review(intent_from_proto(message), wire_ctx, LIMITS, active, now)
        decision_to_proto(decision)
        return decision.approved

    run(
        "wire",
        n,
        lambda i: intent_to_proto(intent(i)),
        wire,
        lambda message: wire_ctx.on_order(canceled(message.client_order_id)),
    )


if __name__ == "__main__":
    main()
