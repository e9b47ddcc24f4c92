"""Unit tests of the runtime's parts that need no server: bucket, backoff, inbox, persistence
ordering, edge conversion, adoption on recovery, config and settings, audit lines, metrics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import timestamp_pb2
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import types_pb2
from opensqt.risk.v1 import types_pb2 as risk_types_pb2
from opensqt_common.enums import MarketType, OrderStatus, Side
from opensqt_common.settings import load_settings
from opensqt_common.testing import eventually
from opensqt_engine.audit import AuditLog
from opensqt_engine.config import ConfigError, load_config
from opensqt_engine.core import (
    Fill,
    GridConfig,
    GridStrategy,
    MarketRules,
    OrderAccepted,
    PlaceOrder,
    PriceTick,
    RejectReason,
    SlotStatus,
)
from opensqt_engine.journal import FillRecord, IntentRecord, Outcome
from opensqt_engine.metrics import EngineMetrics
from opensqt_engine.runtime import convert
from opensqt_engine.runtime.inbox import Inbox
from opensqt_engine.runtime.links import Backoff
from opensqt_engine.runtime.persistence import Persistence
from opensqt_engine.runtime.ratelimit import TokenBucket
from opensqt_engine.runtime.recovery import adopt, owning_slot
from opensqt_engine.settings import EngineSettings

D = Decimal


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- token bucket, backoff


def test_token_bucket_allows_the_burst_then_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=4, burst=2, clock=clock)
    assert [bucket.try_take() for _ in range(3)] == [True, True, False]
    assert bucket.wait_time() == pytest.approx(0.25)
    clock.now += 0.25
    assert bucket.try_take()
    assert not bucket.try_take()
    clock.now += 10  # refills, but never beyond the burst
    assert [bucket.try_take() for _ in range(3)] == [True, True, False]


def test_token_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate=0, burst=1)
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(rate=1, burst=0)


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(0.1, 0.5)
    assert [backoff.next_delay() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    backoff.reset()
    assert backoff.next_delay() == 0.1


# ---------------------------------------------------------------- inbox


async def test_inbox_keeps_only_the_latest_tick() -> None:
    inbox: Inbox[str, str, str] = Inbox(capacity=4)
    inbox.put_tick("60000")
    inbox.put_tick("60001")
    await inbox.wait()
    assert inbox.take_tick() == "60001"
    assert inbox.take_tick() is None
    assert not inbox.has_work()


async def test_inbox_stream_lane_makes_producers_wait_when_full() -> None:
    inbox: Inbox[str, str, int] = Inbox(capacity=2)
    await inbox.put_stream(1)
    await inbox.put_stream(2)
    blocked = asyncio.ensure_future(inbox.put_stream(3))
    await asyncio.sleep(0)
    assert not blocked.done()
    assert len(inbox.stream) == 2
    assert inbox.take_stream() == 1
    await asyncio.wait_for(blocked, 1)
    assert list(inbox.stream) == [2, 3]


async def test_inbox_control_lane_never_blocks_and_wakes_the_consumer() -> None:
    inbox: Inbox[str, str, str] = Inbox(capacity=1)
    waiter = asyncio.ensure_future(inbox.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    for item in ("a", "b", "c"):
        inbox.put_control(item)
    await asyncio.wait_for(waiter, 1)
    assert list(inbox.control) == ["a", "b", "c"]
    assert inbox.has_work(ticks=False)


# ---------------------------------------------------------------- persistence


class RecordingJournal:
    """An EngineJournal that records the order of every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail_snapshots = 0

    async def record_intent(self, intent: IntentRecord) -> None:
        self.calls.append(("intent", intent.client_order_id))

    async def record_outcome(
        self, client_order_id: str, outcome: Outcome, *, order_id: str = "", detail: str = ""
    ) -> None:
        self.calls.append(("outcome", (client_order_id, outcome)))

    async def record_fill(self, fill: FillRecord) -> bool:
        self.calls.append(("fill", fill.trade_id))
        return True

    async def open_intents(self, strategy_id: str) -> Sequence[IntentRecord]:
        return []

    async def save_snapshot(self, strategy_id: str, snapshot: Mapping[str, Any]) -> None:
        if self.fail_snapshots:
            self.fail_snapshots -= 1
            raise OSError("disk full")
        self.calls.append(("snapshot", snapshot["next_generation"]))

    async def load_snapshot(self, strategy_id: str) -> dict[str, Any] | None:
        return None

    async def close(self) -> None:
        return None


def _fill(trade_id: str) -> FillRecord:
    return FillRecord(trade_id, "t1BN1G0", "1", "BTC/USDT:USDT", Side.BUY, D(1), D(1), D(0), "USDT", 0)


async def test_final_outcomes_are_written_only_after_a_snapshot_that_contains_them() -> None:
    journal = RecordingJournal()
    generation = [7]
    persistence = Persistence(
        journal,
        "t1",
        lambda: {"next_generation": generation[0]},
        lambda: generation[0],
        interval_s=60,
        lease=100,
    )
    persistence.outcome("a", Outcome.ACKED, order_id="1")
    persistence.fill(_fill("f1"))
    persistence.outcome("a", Outcome.FILLED, order_id="1")
    persistence.outcome("b", Outcome.VETOED)
    await persistence.save()
    assert journal.calls == [
        ("outcome", ("a", Outcome.ACKED)),
        ("fill", "f1"),
        ("snapshot", 107),
        ("outcome", ("a", Outcome.FILLED)),
        ("outcome", ("b", Outcome.VETOED)),
    ]
    assert persistence.ceiling == 107


async def test_a_failed_snapshot_keeps_the_outcomes_for_the_next_one() -> None:
    journal = RecordingJournal()
    journal.fail_snapshots = 1
    persistence = Persistence(journal, "t1", lambda: {}, lambda: 0, interval_s=60, lease=10)
    persistence.outcome("a", Outcome.CANCELED)
    with pytest.raises(OSError, match="disk full"):
        await persistence.save()
    assert ("outcome", ("a", Outcome.CANCELED)) not in journal.calls
    assert persistence.ceiling == 0
    assert persistence.backlog == 1
    await persistence.save()
    assert journal.calls == [("snapshot", 10), ("outcome", ("a", Outcome.CANCELED))]


async def test_the_ceiling_only_grows() -> None:
    journal = RecordingJournal()
    generation = [0]
    persistence = Persistence(journal, "t1", lambda: {}, lambda: generation[0], interval_s=60, lease=10)
    await persistence.extend_ceiling()
    generation[0] = 3
    await persistence.save()
    assert persistence.ceiling == 13
    generation[0] = 1  # never lower, whatever the caller says
    await persistence.save()
    assert persistence.ceiling == 13
    assert [call for call in journal.calls if call[0] == "snapshot"] == [
        ("snapshot", 10),
        ("snapshot", 13),
        ("snapshot", 13),
    ]


async def test_the_writer_task_saves_when_dirty() -> None:
    journal = RecordingJournal()
    persistence = Persistence(journal, "t1", lambda: {}, lambda: 5, interval_s=0.01, lease=10)
    task = asyncio.ensure_future(persistence.run())
    try:
        persistence.outcome("x", Outcome.REJECTED)
        await eventually(lambda: ("outcome", ("x", Outcome.REJECTED)) in journal.calls, timeout=2.0)
        assert journal.calls == [("snapshot", 15), ("outcome", ("x", Outcome.REJECTED))]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# ---------------------------------------------------------------- conversion at the edge


def _error(reason: int) -> common_pb2.Error:
    return common_pb2.Error(code=9, reason=reason, message="why")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (common_pb2.ERROR_REASON_POST_ONLY_WOULD_CROSS, RejectReason.POST_ONLY_WOULD_CROSS),
        (common_pb2.ERROR_REASON_INSUFFICIENT_MARGIN, RejectReason.INSUFFICIENT_MARGIN),
        (common_pb2.ERROR_REASON_MIN_NOTIONAL, RejectReason.MIN_NOTIONAL),
        (common_pb2.ERROR_REASON_REDUCE_ONLY_REJECTED, RejectReason.OTHER),
        (common_pb2.ERROR_REASON_RATE_LIMITED, RejectReason.OTHER),
        (common_pb2.ERROR_REASON_VENUE_UNAVAILABLE, None),
        (common_pb2.ERROR_REASON_INTERNAL, None),
        (common_pb2.ERROR_REASON_DUPLICATE_CLIENT_ORDER_ID, None),
    ],
)
def test_place_errors_are_definite_rejections_or_lookups(reason: int, expected: RejectReason | None) -> None:
    assert convert.rejection(_error(reason)) is expected


def test_an_order_becomes_a_core_update() -> None:
    order = types_pb2.Order(
        client_order_id="t1BN1G0",
        order_id="42",
        status=common_pb2.ORDER_STATUS_PARTIALLY_FILLED,
        filled_quantity=common_pb2.Decimal(value="0.008"),
        average_fill_price=common_pb2.Decimal(value="59950"),
    )
    update = convert.order_update(order, 5.0)
    assert (update.client_order_id, update.order_id, update.status) == (
        "t1BN1G0",
        "42",
        OrderStatus.PARTIALLY_FILLED,
    )
    assert update.filled_quantity == D("0.008")
    assert update.average_price == D("59950")
    assert update.now == 5.0
    assert convert.final_outcome(update.status) is None
    assert convert.final_outcome(OrderStatus.CANCELED) is Outcome.CANCELED


def _buy_fill(symbol: str, fee: str, fee_asset: str) -> types_pb2.Fill:
    return types_pb2.Fill(
        trade_id="9",
        client_order_id="t1BN1G0",
        order_id="1",
        symbol=symbol,
        side=common_pb2.SIDE_BUY,
        price=common_pb2.Decimal(value="60000"),
        quantity=common_pb2.Decimal(value="0.01"),
        fee=common_pb2.Decimal(value=fee),
        fee_asset=fee_asset,
        time=timestamp_pb2.Timestamp(seconds=1_700_000_000, nanos=5_000_000),
    )


def test_fees_in_another_asset_do_not_count_as_quote_fees() -> None:
    fill = _buy_fill("BTC/USDT:USDT", "0.12", "USDT")
    record = convert.fill_record(fill)
    assert record.time_ms == 1_700_000_000_005
    assert record.side is Side.BUY
    assert convert.fill_event(record, frozenset({"USDT"})).fee == D("0.12")
    fill.fee_asset = "BNB"
    assert convert.fill_event(convert.fill_record(fill), frozenset({"USDT"})).fee == 0


def test_a_spot_fee_taken_from_the_coins_bought_is_a_base_fee() -> None:
    fill = _buy_fill("BTC/USDT", "0.00001", "BTC")
    event = convert.fill_event(convert.fill_record(fill), frozenset({"USDT"}), "BTC")
    assert (event.fee, event.base_fee) == (0, D("0.00001"))
    # a perpetual grid names no base asset: nothing is taken off its position
    assert convert.fill_event(convert.fill_record(fill), frozenset({"USDT"})).base_fee == 0
    fill.fee_asset = "BNB"  # a discount token: no cost to what the grid holds
    event = convert.fill_event(convert.fill_record(fill), frozenset({"USDT"}), "BTC")
    assert (event.fee, event.base_fee) == (0, 0)


def test_spot_rules_bound_base_fees_by_the_higher_fee_rate_perpetuals_by_none() -> None:
    market = types_pb2.Market(
        symbol="BTC/USDT",
        market_type=common_pb2.MARKET_TYPE_SPOT,
        tick_size=common_pb2.Decimal(value="0.01"),
        step_size=common_pb2.Decimal(value="0.00001"),
        maker_fee=common_pb2.Decimal(value="0.0008"),
        taker_fee=common_pb2.Decimal(value="0.001"),
    )
    assert convert.market_rules(market).base_fee_rate == D("0.001")
    market.ClearField("taker_fee")
    assert convert.market_rules(market).base_fee_rate == D("0.0008")
    market.market_type = common_pb2.MARKET_TYPE_LINEAR_PERPETUAL
    assert convert.market_rules(market).base_fee_rate == 0


def test_intent_and_place_carry_the_same_order_and_trace_context() -> None:
    action = PlaceOrder(3, "t1BP3G7", Side.BUY, D("60150"), D("0.016"), True, False)
    carrier = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    intent = convert.order_intent(action, "BTC/USDT:USDT", "t1", carrier)
    place = convert.submit_place(action, "BTC/USDT:USDT", carrier).place
    for message in (intent, place):
        assert message.client_order_id == "t1BP3G7"
        assert (message.price.value, message.quantity.value) == ("60150", "0.016")
        assert message.post_only
        assert not message.reduce_only
        assert dict(message.trace_context) == carrier
    assert intent.strategy_id == "t1"
    assert place.time_in_force == common_pb2.TIME_IN_FORCE_GTC


def test_a_market_of_the_wrong_kind_is_refused() -> None:
    market = types_pb2.Market(
        symbol="BTC/USDT",
        market_type=common_pb2.MARKET_TYPE_SPOT,
        contract_size=common_pb2.Decimal(value="1"),
    )
    with pytest.raises(convert.MarketMismatch, match="spot"):
        convert.check_market(market, MarketType.LINEAR_PERPETUAL)
    market.market_type = common_pb2.MARKET_TYPE_LINEAR_PERPETUAL
    market.contract_size.value = "0.001"
    with pytest.raises(convert.MarketMismatch, match="contract"):
        convert.check_market(market, MarketType.LINEAR_PERPETUAL)


# ---------------------------------------------------------------- adoption on recovery

RULES = MarketRules(D("0.1"), D("0.001"), D("0.001"), D(5))


def _strategy() -> GridStrategy:
    config = GridConfig(
        strategy_id="t1",
        symbol="BTC/USDT:USDT",
        market=MarketType.LINEAR_PERPETUAL,
        price_interval=D(50),
        order_amount=D(1000),
        buy_window=3,
        sell_window=3,
        anchor_price=D(60000),
    )
    return GridStrategy(config, RULES)


def _intent(cid: str, level: int, side: Side, price: str, quantity: str = "0.016") -> IntentRecord:
    return IntentRecord(cid, "t1", "BTC/USDT:USDT", level, side, D(price), D(quantity), True, False, 0)


def test_an_order_the_snapshot_missed_is_adopted_by_its_free_slot() -> None:
    strategy = _strategy()
    state = strategy.new_state()
    assert adopt(strategy, state, _intent("t1BN2G9", -2, Side.BUY, "59900"))
    slot = owning_slot(state, "t1BN2G9")
    assert slot is not None
    assert slot.status is SlotStatus.PENDING
    assert slot.level_price == D(59900)
    assert state.next_generation == 10  # never re-issue an adopted id
    # The core then treats it as its own order.
    strategy.handle(state, OrderAccepted("t1BN2G9", "77"))
    accepted = owning_slot(state, "t1BN2G9")
    assert accepted is slot
    assert accepted.status is SlotStatus.LOCKED
    assert accepted.order_id == "77"


def test_adoption_is_refused_when_it_would_break_a_slot_rule() -> None:
    strategy = _strategy()
    state = strategy.new_state()
    assert adopt(strategy, state, _intent("t1BN1G0", -1, Side.BUY, "59950"))
    # the slot already holds an order
    assert not adopt(strategy, state, _intent("t1BN1G1", -1, Side.BUY, "59950"))
    # a sell needs the position at its level
    assert not adopt(strategy, state, _intent("t1SN2G2", -2, Side.SELL, "59950"))
    # not this grid's id, or an id that does not match the intent
    assert not adopt(strategy, state, _intent("zzBN3G3", -3, Side.BUY, "59850"))
    assert not adopt(strategy, state, _intent("t1BN3G4", -4, Side.BUY, "59800"))
    # once filled (no price known yet, so no take-profit is placed), the slot is FREE and
    # holds a position: a sell fits, a buy does not
    strategy.handle(state, Fill("t1BN1G0", "tr1", D(59950), D("0.016")))
    slot = state.slots[-1]
    assert slot.status is SlotStatus.FREE
    assert slot.position == D("0.016")
    assert not adopt(strategy, state, _intent("t1BN1G8", -1, Side.BUY, "59950"))
    assert adopt(strategy, state, _intent("t1SN1G8", -1, Side.SELL, "60000"))


# ---------------------------------------------------------------- config, settings


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "engine.yaml"
    path.write_text(text)
    return path


def test_the_shipped_config_is_valid_and_equals_the_defaults() -> None:
    shipped = Path(__file__).resolve().parents[3] / "configs" / "engine.yaml"
    config = load_config(shipped)
    assert config == load_config(None)
    assert (config.symbol, config.price_interval, config.order_amount) == ("BTC/USDT:USDT", D(50), D(100))
    assert (config.buy_window, config.sell_window, config.order_rate, config.order_burst) == (5, 5, D(25), 30)
    assert config.cancel_on_exit
    assert config.post_only
    assert config.post_only_max_failures == 3


def test_numbers_are_read_exactly(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "price_interval: 0.1\norder_amount: 12.345\n"))
    assert config.price_interval == D("0.1")
    assert config.order_amount == D("12.345")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("price_interval: -5\n", "price_interval: must be > 0"),
        ("order_amount: 0\n", "order_amount: must be > 0"),
        ("buy_window: 0\n", "buy_window"),
        ("mode: neutral\n", "mode: mode 'neutral' is not supported yet"),
        ("mode: short\n", "mode: must be 'long'"),
        ("market: futures\n", "market"),
        ("strategy_id: Grid-1\n", "strategy_id"),
        ("symbol: BTCUSDT\n", "symbol"),
        ("prise_interval: 5\n", "prise_interval: unknown key"),
        ("market: spot\n", "symbol: market spot needs a spot symbol"),
        ("reconcile_seconds: 0.5\n", "reconcile_seconds: must be >= 1"),
        ("price_interval: .inf\n", "not a finite decimal"),
        ("- just\n- a list\n", "top level must be a mapping"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as raised:
        load_config(_write(tmp_path, text))
    assert str(tmp_path) in str(raised.value)


def test_a_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml")


def test_settings_come_from_flags_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENSQT_ENGINE_RISK", "risk:50052")
    monkeypatch.setenv("OPENSQT_DATABASE_URL", "sqlite:///tmp/x.sqlite")
    settings = load_settings(EngineSettings, ["--connector", "connector:50051", "--metrics-port", "9103"])
    assert (settings.listen, settings.connector, settings.risk) == (
        "127.0.0.1:50053",
        "connector:50051",
        "risk:50052",
    )
    assert settings.database_url == "sqlite:///tmp/x.sqlite"
    assert settings.metrics_port == 9103
    assert settings.audit_log == Path("data/engine-audit.jsonl")
    assert settings.config is None


def test_settings_refuse_a_bad_address() -> None:
    with pytest.raises(Exception, match="host:port"):
        load_settings(EngineSettings, ["--risk", "nowhere"])


# ---------------------------------------------------------------- audit, metrics


def test_audit_lines_are_json_with_exact_decimals(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "sub" / "audit.jsonl", clock_ns=lambda: 1_700_000_000_123_456_789)
    audit.open()
    audit.write("intent", client_order_id="t1BN1G0", price=D("59950.10"), side=Side.BUY)
    audit.write("fill", client_order_id="t1BN1G0", quantity=D("0.016"))
    audit.close()
    audit.write("after_close", client_order_id="x")  # dropped, not an error
    lines = [json.loads(line) for line in (tmp_path / "sub" / "audit.jsonl").read_text().splitlines()]
    assert lines == [
        {
            "time": "2023-11-14T22:13:20.123456789Z",
            "time_ns": 1_700_000_000_123_456_789,
            "event": "intent",
            "client_order_id": "t1BN1G0",
            "price": "59950.10",
            "side": "buy",
        },
        {
            "time": "2023-11-14T22:13:20.123456789Z",
            "time_ns": 1_700_000_000_123_456_789,
            "event": "fill",
            "client_order_id": "t1BN1G0",
            "quantity": "0.016",
        },
    ]


def test_metrics_have_the_documented_names_and_labels() -> None:
    reader = InMemoryMetricReader()
    metrics = EngineMetrics("BTC/USDT:USDT", MeterProvider(metric_readers=[reader]))
    strategy = _strategy()
    state = strategy.new_state()
    strategy.handle(state, PriceTick(D(60000), 1.0))
    metrics.last_price(D("60000.5"))
    metrics.fill(Side.SELL)
    metrics.tick_to_order(0.7)
    metrics.grid(state)
    data = reader.get_metrics_data()
    assert data is not None
    points: dict[str, list[tuple[dict[str, Any], Any]]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            assert scope.scope.name == "opensqt.engine"
            for metric in scope.metrics:
                points[metric.name] = [
                    (dict(point.attributes or {}), point.count if hasattr(point, "count") else point.value)
                    for point in metric.data.data_points
                ]
    assert points["opensqt.engine.last_price"] == [({"symbol": "BTC/USDT:USDT"}, 60000.5)]
    assert points["opensqt.engine.fills"] == [({"side": "sell"}, 1)]
    assert points["opensqt.engine.tick_to_order_latency"] == [({}, 1)]
    slots = dict((labels["state"], value) for labels, value in points["opensqt.engine.slots"])
    assert slots == {"free": 0, "pending": 3, "locked": 0}
    assert points["opensqt.engine.open_orders"] == [({}, 3)]
    assert points["opensqt.engine.realized_pnl"] == [({}, 0)]


class GatedJournal(RecordingJournal):
    """Fills wait until the gate opens: a journal that has fallen behind."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def record_fill(self, fill: FillRecord) -> bool:
        await self.gate.wait()
        return await super().record_fill(fill)


async def test_a_journal_that_falls_behind_makes_the_engine_wait_instead_of_growing_memory() -> None:
    journal = GatedJournal()
    persistence = Persistence(journal, "t1", lambda: {}, lambda: 0, interval_s=60, backlog_limit=4)
    writer = asyncio.ensure_future(persistence.run())
    try:
        for number in range(6):
            persistence.fill(_fill(f"f{number}"))
        assert persistence.overloaded
        waiting = asyncio.ensure_future(persistence.wait_drained())
        await asyncio.sleep(0)
        assert not waiting.done()
        journal.gate.set()
        await asyncio.wait_for(waiting, 5)
        assert persistence.backlog <= 2
        assert not persistence.overloaded
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (risk_types_pb2.VETO_REASON_INSUFFICIENT_MARGIN, RejectReason.INSUFFICIENT_MARGIN),  # locks buys
        (risk_types_pb2.VETO_REASON_NO_ACCOUNT_DATA, RejectReason.RISK_VETO),  # a short backoff only
        (risk_types_pb2.VETO_REASON_PRICE_BAND, RejectReason.RISK_VETO),
    ],
)
def test_only_a_real_margin_shortage_locks_buys(reason: int, expected: RejectReason) -> None:
    decision = risk_types_pb2.RiskDecision(client_order_id="t1BN1G0", approved=False, reason=reason)  # type: ignore[arg-type]
    assert convert.veto_rejection(decision) is expected
