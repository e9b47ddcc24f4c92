"""Order entry through the real connector on `sim` over real gRPC: placement,
idempotency, cancels, fills on the streams, venue refusals."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import grpc
import pytest

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt_common.errors import error_info
from opensqt_connector.testing import (
    SYMBOL,
    StreamCollector,
    dec,
    limit_order,
    market_order,
    running_connector,
)

NEW = common_pb2.ORDER_STATUS_NEW
PARTIAL = common_pb2.ORDER_STATUS_PARTIALLY_FILLED
FILLED = common_pb2.ORDER_STATUS_FILLED
CANCELED = common_pb2.ORDER_STATUS_CANCELED


async def test_place_get_list_cancel_round_trip() -> None:
    async with running_connector() as client:
        placed = await client.exchange.PlaceOrder(limit_order("rt-1", "buy", "59000", "0.002"))
        assert not placed.existing
        order = placed.order
        assert (order.client_order_id, order.symbol, order.status) == ("rt-1", SYMBOL, NEW)
        assert order.side == common_pb2.SIDE_BUY
        assert order.type == common_pb2.ORDER_TYPE_LIMIT
        assert order.time_in_force == common_pb2.TIME_IN_FORCE_GTC
        assert (order.price.value, order.quantity.value, order.filled_quantity.value) == (
            "59000",
            "0.002",
            "0",
        )
        assert order.order_id

        by_client_id = await client.exchange.GetOrder(
            pb.GetOrderRequest(symbol=SYMBOL, client_order_id="rt-1")
        )
        by_venue_id = await client.exchange.GetOrder(
            pb.GetOrderRequest(symbol=SYMBOL, order_id=order.order_id)
        )
        assert by_client_id.order.order_id == by_venue_id.order.order_id == order.order_id

        listed = await client.exchange.ListOpenOrders(pb.ListOpenOrdersRequest())
        assert [o.client_order_id for o in listed.orders] == ["rt-1"]

        canceled = await client.exchange.CancelOrder(
            pb.CancelOrderRequest(symbol=SYMBOL, client_order_id="rt-1")
        )
        assert canceled.order.status == CANCELED
        listed = await client.exchange.ListOpenOrders(pb.ListOpenOrdersRequest(symbol=SYMBOL))
        assert list(listed.orders) == []

        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await client.exchange.CancelOrder(pb.CancelOrderRequest(symbol=SYMBOL, client_order_id="nope"))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        info = error_info(missing.value)
        assert info is not None
        assert info.reason == "ORDER_NOT_FOUND"


async def test_place_order_is_idempotent_by_client_order_id() -> None:
    async with running_connector() as client:
        first = await client.exchange.PlaceOrder(limit_order("idem-1", "buy", "59000", "0.001"))
        again = await client.exchange.PlaceOrder(limit_order("idem-1", "buy", "59000", "0.001"))
        assert not first.existing
        assert again.existing
        assert again.order.order_id == first.order.order_id

        # Still the same order after it changed state, and still only one at the venue.
        await client.exchange.CancelOrder(pb.CancelOrderRequest(symbol=SYMBOL, client_order_id="idem-1"))
        after_cancel = await client.exchange.PlaceOrder(limit_order("idem-1", "buy", "59000", "0.001"))
        assert after_cancel.existing
        assert after_cancel.order.order_id == first.order.order_id
        assert after_cancel.order.status == CANCELED
        listed = await client.exchange.ListOpenOrders(pb.ListOpenOrdersRequest())
        assert list(listed.orders) == []


async def test_concurrent_duplicates_yield_one_order() -> None:
    # Latency makes the venue call slow, so all duplicates arrive while the first is in flight.
    async with running_connector("--sim-faults", "latency_ms=30") as client:
        calls = [client.exchange.PlaceOrder(limit_order("dup-1", "buy", "59000", "0.001")) for _ in range(8)]
        stream = client.exchange.SubmitOrders()
        for _ in range(4):
            await stream.write(pb.SubmitOrdersRequest(place=limit_order("dup-1", "buy", "59000", "0.001")))
        await stream.done_writing()
        unary = await asyncio.gather(*calls)
        streamed = [answer async for answer in stream]

        order_ids = {r.order.order_id for r in unary} | {a.order.order_id for a in streamed}
        assert len(order_ids) == 1
        assert sum(not r.existing for r in unary) + sum(not a.existing for a in streamed) == 1
        listed = await client.exchange.ListOpenOrders(pb.ListOpenOrdersRequest())
        assert [o.client_order_id for o in listed.orders] == ["dup-1"]


async def test_partial_fills_reach_both_streams_exactly_once() -> None:
    async with running_connector() as client:
        updates = StreamCollector(client.exchange.StreamOrderUpdates(pb.StreamOrderUpdatesRequest()))
        fills = StreamCollector(client.exchange.StreamFills(pb.StreamFillsRequest(symbol=SYMBOL)))
        await updates.wait_for(
            lambda items: any(i.HasField("snapshot_end") for i in items), what="snapshot end"
        )
        await client.exchange.PlaceOrder(limit_order("pf-1", "buy", "59000", "0.003"))

        assert await client.set_price("59000", max_fill_quantity="0.001") == 1
        assert await client.set_price("59000", max_fill_quantity="0.001") == 1
        assert await client.set_price("59000") == 1
        # A sentinel after the fills: anything duplicated would arrive before it.
        await client.exchange.PlaceOrder(limit_order("sentinel", "buy", "50000", "0.001"))
        await updates.wait_for(lambda items: any(i.update.client_order_id == "sentinel" for i in items))
        await client.set_price("50000")
        await fills.wait_for(lambda items: any(i.fill.client_order_id == "sentinel" for i in items))

        pf_updates = [i.update for i in updates.items if i.update.client_order_id == "pf-1"]
        assert [(u.status, u.filled_quantity.value) for u in pf_updates] == [
            (NEW, "0"),
            (PARTIAL, "0.001"),
            (PARTIAL, "0.002"),
            (FILLED, "0.003"),
        ]
        pf_fills = [i.fill for i in fills.items if i.fill.client_order_id == "pf-1"]
        assert [f.quantity.value for f in pf_fills] == ["0.001", "0.001", "0.001"]
        assert len({f.trade_id for f in pf_fills}) == 3
        assert all(f.price.value == "59000" and f.maker for f in pf_fills)
        for collected in (updates.items, fills.items):
            assert [i.sequence for i in collected] == list(range(1, len(collected) + 1))
        assert not any(i.replayed for i in fills.items)
        await updates.close()
        await fills.close()


async def test_post_only_that_would_cross_is_refused() -> None:
    async with running_connector() as client:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await client.exchange.PlaceOrder(limit_order("po-1", "buy", "60100", "0.001", post_only=True))
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        info = error_info(refused.value)
        assert info is not None
        assert info.reason == "POST_ONLY_WOULD_CROSS"
        # The refusal left nothing behind, and a resting post-only order is fine.
        resting = await client.exchange.PlaceOrder(
            limit_order("po-2", "buy", "59000", "0.001", post_only=True)
        )
        assert resting.order.post_only
        assert resting.order.status == NEW


async def test_reduce_only_without_a_position_is_refused() -> None:
    async with running_connector() as client:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await client.exchange.PlaceOrder(limit_order("ro-1", "sell", "61000", "0.001", reduce_only=True))
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        info = error_info(refused.value)
        assert info is not None
        assert info.reason == "REDUCE_ONLY_REJECTED"

        # With a long position a reduce-only sell is accepted.
        bought = await client.exchange.PlaceOrder(market_order("ro-buy", "buy", "0.002"))
        assert bought.order.status == FILLED
        positions = await client.exchange.GetPositions(pb.GetPositionsRequest(symbol=SYMBOL))
        assert [p.quantity.value for p in positions.positions] == ["0.002"]
        closing = await client.exchange.PlaceOrder(
            limit_order("ro-2", "sell", "61000", "0.002", reduce_only=True)
        )
        assert closing.order.reduce_only
        assert closing.order.status == NEW


async def test_cancel_all_orders_and_by_side() -> None:
    async with running_connector() as client:
        await client.exchange.PlaceOrder(market_order("ca-long", "buy", "0.003"))
        for i in range(3):
            await client.exchange.PlaceOrder(limit_order(f"ca-b{i}", "buy", f"5900{i}", "0.001"))
        for i in range(2):
            await client.exchange.PlaceOrder(limit_order(f"ca-s{i}", "sell", f"6100{i}", "0.001"))

        buys = await client.exchange.CancelAllOrders(
            pb.CancelAllOrdersRequest(symbol=SYMBOL, side=common_pb2.SIDE_BUY)
        )
        assert sorted(o.client_order_id for o in buys.orders) == ["ca-b0", "ca-b1", "ca-b2"]
        assert all(o.status == CANCELED for o in buys.orders)
        listed = await client.exchange.ListOpenOrders(pb.ListOpenOrdersRequest())
        assert sorted(o.client_order_id for o in listed.orders) == ["ca-s0", "ca-s1"]

        everything = await client.exchange.CancelAllOrders(pb.CancelAllOrdersRequest())
        assert sorted(o.client_order_id for o in everything.orders) == ["ca-s0", "ca-s1"]
        listed = await client.exchange.ListOpenOrders(pb.ListOpenOrdersRequest())
        assert list(listed.orders) == []


async def test_submit_orders_answers_in_order_and_survives_failures() -> None:
    async with running_connector() as client:
        stream = client.exchange.SubmitOrders()
        requests = [
            pb.SubmitOrdersRequest(place=limit_order("so-1", "buy", "59000", "0.001")),
            pb.SubmitOrdersRequest(place=limit_order("so-2", "buy", "59000.05", "0.001")),  # off tick
            pb.SubmitOrdersRequest(place=limit_order("so-3", "buy", "60100", "0.001", post_only=True)),
            pb.SubmitOrdersRequest(place=limit_order("so-1", "buy", "59000", "0.001")),  # duplicate
            pb.SubmitOrdersRequest(cancel=pb.CancelOrderRequest(symbol=SYMBOL, client_order_id="so-1")),
            pb.SubmitOrdersRequest(),  # no action
            pb.SubmitOrdersRequest(place=limit_order("so-4", "sell", "61000", "0.001")),
        ]
        for request in requests:
            await stream.write(request)
        await stream.done_writing()
        answers = [answer async for answer in stream]

        assert [a.client_order_id for a in answers] == ["so-1", "so-2", "so-3", "so-1", "so-1", "", "so-4"]
        assert [a.WhichOneof("result") for a in answers] == [
            "order",
            "error",
            "error",
            "order",
            "order",
            "error",
            "order",
        ]
        assert answers[1].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        assert answers[1].error.reason == common_pb2.ERROR_REASON_INVALID_ARGUMENT
        assert "place.price" in answers[1].error.message
        assert answers[2].error.reason == common_pb2.ERROR_REASON_POST_ONLY_WOULD_CROSS
        assert answers[2].error.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
        assert answers[3].existing
        assert answers[3].order.order_id == answers[0].order.order_id
        assert answers[4].order.status == CANCELED
        assert answers[5].error.reason == common_pb2.ERROR_REASON_INVALID_ARGUMENT
        assert answers[6].order.status == NEW
        assert not answers[6].existing


async def test_market_order_fills_at_the_touch_and_moves_balances() -> None:
    async with running_connector() as client:
        before = await client.exchange.GetBalances(pb.GetBalancesRequest())
        usdt_before = {b.asset: Decimal(b.free.value) for b in before.balances}["USDT"]
        bought = await client.exchange.PlaceOrder(market_order("mk-1", "buy", "0.01"))
        assert bought.order.status == FILLED
        assert bought.order.type == common_pb2.ORDER_TYPE_MARKET
        assert bought.order.time_in_force == common_pb2.TIME_IN_FORCE_IOC
        assert not bought.order.HasField("price")
        assert Decimal(bought.order.average_fill_price.value) == Decimal("60000.1")
        after = await client.exchange.GetBalances(pb.GetBalancesRequest())
        usdt_after = {b.asset: Decimal(b.free.value) for b in after.balances}["USDT"]
        assert usdt_after < usdt_before

        leverage = await client.exchange.SetLeverage(pb.SetLeverageRequest(symbol=SYMBOL, leverage=dec("5")))
        assert leverage.leverage.value == "5"
        positions = await client.exchange.GetPositions(pb.GetPositionsRequest())
        (position,) = positions.positions
        assert (position.symbol, position.quantity.value, position.leverage.value) == (SYMBOL, "0.01", "5")
        assert Decimal(position.entry_price.value) == Decimal("60000.1")
