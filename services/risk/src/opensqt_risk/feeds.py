"""Market data and account feeds from the connector into the risk runtime.

One task per feed, each kept alive forever with exponential backoff (tenacity):
- markets: ListMarkets until it answers; then the other feeds start;
- prices:  StreamPrices for the traded symbols (freshness uses the ticker's own time
           when it is older than its arrival, so a stale snapshot never looks fresh);
- klines:  on every (re)subscription, the monitored symbols' recent closed klines
           (GetKlines) feed the crash detector first, then StreamKlines (closed ones
           drive the detector; any one proves the kline feed alive);
- orders:  StreamOrderUpdates: the snapshot replaces the open orders, then live updates;
- fills:   StreamFills (live only): each fill moves the position at once;
- account: GetBalances + GetPositions every `account_poll_seconds`, and at once after
           the order or fill stream (re)connects.
A stream that broke after delivering data is resubscribed after the initial delay;
one that keeps failing backs off up to `reconnect_max_seconds`. While the connector is
away nothing refreshes prices, so opening orders are vetoed as STALE_MARKET_DATA once
`stale_after_seconds` pass (and from the start if it was never reached).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from opensqt.exchange.v1 import exchange_service_pb2 as ex
from opensqt_common.errors import ServiceError
from opensqt_common.logging import get_logger
from opensqt_common.validation import decimal_field
from opensqt_risk.connector import ConnectorGateway, MarketMeta, describe_rpc_error, fill_from_proto
from opensqt_risk.rules import OrderUpdate
from opensqt_risk.rules.wire import candle_from_proto, order_update_from_proto, timestamp_to_ns
from opensqt_risk.runtime import RiskRuntime
from opensqt_risk.settings import RiskSettings

_log = get_logger(__name__)


class StreamEnded(Exception):
    """The connector ended a stream (normally or with an error) before it delivered anything."""


@dataclass
class _Progress:
    delivered: bool = False


Session = Callable[[_Progress], Awaitable[None]]


class ConnectorFeeds:
    def __init__(
        self,
        runtime: RiskRuntime,
        gateway: ConnectorGateway,
        settings: RiskSettings,
    ) -> None:
        self._runtime = runtime
        self._gateway = gateway
        self._stub = gateway.stub
        self._settings = settings
        self._interval = runtime.config.crash_detector.interval_proto
        self._poll_now = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.ready = asyncio.Event()  # set once the markets are known and the feeds started
        self.streams_up: dict[str, bool] = {}

    def start(self) -> None:
        self._spawn("markets", self._start_feeds())

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _spawn(self, name: str, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        task.set_name(f"risk-feed-{name}")
        task.add_done_callback(_report_crash)
        self._tasks.append(task)

    # ------------------------------------------------------------------ start

    async def _start_feeds(self) -> None:
        markets: list[MarketMeta] = await self._retrying("markets")(self._gateway.list_markets)
        runtime = self._runtime
        runtime.adopt_markets(markets)
        # An empty symbol list would mean "every symbol": subscribe only when there are some.
        if runtime.served(runtime.traded_symbols):
            self._spawn("prices", self._supervise("prices", self._prices))
        if self._kline_symbols():
            self._spawn("klines", self._supervise("klines", self._klines))
        self._spawn("orders", self._supervise("orders", self._orders))
        self._spawn("fills", self._supervise("fills", self._fills))
        self._spawn("account", self._poll_account())
        self.ready.set()

    def _kline_symbols(self) -> tuple[str, ...]:
        runtime = self._runtime
        wanted = (
            *(runtime.traded_symbols if self._settings.klines_required else ()),
            *runtime.monitored_symbols,
        )
        return runtime.served(wanted)

    # ------------------------------------------------------------- supervision

    def _retrying(self, name: str) -> AsyncRetrying:
        settings = self._settings
        return AsyncRetrying(
            wait=wait_exponential_jitter(
                multiplier=settings.reconnect_initial_seconds,
                max=settings.reconnect_max_seconds,
                jitter=settings.reconnect_initial_seconds,
            ),
            retry=retry_if_exception_type(Exception),
            before_sleep=self._log_retry(name),
            reraise=True,
        )

    def _log_retry(self, name: str) -> Callable[[RetryCallState], None]:
        def log(state: RetryCallState) -> None:
            self._set_up(name, False)
            outcome = state.outcome
            error = outcome.exception() if outcome is not None else None
            delay = state.next_action.sleep if state.next_action is not None else 0.0
            log_method = _log.warning if state.attempt_number <= 1 else _log.info
            log_method(
                "connector_retry",
                feed=name,
                attempt=state.attempt_number,
                retry_in_s=round(delay, 3),
                error=_describe(error),
            )

        return log

    async def _supervise(self, name: str, session: Session) -> None:
        """Run `session` forever; backoff grows only while it fails without delivering."""
        while True:
            await self._retrying(name)(self._attempt, name, session)
            await asyncio.sleep(self._settings.reconnect_initial_seconds)

    async def _attempt(self, name: str, session: Session) -> None:
        progress = _Progress()
        try:
            await session(progress)
        except Exception as exc:
            if not progress.delivered:
                raise
            self._set_up(name, False)
            _log.warning("connector_stream_lost", feed=name, error=_describe(exc))
            return
        if not progress.delivered:
            raise StreamEnded(f"the connector ended {name} before sending anything")
        self._set_up(name, False)
        _log.warning("connector_stream_lost", feed=name, error="stream ended by the connector")

    def _set_up(self, name: str, up: bool) -> None:
        if self.streams_up.get(name) != up:
            self.streams_up[name] = up
            if up:
                _log.info("connector_stream_up", feed=name)

    def _delivered(self, name: str, progress: _Progress) -> None:
        if not progress.delivered:
            progress.delivered = True
            self._set_up(name, True)

    # ----------------------------------------------------------------- streams

    async def _prices(self, progress: _Progress) -> None:
        runtime = self._runtime
        call = self._stub.StreamPrices(ex.StreamPricesRequest(symbols=runtime.served(runtime.traded_symbols)))
        try:
            async for response in call:
                self._delivered("prices", progress)
                ticker = response.ticker
                try:
                    price = decimal_field(ticker, "last")
                except ServiceError as exc:
                    _log.warning("bad_ticker", symbol=ticker.symbol, error=str(exc))
                    continue
                assert price is not None
                now = runtime.clock()
                at = now
                if ticker.HasField("time"):
                    at = min(now, timestamp_to_ns(ticker.time))
                runtime.on_price(ticker.symbol, price, at)
        finally:
            call.cancel()

    async def _klines(self, progress: _Progress) -> None:
        runtime = self._runtime
        call = self._stub.StreamKlines(
            ex.StreamKlinesRequest(symbols=self._kline_symbols(), interval=self._interval)  # type: ignore[arg-type]
        )
        try:
            detector = runtime.core.detector
            if detector is not None:
                for symbol in runtime.served(detector.symbols):
                    history = await self._gateway.closed_klines(
                        symbol, self._interval, detector.average_window + 1
                    )
                    for candle in history:
                        runtime.on_candle(candle)
            async for response in call:
                self._delivered("klines", progress)
                try:
                    candle = candle_from_proto(response.kline)
                except ServiceError as exc:
                    _log.warning("bad_kline", symbol=response.kline.symbol, error=str(exc))
                    continue
                runtime.on_candle(candle)
        finally:
            call.cancel()

    async def _orders(self, progress: _Progress) -> None:
        runtime = self._runtime
        call = self._stub.StreamOrderUpdates(ex.StreamOrderUpdatesRequest())
        snapshot: list[OrderUpdate] | None = []
        try:
            async for response in call:
                self._delivered("orders", progress)
                kind = response.WhichOneof("event")
                if kind == "snapshot_end":
                    runtime.sync_open_orders(snapshot or [])
                    snapshot = None
                    self._poll_now.set()
                    continue
                order = response.snapshot_order if kind == "snapshot_order" else response.update
                try:
                    update = order_update_from_proto(order)
                except ServiceError as exc:
                    _log.warning("bad_order_update", client_order_id=order.client_order_id, error=str(exc))
                    continue
                if kind == "snapshot_order" and snapshot is not None:
                    snapshot.append(update)
                else:
                    runtime.on_order(update)
        finally:
            call.cancel()

    async def _fills(self, progress: _Progress) -> None:
        runtime = self._runtime
        call = self._stub.StreamFills(ex.StreamFillsRequest())
        # Positions resync after (re)subscribing covers fills missed while away.
        self._poll_now.set()
        try:
            async for response in call:
                self._delivered("fills", progress)
                try:
                    fill = fill_from_proto(response.fill)
                except ServiceError as exc:
                    _log.warning("bad_fill", trade_id=response.fill.trade_id, error=str(exc))
                    continue
                runtime.on_fill(fill)
        finally:
            call.cancel()

    # ----------------------------------------------------------------- account

    async def _poll_account(self) -> None:
        failing = False
        while True:
            self._poll_now.clear()
            try:
                await self._poll_once()
            except (ServiceError, grpc.aio.AioRpcError) as exc:
                if not failing:
                    _log.warning("account_poll_failed", error=_describe(exc))
                failing = True
            except Exception:
                # A bug must not end the polls: balances and positions would silently go stale.
                _log.exception("account_poll_crashed")
                failing = True
            else:
                if failing:
                    _log.info("account_poll_recovered")
                failing = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poll_now.wait(), self._settings.account_poll_seconds)

    async def _poll_once(self) -> None:
        runtime = self._runtime
        token = runtime.account.poll_token()
        reports = await self._gateway.positions()
        runtime.on_positions(reports, token)
        asset = runtime.settle_asset
        if asset is not None:
            balance_token = runtime.balance_token()
            runtime.on_balance(await self._gateway.free_balance(asset), balance_token)


def _report_crash(task: asyncio.Task[None]) -> None:
    """Feeds retry every failure themselves; one that still raises is a bug worth shouting about."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        _log.error("feed_task_failed", task=task.get_name(), error=_describe(error), exc_info=error)


def _describe(error: BaseException | Any) -> str:
    if isinstance(error, grpc.aio.AioRpcError):
        return describe_rpc_error(error)
    if error is None:
        return ""
    return f"{type(error).__name__}: {error}"
