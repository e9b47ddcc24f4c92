"""Append-only JSON-lines audit log of operator actions and trading-state changes.

One JSON object per line, written and fsynced before the RPC that caused it answers.
The file is only ever opened for appending; nothing in the service reads or rewrites
it. Records:

    {"time": "2024-05-01T12:00:00.123456789Z", "time_ns": ..., "event": "halt",
     "operator": "alice", "reason": "manual stop", "requested_state": "HALTED",
     "peer": "ipv4:127.0.0.1:53422", "changed": true,
     "state": "HALTED", "state_reason": "...", "source": "OPERATOR", "sequence": 7}

`event` is `halt`, `resume` (operator RPCs, every call, changed or not) or
`state_change` (any transition, whoever caused it: crash detector, drawdown, operator).
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from opensqt_risk.rules import StateUpdate


class AuditLog:
    """Opened at start (creating the directory), so a bad path fails the start, not a halt."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise OSError(f"cannot open the audit log {self.path} for appending: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def write(self, event: str, now_ns: int, fields: dict[str, Any], state: StateUpdate) -> None:
        """Append one record and fsync it. Raises OSError when the disk refuses."""
        record: dict[str, Any] = {"time": iso_time(now_ns), "time_ns": now_ns, "event": event}
        record.update(fields)
        record.update(state_fields(state))
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            if self._file is None:
                raise OSError(f"the audit log {self.path} is not open")
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())


def state_fields(state: StateUpdate) -> dict[str, Any]:
    return {
        "state": state.state.name,
        "state_reason": state.reason,
        "source": state.source.name,
        "since": iso_time(state.since_ns),
        "sequence": state.sequence,
    }


def iso_time(nanos: int) -> str:
    seconds, fraction = divmod(nanos, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{fraction:09d}Z"
