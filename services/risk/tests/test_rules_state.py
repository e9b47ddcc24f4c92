"""The trading-state machine: latches, severity, who may clear what, and the update records."""

from __future__ import annotations

import pytest

from opensqt_common.enums import TradingState
from opensqt_risk.rules import StateSource, StateUpdate, TradingStateMachine
from opensqt_risk.rules.state import Latch
from opensqt_risk.rules.testing import NOW

ACTIVE, HALTED, REDUCE_ONLY = TradingState.ACTIVE, TradingState.HALTED, TradingState.REDUCE_ONLY


def test_starts_active_from_startup() -> None:
    machine = TradingStateMachine(NOW)
    assert machine.current == StateUpdate(ACTIVE, "risk service started", StateSource.STARTUP, NOW, 1)
    assert machine.state is ACTIVE


def test_operator_halt_and_resume_produce_updates() -> None:
    machine = TradingStateMachine(NOW)
    halted = machine.operator_halt(HALTED, "maintenance", "alice", NOW + 1)
    assert halted == StateUpdate(HALTED, "maintenance (operator alice)", StateSource.OPERATOR, NOW + 1, 2)
    assert machine.state is HALTED
    resumed = machine.operator_resume("done", "bob", NOW + 2)
    assert resumed == StateUpdate(ACTIVE, "done (operator bob)", StateSource.OPERATOR, NOW + 2, 3)


def test_repeating_the_same_halt_is_not_a_change() -> None:
    machine = TradingStateMachine(NOW)
    machine.operator_halt(HALTED, "x", "alice", NOW)
    assert machine.operator_halt(HALTED, "x", "alice", NOW + 1) is None
    assert machine.current.sequence == 2


def test_resume_while_active_is_not_a_change() -> None:
    machine = TradingStateMachine(NOW)
    assert machine.operator_resume("nothing to do", "alice", NOW + 1) is None
    assert machine.crash_recover("normal", NOW + 1) is None


def test_operator_can_switch_between_reduce_only_and_halted() -> None:
    machine = TradingStateMachine(NOW)
    machine.operator_halt(REDUCE_ONLY, "wind down", "alice", NOW + 1)
    update = machine.operator_halt(HALTED, "stop now", "alice", NOW + 2)
    assert update is not None
    assert (update.state, update.since_ns) == (HALTED, NOW + 2)
    update = machine.operator_halt(REDUCE_ONLY, "wind down", "alice", NOW + 3)
    assert update is not None
    assert update.state is REDUCE_ONLY


def test_most_severe_cause_wins() -> None:
    machine = TradingStateMachine(NOW)
    machine.drawdown_trip(REDUCE_ONLY, "loss", NOW + 1)
    update = machine.crash_halt("crash", NOW + 2)
    assert update is not None
    assert (update.state, update.source, update.reason) == (HALTED, StateSource.CRASH_DETECTOR, "crash")
    update = machine.crash_recover("calm", NOW + 3)
    assert update is not None
    assert (update.state, update.source, update.reason) == (REDUCE_ONLY, StateSource.DRAWDOWN, "loss")


def test_operator_resume_does_not_clear_the_crash_detector() -> None:
    machine = TradingStateMachine(NOW)
    machine.crash_halt("crash", NOW + 1)
    machine.operator_halt(HALTED, "me too", "alice", NOW + 2)
    assert machine.current.source is StateSource.OPERATOR  # tie: the operator is named first
    update = machine.operator_resume("go", "alice", NOW + 3)
    assert update is not None
    assert (update.state, update.source, update.reason) == (HALTED, StateSource.CRASH_DETECTOR, "crash")
    # Still HALTED since the crash halt: `since` does not move when only the cause does.
    assert update.since_ns == NOW + 1


def test_crash_recovery_does_not_clear_operator_or_drawdown() -> None:
    machine = TradingStateMachine(NOW)
    machine.operator_halt(REDUCE_ONLY, "careful", "alice", NOW + 1)
    machine.drawdown_trip(HALTED, "loss", NOW + 2)
    machine.crash_halt("crash", NOW + 3)
    assert machine.crash_recover("calm", NOW + 4) is None  # drawdown still halts
    assert machine.state is HALTED
    assert set(machine.latches) == {StateSource.OPERATOR, StateSource.DRAWDOWN}
    update = machine.operator_resume("ok", "alice", NOW + 5)
    assert update is not None
    assert update.state is ACTIVE


def test_resume_with_drawdown_still_breached_keeps_it_latched_in_one_update() -> None:
    machine = TradingStateMachine(NOW)
    machine.drawdown_trip(HALTED, "loss 120", NOW + 1)
    update = machine.operator_resume(
        "go", "alice", NOW + 2, drawdown_still_breached=Latch(HALTED, "loss 130")
    )
    assert update is not None
    assert (update.state, update.source, update.reason, update.sequence) == (
        HALTED,
        StateSource.DRAWDOWN,
        "loss 130",
        3,
    )


def test_non_active_initial_state_is_a_startup_latch_cleared_by_an_operator() -> None:
    machine = TradingStateMachine(NOW, initial=HALTED, reason="start halted")
    assert machine.current == StateUpdate(HALTED, "start halted", StateSource.STARTUP, NOW, 1)
    assert machine.crash_recover("calm", NOW + 1) is None
    update = machine.operator_resume("", "alice", NOW + 2)
    assert update is not None
    assert (update.state, update.reason) == (ACTIVE, "operator resume (operator alice)")


def test_sequence_grows_by_one_per_update() -> None:
    machine = TradingStateMachine(NOW)
    updates = [
        machine.operator_halt(HALTED, "a", "", NOW + 1),
        machine.crash_halt("b", NOW + 2),  # no change: the operator outranks on a tie
        machine.operator_resume("c", "", NOW + 3),  # the crash cause shows
        machine.crash_recover("d", NOW + 4),
    ]
    assert [u.sequence if u else None for u in updates] == [2, None, 3, 4]
    assert updates[0] is not None
    assert updates[0].reason == "a"


def test_active_is_not_a_halt() -> None:
    machine = TradingStateMachine(NOW)
    with pytest.raises(ValueError, match="HALTED or REDUCE_ONLY"):
        machine.operator_halt(ACTIVE, "x", "alice", NOW)
    with pytest.raises(ValueError, match="HALTED or REDUCE_ONLY"):
        machine.drawdown_trip(ACTIVE, "x", NOW)
    assert machine.current.sequence == 1
