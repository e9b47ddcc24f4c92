"""gRPC's engine: each service package chooses it on import, before grpc loads; an operator's
own GRPC_EXPERIMENTS wins. Checked in fresh interpreters, since grpc reads it once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from opensqt_common.grpc_transport import EXPERIMENTS_ENV, LOW_LATENCY_EXPERIMENTS

_REPORT = """
import json, os, sys
{imports}
print(json.dumps({{"experiments": os.environ.get("GRPC_EXPERIMENTS"), "grpc_loaded": "grpc" in sys.modules}}))
"""


def _run(imports: str, **env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if k != EXPERIMENTS_ENV}
    clean.update(env)
    done = subprocess.run(
        [sys.executable, "-c", _REPORT.format(imports=imports)],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("package", ["opensqt_connector", "opensqt_risk", "opensqt_engine"])
def test_importing_a_service_sets_the_low_latency_engine_before_grpc_loads(package: str) -> None:
    report = _run(f"import {package}.__main__")
    assert report == {"experiments": LOW_LATENCY_EXPERIMENTS, "grpc_loaded": True}


def test_an_operators_own_setting_is_kept_even_when_empty() -> None:
    assert _run("import opensqt_engine.__main__", GRPC_EXPERIMENTS="")["experiments"] == ""
    chosen = "-event_engine_client"
    assert _run("import opensqt_connector.__main__", GRPC_EXPERIMENTS=chosen)["experiments"] == chosen


def test_nothing_is_set_once_grpc_is_loaded_since_it_would_not_take_effect() -> None:
    report = _run(
        "import grpc\n"
        "from opensqt_common.grpc_transport import prefer_low_latency_transport\n"
        "assert prefer_low_latency_transport() is False"
    )
    assert report == {"experiments": None, "grpc_loaded": True}
