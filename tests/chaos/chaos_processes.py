"""Service processes for the chaos tests: started, SIGKILLed and restarted from asyncio.

Everything is asynchronous (no blocking `wait`), because in the connector scenario the venue
replica is served by the test process's own event loop: a test that blocked on a child's exit
while that child talks to the replica would stall both.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from opensqt_common.testing import wait_serving

STOP_TIMEOUT_S = 30.0


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test's environment without any OPENSQT_/OTEL_ setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENSQT_", "OTEL_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@dataclass
class Service:
    """One service started as `python -m <module> <argv>`, its output appended to `log`."""

    name: str
    module: str
    argv: Sequence[str]
    log: Path
    address: str
    health_service: str
    env: Mapping[str, str] = field(default_factory=dict)
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    kills: int = 0
    started_at: float = 0.0

    async def start(self, extra_env: Mapping[str, str] | None = None) -> None:
        assert not self.running, f"{self.name} is already running"
        with self.log.open("ab") as sink:
            sink.write(f"\n===== start {self.starts + 1} env={dict(extra_env or {})}\n".encode())
            sink.flush()
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                self.module,
                *self.argv,
                cwd=self.log.parent,
                env=clean_environment({**self.env, **(extra_env or {})}),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink,
                stderr=asyncio.subprocess.STDOUT,
            )
        self.starts += 1
        self.started_at = time.monotonic()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    async def wait_serving(self, timeout: float = 60.0) -> None:
        try:
            await wait_serving(self.address, service=self.health_service, timeout=timeout)
        except AssertionError:
            raise AssertionError(f"{self.name} not serving within {timeout} s:\n{self.tail()}") from None

    async def wait_exit(self, timeout: float) -> int:
        """The exit code once the process has ended on its own (AssertionError after `timeout`)."""
        assert self.process is not None, f"{self.name} was never started"
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.name} still running after {timeout} s:\n{self.tail()}") from None

    async def kill(self) -> int:
        """SIGKILL (kill -9) and wait for the process to be gone."""
        assert self.process is not None, f"{self.name} was never started"
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)
            self.kills += 1
        return await self.wait_exit(STOP_TIMEOUT_S)

    async def terminate(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM and wait for a graceful exit; SIGKILL and fail when it takes too long."""
        assert self.process is not None, f"{self.name} was never started"
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            await self.kill()
            raise AssertionError(f"{self.name} ignored SIGTERM for {timeout} s:\n{self.tail()}") from None

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
