"""The `opensqt-connector` command: flags, errors, serving as a process, graceful SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import exchange_service_pb2_grpc
from opensqt_common.testing import free_port, health_status, wait_serving
from opensqt_connector.__main__ import EXIT_USAGE, main
from opensqt_connector.settings import ConnectorSettings, VenueCredentials
from opensqt_connector.testing import limit_order

EXCHANGE_SERVICE = "opensqt.exchange.v1.ExchangeService"
SECRET_KEY = "sk-test-NEVER-LOG-4f1c9e"
SECRET = "secret-test-NEVER-LOG-77ab"


async def _read_until_listening(stderr: asyncio.StreamReader, lines: list[str]) -> int:
    while True:
        raw = await stderr.readline()
        if not raw:
            raise AssertionError("connector exited before listening:\n" + "".join(lines))
        line = raw.decode()
        lines.append(line)
        if line.startswith("{") and json.loads(line).get("event") == "listening":
            return int(json.loads(line)["port"])


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback URL built here
        body: bytes = response.read()
    return body.decode()


async def _drain(stderr: asyncio.StreamReader, lines: list[str]) -> None:
    async for raw in stderr:
        lines.append(raw.decode())


async def test_connector_process_serves_and_exits_cleanly_on_sigterm() -> None:
    env = {
        **os.environ,
        "OPENSQT_CONNECTOR_API_KEY": SECRET_KEY,
        "OPENSQT_CONNECTOR_API_SECRET": SECRET,
        "OPENSQT_CONNECTOR_LOG_LEVEL": "DEBUG",
        "OPENSQT_METRICS_HOST": "127.0.0.1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "opensqt_connector",
        "--exchange",
        "sim",
        "--listen",
        "127.0.0.1:0",
        "--log-format",
        "json",
        "--metrics-port",
        "0",
        "--order-rate",
        "0",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert process.stderr is not None
    lines: list[str] = []
    try:
        port = await asyncio.wait_for(_read_until_listening(process.stderr, lines), timeout=30)
        draining = asyncio.ensure_future(_drain(process.stderr, lines))
        target = f"127.0.0.1:{port}"
        await wait_serving(target, service=EXCHANGE_SERVICE)
        assert await health_status(target, "opensqt.sim.v1.SimControlService") == (
            health_pb2.HealthCheckResponse.SERVING
        )
        async with grpc.aio.insecure_channel(target) as channel:
            stub = exchange_service_pb2_grpc.ExchangeServiceStub(channel)
            placed = await stub.PlaceOrder(limit_order("cli-1", "buy", "59000", "0.001"))
            assert placed.order.status == common_pb2.ORDER_STATUS_NEW
        metrics_port = next(json.loads(line)["port"] for line in lines if '"metrics_listening"' in line)
        scraped = await asyncio.to_thread(_scrape, f"http://127.0.0.1:{metrics_port}/metrics")
        assert "opensqt_connector_orders_total{" in scraped
        assert "opensqt_connector_order_entry_latency_milliseconds_bucket{" in scraped

        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=5) == 0
        await draining
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = "".join(lines)
    events = [json.loads(line)["event"] for line in lines if line.startswith("{")]
    assert "shutdown_requested" in events
    assert "server_stopped" in events
    assert SECRET_KEY not in log
    assert SECRET not in log


def test_console_script_rejects_a_bad_flag_with_exit_2() -> None:
    script = Path(sys.executable).with_name("opensqt-connector")
    result = subprocess.run(
        [str(script), "--exchange", "kraken"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == EXIT_USAGE
    assert "--exchange" in result.stderr
    assert "'sim'" in result.stderr


@pytest.mark.parametrize(
    ("flags", "mentions"),
    [
        (["--exchange", "kraken"], "--exchange"),
        (["--market", "futures"], "--market"),
        (["--order-rate", "-1"], "--order-rate"),
        (["--listen", "localhost"], "--listen"),
        (["--symbols", "BTCUSDT"], "--symbols"),
        (["--market", "spot", "--symbols", "BTC/USDT:USDT"], "spot symbol"),
        (["--tls-cert", __file__], "--tls-key"),
        (["--tls-cert", "no-such-cert.pem", "--tls-key", "no-such-key.pem"], "--tls-cert"),
        (["--auth-token-file", "no-such-token"], "--auth-token-file"),
        (["--sim-data", "no-such-prices.csv"], "--sim-data"),
        (["--sim-faults", "latency_ms=soon"], "latency_ms"),
        (["--sim-speed", "0"], "--sim-speed"),
    ],
)
def test_bad_settings_exit_2_with_a_clear_message(
    flags: list[str], mentions: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(flags) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "opensqt-connector: invalid settings" in err
    assert mentions in err


def test_unknown_flags_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--no-such-flag", "1"])
    assert exited.value.code == EXIT_USAGE
    assert "--no-such-flag" in capsys.readouterr().err


def test_help_lists_the_flags_but_no_key_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--exchange", "--market", "--symbols", "--listen", "--sandbox", "--api-url", "--ws-url"):
        assert flag in text
    for flag in ("--auth-token-file", "--tls-cert", "--tls-key", "--sim-data", "--sim-speed", "--sim-seed"):
        assert flag in text
    for flag in ("--sim-faults", "--order-rate", "--order-burst", "--metrics-port"):
        assert flag in text
    assert "--api-key" not in text
    assert "--api-secret" not in text


def test_env_vars_set_every_flag_and_keys_come_only_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENSQT_CONNECTOR_EXCHANGE", "okx")
    monkeypatch.setenv("OPENSQT_CONNECTOR_SYMBOLS", "BTC/USDT:USDT,ETH/USDT:USDT")
    monkeypatch.setenv("OPENSQT_CONNECTOR_ORDER_RATE", "0")
    monkeypatch.setenv("OPENSQT_CONNECTOR_SANDBOX", "true")
    monkeypatch.setenv("OPENSQT_CONNECTOR_API_KEY", SECRET_KEY)
    monkeypatch.setenv("OPENSQT_CONNECTOR_API_PASSPHRASE", "phrase")
    from opensqt_common.settings import load_settings

    settings = load_settings(ConnectorSettings, ["--order-burst", "5"])
    assert settings.exchange == "okx"
    assert settings.symbol_list == ("BTC/USDT:USDT", "ETH/USDT:USDT")
    assert (settings.order_rate, settings.order_burst, settings.sandbox) == (0, 5, True)
    credentials = VenueCredentials.load()
    assert credentials.api_key is not None
    assert credentials.api_key.get_secret_value() == SECRET_KEY
    assert SECRET_KEY not in repr(credentials)
    assert not credentials.complete  # no secret
    assert load_settings(ConnectorSettings, ["--market", "spot", "--symbols", "BTC/USDT"]).symbol_list == (
        "BTC/USDT",
    )
    defaults = load_settings(ConnectorSettings, [])
    assert defaults.listen == "127.0.0.1:50051"
    assert defaults.metrics_port is None


def test_keys_can_come_from_secret_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "OPENSQT_CONNECTOR_API_KEY").write_text(SECRET_KEY)
    (tmp_path / "OPENSQT_CONNECTOR_API_SECRET").write_text(SECRET)
    monkeypatch.setenv("OPENSQT_SECRETS_DIR", str(tmp_path))
    monkeypatch.delenv("OPENSQT_CONNECTOR_API_KEY", raising=False)
    monkeypatch.delenv("OPENSQT_CONNECTOR_API_SECRET", raising=False)
    credentials = VenueCredentials.load()
    assert credentials.complete
    assert credentials.api_secret is not None
    assert credentials.api_secret.get_secret_value() == SECRET
    assert SECRET not in str(credentials)


def test_a_port_in_use_fails_the_start_with_exit_1() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "opensqt_connector",
                "--listen",
                f"127.0.0.1:{port}",
                "--log-format",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr


def test_an_unreachable_venue_fails_the_start_with_exit_1_and_no_secret_in_sight() -> None:
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    env = {
        **os.environ,
        "OPENSQT_CONNECTOR_API_KEY": SECRET_KEY,
        "OPENSQT_CONNECTOR_API_SECRET": SECRET,
        "OPENSQT_CONNECTOR_API_PASSPHRASE": "passphrase-NEVER-LOG",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "opensqt_connector",
            "--exchange",
            "okx",
            "--listen",
            "127.0.0.1:0",
            "--api-url",
            f"http://{dead}",
            "--ws-url",
            f"ws://{dead}",
            "--log-level",
            "DEBUG",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert result.returncode == 1
    assert "okx: venue did not start" in result.stderr
    for secret in (SECRET_KEY, SECRET, "passphrase-NEVER-LOG"):
        assert secret not in result.stderr
        assert secret not in result.stdout
