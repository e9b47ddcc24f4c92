"""Unary calls to the connector and risk, off the hot path (start-up, lookups, reconciliation,
shutdown), each with a deadline. Failures become `GatewayError`; "no such order" is None."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

import grpc

from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt.exchange.v1 import exchange_service_pb2_grpc, types_pb2
from opensqt.risk.v1 import risk_service_pb2 as risk_pb
from opensqt.risk.v1 import risk_service_pb2_grpc
from opensqt.risk.v1 import types_pb2 as risk_types
from opensqt_common.errors import error_info
from opensqt_engine.runtime.convert import dec, parse

if TYPE_CHECKING:
    from opensqt.exchange.v1.exchange_service_pb2_grpc import ExchangeServiceAsyncStub
    from opensqt.risk.v1.risk_service_pb2_grpc import RiskServiceAsyncStub

ZERO = Decimal(0)


class GatewayError(RuntimeError):
    """A unary call failed (unreachable, deadline, or an error status)."""

    def __init__(self, what: str, error: grpc.aio.AioRpcError) -> None:
        info = error_info(error)
        reason = f" [{info.reason}]" if info is not None else ""
        super().__init__(f"{what}: {error.code().name}{reason}: {error.details() or ''}".rstrip(": "))
        self.code = error.code()
        self.reason = info.reason if info is not None else ""

    @property
    def unreachable(self) -> bool:
        return self.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def _not_found(error: grpc.aio.AioRpcError) -> bool:
    return error.code() == grpc.StatusCode.NOT_FOUND


class ConnectorGateway:
    def __init__(self, channel: grpc.aio.Channel, symbol: str, *, timeout_s: float) -> None:
        self._stub: ExchangeServiceAsyncStub = exchange_service_pb2_grpc.ExchangeServiceStub(channel)
        self.symbol = symbol
        self._timeout = timeout_s

    async def market(self) -> types_pb2.Market:
        try:
            response = await self._stub.GetMarket(
                pb.GetMarketRequest(symbol=self.symbol), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise GatewayError(f"GetMarket {self.symbol}", exc) from None
        return response.market

    async def order(self, client_order_id: str) -> types_pb2.Order | None:
        request = pb.GetOrderRequest(symbol=self.symbol, client_order_id=client_order_id)
        try:
            response = await self._stub.GetOrder(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if _not_found(exc):
                return None
            raise GatewayError(f"GetOrder {client_order_id}", exc) from None
        return response.order

    async def open_orders(self) -> Sequence[types_pb2.Order]:
        try:
            response = await self._stub.ListOpenOrders(
                pb.ListOpenOrdersRequest(symbol=self.symbol), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise GatewayError(f"ListOpenOrders {self.symbol}", exc) from None
        return list(response.orders)

    async def position(self) -> Decimal:
        """The signed position of the symbol in base units (0 when the venue reports none)."""
        try:
            response = await self._stub.GetPositions(
                pb.GetPositionsRequest(symbol=self.symbol), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise GatewayError(f"GetPositions {self.symbol}", exc) from None
        total = ZERO
        for position in response.positions:
            if position.symbol == self.symbol:
                total += parse(position.quantity)
        return total

    async def cancel(self, client_order_id: str) -> types_pb2.Order | None:
        request = pb.CancelOrderRequest(symbol=self.symbol, client_order_id=client_order_id)
        try:
            response = await self._stub.CancelOrder(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if _not_found(exc):
                return None
            raise GatewayError(f"CancelOrder {client_order_id}", exc) from None
        return response.order


class RiskGateway:
    def __init__(self, channel: grpc.aio.Channel, *, timeout_s: float) -> None:
        self._stub: RiskServiceAsyncStub = risk_service_pb2_grpc.RiskServiceStub(channel)
        self._timeout = timeout_s

    async def check_startup(
        self, symbol: str, order_amount: Decimal, price_interval: Decimal
    ) -> risk_pb.CheckStartupResponse:
        request = risk_pb.CheckStartupRequest(
            symbol=symbol, order_amount=dec(order_amount), price_interval=dec(price_interval)
        )
        try:
            return await self._stub.CheckStartup(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise GatewayError("CheckStartup", exc) from None


def describe_checks(response: risk_pb.CheckStartupResponse) -> list[str]:
    """One line per failed start-up check, with its numbers."""
    lines = []
    for check in response.checks:
        if check.passed:
            continue
        name = risk_types.StartupCheckKind.Name(check.kind).removeprefix("STARTUP_CHECK_KIND_").lower()
        numbers = ""
        if check.HasField("value") or check.HasField("threshold"):
            numbers = f" (value {check.value.value or '?'}, threshold {check.threshold.value or '?'})"
        lines.append(f"{name}: {check.detail}{numbers}")
    return lines
