"""The engine's instruments, through the OpenTelemetry API (meter "opensqt.engine").

Prometheus names (the contract in docs/metrics.md):
    opensqt_engine_last_price{symbol}                   gauge    `opensqt.engine.last_price`
    opensqt_engine_slots{state}                         gauge    `opensqt.engine.slots` (free/pending/locked)
    opensqt_engine_open_orders                          gauge    `opensqt.engine.open_orders`
    opensqt_engine_fills_total{side}                    counter  `opensqt.engine.fills`
    opensqt_engine_realized_pnl                         gauge    `opensqt.engine.realized_pnl` (net of fees)
    opensqt_engine_tick_to_order_latency_milliseconds   histogram `opensqt.engine.tick_to_order_latency` (ms)

The latency is measured inside the engine, on one clock: from the moment the price
update is read off the connector's stream to the moment the resulting order is written
to the connector's SubmitOrders stream (through risk for opening orders).
Gauges take floats: they are for watching; the audit log and the venue are the record.
"""

from __future__ import annotations

from decimal import Decimal

from opentelemetry import metrics

from opensqt_common.enums import Side
from opensqt_engine.core import GridState, SlotStatus

METER_NAME = "opensqt.engine"
LATENCY_BUCKETS_MS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0)
_SLOT_LABELS = {status: {"state": status.value} for status in SlotStatus}
_SIDE_LABELS = {side: {"side": side.value} for side in Side}


class EngineMetrics:
    """Instruments bound to one meter; pass a test MeterProvider to read them back."""

    def __init__(self, symbol: str, provider: metrics.MeterProvider | None = None) -> None:
        meter = (provider or metrics.get_meter_provider()).get_meter(METER_NAME)
        self._symbol_labels = {"symbol": symbol}
        self._last_price = meter.create_gauge(
            "opensqt.engine.last_price", unit="1", description="Last trade price the engine received (quote)"
        )
        self._slots = meter.create_gauge(
            "opensqt.engine.slots", unit="1", description="Grid slots in each state"
        )
        self._open_orders = meter.create_gauge(
            "opensqt.engine.open_orders", unit="1", description="Orders the engine has live at the venue"
        )
        self._fills = meter.create_counter(
            "opensqt.engine.fills", unit="1", description="Fills applied to the slots"
        )
        self._pnl = meter.create_gauge(
            "opensqt.engine.realized_pnl",
            unit="1",
            description="Realised profit and loss since the grid started (quote), net of fees",
        )
        self._latency = meter.create_histogram(
            "opensqt.engine.tick_to_order_latency",
            unit="ms",
            description="Price update read off the connector stream to the resulting order written to it",
            explicit_bucket_boundaries_advisory=list(LATENCY_BUCKETS_MS),
        )

    def last_price(self, price: Decimal) -> None:
        self._last_price.set(float(price), self._symbol_labels)

    def fill(self, side: Side) -> None:
        self._fills.add(1, _SIDE_LABELS[side])

    def tick_to_order(self, milliseconds: float) -> None:
        self._latency.record(milliseconds)

    def grid(self, state: GridState) -> None:
        """Slots by state, open orders and net realised PnL, from the grid state."""
        counts = dict.fromkeys(SlotStatus, 0)
        for slot in state.slots.values():
            counts[slot.status] += 1
        for status, count in counts.items():
            self._slots.set(count, _SLOT_LABELS[status])
        self._open_orders.set(counts[SlotStatus.PENDING] + counts[SlotStatus.LOCKED])
        self._pnl.set(float(state.net_pnl))
