"""gRPC server scaffold: health checking, reflection, optional bearer-token auth and
TLS, OpenTelemetry interceptors, and graceful shutdown on SIGTERM/SIGINT.

    server = GrpcServer(listen="127.0.0.1:50051", service_names=[...])
    exchange_service_pb2_grpc.add_ExchangeServiceServicer_to_server(servicer, server.grpc)
    await server.start()
    await run_until_signal(server, on_shutdown=servicer.close)
"""

from __future__ import annotations

import asyncio
import hmac
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection
from pydantic import SecretStr

from opensqt_common.logging import get_logger
from opensqt_common.telemetry import server_interceptors

_log = get_logger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

AUTH_METADATA_KEY = "authorization"
# Health and reflection stay open so that probes and tooling work without a token.
_PUBLIC_METHOD_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

DEFAULT_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.so_reuseport", 0),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.max_receive_message_length", 8 * 1024 * 1024),
)


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials([(self.key.read_bytes(), self.cert.read_bytes())])


def read_token_file(path: Path) -> SecretStr:
    token = path.read_text().strip()
    if not token:
        raise ValueError(f"auth token file {path} is empty")
    return SecretStr(token)


class _BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    """Rejects calls without `authorization: Bearer <token>` as UNAUTHENTICATED."""

    def __init__(self, token: SecretStr) -> None:
        self._expected = f"Bearer {token.get_secret_value()}".encode()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = handler_call_details.method
        if method.startswith(_PUBLIC_METHOD_PREFIXES):
            return await continuation(handler_call_details)
        presented = b""
        for key, value in handler_call_details.invocation_metadata or ():
            if key == AUTH_METADATA_KEY:
                presented = value.encode() if isinstance(value, str) else value
        if hmac.compare_digest(presented, self._expected):
            return await continuation(handler_call_details)
        handler = await continuation(handler_call_details)
        return _deny(handler, "missing or invalid bearer token" if presented else "missing bearer token")


def _deny(handler: grpc.RpcMethodHandler[Any, Any] | None, message: str) -> grpc.RpcMethodHandler[Any, Any]:
    async def abort(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    deserializer = handler.request_deserializer if handler else None
    serializer = handler.response_serializer if handler else None
    if handler is not None and handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(abort, deserializer, serializer)
    if handler is not None and handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(abort, deserializer, serializer)
    if handler is not None and handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(abort, deserializer, serializer)
    return grpc.unary_unary_rpc_method_handler(abort, deserializer, serializer)


_TRACED_PER_MESSAGE = "__opensqt_traced_per_message__"


def traced_per_message(method: F) -> F:
    """Mark a servicer method whose messages carry their own trace context.

    For a long-lived bidi stream (ReviewOrders, SubmitOrders) the call's gRPC context
    belongs to the stream, not to any order in it: each message carries a W3C
    `trace_context` and the method starts its own span per message as that context's
    child. The scaffold therefore does not wrap such a method in OpenTelemetry's server
    interceptor, whose one span per call would last as long as the stream, tell nothing
    about the orders in it, and cost on every message (an extra async-generator hop,
    and an exemplar offer on every histogram record made while that sampled span is
    current). Unmarked methods keep the interceptor.

        class RiskServicer(...):
            @traced_per_message
            async def ReviewOrders(self, request_iterator, context): ...
    """
    setattr(method, _TRACED_PER_MESSAGE, True)
    return method


def _is_traced_per_message(handler: grpc.RpcMethodHandler[Any, Any]) -> bool:
    behavior = handler.stream_stream or handler.unary_stream or handler.stream_unary or handler.unary_unary
    return bool(getattr(behavior, _TRACED_PER_MESSAGE, False))


class _SkipInfrastructure(grpc.aio.ServerInterceptor):
    """Applies `inner` to application methods only, except those marked `traced_per_message`.

    OpenTelemetry's aio interceptor expects response-streaming handlers to be async
    generators; the health servicer's Watch writes with `context.write` instead and
    would fail with a TypeError. Probes need no spans anyway.
    """

    def __init__(self, inner: grpc.aio.ServerInterceptor) -> None:
        self._inner = inner

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        if handler_call_details.method.startswith(_PUBLIC_METHOD_PREFIXES):
            return await continuation(handler_call_details)
        handler = await continuation(handler_call_details)
        if handler is not None and _is_traced_per_message(handler):
            return handler

        async def resolved(_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
            return handler

        return await self._inner.intercept_service(resolved, handler_call_details)


class GrpcServer:
    """An asyncio gRPC server with health, reflection and the project's interceptors."""

    def __init__(
        self,
        *,
        listen: str,
        service_names: Sequence[str],
        tls: TlsFiles | None = None,
        auth_token: SecretStr | None = None,
        extra_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
        options: Sequence[tuple[str, Any]] = DEFAULT_OPTIONS,
    ) -> None:
        interceptors: list[grpc.aio.ServerInterceptor] = []
        if auth_token is not None:
            interceptors.append(_BearerTokenInterceptor(auth_token))
        interceptors.extend(_SkipInfrastructure(inner) for inner in server_interceptors())
        interceptors.extend(extra_interceptors)
        self.grpc = grpc.aio.server(interceptors=interceptors, options=list(options))
        self.listen = listen
        self.service_names = tuple(service_names)
        self._tls = tls
        self.health = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        reflection.enable_server_reflection(
            (
                *self.service_names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ),
            self.grpc,
        )
        self.port = 0

    async def start(self) -> int:
        """Bind and start; returns the bound port (useful with port 0)."""
        if self._tls is None:
            self.port = self.grpc.add_insecure_port(self.listen)
        else:
            self.port = self.grpc.add_secure_port(self.listen, self._tls.credentials())
        if self.port == 0:
            raise OSError(f"could not bind {self.listen}")
        await self.grpc.start()
        await self.set_serving(True)
        return self.port

    @property
    def address(self) -> str:
        host = self.listen.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.service_names):
            await self.health.set(name, status)

    async def stop(self, grace: float = 3.0) -> None:
        await self.set_serving(False)
        await self.grpc.stop(grace)


async def run_until_signal(
    server: GrpcServer,
    *,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
    shutdown_timeout: float = 4.0,
    stop_event: asyncio.Event | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or `stop_event`), then shut down within the timeout.

    Health turns NOT_SERVING first, `on_shutdown` runs (bounded), then the server
    stops with a short grace period for in-flight calls.
    """
    loop = asyncio.get_running_loop()
    stop = stop_event or asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        _log.info("shutdown_requested", address=server.address)
        await server.set_serving(False)
        if on_shutdown is not None:
            try:
                await asyncio.wait_for(on_shutdown(), timeout=shutdown_timeout)
            except TimeoutError:
                _log.warning("shutdown_hook_timed_out", timeout_s=shutdown_timeout)
        await server.stop(grace=1.0)
        _log.info("server_stopped", address=server.address)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
