"""End to end, three processes on `sim`: the grid's buys, take-profits, two full cycles with
their profit checked to the cent, and a SIGTERM that leaves no order at the venue."""

from __future__ import annotations

import signal
from decimal import Decimal
from pathlib import Path

import pytest
from e2e_support import STRATEGY, running_system  # type: ignore[import-not-found]  # on sys.path under pytest

from opensqt.common.v1 import common_pb2
from opensqt.engine.v1 import types_pb2 as engine_types

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

D = Decimal
BUY, SELL = common_pb2.SIDE_BUY, common_pb2.SIDE_SELL
INTERVAL = D(50)
QUANTITY = D("0.016")  # 1000 USDT / ~59,900, rounded down to the 0.001 step
MAKER_FEE = D("0.0002")  # the sim's perpetual maker fee
CENT = D("0.01")
GRID_AT_60000 = ["59950", "59900", "59850", "59800", "59750"]
FILLED_ON_DROP = [D(59950), D(59900), D(59850)]


async def test_the_grid_cycles_books_its_profit_and_leaves_nothing_behind(tmp_path: Path) -> None:
    async with running_system(tmp_path) as system:
        # The expected buys, at the expected levels and quantities, post-only, through risk.
        buys = await system.wait_orders({BUY: GRID_AT_60000, SELL: []}, what="the initial grid")
        assert {o.quantity.value for o in buys} == {str(QUANTITY)}
        assert all(o.post_only and not o.reduce_only for o in buys)
        routes = {r["client_order_id"]: r["route"] for r in system.audit("intent")}
        assert {routes[o.client_order_id] for o in buys} == {"risk"}
        approved = {r["client_order_id"] for r in system.audit("risk_decision") if r["approved"]}
        assert {o.client_order_id for o in buys} <= approved
        wallet_before = await system.usdt_total()

        expected_net = D(0)
        for cycle in (1, 2):
            # A drop fills three buys; their take-profits appear one level up, reduce-only.
            assert await system.set_price("59850") == 3, f"cycle {cycle}: drop"
            orders = await system.wait_orders(
                {SELL: ["59900", "59950", "60000"], BUY: ["59800", "59750", "59700", "59650", "59600"]},
                what=f"cycle {cycle}: take-profits and the lowered buy window",
            )
            sells = [o for o in orders if o.side == SELL]
            assert {o.quantity.value for o in sells} == {str(QUANTITY)}
            assert all(o.reduce_only for o in sells)
            routes = {r["client_order_id"]: r["route"] for r in system.audit("intent")}
            assert {routes[o.client_order_id] for o in sells} == {"direct"}
            # A rise fills the sells; the buys come back to the window at 60,000.
            assert await system.set_price("60000") == 3, f"cycle {cycle}: rise"
            await system.wait_orders({SELL: [], BUY: GRID_AT_60000}, what=f"cycle {cycle}: grid restored")
            sold = [level + INTERVAL for level in FILLED_ON_DROP]
            fees = QUANTITY * (sum(FILLED_ON_DROP) + sum(sold)) * MAKER_FEE
            expected_net += QUANTITY * INTERVAL * len(sold) - fees
            status = await system.wait_status(
                lambda s, c=cycle: s.fills == 6 * c, what=f"cycle {cycle}: fills"
            )
            assert D(status.position.value) == 0

        # realised profit = Σ (qty × interval) − fees, to the cent, in the engine and at the venue
        status = await system.status()
        realized, fees_paid = D(status.realized_pnl.value), D(status.fees_paid.value)
        assert realized == QUANTITY * INTERVAL * 6
        assert (realized - fees_paid).quantize(CENT) == expected_net.quantize(CENT)
        assert realized - fees_paid == expected_net
        assert await system.position() == 0
        wallet_after = await system.usdt_total()
        assert (wallet_after - wallet_before).quantize(CENT) == expected_net.quantize(CENT)
        assert len(system.audit("fill")) == 12

        # SIGTERM: the engine cancels everything it has at the venue, then exits 0.
        assert len(await system.own_orders()) == 5
        assert system.stop("engine", signal.SIGTERM) == 0
        assert await system.own_orders() == []
        states = [r["state"] for r in system.audit("engine_state")]
        assert states[-1] == "stopping"
        assert status.state == engine_types.ENGINE_STATE_RUNNING
        assert all(o.client_order_id.startswith(STRATEGY) for o in buys)
