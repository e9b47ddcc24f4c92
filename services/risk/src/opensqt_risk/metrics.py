"""The risk service's instruments, through the OpenTelemetry API (meter "opensqt.risk").

Prometheus names (the contract in docs/metrics.md):
    opensqt_risk_decisions_total{approved,reason}        counter  `opensqt.risk.decisions`
    opensqt_risk_review_latency_milliseconds             histogram `opensqt.risk.review_latency` (ms)
    opensqt_risk_trading_state                           gauge 0 active, 1 reduce-only, 2 halted
`reason` is the VetoReason name without its prefix, `NONE` when approved.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import metrics

from opensqt.risk.v1 import types_pb2 as risk_pb2
from opensqt_common.enums import TradingState
from opensqt_risk.rules import VetoReason
from opensqt_risk.rules.wire import VETO_REASON

METER_NAME = "opensqt.risk"
LATENCY_BUCKETS_MS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0)
STATE_VALUES = {TradingState.ACTIVE: 0, TradingState.REDUCE_ONLY: 1, TradingState.HALTED: 2}

_APPROVED: dict[str, str] = {"approved": "true", "reason": "NONE"}


def reason_label(reason: VetoReason) -> str:
    """The `reason` label of a veto: its wire name without the VETO_REASON_ prefix."""
    name = risk_pb2.VetoReason.Name(VETO_REASON.to_proto(reason))  # type: ignore[arg-type]
    return name.removeprefix("VETO_REASON_")


def _veto_attributes() -> dict[VetoReason, dict[str, str]]:
    return {reason: {"approved": "false", "reason": reason_label(reason)} for reason in VetoReason}


class RiskMetrics:
    """Instruments bound to one meter; pass a test MeterProvider to read them back.

    Decisions are tallied in a plain dict on the hot path and reported through an
    observable counter when metrics are collected: the same `opensqt_risk_decisions_total`
    series at a fraction of a synchronous counter's cost per decision.
    """

    def __init__(self, provider: metrics.MeterProvider | None = None) -> None:
        meter = (provider or metrics.get_meter_provider()).get_meter(METER_NAME)
        self._tally: dict[VetoReason | None, int] = {}
        self._veto_attributes = _veto_attributes()
        meter.create_observable_counter(
            "opensqt.risk.decisions",
            callbacks=[self._observe_decisions],
            unit="1",
            description="Decisions answered on ReviewOrders, by outcome and veto reason",
        )
        self._latency = meter.create_histogram(
            "opensqt.risk.review_latency",
            unit="ms",
            description="Time from receiving an intent to its decision being ready to send",
            explicit_bucket_boundaries_advisory=list(LATENCY_BUCKETS_MS),
        )
        self._state = meter.create_gauge(
            "opensqt.risk.trading_state",
            unit="1",
            description="Current trading state: 0 active, 1 reduce-only, 2 halted",
        )

    def decision(self, veto: VetoReason | None, latency_ms: float) -> None:
        tally = self._tally
        tally[veto] = tally.get(veto, 0) + 1
        self._latency.record(latency_ms)

    def decisions(self, veto: VetoReason | None) -> int:
        """Decisions counted so far with this outcome (None: approved)."""
        return self._tally.get(veto, 0)

    def trading_state(self, state: TradingState) -> None:
        self._state.set(STATE_VALUES[state])

    def _observe_decisions(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        for veto, count in list(self._tally.items()):
            attributes = _APPROVED if veto is None else self._veto_attributes[veto]
            yield metrics.Observation(count, attributes)
