"""Domain errors and their one mapping to gRPC status codes with google.rpc.ErrorInfo.

Servicers raise `ServiceError` subclasses; `grpc_errors` turns them into a rich
status (code, message, ErrorInfo{reason, domain, metadata}, BadRequest for field
errors). Anything else is logged and answered as INTERNAL, so a bug in one
request never takes the service down.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from opensqt.common.v1 import common_pb2
from opensqt_common.logging import get_logger

_log = get_logger(__name__)

ERROR_DOMAIN = "opensqt.dev"


class ServiceError(Exception):
    """An expected failure with a gRPC code and a machine-readable reason."""

    code: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION
    reason: int = common_pb2.ERROR_REASON_UNSPECIFIED

    def __init__(
        self,
        message: str,
        *,
        reason: int | None = None,
        code: grpc.StatusCode | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        if code is not None:
            self.code = code
        self.metadata = dict(metadata or {})

    @property
    def reason_name(self) -> str:
        """The ErrorInfo reason: the ErrorReason name without its prefix."""
        return common_pb2.ErrorReason.Name(self.reason).removeprefix("ERROR_REASON_")  # type: ignore[arg-type]

    def to_proto(self) -> common_pb2.Error:
        """The error as carried inside a stream message."""
        return common_pb2.Error(
            code=self.code.value[0],
            reason=self.reason,  # type: ignore[arg-type]
            message=self.message,
            metadata=self.metadata,
        )

    def to_status(self) -> grpc.Status:
        details = [
            _pack(
                error_details_pb2.ErrorInfo(
                    reason=self.reason_name, domain=ERROR_DOMAIN, metadata=self.metadata
                )
            )
        ]
        details.extend(_pack(extra) for extra in self._extra_details())
        status: grpc.Status = rpc_status.to_status(
            status_pb2.Status(code=self.code.value[0], message=self.message, details=details)
        )
        return status

    def _extra_details(self) -> list[Any]:
        return []


class InvalidArgument(ServiceError):
    """A request field is missing or wrong; `field` names it."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = common_pb2.ERROR_REASON_INVALID_ARGUMENT

    def __init__(self, field: str, description: str, *, reason: int | None = None) -> None:
        super().__init__(f"{field}: {description}" if field else description, reason=reason)
        self.field = field
        self.description = description

    def _extra_details(self) -> list[Any]:
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=self.field, description=self.description
        )
        return [error_details_pb2.BadRequest(field_violations=[violation])]


class UnknownSymbol(InvalidArgument):
    def __init__(self, symbol: str, field: str = "symbol") -> None:
        super().__init__(field, f"unknown symbol {symbol!r}", reason=common_pb2.ERROR_REASON_UNKNOWN_SYMBOL)


class NotFound(ServiceError):
    code = grpc.StatusCode.NOT_FOUND
    reason = common_pb2.ERROR_REASON_ORDER_NOT_FOUND


class Unauthenticated(ServiceError):
    code = grpc.StatusCode.UNAUTHENTICATED
    reason = common_pb2.ERROR_REASON_AUTH_FAILED


class Unavailable(ServiceError):
    code = grpc.StatusCode.UNAVAILABLE
    reason = common_pb2.ERROR_REASON_VENUE_UNAVAILABLE


class RateLimited(ServiceError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = common_pb2.ERROR_REASON_RATE_LIMITED


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def internal_error(exc: BaseException) -> ServiceError:
    return ServiceError(
        f"internal error ({type(exc).__name__})",
        code=grpc.StatusCode.INTERNAL,
        reason=common_pb2.ERROR_REASON_INTERNAL,
    )


def error_info(error: grpc.aio.AioRpcError | grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo of a failed call, if the server sent one."""
    status = rpc_status.from_call(cast(grpc.Call, error))
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None


Req = TypeVar("Req")
Resp = TypeVar("Resp")
Unary = Callable[[Any, Req, grpc.aio.ServicerContext[Any, Any]], Awaitable[Resp]]
ServerStream = Callable[[Any, Req, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[Resp]]


def grpc_errors(handler: Unary[Req, Resp]) -> Unary[Req, Resp]:
    """Map ServiceError (and any unexpected exception) of a unary handler to a status."""

    @functools.wraps(handler)
    async def wrapper(self: Any, request: Req, context: grpc.aio.ServicerContext[Any, Any]) -> Resp:
        try:
            return await handler(self, request, context)
        except ServiceError as exc:
            await context.abort_with_status(exc.to_status())
        except (grpc.aio.AbortError, grpc.aio.UsageError):
            raise
        except Exception as exc:
            _log.exception("rpc_failed", method=handler.__qualname__)
            await context.abort_with_status(internal_error(exc).to_status())
        raise AssertionError("unreachable: abort_with_status raises")

    return wrapper


def grpc_stream_errors(handler: ServerStream[Req, Resp]) -> ServerStream[Req, Resp]:
    """The same mapping for a handler that yields responses."""

    @functools.wraps(handler)
    async def wrapper(
        self: Any, request: Req, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Resp]:
        try:
            async for item in handler(self, request, context):
                yield item
        except ServiceError as exc:
            await context.abort_with_status(exc.to_status())
        except (grpc.aio.AbortError, grpc.aio.UsageError):
            raise
        except Exception as exc:
            _log.exception("rpc_failed", method=handler.__qualname__)
            await context.abort_with_status(internal_error(exc).to_status())

    return wrapper


__all__ = [
    "ERROR_DOMAIN",
    "InvalidArgument",
    "NotFound",
    "RateLimited",
    "ServiceError",
    "Unauthenticated",
    "Unavailable",
    "UnknownSymbol",
    "error_info",
    "grpc_errors",
    "grpc_stream_errors",
    "internal_error",
]
