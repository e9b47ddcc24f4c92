"""Append-only JSON-lines audit log of everything the engine did about orders.

One JSON object per line, written and flushed as it happens (the only buffer is the
current line, so memory is bounded and a crash loses at most a line the OS had not
yet taken). The file is only ever opened for appending; nothing in the engine reads
it. Every record has `time` (ISO 8601, UTC, nanoseconds), `time_ns` (Unix epoch
nanoseconds, for measuring) and `event`:

    intent          an order the grid decided to place (before it leaves the engine)
    risk_decision   risk's answer to an opening intent (approved / veto reason)
    venue_result    the connector's answer to a place or cancel (order status or error)
    cancel          a cancel the grid decided to send, with its reason
    order_update    a status change of one of our orders reported by the venue
    fill            a trade of one of our orders (applied to the slots)
    trading_state   the trading state risk reported (or HALTED while risk is unreachable)
    engine_state    STARTING / RUNNING / PAUSED / STOPPING, with the reason
    reconcile       a reconciliation with the venue and what it repaired
    alert           something an operator must look at (large drift, stale state)

Order records carry the `client_order_id`. Decimals are written as exact strings.
Secrets never reach this file: only order, fill and state fields are written.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "value"):  # enums
        return value.value
    return str(value)


def iso_time(nanos: int) -> str:
    seconds, fraction = divmod(nanos, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{fraction:09d}Z"


class AuditLog:
    """Opened at start (creating the directory), so a bad path fails the start, not an order."""

    def __init__(self, path: Path, clock_ns: Any = time.time_ns) -> None:
        self.path = path
        self._clock_ns = clock_ns
        self._file: IO[str] | None = None

    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise OSError(f"cannot open the audit log {self.path} for appending: {exc}") from exc

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            self._file.close()
            self._file = None

    @property
    def is_open(self) -> bool:
        return self._file is not None

    def write(self, event: str, **fields: Any) -> None:
        """Append one record and flush it. A closed log drops the record (after shutdown)."""
        handle = self._file
        if handle is None:
            return
        now_ns = self._clock_ns()
        record: dict[str, Any] = {"time": iso_time(now_ns), "time_ns": now_ns, "event": event}
        record.update(fields)
        handle.write(json.dumps(record, default=_default, ensure_ascii=False, separators=(",", ":")) + "\n")
        handle.flush()
