"""gRPC servicer of opensqt.sim.v1.SimControlService over a SimVenue.

Served by the connector only with `--exchange sim`; tests and end-to-end runs use it to
script price paths, close klines, stop the random walk, inject faults and set balances.
Each handler validates its request (INVALID_ARGUMENT with the field named) and delegates
to the venue in a few lines.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import grpc

from opensqt.sim.v1 import sim_service_pb2, sim_service_pb2_grpc
from opensqt_common.decimals import ZERO, format_decimal
from opensqt_common.errors import InvalidArgument, grpc_errors
from opensqt_common.validation import decimal_field, symbol_field, text_field
from opensqt_connector.sim.adapter import SimVenue
from opensqt_connector.sim.faults import FaultConfig, FaultSpecError

sim_control_service_name: str = sim_service_pb2.DESCRIPTOR.services_by_name["SimControlService"].full_name

Context = grpc.aio.ServicerContext[Any, Any]


class SimControlServicer(sim_service_pb2_grpc.SimControlServiceServicer):
    def __init__(self, venue: SimVenue) -> None:
        self._venue = venue

    @grpc_errors
    async def SetPrice(
        self, request: sim_service_pb2.SetPriceRequest, context: Context
    ) -> sim_service_pb2.SetPriceResponse:
        symbol = symbol_field(request.symbol, self._venue.markets())
        price = decimal_field(request, "price")
        volume = decimal_field(request, "volume", required=False, allow_zero=True)
        max_fill = decimal_field(request, "max_fill_quantity", required=False)
        assert price is not None
        fills = await self._venue.set_price(symbol, price, volume or ZERO, max_fill)
        return sim_service_pb2.SetPriceResponse(fills=fills)

    @grpc_errors
    async def CloseKline(
        self, request: sim_service_pb2.CloseKlineRequest, context: Context
    ) -> sim_service_pb2.CloseKlineResponse:
        await self._venue.close_kline(symbol_field(request.symbol, self._venue.markets()))
        return sim_service_pb2.CloseKlineResponse()

    @grpc_errors
    async def SetPriceFeed(
        self, request: sim_service_pb2.SetPriceFeedRequest, context: Context
    ) -> sim_service_pb2.SetPriceFeedResponse:
        await self._venue.set_price_feed(request.running)
        return sim_service_pb2.SetPriceFeedResponse()

    @grpc_errors
    async def SetFaults(
        self, request: sim_service_pb2.SetFaultsRequest, context: Context
    ) -> sim_service_pb2.SetFaultsResponse:
        if not request.HasField("faults"):
            raise InvalidArgument("faults", "is required")
        await self._venue.set_faults(faults_from_proto(request.faults))
        return sim_service_pb2.SetFaultsResponse()

    @grpc_errors
    async def SetBalance(
        self, request: sim_service_pb2.SetBalanceRequest, context: Context
    ) -> sim_service_pb2.SetBalanceResponse:
        asset = text_field(request.asset, "asset", max_length=32)
        if asset not in self._venue.assets():
            raise InvalidArgument(
                "asset", f"unknown asset {asset!r} (the sim holds {', '.join(self._venue.assets())})"
            )
        amount = decimal_field(request, "amount", allow_zero=True)
        assert amount is not None
        await self._venue.set_balance(asset, amount)
        return sim_service_pb2.SetBalanceResponse()


def faults_from_proto(message: sim_service_pb2.Faults) -> FaultConfig:
    try:
        return FaultConfig(
            latency_ms=message.latency_ms,
            unavailable_rate=_rate(message, "unavailable_rate"),
            rate_limit_rate=_rate(message, "rate_limit_rate"),
            reject_rate=_rate(message, "reject_rate"),
            fail_next=message.fail_next,
            drop_streams=message.drop_streams,
        )
    except FaultSpecError as exc:
        raise InvalidArgument("faults", str(exc)) from None


def _rate(message: sim_service_pb2.Faults, name: str) -> Decimal:
    field = f"faults.{name}"
    rate = decimal_field(message, name, required=False, allow_zero=True, path="faults.")
    if rate is None:
        return ZERO
    if rate > 1:
        raise InvalidArgument(field, f"must be a fraction from 0 to 1 (got {format_decimal(rate)!r})")
    return rate


def add_sim_control(server: grpc.aio.Server, venue: SimVenue) -> SimControlServicer:
    """Register the SimControl servicer for `venue` on `server` (add the name to reflection
    with `sim_control_service_name`)."""
    servicer = SimControlServicer(venue)
    sim_service_pb2_grpc.add_SimControlServiceServicer_to_server(servicer, server)
    return servicer
