"""One trace per order across the engine, risk and connector.

The trace context crosses the ReviewOrders and SubmitOrders bidi streams inside
each message (`trace_context`), so every order the engine places must show up as
one trace:

    engine.order (engine)                  the decision, a root span
      risk.review (risk)                   buys only: take-profit sells skip risk
      connector.submit_order (connector)
        venue.place_order (connector)

Twice: with the three services as separate processes, each writing its finished
spans to a JSON-lines file (OPENSQT_TRACE_FILE), and with the three in this
process, each with its own tracer provider feeding one in-memory exporter.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from observability_support import (  # type: ignore[import-not-found]
    ANCHOR,
    BUY_WINDOW,
    SimDriver,
    engine_config,
    engine_flags,
    running_stack,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opensqt_common.settings import load_settings
from opensqt_common.trace_file import SpanRecord, span_record
from opensqt_connector.app import SERVICE_NAME as CONNECTOR
from opensqt_connector.testing import running_connector
from opensqt_connector.tracing import SPAN_SUBMIT, SPAN_VENUE_PLACE
from opensqt_engine.app import SERVICE_NAME as ENGINE
from opensqt_engine.app import EngineApp
from opensqt_engine.config import load_config
from opensqt_engine.runtime.engine import SPAN_ORDER
from opensqt_engine.settings import EngineSettings
from opensqt_risk.app import SERVICE_NAME as RISK
from opensqt_risk.runtime import SPAN_REVIEW
from opensqt_risk.testing import running_risk

pytestmark = pytest.mark.e2e

CID = "opensqt.client_order_id"
ORDER_SPANS = (SPAN_ORDER, SPAN_REVIEW, SPAN_SUBMIT, SPAN_VENUE_PLACE)


def _only(spans: list[SpanRecord], name: str, what: str) -> SpanRecord:
    found = [span for span in spans if span.name == name]
    assert len(found) == 1, f"{what}: expected one {name} span, got {found}"
    return found[0]


def check_order_traces(spans: list[SpanRecord]) -> dict[str, SpanRecord]:
    """Assert one connected trace per placed order; the connector span of each, by client order id."""
    by_order: dict[str, list[SpanRecord]] = defaultdict(list)
    for span in spans:
        if span.name in ORDER_SPANS:
            by_order[str(span.attributes[CID])].append(span)
    placed = {str(span.attributes[CID]): span for span in spans if span.name == SPAN_SUBMIT}
    sides = {cid: submit.attributes["opensqt.side"] for cid, submit in placed.items()}
    # The price path: three buys rest, one fills, its sell rests and fills, the buy is re-placed.
    assert list(sides.values()).count("buy") >= BUY_WINDOW + 1
    assert list(sides.values()).count("sell") == 1

    trace_ids = set()
    for cid in placed:
        order_spans = by_order[cid]
        decision = _only(order_spans, SPAN_ORDER, cid)
        assert decision.service == ENGINE
        assert decision.parent_span_id is None, "the engine's decision starts the order's trace"
        assert {span.trace_id for span in order_spans} == {decision.trace_id}, f"{cid} spans one trace"
        trace_ids.add(decision.trace_id)

        submit = _only(order_spans, SPAN_SUBMIT, cid)
        assert submit.service == CONNECTOR
        assert submit.parent_span_id == decision.span_id
        assert submit.status != "ERROR"
        venue = _only(order_spans, SPAN_VENUE_PLACE, cid)
        assert venue.service == CONNECTOR
        assert venue.parent_span_id == submit.span_id
        assert venue.kind == "CLIENT"
        assert venue.attributes["opensqt.venue"] == "sim"
        assert venue.attributes["opensqt.order_id"] == submit.attributes["opensqt.order_id"]

        reviews = [span for span in order_spans if span.name == SPAN_REVIEW]
        if sides[cid] == "buy":
            assert len(reviews) == 1, f"{cid}: {reviews}"
            review = reviews[0]
            assert review.service == RISK
            assert review.parent_span_id == decision.span_id
            assert review.attributes["opensqt.risk.approved"] is True
            assert review.end_ns <= submit.start_ns, "risk decides before the connector is asked"
        else:
            assert reviews == [], "a take-profit sell goes straight to the connector"
        assert decision.start_ns <= submit.start_ns <= venue.start_ns <= venue.end_ns <= submit.end_ns
    assert len(trace_ids) == len(placed), "one trace per order"
    return placed


async def test_each_order_is_one_trace_across_the_three_processes(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        await stack.driver.drive_round_trip()
    assert stack.exit_codes == {"engine": 0, "risk": 0, "connector": 0}
    spans = stack.spans()
    assert {span.service for span in spans} == {CONNECTOR, RISK, ENGINE}
    placed = check_order_traces(spans)

    # The connector's JSON log line for each placed order carries that order's trace.
    logged = {
        record["client_order_id"]: record
        for record in stack.connector.events()
        if record.get("event") == "order_placed"
    }
    assert set(logged) == set(placed)
    for cid, submit in placed.items():
        assert logged[cid]["trace_id"] == submit.trace_id
        assert logged[cid]["span_id"] == submit.span_id


async def test_a_vetoed_order_is_one_trace_that_ends_at_risk(tmp_path: Path) -> None:
    # Risk allows two open orders; the grid wants three buys, so the farthest is vetoed.
    async with running_stack(tmp_path, env={"OPENSQT_RISK_LIMITS__MAX_OPEN_ORDERS": "2"}) as stack:
        assert stack.engine is not None
        await stack.driver.wait_open_orders(lambda orders: len(orders) == 2, "two buys resting")
        not_sent = await stack.engine.wait_event("order_not_sent")
    assert not_sent["vetoed"] is True
    cid = not_sent["client_order_id"]
    # The engine's log line leads to the order's trace: the decision and the veto, nothing else.
    in_trace = [span for span in stack.spans() if span.trace_id == not_sent["trace_id"]]
    decision = _only(in_trace, SPAN_ORDER, cid)
    assert decision.attributes[CID] == cid
    assert decision.parent_span_id is None
    assert decision.span_id == not_sent["span_id"]
    assert decision.status == "ERROR"
    review = _only(in_trace, SPAN_REVIEW, cid)
    assert review.service == RISK
    assert review.parent_span_id == decision.span_id
    assert review.attributes[CID] == cid
    assert review.attributes["opensqt.risk.approved"] is False
    assert review.attributes["opensqt.risk.reason"] == "MAX_OPEN_ORDERS"
    assert [span.name for span in in_trace if span.service == CONNECTOR] == [], "never sent"


async def test_each_order_is_one_trace_with_an_in_memory_exporter(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()

    def provider(service: str) -> TracerProvider:
        tracer_provider = TracerProvider(resource=Resource.create({"service.name": service}))
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        return tracer_provider

    no_crash_detector = {"crash_detector": {"enabled": False}}
    async with (
        running_connector(tracer_provider=provider(CONNECTOR)) as connector,
        running_risk(
            connector.address, tmp_path, config=no_crash_detector, tracer_provider=provider(RISK)
        ) as risk,
    ):
        driver = SimDriver(connector.channel)
        await driver.hold_price(ANCHOR)
        flags = ["--listen", "127.0.0.1:0", *engine_flags(tmp_path, connector.address, risk.address)]
        engine = EngineApp(
            load_settings(EngineSettings, flags),
            load_config(engine_config(tmp_path)),
            tracer_provider=provider(ENGINE),
        )
        await engine.start()
        try:
            await engine.wait_ready()
            await driver.drive_round_trip()
        finally:
            await engine.stop()
    spans = [SpanRecord.from_record(span_record(span)) for span in exporter.get_finished_spans()]
    check_order_traces(spans)
