"""A spot grid on a venue that takes buy fees from the coins bought (most spot venues do):
the real engine and risk on a sim connector run with `--sim-spot-fees-in-base`."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from engine_support import running_stack  # type: ignore[import-not-found]  # on sys.path under pytest

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import exchange_service_pb2 as exchange_pb
from opensqt.exchange.v1 import types_pb2
from opensqt.sim.v1 import sim_service_pb2
from opensqt_common.testing import eventually
from opensqt_connector.testing import dec, running_connector

if TYPE_CHECKING:
    from opensqt.exchange.v1.exchange_service_pb2_grpc import ExchangeServiceAsyncStub

D = Decimal
SPOT = "BTC/USDT"
FEE_RATE = D("0.001")  # the sim's spot maker fee
BOUGHT = D("0.016")  # 1000 USDT at ~59,950, on the 0.001 step


async def _own_orders(exchange: ExchangeServiceAsyncStub, side: int) -> list[types_pb2.Order]:
    response = await exchange.ListOpenOrders(exchange_pb.ListOpenOrdersRequest(symbol=SPOT))
    return [o for o in response.orders if o.client_order_id.startswith("t1") and o.side == side]


async def test_take_profits_sell_what_was_bought_less_the_fee_and_never_more_than_is_held(
    tmp_path: Path,
) -> None:
    flags = ("--market", "spot", "--symbols", SPOT, "--sim-spot-fees-in-base")
    async with running_connector(*flags) as connector:
        # The account holds no BTC but what the grid buys: a sell of one coin too many is refused.
        await connector.sim.SetBalance(sim_service_pb2.SetBalanceRequest(asset="BTC", amount=dec("0")))
        grid = {"symbol": SPOT, "market": "spot"}
        risk = {"symbols": {SPOT: {}}, "limits": {"max_position": "10"}}
        async with running_stack(tmp_path, grid=grid, risk=risk, connector=connector) as stack:
            exchange = connector.exchange
            await eventually(lambda: _count(exchange, common_pb2.SIDE_BUY, 5), message="five resting buys")
            assert await connector.set_price("59900", symbol=SPOT) == 2  # the two top buys fill

            async def two_sells() -> bool:
                return len(await _own_orders(exchange, common_pb2.SIDE_SELL)) == 2

            await eventually(two_sells, message="two take-profits")
            held = BOUGHT - BOUGHT * FEE_RATE  # 0.015984 BTC per level reached the account
            for sell in await _own_orders(exchange, common_pb2.SIDE_SELL):
                assert D(sell.quantity.value) == D("0.015")  # held, rounded down to the step
            engine = stack.engine
            assert {engine.state.slots[k].position for k in (-1, -2)} == {held}
            assert engine.state.fees_paid == BOUGHT * FEE_RATE * (D(59950) + D(59900))

            assert await connector.set_price("60000", symbol=SPOT) == 2  # both take-profits fill

            async def sold() -> bool:
                return not await _own_orders(exchange, common_pb2.SIDE_SELL) and all(
                    engine.state.slots[k].position == held - D("0.015") for k in (-1, -2)
                )

            await eventually(sold, message="both take-profits filled")
            balances = await exchange.GetBalances(exchange_pb.GetBalancesRequest())
            btc = next(b for b in balances.balances if b.asset == "BTC")
            # what the account holds is exactly what the engine says its levels hold: the dust
            assert D(btc.total.value) == engine.state.position == 2 * (held - D("0.015"))
            refused = [r for r in stack.audit("venue_result") if "error" in r]
            assert refused == []  # not one order refused (a sell of more BTC than held would be)


async def _count(exchange: ExchangeServiceAsyncStub, side: int, expected: int) -> bool:
    return len(await _own_orders(exchange, side)) == expected
