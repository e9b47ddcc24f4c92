"""The connector's instruments, through the OpenTelemetry API (meter "opensqt.connector").

Prometheus names (with the exporter's suffixes):
    opensqt_connector_orders_placed_total{venue,symbol,side}
    opensqt_connector_orders_rejected_total{venue,reason}
    opensqt_connector_order_entry_duration_seconds{venue,entry,outcome}   (histogram)
    opensqt_connector_stream_subscribers{stream}                           (up-down counter)
    opensqt_connector_stream_slow_disconnects_total{stream}
    opensqt_connector_venue_stream_reconnects_total{venue,stream}
    opensqt_connector_venue_breaker_transitions_total{venue,state}
"""

from __future__ import annotations

from opentelemetry import metrics

METER_NAME = "opensqt.connector"
_LATENCY_BUCKETS_S = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


class ConnectorMetrics:
    """Instruments bound to one meter; pass a test MeterProvider to read them back."""

    def __init__(self, venue: str, provider: metrics.MeterProvider | None = None) -> None:
        meter = (provider or metrics.get_meter_provider()).get_meter(METER_NAME)
        self.venue = venue
        self.orders_placed = meter.create_counter(
            "opensqt.connector.orders.placed", unit="{order}", description="Orders accepted by the venue"
        )
        self.orders_rejected = meter.create_counter(
            "opensqt.connector.orders.rejected",
            unit="{order}",
            description="Order-entry requests refused, by ErrorInfo reason",
        )
        self.order_entry_duration = meter.create_histogram(
            "opensqt.connector.order_entry.duration",
            unit="s",
            description="Time from a validated order-entry request to the venue's answer",
            explicit_bucket_boundaries_advisory=list(_LATENCY_BUCKETS_S),
        )
        self.stream_subscribers = meter.create_up_down_counter(
            "opensqt.connector.stream.subscribers",
            unit="{subscriber}",
            description="Open gRPC server streams, by stream",
        )
        self.slow_disconnects = meter.create_counter(
            "opensqt.connector.stream.slow_disconnects",
            unit="{subscriber}",
            description="Subscribers disconnected with RESOURCE_EXHAUSTED for falling behind",
        )
        self.venue_reconnects = meter.create_counter(
            "opensqt.connector.venue.stream_reconnects",
            unit="{reconnect}",
            description="Venue streams that came back after a disconnect",
        )

        self.breaker_transitions = meter.create_counter(
            "opensqt.connector.venue.breaker_transitions",
            unit="{transition}",
            description="Circuit-breaker state changes, by the state entered",
        )

    def placed(self, symbol: str, side: str) -> None:
        self.orders_placed.add(1, {"venue": self.venue, "symbol": symbol, "side": side})

    def rejected(self, reason: str) -> None:
        self.orders_rejected.add(1, {"venue": self.venue, "reason": reason})

    def entry_latency(self, seconds: float, entry: str, outcome: str) -> None:
        self.order_entry_duration.record(seconds, {"venue": self.venue, "entry": entry, "outcome": outcome})

    def subscribers(self, stream: str, delta: int) -> None:
        self.stream_subscribers.add(delta, {"stream": stream})

    def slow_disconnect(self, stream: str) -> None:
        self.slow_disconnects.add(1, {"stream": stream})

    def reconnect(self, stream: str) -> None:
        self.venue_reconnects.add(1, {"venue": self.venue, "stream": stream})

    def breaker_transition(self, state: str) -> None:
        self.breaker_transitions.add(1, {"venue": self.venue, "state": state})
