"""Tick-to-order latency through engine and risk (DESIGN §7: p50 < 1 ms, p99 < 2 ms).

    .venv/bin/python bench/bench_tick_to_order.py [--samples 2000] [--warmup 200] [--markdown FILE]
        [--journal memory|durable] [--traces-sampler always_on] [--profile DIR]

What is measured: from the instant a price update leaves the connector (the sim's print
is handed to the connector's stream hub, which serialises it onto StreamPrices) to the
instant the order the grid decided on that price arrives at the sim matching engine
(the connector's order entry has matched it and hands its NEW update to the hub), after
going connector → engine (StreamPrices) → risk (ReviewOrders, approved) → engine →
connector (SubmitOrders).

How, honestly: both instants happen inside the connector, so the connector runs in this
process (a real `Connector` on a real port, exactly what `opensqt-connector` runs) and
both timestamps come from one clock (`time.perf_counter_ns`, CLOCK_MONOTONIC). Risk and
the engine run as their own processes (`python -m opensqt_risk`, `python -m
opensqt_engine`), as in production, so the run shares this 2-core machine between three
service processes plus an echo server, like a real deployment would. The connector's
order limiter is off and the engine's journal is in memory (`--journal durable` for SQLite; the
durable store's cost is measured by its own bench); the audit log is written as usual.
Telemetry is production's: metrics served for Prometheus by all three, spans recorded
only if exported (none are here; `--traces-sampler always_on` records every order's).

The price path climbs one grid level per sample (levels 10 apart, the price 2 above a
level), so each price makes the grid place exactly one new buy (the new top level) and
cancel one (the bottom level); the cancel leaves first, as the core orders it. Samples
are paced (the system is idle when each price leaves) and the first `--warmup` are
discarded.

In the same run a bare bidi-stream round trip is measured: one message written on an
open gRPC stream to an echo server in its own process and read back, same pacing. That
is the floor: tick-to-order needs two such round trips (connector → engine → connector
and engine → risk → engine) plus the work of three services.
"""

from __future__ import annotations

from opensqt_common.grpc_transport import prefer_low_latency_transport

prefer_low_latency_transport()  # as the services do, before anything loads grpc

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
from machine import describe_machine

from opensqt.engine.v1 import engine_service_pb2 as engine_pb
from opensqt.engine.v1 import engine_service_pb2_grpc
from opensqt_common.enums import OrderStatus, Side
from opensqt_common.gc_tuning import tune_gc_after_start
from opensqt_common.logging import configure_logging
from opensqt_common.settings import load_settings
from opensqt_common.telemetry import setup_telemetry
from opensqt_common.testing import free_port, wait_serving
from opensqt_connector.app import Connector
from opensqt_connector.models import OrderInfo, TickerInfo
from opensqt_connector.settings import ConnectorSettings, VenueCredentials

SYMBOL = "BTC/USDT:USDT"
SAMPLER_ENV = "OTEL_TRACES_SAMPLER"
START = Decimal(60000)
INTERVAL = Decimal(10)
OFFSET = Decimal(2)
TARGET_P50_MS = 1.0
TARGET_P99_MS = 2.0
PACE_S = 0.004
ECHO_METHOD = "/bench.Echo/Echo"

ENGINE_CONFIG = f"""
strategy_id: bench
symbol: {SYMBOL}
market: perp
price_interval: {INTERVAL}
order_amount: 1000
buy_window: 5
sell_window: 5
anchor_price: {START}
post_only: true
max_open_orders: 50
order_rate: 100000
order_burst: 100000
reconcile_seconds: 3600
"""

RISK_CONFIG = f"""
limits:
  max_order_quantity: 1
  max_position: 1000
  max_order_notional: 1000000
  max_open_orders: 1000
  price_band: 0.9
  max_order_rate: 100000
  stale_after_seconds: 3600
  drawdown_limit: 1000000
symbols:
  {SYMBOL}: {{}}
crash_detector:
  enabled: false
"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Stats:
    name: str
    samples: list[float]

    def line(self) -> str:
        s = self.samples
        return (
            f"{self.name:<34} n={len(s):>5}  p50 {percentile(s, 0.5):6.3f} ms  "
            f"p90 {percentile(s, 0.9):6.3f} ms  p99 {percentile(s, 0.99):6.3f} ms  "
            f"max {max(s):7.3f} ms  mean {statistics.fmean(s):6.3f} ms"
        )


class Probe:
    """Timestamps, inside the connector, of each price leaving and each order arriving."""

    def __init__(self) -> None:
        self.tick_ns: dict[Decimal, int] = {}
        self.order_ns: dict[Decimal, int] = {}
        self._waiting: Decimal | None = None
        self.arrived = asyncio.Event()

    def install(self, connector: Connector) -> None:
        hub = connector.hub
        on_ticker = hub.on_ticker
        on_order = hub.on_order

        def ticker(info: TickerInfo) -> None:
            self.tick_ns.setdefault(info.last, time.perf_counter_ns())
            on_ticker(info)

        def order(info: OrderInfo) -> None:
            if info.status is OrderStatus.NEW and info.side is Side.BUY and info.price is not None:
                self.order_ns.setdefault(info.price, time.perf_counter_ns())
                if info.price == self._waiting:
                    self.arrived.set()
            on_order(info)

        hub.on_ticker = ticker  # type: ignore[method-assign,assignment]
        hub.on_order = order  # type: ignore[method-assign,assignment]

    def expect(self, level_price: Decimal) -> None:
        self._waiting = level_price
        self.arrived.clear()


# ---------------------------------------------------------------- echo server (own process)


def run_echo_server(port: int) -> None:
    async def serve() -> None:
        async def echo(requests: Any, context: Any) -> Any:
            async for message in requests:
                yield message

        handler = grpc.method_handlers_generic_handler(
            "bench.Echo", {"Echo": grpc.stream_stream_rpc_method_handler(echo)}
        )
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((handler,))
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.stop(0)

    asyncio.run(serve())


async def bare_round_trips(port: int, samples: int) -> list[float]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        await asyncio.wait_for(channel.channel_ready(), 20)
        call: grpc.aio.StreamStreamCall[bytes, bytes] = channel.stream_stream(ECHO_METHOD)()
        payload = b"x" * 64
        out: list[float] = []
        for _ in range(samples):
            started = time.perf_counter_ns()
            await call.write(payload)
            await call.read()
            out.append((time.perf_counter_ns() - started) / 1e6)
            await asyncio.sleep(PACE_S)
        await call.done_writing()
        call.cancel()
        return out


# ---------------------------------------------------------------- the run


def spawn(
    args: list[str],
    log: Path,
    cwd: Path,
    profile: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENSQT_", "OTEL_"))}
    env.update(extra_env or {})
    argv = [sys.executable, *args]
    if profile is not None:  # sampling profiler around the process (pip install py-spy)
        py_spy = Path(sys.executable).parent / "py-spy"
        argv = [
            str(py_spy),
            "record",
            "--rate",
            "1000",
            "--format",
            "raw",
            "--nonblocking",
            "-o",
            str(profile),
            "--",
            *argv,
        ]
    with log.open("wb") as sink:
        return subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        # SIGINT to the whole group: graceful for the services, and py-spy (if any) writes its profile.
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def engine_share(metrics_text: str) -> str:
    """p50/p99 of the engine's own tick-to-order histogram (the price read off its stream -> the
    order written to the connector, so including the risk round trip), as bucket upper bounds."""
    name = "opensqt_engine_tick_to_order_latency_milliseconds_bucket"
    buckets: list[tuple[float, float]] = []
    for line in metrics_text.splitlines():
        if line.startswith(name + "{"):
            labels, _, value = line.rpartition(" ")
            bound = labels.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float(bound), float(value)))
    if not buckets or buckets[-1][1] == 0:
        return "engine share: no samples"
    total = buckets[-1][1]

    def quantile(q: float) -> str:
        bound = next(le for le, count in buckets if count >= q * total)
        return f"<= {bound:g} ms"

    label = "engine: tick read -> order written"
    return (
        f"{label:<34} n={int(total):>5}  p50 {quantile(0.5)}  p99 {quantile(0.99)} (its histogram, via risk)"
    )


async def measure(args: argparse.Namespace, workdir: Path) -> tuple[Stats, Stats, str]:
    settings = load_settings(
        ConnectorSettings, ["--listen", "127.0.0.1:0", "--order-rate", "0", "--log-level", "WARNING"]
    )
    # The in-process connector logs, traces and meters like `opensqt-connector` would with
    # these settings (metrics served on a port, as in deploy/docker-compose.yml).
    configure_logging("opensqt-connector", settings.log_level, settings.log_format)
    telemetry_env = {SAMPLER_ENV: args.traces_sampler} if args.traces_sampler else {}
    os.environ.update(telemetry_env)
    telemetry = setup_telemetry("opensqt-connector", metrics_port=0)
    connector = Connector(settings, VenueCredentials())
    probe = Probe()
    probe.install(connector)
    await connector.start()
    sim: Any = connector.resilient.adapter
    await sim.set_price_feed(False)
    await sim.set_balance("USDT", Decimal(10_000_000))
    await sim.set_price(SYMBOL, START)
    tune_gc_after_start()  # as `opensqt-connector` does once started
    (workdir / "engine.yaml").write_text(ENGINE_CONFIG)
    (workdir / "risk.yaml").write_text(RISK_CONFIG)
    risk_port, engine_port, echo_port, metrics_port = free_port(), free_port(), free_port(), free_port()
    processes = []
    try:
        processes.append(spawn([__file__, "--echo-server", str(echo_port)], workdir / "echo.log", workdir))
        processes.append(
            spawn(
                [
                    "-m",
                    "opensqt_risk",
                    "--listen",
                    f"127.0.0.1:{risk_port}",
                    "--connector",
                    connector.address,
                    "--config",
                    str(workdir / "risk.yaml"),
                    "--audit-log",
                    str(workdir / "risk-audit.jsonl"),
                    "--log-level",
                    "WARNING",
                    "--metrics-port",
                    "0",
                ],
                workdir / "risk.log",
                workdir,
                args.profile / "risk.txt" if args.profile else None,
                telemetry_env,
            )
        )
        await wait_serving(f"127.0.0.1:{risk_port}", service="opensqt.risk.v1.RiskService", timeout=30)
        processes.append(
            spawn(
                [
                    "-m",
                    "opensqt_engine",
                    "--listen",
                    f"127.0.0.1:{engine_port}",
                    "--connector",
                    connector.address,
                    "--risk",
                    f"127.0.0.1:{risk_port}",
                    "--config",
                    str(workdir / "engine.yaml"),
                    "--journal",
                    args.journal,
                    "--audit-log",
                    str(workdir / "engine-audit.jsonl"),
                    "--log-level",
                    "WARNING",
                    "--no-startup-checks",
                    "--metrics-port",
                    str(metrics_port),
                ],
                workdir / "engine.log",
                workdir,
                args.profile / "engine.txt" if args.profile else None,
                telemetry_env,
            )
        )
        await wait_engine_trading(f"127.0.0.1:{engine_port}")
        bare = await bare_round_trips(echo_port, args.samples)
        latencies: list[float] = []
        for i in range(1, args.samples + args.warmup + 1):
            level = START + INTERVAL * i
            price = level + OFFSET
            probe.expect(level)
            await sim.set_price(SYMBOL, price)
            try:
                await asyncio.wait_for(probe.arrived.wait(), 2.0)
            except TimeoutError:
                raise SystemExit(
                    f"no buy at {level} within 2 s of the price {price}; see the logs in {workdir}"
                ) from None
            if i > args.warmup:
                latencies.append((probe.order_ns[level] - probe.tick_ns[price]) / 1e6)
            await asyncio.sleep(PACE_S)
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read().decode())
        return (
            Stats("tick-to-order (engine + risk)", latencies),
            Stats("bare bidi round trip", bare),
            engine_share(text),
        )
    finally:
        for process in reversed(processes):
            stop(process)
        await connector.stop()
        telemetry.shutdown()


async def wait_engine_trading(target: str) -> None:
    await wait_serving(target, service="opensqt.engine.v1.EngineService", timeout=30)
    async with grpc.aio.insecure_channel(target) as channel:
        stub = engine_service_pb2_grpc.EngineServiceStub(channel)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = (await stub.GetStatus(engine_pb.GetStatusRequest())).status
            if status.open_orders >= 5 and status.risk_connected:
                return
            await asyncio.sleep(0.05)
    raise SystemExit("the engine did not place its initial grid within 30 s")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--markdown", type=Path, default=None, help="append the results as markdown here")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="record py-spy profiles of risk and the engine into this directory",
    )
    parser.add_argument(
        "--journal",
        choices=("memory", "durable"),
        default="memory",
        help="the engine's journal: memory (default) or durable (SQLite under the run's directory)",
    )
    parser.add_argument(
        "--traces-sampler",
        default=None,
        help="OTEL_TRACES_SAMPLER for all three services, e.g. always_on to record every order's "
        "spans (by default none are: nothing exports them)",
    )
    parser.add_argument("--echo-server", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_server is not None:
        run_echo_server(args.echo_server)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-t2o-") as tmp:
        tick_to_order, bare, share = asyncio.run(measure(args, Path(tmp)))
    print(f"machine: {describe_machine()}")
    print(bare.line())
    print(tick_to_order.line())
    print(share)
    p50 = percentile(tick_to_order.samples, 0.5)
    p99 = percentile(tick_to_order.samples, 0.99)
    verdict = "PASS" if p50 < TARGET_P50_MS and p99 < TARGET_P99_MS else "MISS"
    print(f"target p50 < {TARGET_P50_MS} ms, p99 < {TARGET_P99_MS} ms: {verdict}")
    if args.markdown is not None:
        with args.markdown.open("a", encoding="utf-8") as out:
            out.write(
                f"| tick-to-order | {len(tick_to_order.samples)} | {p50:.3f} | {p99:.3f} | "
                f"{percentile(bare.samples, 0.5):.3f} | {percentile(bare.samples, 0.99):.3f} | {verdict} |\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
