import asyncio
import signal
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from pydantic import SecretStr

from opensqt.engine.v1 import engine_service_pb2, engine_service_pb2_grpc
from opensqt_common.channels import open_channel
from opensqt_common.errors import InvalidArgument, error_info, grpc_errors, grpc_stream_errors
from opensqt_common.server import GrpcServer
from opensqt_common.testing import free_port, health_status, wait_serving

ENGINE = engine_service_pb2.DESCRIPTOR.services_by_name["EngineService"].full_name


class _Engine(engine_service_pb2_grpc.EngineServiceServicer):
    @grpc_errors
    async def Pause(self, request, context):
        if not request.reason:
            raise InvalidArgument("reason", "is required")
        return engine_service_pb2.PauseResponse()

    @grpc_errors
    async def GetStatus(self, request, context):
        raise RuntimeError("boom")

    @grpc_stream_errors
    async def StreamEvents(self, request, context):
        yield engine_service_pb2.StreamEventsResponse()
        raise InvalidArgument("", "stream ended by a bad request")


async def _start(**kwargs) -> GrpcServer:
    server = GrpcServer(listen="127.0.0.1:0", service_names=[ENGINE], **kwargs)
    engine_service_pb2_grpc.add_EngineServiceServicer_to_server(_Engine(), server.grpc)
    await server.start()
    return server


async def test_health_serving_and_reflection_lists_services():
    server = await _start()
    try:
        assert await health_status(server.address) == health_pb2.HealthCheckResponse.SERVING
        assert await health_status(server.address, ENGINE) == health_pb2.HealthCheckResponse.SERVING
        async with grpc.aio.insecure_channel(server.address) as channel:
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            call = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
            names = set()
            async for response in call:
                names = {s.name for s in response.list_services_response.service}
                break
        assert {ENGINE, "grpc.health.v1.Health"} <= names
    finally:
        await server.stop()
    assert await health_status(server.address) == health_pb2.HealthCheckResponse.UNKNOWN


async def test_service_error_becomes_status_with_error_info():
    server = await _start()
    try:
        async with open_channel(server.address) as channel:
            stub = engine_service_pb2_grpc.EngineServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.Pause(engine_service_pb2.PauseRequest())
            assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert raised.value.details() == "reason: is required"
            info = error_info(raised.value)
            assert info is not None
            assert info.reason == "INVALID_ARGUMENT"
            assert (
                await stub.Pause(engine_service_pb2.PauseRequest(reason="ok"))
                == engine_service_pb2.PauseResponse()
            )
    finally:
        await server.stop()


async def test_unexpected_exception_is_internal_and_server_keeps_serving():
    server = await _start()
    try:
        async with open_channel(server.address) as channel:
            stub = engine_service_pb2_grpc.EngineServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.GetStatus(engine_service_pb2.GetStatusRequest())
            assert raised.value.code() == grpc.StatusCode.INTERNAL
            assert "boom" not in (raised.value.details() or "")
            received = []

            async def consume() -> None:
                async for item in stub.StreamEvents(engine_service_pb2.StreamEventsRequest()):
                    received.append(item)

            with pytest.raises(grpc.aio.AioRpcError) as stream_error:
                await consume()
            assert len(received) == 1
            assert stream_error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert await health_status(server.address) == health_pb2.HealthCheckResponse.SERVING
    finally:
        await server.stop()


async def test_bearer_token_required_except_for_health():
    server = await _start(auth_token=SecretStr("s3cret-token"))
    try:
        assert await health_status(server.address) == health_pb2.HealthCheckResponse.SERVING
        async with open_channel(server.address) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await engine_service_pb2_grpc.EngineServiceStub(channel).Pause(
                    engine_service_pb2.PauseRequest(reason="x")
                )
            assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "s3cret" not in (raised.value.details() or "")
        async with open_channel(server.address, auth_token=SecretStr("wrong")) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await engine_service_pb2_grpc.EngineServiceStub(channel).Pause(
                    engine_service_pb2.PauseRequest(reason="x")
                )
            assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        async with open_channel(server.address, auth_token=SecretStr("s3cret-token")) as channel:
            stub = engine_service_pb2_grpc.EngineServiceStub(channel)
            assert (
                await stub.Pause(engine_service_pb2.PauseRequest(reason="x"))
                == engine_service_pb2.PauseResponse()
            )
    finally:
        await server.stop()


async def test_process_exits_cleanly_within_five_seconds_on_sigterm():
    address = f"127.0.0.1:{free_port()}"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("scaffold_server.py")),
        address,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_serving(address)
        process.send_signal(signal.SIGTERM)
        # The scaffold's contract: a clean exit within 5 s of SIGTERM.
        code = await asyncio.wait_for(process.wait(), timeout=5)
        assert code == 0
        _, stderr = await process.communicate()
        assert b"server_stopped" in stderr
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_health_watch_streams_status_changes():
    server = await _start()
    try:
        async with grpc.aio.insecure_channel(server.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            watch = stub.Watch(health_pb2.HealthCheckRequest(service=ENGINE))
            first = await watch.read()
            assert first.status == health_pb2.HealthCheckResponse.SERVING
            await server.set_serving(False)
            second = await watch.read()
            assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
            watch.cancel()
    finally:
        await server.stop()
