"""RiskRuntime: the transport-free heart of the service around the pure `RiskCore`.

The servicer calls it once per RPC, the connector feeds once per pushed event. It owns
the core (cached inputs, limits, state machine, crash detector, drawdown guard), the
positions tracker, the state broadcaster, the audit log, metrics and the tracer. Every
method is synchronous except `check_startup` (which asks the connector for fresh
figures); a decision never waits on I/O. One event loop owns it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from opentelemetry import propagate, trace

from opensqt.risk.v1 import risk_service_pb2 as pb
from opensqt_common.enums import MarketType, TradingState
from opensqt_common.errors import InvalidArgument, ServiceError, UnknownSymbol
from opensqt_common.logging import get_logger
from opensqt_risk.account import AccountTracker, FillEvent, PositionReport
from opensqt_risk.audit import AuditLog
from opensqt_risk.broadcast import StateBroadcaster, Watcher
from opensqt_risk.config import RiskConfig
from opensqt_risk.connector import ConnectorGateway, ConnectorUnavailable, MarketMeta
from opensqt_risk.metrics import RiskMetrics, reason_label
from opensqt_risk.requests import HaltParams, ResumeParams, StartupParams
from opensqt_risk.rules import (
    Candle,
    Decision,
    Limits,
    OrderUpdate,
    RiskContext,
    RiskCore,
    StartupCheck,
    StateUpdate,
    VetoReason,
    invalid_intent,
)
from opensqt_risk.rules.wire import fill_decision, intent_from_proto
from opensqt_risk.settings import RiskSettings

_log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DecisionSample:
    veto: VetoReason | None
    latency_ms: float


TRACER_NAME = "opensqt.risk"
SPAN_REVIEW = "risk.review"
_MAX_ECHOED_ID = 128


class RiskRuntime:
    def __init__(
        self,
        settings: RiskSettings,
        config: RiskConfig,
        *,
        gateway: ConnectorGateway,
        audit: AuditLog,
        metrics: RiskMetrics,
        tracer: trace.Tracer,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.settings = settings
        self.config = config
        self.clock = clock
        self._gateway = gateway
        self._audit = audit
        self._metrics = metrics
        self._tracer = tracer
        traded = config.traded_symbols
        context = RiskContext(
            in_flight_timeout_ns=settings.in_flight_timeout_ns,
            venue_free_nets_open_orders=settings.venue_free_nets_open_orders,
        )
        for symbol in traded:
            context.add_symbol(symbol, klines_required=settings.klines_required)
        initial = config.initial_trading_state
        self.core = RiskCore(
            default_limits=config.default_limits(),
            now_ns=clock(),
            symbol_limits=config.symbol_limits(),
            context=context,
            detector=config.crash_detector.build(traded),
            initial_state=initial,
            initial_reason=(
                "risk service started"
                if initial is TradingState.ACTIVE
                else f"risk service started {initial.name} (initial_state); an operator resume trades"
            ),
        )
        self.account = AccountTracker(traded)
        self.broadcaster = StateBroadcaster(self.core.trading_state, settings.watcher_queue_size)
        self.markets: dict[str, MarketMeta] = {}
        self.settle_asset: str | None = settings.settle_asset
        metrics.trading_state(self.core.trading_state.state)

    # ------------------------------------------------------------------ symbols

    @property
    def traded_symbols(self) -> tuple[str, ...]:
        return tuple(self.core.context.symbols)

    @property
    def monitored_symbols(self) -> tuple[str, ...]:
        detector = self.core.detector
        return () if detector is None else detector.symbols

    @property
    def markets_known(self) -> bool:
        return bool(self.markets)

    def adopt_markets(self, markets: Sequence[MarketMeta]) -> None:
        """What the connector serves. Without configured symbols, every one of them is traded."""
        self.markets = {market.symbol: market for market in markets}
        context = self.core.context
        if not self.config.symbols:
            for market in markets:
                if market.symbol not in context.symbols:
                    context.add_symbol(market.symbol, klines_required=self.settings.klines_required)
                    self.account.track(market.symbol)
        missing = [symbol for symbol in context.symbols if symbol not in self.markets]
        if missing:
            _log.error("symbols_not_served", symbols=missing, detail="opening orders on them stay vetoed")
        if self.core.detector is None:
            try:
                self.core.detector = self.config.crash_detector.build(self.traded_symbols)
            except ValueError as exc:
                _log.error(
                    "crash_detector_disabled", error=str(exc), detail="fix crash_detector in the config"
                )
        unwatched = [symbol for symbol in self.monitored_symbols if symbol not in self.markets]
        if unwatched:
            _log.error(
                "monitored_symbols_not_served",
                symbols=unwatched,
                detail="the crash detector gets no klines for them (in mode all it can never halt)",
            )
        if self.settle_asset is None:
            settles = sorted({m.settle for s, m in self.markets.items() if s in context.symbols})
            if settles:
                self.settle_asset = settles[0]
            if len(settles) > 1:
                _log.warning(
                    "several_settle_assets",
                    assets=settles,
                    used=self.settle_asset,
                    detail="margin is checked against one asset; set --settle-asset",
                )
        _log.info(
            "markets_adopted",
            traded=list(self.traded_symbols),
            monitored=list(self.monitored_symbols),
            settle_asset=self.settle_asset,
        )

    def served(self, symbols: Iterable[str]) -> tuple[str, ...]:
        """Those of `symbols` the connector serves, in order, without repeats."""
        return tuple(symbol for symbol in dict.fromkeys(symbols) if symbol in self.markets)

    def perpetual_symbols(self) -> list[str]:
        return [
            symbol
            for symbol, market in self.markets.items()
            if market.market_type is MarketType.LINEAR_PERPETUAL and self.account.tracks(symbol)
        ]

    # ---------------------------------------------------------------- decisions

    def review(self, request: pb.ReviewOrdersRequest) -> tuple[pb.ReviewOrdersResponse, DecisionSample]:
        """Decide one intent from cached inputs only (the ReviewOrders hot path).

        An intent carrying W3C trace context gets a `risk.review` span, a child of that
        context; one without it is not traced (no orphan root trace per decision). The
        decision is written straight into the response (one message built, no copy).
        """
        started = time.perf_counter_ns()
        message = request.intent
        carrier = message.trace_context
        span = (
            self._tracer.start_span(SPAN_REVIEW, context=propagate.extract(dict(carrier)))
            if carrier
            else None
        )
        now = self.clock()
        decision: Decision
        if not request.HasField("intent"):
            decision = invalid_intent("", "intent", "is required", now)
        else:
            try:
                intent = intent_from_proto(message)
            except InvalidArgument as exc:
                decision = invalid_intent(
                    message.client_order_id[:_MAX_ECHOED_ID], exc.field, exc.description, now
                )
            else:
                decision = self.core.review(intent, now)
        response = pb.ReviewOrdersResponse()
        fill_decision(response.decision, decision)
        veto = decision.veto
        if span is not None:
            if span.is_recording():
                span.set_attribute("opensqt.client_order_id", decision.client_order_id)
                span.set_attribute("opensqt.risk.approved", veto is None)
                if veto is not None:
                    span.set_attribute("opensqt.risk.reason", reason_label(veto.reason))
            span.end()
        outcome = None if veto is None else veto.reason
        return response, DecisionSample(outcome, (time.perf_counter_ns() - started) / 1_000_000)

    def record(self, sample: DecisionSample) -> None:
        """Count and time one decision (ReviewOrders calls it once the decision is on its way)."""
        self._metrics.decision(sample.veto, sample.latency_ms)

    def limits(self, symbol: str) -> Limits:
        if not symbol:
            return self.core.default_limits
        if symbol not in self.core.context.symbols:
            raise UnknownSymbol(symbol)
        return self.core.limits_for(symbol)

    # ------------------------------------------------------------ pushed inputs

    def on_price(self, symbol: str, price: Decimal, at_ns: int) -> None:
        self.core.on_price(symbol, price, at_ns)

    def on_candle(self, candle: Candle) -> None:
        self._publish(self.core.on_candle(candle, self.clock()))

    def on_order(self, update: OrderUpdate) -> None:
        self.core.on_order(update)

    def sync_open_orders(self, updates: Sequence[OrderUpdate]) -> None:
        self.core.sync_open_orders(updates)

    def on_fill(self, fill: FillEvent) -> None:
        snapshot = self.account.on_fill(fill)
        if snapshot is not None:
            self._publish(self.core.on_position(snapshot, self.clock()))

    def balance_token(self) -> frozenset[str]:
        return self.core.balance_token()

    def on_balance(self, free: Decimal, token: frozenset[str] | None) -> None:
        """A free balance requested after `token` was taken (None: after every acknowledgement)."""
        self.core.on_balance(free, token)

    def on_positions(self, reports: Iterable[PositionReport], token: dict[str, int]) -> None:
        reports = list(reports)
        context = self.core.context
        for report in reports:
            if report.leverage is not None and report.symbol in context.symbols:
                context.set_leverage(report.symbol, report.leverage)
        snapshots = self.account.on_poll(reports, token, flat_when_missing=self.perpetual_symbols())
        now = self.clock()
        for snapshot in snapshots:
            self._publish(self.core.on_position(snapshot, now))

    # ---------------------------------------------------------------- operator

    def watch(self) -> Watcher:
        return self.broadcaster.join()

    def halt(self, params: HaltParams, peer: str) -> StateUpdate:
        before = self.core.trading_state
        now = self.clock()
        after = self.core.halt(params.state, params.reason, params.operator, now)
        self._publish(after if after is not before else None, operator=params.operator)
        self._write_audit(
            "halt",
            now,
            {
                "operator": params.operator,
                "reason": params.reason,
                "requested_state": params.state.name,
                "peer": peer,
                "changed": after is not before,
            },
            after,
        )
        return after

    def resume(self, params: ResumeParams, peer: str) -> StateUpdate:
        before = self.core.trading_state
        now = self.clock()
        after = self.core.resume(params.reason, params.operator, now)
        self._publish(after if after is not before else None, operator=params.operator)
        self._write_audit(
            "resume",
            now,
            {
                "operator": params.operator,
                "reason": params.reason,
                "peer": peer,
                "changed": after is not before,
            },
            after,
        )
        return after

    async def check_startup(self, params: StartupParams) -> list[StartupCheck]:
        """Startup checks with fresh figures from the connector (balance, fees, leverage, price)."""
        symbol = params.symbol
        if symbol not in self.core.context.symbols:
            if not self.markets_known:
                raise ConnectorUnavailable("risk has not reached the connector yet; retry shortly")
            raise UnknownSymbol(symbol)
        market = await self._gateway.market(symbol)
        asset = self.settle_asset or market.settle
        token = self.core.balance_token()
        free = await self._gateway.free_balance(asset)
        leverage = params.leverage
        if leverage is None:
            leverage = await self._venue_leverage(market)
        reference = params.reference_price
        if reference is None:
            reference = await self._gateway.last_price(symbol)
        self.core.on_balance(free, token)
        try:
            return self.core.check_startup(
                symbol=symbol,
                order_amount=params.order_amount,
                price_interval=params.price_interval,
                leverage=leverage,
                maker_fee=market.maker_fee,
                taker_fee=market.taker_fee,
                reference_price=reference,
            )
        except ValueError as exc:
            raise ServiceError(f"cannot run the startup checks: {exc}") from None

    async def _venue_leverage(self, market: MarketMeta) -> Decimal:
        if market.market_type is not MarketType.LINEAR_PERPETUAL:
            return Decimal(1)
        for report in await self._gateway.positions():
            if report.symbol == market.symbol and report.leverage is not None:
                return report.leverage
        return Decimal(1)

    # ----------------------------------------------------------------- private

    def _publish(self, update: StateUpdate | None, *, operator: str = "") -> None:
        if update is None:
            return
        self.broadcaster.publish(update)
        self._metrics.trading_state(update.state)
        _log.warning(
            "trading_state_changed",
            state=update.state.name,
            reason=update.reason,
            source=update.source.name,
            sequence=update.sequence,
        )
        fields: dict[str, Any] = {"operator": operator} if operator else {}
        self._write_audit("state_change", self.clock(), fields, update)

    def _write_audit(self, event: str, now: int, fields: dict[str, Any], state: StateUpdate) -> None:
        try:
            self._audit.write(event, now, fields, state)
        except OSError as exc:
            # The state change has taken effect; a full disk must not undo or block a halt.
            _log.error("audit_write_failed", audit_event=event, error=str(exc))

    def close(self) -> None:
        self.broadcaster.close()
