"""The compose file's commands and environments are really accepted by the services.

No Docker here, so each OpenSQT service runs as a local process started from its
compose definition: the Dockerfile target's ENTRYPOINT (the console script) plus
the compose `command`, with the compose `environment`. Only what cannot exist
outside the compose network is rewritten: host names and ports become free
127.0.0.1 ports, the PostgreSQL URL becomes a temporary SQLite file, the OTLP
endpoint is dropped, and /run/secrets becomes a temporary directory holding the
compose secrets as the docs tell sim users to create them (empty files). The
process runs in a temporary working directory laid out like the image's /app
(configs/ as mounted, a writable data/). Each service must report SERVING on the
health entry its compose health check probes, the compose health-check command
itself must exit 0, its metrics port must answer, and SIGTERM must stop it
cleanly with exit code 0.
"""

import importlib
import json
import os
import pkgutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from deploy_support import (  # type: ignore[import-not-found]  # on sys.path under pytest only
    OPENSQT_SERVICES,
    docs_connector_override,
    env_mapping,
    host_path_of,
    load_compose,
    parse_dockerfile,
)
from pydantic_settings import BaseSettings

from opensqt_common import healthcheck
from opensqt_common.settings import ServiceSettings, secrets_dir
from opensqt_common.testing import free_port

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
SECRETS_DIR_IN_CONTAINER = "/run/secrets"


@pytest.fixture(scope="module")
def services() -> Any:
    return load_compose()["services"]


def _settings_classes(service: str) -> list[type[BaseSettings]]:
    """Every pydantic-settings class defined in the service's package."""
    package = importlib.import_module(f"opensqt_{service}")
    for module in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: list[type[BaseSettings]] = []
    pending = list(BaseSettings.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith(package.__name__ + ".") and cls not in found:
            found.append(cls)
    return found


def _settings_class(service: str) -> type[ServiceSettings]:
    """The service's settings class: the ServiceSettings subclass with its env prefix."""
    prefix = f"OPENSQT_{service.upper()}_"
    found = [
        cls
        for cls in _settings_classes(service)
        if issubclass(cls, ServiceSettings) and cls.model_config.get("env_prefix") == prefix
    ]
    assert len(found) == 1, f"expected one settings class with env prefix {prefix}, found {found}"
    return found[0]


def _flags(command: list[str]) -> list[str]:
    return [arg.split("=", 1)[0] for arg in command if arg.startswith("--")]


@pytest.mark.parametrize("name", sorted(OPENSQT_SERVICES))
def test_compose_flags_and_variables_are_settings_fields(name, services) -> None:
    """pydantic-settings ignores unknown OPENSQT_* variables: a typo would pass silently."""
    fields = set(_settings_class(name).model_fields)
    command = list(services[name]["command"])
    if name == "connector":
        command += docs_connector_override()["services"]["connector"]["command"]
    for flag in _flags(command):
        assert flag[2:].replace("-", "_") in fields, f"{name}: {flag} is not a settings field"
    prefix = f"OPENSQT_{name.upper()}_"
    for key in env_mapping(services[name].get("environment")):
        if key.startswith(prefix):
            assert key.removeprefix(prefix).lower() in fields, f"{name}: {key} is not a settings field"


def test_connector_reads_api_keys_from_the_compose_secret_files(services, tmp_path, monkeypatch) -> None:
    """Compose mounts each secret under /run/secrets/<target>; the connector must read those files."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    contents = {"api_key": "key-123\n", "api_secret": "secret-456\n", "api_passphrase": ""}
    for secret in services["connector"]["secrets"]:
        (secrets / secret["target"]).write_text(contents[secret["source"]])
    for key in list(os.environ):
        if key.startswith("OPENSQT_"):
            monkeypatch.delenv(key)
    for key, value in env_mapping(services["connector"]["environment"]).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("OPENSQT_SECRETS_DIR", str(secrets))
    holders = [cls for cls in _settings_classes("connector") if "api_key" in cls.model_fields]
    assert len(holders) == 1, f"expected one settings class with api_key, found {holders}"
    credentials: Any = holders[0](_secrets_dir=secrets_dir())
    assert credentials.api_key is not None, "api_key not read from its mounted secret file"
    assert credentials.api_key.get_secret_value() == "key-123"
    assert credentials.api_secret.get_secret_value() == "secret-456"
    assert credentials.api_passphrase is None or credentials.api_passphrase.get_secret_value() == ""
    assert "key-123" not in repr(credentials)
    assert "secret-456" not in repr(credentials)


@dataclass
class Running:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    grpc_target: str
    metrics_port: int

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


class Rewriter:
    """Maps compose addresses to local ones and records every rewrite it made."""

    def __init__(self) -> None:
        self.grpc = {name: free_port() for name in OPENSQT_SERVICES}
        self.metrics = {name: free_port() for name in OPENSQT_SERVICES}
        self.addresses: dict[str, str] = {}
        for name, (grpc_port, _, _) in OPENSQT_SERVICES.items():
            local = f"127.0.0.1:{self.grpc[name]}"
            for address in (f"0.0.0.0:{grpc_port}", f"{name}:{grpc_port}", f"127.0.0.1:{grpc_port}"):
                self.addresses[address] = local

    def argv(self, name: str, command: list[str]) -> list[str]:
        result = []
        for index, arg in enumerate(command):
            if index > 0 and command[index - 1] == "--metrics-port":
                assert arg == str(OPENSQT_SERVICES[name][1])
                arg = str(self.metrics[name])
            result.append(self.addresses.get(arg, arg))
        return result

    def env(self, name: str, environment: dict[str, str], tmp: Path) -> dict[str, str]:
        result = {}
        for key, value in environment.items():
            if key == "OTEL_EXPORTER_OTLP_ENDPOINT":
                continue
            if key == "OPENSQT_DATABASE_URL":
                assert value.startswith("postgresql://")
                value = f"sqlite:///{tmp / 'data' / 'opensqt.sqlite'}"
            elif key == "OPENSQT_SECRETS_DIR":
                assert value == SECRETS_DIR_IN_CONTAINER
                value = str(tmp / "secrets")
            result[key] = self.addresses.get(value, value)
        return result


def _check_rewritten(values: list[str]) -> None:
    for value in values:
        for host in (
            "0.0.0.0",
            "connector:",
            "risk:",
            "engine:",
            "postgres",
            "otel-collector",
            "/run/secrets",
        ):
            assert host not in value, f"{value!r} still points into the compose network"


def _workdir(tmp: Path, name: str, service: dict[str, Any]) -> Path:
    """A directory laid out like the container's /app: configs as mounted, writable data/, secrets."""
    workdir = tmp / name
    (workdir / "data").mkdir(parents=True)
    configs = host_path_of(service, "/app/configs")
    if configs is not None:
        (workdir / "configs").symlink_to(configs)
    (workdir / "secrets").mkdir()
    for secret in service.get("secrets", []):
        (
            workdir
            / "secrets"
            / (secret if isinstance(secret, str) else secret.get("target", secret["source"]))
        ).touch()
    return workdir


def _base_environment() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENSQT_", "OTEL_")) and key != "PYTHONPATH"
    }


def _start(name: str, service: dict[str, Any], rewriter: Rewriter, tmp: Path) -> Running:
    entrypoint = json.loads(parse_dockerfile().effective(name, "ENTRYPOINT") or "[]")
    script = BIN / entrypoint[0]
    argv = [str(script), *rewriter.argv(name, list(service["command"]))]
    workdir = _workdir(tmp, name, service)
    env = rewriter.env(name, env_mapping(service.get("environment")), workdir)
    _check_rewritten(argv + list(env.values()))
    log = tmp / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            argv,
            cwd=workdir,
            env=_base_environment() | env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return Running(name, process, log, f"127.0.0.1:{rewriter.grpc[name]}", rewriter.metrics[name])


def _wait_serving(running: Running, service: str) -> None:
    """Wait on gRPC health (Health/Watch) while the process is alive."""
    attempts = int(START_TIMEOUT_S)
    result = healthcheck.ProbeResult(False, "not probed")
    for _ in range(attempts):
        if running.process.poll() is not None:
            pytest.fail(f"{running.name} exited with {running.process.returncode}:\n{running.log_tail()}")
        result = healthcheck.wait_for_serving(running.grpc_target, service=service, timeout=1.0)
        if result.serving:
            return
    pytest.fail(f"{running.name} not SERVING ({result.detail}):\n{running.log_tail()}")


BIND_RACE_ATTEMPTS = 3


def _start_serving(
    name: str, service: dict[str, Any], rewriter: Rewriter, tmp: Path, health: str, started: list[Running]
) -> Running:
    """Start `name` and wait for SERVING; when another process took the free port between
    `free_port()` and the bind, pick new ports and start again (nothing else is retried)."""
    for _ in range(BIND_RACE_ATTEMPTS):
        running = _start(name, service, rewriter, tmp)
        started.append(running)
        if running.process.poll() is None or "bind" not in running.log_tail().lower():
            try:
                _wait_serving(running, health)
                return running
            except pytest.fail.Exception:
                if running.process.poll() is None or "failed to bind" not in running.log_tail().lower():
                    raise
        started.remove(running)
        rewriter.grpc[name] = free_port()
        rewriter.metrics[name] = free_port()
    pytest.fail(f"{name}: no free port could be bound in {BIND_RACE_ATTEMPTS} attempts")


def _stop(running: Running) -> int:
    if running.process.poll() is None:
        running.process.send_signal(signal.SIGTERM)
    try:
        return running.process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait(timeout=STOP_TIMEOUT_S)
        pytest.fail(
            f"{running.name} did not stop within {STOP_TIMEOUT_S} s of SIGTERM:\n{running.log_tail()}"
        )


@pytest.fixture
def started() -> Iterator[list[Running]]:
    processes: list[Running] = []
    yield processes
    for running in reversed(processes):
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(timeout=STOP_TIMEOUT_S)


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_services_start_from_their_compose_definition(services, started, tmp_path) -> None:
    rewriter = Rewriter()
    for name in ("connector", "risk", "engine"):
        service = services[name]
        health_service = OPENSQT_SERVICES[name][2]
        running = _start_serving(name, service, rewriter, tmp_path, health_service, started)

        # The compose health check itself, as the container would run it.
        test = rewriter.argv(name, service["healthcheck"]["test"][1:])
        assert test[:3] == ["python", "-m", "opensqt_common.healthcheck"]
        probe = subprocess.run(
            [sys.executable, *test[1:]], capture_output=True, text=True, timeout=60, check=False
        )
        assert probe.returncode == 0, (
            f"{name} health check: {probe.stdout}{probe.stderr}\n{running.log_tail()}"
        )

        # The port Prometheus scrapes answers with metrics.
        url = f"http://127.0.0.1:{running.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
            assert b"# TYPE" in response.read()

    for running in reversed(started):
        code = _stop(running)
        assert code == 0, f"{running.name} exited with {code} after SIGTERM:\n{running.log_tail()}"
