"""Server streams of the real connector on `sim`: snapshots, reconnects, replay, market data."""

from __future__ import annotations

import grpc
import pytest

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt.exchange.v1 import types_pb2
from opensqt.sim.v1 import sim_service_pb2
from opensqt_common.errors import error_info
from opensqt_connector.testing import SYMBOL, StreamCollector, limit_order, running_connector


def _snapshot_done(items: list[pb.StreamOrderUpdatesResponse]) -> bool:
    return any(i.HasField("snapshot_end") for i in items)


async def test_reconnecting_client_gets_open_orders_then_snapshot_end() -> None:
    async with running_connector() as client:
        for cid, price in (("snap-1", "59000"), ("snap-2", "58000"), ("snap-3", "57000")):
            await client.exchange.PlaceOrder(limit_order(cid, "buy", price, "0.001"))
        first = StreamCollector(client.exchange.StreamOrderUpdates(pb.StreamOrderUpdatesRequest()))
        items = await first.wait_for(_snapshot_done, what="snapshot end")
        assert sorted(i.snapshot_order.client_order_id for i in items[:-1]) == ["snap-1", "snap-2", "snap-3"]
        await first.close()

        # While the client is away: one order is cancelled, one fills, one is added.
        await client.exchange.CancelOrder(pb.CancelOrderRequest(symbol=SYMBOL, client_order_id="snap-2"))
        await client.set_price("59000")
        await client.exchange.PlaceOrder(limit_order("snap-4", "sell", "61000", "0.001"))

        again = StreamCollector(
            client.exchange.StreamOrderUpdates(pb.StreamOrderUpdatesRequest(symbol=SYMBOL))
        )
        items = await again.wait_for(_snapshot_done, what="snapshot end")
        *snapshot, end = items
        assert all(i.WhichOneof("event") == "snapshot_order" for i in snapshot)
        assert sorted(i.snapshot_order.client_order_id for i in snapshot) == ["snap-3", "snap-4"]
        assert end.snapshot_end.count == 2
        assert [i.sequence for i in items] == [1, 2, 3]

        await client.exchange.CancelOrder(pb.CancelOrderRequest(symbol=SYMBOL, client_order_id="snap-3"))
        items = await again.wait_for(lambda got: len(got) == 4, what="live update")
        assert items[3].update.client_order_id == "snap-3"
        assert items[3].update.status == common_pb2.ORDER_STATUS_CANCELED
        assert items[3].sequence == 4
        await again.close()


async def test_dropped_venue_streams_end_client_streams_and_resubscribing_resyncs() -> None:
    async with running_connector() as client:
        await client.exchange.PlaceOrder(limit_order("drop-1", "buy", "59000", "0.001"))
        updates = StreamCollector(client.exchange.StreamOrderUpdates(pb.StreamOrderUpdatesRequest()))
        prices = StreamCollector(client.exchange.StreamPrices(pb.StreamPricesRequest()))
        await updates.wait_for(_snapshot_done)
        await prices.wait_for(lambda items: len(items) >= 1)

        await client.sim.SetFaults(
            sim_service_pb2.SetFaultsRequest(faults=sim_service_pb2.Faults(drop_streams=True))
        )
        for stream in (updates, prices):
            error = await stream.wait_ended()
            assert error is not None
            assert error.code() == grpc.StatusCode.UNAVAILABLE
            info = error_info(error)
            assert info is not None
            assert info.reason == "VENUE_UNAVAILABLE"

        resubscribed = StreamCollector(client.exchange.StreamOrderUpdates(pb.StreamOrderUpdatesRequest()))
        items = await resubscribed.wait_for(_snapshot_done)
        assert [i.snapshot_order.client_order_id for i in items[:-1]] == ["drop-1"]
        await client.exchange.CancelOrder(pb.CancelOrderRequest(symbol=SYMBOL, client_order_id="drop-1"))
        items = await resubscribed.wait_for(lambda got: len(got) == 3)
        assert items[2].update.status == common_pb2.ORDER_STATUS_CANCELED
        await resubscribed.close()


async def test_fill_stream_replays_held_fills_since_a_time_then_goes_live() -> None:
    async with running_connector() as client:
        live = StreamCollector(client.exchange.StreamFills(pb.StreamFillsRequest()))
        for i in range(3):
            await client.exchange.PlaceOrder(limit_order(f"rp-{i}", "buy", f"5900{i}", "0.001"))
        await client.set_price("59000")
        first_three = await live.wait_for(lambda items: len(items) == 3)
        times = sorted(i.fill.time.ToMilliseconds() for i in first_three)
        await live.close()

        nothing = StreamCollector(client.exchange.StreamFills(pb.StreamFillsRequest(since_unix_ms=0)))
        replay = StreamCollector(client.exchange.StreamFills(pb.StreamFillsRequest(since_unix_ms=times[0])))
        items = await replay.wait_for(lambda got: len(got) == 3, what="replay")
        assert all(i.replayed for i in items)
        assert {i.fill.client_order_id for i in items} == {"rp-0", "rp-1", "rp-2"}
        assert len({i.fill.trade_id for i in items}) == 3

        await client.exchange.PlaceOrder(limit_order("rp-live", "sell", "58000", "0.001"))
        items = await replay.wait_for(lambda got: len(got) == 4, what="live fill")
        assert items[3].fill.client_order_id == "rp-live"
        assert not items[3].replayed
        assert [i.sequence for i in items] == [1, 2, 3, 4]
        got = await nothing.wait_for(lambda got: len(got) == 1)
        assert got[0].fill.client_order_id == "rp-live"
        assert got[0].sequence == 1
        await replay.close()
        await nothing.close()


@pytest.mark.parametrize("latency_sensitive", [False, True], ids=["default", "latency-sensitive"])
async def test_price_and_kline_streams_follow_the_sim(latency_sensitive: bool) -> None:
    async with running_connector() as client:
        prices = StreamCollector(
            client.exchange.StreamPrices(
                pb.StreamPricesRequest(symbols=[SYMBOL], latency_sensitive=latency_sensitive)
            )
        )
        latest = await prices.wait_for(lambda items: len(items) >= 1, what="latest ticker")
        assert latest[0].ticker.symbol == SYMBOL
        assert latest[0].sequence == 1

        klines = StreamCollector(
            client.exchange.StreamKlines(
                pb.StreamKlinesRequest(symbols=[SYMBOL], interval=types_pb2.KLINE_INTERVAL_1M)
            )
        )
        await klines.wait_for(lambda items: len(items) >= 1, what="current kline")
        await client.set_price("60500", volume="2")
        await client.set_price("60400", volume="1")
        await client.sim.CloseKline(sim_service_pb2.CloseKlineRequest(symbol=SYMBOL))

        ticks = await prices.wait_for(lambda items: items[-1].ticker.last.value == "60400", what="last 60400")
        assert [i.sequence for i in ticks] == list(range(1, len(ticks) + 1))
        assert ticks[-1].ticker.bid.value == "60399.9"
        assert ticks[-1].ticker.ask.value == "60400.1"
        bars = await klines.wait_for(lambda items: any(i.kline.closed for i in items), what="closed kline")
        closed = next(i.kline for i in bars if i.kline.closed)
        assert closed.interval == types_pb2.KLINE_INTERVAL_1M
        assert (closed.high.value, closed.close.value, closed.volume.value) == ("60500", "60400", "3")

        ticker = await client.exchange.GetTicker(pb.GetTickerRequest(symbol=SYMBOL))
        assert ticker.ticker.last.value == "60400"
        history = await client.exchange.GetKlines(
            pb.GetKlinesRequest(symbol=SYMBOL, interval=types_pb2.KLINE_INTERVAL_1M, limit=5)
        )
        assert any(k.closed and k.close.value == "60400" for k in history.klines)

        wrong = client.exchange.StreamKlines(
            pb.StreamKlinesRequest(symbols=[SYMBOL], interval=types_pb2.KLINE_INTERVAL_1H)
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await wrong.read()
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        await prices.close()
        await klines.close()
