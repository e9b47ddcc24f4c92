"""Replay files, the seeded random walk and the feed driver of the sim venue."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opensqt_connector.sim.markets import default_market
from opensqt_connector.sim.price_feed import (
    PriceFeedDriver,
    Print,
    RandomWalk,
    RandomWalkConfig,
    Replay,
    ReplayConfig,
)
from opensqt_connector.sim.replay_data import ReplayFormatError, ReplayRow, load_replay

BTC = default_market("BTC/USDT:USDT")
MS = 1_700_000_000_000


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------ files


def test_csv_trades_with_millisecond_timestamps(tmp_path: Path) -> None:
    path = write(tmp_path, f"timestamp,price,volume\n{MS},60000.5,0.25\n{MS + 250},60001,1\n")
    assert load_replay(path) == [
        ReplayRow(MS, D("60000.5"), D("0.25")),
        ReplayRow(MS + 250, D("60001"), D("1")),
    ]


def test_csv_klines_use_close_and_volume_with_second_timestamps(tmp_path: Path) -> None:
    text = "Open_Time,Open,High,Low,Close,Volume\n1700000000,1,3,0.5,2,10\n1700000060,2,2,2,2.5,0\n"
    rows = load_replay(write(tmp_path, text))
    assert rows == [ReplayRow(MS, D(2), D(10)), ReplayRow(MS + 60_000, D("2.5"), D(0))]


def test_iso_times_and_a_missing_volume_column(tmp_path: Path) -> None:
    text = "time,price\n2023-11-14T22:13:20Z,5\n2023-11-14T22:13:20.5,6\n"
    assert load_replay(write(tmp_path, text)) == [ReplayRow(MS, D(5), D(0)), ReplayRow(MS + 500, D(6), D(0))]


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [("1700000000123000", MS + 123), ("1700000000123000000", MS + 123), ("1700000000.25", MS + 250)],
)
def test_timestamp_units_follow_from_the_magnitude(tmp_path: Path, stamp: str, expected: int) -> None:
    rows = load_replay(write(tmp_path, f"ts,p,qty\n{stamp},1,1\n"))
    assert rows[0].time_ms == expected


def test_parquet_with_float_prices_and_a_timestamp_column(tmp_path: Path) -> None:
    path = tmp_path / "trades.parquet"
    table = pa.table(
        {
            "timestamp": pa.array(
                [
                    dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC),
                    dt.datetime(2023, 11, 14, 22, 13, 21, tzinfo=dt.UTC),
                ],
                type=pa.timestamp("ms", tz="UTC"),
            ),
            "price": pa.array([60000.1, 60000.3], type=pa.float64()),
            "qty": pa.array([1, 2], type=pa.int64()),
        }
    )
    pq.write_table(table, path)
    assert load_replay(path) == [ReplayRow(MS, D("60000.1"), D(1)), ReplayRow(MS + 1000, D("60000.3"), D(2))]


def test_parquet_with_integer_milliseconds_and_close(tmp_path: Path) -> None:
    path = tmp_path / "klines.pq"
    pq.write_table(pa.table({"open_time": [MS], "close": ["3000.25"], "volume": [7.5]}), path)
    assert load_replay(path) == [ReplayRow(MS, D("3000.25"), D("7.5"))]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("when,price\n1,2\n", r"no time column \(looked for timestamp.*found when, price\)"),
        ("timestamp,amount\n1,2\n", "no price or close column"),
        (f"timestamp,price\n{MS},abc\n", r"row 2: column 'price': 'abc' is not a finite decimal number"),
        (f"timestamp,price\n{MS},1\n{MS},NaN\n", r"row 3: column 'price'.*not a finite"),
        (f"timestamp,price\n{MS},-1\n", r"row 2: column 'price': price must be > 0"),
        (f"timestamp,price,volume\n{MS},1,-2\n", r"volume must be >= 0"),
        (f"timestamp,price\n{MS},1\n{MS - 1},1\n", r"row 3: time 1699999999999 is before the previous row's"),
        ("timestamp,price\nyesterday,1\n", "neither epoch time nor ISO 8601"),
        ("timestamp,price\n", "no data rows"),
        ("", "header row is required"),
    ],
)
def test_bad_files_are_refused_precisely(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ReplayFormatError, match=message):
        load_replay(write(tmp_path, text))


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ReplayFormatError, match="no such file"):
        load_replay(tmp_path / "absent.csv")
    with pytest.raises(ReplayFormatError, match="not a readable Parquet file"):
        load_replay(write(tmp_path, "not parquet", "bad.parquet"))


# ---------------------------------------------------------------- sources


def test_replay_scales_waits_by_speed_and_snaps_prices_to_the_tick(tmp_path: Path) -> None:
    rows = [ReplayRow(MS, D("60000.04"), D(1)), ReplayRow(MS + 1000, D("60000.06"), D(2))]
    replay = Replay(rows, BTC, ReplayConfig(tmp_path, speed=D(4)))
    assert replay.next_print() == Print(0.0, D("60000.0"), D(1))
    assert replay.next_print() == Print(0.25, D("60000.1"), D(2))
    assert replay.next_print() is None


def test_a_looping_replay_starts_over(tmp_path: Path) -> None:
    rows = [ReplayRow(MS, D(1), D(1)), ReplayRow(MS + 10, D(2), D(1))]
    replay = Replay(rows, BTC, ReplayConfig(tmp_path, loop=True))
    prices = [p.price for p in (replay.next_print() for _ in range(5)) if p is not None]
    assert prices == [D(1), D(2), D(1), D(2), D(1)]


def test_replay_speed_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="speed"):
        ReplayConfig(tmp_path, speed=D(0))


def _walk(seed: int) -> list[Print]:
    walk = RandomWalk(BTC, D(60000), RandomWalkConfig(volatility=D("0.001"), step_ms=100), seed=seed)
    return [walk.next_print() for _ in range(300)]


def test_the_random_walk_is_seeded_on_the_tick_grid_and_moves() -> None:
    path = _walk(7)
    assert path == _walk(7)
    assert path != _walk(8)
    assert all(p.price > 0 and p.price % BTC.tick_size == 0 for p in path)
    assert all(p.volume >= 0 and p.volume % BTC.step_size == 0 for p in path)
    assert len({p.price for p in path}) > 100
    assert {p.wait_s for p in path} == {0.1}


def test_a_zero_volatility_walk_stays_put() -> None:
    walk = RandomWalk(BTC, D(60000), RandomWalkConfig(volatility=D(0)), seed=1)
    assert {walk.next_print().price for _ in range(20)} == {D(60000)}


@pytest.mark.parametrize(
    "kwargs", [{"volatility": D(-1)}, {"volatility": D(1)}, {"step_ms": 0}, {"volume_notional": D(-1)}]
)
def test_random_walk_config_is_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RandomWalkConfig(**kwargs)  # type: ignore[arg-type]


# ----------------------------------------------------------------- driver


async def test_the_driver_plays_a_replay_through_the_injected_sleeper(tmp_path: Path) -> None:
    rows = [ReplayRow(MS + i * 500, D(100 + i), D(1)) for i in range(3)]
    waits: list[float] = []
    played: list[tuple[str, D]] = []

    async def sleeper(seconds: float) -> None:
        waits.append(seconds)

    async def on_print(symbol: str, item: Print) -> None:
        played.append((symbol, item.price))

    driver = PriceFeedDriver({"X": Replay(rows, BTC, ReplayConfig(tmp_path, speed=D(2)))}, on_print, sleeper)
    driver.start()
    assert driver.running()
    await asyncio.wait_for(driver.wait_ended(), timeout=5)
    assert not driver.running()
    assert waits == [0.0, 0.25, 0.25]
    assert played == [("X", D(100)), ("X", D(101)), ("X", D(102))]


async def test_the_driver_stops_resumes_and_can_be_stepped_by_hand() -> None:
    plays: list[D] = []
    wanted = asyncio.Event()
    hold = asyncio.Event()

    async def sleeper(seconds: float) -> None:
        if len(plays) >= 3:
            wanted.set()
            await hold.wait()  # park here until stopped

    async def on_print(symbol: str, item: Print) -> None:
        plays.append(item.price)

    walk = RandomWalk(BTC, D(60000), RandomWalkConfig(), seed=3)
    reference = RandomWalk(BTC, D(60000), RandomWalkConfig(), seed=3)
    driver = PriceFeedDriver({"BTC": walk}, on_print, sleeper)
    driver.start()
    await asyncio.wait_for(wanted.wait(), timeout=5)
    await driver.stop()
    assert not driver.running()
    assert len(plays) == 3
    stepped = await driver.step("BTC")
    assert stepped is not None
    # The print that was waiting when the feed stopped is not lost: the path continues.
    assert plays == [reference.next_print().price for _ in range(4)]
    driver.start()
    await asyncio.wait_for(wanted.wait(), timeout=5)
    await driver.stop()
    assert len(plays) == 4  # the resumed task parked again before its next print


async def test_a_failing_callback_does_not_stop_the_feed(tmp_path: Path) -> None:
    rows = [ReplayRow(MS, D(1), D(1)), ReplayRow(MS, D(2), D(1))]
    played: list[D] = []

    async def sleeper(seconds: float) -> None:
        return None

    async def on_print(symbol: str, item: Print) -> None:
        played.append(item.price)
        if item.price == 1:
            raise RuntimeError("boom")

    driver = PriceFeedDriver({"X": Replay(rows, BTC, ReplayConfig(tmp_path))}, on_print, sleeper)
    driver.start()
    await asyncio.wait_for(driver.wait_ended(), timeout=5)
    assert played == [D(1), D(2)]
