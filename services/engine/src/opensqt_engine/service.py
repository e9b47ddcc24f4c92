"""The gRPC servicer of `opensqt.engine.v1.EngineService`: validate, delegate, convert.

Each RPC is a few lines over `EngineControl` (the running engine, or the app while the
engine is still starting). Errors are `ServiceError`s mapped to status codes with
ErrorInfo by the shared decorators.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import grpc

from opensqt.engine.v1 import engine_service_pb2 as pb
from opensqt.engine.v1 import engine_service_pb2_grpc as pb_grpc
from opensqt.engine.v1 import types_pb2 as engine_pb
from opensqt_common.enums import SIDE, TRADING_STATE
from opensqt_common.errors import grpc_errors, grpc_stream_errors
from opensqt_common.validation import text_field
from opensqt_engine.core import Slot, SlotStatus
from opensqt_engine.runtime.convert import dec, timestamp_ns
from opensqt_engine.runtime.engine import ENGINE_STATE_PROTO, CancelAllResult, StatusView
from opensqt_engine.runtime.events import Subscriber

Context = grpc.aio.ServicerContext[object, object]
MAX_REASON = 256

SLOT_STATUS_PROTO = {
    SlotStatus.FREE: engine_pb.SLOT_STATUS_FREE,
    SlotStatus.PENDING: engine_pb.SLOT_STATUS_PENDING,
    SlotStatus.LOCKED: engine_pb.SLOT_STATUS_LOCKED,
}


class EngineControl(Protocol):
    def status(self) -> StatusView: ...

    def slots(self) -> list[Slot]: ...

    async def pause(self, reason: str) -> None: ...

    async def resume(self, reason: str) -> None: ...

    async def cancel_all(self, reason: str) -> CancelAllResult: ...

    def subscribe(self) -> Subscriber: ...


def status_to_proto(view: StatusView) -> engine_pb.EngineStatus:
    status = engine_pb.EngineStatus(
        strategy_id=view.strategy_id,
        symbol=view.symbol,
        state=ENGINE_STATE_PROTO[view.state],
        risk_state=TRADING_STATE.to_proto(view.risk_state) if view.risk_state is not None else 0,  # type: ignore[arg-type]
        risk_connected=view.risk_connected,
        connector_connected=view.connector_connected,
        price_interval=dec(view.price_interval),
        order_amount=dec(view.order_amount),
        position=dec(view.position),
        realized_pnl=dec(view.realized_pnl),
        fees_paid=dec(view.fees_paid),
        open_orders=view.open_orders,
        slots_free=view.slots_free,
        slots_pending=view.slots_pending,
        slots_locked=view.slots_locked,
        fills=view.fills,
        started_at=timestamp_ns(view.started_ns),
        detail=view.detail,
    )
    if view.last_price is not None:
        status.last_price.CopyFrom(dec(view.last_price))
    if view.anchor is not None:
        status.anchor_price.CopyFrom(dec(view.anchor))
    return status


def slot_to_proto(slot: Slot) -> engine_pb.Slot:
    message = engine_pb.Slot(
        level_index=slot.level_index,
        level_price=dec(slot.level_price),
        status=SLOT_STATUS_PROTO[slot.status],
        position_quantity=dec(slot.position),
        order_id=slot.order_id,
        client_order_id=slot.client_order_id,
        post_only_failures=slot.post_only_failures,
    )
    if slot.side is not None:
        message.order_side = SIDE.to_proto(slot.side)  # type: ignore[assignment]
        message.order_price.CopyFrom(dec(slot.order_price))
        message.order_quantity.CopyFrom(dec(slot.order_quantity))
        message.filled_quantity.CopyFrom(dec(slot.filled_quantity))
    return message


def _reason(value: str) -> str:
    return text_field(value, "reason", max_length=MAX_REASON, required=False)


class EngineServicer(pb_grpc.EngineServiceServicer):
    def __init__(self, control: EngineControl) -> None:
        self._control = control

    @grpc_errors
    async def GetStatus(self, request: pb.GetStatusRequest, context: Context) -> pb.GetStatusResponse:
        return pb.GetStatusResponse(status=status_to_proto(self._control.status()))

    @grpc_errors
    async def ListSlots(self, request: pb.ListSlotsRequest, context: Context) -> pb.ListSlotsResponse:
        slots = self._control.slots()
        if request.active_only:
            slots = [slot for slot in slots if slot.is_live or slot.position > 0]
        return pb.ListSlotsResponse(slots=[slot_to_proto(slot) for slot in slots])

    @grpc_errors
    async def Pause(self, request: pb.PauseRequest, context: Context) -> pb.PauseResponse:
        await self._control.pause(_reason(request.reason) or "operator pause")
        return pb.PauseResponse(status=status_to_proto(self._control.status()))

    @grpc_errors
    async def Resume(self, request: pb.ResumeRequest, context: Context) -> pb.ResumeResponse:
        await self._control.resume(_reason(request.reason) or "operator resume")
        return pb.ResumeResponse(status=status_to_proto(self._control.status()))

    @grpc_errors
    async def CancelAll(self, request: pb.CancelAllRequest, context: Context) -> pb.CancelAllResponse:
        result = await self._control.cancel_all(_reason(request.reason) or "operator cancel-all")
        return pb.CancelAllResponse(canceled=result.canceled)

    @grpc_stream_errors
    async def StreamEvents(
        self, request: pb.StreamEventsRequest, context: Context
    ) -> AsyncIterator[pb.StreamEventsResponse]:
        with self._control.subscribe() as subscriber:
            async for event in subscriber:
                yield pb.StreamEventsResponse(event=event)
