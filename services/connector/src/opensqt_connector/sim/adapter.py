"""`SimVenue`: the built-in simulated venue behind the VenueAdapter interface.

It wraps the pure matching core (`SimExchange`) with an asyncio lock, a price feed
(seeded random walk or file replay) that also builds klines, and fault injection on
order entry. Every event the core produces is pushed to the `VenueEvents` sink
synchronously inside the call that caused it (no task hop), so an order update leaves
the adapter before `place_order` returns.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal

from opensqt_common.decimals import ZERO, round_down
from opensqt_common.enums import MarketType, Side, Venue
from opensqt_common.errors import InvalidArgument, UnknownSymbol
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
from opensqt_connector.sim.faults import FaultConfig, FaultInjector
from opensqt_connector.sim.klines import DEFAULT_HISTORY as DEFAULT_KLINE_HISTORY
from opensqt_connector.sim.klines import KlineBook
from opensqt_connector.sim.markets import DEFAULT_SYMBOL, default_market, default_start_price
from opensqt_connector.sim.matching import (
    DEFAULT_FILL_HISTORY,
    DEFAULT_LEVERAGE,
    SimEvent,
    SimExchange,
)
from opensqt_connector.sim.price_feed import (
    PriceFeedConfig,
    PriceFeedDriver,
    PriceSource,
    Print,
    RandomWalk,
    RandomWalkConfig,
    Replay,
    ReplayConfig,
    Sleeper,
)
from opensqt_connector.sim.replay_data import load_replay
from opensqt_connector.venue import VenueEvents
from opensqt_connector.venue_errors import VenueUnavailable

DEFAULT_QUOTE_BALANCE = Decimal(10_000)
# The names passed to VenueEvents.on_stream_state when the sim drops its streams.
STREAMS = ("tickers", "klines", "orders", "fills")


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class SimVenue:
    """The `sim` venue. All arguments are keyword-only except `symbols`:

    - symbols: unified symbols served, default ["BTC/USDT:USDT"]. `B/Q:Q` is a linear
      perpetual, `B/Q` spot; both kinds may be mixed and share one wallet per asset.
    - markets: per-symbol MarketInfo overriding the defaults of `markets.default_market`
      (BTC: tick 0.1, step and min qty 0.001, min notional 5; perp fees maker 0.0002 /
      taker 0.0005, max leverage 125; spot fees 0.001).
    - balances: starting wallet per asset. Default: 10,000 of every quote asset and, for
      each spot base, about 10,000 quote worth of it at the start price.
    - seed: seeds the random walk and the fault draws (same seed → same run).
    - price_feed: RandomWalkConfig() (default) or ReplayConfig(path, speed, symbol, loop)
      for `--sim-data`; symbols the replay does not drive keep a default random walk.
    - feed_running: start the feed in `start` (SetPriceFeed turns it on and off later).
    - start_prices: first price per symbol (default: BTC 60000, ETH 3000, other bases
      `markets.default_start_price`); a replayed symbol starts at the file's first row.
    - faults: FaultConfig (parse `--sim-faults` with `faults.parse_faults`).
    - leverage: initial leverage of every perpetual (capped at its max leverage).
    - spread_ticks: bid/ask distance from the last price, in ticks.
    - clock: epoch milliseconds for order, fill and kline times; sleeper: awaited for
      feed waits and injected latency (tests pass fakes to run without real time).
    - kline_history / fill_history: bounded history served by fetch_klines / fetch_fills.

    Besides VenueAdapter it offers the SimControl operations: set_price, close_kline,
    set_price_feed, set_faults, set_balance.
    """

    venue = Venue.SIM

    def __init__(
        self,
        symbols: Sequence[str] = (DEFAULT_SYMBOL,),
        *,
        markets: Mapping[str, MarketInfo] | None = None,
        balances: Mapping[str, Decimal] | None = None,
        seed: int = 0,
        price_feed: PriceFeedConfig = RandomWalkConfig(),  # noqa: B008 - frozen, immutable
        feed_running: bool = True,
        start_prices: Mapping[str, Decimal] | None = None,
        faults: FaultConfig | None = None,
        leverage: Decimal = DEFAULT_LEVERAGE,
        spread_ticks: int = 1,
        clock: Callable[[], int] = wall_clock_ms,
        sleeper: Sleeper = asyncio.sleep,
        kline_history: int = DEFAULT_KLINE_HISTORY,
        fill_history: int = DEFAULT_FILL_HISTORY,
        spot_fees_in_base: bool = False,
    ) -> None:
        if not symbols:
            raise ValueError("the sim needs at least one symbol")
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"duplicate symbols in {list(symbols)}")
        overrides = dict(markets or {})
        unknown = set(overrides) - set(symbols)
        if unknown:
            raise ValueError(f"market definitions for symbols that are not served: {sorted(unknown)}")
        self._markets = {symbol: overrides.get(symbol) or default_market(symbol) for symbol in symbols}
        for symbol, market in self._markets.items():
            if market.symbol != symbol:
                raise ValueError(f"market definition for {symbol} names {market.symbol}")
        self._start_prices = {s: (start_prices or {}).get(s) or default_start_price(s) for s in symbols}
        self._exchange = SimExchange(
            self._markets.values(),
            balances if balances is not None else _default_balances(self._markets, self._start_prices),
            leverage=leverage,
            spread_ticks=spread_ticks,
            fill_history=fill_history,
            spot_fees_in_base=spot_fees_in_base,
        )
        self._klines = KlineBook(symbols, history=kline_history)
        self._faults = FaultInjector(faults, seed=seed)
        self._clock = clock
        self._sleeper = sleeper
        self._lock = asyncio.Lock()
        self._events: VenueEvents | None = None
        self._kline_interval: KlineInterval | None = None
        self._sources, self._replayed = self._build_sources(price_feed, seed)
        self._feed = PriceFeedDriver(self._sources, self._on_print, sleeper)
        self._feed_on_start = feed_running
        self._closed = False

    # ------------------------------------------------------------ VenueAdapter

    async def start(self, events: VenueEvents, kline_interval: KlineInterval) -> None:
        if self._events is not None:
            raise RuntimeError("SimVenue.start was already called")
        self._events = events
        self._kline_interval = kline_interval
        for symbol in self._markets:
            if symbol in self._replayed:
                await self._feed.step(symbol)
            else:
                await self._trade(symbol, self._start_prices[symbol], ZERO, None)
        for stream in STREAMS:
            events.on_stream_state(stream, True, "sim")
        if self._feed_on_start:
            self._feed.start()
        if self._faults.take_drop_streams():
            async with self._lock:
                self._drop_streams()

    async def close(self) -> None:
        self._closed = True
        await self._feed.stop()

    def markets(self) -> Mapping[str, MarketInfo]:
        return dict(self._markets)

    async def fetch_ticker(self, symbol: str) -> TickerInfo:
        return self._exchange.ticker(symbol)

    async def fetch_balances(self) -> Sequence[BalanceInfo]:
        return self._exchange.balances()

    async def fetch_positions(self, symbol: str | None) -> Sequence[PositionInfo]:
        return self._exchange.positions(symbol)

    async def place_order(self, request: OrderRequest) -> OrderInfo:
        await self._order_entry("order placement", placement=True)
        async with self._lock:
            info, events = self._exchange.place_order(request, self._clock())
            self._push(events)
        return info

    async def cancel_order(self, symbol: str, *, client_order_id: str = "", order_id: str = "") -> OrderInfo:
        await self._order_entry("cancel", placement=False)
        async with self._lock:
            info, events = self._exchange.cancel_order(
                symbol, client_order_id=client_order_id, order_id=order_id, now_ms=self._clock()
            )
            self._push(events)
        return info

    async def cancel_all_orders(self, symbol: str | None, side: Side | None) -> Sequence[OrderInfo]:
        await self._order_entry("cancel-all", placement=False)
        async with self._lock:
            canceled, events = self._exchange.cancel_all(symbol, side, self._clock())
            self._push(events)
        return canceled

    async def fetch_order(self, symbol: str, *, client_order_id: str = "", order_id: str = "") -> OrderInfo:
        return self._exchange.get_order(symbol, client_order_id=client_order_id, order_id=order_id)

    async def fetch_open_orders(self, symbol: str | None) -> Sequence[OrderInfo]:
        return self._exchange.open_orders(symbol)

    async def fetch_fills(self, symbol: str, since_ms: int) -> Sequence[FillInfo]:
        return self._exchange.fills(symbol, since_ms)

    async def set_leverage(self, symbol: str, leverage: Decimal) -> Decimal:
        async with self._lock:
            return self._exchange.set_leverage(symbol, leverage)

    async def fetch_klines(self, symbol: str, interval: KlineInterval, limit: int) -> Sequence[KlineInfo]:
        self._check_symbol(symbol)
        return self._klines.history(symbol, interval, limit)

    # ------------------------------------------------------------- SimControl

    async def set_price(
        self,
        symbol: str,
        price: Decimal,
        volume: Decimal = ZERO,
        max_fill_quantity: Decimal | None = None,
    ) -> int:
        """Trade at `price` now; returns how many fills the print produced."""
        if not volume.is_finite() or volume < 0:
            raise InvalidArgument("volume", f"must be >= 0 (got {volume})")
        events = await self._trade(symbol, price, volume, max_fill_quantity)
        return sum(1 for event in events if isinstance(event, FillInfo))

    async def close_kline(self, symbol: str) -> None:
        """Close the current kline of the streamed interval now and open the next."""
        self._require_started()
        assert self._events is not None
        assert self._kline_interval is not None
        self._check_symbol(symbol)
        async with self._lock:
            for kline in self._klines.close(symbol, self._kline_interval, self._clock()):
                self._events.on_kline(kline)

    def price_feed_running(self) -> bool:
        return self._feed.running()

    async def set_price_feed(self, running: bool) -> None:
        if running:
            self._require_started()
            self._feed.start()
        else:
            await self._feed.stop()

    @property
    def faults(self) -> FaultConfig:
        return self._faults.config

    async def set_faults(self, config: FaultConfig) -> None:
        """Replace the faults; `drop_streams` drops every stream once, now (if started)."""
        self._faults.configure(config)
        if self._events is not None and self._faults.take_drop_streams():
            async with self._lock:
                self._drop_streams()

    async def set_balance(self, asset: str, amount: Decimal) -> None:
        async with self._lock:
            self._exchange.set_balance(asset, amount)

    def assets(self) -> list[str]:
        return self._exchange.assets

    # -------------------------------------------------------------- internals

    def _build_sources(
        self, config: PriceFeedConfig, seed: int
    ) -> tuple[dict[str, PriceSource], frozenset[str]]:
        walk = config if isinstance(config, RandomWalkConfig) else RandomWalkConfig()
        sources: dict[str, PriceSource] = {
            symbol: RandomWalk(market, self._start_prices[symbol], walk, seed=seed)
            for symbol, market in self._markets.items()
        }
        if not isinstance(config, ReplayConfig):
            return sources, frozenset()
        symbol = config.symbol or next(iter(self._markets))
        if symbol not in self._markets:
            raise ValueError(f"replay symbol {symbol} is not served (symbols: {list(self._markets)})")
        sources[symbol] = Replay(load_replay(config.path), self._markets[symbol], config)
        return sources, frozenset({symbol})

    def _check_symbol(self, symbol: str) -> None:
        if symbol not in self._markets:
            raise UnknownSymbol(symbol)

    def _require_started(self) -> None:
        if self._events is None or self._closed:
            raise VenueUnavailable("the sim venue is not running")

    async def _order_entry(self, operation: str, *, placement: bool) -> None:
        self._require_started()
        latency = self._faults.latency_s
        if latency > 0:
            await self._sleeper(latency)
        self._faults.check(operation, placement=placement)

    async def _on_print(self, symbol: str, item: Print) -> None:
        await self._trade(symbol, item.price, item.volume, None)

    async def _trade(
        self, symbol: str, price: Decimal, volume: Decimal, max_fill_quantity: Decimal | None
    ) -> list[SimEvent]:
        self._require_started()
        assert self._events is not None
        async with self._lock:
            now = self._clock()
            events = self._exchange.apply_trade(symbol, price, now, max_fill_quantity)
            self._push(events)
            for kline in self._klines.on_trade(symbol, price, volume, now, self._kline_interval):
                self._events.on_kline(kline)
        return events

    def _push(self, events: Iterable[SimEvent]) -> None:
        sink = self._events
        assert sink is not None
        for event in events:
            if isinstance(event, OrderInfo):
                sink.on_order(event)
            elif isinstance(event, FillInfo):
                sink.on_fill(event)
            else:
                sink.on_ticker(event)

    def _drop_streams(self) -> None:
        """Take every stream down, re-push the open orders and tickers, bring them back."""
        sink = self._events
        assert sink is not None
        for stream in STREAMS:
            sink.on_stream_state(stream, False, "sim fault: stream dropped")
        for order in self._exchange.open_orders():
            sink.on_order(order)
        for symbol in self._markets:
            sink.on_ticker(self._exchange.ticker(symbol))
        for stream in STREAMS:
            sink.on_stream_state(stream, True)


def _default_balances(
    markets: Mapping[str, MarketInfo], start_prices: Mapping[str, Decimal]
) -> dict[str, Decimal]:
    balances: dict[str, Decimal] = {}
    for symbol, market in markets.items():
        balances[market.quote] = DEFAULT_QUOTE_BALANCE
        if market.market_type is MarketType.SPOT:
            worth = round_down(DEFAULT_QUOTE_BALANCE / start_prices[symbol], market.step_size)
            balances[market.base] = balances.get(market.base, ZERO) + worth
    return balances
