"""Fixtures: one replica per test on 127.0.0.1 port 0, and the ccxt.pro client of the
case pointed at it. A replica that failed internally, or was asked for a path it
does not serve, fails the test at teardown: a replica gap must never pass silently.

Phase 2 (connector conformance) reuses `case` and `replica` and starts
`opensqt-connector` with `case.connector_argv(replica, listen)` and
`case.connector_env(replica)`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from .cases import CASES, VenueCase
from .framework.server import VenueReplica


@pytest.fixture(params=CASES, ids=lambda case: case.id)
def case(request: pytest.FixtureRequest) -> VenueCase:
    chosen: VenueCase = request.param
    return chosen


@pytest.fixture
async def replica(case: VenueCase) -> AsyncIterator[VenueReplica]:
    server = case.new_replica()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
    assert not server.handler_errors, f"replica handler failed: {server.handler_errors!r}"
    assert not server.unserved(), f"the replica does not serve {server.unserved()}"


@pytest.fixture
async def exchange(case: VenueCase, replica: VenueReplica) -> AsyncIterator[Any]:
    client = case.ccxt_exchange(replica)
    try:
        yield client
    finally:
        await client.close()
