"""Crash safety, proven with SIGKILL on SQLite and PostgreSQL.

- An intent is durable once `record_intent` returns: a writer killed at an arbitrary moment
  loses none of the intents it reported as recorded.
- A workflow interrupted mid-step is resumed by DBOS at the next launch and completes once,
  by its own engine only: another engine on the same database (another strategy, so another
  DBOS executor id) leaves it alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from opensqt_engine.durable import open_journal
from opensqt_engine.durable.testing import intent
from opensqt_engine.journal import Outcome

CHILD = Path(__file__).with_name("durable_child.py")
WAIT_S = 90


def _spawn(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _kill(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=WAIT_S)
    assert child.returncode == -signal.SIGKILL


async def test_every_intent_reported_recorded_survives_sigkill(database_url: str, tmp_path: Path) -> None:
    child = _spawn("intents", database_url, "crash", cwd=tmp_path)
    assert child.stdout is not None
    recorded = []
    for line in child.stdout:  # the kill lands while the child keeps appending
        recorded.append(line.strip())
        if len(recorded) == 200:
            break
    _kill(child)
    assert len(recorded) == 200, child.stderr.read() if child.stderr else ""
    journal = await open_journal(database_url)
    try:
        stored = {record.client_order_id for record in await journal.open_intents("crash")}
    finally:
        await journal.close()
    assert set(recorded) <= stored


async def test_a_workflow_killed_mid_step_completes_once_after_restart(
    database_url: str, tmp_path: Path
) -> None:
    first = _spawn("workflow", database_url, "crashwf", "first", cwd=tmp_path)
    assert first.stdout is not None
    line = first.stdout.readline().strip()
    assert line == "BLOCKED", first.stderr.read() if first.stderr else ""
    _kill(first)

    other = _spawn("bystander", database_url, "otherwf", "crashwf", cwd=tmp_path)
    out, err = other.communicate(timeout=WAIT_S)
    assert other.returncode == 0, err
    status = next(line for line in out.splitlines() if line.startswith("STATUS")).split()
    assert status[1:] == ["PENDING", "opensqt-engine-crashwf"]

    second = _spawn("workflow", database_url, "crashwf", "second", cwd=tmp_path)
    out, err = second.communicate(timeout=WAIT_S)
    assert second.returncode == 0, err
    result = next(line for line in out.splitlines() if line.startswith("RESULT")).split()
    # The interrupted lookup ran again exactly once, the outcome was recorded once.
    assert result[1:] == ["acked", "o-1", "1", "SUCCESS"]

    journal = await open_journal(database_url)
    try:
        cid = intent("crashwf", created_ms=0).client_order_id
        history = await journal.outcome_history(cid)
    finally:
        await journal.close()
    assert [(entry.outcome, entry.order_id, entry.applied) for entry in history] == [
        (Outcome.ACKED, "o-1", True)
    ]
