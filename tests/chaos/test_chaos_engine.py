"""Chaos: SIGKILL the engine ≥ 20 times while a volatile price path fills its orders in parts,
restarting it each time, on SQLite and on PostgreSQL; then check what survived.

The kills (a seeded schedule) land
- at exact moments, through the engine's test-only crash points (OPENSQT_ENGINE_CRASH_AT):
  between intent and send (`after_intent`), between send and the venue's answer
  (`after_send`), mid-fill — a fill applied to the slots but not yet recorded (`after_fill`),
  and right after start-up recovery recorded its outcomes, before anything was saved
  (`after_recovery`);
- and at random moments (a seeded delay after the spawn: during start-up, recovery or trading).

Prices keep moving while the engine is dead, so orders fill that it learns of only after the
restart. At the end the engine trades once more, settles, and stops on SIGTERM; then every
invariant of `chaos_invariants` is checked against the venue's book.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from chaos_invariants import check_book, fills_by_order, read_engine_records  # type: ignore[import-not-found]
from chaos_system import STRATEGY, ChaosSystem, PriceDriver, PricePath, settle_and_stop, sim_book, sim_system  # type: ignore[import-not-found]

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(420)]

D = Decimal
SEED = int(os.environ.get("OPENSQT_CHAOS_SEED", "20261124"))
CRASH_WAIT_S = 45.0


@dataclass(frozen=True)
class Kill:
    crash_at: str = ""  # a crash point "<point>:<n>", or "" for a SIGKILL from outside
    after_s: float = 0.0  # outside kills: seconds after the spawn

    def __str__(self) -> str:
        return self.crash_at or f"SIGKILL +{self.after_s:.2f}s"


def schedule(rng: random.Random) -> list[Kill]:
    """24 kills: 5 each between intent and send, between send and answer, mid-fill; 2 right
    after recovery; 7 at random moments. Seeded order and passes."""
    kills = [Kill(f"after_intent:{rng.randint(1, 4)}") for _ in range(5)]
    kills += [Kill(f"after_send:{rng.randint(1, 4)}") for _ in range(5)]
    kills += [Kill(f"after_fill:{rng.randint(1, 3)}") for _ in range(5)]
    kills += [Kill("after_recovery:1") for _ in range(2)]
    kills += [Kill(after_s=rng.uniform(0.05, 2.5)) for _ in range(7)]
    rng.shuffle(kills)
    return kills


async def kill_once(system: ChaosSystem, kill: Kill) -> None:
    if kill.crash_at:
        await system.start_engine(crash_at=kill.crash_at)
        code = await system.engine.wait_exit(CRASH_WAIT_S)
        assert code == -signal.SIGKILL, f"{kill}: the engine exited with {code}:\n{system.engine.tail()}"
        assert f"SIGKILL at {kill.crash_at.replace(':', ' pass ')}" in system.engine.tail(80), (
            system.engine.tail()
        )
    else:
        await system.start_engine()
        await asyncio.sleep(kill.after_s)  # the random moment
        await system.engine.kill()


async def test_engine_killed_24_times_loses_and_duplicates_nothing(store_url: str, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    kills = schedule(rng)
    assert len(kills) >= 20
    async with sim_system(tmp_path, store_url) as (system, recorder):
        driver = PriceDriver(
            system.sim_print, PricePath(rng, start=D(60000), low=D(59000), high=D(61000), jump=60)
        )
        driver.start()
        for kill in kills:
            await kill_once(system, kill)
        await system.start_engine()
        restart_s = await system.wait_engine_running()
        view = await settle_and_stop(system, driver)
        book, failures = await sim_book(system.exchange(), recorder, system.connector.log, STRATEGY)
        records = read_engine_records(store_url, STRATEGY, tmp_path / "engine-audit.jsonl")
        failures += fills_by_order(book) + check_book(book, records, stopped=True)
        print(
            f"seed {SEED}: {len(kills)} kills ({', '.join(map(str, kills))}); {len(book.orders)} orders, "
            f"{len(book.fills)} fills, position {book.position}; last restart {restart_s:.2f} s"
        )
        assert system.engine.starts == len(kills) + 1
        assert len(book.fills) > len(kills), "the run must trade through the kills"
        if view.status.fills != len(book.fills):
            failures.append(
                f"slots: the running grid counted {view.status.fills} fills, the venue has {len(book.fills)}"
            )
        assert not failures, "\n".join(failures) + "\n" + system.logs()
