"""Trading state over the live service: crash halt and recovery from sim klines, the drawdown
guard, the operator kill switch with its audit log, WatchTradingState, and bad unary input."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from risk_service_support import BTC, ETH, audit_records, running_stack, watch  # type: ignore[import-not-found]  # on sys.path under pytest only

from opensqt.common.v1 import common_pb2
from opensqt.risk.v1 import risk_service_pb2 as pb
from opensqt.sim.v1 import sim_service_pb2
from opensqt_common.enums import TradingState
from opensqt_common.errors import ServiceError, error_info
from opensqt_common.testing import eventually
from opensqt_connector.testing import market_order
from opensqt_risk.broadcast import StateBroadcaster, WatcherOverflow
from opensqt_risk.rules import StateSource, StateUpdate
from opensqt_risk.rules.crash_detector import Verdict
from opensqt_risk.testing import intent

HALTED = common_pb2.TRADING_STATE_HALTED
ACTIVE = common_pb2.TRADING_STATE_ACTIVE
REDUCE_ONLY = common_pb2.TRADING_STATE_REDUCE_ONLY
CRASH_CONFIG = {
    "limits": {"stale_after_seconds": 600},
    "crash_detector": {
        "interval": "1h",
        "average_window": 3,
        "multiplier": "3",
        "mode": "all",
        "recovery_threshold": 1,
    },
}


def states(items: list[pb.WatchTradingStateResponse]) -> list[int]:
    return [item.update.state for item in items]


async def close_candle(stack: object, symbol: str, price: str, volume: str) -> None:
    connector = stack.connector  # type: ignore[attr-defined]
    await connector.set_price(price, symbol=symbol, volume=volume)
    await connector.sim.CloseKline(sim_service_pb2.CloseKlineRequest(symbol=symbol))


async def test_a_crash_on_four_times_the_volume_in_all_symbols_halts_then_recovery_resumes(
    tmp_path: Path,
) -> None:
    async with running_stack(
        tmp_path, symbols=(BTC, ETH), connector_flags=("--kline-interval", "1h"), config=CRASH_CONFIG
    ) as stack:
        assert stack.runtime.monitored_symbols == (BTC, ETH)
        watcher = watch(stack.risk)
        first = (await watcher.wait_for(lambda items: len(items) >= 1))[0].update
        assert first.state == ACTIVE
        assert first.source == 1  # STATE_SOURCE_STARTUP
        assert first.since.seconds > 0
        for _ in range(3):  # the averaging window: normal candles, volume 10
            await close_candle(stack, BTC, "60000", "10")
            await close_candle(stack, ETH, "3000", "10")
        await close_candle(stack, BTC, "57000", "40")  # 4x the volume, below the mean close
        detector = stack.runtime.core.detector
        await eventually(
            lambda: (v := detector.verdict(BTC)) is not None and v.verdict is Verdict.ANOMALOUS,
            message="BTC judged anomalous",
        )
        assert stack.runtime.core.trading_state.state is TradingState.ACTIVE  # one symbol is not all
        await close_candle(stack, ETH, "2850", "40")

        items = await watcher.wait_for(lambda got: HALTED in states(got), what="HALTED")
        halt = items[-1].update
        assert halt.state == HALTED
        assert halt.source == 3  # STATE_SOURCE_CRASH_DETECTOR
        assert "volume anomaly in 2 of 2" in halt.reason
        session = await stack.risk.review_session()
        vetoed = await session.review(intent("c1", ETH, "buy", "0.01", "2850"))
        assert vetoed.reason == 1  # VETO_REASON_HALTED

        await close_candle(stack, BTC, "60000", "10")  # a normal candle: recovery threshold 1
        items = await watcher.wait_for(lambda got: states(got)[-1] == ACTIVE and len(got) >= 3)
        recovered = items[-1].update
        assert recovered.source == 3
        assert recovered.sequence == halt.sequence + 1
        assert (await session.review(intent("c2", ETH, "buy", "0.01", "2850"))).approved
        await session.close()
        await watcher.close()
        events = [(r["event"], r["state"], r["source"]) for r in audit_records(tmp_path / "risk-audit.jsonl")]
        assert events == [
            ("state_change", "HALTED", "CRASH_DETECTOR"),
            ("state_change", "ACTIVE", "CRASH_DETECTOR"),
        ]


async def test_drawdown_beyond_the_limit_halts(tmp_path: Path) -> None:
    config = {
        "limits": {"max_position": "1", "drawdown_limit": "5", "drawdown_state": "reduce_only"},
        "crash_detector": {"enabled": False},
    }
    async with running_stack(tmp_path, config=config) as stack:
        watcher = watch(stack.risk)
        await stack.connector.exchange.PlaceOrder(market_order("dd1", "buy", "0.01"))
        await stack.connector.set_price("59000")  # unrealised -10 on 0.01 BTC bought at 60000
        items = await watcher.wait_for(lambda got: REDUCE_ONLY in states(got), what="REDUCE_ONLY")
        update = items[-1].update
        assert update.source == 4  # STATE_SOURCE_DRAWDOWN
        assert "-10" in update.reason
        # Resume while still beyond the limit trips it again at once.
        resumed = await stack.risk.stub.Resume(pb.ResumeRequest(reason="try", operator="qa"))
        assert resumed.update.state == REDUCE_ONLY
        assert resumed.update.source == 4
        await watcher.close()


async def test_halt_and_resume_are_pushed_and_audited(tmp_path: Path) -> None:
    async with running_stack(tmp_path, config={"crash_detector": {"enabled": False}}) as stack:
        watcher = watch(stack.risk)
        await watcher.wait_for(lambda items: len(items) == 1)
        halted = await stack.risk.stub.Halt(
            pb.HaltRequest(state=HALTED, reason="exchange incident", operator="alice")
        )
        assert halted.update.state == HALTED
        assert halted.update.source == 2  # STATE_SOURCE_OPERATOR
        again = await stack.risk.stub.Halt(
            pb.HaltRequest(state=HALTED, reason="exchange incident", operator="alice")
        )
        assert again.update.sequence == halted.update.sequence  # no change, no new update
        resumed = await stack.risk.stub.Resume(pb.ResumeRequest(reason="all clear", operator="bob"))
        assert resumed.update.state == ACTIVE
        items = await watcher.wait_for(lambda got: len(got) == 3, what="halt and resume")
        assert states(items) == [ACTIVE, HALTED, ACTIVE]
        assert "exchange incident (operator alice)" in items[1].update.reason
        await watcher.close()

        records = audit_records(tmp_path / "risk-audit.jsonl")
        operator_events = [r for r in records if r["event"] in ("halt", "resume")]
        assert [(r["event"], r["operator"], r["reason"], r["changed"]) for r in operator_events] == [
            ("halt", "alice", "exchange incident", True),
            ("halt", "alice", "exchange incident", False),
            ("resume", "bob", "all clear", True),
        ]
        assert operator_events[0]["requested_state"] == "HALTED"
        assert operator_events[0]["state"] == "HALTED"
        assert operator_events[0]["peer"]
        assert operator_events[2]["state"] == "ACTIVE"
        assert [r["state"] for r in records if r["event"] == "state_change"] == ["HALTED", "ACTIVE"]


async def test_bad_unary_input_is_invalid_argument(tmp_path: Path) -> None:
    async with running_stack(tmp_path, config={"crash_detector": {"enabled": False}}) as stack:
        stub = stack.risk.stub
        calls = [
            stub.Halt(pb.HaltRequest(reason="x")),  # state UNSPECIFIED
            stub.Halt(pb.HaltRequest(state=ACTIVE, reason="x")),
            stub.Halt(pb.HaltRequest(state=HALTED, reason="r" * 501)),
            stub.Halt(pb.HaltRequest(state=99)),  # type: ignore[arg-type]
            stub.Resume(pb.ResumeRequest(operator="o" * 101)),
            stub.GetLimits(pb.GetLimitsRequest(symbol="DOGE/USDT:USDT")),
        ]
        for call in calls:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call
            assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            info = error_info(caught.value)
            assert info is not None
            assert info.reason in ("INVALID_ARGUMENT", "UNKNOWN_SYMBOL")
        assert stack.runtime.core.trading_state.state is TradingState.ACTIVE
        limits = await stub.GetLimits(pb.GetLimitsRequest(symbol=BTC))
        assert limits.limits.max_order_quantity.value == "0.01"
        assert (await stub.GetLimits(pb.GetLimitsRequest())).limits.stale_after_seconds == 30


def _update(sequence: int, state: TradingState = TradingState.HALTED) -> StateUpdate:
    return StateUpdate(state, "r", StateSource.OPERATOR, 1, sequence)


async def test_a_watcher_that_falls_behind_is_ended_never_silently_skipped() -> None:
    broadcaster = StateBroadcaster(_update(1, TradingState.ACTIVE), queue_size=2)
    slow = broadcaster.join()
    fast = broadcaster.join()
    assert (await anext(fast)).sequence == 1  # the current state first
    broadcaster.publish(_update(2))
    assert (await anext(fast)).sequence == 2
    broadcaster.publish(_update(3))  # `slow` holds 2 unread updates: it is ended
    assert (await anext(fast)).sequence == 3
    assert (await anext(slow)).sequence == 1
    assert (await anext(slow)).sequence == 2
    with pytest.raises(WatcherOverflow):  # then the end, never a silent gap before 3
        await anext(slow)
    with slow:
        pass  # leaving unsubscribes
    assert broadcaster.watcher_count == 1
    broadcaster.close()
    with pytest.raises(ServiceError, match="shutting down"):
        await anext(fast)
    late = broadcaster.join()
    assert (await anext(late)).sequence == 3
    with pytest.raises(ServiceError, match="shutting down"):
        await anext(late)
