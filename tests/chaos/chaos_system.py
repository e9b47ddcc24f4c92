"""The three services as processes for the chaos tests, a volatile price path, and the venue's
record of what happened.

    system = ChaosSystem.on_sim(tmp_path, database_url)
    async with system.running():                 # connector (sim), risk, engine
        driver = PriceDriver(system.sim_print, random.Random(seed))
        ...
        await system.engine.kill()               # SIGKILL
        await system.start_engine(crash_at="after_intent:2")

Processes are started the way an operator starts them (`python -m opensqt_<service>` with
flags) on fixed free ports, so a restarted service comes back on the same address. Logs are
JSON lines in the test's temporary directory (the connector's are also the venue's record of
every placement it accepted).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import yaml
from chaos_invariants import VenueBook, VenueFillFact, VenueOrderFact  # type: ignore[import-not-found]
from chaos_processes import Service  # type: ignore[import-not-found]
from e2e_support import ENGINE_CONFIG, RISK_CONFIG, SYMBOL, dec  # type: ignore[import-not-found]

from opensqt.engine.v1 import engine_service_pb2 as engine_pb
from opensqt.engine.v1 import engine_service_pb2_grpc
from opensqt.engine.v1 import types_pb2 as engine_types
from opensqt.exchange.v1 import exchange_service_pb2 as exchange_pb
from opensqt.exchange.v1 import exchange_service_pb2_grpc, types_pb2
from opensqt.sim.v1 import sim_service_pb2, sim_service_pb2_grpc
from opensqt_common.enums import ORDER_STATUS, SIDE
from opensqt_common.testing import eventually, free_port
from opensqt_engine.core import is_own_client_order_id

if TYPE_CHECKING:
    from opensqt.engine.v1.engine_service_pb2_grpc import EngineServiceAsyncStub
    from opensqt.exchange.v1.exchange_service_pb2_grpc import ExchangeServiceAsyncStub

STRATEGY = "chaos"
D = Decimal
ZERO = D(0)
RUNNING = engine_types.ENGINE_STATE_RUNNING
# Reconnect quickly to a service that was just restarted (gRPC's default backoff starts at 1 s).
FAST_RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 200),
]

CHAOS_ENGINE_CONFIG: dict[str, Any] = {
    **ENGINE_CONFIG,
    "strategy_id": STRATEGY,
    "reconcile_seconds": 2,
    "max_open_orders": 20,
    "order_rate": 50,
    "order_burst": 60,
}
CHAOS_RISK_CONFIG: dict[str, Any] = {
    **RISK_CONFIG,
    "limits": {
        **RISK_CONFIG["limits"],
        "max_position": "2",
        "max_open_orders": 60,
        "max_order_rate": 500,
        "drawdown_limit": "100000",
    },
}


def parse(value: Any) -> Decimal:
    return D(value.value) if value.value else ZERO


@dataclass(frozen=True, slots=True)
class Print:
    price: Decimal
    max_fill: Decimal | None


class PricePath:
    """A seeded, volatile walk on the tick grid: jumps of up to ±`jump` per print within
    [low, high], each print capping fills at a random part of an order (partial fills)."""

    CAPS = (D("0.003"), D("0.005"), D("0.008"), None)

    def __init__(self, rng: random.Random, *, start: Decimal, low: Decimal, high: Decimal, jump: int) -> None:
        self._rng = rng
        self.price = start
        self._low = low
        self._high = high
        self._jump = jump

    def next(self) -> Print:
        step = D(self._rng.randint(-self._jump * 10, self._jump * 10)) / 10
        price = self.price + step
        if price < self._low or price > self._high:
            price = self.price - step
        self.price = price
        return Print(price, self._rng.choice(self.CAPS))


PrintFn = Callable[[Print], Awaitable[object]]


class PriceDriver:
    """Prints the path every `every_s` seconds in the background (the scenario's clock)."""

    def __init__(self, do_print: PrintFn, path: PricePath, *, every_s: float = 0.05) -> None:
        self._print = do_print
        self.path = path
        self._every = every_s
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.prints = 0

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        """Stop after the print under way (its fills are counted)."""
        if self._task is not None:
            self._stopping.set()
            await self._task
            self._task = None

    async def print_once(self, item: Print) -> None:
        await self._print(item)
        self.prints += 1

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self.print_once(self.path.next())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._every)


class StreamRecorder:
    """Records every order update and fill the connector streams, from before the first order.

    The connector is the sim venue in the sim scenarios and never dies there, so this is the
    venue's full history; `failures` says if a stream ended (then the record is incomplete).
    `held_fills` reads the connector's own record of every fill back at the end."""

    def __init__(self, channel: grpc.aio.Channel, strategy_id: str) -> None:
        self._stub: ExchangeServiceAsyncStub = exchange_service_pb2_grpc.ExchangeServiceStub(channel)
        self._strategy_id = strategy_id
        self.order_ids: dict[str, set[str]] = {}
        self.fills: dict[tuple[str, str], types_pb2.Fill] = {}
        self.all_fills = 0
        self.failures: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        ready = asyncio.get_running_loop().create_future()
        self._tasks = [
            asyncio.ensure_future(self._fills()),
            asyncio.ensure_future(self._orders(ready)),
        ]
        await asyncio.wait_for(ready, 30)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _orders(self, ready: asyncio.Future[None]) -> None:
        call = self._stub.StreamOrderUpdates(exchange_pb.StreamOrderUpdatesRequest(symbol=SYMBOL))
        try:
            async for message in call:
                kind = message.WhichOneof("event")
                if kind == "snapshot_end" and not ready.done():
                    ready.set_result(None)
                elif kind in ("update", "snapshot_order"):
                    order = getattr(message, kind)
                    if is_own_client_order_id(order.client_order_id, self._strategy_id):
                        self.order_ids.setdefault(order.client_order_id, set()).add(order.order_id)
            self.failures.append("recorder: the order stream ended")
        except grpc.aio.AioRpcError as exc:
            self.failures.append(f"recorder: the order stream failed: {exc.code().name}")

    async def _fills(self) -> None:
        call = self._stub.StreamFills(exchange_pb.StreamFillsRequest(symbol=SYMBOL))
        try:
            async for message in call:
                self.all_fills += 1
                fill = message.fill
                if is_own_client_order_id(fill.client_order_id, self._strategy_id):
                    self.fills[(fill.client_order_id, fill.trade_id)] = fill
            self.failures.append("recorder: the fill stream ended")
        except grpc.aio.AioRpcError as exc:
            self.failures.append(f"recorder: the fill stream failed: {exc.code().name}")


async def held_fills(exchange: ExchangeServiceAsyncStub, count: int) -> list[types_pb2.Fill]:
    """The first `count` fills the connector replays from the start (it holds 50,000)."""
    call = exchange.StreamFills(exchange_pb.StreamFillsRequest(symbol=SYMBOL, since_unix_ms=1))
    fills: list[types_pb2.Fill] = []
    try:
        async with asyncio.timeout(30):
            while len(fills) < count:
                message = await call.read()
                assert isinstance(message, exchange_pb.StreamFillsResponse), (
                    f"{len(fills)} of {count} fills held"
                )
                assert message.replayed, f"only {len(fills)} of {count} fills held"
                fills.append(message.fill)
    finally:
        call.cancel()
    return fills


def connector_placements(log: Path, strategy_id: str) -> Counter[str]:
    """Placements the connector got accepted by the venue, per client order id (its JSON log)."""
    counts: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            cid = record.get("client_order_id", "")
            if record.get("event") == "order_placed" and is_own_client_order_id(cid, strategy_id):
                counts[cid] += 1
    return counts


async def sim_book(
    exchange: ExchangeServiceAsyncStub,
    recorder: StreamRecorder,
    connector_log: Path,
    strategy_id: str,
) -> tuple[VenueBook, list[str]]:
    """The sim venue's book for `strategy_id` (every order the recorder saw, in its final state;
    every fill the connector holds; the position), and where the live record disagrees with it.
    (Whether a fill is missing from both shows in `fills_by_order`: an order's filled quantity
    is the venue's own sum of its fills.)"""
    orders: dict[str, VenueOrderFact] = {}
    for cid in sorted(recorder.order_ids):
        response = await exchange.GetOrder(exchange_pb.GetOrderRequest(symbol=SYMBOL, client_order_id=cid))
        order = response.order
        orders[cid] = VenueOrderFact(
            client_order_id=cid,
            order_id=order.order_id,
            side=SIDE.from_proto(order.side, "side"),
            price=parse(order.price),
            quantity=parse(order.quantity),
            filled=parse(order.filled_quantity),
            status=ORDER_STATUS.from_proto(order.status, "status"),
        )
    held = await held_fills(exchange, recorder.all_fills)
    fills = {
        (fill.client_order_id, fill.trade_id): VenueFillFact(
            fill.trade_id,
            fill.client_order_id,
            SIDE.from_proto(fill.side, "side"),
            parse(fill.price),
            parse(fill.quantity),
        )
        for fill in held
        if is_own_client_order_id(fill.client_order_id, strategy_id)
    }
    failures = list(recorder.failures)
    if set(fills) != set(recorder.fills):
        failures.append(
            f"venue: the live fill record differs from the connector's: {set(fills) ^ set(recorder.fills)}"
        )
    positions = await exchange.GetPositions(exchange_pb.GetPositionsRequest(symbol=SYMBOL))
    position = sum((parse(p.quantity) for p in positions.positions if p.symbol == SYMBOL), ZERO)
    book = VenueBook(
        orders=orders,
        fills=fills,
        position=position,
        order_ids={cid: set(ids) for cid, ids in recorder.order_ids.items()},
        placements=connector_placements(connector_log, strategy_id),
    )
    return book, failures


@dataclass
class EngineView:
    """What the running engine says: its status and the orders its slots hold."""

    status: engine_types.EngineStatus
    slot_ids: set[str]
    slot_positions: dict[int, Decimal]


@dataclass
class ChaosSystem:
    data_dir: Path
    database_url: str
    connector: Service
    risk: Service
    engine: Service
    _channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)

    # ---- assembly ----------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        data_dir: Path,
        database_url: str,
        *,
        connector_argv: Callable[[str], list[str]] | None = None,
        connector_env: Mapping[str, str] | None = None,
        engine_config: Mapping[str, Any] | None = None,
    ) -> ChaosSystem:
        """Connector (`--exchange sim` unless `connector_argv(listen)` gives its flags), risk, engine."""
        address = {name: f"127.0.0.1:{free_port()}" for name in ("connector", "risk", "engine")}
        (data_dir / "engine.yaml").write_text(
            yaml.safe_dump({**CHAOS_ENGINE_CONFIG, **(engine_config or {})})
        )
        (data_dir / "risk.yaml").write_text(yaml.safe_dump(CHAOS_RISK_CONFIG))
        logs = ["--log-format", "json"]
        connector = Service(
            "connector",
            "opensqt_connector",
            [
                *(
                    connector_argv(address["connector"])
                    if connector_argv is not None
                    else ["--exchange", "sim", "--listen", address["connector"]]
                ),
                *logs,
            ],
            data_dir / "connector.log",
            address["connector"],
            "opensqt.exchange.v1.ExchangeService",
            env=dict(connector_env or {}),
        )
        risk = Service(
            "risk",
            "opensqt_risk",
            [
                "--listen",
                address["risk"],
                "--connector",
                address["connector"],
                "--config",
                str(data_dir / "risk.yaml"),
                "--audit-log",
                str(data_dir / "risk-audit.jsonl"),
                "--account-poll-seconds",
                "0.2",
                "--reconnect-initial-seconds",
                "0.05",
                "--reconnect-max-seconds",
                "0.2",
                *logs,
            ],
            data_dir / "risk.log",
            address["risk"],
            "opensqt.risk.v1.RiskService",
        )
        engine = Service(
            "engine",
            "opensqt_engine",
            [
                "--listen",
                address["engine"],
                "--connector",
                address["connector"],
                "--risk",
                address["risk"],
                "--config",
                str(data_dir / "engine.yaml"),
                "--audit-log",
                str(data_dir / "engine-audit.jsonl"),
                "--database-url",
                database_url,
                "--journal",
                "durable",
                "--reconnect-initial-seconds",
                "0.05",
                "--reconnect-max-seconds",
                "0.2",
                "--lookup-delay-seconds",
                "0.1",
                "--connector-timeout-seconds",
                "2",
                "--shutdown-timeout-seconds",
                "10",
                *logs,
            ],
            data_dir / "engine.log",
            address["engine"],
            "opensqt.engine.v1.EngineService",
        )
        return cls(data_dir, database_url, connector, risk, engine)

    def channel(self, service: Service) -> grpc.aio.Channel:
        """One channel per service for the whole test (it reconnects to a restarted one)."""
        channel = self._channels.get(service.name)
        if channel is None:
            channel = grpc.aio.insecure_channel(service.address, options=FAST_RECONNECT)
            self._channels[service.name] = channel
        return channel

    def exchange(self) -> ExchangeServiceAsyncStub:
        stub: ExchangeServiceAsyncStub = exchange_service_pb2_grpc.ExchangeServiceStub(
            self.channel(self.connector)
        )
        return stub

    def engine_stub(self) -> EngineServiceAsyncStub:
        stub: EngineServiceAsyncStub = engine_service_pb2_grpc.EngineServiceStub(self.channel(self.engine))
        return stub

    def logs(self) -> str:
        return "\n".join(f"--- {s.name}\n{s.tail()}" for s in (self.connector, self.risk, self.engine))

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start_connector(self) -> None:
        await self.connector.start()
        await self.connector.wait_serving()

    async def start_risk(self) -> None:
        await self.risk.start()
        await self.risk.wait_serving()

    async def start_engine(self, *, crash_at: str = "") -> None:
        """Spawn the engine (with a test-only crash point when `crash_at` is set)."""
        env = {"OPENSQT_ENGINE_CRASH_AT": crash_at} if crash_at else {}
        await self.engine.start(env)

    async def wait_engine_running(self, timeout: float = 60.0) -> float:
        """Seconds from the engine's spawn until it reports RUNNING with risk connected."""
        stub = self.engine_stub()
        seen = engine_types.EngineStatus()

        async def running() -> bool:
            nonlocal seen
            if not self.engine.running:
                raise AssertionError(f"the engine exited ({self.engine.returncode}):\n{self.engine.tail()}")
            try:
                seen = (await stub.GetStatus(engine_pb.GetStatusRequest(), timeout=1)).status
            except grpc.aio.AioRpcError:
                return False
            return seen.state == RUNNING and seen.risk_connected and seen.connector_connected

        try:
            await eventually(running, timeout=timeout, interval=0.02, message="engine RUNNING")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last status: {seen}\n{self.logs()}") from None
        started: float = self.engine.started_at
        return time.monotonic() - started

    async def engine_view(self) -> EngineView:
        stub = self.engine_stub()
        status = (await stub.GetStatus(engine_pb.GetStatusRequest(), timeout=5)).status
        slots = (await stub.ListSlots(engine_pb.ListSlotsRequest(), timeout=5)).slots
        live = {engine_types.SLOT_STATUS_PENDING, engine_types.SLOT_STATUS_LOCKED}
        return EngineView(
            status,
            {s.client_order_id for s in slots if s.status in live},
            {s.level_index: parse(s.position_quantity) for s in slots if parse(s.position_quantity)},
        )

    async def own_open_orders(self) -> set[str]:
        response = await self.exchange().ListOpenOrders(
            exchange_pb.ListOpenOrdersRequest(symbol=SYMBOL), timeout=5
        )
        return {
            o.client_order_id for o in response.orders if is_own_client_order_id(o.client_order_id, STRATEGY)
        }

    async def venue_position(self) -> Decimal:
        response = await self.exchange().GetPositions(
            exchange_pb.GetPositionsRequest(symbol=SYMBOL), timeout=5
        )
        return sum((parse(p.quantity) for p in response.positions if p.symbol == SYMBOL), ZERO)

    async def wait_settled(self, timeout: float = 60.0) -> EngineView:
        """Wait (prices still) until the engine and the venue agree: RUNNING, no order in
        flight, the venue's open orders are the slots' orders, and the positions match."""
        view: EngineView | None = None
        venue_open: set[str] = set()
        position = ZERO

        async def settled() -> bool:
            nonlocal view, venue_open, position
            view = await self.engine_view()
            venue_open = await self.own_open_orders()
            position = await self.venue_position()
            return (
                view.status.state == RUNNING
                and view.status.slots_pending == 0
                and venue_open == view.slot_ids
                and parse(view.status.position) == position
            )

        try:
            await eventually(settled, timeout=timeout, interval=0.1, message="engine and venue settled")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}; venue open {sorted(venue_open)}, position {position}; engine {view}\n{self.logs()}"
            ) from None
        assert view is not None
        return view

    # ---- the sim venue -----------------------------------------------------------------------

    async def sim_print(self, item: Print) -> int:
        stub = sim_service_pb2_grpc.SimControlServiceStub(self.channel(self.connector))
        request = sim_service_pb2.SetPriceRequest(symbol=SYMBOL, price=dec(item.price), volume=dec("0"))
        if item.max_fill is not None:
            request.max_fill_quantity.CopyFrom(dec(item.max_fill))
        response = await stub.SetPrice(request, timeout=5)
        return int(response.fills)

    async def stop_random_walk(self) -> None:
        stub = sim_service_pb2_grpc.SimControlServiceStub(self.channel(self.connector))
        await stub.SetPriceFeed(sim_service_pb2.SetPriceFeedRequest(running=False))

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
        for service in (self.engine, self.risk, self.connector):
            if service.running:
                await service.kill()


@asynccontextmanager
async def sim_system(data_dir: Path, database_url: str) -> AsyncIterator[tuple[ChaosSystem, StreamRecorder]]:
    """Connector (sim, random walk off, price 60,000), a recorder on its streams, risk; the
    engine is started by the test. Everything is killed at the end."""
    system = ChaosSystem.build(data_dir, database_url)
    recorder: StreamRecorder | None = None
    try:
        await system.start_connector()
        await system.stop_random_walk()
        await system.sim_print(Print(D(60000), None))
        recorder = StreamRecorder(system.channel(system.connector), STRATEGY)
        await recorder.start()
        await system.start_risk()
        yield system, recorder
    finally:
        if recorder is not None:
            await recorder.stop()
        await system.close()


def replica_book(core: Any, strategy_id: str) -> VenueBook:
    """A venue replica's book for `strategy_id`, read from its matching core (`ReplicaCore`):
    every order it ever accepted (one entry per accepted placement), every fill, the position."""
    orders: dict[str, VenueOrderFact] = {}
    order_ids: dict[str, set[str]] = {}
    placements: Counter[str] = Counter()
    for venue_order in core.orders(SYMBOL):
        info = venue_order.info
        if not is_own_client_order_id(info.client_order_id, strategy_id):
            continue
        placements[info.client_order_id] += 1
        order_ids.setdefault(info.client_order_id, set()).add(venue_order.venue_id)
        orders[info.client_order_id] = VenueOrderFact(
            info.client_order_id,
            venue_order.venue_id,
            info.side,
            info.price,
            info.quantity,
            info.filled_quantity,
            info.status,
        )
    fills = {
        (fill.client_order_id, fill.trade_id): VenueFillFact(
            fill.trade_id, fill.client_order_id, fill.side, fill.price, fill.quantity
        )
        for fill in core.fills(SYMBOL)
        if is_own_client_order_id(fill.client_order_id, strategy_id)
    }
    position = sum((p.quantity for p in core.positions(SYMBOL)), ZERO)
    return VenueBook(orders, fills, position, order_ids, placements)


async def settle_and_stop(system: ChaosSystem, driver: PriceDriver) -> EngineView:
    """End of a chaos run: prices stop, the engine and the venue converge, SIGTERM (exit 0)."""
    await driver.stop()
    await driver.print_once(Print(driver.path.price, None))
    view = await system.wait_settled()
    code = await system.engine.terminate()
    assert code == 0, f"the engine exited {code} on SIGTERM:\n{system.engine.tail()}"
    return view
