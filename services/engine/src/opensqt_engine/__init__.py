"""OpenSQT engine service."""

from opensqt_common.grpc_transport import prefer_low_latency_transport

prefer_low_latency_transport()  # before anything loads grpc: it reads its experiments once, at import
