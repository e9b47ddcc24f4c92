"""Order-entry throughput and latency of the connector on `sim`, limiter off.

Starts `python -m opensqt_connector --exchange sim --order-rate 0` as its own process
(as in production: client and server do not share a core's event loop), stops the sim's
random walk, funds the account, then measures:

- SubmitOrders: one bidi stream, requests pipelined (written as fast as flow control
  allows while answers are read concurrently); latency = write → matching answer.
- PlaceOrder: unary calls from N concurrent callers, and from one caller in sequence.

Every order is a resting GTC post-only buy far below the market, so each one goes the
full path (validation, idempotency map, resilience wrapper, sim matching, stream hub).
Prints p50/p99 latency, orders/s, the connector's memory before and after, and the
machine (CPU model, cores). Target: >= 2,000 orders/s sustained.

    .venv/bin/python bench/bench_connector.py [--stream-orders 20000] [--unary-orders 8000]
        [--concurrency 32] [--markdown FILE]
"""

from __future__ import annotations

from opensqt_common.grpc_transport import prefer_low_latency_transport

prefer_low_latency_transport()  # as the services do, before anything loads grpc

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from machine import describe_machine

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt.exchange.v1 import exchange_service_pb2_grpc
from opensqt.sim.v1 import sim_service_pb2, sim_service_pb2_grpc
from opensqt_common.testing import free_port, wait_serving

if TYPE_CHECKING:
    from opensqt.exchange.v1.exchange_service_pb2_grpc import ExchangeServiceAsyncStub

SYMBOL = "BTC/USDT:USDT"
TARGET_ORDERS_PER_S = 2_000
TICK = 1  # in units of 0.1: each order gets its own price level


@dataclass
class Result:
    name: str
    orders: int
    seconds: float
    latencies_ms: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return self.orders / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def row(self) -> str:
        return (
            f"| {self.name} | {self.orders} | {self.rate:,.0f} | {self.percentile(0.5):.3f} | "
            f"{self.percentile(0.99):.3f} | {statistics.fmean(self.latencies_ms):.3f} | {self.errors} |"
        )


class Orders:
    """Distinct client order ids and price levels for every order of the run."""

    def __init__(self) -> None:
        self._next = 0

    def place(self) -> pb.PlaceOrderRequest:
        self._next += 1
        n = self._next
        price_tenths = 200_000 + (n * TICK) % 200_000  # 20,000.0 .. 39,999.9, below the 60,000 market
        return pb.PlaceOrderRequest(
            client_order_id=f"bench-{n}",
            symbol=SYMBOL,
            side=common_pb2.SIDE_BUY,
            type=common_pb2.ORDER_TYPE_LIMIT,
            price=common_pb2.Decimal(value=f"{price_tenths // 10}.{price_tenths % 10}"),
            quantity=common_pb2.Decimal(value="0.001"),
            time_in_force=common_pb2.TIME_IN_FORCE_GTC,
            post_only=True,
        )


async def bench_stream(
    stub: ExchangeServiceAsyncStub,
    orders: Orders,
    count: int,
    *,
    window: int,
    rate: float | None = None,
) -> Result:
    """Pipelined SubmitOrders: at most `window` orders in flight; paced to `rate`
    orders/s when given (latency at a fixed load), else as fast as answers come."""
    requests = [pb.SubmitOrdersRequest(place=orders.place()) for _ in range(count)]
    sent_at = [0.0] * count
    latencies: list[float] = []
    errors = 0
    in_flight = asyncio.Semaphore(window)
    call = stub.SubmitOrders()

    async def write() -> None:
        start = time.perf_counter()
        for i, request in enumerate(requests):
            if rate is not None:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            await in_flight.acquire()
            sent_at[i] = time.perf_counter()
            await call.write(request)
        await call.done_writing()

    started = time.perf_counter()
    writer = asyncio.ensure_future(write())
    for i in range(count):
        answer = await call.read()
        in_flight.release()
        assert isinstance(answer, pb.SubmitOrdersResponse), answer
        latencies.append((time.perf_counter() - sent_at[i]) * 1000)
        if answer.HasField("error") or answer.client_order_id != requests[i].place.client_order_id:
            errors += 1
    elapsed = time.perf_counter() - started
    await writer
    how = f"paced at {rate:,.0f}/s" if rate is not None else "as fast as possible"
    return Result(f"SubmitOrders (1 stream, window {window}, {how})", count, elapsed, latencies, errors)


async def bench_unary(stub: ExchangeServiceAsyncStub, orders: Orders, count: int, concurrency: int) -> Result:
    latencies: list[float] = []
    errors = 0
    remaining = count

    async def caller() -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            request = orders.place()
            t0 = time.perf_counter()
            try:
                await stub.PlaceOrder(request)
            except grpc.aio.AioRpcError:
                errors += 1
            latencies.append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    name = (
        f"PlaceOrder (unary, {concurrency} concurrent)"
        if concurrency > 1
        else "PlaceOrder (unary, sequential)"
    )
    return Result(name, count, elapsed, latencies, errors)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(args: argparse.Namespace) -> list[Result]:
    port = free_port()
    target = f"127.0.0.1:{port}"
    command = [sys.executable, "-m", "opensqt_connector", "--exchange", "sim", "--listen", target]
    connector = subprocess.Popen(  # noqa: ASYNC220 - started once, before any measurement
        [*command, "--order-rate", "0", "--log-level", "WARNING"], stdout=subprocess.DEVNULL
    )
    try:
        await wait_serving(target, service="opensqt.exchange.v1.ExchangeService", timeout=60)
        async with grpc.aio.insecure_channel(target) as channel:
            sim = sim_service_pb2_grpc.SimControlServiceStub(channel)
            await sim.SetPriceFeed(sim_service_pb2.SetPriceFeedRequest(running=False))
            await sim.SetBalance(
                sim_service_pb2.SetBalanceRequest(asset="USDT", amount=common_pb2.Decimal(value="1000000000"))
            )
            stub = exchange_service_pb2_grpc.ExchangeServiceStub(channel)
            orders = Orders()
            await bench_stream(stub, orders, args.warmup, window=args.window)  # warm up both processes
            rss_before = rss_mib(connector.pid)
            results = [
                await bench_stream(stub, orders, args.stream_orders, window=args.window),
                await bench_stream(
                    stub,
                    orders,
                    int(TARGET_ORDERS_PER_S * args.paced_seconds),
                    window=args.window,
                    rate=TARGET_ORDERS_PER_S,
                ),
                await bench_unary(stub, orders, args.unary_orders, args.concurrency),
                await bench_unary(stub, orders, max(500, args.unary_orders // 10), 1),
            ]
            rss_after = rss_mib(connector.pid)
            open_orders = len((await stub.ListOpenOrders(pb.ListOpenOrdersRequest())).orders)
    finally:
        connector.terminate()
        connector.wait(timeout=10)
    report(results, rss_before, rss_after, open_orders, args.markdown)
    return results


def report(
    results: list[Result], rss_before: float, rss_after: float, open_orders: int, markdown: Path | None
) -> None:
    lines = [
        "| path | orders | orders/s | p50 ms | p99 ms | mean ms | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(result.row() for result in results),
        "",
        f"Connector RSS: {rss_before:.1f} MiB before the measured runs, {rss_after:.1f} MiB after "
        f"({open_orders} resting orders on the sim book).",
        f"Machine: {describe_machine()}",
        f"Target: >= {TARGET_ORDERS_PER_S:,} orders/s sustained on sim with the limiter off.",
    ]
    text = "\n".join(lines)
    print(text)
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(f"## Connector order entry (sim, limiter off)\n\n{text}\n")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stream-orders", type=int, default=20_000)
    parser.add_argument("--unary-orders", type=int, default=8_000)
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent unary callers")
    parser.add_argument("--window", type=int, default=64, help="orders in flight on the stream")
    parser.add_argument("--paced-seconds", type=float, default=5.0, help="length of the paced run")
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--markdown", type=Path, default=None, help="also write the results to this file")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    failed = [r.name for r in results if r.errors]
    if failed:
        print(f"bench_connector: errors in {failed}", file=sys.stderr)
        return 1
    best = max(r.rate for r in results)
    if best < TARGET_ORDERS_PER_S * 0.99:
        print(
            f"bench_connector: below target ({best:,.0f} < {TARGET_ORDERS_PER_S:,} orders/s)", file=sys.stderr
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
