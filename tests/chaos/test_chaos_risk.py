"""Chaos: SIGKILL the risk service at random moments while prices move; the engine fails
closed (no opening order without risk's approval) and nothing is lost or duplicated."""

from __future__ import annotations

import asyncio
import os
import random
from decimal import Decimal
from pathlib import Path

import pytest
from chaos_invariants import check_book, fills_by_order, read_engine_records  # type: ignore[import-not-found]
from chaos_system import STRATEGY, PriceDriver, PricePath, settle_and_stop, sim_book, sim_system  # type: ignore[import-not-found]

from opensqt_common.enums import Side

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(300)]

D = Decimal
SEED = int(os.environ.get("OPENSQT_CHAOS_SEED", "20261124"))
RISK_KILLS = 6


async def test_risk_killed_at_random_moments_leaves_the_books_consistent(
    store_url: str, tmp_path: Path
) -> None:
    rng = random.Random(SEED + 1)
    async with sim_system(tmp_path, store_url) as (system, recorder):
        driver = PriceDriver(
            system.sim_print, PricePath(rng, start=D(60000), low=D(59000), high=D(61000), jump=60)
        )
        await system.start_engine()
        await system.wait_engine_running()
        driver.start()
        for _ in range(RISK_KILLS):
            await asyncio.sleep(rng.uniform(0.3, 2.0))  # a random moment of trading
            await system.risk.kill()
            await asyncio.sleep(rng.uniform(0.0, 1.0))  # prices move while risk is down
            await system.start_risk()
            await system.wait_engine_running()
        await settle_and_stop(system, driver)
        book, failures = await sim_book(system.exchange(), recorder, system.connector.log, STRATEGY)
        records = read_engine_records(store_url, STRATEGY, tmp_path / "engine-audit.jsonl")
        failures += fills_by_order(book) + check_book(book, records, stopped=True)
        approved = {
            r["client_order_id"] for r in records.audit if r["event"] == "risk_decision" and r["approved"]
        }
        unapproved = sorted(
            cid for cid, o in book.orders.items() if o.side is Side.BUY and cid not in approved
        )
        if unapproved:
            failures.append(f"fail closed: buys at the venue without risk's approval: {unapproved}")
        assert system.risk.kills == RISK_KILLS
        assert book.fills, "the run traded nothing"
        assert not failures, "\n".join(failures) + "\n" + system.logs()
