"""The connector unreachable at start, going away and coming back: risk serves throughout,
vetoes openings as stale while it has no fresh data, and recovers on its own."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from risk_service_support import BTC, watch  # type: ignore[import-not-found]  # on sys.path under pytest only

from opensqt.risk.v1 import risk_service_pb2 as pb
from opensqt.risk.v1 import types_pb2 as risk_pb2
from opensqt_common.testing import eventually, free_port
from opensqt_connector.testing import dec, running_connector
from opensqt_risk.testing import ReviewSession, intent, running_risk

# Probes approved while data is fresh must not run into other limits.
CONFIG = {
    "limits": {
        "stale_after_seconds": 1,
        "max_position": "1000",
        "max_order_notional": "100000",
        "max_open_orders": 100_000,
        "max_order_rate": "100000",
    },
    "symbols": {BTC: {}},
    "crash_detector": {"enabled": False},
}
STALE = "VETO_REASON_STALE_MARKET_DATA"


class Prober:
    """Sends one-lot opening buys near the last price risk knows; each has a fresh id."""

    def __init__(self, session: ReviewSession, runtime: object) -> None:
        self._session = session
        self._state = runtime.core.context.symbols[BTC]  # type: ignore[attr-defined]
        self._count = 0

    async def outcome(self) -> str:
        self._count += 1
        price = self._state.last_price or Decimal(60000)
        decision = await self._session.review(intent(f"probe{self._count}", BTC, "buy", "0.001", price))
        return "APPROVED" if decision.approved else risk_pb2.VetoReason.Name(decision.reason)

    async def approved(self) -> bool:
        return await self.outcome() == "APPROVED"

    async def stale(self) -> bool:
        return await self.outcome() == STALE


async def test_stale_while_the_connector_is_away_then_recovery(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    async with running_risk(address, tmp_path, "--in-flight-timeout-seconds", "0.5", config=CONFIG) as risk:
        # The connector is not there: risk serves anyway and refuses openings as stale.
        session = await risk.review_session()
        probe = Prober(session, risk.app.runtime)
        assert await probe.outcome() == STALE
        state = await watch(risk).wait_for(lambda items: len(items) == 1)
        assert state[0].update.state == 1  # ACTIVE: staleness vetoes, it does not halt
        limits = await risk.stub.GetLimits(pb.GetLimitsRequest(symbol=BTC))
        assert limits.limits.stale_after_seconds == 1
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await risk.stub.CheckStartup(
                pb.CheckStartupRequest(symbol=BTC, order_amount=dec("20"), price_interval=dec("100"))
            )
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE

        for round_number in (1, 2):  # the connector comes up, goes away, comes back
            async with running_connector("--listen", address, price_feed=True):
                await eventually(
                    probe.approved,
                    timeout=10,
                    interval=0.05,
                    message=f"approval after connect #{round_number}",
                )
                assert risk.app.feeds.streams_up.get("prices") is True
            await eventually(
                probe.stale,
                timeout=10,
                interval=0.05,
                message=f"stale vetoes after disconnect #{round_number}",
            )
        await session.close()
