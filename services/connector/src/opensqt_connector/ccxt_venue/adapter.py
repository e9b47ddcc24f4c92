"""`CcxtVenue`: the VenueAdapter for Binance, Bitget, Gate, OKX and Bybit over ccxt.pro.

Requests go through ccxt's unified REST methods; every ccxt exception becomes a venue
error (`errors.classify`) with a sanitised message. Streams are `StreamLoop`s over
ccxt.pro `watch_*` calls: tickers (plus best bid/ask when the venue's ticker stream
lacks them), candles per symbol, and, with credentials, orders and fills per symbol.
After every (re)connection the order stream pushes what changed since its last push
(open orders from REST, and the final state of orders that closed meanwhile) and the
fill stream pushes fills since the newest one seen, before any live message.

With credentials, `prepare` checks them over REST before any stream starts. A
post-only placement the venue only acknowledged (ids, no state) waits for the order's
first state (private stream, else REST): venues that take a crossing post-only order
and cancel it at once are answered with `PostOnlyWouldCross` like the others.

All venue differences come from the venue's row in `tables`; this module has no
venue names in it.
"""

from __future__ import annotations

import asyncio
import random as _random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

import ccxt

from opensqt_common.enums import MarketType, OrderStatus, Side, Venue
from opensqt_common.errors import InvalidArgument, ServiceError, UnknownSymbol
from opensqt_common.logging import get_logger
from opensqt_connector.ccxt_venue import mapping
from opensqt_connector.ccxt_venue.credentials import Credentials, ccxt_credentials, secret_values
from opensqt_connector.ccxt_venue.errors import Sanitizer, begin_call, classify
from opensqt_connector.ccxt_venue.exchange import ExchangeConfigError, build_exchange
from opensqt_connector.ccxt_venue.state import FillLedger, OrderBook
from opensqt_connector.ccxt_venue.streams import Backoff, OnQuiet, StreamLoop, StreamSettings
from opensqt_connector.ccxt_venue.tables import POST_ONLY_DETAIL, OrderLookup, PositionModeCheck, venue_row
from opensqt_connector.models import (
    BalanceInfo,
    FillInfo,
    KlineInfo,
    KlineInterval,
    MarketInfo,
    OrderInfo,
    OrderRequest,
    PositionInfo,
    TickerInfo,
)
from opensqt_connector.venue import VenueEvents
from opensqt_connector.venue_errors import OrderNotFound, PostOnlyWouldCross

if TYPE_CHECKING:
    from opensqt_connector.settings import ConnectorSettings

_log = get_logger(__name__)

T = TypeVar("T")

CANCEL_CONCURRENCY = 5
KLINE_RESYNC_CANDLES = 3


class HedgeModeAccount(ServiceError):
    """The perpetual account trades in hedge (long/short) mode; the connector needs one-way."""


class CcxtVenue:
    """One venue and market type behind ccxt.pro (see the module docstring)."""

    def __init__(
        self,
        venue: Venue,
        market_type: MarketType,
        symbols: Sequence[str],
        credentials: Credentials | None = None,
        *,
        sandbox: bool = False,
        api_url: str | None = None,
        ws_url: str | None = None,
        http_session: Any | None = None,
        rate_limit: bool = True,
        streams: StreamSettings | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if not symbols or len(set(symbols)) != len(symbols):
            raise ExchangeConfigError("symbols must be non-empty and distinct")
        self.venue = venue
        self.market_type = market_type
        self._row = venue_row(venue)
        self._market_row = self._row.market(market_type)
        self._symbols = tuple(symbols)
        self._private = bool(ccxt_credentials(self._row, credentials))
        self._sanitize = Sanitizer(secret_values(credentials))
        self.exchange: Any = build_exchange(
            self._row,
            market_type,
            credentials=credentials,
            sandbox=sandbox,
            api_url=api_url,
            ws_url=ws_url,
            session=http_session,
            rate_limit=rate_limit,
        )
        self._settings = streams or StreamSettings()
        self._clock = clock
        self._sleep = sleep
        self._random = random
        self._markets: dict[str, MarketInfo] = {}
        self._orders = OrderBook()
        self._fills = FillLedger()
        self._tickers: dict[str, mapping.TickerParts] = {}
        self._candles: dict[str, tuple[list[Any], bool]] = {}  # last candle, pushed closed
        self._events: VenueEvents | None = None
        self._interval = KlineInterval.M1
        self._tasks: list[asyncio.Task[None]] = []
        self._book_stream = False
        self._state_waiters: dict[str, list[asyncio.Future[OrderInfo]]] = {}
        self._started_ms = 0
        self.loops: list[StreamLoop[Any]] = []

    @classmethod
    def from_settings(cls, settings: ConnectorSettings, credentials: Credentials | None) -> CcxtVenue:
        return cls(
            settings.venue,
            settings.market_type,
            settings.symbol_list,
            credentials,
            sandbox=settings.sandbox,
            api_url=settings.api_url,
            ws_url=settings.ws_url,
        )

    # -- plumbing ---------------------------------------------------------------------

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def _call(
        self, operation: str, fn: Callable[[], Awaitable[T]], *, noop_codes: frozenset[str] = frozenset()
    ) -> T:
        """Run one ccxt call; ccxt errors leave as classified, sanitised venue errors.
        An error with one of `noop_codes` ("already so") is raised without a warning."""
        begin_call()
        try:
            return await fn()
        except ccxt.BaseError as exc:
            error = classify(exc, self._row, self._sanitize)
        log = _log.debug if error.metadata.get("venue_code") in noop_codes else _log.warning
        log(
            "venue_call_failed",
            venue=self.venue.value,
            operation=operation,
            reason=error.reason_name,
            error=error.message,
        )
        raise error from None

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, ccxt.BaseError):
            return classify(exc, self._row, self._sanitize).message
        if isinstance(exc, ServiceError):
            return exc.message
        return self._sanitize(f"{type(exc).__name__}: {exc}")

    def _ccxt_market(self, symbol: str) -> Mapping[str, Any]:
        if symbol not in self._markets:
            raise UnknownSymbol(symbol)
        market: Mapping[str, Any] = self.exchange.market(symbol)
        return market

    def _symbols_for(self, symbol: str | None) -> tuple[str, ...]:
        if symbol is None or symbol == "":
            return self._symbols
        self._ccxt_market(symbol)
        return (symbol,)

    def _venue_client_id(self, client_order_id: str) -> str | None:
        try:
            return self._row.client_id.to_venue(client_order_id)
        except ValueError:
            return None

    # -- lifecycle --------------------------------------------------------------------

    def markets(self) -> Mapping[str, MarketInfo]:
        return MappingProxyType(self._markets)

    async def start(self, events: VenueEvents, kline_interval: KlineInterval) -> None:
        if kline_interval.value not in (self.exchange.timeframes or {}):
            raise ExchangeConfigError(f"{self.venue.value} has no {kline_interval.value} candles")
        self._events = events
        self._interval = kline_interval
        await self.prepare()
        self._started_ms = self._now_ms()
        self._start_streams()

    async def prepare(self) -> None:
        """Load and check the served markets (and one-way mode on perpetuals); `start`
        begins with this. Request methods work after it, without any streams."""
        await self._call("load_markets", self.exchange.load_markets)
        self._markets = self._resolve_markets()
        if self._private:
            # Bad keys must fail here, over REST, with the venue's own error: ccxt's
            # WebSocket logins report them poorly (Binance spot raises KeyError).
            await self._call("check_credentials", partial(self.exchange.fetch_open_orders, self._symbols[0]))
        if self._private and self._row.uid_lookup is not None and not self.exchange.uid:
            method, field = self._row.uid_lookup
            account = await self._call("account_uid", getattr(self.exchange, method))
            self.exchange.uid = str(account[field])
        if self.market_type is MarketType.LINEAR_PERPETUAL and self._private:
            await self._ensure_one_way()

    def _resolve_markets(self) -> dict[str, MarketInfo]:
        if self.exchange.precisionMode != mapping.TICK_SIZE_MODE:
            raise ExchangeConfigError(f"{self.venue.value}: ccxt precision mode is not TICK_SIZE")
        resolved = {}
        for symbol in self._symbols:
            market = (self.exchange.markets or {}).get(symbol)
            if market is None:
                raise UnknownSymbol(symbol, "symbols")
            problem = mapping.served_market_problem(market, self.market_type)
            if problem is not None:
                raise InvalidArgument("symbols", f"{symbol} on {self.venue.value} {problem}")
            expected = self._row.venue_symbol(market["baseId"], market["quoteId"], self.market_type)
            if market["id"] != expected:
                raise InvalidArgument(
                    "symbols", f"{symbol} is {market['id']!r} on {self.venue.value}, expected {expected!r}"
                )
            resolved[symbol] = mapping.market_info(market, self.venue, self.market_type)
        return resolved

    async def _ensure_one_way(self) -> None:
        for symbol in self._symbols:
            if self._row.position_mode is PositionModeCheck.FETCH:
                mode = await self._call(
                    "fetch_position_mode", partial(self.exchange.fetch_position_mode, symbol)
                )
                if mode.get("hedged"):
                    raise HedgeModeAccount(
                        f"{self.venue.value}: the account is in hedge mode; switch it to one-way mode"
                    )
                continue
            try:
                await self._call(
                    "set_position_mode",
                    partial(self.exchange.set_position_mode, False, symbol),
                    noop_codes=self._row.position_mode_noop_codes,
                )
            except ServiceError as exc:
                if exc.metadata.get("venue_code") in self._row.position_mode_noop_codes:
                    continue
                _log.warning(
                    "position_mode_not_set",
                    venue=self.venue.value,
                    symbol=symbol,
                    error=exc.message,
                    note="orders will be refused by the venue if the account is in hedge mode",
                )

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                _log.debug("stream_task_closed", task=task.get_name())
        try:
            await self.exchange.close()
        except Exception as exc:
            _log.warning("venue_close_failed", venue=self.venue.value, error=self._describe(exc))

    # -- requests ---------------------------------------------------------------------

    async def fetch_ticker(self, symbol: str) -> TickerInfo:
        self._ccxt_market(symbol)
        raw = await self._call("fetch_ticker", lambda: self.exchange.fetch_ticker(symbol))
        parts = mapping.ticker_parts(raw)
        if (parts.bid is None or parts.ask is None) and self.exchange.has.get("fetchBidsAsks"):
            books = await self._call("fetch_bids_asks", lambda: self.exchange.fetch_bids_asks([symbol]))
            book = mapping.ticker_parts(books[symbol])
            parts = replace(parts, bid=book.bid, ask=book.ask)
        return mapping.ticker_info(parts, self._now_ms())

    async def fetch_balances(self) -> Sequence[BalanceInfo]:
        raw = await self._call("fetch_balance", self.exchange.fetch_balance)
        return mapping.balance_infos(raw)

    async def fetch_positions(self, symbol: str | None) -> Sequence[PositionInfo]:
        symbols = self._symbols_for(symbol)
        if self.market_type is MarketType.SPOT:
            return []
        raw = await self._call("fetch_positions", lambda: self.exchange.fetch_positions(list(symbols)))
        positions = []
        for entry in raw:
            if entry.get("symbol") in symbols:
                position = mapping.position_info(entry, self._ccxt_market(entry["symbol"]))
                if position is not None:
                    positions.append(position)
        if any(p.leverage == 0 for p in positions) and self.exchange.has.get("fetchLeverages"):
            # Some position endpoints leave leverage out (Binance USD-M positionRisk v3).
            wanted = [p.symbol for p in positions if p.leverage == 0]
            leverages = await self._call("fetch_leverages", lambda: self.exchange.fetch_leverages(wanted))
            positions = [
                replace(p, leverage=mapping.leverage_of(leverages.get(p.symbol), p.quantity))
                if p.leverage == 0
                else p
                for p in positions
            ]
        return positions

    async def place_order(self, request: OrderRequest) -> OrderInfo:
        market = self._ccxt_market(request.symbol)
        args = mapping.create_order_args(self._row, self._market_row, market, request)
        raw = await self._call(
            "place_order",
            lambda: self.exchange.create_order(
                args.symbol, args.type, args.side, args.amount, args.price, dict(args.params)
            ),
        )
        order = mapping.acknowledged_order(self._row, raw, market, request, self._now_ms())
        if not order.client_order_id:
            order = replace(order, client_order_id=request.client_order_id)
        self._orders.accept(order)
        row = self._row
        if (
            request.post_only
            and order.status is OrderStatus.PENDING_NEW
            and (row.post_only_markers or row.post_only_cancel_unmarked)
        ):
            # The venue takes a crossing post-only order and cancels it at once:
            # learn the order's first state before answering.
            order = await self._first_state(order)
            if (
                row.post_only_cancel_unmarked
                and order.status is OrderStatus.CANCELED
                and order.filled_quantity == 0
            ):
                order = replace(order, status_detail=POST_ONLY_DETAIL)
        if order.status_detail == POST_ONLY_DETAIL:
            raise PostOnlyWouldCross(
                f"{self.venue.value}: post-only order {request.client_order_id} would have crossed"
            )
        return order

    async def _first_state(self, order: OrderInfo) -> OrderInfo:
        """The first state of an order the venue only acknowledged: from the private
        stream when it brings one within `ack_state_wait_s`, else read over REST."""
        known = self._orders.get(order.order_id)
        if known is not None and known.status is not OrderStatus.PENDING_NEW:
            return known
        if self._private and self._tasks:
            waiter: asyncio.Future[OrderInfo] = asyncio.get_running_loop().create_future()
            self._state_waiters.setdefault(order.order_id, []).append(waiter)
            try:
                return await asyncio.wait_for(waiter, self._settings.ack_state_wait_s)
            except TimeoutError:
                _log.info("order_state_not_streamed", venue=self.venue.value, order_id=order.order_id)
            finally:
                waiters = self._state_waiters.get(order.order_id, [])
                if waiter in waiters:
                    waiters.remove(waiter)
                if not waiters:
                    self._state_waiters.pop(order.order_id, None)
        return await self.fetch_order(order.symbol, order_id=order.order_id)

    def _lookup_params(self, client_order_id: str, order_id: str) -> tuple[str | None, dict[str, object]]:
        if order_id:
            return order_id, {}
        venue_id = self._venue_client_id(client_order_id) if client_order_id else None
        if venue_id is None:
            raise OrderNotFound(f"{self.venue.value}: no order {client_order_id!r}")
        if self._row.client_id_as_order_id:
            return venue_id, {}
        return None, {self._row.lookup_param: venue_id}

    async def fetch_order(self, symbol: str, *, client_order_id: str = "", order_id: str = "") -> OrderInfo:
        order = await self._read_order(symbol, client_order_id, order_id)
        self._orders.accept(order)
        return order

    async def _read_order(self, symbol: str, client_order_id: str, order_id: str) -> OrderInfo:
        market = self._ccxt_market(symbol)
        venue_order_id, params = self._lookup_params(client_order_id, order_id)
        if self._row.order_lookup is OrderLookup.OPEN_THEN_CLOSED:
            if venue_order_id is not None:
                params = {self._row.order_id_param: venue_order_id}
            for method in (self.exchange.fetch_open_orders, self.exchange.fetch_closed_orders):
                found = await self._call("fetch_order", partial(method, symbol, None, None, dict(params)))
                for raw in found:
                    if venue_order_id is not None and str(raw.get("id")) != venue_order_id:
                        continue
                    if venue_order_id is None and raw.get("clientOrderId") not in params.values():
                        continue
                    return mapping.order_info(self._row, raw, market)
            raise OrderNotFound(f"{self.venue.value}: no order {client_order_id or order_id!r}")
        if venue_order_id is None:
            venue_order_id = self._row.client_lookup_order_id
        raw = await self._call(
            "fetch_order", lambda: self.exchange.fetch_order(venue_order_id, symbol, params)
        )
        if not raw or raw.get("id") in (None, ""):
            raise OrderNotFound(f"{self.venue.value}: no order {client_order_id or order_id!r}")
        return mapping.order_info(self._row, raw, market)

    async def cancel_order(self, symbol: str, *, client_order_id: str = "", order_id: str = "") -> OrderInfo:
        market = self._ccxt_market(symbol)
        venue_order_id, params = self._lookup_params(client_order_id, order_id)
        raw = await self._call(
            "cancel_order", lambda: self.exchange.cancel_order(venue_order_id, symbol, params)
        )
        if raw and raw.get("id") and mapping.has_status(self._row, raw):
            order = mapping.order_info(self._row, raw, market)
            self._orders.accept(order)
            return order
        # Only acknowledged: read the order's state back.
        known_id = str(raw.get("id") or "") if raw else ""
        return await self.fetch_order(symbol, client_order_id=client_order_id, order_id=order_id or known_id)

    async def cancel_all_orders(self, symbol: str | None, side: Side | None) -> Sequence[OrderInfo]:
        """Cancel the open orders (of one side) one by one, so that the answer holds each
        order's real final state; an order that finished meanwhile is reported as it is."""
        symbols = self._symbols_for(symbol)
        targets = [
            order
            for s in symbols
            for order in await self.fetch_open_orders(s)
            if side is None or order.side is side
        ]
        gate = asyncio.Semaphore(CANCEL_CONCURRENCY)

        async def cancel(order: OrderInfo) -> OrderInfo:
            async with gate:
                try:
                    return await self.cancel_order(order.symbol, order_id=order.order_id)
                except OrderNotFound:
                    return await self.fetch_order(order.symbol, order_id=order.order_id)

        results = await asyncio.gather(*(cancel(o) for o in targets), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            _log.warning(
                "cancel_all_incomplete", venue=self.venue.value, failed=len(errors), total=len(targets)
            )
            raise errors[0]
        return [r for r in results if isinstance(r, OrderInfo)]

    async def fetch_open_orders(self, symbol: str | None) -> Sequence[OrderInfo]:
        orders = []
        for s in self._symbols_for(symbol):
            market = self._ccxt_market(s)
            raw = await self._call("fetch_open_orders", partial(self.exchange.fetch_open_orders, s))
            for entry in raw:
                order = mapping.order_info(self._row, entry, market)
                self._orders.accept(order)
                orders.append(order)
        return orders

    async def fetch_fills(self, symbol: str, since_ms: int) -> Sequence[FillInfo]:
        market = self._ccxt_market(symbol)
        raw = await self._call(
            "fetch_my_trades", lambda: self.exchange.fetch_my_trades(symbol, since_ms or None)
        )
        fills = [await self._fill(trade, market) for trade in raw]
        return sorted(fills, key=lambda f: (f.time_ms, f.trade_id))

    async def _fill(self, trade: Mapping[str, Any], market: Mapping[str, Any]) -> FillInfo:
        order_id = str(trade.get("order") or "")
        client_id = mapping.trade_client_order_id(self._row, trade)
        if client_id is None and order_id:
            client_id = self._orders.client_id(order_id)
            if client_id is None:
                try:
                    order = await self.fetch_order(str(market["symbol"]), order_id=order_id)
                except OrderNotFound:
                    order = None
                client_id = order.client_order_id if order is not None else ""
                self._orders.remember_client_id(order_id, client_id)
        return mapping.fill_info(self._row, trade, market, client_id or "")

    async def set_leverage(self, symbol: str, leverage: Decimal) -> Decimal:
        market = self._ccxt_market(symbol)
        if self.market_type is MarketType.SPOT:
            raise InvalidArgument("symbol", f"{symbol} is a spot market; leverage is for perpetuals")
        if leverage != leverage.to_integral_value() or leverage < 1:
            raise InvalidArgument("leverage", f"must be a whole number >= 1 (got {leverage})")
        maximum = self._markets[symbol].max_leverage
        if maximum > 0 and leverage > maximum:
            raise InvalidArgument("leverage", f"{symbol} allows at most {maximum}")
        whole = int(leverage)
        try:
            await self._call(
                "set_leverage",
                lambda: self.exchange.set_leverage(whole, market["symbol"], dict(self._row.leverage_params)),
                noop_codes=self._row.leverage_noop_codes,
            )
        except ServiceError as exc:
            if exc.metadata.get("venue_code") not in self._row.leverage_noop_codes:
                raise
        return Decimal(whole)

    async def fetch_klines(self, symbol: str, interval: KlineInterval, limit: int) -> Sequence[KlineInfo]:
        market = self._ccxt_market(symbol)
        if interval.value not in (self.exchange.timeframes or {}):
            raise InvalidArgument("interval", f"{self.venue.value} has no {interval.value} candles")
        raw = await self._call(
            "fetch_ohlcv", lambda: self.exchange.fetch_ohlcv(symbol, interval.value, None, limit)
        )
        now = self._now_ms()
        return [
            mapping.kline_info(
                symbol,
                interval,
                candle,
                volume_unit=self._volume_unit(market),
                closed=int(candle[0]) + interval.milliseconds <= now,
            )
            for candle in raw
        ]

    # -- streams ----------------------------------------------------------------------

    def _loop(
        self,
        name: str,
        label: str,
        watch: Callable[[], Awaitable[Any]],
        deliver: Callable[[Any], Awaitable[None]],
        *,
        private: bool,
        resync: Callable[[], Awaitable[None]] | None = None,
    ) -> StreamLoop[Any]:
        assert self._events is not None
        settings = self._settings
        return StreamLoop(
            name,
            label=label,
            watch=watch,
            deliver=deliver,
            events=self._events,
            quiet_after_s=settings.private_quiet_s if private else settings.market_quiet_s,
            on_quiet=OnQuiet.RESYNC if private else OnQuiet.RECONNECT,
            backoff=Backoff(settings.backoff_initial_s, settings.backoff_max_s, self._random),
            resync=resync,
            drop_connections=self.exchange.close_ws_clients,
            describe=self._describe,
            sleep=self._sleep,
        )

    def _start_streams(self) -> None:
        symbols = list(self._symbols)

        async def watch_tickers() -> Any:
            return await self.exchange.watch_tickers(symbols)

        self._spawn(self._loop("tickers", "tickers", watch_tickers, self._on_tickers, private=False))
        for symbol in symbols:
            for loop in self._symbol_loops(symbol):
                self._spawn(loop)

    def _symbol_loops(self, symbol: str) -> list[StreamLoop[Any]]:
        timeframe = self._interval.value

        async def watch_candles() -> Any:
            return await self.exchange.watch_ohlcv(symbol, timeframe)

        async def on_candles(batch: Sequence[Sequence[Any]]) -> None:
            await self._on_candles(symbol, batch)

        async def resync_candles() -> None:
            await self._resync_candles(symbol)

        loops = [
            self._loop(
                "klines", f"klines {symbol}", watch_candles, on_candles, private=False, resync=resync_candles
            )
        ]
        if not self._private:
            return loops

        async def watch_orders() -> Any:
            return await self.exchange.watch_orders(symbol)

        async def resync_orders() -> None:
            await self._resync_orders(symbol)

        async def watch_trades() -> Any:
            return await self.exchange.watch_my_trades(symbol)

        async def resync_fills() -> None:
            await self._resync_fills(symbol)

        loops.append(
            self._loop(
                "orders",
                f"orders {symbol}",
                watch_orders,
                self._on_orders,
                private=True,
                resync=resync_orders,
            )
        )
        loops.append(
            self._loop(
                "fills", f"fills {symbol}", watch_trades, self._on_trades, private=True, resync=resync_fills
            )
        )
        return loops

    def _spawn(self, loop: StreamLoop[Any]) -> None:
        self.loops.append(loop)
        task = asyncio.create_task(loop.run(), name=f"{self.venue.value} {loop.label}")
        self._tasks.append(task)

    def _push_ticker(self, symbol: str, parts: mapping.TickerParts) -> None:
        known = self._tickers.get(symbol)
        merged = parts
        if known is not None:
            merged = mapping.TickerParts(
                symbol=symbol,
                last=parts.last if parts.last is not None else known.last,
                bid=parts.bid if parts.bid is not None else known.bid,
                ask=parts.ask if parts.ask is not None else known.ask,
                time_ms=parts.time_ms or known.time_ms,
            )
        self._tickers[symbol] = merged
        if merged.last is None or merged.bid is None or merged.ask is None:
            self._start_book_stream()
            return
        assert self._events is not None
        self._events.on_ticker(mapping.ticker_info(merged, self._now_ms()))

    def _start_book_stream(self) -> None:
        """The venue's ticker stream has no best bid/ask: watch them as well."""
        if self._book_stream or not self.exchange.has.get("watchBidsAsks"):
            return
        self._book_stream = True
        symbols = list(self._symbols)
        self._spawn(
            self._loop(
                "tickers",
                "bids/asks",
                lambda: self.exchange.watch_bids_asks(symbols),
                self._on_tickers,
                private=False,
            )
        )

    async def _on_tickers(self, batch: Mapping[str, Any]) -> None:
        for symbol, ticker in batch.items():
            if symbol in self._markets:
                self._push_ticker(symbol, mapping.ticker_parts({**ticker, "symbol": symbol}))

    def _volume_unit(self, market: Mapping[str, Any]) -> Decimal:
        if self._market_row.candle_volume_in_contracts:
            return mapping.contract_size_of(market)
        return Decimal(1)

    async def _on_candles(self, symbol: str, batch: Sequence[Sequence[Any]]) -> None:
        """Push each candle update; the previous candle is pushed closed once the next
        one opens (unless a REST resync already pushed it closed)."""
        assert self._events is not None
        unit = self._volume_unit(self._ccxt_market(symbol))
        for candle in batch:
            last = self._candles.get(symbol)
            if last is not None and int(candle[0]) < int(last[0][0]):
                continue  # an older candle than the one in progress
            if last is not None and int(candle[0]) > int(last[0][0]) and not last[1]:
                self._events.on_kline(
                    mapping.kline_info(symbol, self._interval, last[0], volume_unit=unit, closed=True)
                )
            self._candles[symbol] = (list(candle), False)
            self._events.on_kline(
                mapping.kline_info(symbol, self._interval, candle, volume_unit=unit, closed=False)
            )

    async def _resync_candles(self, symbol: str) -> None:
        """Push candles that closed while the stream was away."""
        assert self._events is not None
        unit = self._volume_unit(self._ccxt_market(symbol))
        raw = await self._call(
            "fetch_ohlcv",
            lambda: self.exchange.fetch_ohlcv(symbol, self._interval.value, None, KLINE_RESYNC_CANDLES),
        )
        last = self._candles.get(symbol)
        now = self._now_ms()
        for candle in raw:
            if last is not None and (
                int(candle[0]) < int(last[0][0]) or (last[1] and candle[0] == last[0][0])
            ):
                continue
            closed = int(candle[0]) + self._interval.milliseconds <= now
            self._events.on_kline(
                mapping.kline_info(symbol, self._interval, candle, volume_unit=unit, closed=closed)
            )
            self._candles[symbol] = (list(candle), closed)

    def _push_order(self, order: OrderInfo) -> None:
        assert self._events is not None
        if self._orders.accept(order):
            self._events.on_order(order)
        latest = self._orders.get(order.order_id)
        if latest is not None and latest.status is not OrderStatus.PENDING_NEW:
            for waiter in self._state_waiters.pop(order.order_id, []):
                if not waiter.done():
                    waiter.set_result(latest)

    async def _on_orders(self, batch: Sequence[Mapping[str, Any]]) -> None:
        for raw in batch:
            symbol = raw.get("symbol")
            if symbol not in self._markets:
                continue
            try:
                order = mapping.order_info(self._row, raw, self._ccxt_market(symbol))
            except mapping.UnmappedVenueData as exc:
                _log.error("order_update_dropped", venue=self.venue.value, error=exc.message)
                continue
            self._push_order(order)

    async def _resync_orders(self, symbol: str) -> None:
        """Push open orders from REST, then the final state of orders we knew open
        that the venue no longer lists as open."""
        market = self._ccxt_market(symbol)
        raw = await self._call("fetch_open_orders", lambda: self.exchange.fetch_open_orders(symbol))
        listed = set()
        for entry in raw:
            order = mapping.order_info(self._row, entry, market)
            listed.add(order.order_id)
            self._push_order(order)
        for known in self._orders.open_orders([symbol]):
            if known.order_id in listed:
                continue
            try:
                order = await self._read_order(symbol, "", known.order_id)
            except OrderNotFound:
                _log.warning("order_vanished", venue=self.venue.value, order_id=known.order_id)
                continue
            self._push_order(order)

    async def _on_trades(self, batch: Sequence[Mapping[str, Any]]) -> None:
        assert self._events is not None
        for trade in batch:
            symbol = trade.get("symbol")
            if symbol not in self._markets:
                continue
            try:
                fill = await self._fill(trade, self._ccxt_market(symbol))
            except mapping.UnmappedVenueData as exc:
                _log.error("fill_dropped", venue=self.venue.value, error=exc.message)
                continue
            if self._fills.accept(fill):
                self._events.on_fill(fill)

    async def _resync_fills(self, symbol: str) -> None:
        """Push fills since the newest one pushed (with an overlap), or since shortly
        before start on the first connection."""
        assert self._events is not None
        settings = self._settings
        since = self._started_ms - int(settings.fill_lookback_s * 1000)
        if self._fills.newest_ms:
            since = max(since, self._fills.newest_ms - int(settings.fill_overlap_s * 1000))
        for fill in await self.fetch_fills(symbol, since):
            if self._fills.accept(fill):
                self._events.on_fill(fill)


__all__ = ["CcxtVenue", "HedgeModeAccount"]
