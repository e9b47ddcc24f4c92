"""Run the whole OpenSQT system locally on the built-in `sim` venue.

    .venv/bin/python scripts/run_local.py        (what `make run` does)

The connector, risk and engine services each run as their own process (their
console scripts from this virtualenv), and their output is streamed here with
the service name in front of every line. A service is started only once the
one before it reports its main gRPC service SERVING on gRPC health
(`grpc.health.v1`; the overall "" entry is not enough, since grpcio's health
servicer reports it SERVING from the moment it exists). Ctrl-C (or
SIGTERM/SIGHUP) stops them in reverse order with SIGTERM: the engine first, so
it can cancel its orders while risk and the connector are still up, then risk,
then the connector. A second Ctrl-C kills whatever is still running.

If any service exits on its own, the others are stopped and this script exits
non-zero, naming the service and its exit code.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO, cast

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO_ROOT = Path(__file__).resolve().parent.parent

CONNECTOR_ADDRESS = "127.0.0.1:50051"
RISK_ADDRESS = "127.0.0.1:50052"
ENGINE_ADDRESS = "127.0.0.1:50053"

_PROBE_TIMEOUT_S = 1.0
_PROBE_INTERVAL_S = 0.1
_STOP_POLL_S = 0.1
# Reconnect quickly while a server is still starting (gRPC's default backoff
# starts at 1 s and grows, which would delay noticing a server that is up).
_PROBE_CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
)


@dataclass(frozen=True)
class ServiceSpec:
    """One service process: how to start it and where its gRPC health answers."""

    name: str
    argv: tuple[str, ...]
    address: str
    # Fully qualified gRPC service whose health entry must read SERVING.
    health_service: str


class HealthCheckUnsupportedError(RuntimeError):
    """The server answers gRPC but does not serve grpc.health.v1."""


def probe_health(channel: grpc.Channel, service: str, timeout_s: float) -> bool:
    """True when the server reports `service` SERVING.

    An unreachable server, a service it does not know (yet) or any status other
    than SERVING gives False; a server without the health service raises.
    """
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        response = stub.Check(
            health_pb2.HealthCheckRequest(service=service), timeout=timeout_s, wait_for_ready=True
        )
    except grpc.RpcError as exc:
        # Errors raised by a call are also grpc.Call objects, which carry the code.
        if cast(grpc.Call, exc).code() == grpc.StatusCode.UNIMPLEMENTED:
            raise HealthCheckUnsupportedError("the server does not implement grpc.health.v1") from exc
        return False
    return bool(response.status == health_pb2.HealthCheckResponse.SERVING)


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"code {returncode}"


class _Output:
    """Serialises lines from several threads onto one stream."""

    def __init__(self, stream: TextIO, width: int) -> None:
        self._stream = stream
        self._width = width
        self._lock = threading.Lock()

    def line(self, source: str, text: str) -> None:
        with self._lock:
            self._stream.write(f"{source:<{self._width}} | {text.rstrip(chr(10))}\n")
            self._stream.flush()


class Supervisor:
    """Starts services in order, watches them, and stops them in reverse order."""

    def __init__(
        self,
        specs: Sequence[ServiceSpec],
        *,
        out: TextIO,
        health_timeout_s: float = 60.0,
        stop_timeout_s: float = 30.0,
        cwd: Path = REPO_ROOT,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if not specs:
            raise ValueError("no services to run")
        self._specs = tuple(specs)
        self._out = _Output(out, max(len("run_local"), *(len(s.name) for s in self._specs)))
        self._health_timeout_s = health_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._cwd = cwd
        self._env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
        # Stop requests are a plain counter: request_stop() runs inside signal
        # handlers, where taking a lock (as Event.set does) could deadlock.
        self._stop_requests = 0
        # Set by the log pumps when a service process ends.
        self._wake = threading.Event()
        self._started: list[tuple[ServiceSpec, subprocess.Popen[str], threading.Thread]] = []
        # Set once every service is up and healthy.
        self.ready = threading.Event()

    @property
    def pids(self) -> dict[str, int]:
        return {spec.name: proc.pid for spec, proc, _ in self._started}

    def request_stop(self) -> None:
        """Ask for an orderly stop; a second request kills what is still running.

        Safe to call from a signal handler or from another thread.
        """
        self._stop_requests += 1

    @property
    def _stopping(self) -> bool:
        return self._stop_requests > 0

    @property
    def _forced(self) -> bool:
        return self._stop_requests > 1

    def say(self, text: str) -> None:
        self._out.line("run_local", text)

    def run(self) -> int:
        """Start everything, wait for a stop request or a failure, stop everything.

        Returns 0 when stopped on request with every service exiting cleanly,
        1 when a service failed to start, exited on its own or stopped badly.
        """
        failed = False
        try:
            for spec in self._specs:
                if self._stopping:
                    self.say("stop requested while starting")
                    break
                if not self._start(spec):
                    failed = True
                    break
            else:
                self.ready.set()
                self.say(
                    "all services are up; press Ctrl-C to stop (engine first, then risk, then connector)"
                )
                failed = not self._supervise()
        finally:
            if not self._stop_all():
                failed = True
        return 1 if failed else 0

    def _start(self, spec: ServiceSpec) -> bool:
        self.say(f"starting {spec.name}: {' '.join(spec.argv)}")
        try:
            proc = subprocess.Popen(  # noqa: S603 - argv comes from our own service table
                spec.argv,
                cwd=self._cwd,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
                # Own session: a Ctrl-C in the terminal reaches only this script,
                # which then stops the services in the right order.
                start_new_session=True,
            )
        except OSError as exc:
            self.say(f"ERROR: cannot start {spec.name} ({spec.argv[0]}): {exc}")
            return False
        pump = threading.Thread(
            target=self._pump, args=(spec.name, proc), name=f"log-{spec.name}", daemon=True
        )
        pump.start()
        self._started.append((spec, proc, pump))
        return self._wait_healthy(spec, proc)

    def _pump(self, name: str, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for text in proc.stdout:
            self._out.line(name, text)
        proc.wait()
        self._wake.set()

    def _wait_healthy(self, spec: ServiceSpec, proc: subprocess.Popen[str]) -> bool:
        deadline = _Deadline(self._health_timeout_s)
        with grpc.insecure_channel(spec.address, options=_PROBE_CHANNEL_OPTIONS) as channel:
            while True:
                returncode = proc.poll()
                if returncode is not None:
                    self.say(
                        f"ERROR: {spec.name} exited with {describe_exit(returncode)} before it became "
                        f"healthy on {spec.address}; see its output above"
                    )
                    return False
                try:
                    if probe_health(
                        channel, spec.health_service, min(_PROBE_TIMEOUT_S, deadline.remaining())
                    ):
                        self.say(f"{spec.name} is SERVING on {spec.address}")
                        return True
                except HealthCheckUnsupportedError as exc:
                    self.say(f"ERROR: {spec.name} on {spec.address}: {exc}")
                    return False
                if deadline.expired():
                    self.say(
                        f"ERROR: {spec.name} did not report {spec.health_service} SERVING on {spec.address} "
                        f"within {self._health_timeout_s:g} s"
                    )
                    return False
                if self._stopping:
                    return True  # stopping on request while starting is not a failure
                time.sleep(_PROBE_INTERVAL_S)

    def _supervise(self) -> bool:
        """Block until a stop request (True) or a service exiting on its own (False)."""
        while True:
            self._wake.wait(timeout=_STOP_POLL_S)
            self._wake.clear()
            for spec, proc, _ in self._started:
                returncode = proc.poll()
                if returncode is not None:
                    self.say(
                        f"ERROR: {spec.name} exited unexpectedly with {describe_exit(returncode)}; "
                        "stopping the other services"
                    )
                    return False
            if self._stopping:
                self.say("stop requested")
                return True

    def _stop_all(self) -> bool:
        """SIGTERM each running service, last started first, waiting for each to exit."""
        clean = True
        for spec, proc, pump in reversed(self._started):
            if proc.poll() is None:
                self.say(f"stopping {spec.name} (SIGTERM)")
                proc.send_signal(signal.SIGTERM)
                if not self._wait_exit(proc):
                    self.say(f"ERROR: {spec.name} did not exit after SIGTERM; killing it")
                    proc.kill()
                    proc.wait()
                    clean = False
                returncode = proc.returncode
                if returncode not in (0, -signal.SIGTERM):
                    self.say(f"ERROR: {spec.name} stopped with {describe_exit(returncode)}")
                    clean = False
                else:
                    self.say(f"{spec.name} stopped")
            pump.join(timeout=5.0)
        return clean

    def _wait_exit(self, proc: subprocess.Popen[str]) -> bool:
        deadline = _Deadline(self._stop_timeout_s)
        while not deadline.expired() and not self._forced:
            try:
                proc.wait(timeout=min(_STOP_POLL_S, deadline.remaining()))
                return True
            except subprocess.TimeoutExpired:
                continue
        return proc.poll() is not None


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def expired(self) -> bool:
        return self.remaining() <= 0.0


def _console_script(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise SystemExit(f"run_local: console script {path} not found; run `make setup` first")
    return str(path)


RISK_CONFIG = "configs/risk.yaml"


def sim_services(engine_config: str) -> list[ServiceSpec]:
    """The three services wired together on loopback, connector on the sim venue."""
    return [
        ServiceSpec(
            name="connector",
            argv=(_console_script("opensqt-connector"), "--exchange", "sim", "--listen", CONNECTOR_ADDRESS),
            address=CONNECTOR_ADDRESS,
            health_service="opensqt.exchange.v1.ExchangeService",
        ),
        ServiceSpec(
            name="risk",
            argv=(
                _console_script("opensqt-risk"),
                "--listen",
                RISK_ADDRESS,
                "--connector",
                CONNECTOR_ADDRESS,
                "--config",
                RISK_CONFIG,
            ),
            address=RISK_ADDRESS,
            health_service="opensqt.risk.v1.RiskService",
        ),
        ServiceSpec(
            name="engine",
            argv=(
                _console_script("opensqt-engine"),
                "--listen",
                ENGINE_ADDRESS,
                "--connector",
                CONNECTOR_ADDRESS,
                "--risk",
                RISK_ADDRESS,
                "--config",
                engine_config,
            ),
            address=ENGINE_ADDRESS,
            health_service="opensqt.engine.v1.EngineService",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine-config", default="configs/engine.yaml", help="engine config file")
    parser.add_argument("--health-timeout", type=float, default=60.0, help="seconds to wait for each service")
    parser.add_argument("--stop-timeout", type=float, default=30.0, help="seconds each service gets to exit")
    args = parser.parse_args(argv)

    supervisor = Supervisor(
        sim_services(args.engine_config),
        out=sys.stdout,
        health_timeout_s=args.health_timeout,
        stop_timeout_s=args.stop_timeout,
    )

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        supervisor.request_stop()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    return supervisor.run()


if __name__ == "__main__":
    raise SystemExit(main())
