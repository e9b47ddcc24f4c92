"""The engine and its risk service: fail closed without a decision, one trace per order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from engine_support import GRID, RISK, engine_settings, merged, read_audit, trading_state  # type: ignore[import-not-found]  # on sys.path under pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opensqt.common.v1 import common_pb2
from opensqt.risk.v1 import risk_service_pb2 as risk_pb
from opensqt.risk.v1 import risk_service_pb2_grpc
from opensqt.risk.v1 import types_pb2 as risk_types
from opensqt_common.enums import TradingState
from opensqt_common.testing import eventually, free_port
from opensqt_connector.testing import running_connector
from opensqt_engine.app import EngineApp
from opensqt_engine.config import load_config
from opensqt_engine.journal import MemoryJournal, Outcome
from opensqt_risk.testing import running_risk


class SilentRisk(risk_service_pb2_grpc.RiskServiceServicer):
    """Says ACTIVE, reads every intent and never decides (a risk service that hangs)."""

    def __init__(self) -> None:
        self.intents: list[str] = []

    async def WatchTradingState(
        self, request: risk_pb.WatchTradingStateRequest, context: Any
    ) -> AsyncIterator[risk_pb.WatchTradingStateResponse]:
        update = risk_types.TradingStateUpdate(
            state=common_pb2.TRADING_STATE_ACTIVE,
            reason="fake",
            source=risk_types.STATE_SOURCE_STARTUP,
            sequence=1,
        )
        yield risk_pb.WatchTradingStateResponse(update=update)
        await asyncio.Event().wait()

    async def ReviewOrders(  # type: ignore[override]  # reader/writer style: it writes nothing
        self, request_iterator: AsyncIterator[risk_pb.ReviewOrdersRequest], context: Any
    ) -> None:
        async for request in request_iterator:
            self.intents.append(request.intent.client_order_id)


async def test_no_decision_means_no_order_and_a_lost_risk_service_vetoes_everything_pending(
    tmp_path: Path,
) -> None:
    silent = SilentRisk()
    server = grpc.aio.server()
    risk_service_pb2_grpc.add_RiskServiceServicer_to_server(silent, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    journal = MemoryJournal()
    async with running_connector() as connector:
        settings = engine_settings(connector.address, f"127.0.0.1:{port}", tmp_path)
        app = EngineApp(settings, load_config(None, GRID), journal=journal)
        await app.start()
        try:
            engine = await app.wait_ready(15)
            await eventually(lambda: len(silent.intents) == 5, message="5 intents reached risk")
            assert trading_state(engine) is TradingState.ACTIVE
            assert engine.in_flight == 5
            await server.stop(0)  # risk dies with five intents undecided
            await eventually(lambda: engine.in_flight == 0, message="every pending intent answered")
            assert trading_state(engine) is TradingState.HALTED
            audit = read_audit(tmp_path / "engine-audit.jsonl")
            vetoed = {r["client_order_id"] for r in audit if r["event"] == "not_sent" and r["vetoed"]}
            assert vetoed == set(silent.intents)
            assert all("risk unreachable" in r["detail"] for r in audit if r["event"] == "not_sent")
            await eventually(lambda: all(journal.outcomes.get(cid) is Outcome.VETOED for cid in vetoed))
            assert not [r for r in audit if r["event"] == "venue_result"]
            assert engine.status().detail.startswith("risk unreachable")
        finally:
            await app.stop()
            await server.stop(0)
        from opensqt.exchange.v1 import exchange_service_pb2 as exchange_pb

        orders = await connector.exchange.ListOpenOrders(exchange_pb.ListOpenOrdersRequest())
        assert list(orders.orders) == []


async def test_the_grid_waits_for_risk_then_trades_and_stops_opening_when_risk_dies(tmp_path: Path) -> None:
    port = free_port()
    risk_flags = ("--listen", f"127.0.0.1:{port}")
    async with running_connector() as connector:
        settings = engine_settings(connector.address, f"127.0.0.1:{port}", tmp_path)
        app = EngineApp(settings, load_config(None, GRID), journal=MemoryJournal())
        await app.start()
        try:
            engine = await app.wait_ready(15)
            # No risk service yet: trading as if HALTED, nothing placed.
            assert trading_state(engine) is TradingState.HALTED
            assert not engine.risk_connected
            assert engine.status().state.value == "running"
            assert await open_orders(connector) == []
            async with running_risk(connector.address, tmp_path, *risk_flags, config=RISK):
                await eventually(lambda: engine.risk_connected, timeout=10, message="risk connected")
                await eventually(
                    lambda: count_open(connector, 5), timeout=10, message="five buys live at the venue"
                )
            # Risk is gone again: the resting buys are cancelled, nothing new opens.
            await eventually(lambda: not engine.risk_connected, message="risk lost")
            await eventually(lambda: count_open(connector, 0), timeout=10, message="buys cancelled")
            await eventually(lambda: len_sync(engine) == 0, message="slots freed")
            assert trading_state(engine) is TradingState.HALTED
        finally:
            await app.stop()


def len_sync(engine: Any) -> int:
    return int(engine.status().open_orders)


async def count_open(connector: Any, count: int) -> bool:
    return len(await open_orders(connector)) == count


async def open_orders(connector: Any) -> list[Any]:
    from opensqt.exchange.v1 import exchange_service_pb2 as exchange_pb

    response = await connector.exchange.ListOpenOrders(exchange_pb.ListOpenOrdersRequest())
    return list(response.orders)


async def test_one_trace_links_the_engines_decision_and_risks_review(tmp_path: Path) -> None:
    engine_spans, risk_spans = InMemorySpanExporter(), InMemorySpanExporter()
    engine_tracing, risk_tracing = TracerProvider(), TracerProvider()
    engine_tracing.add_span_processor(SimpleSpanProcessor(engine_spans))
    risk_tracing.add_span_processor(SimpleSpanProcessor(risk_spans))
    async with (
        running_connector() as connector,
        running_risk(connector.address, tmp_path, config=RISK, tracer_provider=risk_tracing) as risk,
    ):
        settings = engine_settings(connector.address, risk.address, tmp_path)
        app = EngineApp(settings, load_config(None, merged(GRID, {})), tracer_provider=engine_tracing)
        await app.start()
        try:
            await app.wait_ready(15)
            await eventually(
                lambda: len([s for s in engine_spans.get_finished_spans() if s.name == "engine.order"]) >= 5,
                message="five engine.order spans ended",
            )
        finally:
            await app.stop()
    orders = {
        span.attributes["opensqt.client_order_id"]: span
        for span in engine_spans.get_finished_spans()
        if span.name == "engine.order" and span.attributes
    }
    reviews = [span for span in risk_spans.get_finished_spans() if span.name == "risk.review"]
    assert len(reviews) >= 5
    for review in reviews:
        assert review.parent is not None
        parents = [s for s in orders.values() if s.context.span_id == review.parent.span_id]
        assert len(parents) == 1
        assert parents[0].context.trace_id == review.context.trace_id
    assert {span.attributes["opensqt.route"] for span in orders.values() if span.attributes} == {"risk"}
