"""The connector's instruments, through the OpenTelemetry API (meter "opensqt.connector").

Prometheus names (the contract in docs/metrics.md):
    opensqt_connector_orders_total{venue,symbol,side,result,reason}           counter
    opensqt_connector_order_entry_latency_milliseconds{venue,entry,result}    histogram (ms)
    opensqt_connector_stream_subscribers{stream}                              gauge (up-down counter)
    opensqt_connector_stream_slow_disconnects_total{stream}                   counter
    opensqt_connector_venue_stream_reconnects_total{venue,stream}             counter
    opensqt_connector_venue_breaker_transitions_total{venue,state}            counter

`result` is `accepted`, `rejected` (the venue refused the order) or `error` (no
answer: venue unavailable, rate limited, internal failure); `reason` is the
ErrorInfo reason (`NONE` when accepted, `UNSPECIFIED` for an order the venue
answered with status REJECTED and no reason).

Counters whose label values are known up front (each connector stream, each venue
feed once it has connected, each breaker state) start at an explicit 0, so that a
quiet connector shows "none happened" rather than no series at all.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import metrics

METER_NAME = "opensqt.connector"
LATENCY_BUCKETS_MS = (
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    5000.0,
)
ACCEPTED, REJECTED, ERROR = "accepted", "rejected", "error"
REASON_NONE = "NONE"
REASON_UNSPECIFIED = "UNSPECIFIED"
# Reasons that mean the order got no answer from the venue; every other reason is
# the venue (or the connector's check of the order against the market) refusing it.
_NO_ANSWER_REASONS = frozenset({"RATE_LIMITED", "VENUE_UNAVAILABLE", "INTERNAL", "AUTH_FAILED"})


def result_of(reason: str) -> str:
    """The `result` label of an order-entry outcome given its ErrorInfo reason."""
    if reason == REASON_NONE:
        return ACCEPTED
    return ERROR if reason in _NO_ANSWER_REASONS else REJECTED


class ConnectorMetrics:
    """Instruments bound to one meter; pass a test MeterProvider to read them back."""

    def __init__(self, venue: str, provider: metrics.MeterProvider | None = None) -> None:
        meter = (provider or metrics.get_meter_provider()).get_meter(METER_NAME)
        self.venue = venue
        self._orders = meter.create_counter(
            "opensqt.connector.orders",
            unit="{order}",
            description="Orders sent to the venue, by outcome and ErrorInfo reason",
        )
        self._entry_latency = meter.create_histogram(
            "opensqt.connector.order_entry_latency",
            unit="ms",
            description="Time from a validated order request to the venue's answer",
            explicit_bucket_boundaries_advisory=list(LATENCY_BUCKETS_MS),
        )
        self._stream_subscribers = meter.create_up_down_counter(
            "opensqt.connector.stream.subscribers",
            unit="{subscriber}",
            description="gRPC clients subscribed to a connector stream",
        )
        self._slow_disconnects = meter.create_counter(
            "opensqt.connector.stream.slow_disconnects",
            unit="{subscriber}",
            description="Subscribers disconnected with RESOURCE_EXHAUSTED for falling behind",
        )
        self._venue_reconnects = meter.create_counter(
            "opensqt.connector.venue.stream_reconnects",
            unit="{reconnect}",
            description="Venue streams that came back after a disconnect",
        )
        self._breaker_transitions = meter.create_counter(
            "opensqt.connector.venue.breaker_transitions",
            unit="{transition}",
            description="Circuit-breaker state changes, by the state entered",
        )

    def order(self, symbol: str, side: str, reason: str, entry: str, milliseconds: float) -> None:
        """One order placement that went to the venue (or failed trying), and its latency."""
        result = result_of(reason)
        self._orders.add(
            1, {"venue": self.venue, "symbol": symbol, "side": side, "result": result, "reason": reason}
        )
        self._entry_latency.record(milliseconds, {"venue": self.venue, "entry": entry, "result": result})

    def known_stream(self, stream: str) -> None:
        """Start a connector stream's subscriber gauge and slow-disconnect counter at 0."""
        self._stream_subscribers.add(0, {"stream": stream})
        self._slow_disconnects.add(0, {"stream": stream})

    def known_venue_stream(self, stream: str) -> None:
        """Start a venue feed's reconnect counter at 0."""
        self._venue_reconnects.add(0, {"venue": self.venue, "stream": stream})

    def known_breaker_states(self, states: Iterable[str]) -> None:
        """Start the breaker-transition counter at 0 for each state."""
        for state in states:
            self._breaker_transitions.add(0, {"venue": self.venue, "state": state})

    def subscribers(self, stream: str, delta: int) -> None:
        self._stream_subscribers.add(delta, {"stream": stream})

    def slow_disconnect(self, stream: str) -> None:
        self._slow_disconnects.add(1, {"stream": stream})

    def reconnect(self, stream: str) -> None:
        self._venue_reconnects.add(1, {"venue": self.venue, "stream": stream})

    def breaker_transition(self, state: str) -> None:
        self._breaker_transitions.add(1, {"venue": self.venue, "state": state})
