"""gRPC health probe for containers and scripts: exit 0 when the target is SERVING.

    python -m opensqt_common.healthcheck 127.0.0.1:50051
    python -m opensqt_common.healthcheck connector:50051 --service opensqt.exchange.v1.ExchangeService
    python -m opensqt_common.healthcheck 127.0.0.1:50051 --tls-ca /run/secrets/ca.pem --server-name localhost
    python -m opensqt_common.healthcheck 127.0.0.1:50051 --wait --timeout 30

Without `--wait` it makes one `grpc.health.v1.Health/Check` call with a deadline:
SERVING exits 0; NOT_SERVING, an unknown service, an unreachable server or the
deadline passing exit 1. With `--wait` it opens a `Health/Watch` stream that waits
for the server to come up and returns as soon as the status is SERVING, or exits 1
when the timeout passes first; no polling.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

EXIT_SERVING = 0
EXIT_NOT_SERVING = 1
DEFAULT_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one probe: SERVING or not, and a one-line reason."""

    serving: bool
    detail: str


def _open_channel(target: str, tls_ca: bytes | None, server_name: str | None) -> grpc.Channel:
    if tls_ca is None:
        return grpc.insecure_channel(target)
    options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(tls_ca), options=options)


def _status_name(status: int) -> str:
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(status))


def check(
    target: str,
    *,
    service: str = "",
    timeout: float = DEFAULT_TIMEOUT_S,
    tls_ca: bytes | None = None,
    server_name: str | None = None,
) -> ProbeResult:
    """One Health/Check call; SERVING within `timeout` seconds or not."""
    with _open_channel(target, tls_ca, server_name) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as exc:
            return ProbeResult(False, _rpc_error_detail(exc))
    serving = response.status == health_pb2.HealthCheckResponse.SERVING
    return ProbeResult(serving, _status_name(response.status))


def wait_for_serving(
    target: str,
    *,
    service: str = "",
    timeout: float = 30.0,
    tls_ca: bytes | None = None,
    server_name: str | None = None,
) -> ProbeResult:
    """Wait (event-driven, over Health/Watch) until `target` reports SERVING or `timeout` passes."""
    last = "no status received"
    with _open_channel(target, tls_ca, server_name) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        stream = stub.Watch(
            health_pb2.HealthCheckRequest(service=service), timeout=timeout, wait_for_ready=True
        )
        try:
            for response in stream:
                last = _status_name(response.status)
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return ProbeResult(True, last)
        except grpc.RpcError as exc:
            return ProbeResult(False, f"{_rpc_error_detail(exc)} (last status: {last})")
        finally:
            stream.cancel()
    return ProbeResult(False, f"stream ended (last status: {last})")


def _rpc_error_detail(exc: grpc.RpcError) -> str:
    # Errors raised by client stubs always carry a status code and details.
    details = exc.details()
    return f"{exc.code().name}: {details}" if details else exc.code().name


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m opensqt_common.healthcheck",
        description="Exit 0 when a gRPC server reports SERVING on grpc.health.v1, 1 otherwise.",
    )
    parser.add_argument("target", help="HOST:PORT of the gRPC server")
    parser.add_argument("--service", default="", help="service name to check (default: the whole server)")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds before giving up (default 3, or 30 with --wait)"
    )
    parser.add_argument("--wait", action="store_true", help="wait until SERVING instead of checking once")
    parser.add_argument("--tls-ca", type=Path, default=None, help="PEM root certificate; enables TLS")
    parser.add_argument("--server-name", default=None, help="TLS server name to verify (with --tls-ca)")
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.timeout is not None and args.timeout <= 0:
        print("--timeout must be > 0", file=sys.stderr)
        return EXIT_NOT_SERVING
    try:
        tls_ca = args.tls_ca.read_bytes() if args.tls_ca is not None else None
    except OSError as exc:
        print(f"cannot read --tls-ca: {exc}", file=sys.stderr)
        return EXIT_NOT_SERVING
    if args.wait:
        result = wait_for_serving(
            args.target,
            service=args.service,
            timeout=args.timeout or 30.0,
            tls_ca=tls_ca,
            server_name=args.server_name,
        )
    else:
        result = check(
            args.target,
            service=args.service,
            timeout=args.timeout or DEFAULT_TIMEOUT_S,
            tls_ca=tls_ca,
            server_name=args.server_name,
        )
    if not args.quiet:
        print(f"{args.target} {args.service or '<server>'}: {result.detail}")
    return EXIT_SERVING if result.serving else EXIT_NOT_SERVING


if __name__ == "__main__":
    sys.exit(main())
