"""Assembly: settings + config → runtime (rules, audit, metrics, tracer) → gRPC server + feeds.

`RiskApp` is what `__main__` runs and what tests start in-process (port 0):

    app = RiskApp(settings, config)
    await app.start()            # audit log open, server bound and SERVING, feeds started
    ... app.address ...
    await app.stop()

The server serves at once, whether or not the connector is reachable: until market
data arrives every opening order is vetoed (STALE_MARKET_DATA, or UNKNOWN_SYMBOL for a
symbol not yet discovered), and the feeds keep retrying in the background.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from opentelemetry import metrics as otel_metrics
from opentelemetry import trace

from opensqt.risk.v1 import risk_service_pb2, risk_service_pb2_grpc
from opensqt_common.channels import open_channel
from opensqt_common.logging import get_logger
from opensqt_common.server import GrpcServer, read_token_file, run_until_signal
from opensqt_risk.audit import AuditLog
from opensqt_risk.config import RiskConfig
from opensqt_risk.connector import ConnectorGateway
from opensqt_risk.feeds import ConnectorFeeds
from opensqt_risk.metrics import RiskMetrics
from opensqt_risk.runtime import TRACER_NAME, RiskRuntime
from opensqt_risk.service import RiskServicer
from opensqt_risk.settings import RiskSettings

_log = get_logger(__name__)

SERVICE_NAME = "opensqt-risk"
RISK_SERVICE = risk_service_pb2.DESCRIPTOR.services_by_name["RiskService"].full_name


class RiskStartError(RuntimeError):
    """The service could not start (audit log not writable, port taken, bad token file)."""


class RiskApp:
    def __init__(
        self,
        settings: RiskSettings,
        config: RiskConfig,
        *,
        clock: Callable[[], int] = time.time_ns,
        meter_provider: otel_metrics.MeterProvider | None = None,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        try:
            connector_token = (
                read_token_file(settings.connector_auth_token_file)
                if settings.connector_auth_token_file
                else None
            )
            self._server_token = (
                read_token_file(settings.auth_token_file) if settings.auth_token_file else None
            )
        except (OSError, ValueError) as exc:
            raise RiskStartError(f"cannot read a token file: {exc}") from exc
        self.channel = open_channel(settings.connector, auth_token=connector_token)
        self.gateway = ConnectorGateway(self.channel, timeout_s=settings.connector_timeout_seconds)
        self.audit = AuditLog(settings.audit_log)
        tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(TRACER_NAME)
        self.runtime = RiskRuntime(
            settings,
            config,
            gateway=self.gateway,
            audit=self.audit,
            metrics=RiskMetrics(meter_provider),
            tracer=tracer,
            clock=clock,
        )
        self.feeds = ConnectorFeeds(self.runtime, self.gateway, settings)
        self.server: GrpcServer | None = None
        self._closed = False

    async def start(self) -> int:
        """Open the audit log, serve, start the feeds; returns the bound port."""
        try:
            self.audit.open()
        except OSError as exc:
            await self.channel.close()
            raise RiskStartError(str(exc)) from exc
        try:
            server = GrpcServer(
                listen=self.settings.listen, service_names=[RISK_SERVICE], auth_token=self._server_token
            )
            risk_service_pb2_grpc.add_RiskServiceServicer_to_server(RiskServicer(self.runtime), server.grpc)
            port = await server.start()
        except Exception as exc:
            self.audit.close()
            await self.channel.close()
            raise RiskStartError(f"cannot serve on {self.settings.listen} ({exc})") from exc
        self.server = server
        self.feeds.start()
        _log.info(
            "listening",
            address=server.address,
            port=port,
            connector=self.settings.connector,
            symbols=list(self.runtime.traded_symbols) or "all served by the connector",
            trading_state=self.runtime.core.trading_state.state.name,
            audit_log=str(self.settings.audit_log),
            auth=self._server_token is not None,
        )
        return port

    @property
    def address(self) -> str:
        assert self.server is not None, "start() first"
        return self.server.address

    @property
    def port(self) -> int:
        assert self.server is not None, "start() first"
        return self.server.port

    async def serve_until_signal(self, stop_event: asyncio.Event | None = None) -> None:
        """Serve until SIGTERM/SIGINT (or `stop_event`), then shut down gracefully."""
        assert self.server is not None, "start() first"
        try:
            await run_until_signal(self.server, on_shutdown=self._drain, stop_event=stop_event)
        finally:
            await self._close()

    async def stop(self) -> None:
        """Stop serving and release everything (for in-process use)."""
        if self.server is not None:
            await self.server.set_serving(False)
            await self._drain()
            await self.server.stop(grace=1.0)
        await self._close()

    async def _drain(self) -> None:
        # Watchers end with UNAVAILABLE (clients reconnect elsewhere or treat risk as down).
        self.runtime.close()
        await self.feeds.stop()

    async def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.feeds.stop()
        await self.channel.close()
        self.audit.close()
