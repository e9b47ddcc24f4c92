"""GridState snapshot round trip and the bounded memories."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from opensqt_common.enums import Side, TradingState
from opensqt_engine.core import (
    GridState,
    RecentOrder,
    RecentOrders,
    Slot,
    SlotStatus,
    SnapshotError,
    TradeIdMemory,
)

D = Decimal


def sample_state() -> GridState:
    trade_ids = TradeIdMemory(3, ["t1", "t2"])
    recent = RecentOrders(2)
    recent.add("gSP1G0", RecentOrder(1, Side.SELL, D("101.00")))
    state = GridState(
        strategy_id="g",
        symbol="BTC/USDT",
        trade_ids=trade_ids,
        recent_orders=recent,
        anchor=D("100.0"),
        last_price=D("99.35"),
        now=1234.5,
        realized_pnl=D("1.2300"),
        fees_paid=D("0.0001E-3"),
        fill_count=7,
        next_generation=42,
        margin_lock_until=1300.25,
        trading_state=TradingState.REDUCE_ONLY,
        paused=True,
    )
    live = Slot(-1, D("99.0"), position=D("0.1"))
    live.open_order("gSN1G41", Side.SELL, D("100.0"), D("0.1"), post_only=True, reduce_only=True)
    live.move(SlotStatus.LOCKED)
    live.order_id = "v9"
    live.reported_filled = D("0.05")
    live.fills_quantity = D("0.04")
    live.filled_quantity = D("0.05")
    live.post_only_failures = 2
    state.slots[-1] = live
    state.slots[-2] = Slot(-2, D("98.0"), reject_streak=3, retry_after=1240.0)
    state.noted.update({("dust 0.0001", -7), ("buy size", 3)})
    return state


def test_snapshot_round_trip_is_exact_through_json() -> None:
    state = sample_state()
    snapshot = state.to_snapshot()
    text = json.dumps(snapshot)
    restored = GridState.from_snapshot(json.loads(text))
    assert restored == state
    assert restored.to_snapshot() == snapshot
    # exact decimal representation, not just equal values
    assert str(restored.fees_paid) == str(state.fees_paid)
    assert str(restored.slots[-1].level_price) == "99.0"
    assert restored.trade_ids.ids() == ["t1", "t2"]
    assert "t1" in restored.trade_ids


def test_snapshot_is_plain_json_types() -> None:
    def walk(value: object) -> None:
        if isinstance(value, dict):
            assert all(isinstance(k, str) for k in value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        else:
            assert value is None or isinstance(value, (str, int, float, bool))

    walk(sample_state().to_snapshot())


def test_transient_fields_do_not_affect_equality() -> None:
    a, b = sample_state(), sample_state()
    b.dirty = False
    b.wakeup = 5.0
    assert a == b
    b.slots[-1].position = D("0.2")
    assert a != b


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s.update(version=2),
        lambda s: s.pop("anchor"),
        lambda s: s.update(realized_pnl=1.5),
        lambda s: s.update(realized_pnl="abc"),
        lambda s: s.update(realized_pnl="Infinity"),
        lambda s: s.update(fill_count="7"),
        lambda s: s.update(paused="yes"),
        lambda s: s.update(trading_state="open"),
        lambda s: s["slots"].append(dict(s["slots"][0])),
        lambda s: s["slots"][0].update(status="free"),
    ],
)
def test_malformed_snapshots_are_refused(mutate: object) -> None:
    snapshot = sample_state().to_snapshot()
    mutate(snapshot)  # type: ignore[operator]
    with pytest.raises(SnapshotError):
        GridState.from_snapshot(snapshot)


def test_trade_id_memory_forgets_the_oldest() -> None:
    memory = TradeIdMemory(2)
    for trade_id in ("a", "b", "a", "c"):
        memory.add(trade_id)
    assert memory.ids() == ["b", "c"]
    assert "a" not in memory
    assert len(memory) == 2


def test_recent_orders_forget_the_oldest() -> None:
    recent = RecentOrders(2)
    for n in range(3):
        recent.add(f"c{n}", RecentOrder(n, Side.BUY, D(n)))
    assert recent.get("c0") is None
    assert recent.get("c2") == RecentOrder(2, Side.BUY, D(2))
    assert len(recent) == 2


def test_derived_figures() -> None:
    state = sample_state()
    assert state.position == D("0.1")
    assert state.net_pnl == state.realized_pnl - state.fees_paid
    assert state.open_orders == 1
    assert state.count(SlotStatus.FREE) == 1
    state.now = 1300.0
    assert state.margin_locked()
    state.now = 1300.25
    assert not state.margin_locked()
