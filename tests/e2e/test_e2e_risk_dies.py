"""End to end, the contract of issue 4 tested here: when the risk service dies, the engine
opens nothing (every opening order needs a decision) but still closes positions (reduce-only
take-profits never wait for risk); when risk is back, the grid trades again."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from e2e_support import running_system  # type: ignore[import-not-found]  # on sys.path under pytest

from opensqt.common.v1 import common_pb2

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

BUY, SELL = common_pb2.SIDE_BUY, common_pb2.SIDE_SELL


async def test_without_risk_no_opening_order_leaves_but_take_profits_do(tmp_path: Path) -> None:
    async with running_system(tmp_path, engine_config={"sell_window": 1}) as system:
        await system.wait_orders({BUY: ["59950", "59900", "59850", "59800", "59750"]}, what="the grid")
        # Two buys fill; with a one-level sell window only the nearer take-profit is live.
        assert await system.set_price("59900") == 2
        await system.wait_orders({SELL: ["59950"]}, what="the nearer take-profit")

        assert system.stop("risk", signal.SIGKILL) == -signal.SIGKILL
        await system.wait_status(lambda s: not s.risk_connected, what="risk seen as gone")
        # Same as HALTED for opening orders: the resting buys are cancelled at once.
        await system.wait_orders({BUY: [], SELL: ["59950"]}, what="buys cancelled, the sell stays")
        since_kill = len(system.audit())

        # The price rises: the live sell fills and the next take-profit is placed, without risk.
        assert await system.set_price("59950") == 1
        orders = await system.wait_orders({BUY: [], SELL: ["60000"]}, what="the next take-profit")
        assert orders[0].reduce_only
        # A drop: still no buy may be placed while risk is away; the sell, now beyond the
        # one-level sell window, is cancelled (cancels never wait for risk either).
        await system.set_price("59700")
        await system.wait_orders({BUY: [], SELL: []}, what="the far sell cancelled, no buy")
        status = await system.status()
        assert status.last_price.value == "59700"
        assert "risk unreachable" in status.detail
        after = system.audit()[since_kill:]
        intents = [r for r in after if r["event"] == "intent"]
        assert intents
        assert {(r["side"], r["route"]) for r in intents} == {("sell", "direct")}
        assert not [r for r in after if r["event"] == "risk_decision"]
        assert [r["reason"] for r in after if r["event"] == "cancel"] == ["above_sell_window"]

        # Risk is back: the grid opens again at the current price.
        system.start("risk")
        await system.wait_serving("risk")
        await system.wait_status(lambda s: s.risk_connected, what="risk reconnected")
        await system.wait_orders(
            {BUY: ["59650", "59600", "59550", "59500", "59450"], SELL: []}, what="buys again"
        )
        assert system.stop("engine", signal.SIGTERM) == 0
        assert await system.own_orders() == []
