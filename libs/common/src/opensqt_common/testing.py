"""Helpers for tests and benchmarks: wait on a condition, probe health, pick ports.

Waiting is always on a condition with a deadline, never on the clock alone.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import time
from collections.abc import Awaitable, Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]],
    *,
    timeout: float = 5.0,
    interval: float = 0.005,
    message: str = "condition",
) -> None:
    """Poll `condition` until it is true; raise AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} not met within {timeout} s")
        await asyncio.sleep(interval)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


async def health_status(target: str, service: str = "", timeout: float = 1.0) -> int:
    """The grpc.health.v1 status of `service` at `target` (UNKNOWN when unreachable)."""
    async with grpc.aio.insecure_channel(target) as channel:
        try:
            response = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.aio.AioRpcError:
            return int(health_pb2.HealthCheckResponse.UNKNOWN)
        return int(response.status)


async def wait_serving(target: str, *, timeout: float = 20.0, service: str = "") -> None:
    """Wait until `target` reports SERVING."""

    async def serving() -> bool:
        return bool(await health_status(target, service) == health_pb2.HealthCheckResponse.SERVING)

    await eventually(serving, timeout=timeout, interval=0.05, message=f"{target} SERVING")
