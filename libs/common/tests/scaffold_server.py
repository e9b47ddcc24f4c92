"""A minimal service on the scaffold, run as a subprocess by test_server.py."""

import asyncio
import sys

from opensqt.engine.v1 import engine_service_pb2, engine_service_pb2_grpc
from opensqt_common.logging import configure_logging
from opensqt_common.server import GrpcServer, run_until_signal

SERVICE = engine_service_pb2.DESCRIPTOR.services_by_name["EngineService"].full_name


async def main(listen: str) -> None:
    configure_logging("scaffold-test")
    server = GrpcServer(listen=listen, service_names=[SERVICE])
    engine_service_pb2_grpc.add_EngineServiceServicer_to_server(
        engine_service_pb2_grpc.EngineServiceServicer(), server.grpc
    )
    await server.start()
    print(f"listening {server.address}", flush=True)
    await run_until_signal(server)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
