"""Client channels to other OpenSQT services, with tracing and optional auth."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from pydantic import SecretStr

from opensqt_common.server import AUTH_METADATA_KEY
from opensqt_common.telemetry import client_interceptors

CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2_000),
    ("grpc.max_receive_message_length", 8 * 1024 * 1024),
)


def _with_token(details: grpc.aio.ClientCallDetails, header: tuple[str, str]) -> grpc.aio.ClientCallDetails:
    metadata = grpc.aio.Metadata(*(details.metadata or ()))
    metadata.add(*header)
    return grpc.aio.ClientCallDetails(
        method=details.method,
        timeout=details.timeout,
        metadata=metadata,
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


class _TokenUnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, header: tuple[str, str]) -> None:
        self._header = header

    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(_with_token(client_call_details, self._header), request)


class _TokenUnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, header: tuple[str, str]) -> None:
        self._header = header

    async def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(_with_token(client_call_details, self._header), request)


class _TokenStreamUnary(grpc.aio.StreamUnaryClientInterceptor):
    def __init__(self, header: tuple[str, str]) -> None:
        self._header = header

    async def intercept_stream_unary(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(_with_token(client_call_details, self._header), request_iterator)


class _TokenStreamStream(grpc.aio.StreamStreamClientInterceptor):
    def __init__(self, header: tuple[str, str]) -> None:
        self._header = header

    async def intercept_stream_stream(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(_with_token(client_call_details, self._header), request_iterator)


def token_interceptors(token: SecretStr) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors that send `authorization: Bearer <token>` on every call."""
    header = (AUTH_METADATA_KEY, f"Bearer {token.get_secret_value()}")
    return [
        _TokenUnaryUnary(header),
        _TokenUnaryStream(header),
        _TokenStreamUnary(header),
        _TokenStreamStream(header),
    ]


def open_channel(
    target: str,
    *,
    auth_token: SecretStr | None = None,
    root_certificates: bytes | None = None,
    options: Sequence[tuple[str, Any]] = CHANNEL_OPTIONS,
) -> grpc.aio.Channel:
    """An instrumented aio channel; TLS when a root certificate is given."""
    interceptors = client_interceptors()
    if auth_token is not None:
        interceptors.extend(token_interceptors(auth_token))
    if root_certificates is None:
        return grpc.aio.insecure_channel(target, options=list(options), interceptors=interceptors)
    credentials = grpc.ssl_channel_credentials(root_certificates)
    return grpc.aio.secure_channel(target, credentials, options=list(options), interceptors=interceptors)
