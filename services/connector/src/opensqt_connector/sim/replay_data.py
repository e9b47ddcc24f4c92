"""Read a trade or kline file (CSV or Parquet) into a price path for the sim replay.

Columns are found by name, case-insensitively:
- time: timestamp, timestamp_ms, time, time_ms, ts, t, open_time, open_time_ms, date, datetime.
  Numbers are epoch time whose unit follows from the magnitude (< 1e11 seconds, < 1e14
  milliseconds, < 1e17 microseconds, else nanoseconds); text may also be ISO 8601 (UTC
  when no offset is given); Parquet timestamp columns are read as such.
- price: price, p, px, last, last_price for trades; otherwise close, c, close_price (klines).
- volume (optional, 0 when absent): volume, vol, v, qty, quantity, amount, size, q, base_volume.
Rows must be in time order (equal times allowed); prices > 0; volumes >= 0.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from opensqt_common.decimals import ZERO, DecimalFormatError, parse_decimal

TIME_COLUMNS = (
    "timestamp",
    "timestamp_ms",
    "time",
    "time_ms",
    "ts",
    "t",
    "open_time",
    "open_time_ms",
    "date",
    "datetime",
)
TRADE_PRICE_COLUMNS = ("price", "p", "px", "last", "last_price")
KLINE_PRICE_COLUMNS = ("close", "c", "close_price")
VOLUME_COLUMNS = ("volume", "vol", "v", "qty", "quantity", "amount", "size", "q", "base_volume")
PARQUET_SUFFIXES = (".parquet", ".pq")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

Cell = str | int | float | Decimal | dt.datetime | None


class ReplayFormatError(ValueError):
    """A replay file cannot be read as a price path."""


@dataclass(frozen=True, slots=True)
class ReplayRow:
    time_ms: int
    price: Decimal
    volume: Decimal


def load_replay(path: Path) -> list[ReplayRow]:
    """All rows of a CSV or Parquet trade/kline file (see the module docstring)."""
    if not path.is_file():
        raise ReplayFormatError(f"{path}: no such file")
    parquet = path.suffix.lower() in PARQUET_SUFFIXES
    columns, rows = _read_parquet(path) if parquet else _read_csv(path)
    time_col = _pick(path, columns, TIME_COLUMNS, "time")
    price_col = _pick(path, columns, TRADE_PRICE_COLUMNS + KLINE_PRICE_COLUMNS, "price or close")
    volume_col = _find(columns, VOLUME_COLUMNS)
    result: list[ReplayRow] = []
    previous = None
    for number, row in enumerate(rows, start=1 if parquet else 2):
        where = f"{path}: row {number}"
        time_ms = _time_ms(row.get(time_col), f"{where}: column {time_col!r}")
        price = _decimal(row.get(price_col), f"{where}: column {price_col!r}")
        if price <= 0:
            raise ReplayFormatError(f"{where}: column {price_col!r}: price must be > 0 (got {price})")
        volume = ZERO
        if volume_col is not None:
            volume = _decimal(row.get(volume_col), f"{where}: column {volume_col!r}")
            if volume < 0:
                raise ReplayFormatError(f"{where}: column {volume_col!r}: volume must be >= 0 (got {volume})")
        if previous is not None and time_ms < previous:
            raise ReplayFormatError(f"{where}: time {time_ms} is before the previous row's {previous}")
        previous = time_ms
        result.append(ReplayRow(time_ms, price, volume))
    if not result:
        raise ReplayFormatError(f"{path}: no data rows")
    return result


def _read_csv(path: Path) -> tuple[list[str], Iterable[Mapping[str, Cell]]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        rows: list[Mapping[str, Cell]] = list(reader)
    if not columns:
        raise ReplayFormatError(f"{path}: empty file (a header row is required)")
    return columns, rows


def _read_parquet(path: Path) -> tuple[list[str], Iterable[Mapping[str, Cell]]]:
    import pyarrow.parquet as pq  # heavy: imported only for Parquet replays

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise ReplayFormatError(
            f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc})"
        ) from None
    rows: list[Mapping[str, Cell]] = table.to_pylist()
    return list(table.column_names), rows


def _find(columns: Sequence[str], candidates: Sequence[str]) -> str | None:
    by_name = {column.strip().lower(): column for column in columns}
    for candidate in candidates:
        if candidate in by_name:
            return by_name[candidate]
    return None


def _pick(path: Path, columns: Sequence[str], candidates: Sequence[str], what: str) -> str:
    found = _find(columns, candidates)
    if found is None:
        raise ReplayFormatError(
            f"{path}: no {what} column (looked for {', '.join(candidates)}; found {', '.join(columns)})"
        )
    return found


def _decimal(value: Cell, where: str) -> Decimal:
    try:
        if isinstance(value, Decimal):
            number = value
        elif isinstance(value, bool):
            raise ReplayFormatError(f"{where}: {value!r} is not a number")
        elif isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, float):
            number = Decimal(repr(value))  # the shortest decimal that reads back as this float
        elif isinstance(value, str):
            number = parse_decimal(value.strip())
        else:
            raise ReplayFormatError(f"{where}: {value!r} is not a number")
    except (DecimalFormatError, InvalidOperation):
        raise ReplayFormatError(f"{where}: {value!r} is not a finite decimal number") from None
    if not number.is_finite():
        raise ReplayFormatError(f"{where}: {value!r} is not finite")
    return number


def _time_ms(value: Cell, where: str) -> int:
    if isinstance(value, dt.datetime):
        return _datetime_ms(value)
    if isinstance(value, str) and value.strip() and not _looks_numeric(value.strip()):
        try:
            return _datetime_ms(dt.datetime.fromisoformat(value.strip()))
        except ValueError:
            raise ReplayFormatError(f"{where}: {value!r} is neither epoch time nor ISO 8601") from None
    if isinstance(value, str) and len(value.strip()) <= 32 and _looks_numeric(value.strip()):
        number = Decimal(value.strip())  # nanosecond stamps exceed parse_decimal's range
    else:
        number = _decimal(value, where)
    if not number.is_finite() or number < 0:
        raise ReplayFormatError(f"{where}: time must be a finite number >= 0 (got {value!r})")
    magnitude = abs(number)
    if magnitude < Decimal("1e11"):
        scaled = number * 1000
    elif magnitude < Decimal("1e14"):
        scaled = number
    elif magnitude < Decimal("1e17"):
        scaled = number / 1000
    else:
        scaled = number / 1_000_000
    return int(scaled)


def _looks_numeric(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def _datetime_ms(value: dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return (value - _EPOCH) // dt.timedelta(milliseconds=1)
