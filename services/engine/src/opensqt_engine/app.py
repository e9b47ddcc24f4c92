"""Assembly: settings + grid config → channels, journal, audit, metrics → gRPC server + engine.

`EngineApp` is what `__main__` runs and what tests start in-process (port 0):

    app = EngineApp(settings, config)
    await app.start()            # audit log open, server bound and SERVING, start-up begins
    await app.wait_ready()       # recovered, streams open, reconciled: trading
    ... app.address ...
    await app.stop()             # cancels our orders (cancel_on_exit), saves, closes

The server answers at once (GetStatus says STARTING) while the engine starts in the
background: it waits for the connector, reads the market's rules, runs risk's start-up
checks, recovers its journal and reconciles. A start-up that cannot succeed (unknown
symbol, wrong market type, failed start-up checks, a corrupt snapshot) stops the process
with the reason (`failed`), and `__main__` exits non-zero.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import time
from decimal import Decimal
from typing import Any

import grpc
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from pydantic import SecretStr

from opensqt.common.v1 import common_pb2
from opensqt.engine.v1 import engine_service_pb2, engine_service_pb2_grpc
from opensqt_common.channels import CHANNEL_OPTIONS, open_channel
from opensqt_common.enums import MarketType
from opensqt_common.errors import ServiceError
from opensqt_common.logging import get_logger
from opensqt_common.server import AUTH_METADATA_KEY, GrpcServer, read_token_file, run_until_signal
from opensqt_engine.audit import AuditLog
from opensqt_engine.config import EngineConfig
from opensqt_engine.core import ConfigError, GridStrategy, Slot
from opensqt_engine.journal import EngineJournal, MemoryJournal
from opensqt_engine.metrics import EngineMetrics
from opensqt_engine.runtime import convert
from opensqt_engine.runtime.crashpoints import CrashPoints
from opensqt_engine.runtime.durability import Durability, DurableOptions, GatewayVenue
from opensqt_engine.runtime.engine import (
    TRACER_NAME,
    CancelAllResult,
    Engine,
    EngineOptions,
    EngineState,
    StatusView,
)
from opensqt_engine.runtime.events import EventHub, Subscriber
from opensqt_engine.runtime.gateway import ConnectorGateway, GatewayError, RiskGateway, describe_checks
from opensqt_engine.runtime.links import Backoff
from opensqt_engine.service import EngineServicer
from opensqt_engine.settings import EngineSettings

_log = get_logger(__name__)

SERVICE_NAME = "opensqt-engine"
ENGINE_SERVICE = engine_service_pb2.DESCRIPTOR.services_by_name["EngineService"].full_name
SHUTDOWN_MARGIN_S = 10.0


class EngineStartError(RuntimeError):
    """The engine cannot start (bad files, unknown symbol, failed start-up checks, ...)."""


class NotReady(ServiceError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = common_pb2.ERROR_REASON_UNSPECIFIED


def _metadata(token: SecretStr | None) -> tuple[tuple[str, str], ...]:
    if token is None:
        return ()
    return ((AUTH_METADATA_KEY, f"Bearer {token.get_secret_value()}"),)


class EngineApp:
    def __init__(
        self,
        settings: EngineSettings,
        config: EngineConfig,
        *,
        journal: EngineJournal | None = None,
        meter_provider: otel_metrics.MeterProvider | None = None,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        try:
            self._server_token = (
                read_token_file(settings.auth_token_file) if settings.auth_token_file else None
            )
            connector_token = (
                read_token_file(settings.connector_auth_token_file)
                if settings.connector_auth_token_file
                else None
            )
            risk_token = (
                read_token_file(settings.risk_auth_token_file) if settings.risk_auth_token_file else None
            )
        except (OSError, ValueError) as exc:
            raise EngineStartError(f"cannot read a token file: {exc}") from exc
        try:
            self._crash = CrashPoints.from_env()  # test-only; see runtime/crashpoints.py
        except ValueError as exc:
            raise EngineStartError(str(exc)) from None
        self._connector_metadata = _metadata(connector_token)
        self._risk_metadata = _metadata(risk_token)
        # Unary calls go through the instrumented channels; the hot-path streams through plain
        # ones (trace context travels inside the messages), with the token as call metadata.
        self.connector_channel = open_channel(settings.connector, auth_token=connector_token)
        self.risk_channel = open_channel(settings.risk, auth_token=risk_token)
        self.connector_streams = grpc.aio.insecure_channel(settings.connector, options=list(CHANNEL_OPTIONS))
        self.risk_streams = grpc.aio.insecure_channel(settings.risk, options=list(CHANNEL_OPTIONS))
        timeout = settings.connector_timeout_seconds
        self.gateway = ConnectorGateway(self.connector_channel, config.symbol, timeout_s=timeout)
        self.risk_gateway = RiskGateway(self.risk_channel, timeout_s=timeout)
        self.audit = AuditLog(settings.audit_log)
        self.events = EventHub(settings.event_queue_size)
        self.metrics = EngineMetrics(config.symbol, meter_provider)
        self.tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(TRACER_NAME)
        self._journal = journal
        self._durability: Durability | None = None
        self.engine: Engine | None = None
        self.server: GrpcServer | None = None
        self.failed: BaseException | None = None
        self.phase = "starting"
        self._boot: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._stopped = False
        self._ready = asyncio.Event()
        self._started_ns = 0
        self._fee_assets: frozenset[str] = frozenset()
        self._base_asset = ""

    # ---- lifecycle --------------------------------------------------------------------------

    async def start(self) -> int:
        """Open the audit log and serve; the engine starts in the background. Returns the port."""
        try:
            self.audit.open()
        except OSError as exc:
            await self._close_channels()
            raise EngineStartError(str(exc)) from exc
        try:
            server = GrpcServer(
                listen=self.settings.listen, service_names=[ENGINE_SERVICE], auth_token=self._server_token
            )
            engine_service_pb2_grpc.add_EngineServiceServicer_to_server(EngineServicer(self), server.grpc)
            port = await server.start()
        except Exception as exc:
            self.audit.close()
            await self._close_channels()
            raise EngineStartError(f"cannot serve on {self.settings.listen} ({exc})") from exc
        self.server = server
        self._started_ns = time.time_ns()
        self._boot = asyncio.ensure_future(self._start_engine())
        _log.info(
            "listening",
            address=server.address,
            port=port,
            connector=self.settings.connector,
            risk=self.settings.risk,
            symbol=self.config.symbol,
            strategy_id=self.config.strategy_id,
            audit_log=str(self.settings.audit_log),
        )
        return port

    @property
    def address(self) -> str:
        assert self.server is not None, "start() first"
        return self.server.address

    async def wait_ready(self, timeout: float = 30.0) -> Engine:
        """Wait until the engine trades (recovered and reconciled); raise if the start failed."""
        stop = asyncio.ensure_future(self._stop.wait())
        ready = asyncio.ensure_future(self._ready.wait())
        try:
            await asyncio.wait((stop, ready), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            ready.cancel()
        if self.failed is not None:
            raise EngineStartError(str(self.failed)) from self.failed
        if self.engine is None or not self._ready.is_set():
            raise TimeoutError(f"the engine was not ready within {timeout} s ({self.phase})")
        return self.engine

    async def serve_until_signal(self) -> None:
        """Serve until SIGTERM/SIGINT (or a failed start), then shut down gracefully."""
        assert self.server is not None, "start() first"
        try:
            await run_until_signal(
                self.server,
                on_shutdown=self._shutdown,
                stop_event=self._stop,
                shutdown_timeout=self.settings.shutdown_timeout_seconds + SHUTDOWN_MARGIN_S,
            )
        finally:
            await self._close()

    async def stop(self) -> None:
        """Stop serving and release everything (for in-process use)."""
        if self.server is not None:
            await self.server.set_serving(False)
            await self._shutdown()
            await self.server.stop(grace=1.0)
        await self._close()

    async def _shutdown(self) -> None:
        if self._boot is not None and not self._boot.done():
            self._boot.cancel()
            await asyncio.gather(self._boot, return_exceptions=True)
        if self.engine is not None:
            await self.engine.stop()
        self.events.close()

    async def _close(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._durability is not None:
            try:
                await self._durability.close()
            except Exception:
                _log.exception("durable_close_failed")
        if self._journal is not None:
            try:
                await self._journal.close()
            except Exception:
                _log.exception("journal_close_failed")
        await self._close_channels()
        self.audit.close()

    async def _close_channels(self) -> None:
        for channel in (self.connector_streams, self.risk_streams, self.connector_channel, self.risk_channel):
            await channel.close()

    # ---- start-up ---------------------------------------------------------------------------

    async def _start_engine(self) -> None:
        try:
            journal = await self._open_journal()
            await self._open_durability(journal)
            strategy = await self._strategy()
            await self._startup_checks()
            self.phase = "recovering"
            engine = Engine(
                strategy,
                self._options(),
                journal=journal,
                gateway=self.gateway,
                connector_channel=self.connector_streams,
                risk_channel=self.risk_streams,
                connector_metadata=self._connector_metadata,
                risk_metadata=self._risk_metadata,
                audit=self.audit,
                metrics=self.metrics,
                events=self.events,
                tracer=self.tracer,
                durability=self._durability,
                crash=self._crash,
            )
            self.engine = engine  # from here on, a shutdown stops it (whatever it had started)
            await engine.start()
            self.phase = "reconciling"
            await engine.ready.wait()
            self.phase = "running"
            self._ready.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.failed = exc
            _log.error("engine_start_failed", error=str(exc))
            self.audit.write("alert", detail=f"start failed: {exc}")
            self._stop.set()

    async def _open_journal(self) -> EngineJournal:
        if self._journal is not None:
            return self._journal
        kind = self.settings.journal
        if kind == "memory":
            self._journal = MemoryJournal()
            return self._journal
        try:
            durable: Any = importlib.import_module("opensqt_engine.durable")
        except ModuleNotFoundError as exc:
            if exc.name != "opensqt_engine.durable":
                raise EngineStartError(f"the durable store cannot be loaded: {exc}") from exc
            durable = None
        opener = getattr(durable, "open_journal", None)
        if opener is None:
            if kind == "durable":
                raise EngineStartError(
                    "--journal durable: the durable store (opensqt_engine.durable) is not installed"
                )
            _log.warning(
                "journal_in_memory", detail="no durable store installed: state does not survive a restart"
            )
            self._journal = MemoryJournal()
            return self._journal
        opened: Any = opener(self.settings.database_url)
        if inspect.isawaitable(opened):
            opened = await opened
        self._journal = opened
        return opened  # type: ignore[no-any-return]

    async def _open_durability(self, journal: EngineJournal) -> None:
        """With the durable store: claim the strategy id (one engine per strategy), then launch
        DBOS, which resumes this engine's unfinished workflows (docs/adr/005)."""
        from opensqt_engine.durable import SqlJournal, StrategyBusyError

        if not isinstance(journal, SqlJournal):
            return
        self.phase = "claiming the strategy"
        settings = self.settings
        options = DurableOptions(
            settle_ms=round(settings.order_settle_seconds * 1000),
            ack_timeout_s=settings.order_ack_timeout_seconds,
            shutdown_timeout_s=settings.shutdown_timeout_seconds,
            claim_timeout_s=settings.claim_timeout_seconds,
        )
        try:
            self._durability = await Durability.open(
                journal,
                strategy_id=self.config.strategy_id,
                symbol=self.config.symbol,
                venue=GatewayVenue(self.gateway),
                options=options,
            )
        except StrategyBusyError as exc:
            raise EngineStartError(f"strategy_id: {exc}") from None

    async def _strategy(self) -> GridStrategy:
        self.phase = "waiting for the connector"
        backoff = Backoff(self.settings.reconnect_initial_seconds, self.settings.reconnect_max_seconds)
        while True:
            try:
                market = await self.gateway.market()
                break
            except GatewayError as exc:
                if not exc.unreachable:
                    raise EngineStartError(
                        f"symbol: the connector does not serve {self.config.symbol} ({exc})"
                    ) from None
                delay = backoff.next_delay()
                _log.warning("connector_unreachable", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
        try:
            convert.check_market(market, self.config.market_type)
            rules = convert.market_rules(market)
            strategy = GridStrategy(self.config.grid_config(), rules)
        except (ValueError, ConfigError) as exc:
            raise EngineStartError(f"config does not fit {self.config.symbol}: {exc}") from None
        if strategy.config.price_interval % rules.tick_size:
            _log.warning(
                "interval_not_on_tick",
                price_interval=str(strategy.config.price_interval),
                tick_size=str(rules.tick_size),
                detail="levels are rounded to the tick",
            )
        self._fee_assets = frozenset(a for a in (market.quote, market.settle) if a)
        self._base_asset = market.base if self.config.market_type is MarketType.SPOT else ""
        return strategy

    async def _startup_checks(self) -> None:
        if not self.settings.startup_checks:
            return
        self.phase = "start-up checks"
        try:
            response = await self.risk_gateway.check_startup(
                self.config.symbol, self.config.order_amount, self.config.price_interval
            )
        except GatewayError as exc:
            _log.warning(
                "startup_checks_skipped",
                error=str(exc),
                detail="risk did not answer; opening orders wait for risk anyway",
            )
            return
        if not response.ok:
            failures = "\n  ".join(describe_checks(response))
            raise EngineStartError(f"risk start-up checks failed:\n  {failures}")

    def _options(self) -> EngineOptions:
        config = self.config
        settings = self.settings
        return EngineOptions(
            symbol=config.symbol,
            strategy_id=config.strategy_id,
            market=config.market_type,
            fee_assets=self._fee_assets,
            base_asset=self._base_asset,
            reconcile_seconds=float(config.reconcile_seconds),
            cancel_on_exit=config.cancel_on_exit,
            order_rate=float(config.order_rate),
            order_burst=config.order_burst,
            snapshot_interval_s=settings.snapshot_interval_seconds,
            lookup_delay_s=settings.lookup_delay_seconds,
            shutdown_timeout_s=settings.shutdown_timeout_seconds,
            reconnect_initial_s=settings.reconnect_initial_seconds,
            reconnect_max_s=settings.reconnect_max_seconds,
            inbox_size=settings.inbox_size,
            lifecycle_grace_s=settings.order_lifecycle_grace_seconds,
        )

    # ---- EngineControl (the servicer's view) ------------------------------------------------

    def status(self) -> StatusView:
        if self.engine is not None:
            return self.engine.status()
        config = self.config
        detail = self.phase if self.failed is None else f"start failed: {self.failed}"
        zero = Decimal(0)
        return StatusView(
            strategy_id=config.strategy_id,
            symbol=config.symbol,
            state=EngineState.STARTING,
            risk_state=None,
            risk_connected=False,
            connector_connected=False,
            last_price=None,
            anchor=None,
            price_interval=config.price_interval,
            order_amount=config.order_amount,
            position=zero,
            realized_pnl=zero,
            fees_paid=zero,
            open_orders=0,
            slots_free=0,
            slots_pending=0,
            slots_locked=0,
            fills=0,
            started_ns=self._started_ns,
            detail=detail,
        )

    def slots(self) -> list[Slot]:
        return self.engine.slots() if self.engine is not None else []

    def _running(self) -> Engine:
        engine = self.engine
        if engine is None or not self._ready.is_set():
            raise NotReady(f"the engine is not trading yet ({self.phase})")
        if engine.engine_state is EngineState.STOPPING:
            raise NotReady("the engine is stopping")
        return engine

    async def pause(self, reason: str) -> None:
        await self._running().pause(reason)

    async def resume(self, reason: str) -> None:
        await self._running().resume(reason)

    async def cancel_all(self, reason: str) -> CancelAllResult:
        return await self._running().cancel_all(reason)

    def subscribe(self) -> Subscriber:
        return self.events.subscribe()
