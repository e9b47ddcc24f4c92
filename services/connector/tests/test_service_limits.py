"""The order-entry token bucket shared by PlaceOrder and SubmitOrders, and the
order-entry metrics."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt_common.errors import error_info
from opensqt_connector.testing import SYMBOL, limit_order, running_connector


def _points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


async def test_an_empty_bucket_refuses_new_orders_on_both_entries_but_not_repeats_or_cancels() -> None:
    reader = InMemoryMetricReader()
    flags = ("--order-rate", "1", "--order-burst", "3", "--order-queue-ms", "0")
    async with running_connector(*flags, meter_provider=MeterProvider(metric_readers=[reader])) as client:
        for cid in ("lim-a", "lim-b"):
            await client.exchange.PlaceOrder(limit_order(cid, "buy", "59000", "0.001"))
        stream = client.exchange.SubmitOrders()
        await stream.write(pb.SubmitOrdersRequest(place=limit_order("lim-c", "buy", "59000", "0.001")))
        first = await stream.read()
        assert isinstance(first, pb.SubmitOrdersResponse)
        assert first.WhichOneof("result") == "order"

        with pytest.raises(grpc.aio.AioRpcError) as limited:
            await client.exchange.PlaceOrder(limit_order("lim-d", "buy", "59000", "0.001"))
        assert limited.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        info = error_info(limited.value)
        assert info is not None
        assert info.reason == "RATE_LIMITED"
        assert info.metadata["retry_after_ms"] == "1000"

        await stream.write(pb.SubmitOrdersRequest(place=limit_order("lim-e", "buy", "59000", "0.001")))
        refused = await stream.read()
        assert isinstance(refused, pb.SubmitOrdersResponse)
        assert refused.error.reason == common_pb2.ERROR_REASON_RATE_LIMITED
        assert refused.error.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]

        # A repeat of a known order costs no token, and cancels are never throttled.
        again = await client.exchange.PlaceOrder(limit_order("lim-a", "buy", "59000", "0.001"))
        assert again.existing
        await stream.write(
            pb.SubmitOrdersRequest(cancel=pb.CancelOrderRequest(symbol=SYMBOL, client_order_id="lim-b"))
        )
        canceled = await stream.read()
        assert isinstance(canceled, pb.SubmitOrdersResponse)
        assert canceled.order.status == common_pb2.ORDER_STATUS_CANCELED
        await stream.done_writing()
        cancel_all = await client.exchange.CancelAllOrders(pb.CancelAllOrdersRequest())
        assert sorted(o.client_order_id for o in cancel_all.orders) == ["lim-a", "lim-c"]

        orders = {
            (str(p.attributes["result"]), str(p.attributes["reason"])): p.value
            for p in _points(reader, "opensqt.connector.orders")
            if isinstance(p, NumberDataPoint) and p.attributes
        }
        assert orders == {("accepted", "NONE"): 3, ("error", "RATE_LIMITED"): 2}
        latency = {
            (str(p.attributes["entry"]), str(p.attributes["result"])): p.count
            for p in _points(reader, "opensqt.connector.order_entry_latency")
            if isinstance(p, HistogramDataPoint) and p.attributes
        }
        # The repeat of lim-a was answered from what the connector knew: neither counted nor timed.
        assert latency == {
            ("unary", "accepted"): 2,
            ("stream", "accepted"): 1,
            ("unary", "error"): 1,
            ("stream", "error"): 1,
        }


async def test_a_short_queue_absorbs_a_burst_above_the_bucket() -> None:
    flags = ("--order-rate", "50", "--order-burst", "1", "--order-queue-ms", "2000")
    async with running_connector(*flags) as client:
        stream = client.exchange.SubmitOrders()
        for i in range(4):
            await stream.write(pb.SubmitOrdersRequest(place=limit_order(f"q-{i}", "buy", "59000", "0.001")))
        await stream.done_writing()
        answers = [answer async for answer in stream]
        assert [a.WhichOneof("result") for a in answers] == ["order"] * 4
