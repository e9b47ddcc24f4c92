"""The live runtime around the pure grid core: streams in, orders out, reconciliation, recovery.

`Engine` (in `engine`) is the entry point; the other modules are its parts, each with one job.
"""

from opensqt_engine.runtime.engine import (
    CancelAllResult,
    Engine,
    EngineOptions,
    EngineState,
    StatusView,
)

__all__ = ["CancelAllResult", "Engine", "EngineOptions", "EngineState", "StatusView"]
