"""`opensqt-engine` as a process: bad flags and bad configs exit non-zero with a message that
names what is wrong; a start that cannot succeed exits 1 with the reason."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from opensqt_connector.testing import running_connector

ENGINE = str(Path(sys.executable).parent / "opensqt-engine")


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ENGINE, *argv], capture_output=True, text=True, timeout=60, check=False, cwd=cwd)


def test_help_lists_the_interface(tmp_path: Path) -> None:
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for flag in ("--listen", "--connector", "--risk", "--config", "--audit-log", "--metrics-port"):
        assert flag in result.stdout


def test_a_bad_config_value_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text("symbol: BTC/USDT:USDT\nprice_interval: -50\nbuy_window: 5\n")
    result = run("--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "price_interval: must be > 0 (got -50)" in result.stderr
    assert str(config) in result.stderr


def test_an_unsupported_mode_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text("mode: neutral\n")
    result = run("--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "mode: mode 'neutral' is not supported yet; only 'long' grids run today" in result.stderr


def test_a_bad_flag_exits_2(tmp_path: Path) -> None:
    result = run("--listen", "nowhere", cwd=tmp_path)
    assert result.returncode == 2
    assert "--listen" in result.stderr
    assert "host:port" in result.stderr


async def test_a_symbol_the_connector_does_not_serve_exits_1(tmp_path: Path) -> None:
    config = tmp_path / "engine.yaml"
    config.write_text("symbol: DOGE/USDT:USDT\n")
    async with running_connector() as connector:
        process = await asyncio.create_subprocess_exec(
            ENGINE,
            "--listen",
            "127.0.0.1:0",
            "--connector",
            connector.address,
            "--risk",
            "127.0.0.1:1",
            "--config",
            str(config),
            "--journal",
            "memory",
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert "symbol: the connector does not serve DOGE/USDT:USDT" in stderr.decode()
    assert (tmp_path / "data" / "engine-audit.jsonl").exists()  # the default audit path, under ./data
