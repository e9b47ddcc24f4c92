"""Throughput of the grid strategy core (DESIGN §7: >= 200,000 price events/s on one core).

Run: ``.venv/bin/python bench/bench_core.py [--ticks N] [--seed S]``

1. A random walk (BTC-like: 60,000 USDT, tick 0.1, a move of a few ticks per event) drives a
   realistic grid (interval 10, 10 buy and 10 sell levels) against a tiny in-memory venue that
   acknowledges at once and fills orders the price crosses. Every event fed to the core is
   recorded.
2. The recorded events are replayed through a fresh state in a tight loop and timed: this is
   the core alone, without the venue model. The replay must produce exactly the same actions
   (determinism), which is checked.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from decimal import Decimal

from opensqt_common.enums import MarketType, OrderStatus, Side
from opensqt_engine.core import (
    Action,
    CancelOrder,
    Event,
    Fill,
    GridConfig,
    GridStrategy,
    MarketRules,
    OrderAccepted,
    OrderUpdate,
    PlaceOrder,
    PriceTick,
)

TICK = Decimal("0.1")
FEE_RATE = Decimal("0.0002")


def machine_info() -> str:
    cpu = platform.processor() or "unknown cpu"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cpus"
    )


def make_strategy() -> GridStrategy:
    config = GridConfig(
        strategy_id="bench",
        symbol="BTC/USDT:USDT",
        market=MarketType.LINEAR_PERPETUAL,
        price_interval=Decimal("10"),
        order_amount=Decimal("200"),
        buy_window=10,
        sell_window=10,
        min_order_value=Decimal("5"),
        max_open_orders=40,
    )
    rules = MarketRules(
        tick_size=TICK, step_size=Decimal("0.001"), min_quantity=Decimal("0.001"), min_notional=Decimal("5")
    )
    return GridStrategy(config, rules)


def random_walk(ticks: int, seed: int) -> list[PriceTick]:
    rng = random.Random(seed)
    position = 600_000  # in ticks: 60,000.0
    path = []
    for n in range(ticks):
        position += round(rng.gauss(0.0, 3.0))
        position = max(position, 1_000)
        path.append(PriceTick(position * TICK, n * 0.01))
    return path


def simulate(strategy: GridStrategy, path: list[PriceTick]) -> tuple[list[Event], list[Action]]:
    """Run the core against an instant venue; return every event fed and every action produced."""
    state = strategy.new_state()
    fed: list[Event] = []
    produced: list[Action] = []
    book: dict[str, PlaceOrder] = {}
    trade = 0

    def feed(event: Event) -> list[Action]:
        fed.append(event)
        actions = strategy.handle(state, event)
        produced.extend(actions)
        return actions

    def respond(actions: list[Action]) -> None:
        pending = list(actions)
        while pending:
            action = pending.pop(0)
            if isinstance(action, PlaceOrder):
                book[action.client_order_id] = action
                pending.extend(feed(OrderAccepted(action.client_order_id, "v" + action.client_order_id)))
            elif isinstance(action, CancelOrder):
                book.pop(action.client_order_id, None)
                update = OrderUpdate(action.client_order_id, "", OrderStatus.CANCELED, Decimal(0))
                pending.extend(feed(update))

    for tick in path:
        respond(feed(tick))
        price = tick.price
        crossed = [
            order
            for order in book.values()
            if (order.side is Side.BUY and price <= order.price)
            or (order.side is Side.SELL and price >= order.price)
        ]
        for order in sorted(crossed, key=lambda o: o.client_order_id):
            del book[order.client_order_id]
            trade += 1
            fee = order.quantity * order.price * FEE_RATE
            respond(feed(Fill(order.client_order_id, f"t{trade}", order.price, order.quantity, fee)))
            update = OrderUpdate(order.client_order_id, "", OrderStatus.FILLED, order.quantity, order.price)
            respond(feed(update))
    return fed, produced


def replay(strategy: GridStrategy, events: list[Event]) -> tuple[float, list[Action]]:
    state = strategy.new_state()
    handle = strategy.handle
    produced: list[Action] = []
    extend = produced.extend
    start = time.perf_counter()
    for event in events:
        extend(handle(state, event))
    return time.perf_counter() - start, produced


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    print(f"machine: {machine_info()}")
    path = random_walk(args.ticks, args.seed)
    low = min(t.price for t in path)
    high = max(t.price for t in path)
    print(f"path: {len(path):,} ticks, seed {args.seed}, price {low} … {high}")

    events, expected = simulate(make_strategy(), path)
    places = sum(isinstance(a, PlaceOrder) for a in expected)
    cancels = sum(isinstance(a, CancelOrder) for a in expected)
    fills = sum(isinstance(e, Fill) for e in events)
    print(
        f"events: {len(events):,} ({len(events) - len(path):,} venue events), "
        f"{places:,} orders, {cancels:,} cancels, {fills:,} fills"
    )

    best = float("inf")
    for run in range(args.repeat):
        elapsed, produced = replay(make_strategy(), events)
        if produced != expected:
            print("FAIL: replay produced different actions (core is not deterministic)")
            return 1
        best = min(best, elapsed)
        print(
            f"run {run + 1}: {elapsed:.3f} s  {len(events) / elapsed:,.0f} events/s  "
            f"{len(path) / elapsed:,.0f} price ticks/s (all events counted in the time)"
        )
    rate = len(events) / best
    print(f"best: {rate:,.0f} events/s, {best / len(events) * 1e6:.2f} µs/event; budget 200,000 events/s")
    return 0 if rate >= 200_000 else 2


if __name__ == "__main__":
    sys.exit(main())
