"""opensqt_common.healthcheck: the probe every compose health check and Dockerfile HEALTHCHECK runs."""

import datetime
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from opensqt_common import healthcheck

SERVICE = "opensqt.exchange.v1.ExchangeService"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class HealthServer:
    server: grpc.Server
    servicer: health.HealthServicer
    target: str


def _start(credentials: grpc.ServerCredentials | None = None) -> HealthServer:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    return HealthServer(server, servicer, f"127.0.0.1:{port}")


@pytest.fixture
def health_server() -> Iterator[HealthServer]:
    running = _start()
    yield running
    running.server.stop(grace=None)


def _free_target() -> str:
    """An address nothing listens on: a port bound by a server that is then stopped."""
    running = _start()
    running.server.stop(grace=None).wait()
    return running.target


def test_check_serving_and_not_serving(health_server) -> None:
    health_server.servicer.set(SERVICE, SERVING)
    assert healthcheck.check(health_server.target, service=SERVICE) == healthcheck.ProbeResult(
        True, "SERVING"
    )
    health_server.servicer.set(SERVICE, NOT_SERVING)
    assert healthcheck.check(health_server.target, service=SERVICE) == healthcheck.ProbeResult(
        False, "NOT_SERVING"
    )


def test_check_unknown_service_is_not_serving(health_server) -> None:
    result = healthcheck.check(health_server.target, service="no.such.Service")
    assert not result.serving
    assert result.detail.startswith("NOT_FOUND")


def test_check_unreachable_server_is_not_serving() -> None:
    result = healthcheck.check(_free_target(), timeout=1.0)
    assert not result.serving
    assert result.detail.startswith(("UNAVAILABLE", "DEADLINE_EXCEEDED"))


def test_wait_returns_once_the_service_becomes_serving(health_server) -> None:
    health_server.servicer.set(SERVICE, NOT_SERVING)
    outcome: list[healthcheck.ProbeResult] = []
    waiter = threading.Thread(
        target=lambda: outcome.append(healthcheck.wait_for_serving(health_server.target, service=SERVICE))
    )
    waiter.start()
    health_server.servicer.set(SERVICE, SERVING)
    waiter.join(timeout=30)
    assert outcome == [healthcheck.ProbeResult(True, "SERVING")]


def test_wait_gives_up_after_the_timeout(health_server) -> None:
    health_server.servicer.set(SERVICE, NOT_SERVING)
    result = healthcheck.wait_for_serving(health_server.target, service=SERVICE, timeout=0.5)
    assert not result.serving
    assert "DEADLINE_EXCEEDED" in result.detail
    assert "NOT_SERVING" in result.detail


def test_main_exit_codes(health_server, capsys) -> None:
    health_server.servicer.set(SERVICE, SERVING)
    assert healthcheck.main([health_server.target, "--service", SERVICE]) == 0
    assert capsys.readouterr().out.strip() == f"{health_server.target} {SERVICE}: SERVING"
    health_server.servicer.set(SERVICE, NOT_SERVING)
    assert healthcheck.main([health_server.target, "--service", SERVICE, "--quiet"]) == 1
    assert capsys.readouterr().out == ""
    assert healthcheck.main([health_server.target, "--timeout", "0"]) == 1
    assert healthcheck.main([health_server.target, "--tls-ca", "/nonexistent/ca.pem"]) == 1


def test_module_runs_as_a_script(health_server) -> None:
    """The exact form the containers use: python -m opensqt_common.healthcheck HOST:PORT."""
    health_server.servicer.set(SERVICE, SERVING)
    argv = [sys.executable, "-m", "opensqt_common.healthcheck", health_server.target, "--service", SERVICE]
    assert subprocess.run(argv, capture_output=True, check=False, timeout=60).returncode == 0
    health_server.servicer.set(SERVICE, NOT_SERVING)
    assert subprocess.run(argv, capture_output=True, check=False, timeout=60).returncode == 1


def _self_signed(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def test_tls_probe(tmp_path) -> None:
    cert, key = _self_signed("connector.example")
    running = _start(grpc.ssl_server_credentials([(key, cert)]))
    try:
        running.servicer.set(SERVICE, SERVING)
        ca = tmp_path / "ca.pem"
        ca.write_bytes(cert)
        base = [running.target, "--service", SERVICE, "--tls-ca", str(ca)]
        assert healthcheck.main([*base, "--server-name", "connector.example"]) == 0
        # The certificate names connector.example, not 127.0.0.1: verification fails without the override.
        assert healthcheck.main([*base, "--timeout", "1"]) == 1
        # Plaintext against a TLS server fails too.
        assert healthcheck.main([running.target, "--service", SERVICE, "--timeout", "1"]) == 1
    finally:
        running.server.stop(grace=None)
