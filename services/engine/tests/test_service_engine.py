"""EngineService over a real gRPC channel, against a real engine on a sim connector and risk."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from engine_support import FIVE_BUYS, GRID, engine_settings, running_stack  # type: ignore[import-not-found]  # on sys.path under pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from opensqt.common.v1 import common_pb2
from opensqt.engine.v1 import engine_service_pb2 as pb
from opensqt.engine.v1 import engine_service_pb2_grpc
from opensqt.engine.v1 import types_pb2 as engine_types
from opensqt_common.errors import error_info
from opensqt_common.testing import eventually
from opensqt_connector.testing import running_connector
from opensqt_engine.app import EngineApp
from opensqt_engine.config import load_config

D = Decimal


async def test_status_and_slots_describe_the_grid(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        await stack.wait_open_buys(FIVE_BUYS)
        async with grpc.aio.insecure_channel(stack.app.address) as channel:
            engine = engine_service_pb2_grpc.EngineServiceStub(channel)
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="opensqt.engine.v1.EngineService")
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            status = (await engine.GetStatus(pb.GetStatusRequest())).status
            assert (status.strategy_id, status.symbol) == ("t1", "BTC/USDT:USDT")
            assert status.state == engine_types.ENGINE_STATE_RUNNING
            assert status.risk_state == common_pb2.TRADING_STATE_ACTIVE
            assert status.risk_connected
            assert status.connector_connected
            assert D(status.anchor_price.value) == 60000
            assert (status.price_interval.value, status.order_amount.value) == ("50", "1000")
            assert (status.open_orders, status.slots_locked, status.fills) == (5, 5, 0)
            assert status.started_at.seconds > 0
            slots = (await engine.ListSlots(pb.ListSlotsRequest(active_only=True))).slots
            assert [s.level_index for s in slots] == [-1, -2, -3, -4, -5]
            first = slots[0]
            assert (first.level_price.value, first.status) == ("59950", engine_types.SLOT_STATUS_LOCKED)
            assert first.order_side == common_pb2.SIDE_BUY
            assert (first.order_price.value, first.order_quantity.value) == ("59950", "0.016")
            assert first.client_order_id.startswith("t1BN1G")
            assert first.order_id

            assert await stack.connector.set_price("59950") == 1
            await stack.wait_orders(lambda os: any(o.side == common_pb2.SIDE_SELL for o in os), what="sell")
            status = (await engine.GetStatus(pb.GetStatusRequest())).status
            assert (status.position.value, status.fills) == ("0.016", 1)
            assert D(status.fees_paid.value) == D("59950") * D("0.016") * D("0.0002")
            slots = (await engine.ListSlots(pb.ListSlotsRequest(active_only=True))).slots
            seller = next(s for s in slots if s.level_index == -1)
            assert seller.order_side == common_pb2.SIDE_SELL
            assert (seller.position_quantity.value, seller.order_price.value) == ("0.016", "60000")


async def test_pause_holds_new_orders_and_resume_releases_them(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        await stack.wait_open_buys(FIVE_BUYS)
        async with grpc.aio.insecure_channel(stack.app.address) as channel:
            engine = engine_service_pb2_grpc.EngineServiceStub(channel)
            paused = (await engine.Pause(pb.PauseRequest(reason="lunch"))).status
            assert paused.state == engine_types.ENGINE_STATE_PAUSED
            assert "operator" in paused.detail
            # the price moves: resting orders stay, nothing new is placed
            await stack.connector.set_price("60100")
            await eventually(lambda: stack.engine.state.last_price == D(60100), message="price seen")
            await stack.wait_open_buys(FIVE_BUYS)
            resumed = (await engine.Resume(pb.ResumeRequest(reason="back"))).status
            assert resumed.state == engine_types.ENGINE_STATE_RUNNING
            await stack.wait_open_buys(["60050", "60000", "59950", "59900", "59850"])
        pauses = [r for r in stack.audit() if r["event"] in ("pause", "resume")]
        assert [(r["event"], r["reason"]) for r in pauses[:2]] == [("pause", "lunch"), ("resume", "back")]


async def test_cancel_all_cancels_every_order_of_the_grid_and_pauses(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        await stack.wait_open_buys(FIVE_BUYS)
        async with grpc.aio.insecure_channel(stack.app.address) as channel:
            engine = engine_service_pb2_grpc.EngineServiceStub(channel)
            response = await engine.CancelAll(pb.CancelAllRequest(reason="test"))
            assert response.canceled == 5
            assert await stack.own_orders() == []
            status = (await engine.GetStatus(pb.GetStatusRequest())).status
            assert status.state == engine_types.ENGINE_STATE_PAUSED
            await eventually(lambda: stack.engine.status().open_orders == 0, message="slots freed")


async def test_stream_events_follows_orders_and_fills(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        await stack.wait_open_buys(FIVE_BUYS)
        async with grpc.aio.insecure_channel(stack.app.address) as channel:
            engine = engine_service_pb2_grpc.EngineServiceStub(channel)
            call = engine.StreamEvents(pb.StreamEventsRequest())
            events: list[engine_types.EngineEvent] = []

            async def read() -> None:
                async for response in call:
                    events.append(response.event)

            reader = asyncio.ensure_future(read())
            try:
                await eventually(lambda: stack.app.events.listening, message="subscribed")
                assert await stack.connector.set_price("59950") == 1
                await eventually(
                    lambda: (
                        {engine_types.EVENT_KIND_FILL, engine_types.EVENT_KIND_ORDER_PLACED}
                        <= {e.kind for e in events}
                    ),
                    message="fill and placement events",
                )
            finally:
                call.cancel()
                await asyncio.gather(reader, return_exceptions=True)
        fill = next(e for e in events if e.kind == engine_types.EVENT_KIND_FILL)
        assert fill.fill.price.value == "59950"
        assert fill.client_order_id.startswith("t1BN1G")
        sequences = [e.sequence for e in events]
        assert sequences == sorted(sequences)
        assert len(set(sequences)) == len(sequences)
        intents = [e for e in events if e.kind == engine_types.EVENT_KIND_ORDER_INTENT]
        assert any("sell 0.016 @ 60000" in e.detail for e in intents)


async def test_a_slow_event_subscriber_is_dropped(tmp_path: Path) -> None:
    async with running_stack(tmp_path, engine_flags=("--event-queue-size", "2")) as stack:
        await stack.wait_open_buys(FIVE_BUYS)
        subscriber = stack.app.subscribe()
        with subscriber:
            await stack.engine.pause("one")
            await stack.engine.resume("two")
            await stack.connector.set_price("59950")
            await eventually(lambda: subscriber.closed, message="dropped")
            with pytest.raises(Exception, match="fell more than 2 events behind"):
                async for _ in subscriber:
                    pass


@pytest.mark.parametrize("rpc", ["Pause", "Resume", "CancelAll"])
async def test_a_reason_longer_than_256_characters_is_invalid(tmp_path: Path, rpc: str) -> None:
    requests = {"Pause": pb.PauseRequest, "Resume": pb.ResumeRequest, "CancelAll": pb.CancelAllRequest}
    async with running_stack(tmp_path) as stack, grpc.aio.insecure_channel(stack.app.address) as channel:
        engine = engine_service_pb2_grpc.EngineServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await getattr(engine, rpc)(requests[rpc](reason="x" * 257))
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        info = error_info(raised.value)
        assert info is not None
        assert info.reason == "INVALID_ARGUMENT"
        assert "reason" in (raised.value.details() or "")
        assert stack.engine.engine_state.value == "running"


async def test_an_engine_that_cannot_reach_its_connector_says_so(tmp_path: Path) -> None:
    settings = engine_settings("127.0.0.1:1", "127.0.0.1:1", tmp_path)
    app = EngineApp(settings, load_config(None, GRID))
    await app.start()
    try:
        async with grpc.aio.insecure_channel(app.address) as channel:
            engine = engine_service_pb2_grpc.EngineServiceStub(channel)
            status = (await engine.GetStatus(pb.GetStatusRequest())).status
            assert status.state == engine_types.ENGINE_STATE_STARTING
            assert status.detail == "waiting for the connector"
            assert not status.connector_connected
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await engine.Pause(pb.PauseRequest())
            assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "not trading yet" in (raised.value.details() or "")
            assert list((await engine.ListSlots(pb.ListSlotsRequest())).slots) == []
    finally:
        await app.stop()


async def test_a_symbol_the_connector_does_not_serve_fails_the_start(tmp_path: Path) -> None:
    async with running_connector() as connector:
        settings = engine_settings(connector.address, "127.0.0.1:1", tmp_path)
        app = EngineApp(settings, load_config(None, dict(GRID, symbol="ETH/USDT:USDT")))
        await app.start()
        try:
            with pytest.raises(Exception, match="does not serve ETH/USDT:USDT"):
                await app.wait_ready(10)
            assert app.failed is not None
        finally:
            await app.stop()
