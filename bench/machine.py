"""The machine line every benchmark prints with its figures."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import grpc

from opensqt_common.grpc_transport import grpc_experiments


def describe_machine() -> str:
    model = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"CPU: {model}; cores: {os.cpu_count()}; load average {load}; Python {platform.python_version()}; "
        f"grpcio {grpc.__version__} (GRPC_EXPERIMENTS={grpc_experiments() or 'unset'}); "
        f"{platform.system()} {platform.release()}"
    )
