"""Venue failures as ServiceErrors, each with its gRPC code and ErrorInfo reason.

Adapters raise these (classified from the venue's error *type*, never its message
text); the gRPC layer maps them without further thought.
"""

from __future__ import annotations

import grpc

from opensqt.common.v1 import common_pb2
from opensqt_common.errors import NotFound, RateLimited, ServiceError, Unauthenticated, Unavailable


class PostOnlyWouldCross(ServiceError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = common_pb2.ERROR_REASON_POST_ONLY_WOULD_CROSS


class InsufficientMargin(ServiceError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = common_pb2.ERROR_REASON_INSUFFICIENT_MARGIN


class MinNotional(ServiceError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = common_pb2.ERROR_REASON_MIN_NOTIONAL


class ReduceOnlyRejected(ServiceError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = common_pb2.ERROR_REASON_REDUCE_ONLY_REJECTED


class InvalidOrder(ServiceError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = common_pb2.ERROR_REASON_INVALID_ORDER


class DuplicateClientOrderId(ServiceError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = common_pb2.ERROR_REASON_DUPLICATE_CLIENT_ORDER_ID


class OrderNotFound(NotFound):
    reason = common_pb2.ERROR_REASON_ORDER_NOT_FOUND


class VenueUnavailable(Unavailable):
    """Network failure, 5xx, maintenance or an open circuit breaker: retryable."""


class VenueRateLimited(RateLimited):
    """429 or the venue's own rate-limit error: retryable after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthFailed(Unauthenticated):
    """Bad or missing API credentials (the message never includes them)."""


RETRYABLE: tuple[type[ServiceError], ...] = (VenueUnavailable, VenueRateLimited)
