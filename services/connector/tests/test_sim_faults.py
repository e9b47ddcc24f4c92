"""Fault injection of the sim venue: the --sim-faults parser and the seeded injector."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from opensqt_common.errors import ServiceError
from opensqt_connector.sim.faults import FaultConfig, FaultInjector, FaultSpecError, parse_faults
from opensqt_connector.venue_errors import InvalidOrder, VenueRateLimited, VenueUnavailable


def test_parse_a_full_spec() -> None:
    config = parse_faults(
        "latency_ms=5, unavailable_rate=0.1,rate_limit_rate=0.05,reject_rate=0,fail_next=2,"
        "drop_streams=true,retry_after_ms=20"
    )
    assert config == FaultConfig(
        latency_ms=5,
        unavailable_rate=D("0.1"),
        rate_limit_rate=D("0.05"),
        reject_rate=D(0),
        fail_next=2,
        drop_streams=True,
        retry_after_ms=20,
    )


@pytest.mark.parametrize("text", ["", "  ", ",,"])
def test_an_empty_spec_means_no_faults(text: str) -> None:
    assert parse_faults(text) == FaultConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("latency=5", r"unknown key 'latency' \(known: latency_ms, unavailable_rate"),
        ("latency_ms", r"'latency_ms' must be key=value"),
        ("latency_ms=", r"must be key=value"),
        ("latency_ms=-1", r"latency_ms must be a whole number >= 0 \(got '-1'\)"),
        ("latency_ms=1.5", "latency_ms must be a whole number"),
        ("latency_ms=70000", r"latency_ms must be from 0 to 60000 \(got 70000\)"),
        ("fail_next=x", "fail_next must be a whole number"),
        ("unavailable_rate=1.5", r"unavailable_rate must be a fraction from 0 to 1 \(got 1.5\)"),
        ("reject_rate=-0.1", "reject_rate must be a fraction from 0 to 1"),
        ("rate_limit_rate=abc", r"rate_limit_rate must be a decimal fraction \(got 'abc'\)"),
        ("unavailable_rate=0.6,rate_limit_rate=0.5", "must not exceed 1"),
        ("drop_streams=maybe", "drop_streams must be true/false or 1/0"),
        ("fail_next=1,fail_next=2", "fail_next is given twice"),
    ],
)
def test_bad_specs_are_refused_precisely(text: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        parse_faults(text)


def outcomes(injector: FaultInjector, calls: int, *, placement: bool = True) -> list[str]:
    result = []
    for _ in range(calls):
        try:
            injector.check("order placement", placement=placement)
            result.append("ok")
        except ServiceError as exc:
            result.append(type(exc).__name__)
    return result


def test_no_faults_by_default() -> None:
    assert outcomes(FaultInjector(), 50) == ["ok"] * 50


def test_fail_next_fails_exactly_that_many_calls_as_unavailable() -> None:
    injector = FaultInjector(FaultConfig(fail_next=2))
    with pytest.raises(VenueUnavailable, match="fail_next"):
        injector.check("cancel", placement=False)
    assert outcomes(injector, 3) == ["VenueUnavailable", "ok", "ok"]
    injector.configure(FaultConfig(fail_next=1))  # configuring restarts the count
    assert outcomes(injector, 2) == ["VenueUnavailable", "ok"]


def test_certain_faults_of_each_kind() -> None:
    with pytest.raises(VenueUnavailable, match="503"):
        FaultInjector(FaultConfig(unavailable_rate=D(1))).check("cancel", placement=False)
    with pytest.raises(VenueRateLimited, match="429") as limited:
        FaultInjector(FaultConfig(rate_limit_rate=D(1), retry_after_ms=20)).check("cancel", placement=False)
    assert limited.value.retry_after == 0.02
    rejecting = FaultInjector(FaultConfig(reject_rate=D(1)))
    with pytest.raises(InvalidOrder, match="rejected"):
        rejecting.check("order placement", placement=True)
    rejecting.check("cancel", placement=False)  # rejects apply to placements only


def test_rates_are_seeded_and_roughly_honoured() -> None:
    config = FaultConfig(unavailable_rate=D("0.2"), rate_limit_rate=D("0.1"), reject_rate=D("0.1"))
    first = outcomes(FaultInjector(config, seed=5), 2000)
    assert first == outcomes(FaultInjector(config, seed=5), 2000)
    assert first != outcomes(FaultInjector(config, seed=6), 2000)
    assert 300 < first.count("VenueUnavailable") < 500
    assert 120 < first.count("VenueRateLimited") < 280
    assert 120 < first.count("InvalidOrder") < 280


def test_latency_and_one_shot_stream_drops() -> None:
    injector = FaultInjector(FaultConfig(latency_ms=5, drop_streams=True))
    assert injector.latency_s == 0.005
    assert injector.take_drop_streams() is True
    assert injector.take_drop_streams() is False
    injector.configure(injector.config)
    assert injector.take_drop_streams() is True
