"""Klines aggregated from the sim's trade path."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from opensqt_connector.models import KlineInfo, KlineInterval
from opensqt_connector.sim.klines import KlineBook, KlineSeries

SYMBOL = "BTC/USDT:USDT"
MINUTE = 60_000
OPEN = 1_700_000_040_000  # a whole minute
T0 = OPEN + 40_000  # 40 s into it


def kline(open_ms: int, o: str, h: str, low: str, c: str, v: str, *, closed: bool) -> KlineInfo:
    return KlineInfo(SYMBOL, KlineInterval.M1, open_ms, D(o), D(h), D(low), D(c), D(v), closed)


def test_trades_within_a_period_build_one_aligned_kline() -> None:
    series = KlineSeries(SYMBOL, KlineInterval.M1)
    assert series.on_trade(D(100), D("1.5"), T0) == [
        kline(OPEN, "100", "100", "100", "100", "1.5", closed=False)
    ]
    series.on_trade(D(105), D("0.5"), T0 + 1_000)
    updates = series.on_trade(D(98), D(1), T0 + 2_000)
    assert updates == [kline(OPEN, "100", "105", "98", "98", "3.0", closed=False)]
    assert series.history(10) == updates


def test_a_trade_after_the_period_closes_the_kline_and_opens_the_next() -> None:
    series = KlineSeries(SYMBOL, KlineInterval.M1)
    series.on_trade(D(100), D(1), T0)
    updates = series.on_trade(D(101), D(2), OPEN + MINUTE)
    assert updates == [
        kline(OPEN, "100", "100", "100", "100", "1", closed=True),
        kline(OPEN + MINUTE, "101", "101", "101", "101", "2", closed=False),
    ]


def test_empty_periods_become_flat_zero_volume_klines() -> None:
    series = KlineSeries(SYMBOL, KlineInterval.M1)
    series.on_trade(D(100), D(1), T0)
    updates = series.on_trade(D(90), D(4), OPEN + 3 * MINUTE + 5)
    assert [(k.open_time_ms, k.close, k.volume, k.closed) for k in updates] == [
        (OPEN, D(100), D(1), True),
        (OPEN + MINUTE, D(100), D(0), True),
        (OPEN + 2 * MINUTE, D(100), D(0), True),
        (OPEN + 3 * MINUTE, D(90), D(4), False),
    ]


def test_a_long_gap_emits_at_most_the_history_size() -> None:
    series = KlineSeries(SYMBOL, KlineInterval.M1, history=3)
    series.on_trade(D(100), D(1), T0)
    updates = series.on_trade(D(90), D(1), OPEN + 1_000 * MINUTE)
    assert len(updates) == 4  # three closed (the history) and the current one
    assert [k.open_time_ms for k in updates] == [OPEN + (997 + i) * MINUTE for i in range(4)]
    assert [k.open_time_ms for k in series.history(10)] == [k.open_time_ms for k in updates]


def test_explicit_close_ends_the_kline_now_and_opens_a_flat_one() -> None:
    series = KlineSeries(SYMBOL, KlineInterval.M1)
    series.on_trade(D(100), D(2), T0)
    updates = series.close(T0 + 10)
    assert updates == [
        kline(OPEN, "100", "100", "100", "100", "2", closed=True),
        kline(T0 + 10, "100", "100", "100", "100", "0", closed=False),
    ]
    series.on_trade(D(120), D(3), T0 + 20)
    again = series.close(T0 + 20)
    assert again[0] == kline(T0 + 10, "100", "120", "100", "120", "3", closed=True)
    # Two closes in the same millisecond still give increasing open times.
    third = series.close(T0 + 20)
    assert [k.open_time_ms for k in third] == [T0 + 20, T0 + 21]
    # The kline opened by a close ends at the next aligned boundary.
    rolled = series.on_trade(D(121), D(1), OPEN + MINUTE)
    assert [(k.open_time_ms, k.closed) for k in rolled] == [(T0 + 21, True), (OPEN + MINUTE, False)]


def test_close_before_any_trade_does_nothing() -> None:
    assert KlineSeries(SYMBOL, KlineInterval.M1).close(T0) == []


def test_a_trade_stamped_in_the_past_counts_in_the_current_kline() -> None:
    series = KlineSeries(SYMBOL, KlineInterval.M1)
    series.on_trade(D(100), D(1), T0)
    updates = series.on_trade(D(101), D(1), T0 - 2 * MINUTE)
    assert updates == [kline(OPEN, "100", "101", "100", "101", "2", closed=False)]


def test_history_is_bounded_oldest_first_with_the_open_kline_last() -> None:
    series = KlineSeries(SYMBOL, KlineInterval.M1, history=2)
    for i in range(5):
        series.on_trade(D(100 + i), D(1), OPEN + i * MINUTE)
    history = series.history(10)
    assert [(k.open_time_ms, k.closed) for k in history] == [
        (OPEN + 2 * MINUTE, True),
        (OPEN + 3 * MINUTE, True),
        (OPEN + 4 * MINUTE, False),
    ]
    assert series.history(1) == history[-1:]
    assert series.history(0) == []


def test_history_must_be_positive() -> None:
    with pytest.raises(ValueError, match="history"):
        KlineSeries(SYMBOL, KlineInterval.M1, history=0)


def test_the_book_feeds_every_interval_and_emits_only_the_streamed_one() -> None:
    book = KlineBook([SYMBOL])
    emitted = book.on_trade(SYMBOL, D(100), D(1), T0, KlineInterval.M1)
    assert [k.interval for k in emitted] == [KlineInterval.M1]
    assert book.on_trade(SYMBOL, D(101), D(1), T0 + 1, None) == []
    five = book.history(SYMBOL, KlineInterval.M5, 5)
    assert [(k.close, k.volume) for k in five] == [(D(101), D(2))]
    assert five[0].open_time_ms % KlineInterval.M5.milliseconds == 0
    closed = book.close(SYMBOL, KlineInterval.S1, T0 + 2)
    assert closed[0].closed
    assert closed[0].interval is KlineInterval.S1
    assert book.history(SYMBOL, KlineInterval.M1, 5)[-1].closed is False
