"""Venue faults injected by the sim: retries hide transient ones, the circuit breaker
opens on a run of failures, refuses at once while open and closes after a good probe."""

from __future__ import annotations

import grpc
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint

from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt.sim.v1 import sim_service_pb2
from opensqt_common.errors import error_info
from opensqt_common.testing import eventually
from opensqt_connector.resilience import BreakerState, CircuitBreaker, RetryPolicy
from opensqt_connector.testing import ConnectorClient, dec, limit_order, running_connector


async def _no_wait(_seconds: float) -> None:
    return None


FAST_RETRIES = RetryPolicy(max_attempts=6, sleep=_no_wait)


def _state(breaker: CircuitBreaker) -> BreakerState:
    return breaker.state


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def _set_faults(client: ConnectorClient, **faults: object) -> None:
    message = sim_service_pb2.Faults()
    for name, value in faults.items():
        if name.endswith("_rate"):
            getattr(message, name).CopyFrom(dec(str(value)))
        else:
            setattr(message, name, value)
    await client.sim.SetFaults(sim_service_pb2.SetFaultsRequest(faults=message))


async def _open_order_ids(client: ConnectorClient) -> list[str]:
    listed = await client.exchange.ListOpenOrders(pb.ListOpenOrdersRequest())
    return sorted(o.client_order_id for o in listed.orders)


async def test_transient_failures_are_retried_without_duplicating_orders() -> None:
    async with running_connector(
        "--sim-faults", "fail_next=2", "--breaker-failures", "50", retry_policy=FAST_RETRIES
    ) as client:
        placed = await client.exchange.PlaceOrder(limit_order("rt-a", "buy", "59000", "0.001"))
        assert not placed.existing
        assert await _open_order_ids(client) == ["rt-a"]

        # A fifth of all order-entry calls fail as 503 or 429; every order still lands once.
        await _set_faults(client, unavailable_rate="0.15", rate_limit_rate="0.05")
        stream = client.exchange.SubmitOrders()
        for i in range(30):
            await stream.write(
                pb.SubmitOrdersRequest(place=limit_order(f"rt-{i}", "buy", f"5{i:02d}00", "0.001"))
            )
        await stream.done_writing()
        answers = [answer async for answer in stream]
        assert [a.WhichOneof("result") for a in answers] == ["order"] * 30
        assert await _open_order_ids(client) == sorted(["rt-a", *(f"rt-{i}" for i in range(30))])


async def test_non_retryable_venue_answers_reach_the_client_with_their_reason() -> None:
    async with running_connector(retry_policy=FAST_RETRIES) as client:
        await _set_faults(client, reject_rate="1")
        with pytest.raises(grpc.aio.AioRpcError) as rejected:
            await client.exchange.PlaceOrder(limit_order("rj-1", "buy", "59000", "0.001"))
        assert rejected.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        info = error_info(rejected.value)
        assert info is not None
        assert info.reason == "INVALID_ORDER"

        await _set_faults(client, rate_limit_rate="1")
        with pytest.raises(grpc.aio.AioRpcError) as limited:
            await client.exchange.PlaceOrder(limit_order("rl-1", "buy", "59000", "0.001"))
        assert limited.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        info = error_info(limited.value)
        assert info is not None
        assert info.reason == "RATE_LIMITED"
        assert await _open_order_ids(client) == []


async def test_breaker_opens_on_failures_refuses_while_open_and_closes_after_a_good_probe() -> None:
    clock = FakeClock()
    reader = InMemoryMetricReader()
    async with running_connector(
        "--breaker-failures",
        "3",
        "--breaker-cooldown-ms",
        "10000",
        retry_policy=RetryPolicy(max_attempts=1, sleep=_no_wait),
        breaker_clock=clock,
        meter_provider=MeterProvider(metric_readers=[reader]),
    ) as client:
        breaker = client.connector.resilient.breaker
        await _set_faults(client, fail_next=100)

        # Every call fails (no retries here, so each call is one failure) until it opens.
        failed_calls = 0
        while _state(breaker) is not BreakerState.OPEN:
            assert failed_calls < 3, "the breaker did not open after 3 consecutive failures"
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await client.exchange.PlaceOrder(limit_order(f"br-{failed_calls}", "buy", "59000", "0.001"))
            assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
            failed_calls += 1
        assert breaker.consecutive_failures >= 3

        # Open: refused at once with a hint when to come back; the venue is not called.
        failures = breaker.consecutive_failures
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await client.exchange.PlaceOrder(limit_order("br-3", "buy", "59000", "0.001"))
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        info = error_info(refused.value)
        assert info is not None
        assert info.reason == "VENUE_UNAVAILABLE"
        assert int(info.metadata["retry_after_ms"]) == 10_000
        assert breaker.consecutive_failures == failures

        # After the cooldown one probe goes through; it fails, so the breaker opens again.
        clock.now += 10
        assert _state(breaker) is BreakerState.HALF_OPEN
        with pytest.raises(grpc.aio.AioRpcError):
            await client.exchange.PlaceOrder(limit_order("br-4", "buy", "59000", "0.001"))
        assert _state(breaker) is BreakerState.OPEN

        # The venue recovers: the next probe succeeds and the breaker closes.
        await _set_faults(client)
        clock.now += 10
        placed = await client.exchange.PlaceOrder(limit_order("br-5", "buy", "59000", "0.001"))
        assert placed.order.client_order_id == "br-5"
        assert _state(breaker) is BreakerState.CLOSED
        assert await _open_order_ids(client) == ["br-5"]

        data = reader.get_metrics_data()
        assert data is not None
        transitions = {
            str((point.attributes or {})["state"]): point.value
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == "opensqt.connector.venue.breaker_transitions"
            for point in metric.data.data_points
            if isinstance(point, NumberDataPoint)
        }
        assert transitions == {"open": 2, "half_open": 2, "closed": 1}


async def test_a_place_whose_client_gave_up_still_reaches_the_venue_and_is_recorded() -> None:
    async with running_connector(retry_policy=FAST_RETRIES) as client:
        await _set_faults(client, latency_ms=300)
        with pytest.raises(grpc.aio.AioRpcError) as gave_up:
            await client.exchange.PlaceOrder(limit_order("late-1", "buy", "59000", "0.001"), timeout=0.05)
        assert gave_up.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED

        # The venue call went on without its caller; its answer is recorded, so a retry
        # gets that same order back instead of placing a second one.
        async def placed() -> bool:
            return await _open_order_ids(client) == ["late-1"]

        await eventually(placed, message="the abandoned order resting at the venue")
        await _set_faults(client, latency_ms=0)
        retried = await client.exchange.PlaceOrder(limit_order("late-1", "buy", "59000", "0.001"))
        assert retried.existing
        assert await _open_order_ids(client) == ["late-1"]
