"""Assembly: settings → venue (wrapped for resilience) → hub, order entry → gRPC server.

`Connector` is what `__main__` runs and what tests start in-process (port 0):

    connector = Connector(settings)
    await connector.start()          # venue started, server bound
    ... connector.address ...
    await connector.stop()
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from opentelemetry import metrics as otel_metrics
from opentelemetry import trace as otel_trace

from opensqt.exchange.v1 import exchange_service_pb2, exchange_service_pb2_grpc
from opensqt.sim.v1 import sim_service_pb2
from opensqt_common.logging import get_logger
from opensqt_common.server import GrpcServer, TlsFiles, read_token_file, run_until_signal
from opensqt_connector.hubs import EventHub
from opensqt_connector.metrics import ConnectorMetrics
from opensqt_connector.models import KlineInterval
from opensqt_connector.orders import OrderEntry, OrderLimiter
from opensqt_connector.resilience import BreakerState, CircuitBreaker, ResilientVenue, RetryPolicy
from opensqt_connector.service import ExchangeServicer
from opensqt_connector.settings import ConnectorSettings, VenueCredentials
from opensqt_connector.tracing import OrderTracer
from opensqt_connector.venue import VenueAdapter

if TYPE_CHECKING:
    from opensqt_connector.sim.adapter import SimVenue

_log = get_logger(__name__)

SERVICE_NAME = "opensqt-connector"
EXCHANGE_SERVICE = exchange_service_pb2.DESCRIPTOR.services_by_name["ExchangeService"].full_name
SIM_CONTROL_SERVICE = sim_service_pb2.DESCRIPTOR.services_by_name["SimControlService"].full_name
VENUE_START_TIMEOUT_S = 60.0


class ConnectorStartError(RuntimeError):
    """The connector could not start (bad configuration, venue unreachable, port taken)."""


def build_sim_venue(settings: ConnectorSettings) -> SimVenue:
    """The built-in simulator as the flags describe it."""
    from opensqt_connector.sim import RandomWalkConfig, ReplayConfig, SimVenue, parse_faults

    price_feed: RandomWalkConfig | ReplayConfig
    if settings.sim_data is not None:
        price_feed = ReplayConfig(settings.sim_data, speed=settings.sim_speed)
    else:
        step_ms = max(1, round(RandomWalkConfig().step_ms / settings.sim_speed))
        price_feed = RandomWalkConfig(step_ms=step_ms)
    faults = parse_faults(settings.sim_faults) if settings.sim_faults else None
    return SimVenue(
        settings.symbol_list,
        seed=settings.sim_seed,
        price_feed=price_feed,
        faults=faults,
        spot_fees_in_base=settings.sim_spot_fees_in_base,
    )


class Connector:
    """One connector: a venue behind ExchangeService (and SimControlService on sim)."""

    def __init__(
        self,
        settings: ConnectorSettings,
        credentials: VenueCredentials | None = None,
        *,
        meter_provider: otel_metrics.MeterProvider | None = None,
        tracer_provider: otel_trace.TracerProvider | None = None,
        retry_policy: RetryPolicy | None = None,
        breaker_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._credentials = credentials or VenueCredentials()
        self.metrics = ConnectorMetrics(settings.exchange, meter_provider)
        self.metrics.known_breaker_states(state.value for state in BreakerState)
        self.tracer = OrderTracer(settings.exchange, tracer_provider)
        self.hub = EventHub(self.metrics)
        self._sim: SimVenue | None = None
        self.resilient = ResilientVenue(
            self._build_raw_venue(),
            retry_policy or RetryPolicy(max_attempts=settings.venue_max_attempts),
            CircuitBreaker(
                settings.exchange,
                failure_threshold=settings.breaker_failures,
                cooldown_s=settings.breaker_cooldown_ms / 1000,
                clock=breaker_clock,
                on_change=self._breaker_changed,
            ),
        )
        self.venue: VenueAdapter = self.resilient
        self.entry = OrderEntry(self.venue, self.hub, self.metrics, self._limiter(), self.tracer)
        self.server: GrpcServer | None = None
        self._started = False

    def _build_raw_venue(self) -> VenueAdapter:
        if self.settings.exchange == "sim":
            self._sim = build_sim_venue(self.settings)
            return self._sim
        from opensqt_connector.ccxt_venue.adapter import CcxtVenue

        return CcxtVenue.from_settings(self.settings, self._credentials)

    def _breaker_changed(self, old: BreakerState, new: BreakerState) -> None:
        self.metrics.breaker_transition(new.value)

    def _limiter(self) -> OrderLimiter | None:
        if self.settings.order_rate == 0:
            return None
        return OrderLimiter(
            self.settings.order_rate, self.settings.order_burst, self.settings.order_queue_ms / 1000
        )

    @property
    def kline_interval(self) -> KlineInterval:
        return KlineInterval(self.settings.kline_interval)

    async def start(self) -> int:
        """Start the venue, then serve; returns the bound port."""
        try:
            await asyncio.wait_for(self.venue.start(self.hub, self.kline_interval), VENUE_START_TIMEOUT_S)
            for order in await self.venue.fetch_open_orders(None):
                self.hub.on_order(order)
        except Exception as exc:
            await self.venue.close()
            raise ConnectorStartError(f"{self.settings.exchange}: venue did not start ({exc})") from exc
        try:
            self.server = self._build_server()
            port = await self.server.start()
        except Exception as exc:
            await self.venue.close()
            raise ConnectorStartError(f"cannot serve on {self.settings.listen} ({exc})") from exc
        self._started = True
        _log.info(
            "listening",
            address=self.server.address,
            port=port,
            exchange=self.settings.exchange,
            market=self.settings.market,
            symbols=list(self.venue.markets()),
            tls=self.settings.tls_cert is not None,
            auth=self.settings.auth_token_file is not None,
        )
        return port

    def _build_server(self) -> GrpcServer:
        settings = self.settings
        names = [EXCHANGE_SERVICE] + ([SIM_CONTROL_SERVICE] if self._sim is not None else [])
        tls = (
            TlsFiles(settings.tls_cert, settings.tls_key) if settings.tls_cert and settings.tls_key else None
        )
        token = read_token_file(settings.auth_token_file) if settings.auth_token_file else None
        server = GrpcServer(listen=settings.listen, service_names=names, tls=tls, auth_token=token)
        servicer = ExchangeServicer(self.venue, self.hub, self.entry, self.kline_interval, self.tracer)
        exchange_service_pb2_grpc.add_ExchangeServiceServicer_to_server(servicer, server.grpc)
        if self._sim is not None:
            from opensqt_connector.sim.control import add_sim_control

            add_sim_control(server.grpc, self._sim)
        return server

    @property
    def port(self) -> int:
        assert self.server is not None, "start() first"
        return self.server.port

    @property
    def address(self) -> str:
        assert self.server is not None, "start() first"
        return self.server.address

    async def serve_until_signal(self, stop_event: asyncio.Event | None = None) -> None:
        """Serve until SIGTERM/SIGINT (or `stop_event`), then shut down gracefully."""
        assert self.server is not None, "start() first"
        try:
            await run_until_signal(self.server, on_shutdown=self._drain, stop_event=stop_event)
        finally:
            await self._close_venue()

    async def stop(self) -> None:
        """Stop serving and close the venue (for in-process use)."""
        if self.server is not None:
            await self.server.set_serving(False)
            await self._drain()
            await self.server.stop(grace=1.0)
        await self._close_venue()

    async def _drain(self) -> None:
        self.hub.close()

    async def _close_venue(self) -> None:
        if self._started:
            self._started = False
            await self.venue.close()
