"""ReviewOrders over a live bidi stream: decisions/s pipelined and per-decision round trip.

Run: .venv/bin/python bench/bench_risk.py [--pipelined 20000] [--ping-pong 5000] [--markdown FILE]

Starts a sim connector and a risk service as two processes (as `make run` does; the risk
service with production telemetry set-up: spans recorded, metrics on), then, from this
process over loopback gRPC, on one open ReviewOrders stream:
- pipelined:  N intents streamed from a request iterator as fast as flow control allows
              while the decisions are read (decisions/s = N / time to the last decision);
- ping-pong:  one intent at a time, timing write → decision (p50 / p99 round trip);
- ping-pong with W3C trace context on every intent (a child span per review);
- veto ping-pong: intents refused by the per-order quantity limit (a veto with its detail
              and applied limit is built and sent).
Approved intents use generous limits so every one runs the whole pipeline of checks.
The server-side time per decision (intent received → decision ready) is read from the
service's own histogram, opensqt_risk_review_latency_milliseconds; the server's CPU time
per decision (all its threads, gRPC's included) from /proc over each run.
The client, the risk service and the echo server share this machine's cores: the
pipelined rate is bounded by their CPU per decision together, and by whatever else runs
(the load average is reported).
Targets: >= 10,000 decisions/s pipelined; p50 < 0.3 ms ping-pong round trip.
"""

from __future__ import annotations

from opensqt_common.grpc_transport import prefer_low_latency_transport

prefer_low_latency_transport()  # as the services do, before anything loads grpc

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from machine import describe_machine

from opensqt.common.v1 import common_pb2
from opensqt.risk.v1 import risk_service_pb2 as pb
from opensqt.risk.v1 import risk_service_pb2_grpc as pb_grpc
from opensqt.sim.v1 import sim_service_pb2, sim_service_pb2_grpc
from opensqt_common.testing import eventually, free_port, wait_serving
from opensqt_risk.testing import intent

if TYPE_CHECKING:
    from opensqt.risk.v1.risk_service_pb2_grpc import RiskServiceAsyncStub

SYMBOL = "BTC/USDT:USDT"
TARGET_RATE = 10_000
TARGET_P50_MS = 0.3
CONFIG = """
limits:
  max_order_quantity: 1
  max_position: 1000000
  max_order_notional: 100000000
  max_open_orders: 100000000
  price_band: 0.05
  max_order_rate: 1000000000
  stale_after_seconds: 86400
symbols:
  BTC/USDT:USDT: {}
crash_detector:
  enabled: false
"""
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@dataclass
class Result:
    name: str
    count: int
    seconds: float
    latencies_ms: list[float]
    approved: int
    # User + system CPU time of the server process (all its threads) per decision, in µs.
    server_cpu_us: float | None = None

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def row(self) -> str:
        if self.latencies_ms:
            ordered = sorted(self.latencies_ms)
            p50 = statistics.median(ordered)
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            latency = f"{p50:.3f} | {p99:.3f} | {statistics.fmean(ordered):.3f}"
        else:
            latency = "– | – | –"
        cpu = "–" if self.server_cpu_us is None else f"{self.server_cpu_us:.0f}"
        return f"| {self.name} | {self.count:,} | {self.rate:,.0f} | {latency} | {self.approved:,} | {cpu} |"


class Intents:
    """Pre-built requests with fresh client order ids (building them is not measured)."""

    def __init__(self) -> None:
        self._next = 0

    def batch(
        self, count: int, *, quantity: str = "0.001", traced: bool = False
    ) -> list[pb.ReviewOrdersRequest]:
        requests = []
        context = {"traceparent": TRACEPARENT} if traced else None
        for _ in range(count):
            self._next += 1
            message = intent(f"b{self._next}", SYMBOL, "buy", quantity, "60000", trace_context=context)
            requests.append(pb.ReviewOrdersRequest(intent=message))
        return requests


async def pipelined(stub: RiskServiceAsyncStub, requests: list[pb.ReviewOrdersRequest]) -> Result:
    """Intents streamed from a request iterator while the decisions are read back."""

    async def source() -> AsyncIterator[pb.ReviewOrdersRequest]:
        for request in requests:
            yield request

    approved = 0
    received = 0
    started = time.perf_counter()
    call = stub.ReviewOrders(source())
    async for response in call:
        approved += response.decision.approved
        received += 1
        if received == len(requests):
            break
    elapsed = time.perf_counter() - started
    call.cancel()
    return Result("pipelined (one stream)", len(requests), elapsed, [], approved)


async def ping_pong(stub: RiskServiceAsyncStub, name: str, requests: list[pb.ReviewOrdersRequest]) -> Result:
    call = stub.ReviewOrders()
    latencies: list[float] = []
    approved = 0
    started = time.perf_counter()
    for request in requests:
        sent = time.perf_counter_ns()
        await call.write(request)
        response = await call.read()
        latencies.append((time.perf_counter_ns() - sent) / 1e6)
        assert isinstance(response, pb.ReviewOrdersResponse)
        approved += response.decision.approved
    elapsed = time.perf_counter() - started
    await call.done_writing()
    call.cancel()
    return Result(name, len(requests), elapsed, latencies, approved)


def scrape_server_latency(metrics_port: int) -> tuple[float, float]:
    """(sum in ms, count) of the service's review-latency histogram."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith("opensqt_risk_review_latency_milliseconds_sum"):
            total = float(line.rsplit(" ", 1)[1])
        elif line.startswith("opensqt_risk_review_latency_milliseconds_count"):
            count = float(line.rsplit(" ", 1)[1])
    return total, count


class _EchoServicer(pb_grpc.RiskServiceServicer):
    """The transport floor: approves every intent without looking at it.

    Same stream loop as the risk service (read an intent, answer it, hand the answer to
    gRPC while the next intent is read), so the difference between the rows is the
    cost of deciding.
    """

    async def ReviewOrders(  # type: ignore[override]  # writes with context.write
        self,
        request_iterator: AsyncIterator[pb.ReviewOrdersRequest],
        context: grpc.aio.ServicerContext[pb.ReviewOrdersRequest, pb.ReviewOrdersResponse],
    ) -> None:
        loop = asyncio.get_running_loop()
        sending: asyncio.Task[None] | None = None
        try:
            async for request in request_iterator:
                response = pb.ReviewOrdersResponse()
                response.decision.client_order_id = request.intent.client_order_id
                response.decision.approved = True
                if sending is not None:
                    await sending
                sending = loop.create_task(context.write(response))
            if sending is not None:
                await sending
        finally:
            if sending is not None and not sending.done():
                sending.cancel()


async def serve_echo(address: str) -> None:
    server = grpc.aio.server()
    pb_grpc.add_RiskServiceServicer_to_server(_EchoServicer(), server)  # type: ignore[abstract]  # ReviewOrders only
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    server.add_insecure_port(address)
    await server.start()
    await server.wait_for_termination()


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, all threads (from /proc; None where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def with_server_cpu(server_pid: int, run: Awaitable[Result]) -> Result:
    """`run`, with the server's CPU time per decision over it."""
    before = process_cpu_seconds(server_pid)
    result = await run
    after = process_cpu_seconds(server_pid)
    if before is not None and after is not None:
        result.server_cpu_us = (after - before) * 1e6 / result.count
    return result


async def measure(
    stub: RiskServiceAsyncStub, intents: Intents, args: argparse.Namespace, server_pid: int
) -> list[Result]:
    await pipelined(stub, intents.batch(args.warmup))
    await ping_pong(stub, "warm-up", intents.batch(args.warmup // 4))
    return [
        await with_server_cpu(server_pid, pipelined(stub, intents.batch(args.pipelined))),
        await with_server_cpu(server_pid, ping_pong(stub, "ping-pong", intents.batch(args.ping_pong))),
    ]


async def bare_baseline(args: argparse.Namespace, env: dict[str, str]) -> list[Result]:
    """The same client against an echo server: what gRPC alone costs in this run."""
    address = f"127.0.0.1:{free_port()}"
    echo = start([sys.executable, __file__, "--echo-server", address], env)
    try:
        await wait_serving(address, timeout=60)
        async with grpc.aio.insecure_channel(address) as channel:
            echo_stub: RiskServiceAsyncStub = pb_grpc.RiskServiceStub(channel)
            results = await measure(echo_stub, Intents(), args, echo.pid)
    finally:
        echo.terminate()
        echo.wait(timeout=10)
    for result in results:
        result.name = f"bare bidi echo: {result.name}"
    return results


async def run(args: argparse.Namespace, workdir: Path) -> tuple[list[Result], float]:
    connector_address = f"127.0.0.1:{free_port()}"
    risk_address = f"127.0.0.1:{free_port()}"
    metrics_port = free_port()
    config = workdir / "risk.yaml"
    config.write_text(CONFIG)
    env = {**os.environ, "OPENSQT_METRICS_HOST": "127.0.0.1"}
    python = sys.executable
    connector = start(
        [python, "-m", "opensqt_connector", "--exchange", "sim", "--listen", connector_address,
         "--log-level", "WARNING"],
        env,
    )  # fmt: skip
    risk: subprocess.Popen[bytes] | None = None
    try:
        await wait_serving(connector_address, service="opensqt.exchange.v1.ExchangeService", timeout=60)
        async with grpc.aio.insecure_channel(connector_address) as channel:
            sim = sim_service_pb2_grpc.SimControlServiceStub(channel)
            await sim.SetPriceFeed(sim_service_pb2.SetPriceFeedRequest(running=False))
            await sim.SetPrice(
                sim_service_pb2.SetPriceRequest(symbol=SYMBOL, price=common_pb2.Decimal(value="60000"))
            )
            await sim.SetBalance(
                sim_service_pb2.SetBalanceRequest(
                    asset="USDT", amount=common_pb2.Decimal(value="1000000000000")
                )
            )
        risk = start(
            [python, "-m", "opensqt_risk", "--listen", risk_address, "--connector", connector_address,
             "--config", str(config), "--metrics-port", str(metrics_port), "--log-level", "WARNING",
             "--audit-log", str(workdir / "audit.jsonl")],
            env,
        )  # fmt: skip
        await wait_serving(risk_address, service="opensqt.risk.v1.RiskService", timeout=60)
        intents = Intents()
        async with grpc.aio.insecure_channel(risk_address) as channel:
            stub: RiskServiceAsyncStub = pb_grpc.RiskServiceStub(channel)

            async def warm() -> bool:
                result = await ping_pong(stub, "probe", intents.batch(1))
                return result.approved == 1

            await eventually(warm, timeout=30, interval=0.1, message="risk approving (market data, balance)")
            before = scrape_server_latency(metrics_port)
            results = await measure(stub, intents, args, risk.pid)
            after = scrape_server_latency(metrics_port)
            traced = intents.batch(args.ping_pong, traced=True)
            results.append(await with_server_cpu(risk.pid, ping_pong(stub, "ping-pong, traced", traced)))
            # 2 BTC is above max_order_quantity 1: refused, with the applied limit in the decision.
            vetoed = intents.batch(args.ping_pong, quantity="2")
            results.append(await with_server_cpu(risk.pid, ping_pong(stub, "ping-pong, veto", vetoed)))
    finally:
        for process in (risk, connector):
            if process is not None:
                process.terminate()
                process.wait(timeout=10)
    results.extend(await bare_baseline(args, env))
    # The pipelined and plain ping-pong runs after the warm-up (which the histogram also holds).
    server_ms = (after[0] - before[0]) / max(1.0, after[1] - before[1])
    return results, server_ms


def report(results: list[Result], server_ms: float, markdown: Path | None) -> None:
    lines = [
        "| ReviewOrders | decisions | decisions/s | p50 ms | p99 ms | mean ms | approved "
        "| server CPU µs/decision |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(result.row() for result in results),
        "",
        f"Server-side time per decision (intent received → decision ready, from the service's "
        f"own histogram over the pipelined and ping-pong runs): {server_ms * 1000:.1f} µs mean. "
        "Server CPU: user + system time of the server process, all its threads (gRPC's included), "
        "per decision over the run. "
        "The bare echo rows run the same client against a server that approves without looking "
        "(plain grpc.aio, no interceptors, the same stream loop as the risk service): the transport "
        "floor on this machine in this run.",
        f"Machine: {describe_machine()}",
        f"Targets: >= {TARGET_RATE:,} decisions/s pipelined; p50 < {TARGET_P50_MS} ms ping-pong round trip.",
    ]
    text = "\n".join(lines)
    print(text)
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(f"## Risk ReviewOrders (live bidi stream)\n\n{text}\n")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pipelined", type=int, default=20_000, help="intents in the pipelined run")
    parser.add_argument("--ping-pong", type=int, default=5_000, help="intents in each ping-pong run")
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--markdown", type=Path, default=None, help="also write the results to this file")
    parser.add_argument("--echo-server", metavar="ADDRESS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_server:
        asyncio.run(serve_echo(args.echo_server))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-risk-") as workdir:
        results, server_ms = asyncio.run(run(args, Path(workdir)))
    report(results, server_ms, args.markdown)
    rate = results[0].rate
    p50 = statistics.median(results[1].latencies_ms)
    if rate < TARGET_RATE or p50 >= TARGET_P50_MS:
        print(
            f"bench_risk: below target ({rate:,.0f} decisions/s, p50 {p50:.3f} ms)",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
