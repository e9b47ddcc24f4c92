"""`opensqt-connector` as a child process: started with flags and environment, its
stderr (JSON log lines) kept for the whole of its life, stopped with SIGTERM.

The console script next to the running interpreter is used, so the suite runs the
command users run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CONSOLE_SCRIPT = Path(sys.executable).with_name("opensqt-connector")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class ConnectorExited(AssertionError):
    """The connector exited before it was listening."""

    def __init__(self, returncode: int, log: str) -> None:
        super().__init__(f"opensqt-connector exited with {returncode} before listening:\n{log[-4000:]}")
        self.returncode = returncode
        self.log = log


class ConnectorProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.lines: list[str] = []
        self.port = 0
        self._listening = asyncio.get_running_loop().create_future()
        assert process.stderr is not None
        self._reader = asyncio.ensure_future(self._read(process.stderr))

    @classmethod
    async def spawn(cls, argv: Sequence[str], env: Mapping[str, str]) -> ConnectorProcess:
        process = await asyncio.create_subprocess_exec(
            str(CONSOLE_SCRIPT),
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={**_base_env(), **env},
        )
        return cls(process)

    @classmethod
    async def start(cls, argv: Sequence[str], env: Mapping[str, str]) -> ConnectorProcess:
        """Spawn and wait for its `listening` log line; raises ConnectorExited."""
        connector = await cls.spawn(argv, env)
        try:
            await connector.listening()
        except BaseException:
            await connector.kill()
            raise
        return connector

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return "".join(self.lines)

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    def events(self, name: str) -> list[dict[str, Any]]:
        """The parsed JSON log lines with `"event": name`."""
        found = []
        for line in self.lines:
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if record.get("event") == name:
                        found.append(record)
        return found

    async def listening(self, timeout: float = START_TIMEOUT_S) -> int:
        done, _ = await asyncio.wait(
            {self._listening, self._reader}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if self._listening in done:
            self.port = self._listening.result()
            return self.port
        if self._reader in done:
            returncode = await self._process.wait()
            raise ConnectorExited(returncode, self.log)
        raise AssertionError(f"opensqt-connector not listening within {timeout} s:\n{self.log[-4000:]}")

    async def wait_exit(self, timeout: float = START_TIMEOUT_S) -> int:
        """Wait for the process to exit on its own (and its stderr to be read)."""
        returncode = await asyncio.wait_for(self._process.wait(), timeout)
        await asyncio.wait_for(self._reader, timeout)
        return returncode

    async def stop(self) -> int:
        """SIGTERM, then wait for a graceful exit; returns the exit code."""
        if self._process.returncode is None:
            self._process.send_signal(signal.SIGTERM)
        try:
            return await self.wait_exit(STOP_TIMEOUT_S)
        except TimeoutError:
            await self.kill()
            raise

    async def kill(self) -> None:
        if self._process.returncode is None:
            self._process.kill()
        await self._process.wait()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(self._reader, STOP_TIMEOUT_S)

    async def _read(self, stderr: asyncio.StreamReader) -> None:
        async for raw in stderr:
            line = raw.decode(errors="replace")
            self.lines.append(line)
            if not self._listening.done() and line.startswith("{"):
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if record.get("event") == "listening":
                        self._listening.set_result(int(record["port"]))


def _base_env() -> dict[str, str]:
    """The test process's environment without any connector setting it may carry."""
    return {k: v for k, v in os.environ.items() if not k.startswith("OPENSQT_")}
