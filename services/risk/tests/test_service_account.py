"""Positions as risk sees them: fills move them at once, polls correct them, PnL from a baseline."""

from __future__ import annotations

from decimal import Decimal

from opensqt_common.enums import Side
from opensqt_risk.account import AccountTracker, FillEvent, PositionReport

D = Decimal
BTC = "BTC/USDT:USDT"


def fill(trade_id: str, side: Side, quantity: str, symbol: str = BTC) -> FillEvent:
    return FillEvent(trade_id, symbol, side, D(quantity))


def report(quantity: str, realized: str = "0", unrealized: str = "0", symbol: str = BTC) -> PositionReport:
    return PositionReport(symbol, D(quantity), D(realized), D(unrealized), D(5))


def test_fills_move_the_position_once_per_trade_id() -> None:
    tracker = AccountTracker([BTC])
    first = tracker.on_fill(fill("t1", Side.BUY, "0.003"))
    assert first is not None
    assert first.quantity == D("0.003")
    assert tracker.on_fill(fill("t1", Side.BUY, "0.003")) is None  # replayed: ignored
    after_sell = tracker.on_fill(fill("t2", Side.SELL, "0.001"))
    assert after_sell is not None
    assert after_sell.quantity == D("0.002")
    assert tracker.on_fill(fill("t3", Side.BUY, "1", symbol="ETH/USDT:USDT")) is None  # not tracked


def test_a_poll_that_may_predate_a_fill_does_not_overwrite_its_quantity() -> None:
    tracker = AccountTracker([BTC])
    token = tracker.poll_token()
    tracker.on_fill(fill("t1", Side.BUY, "0.002"))  # arrives while the poll is in flight
    (snapshot,) = tracker.on_poll([report("0")], token, flat_when_missing=[BTC])
    assert snapshot.quantity == D("0.002")
    (snapshot,) = tracker.on_poll([report("0.002")], tracker.poll_token(), flat_when_missing=[BTC])
    assert snapshot.quantity == D("0.002")
    (snapshot,) = tracker.on_poll([report("0.0015")], tracker.poll_token(), flat_when_missing=[BTC])
    assert snapshot.quantity == D("0.0015")  # a clean poll is the truth


def test_pnl_is_measured_from_the_first_poll() -> None:
    tracker = AccountTracker([BTC])
    (first,) = tracker.on_poll([report("0.01", "-40", "-10")], tracker.poll_token(), flat_when_missing=[])
    assert (first.realized_pnl, first.unrealized_pnl) == (D(0), D(0))
    (later,) = tracker.on_poll([report("0.01", "-70", "-25")], tracker.poll_token(), flat_when_missing=[])
    assert later.realized_pnl + later.unrealized_pnl == D(-45)


def test_a_perpetual_missing_from_the_poll_is_flat_and_keeps_its_realised_pnl() -> None:
    tracker = AccountTracker([BTC])
    tracker.on_poll([report("0.01", "5", "0")], tracker.poll_token(), flat_when_missing=[BTC])
    tracker.on_poll([report("0.01", "12", "3")], tracker.poll_token(), flat_when_missing=[BTC])
    (flat,) = tracker.on_poll([], tracker.poll_token(), flat_when_missing=[BTC])
    assert flat.quantity == 0
    assert flat.realized_pnl == D(7)
    assert flat.unrealized_pnl == D(0)


def test_trade_memory_is_bounded() -> None:
    tracker = AccountTracker([BTC], trade_memory=2)
    for trade_id in ("a", "b", "c"):
        tracker.on_fill(fill(trade_id, Side.BUY, "1"))
    # "a" was forgotten (memory 2), so a replay of it counts again; "c" is remembered.
    assert tracker.on_fill(fill("c", Side.BUY, "1")) is None
    replay = tracker.on_fill(fill("a", Side.BUY, "1"))
    assert replay is not None
    assert replay.quantity == D(4)
