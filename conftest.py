"""Test processes run gRPC with the engine the services choose (opensqt_common.grpc_transport)."""

from opensqt_common.grpc_transport import prefer_low_latency_transport

prefer_low_latency_transport()
