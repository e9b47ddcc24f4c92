"""Which I/O engine gRPC's C core runs in OpenSQT's processes.

grpcio 1.85 does its socket I/O on EventEngine threads by default. An asyncio
process then hands every message over twice: from the EventEngine thread to the
completion-queue thread, then to the event loop. With the EventEngine client and
listener experiments turned off, the completion-queue thread polls the sockets
itself, and one of those hand-offs goes away. On the 2-core reference machine
(docs/benchmarks.md, ADR 007), this cut a bare bidi round trip from ~0.22 to ~0.15
ms, and tick-to-order p50 from ~0.95 to ~0.78 ms.

gRPC reads `GRPC_EXPERIMENTS` once, when its C core loads (at `import grpc`), so
the default must be set before that. Each service package sets it on import. An
operator's own `GRPC_EXPERIMENTS` always wins. Set it to the empty string to get
gRPC's default engine back.
"""

from __future__ import annotations

import os
import sys

EXPERIMENTS_ENV = "GRPC_EXPERIMENTS"
LOW_LATENCY_EXPERIMENTS = "-event_engine_client,-event_engine_listener"


def prefer_low_latency_transport() -> bool:
    """Default `GRPC_EXPERIMENTS` to the low-latency engine; True if it was set now.

    Nothing changes when the variable is already set (the operator's choice) or when
    grpc is already loaded (too late to take effect). The variable is inherited by
    child processes, so services started from this one run the same engine.
    """
    if EXPERIMENTS_ENV in os.environ or "grpc" in sys.modules:
        return False
    os.environ[EXPERIMENTS_ENV] = LOW_LATENCY_EXPERIMENTS
    return True


def grpc_experiments() -> str:
    """The experiments setting in effect for this process (the benchmarks print it)."""
    return os.environ.get(EXPERIMENTS_ENV, "")
