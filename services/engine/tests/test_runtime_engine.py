"""The engine runtime with a real sim connector and a real risk service, in-process.

Each test drives prices through SimControl and looks at the venue (ListOpenOrders,
positions), the engine's state, its audit log and its journal.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine_support import BTC, FIVE_BUYS, STRATEGY, engine_state, running_stack, trading_state  # type: ignore[import-not-found]  # on sys.path under pytest

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import exchange_service_pb2 as exchange_pb
from opensqt.exchange.v1 import types_pb2
from opensqt_common.enums import TradingState
from opensqt_common.testing import eventually
from opensqt_connector.testing import limit_order, market_order, running_connector
from opensqt_engine.core import SlotStatus
from opensqt_engine.journal import MemoryJournal, Outcome
from opensqt_engine.runtime import EngineState

D = Decimal
BUY, SELL = common_pb2.SIDE_BUY, common_pb2.SIDE_SELL
MAKER_FEE = D("0.0002")


def prices(orders: list[types_pb2.Order], side: int) -> list[Decimal]:
    return sorted(D(o.price.value) for o in orders if o.side == side)


async def test_the_grid_places_its_buys_through_risk(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        orders = await stack.wait_open_buys(FIVE_BUYS)
        assert {o.quantity.value for o in orders} == {"0.016"}  # 1000 / ~59,900 rounded down to 0.001
        assert all(o.post_only and not o.reduce_only for o in orders)
        ids = {o.client_order_id for o in orders}
        await eventually(
            lambda: ids <= {r["client_order_id"] for r in stack.audit("venue_result")},
            message="venue results",
        )
        intents = {r["client_order_id"]: r for r in stack.audit("intent")}
        decisions = {r["client_order_id"]: r for r in stack.audit("risk_decision")}
        for cid in ids:
            assert intents[cid]["route"] == "risk"
            assert decisions[cid]["approved"] is True
        journal = stack.journal
        assert isinstance(journal, MemoryJournal)
        assert ids <= set(journal.intents)
        await eventually(lambda: all(journal.outcomes.get(cid) is Outcome.ACKED for cid in ids))
        status = stack.engine.status()
        assert status.state is EngineState.RUNNING
        assert status.anchor == D(60000)
        assert (status.slots_locked, status.open_orders) == (5, 5)
        assert status.risk_connected
        assert status.connector_connected


async def test_fills_give_take_profits_at_the_next_level_and_a_round_trip_books_the_profit(
    tmp_path: Path,
) -> None:
    async with running_stack(tmp_path) as stack:
        await stack.wait_open_buys(FIVE_BUYS)
        fills = await stack.connector.set_price("59900")
        assert fills == 2
        orders = await stack.wait_orders(
            lambda os: prices(os, SELL) == [D(59950), D(60000)], what="take-profit sells"
        )
        sells = [o for o in orders if o.side == SELL]
        assert {o.quantity.value for o in sells} == {"0.016"}
        assert all(o.reduce_only for o in sells)
        # The window followed the price down: two more buys below.
        await stack.wait_open_buys(["59850", "59800", "59750", "59700", "59650"])
        sell_ids = {o.client_order_id for o in sells}
        direct = {r["client_order_id"] for r in stack.audit("intent") if r["route"] == "direct"}
        assert sell_ids <= direct
        assert not sell_ids & {r["client_order_id"] for r in stack.audit("risk_decision")}
        assert stack.engine.state.position == D("0.032")

        assert await stack.connector.set_price("60000") == 2
        await eventually(lambda: stack.engine.state.fill_count == 4, message="4 fills applied")
        state = stack.engine.state
        assert state.realized_pnl == D("0.016") * 50 * 2
        notional = D("0.016") * (D(59950) + D(59900) + D(60000) + D(59950))
        assert state.fees_paid == notional * MAKER_FEE
        assert state.position == 0
        assert await stack.position() == 0
        fill_records = stack.audit("fill")
        assert len(fill_records) == 4
        assert {r["client_order_id"] for r in fill_records if r["side"] == "sell"} == sell_ids
        # Journal: every fill once, and the filled orders end FILLED once a snapshot has them.
        journal = stack.journal
        assert isinstance(journal, MemoryJournal)
        await eventually(lambda: len(journal.fills) == 4, message="4 fills journaled")
        await eventually(lambda: all(journal.outcomes.get(cid) is Outcome.FILLED for cid in sell_ids))
        assert D(journal.snapshots[STRATEGY]["anchor"]) == 60000


async def test_a_halt_cancels_every_resting_buy_and_resume_places_them_again(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        await stack.wait_open_buys(FIVE_BUYS)
        await stack.halt()
        await stack.wait_orders(lambda os: not os, what="no resting buys")
        assert trading_state(stack.engine) is TradingState.HALTED
        reasons = {r["reason"] for r in stack.audit("cancel")}
        assert reasons == {"trading_state"}
        # No new opening order while halted, even when the price moves.
        await stack.connector.set_price("60100")
        await eventually(lambda: stack.engine.state.last_price == D(60100), message="price seen")
        assert await stack.own_orders() == []
        await stack.resume_risk()
        await stack.wait_open_buys(["60050", "60000", "59950", "59900", "59850"])
        assert trading_state(stack.engine) is TradingState.ACTIVE


async def test_sells_still_go_out_while_halted(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        await stack.wait_open_buys(FIVE_BUYS)
        assert await stack.connector.set_price("59950", max_fill_quantity="0.008") == 1
        await eventually(lambda: stack.engine.state.position == D("0.008"), message="partial fill applied")
        await stack.halt()
        # The partly filled buy is cancelled with the others; its position gets its sell.
        orders = await stack.wait_orders(
            lambda os: prices(os, BUY) == [] and prices(os, SELL) == [D(60000)], what="only the sell"
        )
        sell = next(o for o in orders if o.side == SELL)
        assert sell.quantity.value == "0.008"
        assert sell.reduce_only
        intent = next(r for r in stack.audit("intent") if r["client_order_id"] == sell.client_order_id)
        assert intent["route"] == "direct"


async def test_vetoed_intents_never_reach_the_venue(tmp_path: Path) -> None:
    risk = {"limits": {"max_order_quantity": "0.01"}}
    async with running_stack(tmp_path, risk=risk) as stack:
        await eventually(lambda: len(stack.audit("risk_decision")) >= 5, message="5 decisions")
        decisions = stack.audit("risk_decision")
        assert {(r["approved"], r["reason"]) for r in decisions} == {(False, "MAX_QUANTITY")}
        not_sent = {r["client_order_id"] for r in stack.audit("not_sent") if r["vetoed"]}
        assert {r["client_order_id"] for r in decisions} <= not_sent
        assert await stack.own_orders() == []
        journal = stack.journal
        assert isinstance(journal, MemoryJournal)
        vetoed = [r["client_order_id"] for r in decisions]
        await eventually(lambda: all(journal.outcomes.get(cid) is Outcome.VETOED for cid in vetoed))


async def test_reconciliation_cancels_orders_of_the_grid_it_does_not_own_and_leaves_others_alone(
    tmp_path: Path,
) -> None:
    async with running_stack(tmp_path, grid={"reconcile_seconds": 1}) as stack:
        await stack.wait_open_buys(FIVE_BUYS)
        # An order of this grid no slot owns (an old generation: left over from a crash), and
        # someone else's order on the same account.
        leftover = f"{STRATEGY}BN30G1"
        for cid in (leftover, "manual1"):
            await stack.connector.exchange.PlaceOrder(limit_order(cid, "buy", "58000", "0.01"))
        await eventually(
            lambda: any(leftover in r.get("cancels", []) for r in stack.audit("reconcile")),
            timeout=10,
            message="reconciliation cancelled the leftover",
        )
        await stack.wait_orders(
            lambda os: leftover not in {o.client_order_id for o in os}, what="leftover gone"
        )
        ids = {o.client_order_id for o in await stack.open_orders()}
        assert "manual1" in ids
        reconcile = next(r for r in stack.audit("reconcile") if leftover in r.get("cancels", []))
        assert reconcile["foreign_orders"] == 1
        assert engine_state(stack.engine) is EngineState.RUNNING


async def test_an_order_of_a_newer_state_pauses_the_grid_and_is_left_alone(tmp_path: Path) -> None:
    newer = f"{STRATEGY}BN30Gzzz"  # generation 46655: this fresh state never made it
    async with running_connector() as connector:
        await connector.exchange.PlaceOrder(limit_order(newer, "buy", "58000", "0.01"))
        async with running_stack(tmp_path, connector=connector) as stack:
            assert engine_state(stack.engine) is EngineState.PAUSED
            assert "stale" in stack.engine.status().detail
            assert [r for r in stack.audit("alert") if "generation 46655" in r["detail"]]
            assert [o.client_order_id for o in await stack.own_orders()] == [newer]
            reconcile = stack.audit("reconcile")[0]
            assert reconcile["stale_state"] is True
            assert reconcile["repaired"] is False


async def test_a_large_position_drift_pauses_and_alerts(tmp_path: Path) -> None:
    async with running_stack(tmp_path, grid={"reconcile_seconds": 1}) as stack:
        await stack.wait_open_buys(FIVE_BUYS)
        # Someone trades the account behind the grid's back.
        await stack.connector.exchange.PlaceOrder(market_order("handtrade1", "buy", "0.05"))
        await eventually(
            lambda: engine_state(stack.engine) is EngineState.PAUSED, timeout=10, message="paused on drift"
        )
        alerts = [r["detail"] for r in stack.audit("alert")]
        assert any("differs from the slots by 0.05" in text for text in alerts)
        severities = [r["severity"] for r in stack.audit("reconcile")]
        assert severities.count("large") >= 2  # seen, then confirmed
        # An operator resume clears the pause.
        await stack.engine.resume("checked by hand")
        assert engine_state(stack.engine) is EngineState.RUNNING


async def test_a_stream_reconnect_triggers_a_reconciliation(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        await stack.wait_open_buys(FIVE_BUYS)
        before = len(stack.audit("reconcile"))
        from opensqt.sim.v1 import sim_service_pb2

        await stack.connector.sim.SetFaults(
            sim_service_pb2.SetFaultsRequest(faults=sim_service_pb2.Faults(drop_streams=True))
        )
        await eventually(lambda: len(stack.audit("reconcile")) > before, message="reconciled again")
        await eventually(lambda: stack.engine.connector_connected, message="streams back")
        # Trading goes on after the reconnect: a drop still fills and gets its sell.
        assert await stack.connector.set_price("59950") == 1
        await stack.wait_orders(lambda os: prices(os, SELL) == [D(60000)], what="the take-profit")


async def test_shutdown_cancels_the_grids_orders_only(tmp_path: Path) -> None:
    async with running_connector() as connector:
        await connector.exchange.PlaceOrder(limit_order("manual2", "buy", "58000", "0.01"))
        async with running_stack(tmp_path, connector=connector) as stack:
            await stack.wait_open_buys(FIVE_BUYS)
            assert await stack.connector.set_price("59950") == 1
            await stack.wait_orders(lambda os: prices(os, SELL) == [D(60000)], what="the sell")
        response = await connector.exchange.ListOpenOrders(exchange_pb.ListOpenOrdersRequest(symbol=BTC))
        assert [o.client_order_id for o in response.orders] == ["manual2"]
        audit = stack.audit()
        assert any(r["event"] == "engine_state" and r["state"] == "stopping" for r in audit)
        cancelled = {r["client_order_id"] for r in audit if r["event"] == "cancel"}
        assert len(cancelled) == 6  # five buys and the sell
        assert "manual2" not in cancelled


async def test_a_restart_keeps_the_anchor_and_replays_what_happened_meanwhile(tmp_path: Path) -> None:
    journal = MemoryJournal()
    grid = {"cancel_on_exit": False, "anchor_price": None}
    async with running_connector() as connector:
        async with running_stack(tmp_path, connector=connector, journal=journal, grid=grid) as first:
            await first.wait_open_buys(FIVE_BUYS)
            assert await connector.set_price("59950") == 1
            await first.wait_orders(lambda os: prices(os, SELL) == [D(60000)], what="the sell")
        # The engine is gone; its orders stay (cancel_on_exit false) and the sell fills meanwhile.
        assert await connector.set_price("60000") == 1
        # A new engine: same anchor, knows the sell filled (recovery) and books its profit (fill replay).
        async with running_stack(tmp_path, connector=connector, journal=journal, grid=grid) as second:
            state = second.engine.state
            assert state.anchor == D(60000)
            await eventually(lambda: state.fill_count == 2, message="the missed fill replayed")
            assert state.realized_pnl == D("0.016") * 50
            assert state.position == 0
            recovery = second.audit("recovery")[-1]
            assert recovery["restored"] is True
            orders = await second.wait_open_buys(FIVE_BUYS)
            # No duplicates: the four untouched buys of the first run are kept, one new buy at 59950.
            ids = {o.client_order_id for o in orders}
            assert len(ids) == 5
            first_run = {r["client_order_id"] for r in first.audit("intent")[:5]}
            assert len(ids & first_run) == 4


async def test_an_order_the_snapshot_missed_is_adopted_on_restart(tmp_path: Path) -> None:
    from opensqt_common.enums import Side
    from opensqt_engine.journal import IntentRecord

    journal = MemoryJournal()
    grid = {"cancel_on_exit": False}
    async with running_connector() as connector:
        async with running_stack(tmp_path, connector=connector, journal=journal, grid=grid) as first:
            await first.wait_open_buys(FIVE_BUYS)
            generation = first.engine.state.next_generation
        # As if the engine had sent one more buy and died before its snapshot knew it:
        # cancel the resting 59750 buy, then send a buy for that level under a new id.
        old = next(o for o in await first.own_orders() if o.price.value == "59750")
        await connector.exchange.CancelOrder(
            exchange_pb.CancelOrderRequest(symbol=BTC, client_order_id=old.client_order_id)
        )
        cid = f"{STRATEGY}BN5G{generation + 3}"
        await journal.record_intent(
            IntentRecord(cid, STRATEGY, BTC, -5, Side.BUY, D(59750), D("0.016"), True, False, 0)
        )
        await connector.exchange.PlaceOrder(limit_order(cid, "buy", "59750", "0.016", post_only=True))
        async with running_stack(tmp_path, connector=connector, journal=journal, grid=grid) as second:
            assert cid in second.audit("recovery")[-1]["adopted"]
            slot = second.engine.state.slots[-5]
            assert slot.client_order_id == cid
            assert slot.status is SlotStatus.LOCKED
            orders = await second.wait_open_buys(FIVE_BUYS)
            assert cid in {o.client_order_id for o in orders}
            assert second.engine.state.next_generation > generation + 3


async def test_a_fill_stream_opened_before_any_fill_still_asks_for_a_replay(tmp_path: Path) -> None:
    """Fills made while the stream is down before the engine's first fill must be replayed
    when it reopens: the engine asks from its start (less the margin), never "no replay"."""
    async with running_connector() as connector:
        hub = connector.connector.hub
        subscribe = hub.subscribe_fills
        asked: list[int] = []

        def spy(symbols: Any, since_ms: int) -> Any:
            asked.append(since_ms)
            return subscribe(symbols, since_ms)

        hub.subscribe_fills = spy  # type: ignore[method-assign]
        started_ms = time.time_ns() // 1_000_000
        async with running_stack(tmp_path, connector=connector, with_risk=False, wait_ready=False):
            await eventually(lambda: bool(asked), message="the engine's fill stream")
            (since,) = asked  # the engine's only: no risk service here
            assert started_ms - 61_000 <= since <= started_ms
