"""Chaos: SIGKILL the connector at random moments while the venue lives on (a loopback
Binance USDⓈ-M replica in this process, on the sim matching core) and its prices move."""

from __future__ import annotations

import asyncio
import os
import random
from decimal import Decimal
from pathlib import Path

import pytest
from chaos_invariants import check_book, fills_by_order, read_engine_records  # type: ignore[import-not-found]
from chaos_system import (  # type: ignore[import-not-found]
    STRATEGY,
    SYMBOL,
    ChaosSystem,
    PriceDriver,
    PricePath,
    Print,
    replica_book,
    settle_and_stop,
)
from venues.binance.replica import BinanceReplica  # type: ignore[import-not-found]
from venues.cases import CASES_BY_ID  # type: ignore[import-not-found]

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(300)]

D = Decimal
SEED = int(os.environ.get("OPENSQT_CHAOS_SEED", "20261124"))
CONNECTOR_KILLS = 5
CASE = CASES_BY_ID["binance-perp"]


async def test_connector_killed_at_random_moments_against_a_venue_that_lives_on(tmp_path: Path) -> None:
    rng = random.Random(SEED + 2)
    store_url = f"sqlite:///{tmp_path / 'engine.sqlite'}"
    async with BinanceReplica() as replica:

        async def venue_print(item: Print) -> int:
            return len(replica.set_price(SYMBOL, item.price, max_fill=item.max_fill))

        system = ChaosSystem.build(
            tmp_path,
            store_url,
            connector_argv=lambda listen: CASE.connector_argv(replica, listen),
            connector_env=CASE.connector_env(replica),
        )
        driver = PriceDriver(
            venue_print, PricePath(rng, start=D(60000), low=D(59000), high=D(61000), jump=60)
        )
        try:
            driver.start()  # the replica streams prices only when it trades
            await system.start_connector()
            await system.start_risk()
            await system.start_engine()
            await system.wait_engine_running()
            for _ in range(CONNECTOR_KILLS):
                await asyncio.sleep(rng.uniform(0.3, 2.5))  # a random moment of trading
                await system.connector.kill()
                await asyncio.sleep(rng.uniform(0.0, 1.0))  # the venue trades on without it
                await system.start_connector()
                await system.wait_engine_running()
            await settle_and_stop(system, driver)
            book = replica_book(replica.core, STRATEGY)
            records = read_engine_records(store_url, STRATEGY, tmp_path / "engine-audit.jsonl")
            failures = fills_by_order(book) + check_book(book, records, stopped=True)
            assert system.connector.kills == CONNECTOR_KILLS
            assert book.fills, "the run traded nothing"
            assert not failures, "\n".join(failures) + "\n" + system.logs()
        finally:
            await driver.stop()
            await system.close()
        assert not replica.handler_errors, replica.handler_errors
