"""The gRPC servicer of `opensqt.risk.v1.RiskService`: parse, delegate to the runtime, convert.

Errors are `ServiceError`s mapped to status codes with ErrorInfo by the shared
decorators; a malformed intent on ReviewOrders is answered with an INVALID_INTENT
decision instead, and the stream goes on.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator

import grpc

from opensqt.risk.v1 import risk_service_pb2 as pb
from opensqt.risk.v1 import risk_service_pb2_grpc as pb_grpc
from opensqt_common.errors import grpc_errors, grpc_stream_errors, internal_error
from opensqt_common.logging import get_logger
from opensqt_common.server import traced_per_message
from opensqt_risk import requests
from opensqt_risk.rules import startup_ok
from opensqt_risk.rules.wire import limits_to_proto, startup_check_to_proto, state_update_to_proto
from opensqt_risk.runtime import DecisionSample, RiskRuntime

Context = grpc.aio.ServicerContext[object, object]
ReviewContext = grpc.aio.ServicerContext[pb.ReviewOrdersRequest, pb.ReviewOrdersResponse]

_log = get_logger(__name__)


def _settle(sending: asyncio.Task[None]) -> None:
    """The stream is over: cancel a send still in flight, or consume its failure."""
    if not sending.done():
        sending.cancel()
    elif not sending.cancelled():
        sending.exception()


class RiskServicer(pb_grpc.RiskServiceServicer):
    def __init__(self, runtime: RiskRuntime) -> None:
        self._runtime = runtime

    @traced_per_message
    async def ReviewOrders(  # type: ignore[override]  # writes with context.write
        self, request_iterator: AsyncIterator[pb.ReviewOrdersRequest], context: ReviewContext
    ) -> None:
        """One decision per intent, in order, decided the moment the intent is read.

        One coroutine reads an intent, decides it and hands the decision to gRPC with
        `context.write` in a task of its own: the send of decision N completes while
        intent N+1 is read and decided, and is awaited before decision N+1 is handed
        over. So answers leave in order, at most one is in flight, and no queue sits
        between intent and answer; a client that stops reading stops this loop (and
        HTTP/2 flow control then stops its writes).

        Measured with bench/bench_risk.py on 2 cores: awaiting each send before the next
        read (a plain `yield` per decision) puts a round trip through gRPC's completion
        thread between every two intents: ~6,500 decisions/s pipelined against ~9,500
        here. Reading with the request iterator rather than `context.read()` keeps the
        ping-pong round trip at the generator's (context.read adds ~60 µs to it).

        No decorator layer and no stream-wide span: each traced intent gets its own
        `risk.review` span from its trace_context. `review` answers bad input with a
        decision, so only a bug can raise from it; that ends this stream with INTERNAL
        (after the decisions already made are sent), never the service.
        """
        review = self._runtime.review
        samples: list[DecisionSample] = []
        record_all = functools.partial(self._record_all, samples)
        write = context.write
        loop = asyncio.get_running_loop()
        sending: asyncio.Task[None] | None = None
        try:
            async for request in request_iterator:
                try:
                    response, sample = review(request)
                except Exception as exc:
                    _log.exception("review_stream_failed")
                    if sending is not None:
                        await sending
                    await context.abort_with_status(internal_error(exc).to_status())
                if sending is not None:
                    await sending
                sending = loop.create_task(write(response))
                if not samples:  # recorded after the send has started, in one batch per loop step
                    loop.call_soon(record_all)
                samples.append(sample)
            if sending is not None:
                await sending
        finally:
            if sending is not None:
                _settle(sending)

    def _record_all(self, samples: list[DecisionSample]) -> None:
        record = self._runtime.record
        for sample in samples:
            record(sample)
        samples.clear()

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
