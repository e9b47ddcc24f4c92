"""The volume-anomaly crash detector on scripted candle series."""

from __future__ import annotations

from decimal import Decimal

import pytest

from opensqt_risk.rules import Candle, CrashSignal, DetectorMode, SignalKind, VolumeAnomalyDetector
from opensqt_risk.rules.crash_detector import CandleVerdict, Verdict
from opensqt_risk.rules.testing import D

MINUTE = 60 * 1_000_000_000
BTC, ETH, SOL = "BTC/USDT", "ETH/USDT", "SOL/USDT"
THREE = D(3)


def latest(det: VolumeAnomalyDetector, symbol: str) -> CandleVerdict:
    verdict = det.verdict(symbol)
    assert verdict is not None
    return verdict


class Feed:
    """Closed one-minute candles per symbol, numbered by minute."""

    def __init__(self, detector: VolumeAnomalyDetector) -> None:
        self.detector = detector
        self.minute: dict[str, int] = {}

    def candle(self, symbol: str, close: str, volume: str, *, closed: bool = True) -> CrashSignal | None:
        minute = self.minute.get(symbol, 0) + (1 if closed else 0)
        if closed:
            self.minute[symbol] = minute
        return self.detector.on_candle(Candle(symbol, minute * MINUTE, D(close), D(volume), closed))

    def warm(self, *symbols: str, close: str = "100", volume: str = "10") -> None:
        for symbol in symbols:
            for _ in range(self.detector.average_window):
                assert self.candle(symbol, close, volume) is None


def detector(
    symbols: tuple[str, ...] = (BTC, ETH),
    *,
    mode: DetectorMode = DetectorMode.ALL,
    recovery_threshold: int = 1,
    multiplier: Decimal = THREE,
) -> VolumeAnomalyDetector:
    return VolumeAnomalyDetector(
        symbols, average_window=3, multiplier=multiplier, mode=mode, recovery_threshold=recovery_threshold
    )


def test_price_falling_on_four_times_the_volume_in_all_symbols_halts() -> None:
    feed = Feed(detector())
    feed.warm(BTC, ETH)
    assert feed.candle(BTC, "95", "40") is None  # only one of two symbols so far
    assert latest(feed.detector, BTC).verdict is Verdict.ANOMALOUS
    signal = feed.candle(ETH, "90", "40")
    assert signal is not None
    assert signal.kind is SignalKind.HALT
    assert "2 of 2" in signal.detail
    assert "close 95 vs mean 100" in signal.detail
    assert "volume 40 vs 3×mean 10" in signal.detail
    assert feed.detector.halted


def test_recovery_needs_threshold_symbols_with_a_normal_candle_since_the_halt() -> None:
    feed = Feed(detector(recovery_threshold=2))
    feed.warm(BTC, ETH)
    feed.candle(BTC, "95", "40")
    assert feed.candle(ETH, "90", "40") is not None
    assert feed.candle(BTC, "96", "10") is None  # one normal symbol, two needed
    signal = feed.candle(ETH, "91", "10")
    assert signal is not None
    assert signal.kind is SignalKind.RECOVER
    assert BTC in signal.detail
    assert ETH in signal.detail
    assert not feed.detector.halted


def test_an_anomalous_candle_after_a_normal_one_withdraws_the_recovery_vote() -> None:
    feed = Feed(detector(recovery_threshold=2))
    feed.warm(BTC, ETH)
    feed.candle(BTC, "95", "40")
    feed.candle(ETH, "90", "40")
    feed.candle(BTC, "96", "10")
    # Mean close of BTC's previous 3 candles: (100 + 95 + 96) / 3 = 97; 80 < 97, 200 > 3×20.
    assert feed.candle(BTC, "80", "200") is None
    assert feed.candle(ETH, "91", "10") is None  # BTC withdrew: one normal symbol
    signal = feed.candle(BTC, "97", "1")
    assert signal is not None
    assert signal.kind is SignalKind.RECOVER


def test_any_mode_halts_on_one_symbol_and_ignores_normal_candles_from_before() -> None:
    feed = Feed(detector((BTC, ETH, SOL), mode=DetectorMode.ANY, recovery_threshold=2))
    feed.warm(BTC, ETH, SOL)
    feed.candle(ETH, "100", "10")  # normal, but before the halt
    feed.candle(SOL, "100", "10")
    signal = feed.candle(BTC, "95", "31")
    assert signal is not None
    assert signal.kind is SignalKind.HALT
    assert "mode ANY" in signal.detail
    assert feed.candle(ETH, "100", "10") is None
    signal = feed.candle(SOL, "100", "10")
    assert signal is not None
    assert signal.kind is SignalKind.RECOVER


def test_both_conditions_are_strict_at_the_boundary() -> None:
    feed = Feed(detector((BTC,)))
    feed.warm(BTC, close="100", volume="10")
    assert feed.candle(BTC, "100", "1000") is None  # close == mean: not below
    assert latest(feed.detector, BTC).verdict is Verdict.NORMAL
    # Previous three: 100, 100, 100 closes; volumes 10, 10, 1000 → mean 340, 3×mean 1020.
    assert feed.candle(BTC, "99", "1020") is None  # volume == multiplier × mean: not above
    assert latest(feed.detector, BTC).verdict is Verdict.NORMAL


def test_exact_arithmetic_with_non_terminating_means() -> None:
    feed = Feed(detector((BTC,), multiplier=D(1)))
    for close, volume in (("100", "1"), ("100", "1"), ("101", "2")):
        feed.candle(BTC, close, volume)
    # mean close = 301/3 = 100.333…: a close 1e-29 below it is below it (a 28-digit
    # quotient, 100.3333333333333333333333333, would call it above).
    signal = feed.candle(BTC, "100.33333333333333333333333333333", "1.34")
    assert signal is not None
    assert signal.kind is SignalKind.HALT
    feed = Feed(detector((ETH,), multiplier=D(1)))
    for close, volume in (("100", "1"), ("100", "1"), ("101", "2")):
        feed.candle(ETH, close, volume)
    assert feed.candle(ETH, "100.33333333333333333333333333334", "1.34") is None


def test_warming_up_until_a_full_window_of_previous_candles() -> None:
    feed = Feed(detector((BTC,)))
    for _ in range(3):
        assert feed.candle(BTC, "1", "1000000") is None
        assert latest(feed.detector, BTC).verdict is Verdict.WARMING_UP
    assert feed.candle(BTC, "0.5", "3000001") is not None


def test_unclosed_duplicate_out_of_order_and_unmonitored_candles_are_ignored() -> None:
    det = detector((BTC,))
    feed = Feed(det)
    feed.warm(BTC)
    crash = Candle(BTC, 10 * MINUTE, D(1), D(1000), closed=False)
    assert det.on_candle(crash) is None
    assert latest(det, BTC).open_time_ns == 3 * MINUTE
    assert det.on_candle(Candle(BTC, 3 * MINUTE, D(1), D(1000), closed=True)) is None  # duplicate
    assert det.on_candle(Candle(BTC, 2 * MINUTE, D(1), D(1000), closed=True)) is None  # older
    assert det.on_candle(Candle(ETH, 9 * MINUTE, D(1), D(1000), closed=True)) is None
    assert det.verdict(ETH) is None
    assert not det.halted
    signal = det.on_candle(Candle(BTC, 4 * MINUTE, D(1), D(1000), closed=True))
    assert signal is not None
    assert signal.kind is SignalKind.HALT


def test_history_is_bounded_to_the_window() -> None:
    det = detector((BTC,))
    feed = Feed(det)
    for _ in range(50):
        feed.candle(BTC, "100", "10")
    history = det._history[BTC].candles
    assert len(history) == 3
    assert history.maxlen == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"symbols": ()}, "at least one symbol"),
        ({"average_window": 0}, "average_window"),
        ({"multiplier": D(0)}, "multiplier"),
        ({"recovery_threshold": 0}, "recovery_threshold"),
        ({"recovery_threshold": 3}, "recovery_threshold"),
    ],
)
def test_configuration_is_validated(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "symbols": (BTC, ETH),
        "average_window": 3,
        "multiplier": D(3),
        "recovery_threshold": 1,
    }
    arguments.update(kwargs)
    symbols = arguments.pop("symbols")
    with pytest.raises(ValueError, match=message):
        VolumeAnomalyDetector(symbols, **arguments)  # type: ignore[arg-type]
