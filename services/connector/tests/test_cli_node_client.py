"""Polyglot proof: the Node.js example in examples/node-client loads the .proto files,
places and cancels an order and reads the update stream against a running sim connector.

Needs node and npm (the npm registry reachable for the first install); without them
the test fails and says so, it never skips.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt_connector.testing import SYMBOL, running_connector

NODE_CLIENT = Path(__file__).resolve().parents[3] / "examples" / "node-client"
PINNED = {"@grpc/grpc-js": "1.14.7", "@grpc/proto-loader": "0.8.1"}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed: the polyglot test needs Node.js with npm (apt-get install nodejs npm)"
        )
    return path


def _installed_versions() -> dict[str, str]:
    versions = {}
    for package in PINNED:
        manifest = NODE_CLIENT / "node_modules" / package / "package.json"
        if manifest.is_file():
            versions[package] = json.loads(manifest.read_text())["version"]
    return versions


@pytest.fixture(scope="module")
def node() -> str:
    """The node binary, with the example's pinned dependencies installed once (npm ci)."""
    node = _tool("node")
    npm = _tool("npm")
    if _installed_versions() != PINNED:
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(NODE_CLIENT)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"npm ci in {NODE_CLIENT} failed:\n{result.stdout}\n{result.stderr}")
    assert _installed_versions() == PINNED
    return node


async def _run_client(node: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        node,
        str(NODE_CLIENT / "client.js"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_node_client_places_cancels_and_follows_the_update_stream(node: str) -> None:
    async with running_connector() as client:
        code, out, err = await _run_client(
            node, "--target", client.address, "--client-order-id", "node-e2e-1"
        )
        assert code == 0, f"node client failed: {err}"
        events = [json.loads(line) for line in out.splitlines()]
        assert [e["event"] for e in events] == ["snapshot", "placed", "update", "canceled", "update", "done"]
        assert events[1]["status"] == "ORDER_STATUS_NEW"
        assert [events[2]["status"], events[4]["status"]] == ["ORDER_STATUS_NEW", "ORDER_STATUS_CANCELED"]

        # The connector saw exactly what the client reported.
        order = (
            await client.exchange.GetOrder(pb.GetOrderRequest(symbol=SYMBOL, client_order_id="node-e2e-1"))
        ).order
        assert order.order_id == events[1]["order_id"]
        assert order.status == common_pb2.ORDER_STATUS_CANCELED
        assert order.post_only
        assert order.price.value == events[1]["price"]


async def test_node_client_sends_the_bearer_token_when_auth_is_on(node: str, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("node-secret-token\n")
    async with running_connector(
        "--auth-token-file", str(token_file), client_token="node-secret-token"
    ) as client:
        env = {k: v for k, v in os.environ.items() if k != "OPENSQT_AUTH_TOKEN"}
        without = await _run_client(node, "--target", client.address, env=env)
        assert without[0] == 1
        assert "gRPC 16" in without[2]  # UNAUTHENTICATED
        code, out, err = await _run_client(
            node, "--target", client.address, env={**env, "OPENSQT_AUTH_TOKEN": "node-secret-token"}
        )
        assert code == 0, err
        assert json.loads(out.splitlines()[-1])["event"] == "done"
