"""The `opensqt` operator CLI against a real engine and risk service (sync gRPC in a thread)."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path

import pytest
from engine_support import FIVE_BUYS, engine_state, running_stack  # type: ignore[import-not-found]  # on sys.path under pytest
from rich.console import Console

from opensqt.common.v1 import common_pb2
from opensqt.risk.v1 import risk_service_pb2 as risk_pb
from opensqt_common.testing import eventually, free_port
from opensqt_engine import cli
from opensqt_engine.runtime import EngineState


async def opensqt(*argv: str) -> tuple[int, str]:
    """Run the CLI off the event loop (it blocks) and return its exit code and output."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None)
    code = await asyncio.to_thread(cli.main, list(argv), console)
    return code, buffer.getvalue()


async def test_status_slots_pause_resume_and_cancel_all(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        await stack.wait_open_buys(FIVE_BUYS)
        engine = ("--engine", stack.app.address)
        code, out = await opensqt("status", *engine)
        assert code == 0
        for text in ("engine t1 on BTC/USDT:USDT", "running", "active (connected)", "60000"):
            assert text in out
        assert "0/0/5" in out  # free/pending/locked

        code, out = await opensqt("slots", *engine)
        assert code == 0
        assert "5 slots" in out
        for price in FIVE_BUYS:
            assert price in out
        assert out.count("locked") == 5

        code, out = await opensqt("pause", *engine, "--reason", "maintenance")
        assert code == 0
        assert "paused" in out
        assert engine_state(stack.engine) is EngineState.PAUSED
        assert any(r.get("reason") == "maintenance" for r in stack.audit("pause"))

        code, out = await opensqt("resume", *engine)
        assert code == 0
        assert engine_state(stack.engine) is EngineState.RUNNING

        code, out = await opensqt("cancel-all", *engine, "--reason", "done")
        assert code == 0
        assert "cancelled 5 orders" in out
        assert await stack.own_orders() == []


async def test_halt_and_resume_risk(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        await stack.wait_open_buys(FIVE_BUYS)
        assert stack.risk is not None
        risk = ("--risk", stack.risk.address)
        code, out = await opensqt("halt", *risk, "--reason", "news", "--operator", "alice")
        assert code == 0
        assert "halted" in out
        assert "news" in out
        assert "operator" in out
        await stack.wait_orders(lambda orders: not orders, what="buys cancelled by the halt")
        code, out = await opensqt("resume-risk", *risk, "--reason", "calm")
        assert code == 0
        assert "active" in out
        await stack.wait_open_buys(FIVE_BUYS)
        code, out = await opensqt("halt", *risk, "--reason", "careful", "--reduce-only")
        assert code == 0
        assert "reduce_only" in out
        state = await stack.risk.stub.WatchTradingState(risk_pb.WatchTradingStateRequest()).read()
        assert state.update.state == common_pb2.TRADING_STATE_REDUCE_ONLY


async def test_events_prints_the_engines_events(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        await stack.wait_open_buys(FIVE_BUYS)
        follower = asyncio.ensure_future(opensqt("events", "--engine", stack.app.address, "--count", "2"))
        await eventually(lambda: stack.app.events.listening, message="the CLI subscribed")
        await stack.engine.pause("a")
        await stack.engine.resume("b")
        code, out = await asyncio.wait_for(follower, 10)
        assert code == 0
        lines = out.strip().splitlines()
        assert len(lines) == 2
        assert all("engine_state" in line for line in lines)


async def test_an_unreachable_service_is_a_clear_error() -> None:
    port = free_port()
    code, out = await opensqt("status", "--engine", f"127.0.0.1:{port}", "--timeout", "1")
    assert code == 1
    assert f"cannot reach the engine at 127.0.0.1:{port}; is it running?" in out.replace("\n", "")
    code, out = await opensqt("halt", "--risk", f"127.0.0.1:{port}", "--reason", "x", "--timeout", "1")
    assert code == 1
    assert "cannot reach the risk service" in out


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["halt"])  # --reason is required
    assert raised.value.code == 2
    assert cli.main(["status", "--timeout", "0"]) == 2


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "opensqt"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0
    for command in ("status", "slots", "pause", "resume", "cancel-all", "halt", "resume-risk"):
        assert command in result.stdout
