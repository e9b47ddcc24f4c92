"""Shared helpers for the OpenSQT services: settings, logging, telemetry, gRPC scaffolding, decimals."""
