"""Bearer tokens: risk's own server (--auth-token-file) and its calls to the connector
(--connector-auth-token-file)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from pydantic import SecretStr

from opensqt.risk.v1 import risk_service_pb2 as pb
from opensqt.risk.v1 import risk_service_pb2_grpc as pb_grpc
from opensqt_common.channels import open_channel
from opensqt_common.testing import eventually
from opensqt_connector.testing import running_connector
from opensqt_risk.testing import running_risk


async def test_risk_requires_its_token_and_sends_the_connectors(tmp_path: Path) -> None:
    risk_token = tmp_path / "risk.token"
    risk_token.write_text("risk-secret\n")
    connector_token = tmp_path / "connector.token"
    connector_token.write_text("connector-secret\n")
    async with (
        running_connector(
            "--auth-token-file", str(connector_token), client_token="connector-secret"
        ) as connector,
        running_risk(
            connector.address,
            tmp_path,
            "--auth-token-file",
            str(risk_token),
            "--connector-auth-token-file",
            str(connector_token),
            config={"crash_detector": {"enabled": False}},
        ) as risk,
    ):
        await asyncio.wait_for(risk.app.feeds.ready.wait(), 5)  # ListMarkets passed the connector's auth
        state = risk.app.runtime.core.context.symbols["BTC/USDT:USDT"]
        await eventually(
            lambda: state.last_price is not None, message="prices through an authenticated stream"
        )

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await risk.stub.GetLimits(pb.GetLimitsRequest())
        assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
        async with open_channel(risk.address, auth_token=SecretStr("risk-secret")) as channel:
            limits = await pb_grpc.RiskServiceStub(channel).GetLimits(pb.GetLimitsRequest())
        assert limits.limits.max_open_orders == 40
