"""The three services as real processes on `sim`, for the observability tests.

    async with running_stack(tmp_path) as stack:
        await stack.drive_round_trip()           # buys rest, one fills, its sell fills
        text = await stack.scrape(stack.engine)  # Prometheus text of one service
    spans = stack.spans()                        # every span the three processes wrote

Each service runs as `python -m <package>` with `--listen 127.0.0.1:0` and
`--metrics-port 0`; its ports are read from its own JSON log (`listening`,
`metrics_listening`), so nothing races for a port. `OPENSQT_TRACE_FILE` makes each
process write its finished spans to `<tmp>/spans-<service>.jsonl`
(opensqt_common.trace_file). Waiting is always on a condition with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import urllib.request
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import yaml
from prometheus_client.parser import text_string_to_metric_families

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt.exchange.v1 import exchange_service_pb2_grpc, types_pb2
from opensqt.sim.v1 import sim_service_pb2, sim_service_pb2_grpc
from opensqt_common.testing import eventually
from opensqt_common.trace_file import TRACE_FILE_ENV, SpanRecord, read_trace_file

REPO = Path(__file__).resolve().parents[2]
METRICS_DOC = REPO / "docs" / "metrics.md"
ENGINE_CONFIG = REPO / "configs" / "engine.yaml"
SYMBOL = "BTC/USDT:USDT"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
WAIT_S = 10.0

# The grid the stack runs: levels every 50 from 60,000, three resting buys.
ANCHOR = Decimal(60000)
INTERVAL = Decimal(50)
BUY_WINDOW = 3


# --- the metric contract -------------------------------------------------------------


@dataclass(frozen=True)
class ContractMetric:
    name: str
    kind: str
    labels: frozenset[str]
    service: str


def metric_contract() -> dict[str, ContractMetric]:
    """The table under '## Metrics' in docs/metrics.md."""
    section = METRICS_DOC.read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    contract: dict[str, ContractMetric] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 6 or not cells[0].startswith("`"):
            continue
        labels = frozenset(label.strip().strip("`") for label in cells[3].split(",") if label.strip())
        contract[cells[0].strip("`")] = ContractMetric(cells[0].strip("`"), cells[1], labels, cells[4])
    return contract


_EXPORTER_LABELS = ("otel_scope_name", "otel_scope_version", "otel_scope_schema_url")


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


class Scrape:
    """One scrape of a /metrics endpoint, parsed; the exporter's scope labels dropped."""

    def __init__(self, text: str) -> None:
        self.kinds: dict[str, str] = {}
        self.samples: dict[str, list[Sample]] = defaultdict(list)
        for family in text_string_to_metric_families(text):
            self.kinds[family.name] = family.type
            for sample in family.samples:
                labels = {k: v for k, v in sample.labels.items() if k not in _EXPORTER_LABELS}
                self.samples[sample.name].append(Sample(labels, float(sample.value)))

    def kind(self, name: str) -> str | None:
        """The TYPE of a contract name (counters are typed under their name without _total)."""
        return self.kinds.get(name.removesuffix("_total") if name.endswith("_total") else name)

    def series(self, name: str, **labels: str) -> list[Sample]:
        return [s for s in self.samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name: str, **labels: str) -> float | None:
        """The one sample of `name` with these labels (None when absent)."""
        found = self.series(name, **labels)
        assert len(found) <= 1, f"{name}{labels}: {found}"
        return found[0].value if found else None

    def total(self, name: str, **labels: str) -> float:
        return sum(sample.value for sample in self.series(name, **labels))

    def by(self, name: str, label: str, **labels: str) -> dict[str, float]:
        return {sample.labels[label]: sample.value for sample in self.series(name, **labels)}


# --- one service process ------------------------------------------------------------------


@dataclass
class ServiceProcess:
    """A service started as a process; its JSON log lines are collected as they come."""

    name: str
    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    port: int = 0
    metrics_port: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _ended: bool = False
    _reader: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines if line.startswith("{")]

    def start_reading(self) -> None:
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        try:
            async for raw in self.process.stderr:
                async with self._changed:
                    self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                    self._changed.notify_all()
        finally:
            async with self._changed:
                self._ended = True
                self._changed.notify_all()

    async def wait_event(self, event: str, timeout: float = START_TIMEOUT_S) -> dict[str, Any]:
        """The first log record named `event`, once it is written."""

        def found() -> dict[str, Any] | None:
            return next((record for record in self.events() if record.get("event") == event), None)

        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: found() is not None or self._ended), timeout
                )
            except TimeoutError:
                raise AssertionError(f"{self.name}: no {event!r} within {timeout} s:\n{self.log()}") from None
        record = found()
        if record is None:
            raise AssertionError(f"{self.name} ended before {event!r}:\n{self.log()}")
        return record

    def log(self) -> str:
        return "\n".join(self.lines[-40:])

    async def stop(self) -> int:
        """SIGTERM, then the exit code (killed after STOP_TIMEOUT_S)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._reader is not None:
            await self._reader
        code = self.process.returncode
        assert code is not None
        return code


async def start_service(name: str, args: list[str], env: dict[str, str]) -> ServiceProcess:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"opensqt_{name}",
        "--listen",
        "127.0.0.1:0",
        "--metrics-port",
        "0",
        "--log-format",
        "json",
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    service = ServiceProcess(name, process)
    service.start_reading()
    try:
        service.metrics_port = int((await service.wait_event("metrics_listening"))["port"])
        service.port = int((await service.wait_event("listening"))["port"])
    except BaseException:
        await service.stop()
        raise
    return service


# --- the stack ---------------------------------------------------------------------------


class SimDriver:
    """Moves the sim's price and watches the open orders through the connector's API."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.exchange = exchange_service_pb2_grpc.ExchangeServiceStub(channel)
        self.sim = sim_service_pb2_grpc.SimControlServiceStub(channel)

    async def hold_price(self, price: Decimal) -> None:
        """Stop the random walk and trade at `price`."""
        await self.sim.SetPriceFeed(sim_service_pb2.SetPriceFeedRequest(running=False))
        await self.set_price(price)

    async def set_price(self, price: Decimal) -> None:
        request = sim_service_pb2.SetPriceRequest(
            symbol=SYMBOL, price=common_pb2.Decimal(value=str(price)), volume=common_pb2.Decimal(value="0")
        )
        await self.sim.SetPrice(request)

    async def open_orders(self) -> list[types_pb2.Order]:
        response = await self.exchange.ListOpenOrders(pb.ListOpenOrdersRequest(symbol=SYMBOL))
        return list(response.orders)

    async def wait_open_orders(
        self, predicate: Callable[[list[types_pb2.Order]], bool], what: str
    ) -> list[types_pb2.Order]:
        seen: list[types_pb2.Order] = []

        async def holds() -> bool:
            seen[:] = await self.open_orders()
            return predicate(seen)

        await eventually(holds, timeout=WAIT_S, interval=0.02, message=what)
        return seen

    async def drive_round_trip(self) -> None:
        """Buys rest below the anchor; the nearest fills, its take-profit sell rests and
        then fills: the engine places buys (through risk) and a sell (direct)."""
        levels = [ANCHOR - INTERVAL * k for k in range(1, BUY_WINDOW + 1)]
        await self.wait_open_orders(lambda orders: _buys(orders) == levels, f"buys resting at {levels}")
        await self.set_price(levels[0] - Decimal(10))
        await self.wait_open_orders(lambda orders: _sells(orders) == [ANCHOR], f"a sell resting at {ANCHOR}")
        await self.set_price(ANCHOR)
        await self.wait_open_orders(
            lambda orders: _sells(orders) == [] and _buys(orders) == levels, f"buys back at {levels}, no sell"
        )


@dataclass
class Stack:
    tmp: Path
    driver: SimDriver
    connector: ServiceProcess
    risk: ServiceProcess | None = None
    engine: ServiceProcess | None = None
    exit_codes: dict[str, int] = field(default_factory=dict)

    @property
    def services(self) -> dict[str, ServiceProcess]:
        found = {"connector": self.connector, "risk": self.risk, "engine": self.engine}
        return {name: service for name, service in found.items() if service is not None}

    async def scrape(self, service: ServiceProcess) -> Scrape:
        url = f"http://127.0.0.1:{service.metrics_port}/metrics"
        return Scrape(await asyncio.to_thread(_get, url))

    async def scrape_until(
        self, service: ServiceProcess, predicate: Callable[[Scrape], bool], what: str
    ) -> Scrape:
        """Scrape `service` until `predicate` holds; the scrape that satisfied it."""
        last: list[Scrape] = []

        async def holds() -> bool:
            last[:] = [await self.scrape(service)]
            return predicate(last[0])

        await eventually(holds, timeout=WAIT_S, interval=0.05, message=f"{service.name}: {what}")
        return last[0]

    async def stop(self) -> None:
        for name in ("engine", "risk", "connector"):
            service = self.services.get(name)
            if service is not None and name not in self.exit_codes:
                self.exit_codes[name] = await service.stop()

    def spans(self) -> list[SpanRecord]:
        return [span for path in sorted(self.tmp.glob("spans-*.jsonl")) for span in read_trace_file(path)]


def _buys(orders: list[types_pb2.Order]) -> list[Decimal]:
    return sorted((Decimal(o.price.value) for o in orders if o.side == common_pb2.SIDE_BUY), reverse=True)


def _sells(orders: list[types_pb2.Order]) -> list[Decimal]:
    return sorted(Decimal(o.price.value) for o in orders if o.side == common_pb2.SIDE_SELL)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310  (a loopback http URL)
        body: bytes = response.read()
    return body.decode()


def service_env(tmp: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPENSQT_", "OTEL_"))}
    secrets = tmp / "secrets"
    secrets.mkdir(exist_ok=True)
    env.update(
        {
            TRACE_FILE_ENV: str(tmp / "spans-{service}.jsonl"),
            "OPENSQT_SECRETS_DIR": str(secrets),
            "OPENSQT_RISK_CRASH_DETECTOR__ENABLED": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def engine_config(tmp: Path) -> Path:
    """configs/engine.yaml with a fixed anchor and a small window."""
    config = yaml.safe_load(ENGINE_CONFIG.read_text())
    config.update(
        {
            "anchor_price": str(ANCHOR),
            "price_interval": str(INTERVAL),
            "buy_window": BUY_WINDOW,
            "sell_window": BUY_WINDOW,
        }
    )
    path = tmp / "engine.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def engine_flags(tmp: Path, connector: str, risk: str) -> list[str]:
    return [
        "--connector",
        connector,
        "--risk",
        risk,
        "--config",
        str(engine_config(tmp)),
        "--journal",
        "memory",
        "--audit-log",
        str(tmp / "engine-audit.jsonl"),
    ]


@asynccontextmanager
async def running_stack(tmp: Path, env: Mapping[str, str] | None = None) -> AsyncIterator[Stack]:
    """Connector (sim, random walk stopped, price at the anchor), risk and engine; `env`
    adds environment variables (settings) for all three."""
    env = {**service_env(tmp), **(env or {})}
    connector = await start_service("connector", ["--exchange", "sim"], env)
    channel = grpc.aio.insecure_channel(connector.address)
    stack = Stack(tmp, SimDriver(channel), connector)
    try:
        await stack.driver.hold_price(ANCHOR)
        risk_flags = ["--connector", connector.address, "--audit-log", str(tmp / "risk-audit.jsonl")]
        stack.risk = await start_service("risk", risk_flags, env)
        engine_args = engine_flags(tmp, connector.address, stack.risk.address)
        stack.engine = await start_service("engine", engine_args, env)
        yield stack
    finally:
        with contextlib.suppress(grpc.aio.AioRpcError):
            await channel.close()
        await stack.stop()
