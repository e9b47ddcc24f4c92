"""CheckStartup against the real sim connector: every failed check comes back with its numbers."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from risk_service_support import BTC, running_stack  # type: ignore[import-not-found]  # on sys.path under pytest only

from opensqt.risk.v1 import risk_service_pb2 as pb
from opensqt.risk.v1 import types_pb2 as risk_pb2
from opensqt.sim.v1 import sim_service_pb2
from opensqt_common.errors import error_info
from opensqt_connector.testing import dec

CONFIG = {"limits": {"max_leverage": "10", "min_slots": 10}, "crash_detector": {"enabled": False}}


def by_kind(response: pb.CheckStartupResponse) -> dict[str, risk_pb2.StartupCheck]:
    return {risk_pb2.StartupCheckKind.Name(check.kind): check for check in response.checks}


async def set_usdt(stack: object, amount: str) -> None:
    await stack.connector.sim.SetBalance(  # type: ignore[attr-defined]
        sim_service_pb2.SetBalanceRequest(asset="USDT", amount=dec(amount))
    )


async def test_too_little_balance_fails_capacity_with_numbers(tmp_path: Path) -> None:
    async with running_stack(tmp_path, config=CONFIG) as stack:
        await set_usdt(stack, "50")
        response = await stack.risk.stub.CheckStartup(
            pb.CheckStartupRequest(
                symbol=BTC, order_amount=dec("20"), price_interval=dec("100"), leverage=dec("1")
            )
        )
        assert not response.ok
        checks = by_kind(response)
        capacity = checks["STARTUP_CHECK_KIND_CAPACITY"]
        assert not capacity.passed
        assert (capacity.value.value, capacity.threshold.value) == ("2", "10")
        assert "free 50" in capacity.detail
        assert "2 whole slots, is below min_slots 10" in capacity.detail
        balance = checks["STARTUP_CHECK_KIND_BALANCE"]
        assert balance.passed
        assert balance.value.value == "50"
        assert checks["STARTUP_CHECK_KIND_LEVERAGE"].passed
        assert checks["STARTUP_CHECK_KIND_FEE_PROFITABILITY"].passed


async def test_every_failed_check_is_reported(tmp_path: Path) -> None:
    async with running_stack(tmp_path, config=CONFIG) as stack:
        await set_usdt(stack, "0")
        response = await stack.risk.stub.CheckStartup(
            pb.CheckStartupRequest(
                symbol=BTC,
                order_amount=dec("20"),
                price_interval=dec("10"),  # 10 / 60000 cannot pay 2 x 0.0002 maker fees
                leverage=dec("20"),
                reference_price=dec("60000"),
            )
        )
        assert not response.ok
        checks = by_kind(response)
        assert [name for name, check in checks.items() if not check.passed] == [
            "STARTUP_CHECK_KIND_BALANCE",
            "STARTUP_CHECK_KIND_LEVERAGE",
            "STARTUP_CHECK_KIND_CAPACITY",
            "STARTUP_CHECK_KIND_FEE_PROFITABILITY",
        ]
        assert checks["STARTUP_CHECK_KIND_BALANCE"].value.value == "0"
        leverage = checks["STARTUP_CHECK_KIND_LEVERAGE"]
        assert (leverage.value.value, leverage.threshold.value) == ("20", "10")
        fees = checks["STARTUP_CHECK_KIND_FEE_PROFITABILITY"]
        assert fees.value.value == "0.000166666667"  # interval / price
        assert fees.threshold.value == "0.000400080016"  # (0.0002 + 0.0002) / (1 - 0.0002)


async def test_a_sound_setup_passes_with_the_venue_leverage_and_price(tmp_path: Path) -> None:
    async with running_stack(tmp_path, config=CONFIG) as stack:
        response = await stack.risk.stub.CheckStartup(
            pb.CheckStartupRequest(symbol=BTC, order_amount=dec("20"), price_interval=dec("100"))
        )
        assert response.ok, response
        checks = by_kind(response)
        assert checks["STARTUP_CHECK_KIND_LEVERAGE"].value.value == "10"  # the sim's leverage
        assert checks["STARTUP_CHECK_KIND_CAPACITY"].value.value == "5000"  # 10000 x 10 / 20
        assert "at price 60000" in checks["STARTUP_CHECK_KIND_FEE_PROFITABILITY"].detail


BAD_REQUESTS = [
    ({"order_amount": dec("20"), "price_interval": dec("100")}, "symbol"),
    ({"symbol": BTC, "price_interval": dec("100")}, "order_amount"),
    ({"symbol": BTC, "order_amount": dec("abc"), "price_interval": dec("100")}, "order_amount"),
    ({"symbol": BTC, "order_amount": dec("20"), "price_interval": dec("-1")}, "price_interval"),
    (
        {"symbol": BTC, "order_amount": dec("20"), "price_interval": dec("1"), "leverage": dec("0")},
        "leverage",
    ),
    ({"symbol": "DOGE/USDT:USDT", "order_amount": dec("20"), "price_interval": dec("1")}, "symbol"),
]


async def test_bad_startup_requests_are_invalid_argument(tmp_path: Path) -> None:
    async with running_stack(tmp_path, config=CONFIG) as stack:
        for fields, field in BAD_REQUESTS:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stack.risk.stub.CheckStartup(pb.CheckStartupRequest(**fields))
            assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT, fields
            assert (caught.value.details() or "").startswith(field), caught.value.details()
            assert error_info(caught.value) is not None
