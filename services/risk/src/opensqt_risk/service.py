"""The gRPC servicer of `opensqt.risk.v1.RiskService`: parse, delegate to the runtime, convert.

Errors are `ServiceError`s mapped to status codes with ErrorInfo by the shared
decorators; a malformed intent on ReviewOrders is answered with an INVALID_INTENT
decision instead, and the stream goes on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from opensqt.risk.v1 import risk_service_pb2 as pb
from opensqt.risk.v1 import risk_service_pb2_grpc as pb_grpc
from opensqt_common.errors import grpc_errors, grpc_stream_errors, internal_error
from opensqt_common.logging import get_logger
from opensqt_risk import requests
from opensqt_risk.rules import startup_ok
from opensqt_risk.rules.wire import limits_to_proto, startup_check_to_proto, state_update_to_proto
from opensqt_risk.runtime import RiskRuntime

Context = grpc.aio.ServicerContext[object, object]

_log = get_logger(__name__)


class RiskServicer(pb_grpc.RiskServiceServicer):
    def __init__(self, runtime: RiskRuntime) -> None:
        self._runtime = runtime

    async def ReviewOrders(
        self, request_iterator: AsyncIterator[pb.ReviewOrdersRequest], context: Context
    ) -> AsyncIterator[pb.ReviewOrdersResponse]:
        # The hot path: no decorator layer. `review` answers bad input with a decision, so
        # only a bug can raise here; it ends this stream with INTERNAL, never the service.
        review = self._runtime.review
        try:
            async for request in request_iterator:
                yield review(request)
        except Exception as exc:
            _log.exception("review_stream_failed")
            await context.abort_with_status(internal_error(exc).to_status())

    @grpc_stream_errors
    async def WatchTradingState(
        self, request: pb.WatchTradingStateRequest, context: Context
    ) -> AsyncIterator[pb.WatchTradingStateResponse]:
        with self._runtime.watch() as watcher:
            async for update in watcher:
                yield pb.WatchTradingStateResponse(update=state_update_to_proto(update))

    @grpc_errors
    async def CheckStartup(
        self, request: pb.CheckStartupRequest, context: Context
    ) -> pb.CheckStartupResponse:
        checks = await self._runtime.check_startup(requests.startup_params(request))
        return pb.CheckStartupResponse(
            ok=startup_ok(checks), checks=[startup_check_to_proto(check) for check in checks]
        )

    @grpc_errors
    async def Halt(self, request: pb.HaltRequest, context: Context) -> pb.HaltResponse:
        update = self._runtime.halt(requests.halt_params(request), context.peer())
        return pb.HaltResponse(update=state_update_to_proto(update))

    @grpc_errors
    async def Resume(self, request: pb.ResumeRequest, context: Context) -> pb.ResumeResponse:
        update = self._runtime.resume(requests.resume_params(request), context.peer())
        return pb.ResumeResponse(update=state_update_to_proto(update))

    @grpc_errors
    async def GetLimits(self, request: pb.GetLimitsRequest, context: Context) -> pb.GetLimitsResponse:
        limits = self._runtime.limits(requests.limits_symbol(request))
        return pb.GetLimitsResponse(limits=limits_to_proto(limits))
