"""Every metric docs/metrics.md documents is served by its service, with sane values.

The three services run as processes on `sim` with `--metrics-port 0`; a scripted
price path makes the engine place buys through risk, fill one, place and fill its
take-profit sell, and then the sim drops its venue streams once. Each service's
/metrics endpoint is scraped over HTTP while the stack runs and parsed as
Prometheus text.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from observability_support import (  # type: ignore[import-not-found]
    ANCHOR,
    BUY_WINDOW,
    INTERVAL,
    SYMBOL,
    ContractMetric,
    Scrape,
    ServiceProcess,
    metric_contract,
    running_stack,
)

from opensqt.sim.v1 import sim_service_pb2

pytestmark = pytest.mark.e2e

CONNECTOR_STREAMS = {"prices", "orders", "fills", "klines"}
SIM_FEEDS = {"tickers", "klines", "orders", "fills"}
BREAKER_STATES = {"closed", "open", "half_open"}
SLOT_STATES = {"free", "pending", "locked"}


def _placed(connector: ServiceProcess) -> dict[str, int]:
    """Orders the connector logged as placed, by side."""
    sides = [r["side"] for r in connector.events() if r.get("event") == "order_placed"]
    return {side: sides.count(side) for side in ("buy", "sell")}


def _assert_contract(scrape: Scrape, metrics: list[ContractMetric]) -> None:
    """Each metric is served with its documented type and exactly its documented labels."""
    assert metrics
    for metric in metrics:
        assert scrape.kind(metric.name) == metric.kind, metric.name
        if metric.kind == "histogram":
            count = scrape.series(metric.name + "_count")
            buckets = scrape.series(metric.name + "_bucket")
            assert count, f"{metric.name} has no series"
            assert all(set(s.labels) == metric.labels for s in count), metric.name
            assert all(set(s.labels) == metric.labels | {"le"} for s in buckets), metric.name
            for sample in count:
                series = scrape.series(metric.name + "_bucket", **sample.labels)
                cumulative = [s.value for s in series]
                assert cumulative == sorted(cumulative), f"{metric.name}: buckets are cumulative"
                assert series[-1].labels["le"] == "+Inf"
                assert cumulative[-1] == sample.value
        else:
            series = scrape.series(metric.name)
            assert series, f"{metric.name} has no series"
            assert all(set(s.labels) == metric.labels for s in series), f"{metric.name}: {series}"
            assert all(s.value >= 0 for s in series) or metric.name.endswith("_pnl"), metric.name


def _check_connector(scrape: Scrape, placed: dict[str, int]) -> None:
    orders = "opensqt_connector_orders_total"
    assert {s.labels["venue"] for s in scrape.series(orders)} == {"sim"}
    assert {s.labels["symbol"] for s in scrape.series(orders)} == {SYMBOL}
    assert scrape.by(orders, "side", result="accepted", reason="NONE") == {
        side: float(count) for side, count in placed.items()
    }
    assert scrape.total(orders) == sum(placed.values()), "nothing was refused on this path"
    latency = "opensqt_connector_order_entry_latency_milliseconds"
    assert scrape.total(latency + "_count") == scrape.total(orders), "one latency per counted order"
    assert scrape.by(latency + "_count", "entry") == {"stream": sum(placed.values())}
    assert scrape.total(latency + "_sum") > 0

    subscribers = scrape.by("opensqt_connector_stream_subscribers", "stream")
    assert set(subscribers) == CONNECTOR_STREAMS
    # risk and the engine both follow prices, orders and fills; risk alone follows klines
    assert subscribers["prices"] >= 2
    assert subscribers["orders"] >= 2
    assert subscribers["fills"] >= 2
    assert subscribers["klines"] >= 1
    assert scrape.by("opensqt_connector_stream_slow_disconnects_total", "stream") == dict.fromkeys(
        CONNECTOR_STREAMS, 0.0
    )
    reconnects = "opensqt_connector_venue_stream_reconnects_total"
    assert scrape.by(reconnects, "stream", venue="sim") == dict.fromkeys(SIM_FEEDS, 1.0)
    breaker = "opensqt_connector_venue_breaker_transitions_total"
    assert scrape.by(breaker, "state", venue="sim") == dict.fromkeys(BREAKER_STATES, 0.0)


def _check_risk(scrape: Scrape, buys: int) -> None:
    decisions = "opensqt_risk_decisions_total"
    # every buy the engine placed was approved first; take-profit sells never ask risk
    assert buys >= BUY_WINDOW + 1
    assert scrape.value(decisions, approved="true", reason="NONE") == buys
    assert scrape.total(decisions, approved="false") == 0
    latency = "opensqt_risk_review_latency_milliseconds"
    assert scrape.total(latency + "_count") == scrape.total(decisions)
    assert scrape.total(latency + "_sum") > 0
    assert scrape.value("opensqt_risk_trading_state") == 0, "active"


def _engine_settled(scrape: Scrape) -> bool:
    return bool(
        scrape.value("opensqt_engine_open_orders") == BUY_WINDOW
        and scrape.value("opensqt_engine_fills_total", side="sell") == 1
    )


def _check_engine(scrape: Scrape) -> None:
    assert scrape.value("opensqt_engine_last_price", symbol=SYMBOL) == float(ANCHOR)
    slots = scrape.by("opensqt_engine_slots", "state")
    assert set(slots) == SLOT_STATES
    assert slots["locked"] == BUY_WINDOW
    assert slots["pending"] == 0
    assert scrape.value("opensqt_engine_open_orders") == BUY_WINDOW
    assert scrape.by("opensqt_engine_fills_total", "side") == {"buy": 1.0, "sell": 1.0}
    # one round trip: 0.001 BTC bought one interval below the sell, less two fees
    gross = float(Decimal("0.001") * INTERVAL)
    pnl = scrape.value("opensqt_engine_realized_pnl")
    assert pnl is not None
    assert 0 < pnl < gross
    latency = "opensqt_engine_tick_to_order_latency_milliseconds"
    assert scrape.total(latency + "_count") >= 1
    assert scrape.total(latency + "_sum") > 0


async def test_each_service_serves_its_documented_metrics_with_sane_values(tmp_path: Path) -> None:
    contract = metric_contract()
    by_service = {
        name: [metric for metric in contract.values() if metric.service == name]
        for name in ("connector", "risk", "engine")
    }
    assert sum(len(metrics) for metrics in by_service.values()) == len(contract)

    async with running_stack(tmp_path) as stack:
        assert stack.risk is not None
        assert stack.engine is not None
        await stack.driver.drive_round_trip()
        engine = await stack.scrape_until(stack.engine, _engine_settled, "open orders and fills settled")
        # Log lines are read from a pipe and may trail the counters: each predicate reads
        # the log afresh and keeps what it compared against.
        buys: list[int] = []

        def decided(scrape: Scrape) -> bool:
            buys[:] = [_placed(stack.connector)["buy"]]
            approved = scrape.value("opensqt_risk_decisions_total", approved="true", reason="NONE")
            return bool(approved == buys[0])

        risk = await stack.scrape_until(stack.risk, decided, "a decision for every buy")

        before = await stack.scrape(stack.connector)
        subscribed = before.by("opensqt_connector_stream_subscribers", "stream")
        assert before.by("opensqt_connector_venue_stream_reconnects_total", "stream") == dict.fromkeys(
            SIM_FEEDS, 0.0
        ), "a feed that connected once starts at 0"
        await stack.driver.sim.SetFaults(
            sim_service_pb2.SetFaultsRequest(faults=sim_service_pb2.Faults(drop_streams=True))
        )

        placed: dict[str, int] = {}

        def recovered(scrape: Scrape) -> bool:
            placed.clear()
            placed.update(_placed(stack.connector))
            reconnects = scrape.by("opensqt_connector_venue_stream_reconnects_total", "stream")
            resubscribed = scrape.by("opensqt_connector_stream_subscribers", "stream") == subscribed
            counted = scrape.total("opensqt_connector_orders_total") == sum(placed.values())
            return bool(reconnects == dict.fromkeys(SIM_FEEDS, 1.0) and resubscribed and counted)

        connector = await stack.scrape_until(stack.connector, recovered, "feeds back, clients resubscribed")

    assert stack.exit_codes == {"engine": 0, "risk": 0, "connector": 0}
    _assert_contract(connector, by_service["connector"])
    _assert_contract(risk, by_service["risk"])
    _assert_contract(engine, by_service["engine"])
    _check_connector(connector, placed)
    _check_risk(risk, buys[0])
    _check_engine(engine)
