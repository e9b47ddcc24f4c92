"""scripts/run_local.py: start order gated on health, reverse stop order, clear failures."""

import importlib.util
import io
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parents[2]
FAKE = Path(__file__).with_name("fake_service.py")
WAIT_S = 60.0


def _load_run_local() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_local", REPO / "scripts" / "run_local.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


run_local = _load_run_local()


@pytest.fixture
def reserved_ports() -> Iterator[list[int]]:
    """Three free ports, held with SO_REUSEPORT so that only the fakes' gRPC servers
    (which also set SO_REUSEPORT) can bind them while the test runs."""
    sockets = []
    for _ in range(3):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    yield [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()


def fake_spec(name: str, port: int, record: Path, *extra: str) -> Any:
    service = f"fake.{name}.Service"
    argv = (sys.executable, str(FAKE), "--name", name, "--port", str(port), "--record", str(record))
    return run_local.ServiceSpec(
        name=name,
        argv=(*argv, "--health-service", service, *extra),
        address=f"127.0.0.1:{port}",
        health_service=service,
    )


class Running:
    """A Supervisor running in a background thread, with its output captured."""

    def __init__(self, specs: list[Any], cwd: Path) -> None:
        self.output = io.StringIO()
        self.supervisor = run_local.Supervisor(
            specs, out=self.output, health_timeout_s=WAIT_S, stop_timeout_s=WAIT_S, cwd=cwd, env=os.environ
        )
        self.returncode: int | None = None
        self._thread = threading.Thread(target=self._run, name="supervisor")
        self._thread.start()

    def _run(self) -> None:
        self.returncode = self.supervisor.run()

    def finish(self) -> int:
        self._thread.join(timeout=WAIT_S * 2)
        assert not self._thread.is_alive(), "supervisor did not finish"
        assert self.returncode is not None
        return self.returncode


def events(record: Path) -> list[str]:
    return record.read_text().splitlines() if record.exists() else []


def test_starts_each_after_the_previous_is_healthy_and_stops_engine_first(
    tmp_path: Path, reserved_ports: list[int]
) -> None:
    record = tmp_path / "events"
    connector, risk, engine = reserved_ports
    running = Running(
        [
            fake_spec("connector", connector, record, "--serve-delay", "0.3"),
            fake_spec("risk", risk, record, "--serve-delay", "0.3"),
            fake_spec("engine", engine, record),
        ],
        tmp_path,
    )
    try:
        assert running.supervisor.ready.wait(WAIT_S), running.output.getvalue()
        assert events(record) == [
            "start connector",
            "serving connector",
            "start risk",
            "serving risk",
            "start engine",
            "serving engine",
        ]
    finally:
        running.supervisor.request_stop()

    assert running.finish() == 0, running.output.getvalue()
    assert events(record)[-3:] == ["stop engine", "stop risk", "stop connector"]
    output = running.output.getvalue()
    assert "connector | connector serving" in output  # service output is streamed with its name
    assert "engine    | engine stopped" in output


def test_service_exiting_before_healthy_fails_and_stops_the_rest(
    tmp_path: Path, reserved_ports: list[int]
) -> None:
    record = tmp_path / "events"
    connector, risk, engine = reserved_ports
    running = Running(
        [
            fake_spec("connector", connector, record),
            fake_spec("risk", risk, record, "--exit-code", "3"),
            fake_spec("engine", engine, record),
        ],
        tmp_path,
    )

    assert running.finish() == 1
    output = running.output.getvalue()
    assert "ERROR: risk exited with code 3 before it became healthy" in output
    assert "risk      | risk failing on purpose" in output
    assert events(record) == ["start connector", "serving connector", "stop connector"]
    assert not running.supervisor.ready.is_set()


def test_service_dying_later_fails_and_stops_the_others_in_order(
    tmp_path: Path, reserved_ports: list[int]
) -> None:
    record = tmp_path / "events"
    connector, risk, engine = reserved_ports
    running = Running(
        [
            fake_spec("connector", connector, record),
            fake_spec("risk", risk, record),
            fake_spec("engine", engine, record),
        ],
        tmp_path,
    )
    try:
        assert running.supervisor.ready.wait(WAIT_S), running.output.getvalue()
        os.kill(running.supervisor.pids["risk"], signal.SIGKILL)
    except BaseException:
        running.supervisor.request_stop()
        raise

    assert running.finish() == 1
    assert "ERROR: risk exited unexpectedly with signal SIGKILL" in running.output.getvalue()
    assert events(record)[-2:] == ["stop engine", "stop connector"]


@pytest.fixture
def health_server() -> Iterator[tuple[health.HealthServicer, grpc.Channel]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield servicer, channel
    channel.close()
    server.stop(grace=None)


def test_probe_waits_for_the_service_itself(
    health_server: tuple[health.HealthServicer, grpc.Channel],
) -> None:
    servicer, channel = health_server
    service = "opensqt.risk.v1.RiskService"
    # grpcio reports the overall "" entry SERVING from the start: that must not count.
    assert run_local.probe_health(channel, "", 5.0) is True
    assert run_local.probe_health(channel, service, 5.0) is False

    servicer.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
    assert run_local.probe_health(channel, service, 5.0) is False

    servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    assert run_local.probe_health(channel, service, 5.0) is True


def test_probe_rejects_a_server_without_health() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with (
            grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
            pytest.raises(run_local.HealthCheckUnsupportedError),
        ):
            run_local.probe_health(channel, "", 5.0)
    finally:
        server.stop(grace=None)
