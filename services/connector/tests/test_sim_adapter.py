"""SimVenue: the VenueAdapter over the matching core, pushing events to a sink."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path

import pytest

from opensqt_common.enums import MarketType, OrderStatus, OrderType, Side, TimeInForce, Venue
from opensqt_common.errors import InvalidArgument, UnknownSymbol
from opensqt_connector.models import (
    FillInfo,
    KlineInfo,
    KlineInterval,
    OrderInfo,
    OrderRequest,
    TickerInfo,
)
from opensqt_connector.sim import FaultConfig, RandomWalkConfig, ReplayConfig, SimVenue
from opensqt_connector.sim.adapter import STREAMS
from opensqt_connector.sim.markets import default_market
from opensqt_connector.venue import VenueAdapter
from opensqt_connector.venue_errors import (
    InvalidOrder,
    PostOnlyWouldCross,
    VenueRateLimited,
    VenueUnavailable,
)

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
SPOT = "BTC/USDT"
T0 = 1_700_000_000_000


@dataclass
class RecordingSink:
    events: list[object] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def on_ticker(self, ticker: TickerInfo) -> None:
        self._add(ticker)

    def on_order(self, order: OrderInfo) -> None:
        self._add(order)

    def on_fill(self, fill: FillInfo) -> None:
        self._add(fill)

    def on_kline(self, kline: KlineInfo) -> None:
        self._add(kline)

    def on_stream_state(self, stream: str, connected: bool, detail: str = "") -> None:
        self._add((stream, connected, detail))

    def _add(self, event: object) -> None:
        self.events.append(event)
        self.changed.set()

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, predicate: object, timeout: float = 5.0) -> None:
        async def loop() -> None:
            while not predicate():  # type: ignore[operator]
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(loop(), timeout)


@dataclass
class FakeTime:
    now: int = T0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)


def limit(
    cid: str, side: Side, quantity: str, price: str, *, symbol: str = BTC, post_only: bool = False
) -> OrderRequest:
    return OrderRequest(
        cid, symbol, side, OrderType.LIMIT, D(price), D(quantity), TimeInForce.GTC, post_only, False
    )


async def started(
    symbols: tuple[str, ...] = (BTC,), **kwargs: object
) -> tuple[SimVenue, RecordingSink, FakeTime]:
    time = FakeTime()
    venue = SimVenue(symbols, clock=time.clock, sleeper=time.sleep, feed_running=False, **kwargs)  # type: ignore[arg-type]
    sink = RecordingSink()
    await venue.start(sink, KlineInterval.M1)
    return venue, sink, time


def test_sim_venue_satisfies_the_adapter_protocol() -> None:
    adapter: VenueAdapter = SimVenue()
    assert adapter.venue is Venue.SIM


async def test_defaults_serve_a_btc_perpetual_with_venue_like_increments() -> None:
    venue, sink, _ = await started()
    market = venue.markets()[BTC]
    assert market.market_type is MarketType.LINEAR_PERPETUAL
    assert (market.tick_size, market.step_size, market.min_quantity, market.min_notional) == (
        D("0.1"),
        D("0.001"),
        D("0.001"),
        D(5),
    )
    assert (market.maker_fee, market.taker_fee, market.max_leverage) == (D("0.0002"), D("0.0005"), D(125))
    assert await venue.fetch_ticker(BTC) == TickerInfo(BTC, D(60000), D("59999.9"), D("60000.1"), T0)
    assert sink.of(TickerInfo) == [await venue.fetch_ticker(BTC)]
    assert [k.close for k in sink.of(KlineInfo)] == [D(60000)]
    balances = {b.asset: b.total for b in await venue.fetch_balances()}
    assert balances == {"BTC": D(0), "USDT": D(10000)}
    assert [p.quantity for p in await venue.fetch_positions(None)] == [D(0)]


async def test_spot_symbols_get_base_balance_worth_the_quote() -> None:
    venue, _, _ = await started((SPOT, ETH))
    balances = {b.asset: b.total for b in await venue.fetch_balances()}
    assert balances == {"BTC": D("0.166"), "ETH": D(0), "USDT": D(10000)}
    assert venue.markets()[SPOT].taker_fee == D("0.001")
    assert [p.symbol for p in await venue.fetch_positions(None)] == [ETH]
    assert await venue.fetch_positions(SPOT) == []


async def test_place_pushes_the_order_before_returning_and_a_print_fills_it() -> None:
    venue, sink, time = await started()
    sink.events.clear()
    info = await venue.place_order(limit("b1", Side.BUY, "0.01", "59990"))
    assert sink.events == [info]
    time.now += 1
    fills = await venue.set_price(BTC, D("59990"), D("2"), D("0.004"))
    assert fills == 1
    ticker, fill, update, kline = sink.events[1:]
    assert isinstance(ticker, TickerInfo)
    assert isinstance(fill, FillInfo)
    assert (fill.quantity, fill.maker, fill.time_ms) == (D("0.004"), True, T0 + 1)
    assert isinstance(update, OrderInfo)
    assert update.status is OrderStatus.PARTIALLY_FILLED
    assert isinstance(kline, KlineInfo)
    assert (kline.low, kline.volume) == (D("59990"), D(2))
    assert await venue.fetch_fills(BTC, T0) == [fill]
    assert await venue.fetch_order(BTC, client_order_id="b1") == update
    assert await venue.fetch_open_orders(None) == [update]
    position = (await venue.fetch_positions(BTC))[0]
    assert (position.quantity, position.entry_price) == (D("0.004"), D("59990"))


async def test_domain_errors_pass_through_unchanged() -> None:
    venue, _, _ = await started()
    with pytest.raises(PostOnlyWouldCross):
        await venue.place_order(limit("p", Side.BUY, "0.01", "60000.1", post_only=True))
    with pytest.raises(UnknownSymbol):
        await venue.fetch_ticker("DOGE/USDT:USDT")
    with pytest.raises(UnknownSymbol):
        await venue.fetch_klines("DOGE/USDT:USDT", KlineInterval.M1, 5)
    with pytest.raises(InvalidArgument, match="volume"):
        await venue.set_price(BTC, D(60000), D(-1))


async def test_cancel_and_cancel_all_by_side() -> None:
    venue, sink, _ = await started()
    await venue.place_order(limit("b1", Side.BUY, "0.01", "59000"))
    await venue.place_order(limit("b2", Side.BUY, "0.01", "59000"))
    await venue.place_order(limit("s1", Side.SELL, "0.01", "61000"))
    canceled = await venue.cancel_order(BTC, order_id="1")
    assert canceled.status is OrderStatus.CANCELED
    assert sink.events[-1] == canceled
    buys = await venue.cancel_all_orders(BTC, Side.BUY)
    assert [o.client_order_id for o in buys] == ["b2"]
    assert [o.client_order_id for o in await venue.fetch_open_orders(BTC)] == ["s1"]


async def test_leverage_and_klines() -> None:
    venue, sink, time = await started()
    assert await venue.set_leverage(BTC, D(20)) == D(20)
    assert (await venue.fetch_positions(BTC))[0].leverage == D(20)
    time.now += 60_000
    await venue.set_price(BTC, D(60100), D(3))
    klines = await venue.fetch_klines(BTC, KlineInterval.M1, 10)
    assert [(k.close, k.closed) for k in klines] == [(D(60000), True), (D(60100), False)]
    await venue.close_kline(BTC)
    assert sink.of(KlineInfo)[-2].closed
    assert (await venue.fetch_klines(BTC, KlineInterval.M1, 1))[0].volume == 0
    hourly = await venue.fetch_klines(BTC, KlineInterval.H1, 10)
    assert [k.volume for k in hourly] == [D(3)]


async def test_requests_before_start_are_unavailable() -> None:
    venue = SimVenue(feed_running=False)
    with pytest.raises(VenueUnavailable, match="not running"):
        await venue.place_order(limit("b", Side.BUY, "0.01", "59000"))
    sink = RecordingSink()
    await venue.start(sink, KlineInterval.M1)
    with pytest.raises(RuntimeError, match="already"):
        await venue.start(sink, KlineInterval.M1)
    await venue.close()
    with pytest.raises(VenueUnavailable):
        await venue.set_price(BTC, D(60000))


# ------------------------------------------------------------------ faults


async def test_latency_goes_through_the_sleeper_and_failures_are_venue_errors() -> None:
    venue, _, time = await started(faults=FaultConfig(latency_ms=5, fail_next=1))
    with pytest.raises(VenueUnavailable):
        await venue.place_order(limit("b", Side.BUY, "0.01", "59000"))
    assert time.sleeps == [0.005]
    info = await venue.place_order(limit("b", Side.BUY, "0.01", "59000"))  # the id was not consumed
    assert info.status is OrderStatus.NEW
    await venue.set_faults(FaultConfig(rate_limit_rate=D(1), retry_after_ms=30))
    with pytest.raises(VenueRateLimited) as limited:
        await venue.cancel_order(BTC, client_order_id="b")
    assert limited.value.retry_after == 0.03
    await venue.set_faults(FaultConfig(reject_rate=D(1)))
    with pytest.raises(InvalidOrder, match="sim fault"):
        await venue.place_order(limit("c", Side.BUY, "0.01", "59000"))
    assert (await venue.cancel_order(BTC, client_order_id="b")).status is OrderStatus.CANCELED
    assert venue.faults == FaultConfig(reject_rate=D(1))
    # Reads are never faulted.
    assert await venue.fetch_open_orders(BTC) == []


async def test_drop_streams_goes_down_resyncs_open_orders_and_comes_back() -> None:
    venue, sink, _ = await started()
    resting = await venue.place_order(limit("b", Side.BUY, "0.01", "59000"))
    sink.events.clear()
    await venue.set_faults(FaultConfig(drop_streams=True))
    down = [(s, False, "sim fault: stream dropped") for s in STREAMS]
    up = [(s, True, "") for s in STREAMS]
    assert sink.events == [*down, resting, await venue.fetch_ticker(BTC), *up]
    sink.events.clear()
    await venue.set_faults(FaultConfig())
    assert sink.events == []


async def test_drop_streams_configured_at_start_fires_once_after_start() -> None:
    _, sink, _ = await started(faults=FaultConfig(drop_streams=True))
    states = [e for e in sink.events if isinstance(e, tuple)]
    assert [c for _, c, _ in states] == [True] * 4 + [False] * 4 + [True] * 4  # up at start, then the drop


# -------------------------------------------------------------- price feed


async def _walk_tickers(seed: int) -> list[TickerInfo]:
    venue, sink, _ = await started(seed=seed, price_feed=RandomWalkConfig(volatility=D("0.001")))
    await venue.set_price_feed(True)
    assert venue.price_feed_running()
    await sink.wait_for(lambda: len(sink.of(TickerInfo)) >= 20)
    await venue.set_price_feed(False)
    assert not venue.price_feed_running()
    await venue.close()
    return sink.of(TickerInfo)[:20]


async def test_the_random_walk_is_deterministic_for_a_seed() -> None:
    first = await _walk_tickers(11)
    assert first == await _walk_tickers(11)
    assert first != await _walk_tickers(12)
    assert len({t.last for t in first}) > 5


async def test_a_replay_drives_its_symbol_and_klines(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    path.write_text(f"timestamp,price,volume\n{T0},61000,1\n{T0 + 1000},61010.04,2\n{T0 + 2000},60990,3\n")
    venue, sink, time = await started(
        (BTC, ETH), price_feed=ReplayConfig(path, speed=D(10)), start_prices={ETH: D(2000)}
    )
    assert (await venue.fetch_ticker(BTC)).last == D(61000)  # the first row, at start
    assert (await venue.fetch_ticker(ETH)).last == D(2000)
    await venue.place_order(limit("b", Side.BUY, "0.01", "60995"))
    await venue.set_price_feed(True)
    await sink.wait_for(lambda: any(t.symbol == BTC and t.last == D(60990) for t in sink.of(TickerInfo)))
    await venue.close()
    assert [t.last for t in sink.of(TickerInfo) if t.symbol == BTC] == [D(61000), D("61010.0"), D(60990)]
    assert [f.client_order_id for f in sink.of(FillInfo)] == ["b"]
    assert 0.1 in time.sleeps  # one second of file time at speed 10
    btc_klines = [k for k in sink.of(KlineInfo) if k.symbol == BTC]
    assert (btc_klines[-1].volume, btc_klines[-1].high, btc_klines[-1].low) == (D(6), D("61010.0"), D(60990))


def test_bad_constructor_arguments_fail_early(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        SimVenue([BTC, BTC])
    with pytest.raises(ValueError, match="BASE/QUOTE"):
        SimVenue(["BTCUSDT"])
    with pytest.raises(ValueError, match="not served"):
        SimVenue([BTC], price_feed=ReplayConfig(tmp_path / "x.csv", symbol=ETH))
    with pytest.raises(ValueError, match="no such file"):
        SimVenue([BTC], price_feed=ReplayConfig(tmp_path / "x.csv"))
    with pytest.raises(ValueError, match="not served"):
        SimVenue([BTC], markets={ETH: default_market(ETH)})
