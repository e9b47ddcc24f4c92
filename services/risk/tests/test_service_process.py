"""`python -m opensqt_risk` as a process: serves without a connector, exposes its metrics,
and exits 0 within 5 s of SIGTERM even with client streams open."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import urllib.request
from pathlib import Path

import grpc

from opensqt.risk.v1 import risk_service_pb2 as pb
from opensqt.risk.v1 import risk_service_pb2_grpc as pb_grpc
from opensqt_common.testing import free_port, wait_serving
from opensqt_connector.testing import StreamCollector
from opensqt_risk.testing import ReviewSession, intent


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        body: bytes = response.read()
    return body.decode()


async def test_process_serves_without_a_connector_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    risk_address = f"127.0.0.1:{free_port()}"
    connector_address = f"127.0.0.1:{free_port()}"  # nothing listens there
    metrics_port = free_port()
    env = {
        **os.environ,
        "OPENSQT_RISK_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        "OPENSQT_METRICS_HOST": "127.0.0.1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "opensqt_risk",
        "--listen",
        risk_address,
        "--connector",
        connector_address,
        "--metrics-port",
        str(metrics_port),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_serving(risk_address, service="opensqt.risk.v1.RiskService")
        async with grpc.aio.insecure_channel(risk_address) as channel:
            stub = pb_grpc.RiskServiceStub(channel)
            watcher = StreamCollector(stub.WatchTradingState(pb.WatchTradingStateRequest()))
            await watcher.wait_for(lambda items: len(items) == 1)
            session = ReviewSession(stub.ReviewOrders())
            decision = await session.review(intent("p1", "BTC/USDT:USDT", "buy", "0.001", "60000"))
            assert not decision.approved  # no connector: nothing is known, openings fail closed
            text = await asyncio.to_thread(_scrape, metrics_port)
            assert "opensqt_risk_trading_state" in text
            assert "opensqt_risk_decisions_total" in text
            assert "opensqt_risk_review_latency_milliseconds_bucket" in text

            process.send_signal(signal.SIGTERM)
            # The contract: a clean exit within 5 s of SIGTERM, open streams or not.
            code = await asyncio.wait_for(process.wait(), timeout=5)
            assert code == 0
            error = await watcher.wait_ended()
            assert error is not None
            assert error.code() is grpc.StatusCode.UNAVAILABLE
        _, stderr = await process.communicate()
        assert b"server_stopped" in stderr
        assert (tmp_path / "audit.jsonl").exists()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_unwritable_audit_log_refuses_to_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "opensqt_risk",
        "--listen",
        f"127.0.0.1:{free_port()}",
        "--audit-log",
        str(blocker / "audit.jsonl"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    assert process.returncode == 1
    assert b"cannot open the audit log" in stderr


async def test_bad_flags_and_config_exit_with_usage_errors(tmp_path: Path) -> None:
    bad_config = tmp_path / "risk.yaml"
    bad_config.write_text("limits:\n  price_band: 2\n")
    for args, expected in (
        (["--connector", "nowhere"], b"host:port"),
        (["--config", str(bad_config)], b"price_band"),
    ):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "opensqt_risk",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await process.communicate()
        assert process.returncode == 2, stderr
        assert expected in stderr
