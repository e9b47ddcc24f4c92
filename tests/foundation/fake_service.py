"""A stand-in for an OpenSQT service in the run_local tests: a gRPC server with health only.

It appends "start NAME", "serving NAME" and "stop NAME" to the record file as it
goes, so the tests can check the order in which the supervisor drives services.
"""

import argparse
import signal
import sys
import time
from concurrent import futures
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


def record(path: Path, event: str) -> None:
    with path.open("a") as file:
        file.write(event + "\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", type=Path, required=True)
    parser.add_argument("--health-service", required=True)
    # Delay before reporting SERVING: lets the test see that the supervisor waits.
    parser.add_argument("--serve-delay", type=float, default=0.0)
    parser.add_argument("--exit-code", type=int, help="exit at once with this code")
    args = parser.parse_args()

    print(f"{args.name} booting", flush=True)
    if args.exit_code is not None:
        print(f"{args.name} failing on purpose", flush=True)
        return int(args.exit_code)

    # Block SIGTERM before gRPC starts its threads, then wait for it synchronously.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    if server.add_insecure_port(f"127.0.0.1:{args.port}") != args.port:
        print(f"{args.name} could not bind port {args.port}", flush=True)
        return 2
    server.start()
    record(args.record, f"start {args.name}")
    time.sleep(args.serve_delay)
    record(args.record, f"serving {args.name}")
    servicer.set(args.health_service, health_pb2.HealthCheckResponse.SERVING)
    print(f"{args.name} serving", flush=True)

    signal.sigwait({signal.SIGTERM})
    record(args.record, f"stop {args.name}")
    server.stop(grace=None)
    print(f"{args.name} stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
