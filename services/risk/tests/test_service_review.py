"""ReviewOrders over a live bidi stream, against a real risk service fed by a real sim connector."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from risk_service_support import BTC, ETH, SOL, running_stack  # type: ignore[import-not-found]  # on sys.path under pytest only

from opensqt.common.v1 import common_pb2
from opensqt.risk.v1 import risk_service_pb2 as pb
from opensqt.risk.v1 import types_pb2 as risk_pb2
from opensqt.sim.v1 import sim_service_pb2
from opensqt_common.testing import eventually
from opensqt_connector.testing import dec, market_order
from opensqt_risk.testing import intent

XRP = "XRP/USDT:USDT"  # configured for risk, not served by the connector: never a price
COVERAGE_CONFIG = {
    "limits": {
        "max_order_quantity": "0.01",
        "max_position": "0.005",
        "max_order_notional": "500",
        "max_open_orders": 3,
        "price_band": "0.05",
        "max_order_rate": "1000",
        "stale_after_seconds": 60,
    },
    "symbols": {
        BTC: {},
        ETH: {"max_order_quantity": "1", "max_position": "10", "max_order_rate": "1"},
        SOL: {"max_order_quantity": "10", "max_position": "100", "max_order_notional": "10000"},
        XRP: {},
    },
    "crash_detector": {"enabled": False},
}
VETO_NAMES = {
    name
    for name in risk_pb2.VetoReason.keys()  # noqa: SIM118 - protobuf enum wrapper
    if name != "VETO_REASON_UNSPECIFIED"
}


def reason(decision: risk_pb2.RiskDecision) -> str:
    return "APPROVED" if decision.approved else risk_pb2.VetoReason.Name(decision.reason)


def limit_named(decision: risk_pb2.RiskDecision, name: str) -> tuple[str, str]:
    (applied,) = [item for item in decision.limits if item.name == name]
    return applied.limit.value, applied.value.value


def metric_points(reader: InMemoryMetricReader, name: str) -> list[object]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


async def test_every_veto_reason_over_one_live_stream(tmp_path: Path) -> None:
    reader = InMemoryMetricReader()
    async with running_stack(
        tmp_path,
        symbols=(BTC, ETH, SOL),
        config=COVERAGE_CONFIG,
        meter_provider=MeterProvider(metric_readers=[reader]),
    ) as stack:
        session = await stack.risk.review_session()
        seen: dict[str, risk_pb2.RiskDecision] = {}

        async def expect(message: risk_pb2.OrderIntent | None, expected: str) -> risk_pb2.RiskDecision:
            decision: risk_pb2.RiskDecision = await session.review(message)
            assert reason(decision) == expected, decision
            if message is not None:
                assert decision.client_order_id == message.client_order_id
            seen[expected] = decision
            return decision

        # BTC trades at 60000 on the sim.
        decision = await expect(intent("q1", BTC, "buy", "0.02", "60000"), "VETO_REASON_MAX_QUANTITY")
        assert limit_named(decision, "max_order_quantity") == ("0.01", "0.02")
        decision = await expect(intent("n1", BTC, "buy", "0.009", "60000"), "VETO_REASON_MAX_NOTIONAL")
        assert limit_named(decision, "max_order_notional") == ("500", "540")
        await expect(intent("p1", BTC, "buy", "0.001", "70000"), "VETO_REASON_PRICE_BAND")
        await expect(intent("ok1", BTC, "buy", "0.004", "60000"), "APPROVED")
        decision = await expect(intent("pos1", BTC, "buy", "0.002", "60000"), "VETO_REASON_MAX_POSITION")
        assert limit_named(decision, "max_position") == ("0.005", "0.006")
        await expect(intent("ok2", BTC, "buy", "0.001", "59990"), "APPROVED")  # exactly at the limit
        await expect(intent("ok3", BTC, "sell", "0.001", "60010"), "APPROVED")
        await expect(intent("oo1", BTC, "sell", "0.001", "60010"), "VETO_REASON_MAX_OPEN_ORDERS")
        await expect(
            intent("ro1", BTC, "sell", "0.001", "60010", reduce_only=True),
            "VETO_REASON_REDUCE_ONLY_INCREASES",
        )
        # Malformed intents are answered, and the stream stays up for the next one.
        bad = intent("bad1", BTC, "buy", "0.001", "60000")
        bad.ClearField("quantity")
        decision = await expect(bad, "VETO_REASON_INVALID_INTENT")
        assert decision.error.code == 3  # google.rpc.Code INVALID_ARGUMENT
        assert decision.error.reason == common_pb2.ERROR_REASON_INVALID_ARGUMENT
        assert decision.error.metadata["field"] == "quantity"
        no_intent = await session.review(None)
        assert reason(no_intent) == "VETO_REASON_INVALID_INTENT"
        assert no_intent.error.metadata["field"] == "intent"
        bad_id = await session.review(intent("not valid!", BTC, "buy", "0.001", "60000"))
        assert reason(bad_id) == "VETO_REASON_INVALID_INTENT"
        assert bad_id.client_order_id == "not valid!"
        await expect(intent("u1", "DOGE/USDT:USDT", "buy", "1", "0.15"), "VETO_REASON_UNKNOWN_SYMBOL")
        decision = await expect(intent("s1", XRP, "buy", "1", "0.6"), "VETO_REASON_STALE_MARKET_DATA")
        assert "no price" in decision.detail
        # ETH allows one opening order per second.
        await expect(intent("r1", ETH, "buy", "0.01", "3000"), "APPROVED")
        await expect(intent("r2", ETH, "buy", "0.01", "3000"), "VETO_REASON_RATE")
        # The kill switch.
        await stack.risk.stub.Halt(
            pb.HaltRequest(state=common_pb2.TRADING_STATE_HALTED, reason="test", operator="qa")
        )
        await expect(intent("h1", SOL, "buy", "0.1", "150"), "VETO_REASON_HALTED")
        await stack.risk.stub.Halt(
            pb.HaltRequest(state=common_pb2.TRADING_STATE_REDUCE_ONLY, reason="test", operator="qa")
        )
        await expect(intent("h2", SOL, "buy", "0.1", "150"), "VETO_REASON_REDUCE_ONLY")
        await stack.risk.stub.Resume(pb.ResumeRequest(reason="done", operator="qa"))
        await expect(intent("ok4", SOL, "buy", "0.1", "150"), "APPROVED")
        # Margin: the account's free balance drops to 1 USDT; 150 notional at leverage 10 needs 15.
        await stack.connector.sim.SetBalance(sim_service_pb2.SetBalanceRequest(asset="USDT", amount=dec("1")))
        await stack.wait_free_margin(lambda free: free < 2)
        decision = await expect(intent("m1", SOL, "buy", "1", "150"), "VETO_REASON_INSUFFICIENT_MARGIN")
        assert limit_named(decision, "free_margin")[1] == "15"
        await session.close()

        # NO_ACCOUNT_DATA exists only before risk's first balance, which this stack waits for;
        # review produces it in test_rules_veto_coverage.
        assert set(seen) - {"APPROVED"} == VETO_NAMES - {"VETO_REASON_NO_ACCOUNT_DATA"}
        counted = {
            (point.attributes["approved"], point.attributes["reason"]): point.value  # type: ignore[attr-defined]
            for point in metric_points(reader, "opensqt.risk.decisions")
        }
        assert counted[("true", "NONE")] == 5
        assert counted[("false", "INVALID_INTENT")] == 3
        assert counted[("false", "RATE")] == 1
        latency = metric_points(reader, "opensqt.risk.review_latency")
        assert latency[0].count == sum(counted.values())  # type: ignore[attr-defined]


async def test_closing_orders_pass_while_halted_and_fills_reach_risk_at_once(tmp_path: Path) -> None:
    config = {"limits": {"max_position": "1"}, "crash_detector": {"enabled": False}}
    # Polls every 60 s: within this test only the fill stream can move risk's position.
    async with running_stack(tmp_path, config=config, risk_flags=("--account-poll-seconds", "60")) as stack:
        await stack.connector.exchange.PlaceOrder(market_order("buy1", "buy", "0.002"))
        await eventually(lambda: stack.position(BTC) == Decimal("0.002"), message="fill reached risk")
        await stack.risk.stub.Halt(
            pb.HaltRequest(state=common_pb2.TRADING_STATE_HALTED, reason="crash drill", operator="qa")
        )
        session = await stack.risk.review_session()
        take_profit = await session.review(intent("tp1", BTC, "sell", "0.001", "60100", reduce_only=True))
        assert take_profit.approved, take_profit
        plain_close = await session.review(intent("tp2", BTC, "sell", "0.001", "60200"))
        assert plain_close.approved, plain_close  # not reduce-only, but it only reduces the long
        opening = await session.review(intent("o1", BTC, "buy", "0.001", "60000"))
        assert reason(opening) == "VETO_REASON_HALTED"
        over_close = await session.review(intent("tp3", BTC, "sell", "0.001", "60300"))
        assert reason(over_close) == "VETO_REASON_HALTED"  # beyond the position it would open a short
        await session.close()


async def test_each_review_is_a_child_span_of_the_intent_trace_context(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent_id = "00f067aa0ba902b7"
    async with running_stack(
        tmp_path, config={"crash_detector": {"enabled": False}}, tracer_provider=provider
    ) as stack:
        session = await stack.risk.review_session()
        traced = intent(
            "t1", BTC, "buy", "0.001", "60000", trace_context={"traceparent": f"00-{trace_id}-{parent_id}-01"}
        )
        assert (await session.review(traced)).approved
        await session.close()
    (span,) = [span for span in exporter.get_finished_spans() if span.name == "risk.review"]
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == parent_id
    assert span.attributes is not None
    assert span.attributes["opensqt.client_order_id"] == "t1"
    assert span.attributes["opensqt.risk.approved"] is True
