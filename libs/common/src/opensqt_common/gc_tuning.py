"""Garbage-collector settings for a service's hot path, applied once it has started.

A full collection walks every tracked object; in a started service most of them are
start-up objects that live forever (modules, generated message classes, ccxt's market
tables), so each young-generation collection that escalates costs milliseconds of
pause on the tick-to-order path. Freezing moves them out of the collector's view, and
a larger young-generation threshold makes collections rarer: the hot paths allocate
messages and decimals, which are freed by reference counting, not cycles.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION_THRESHOLD = 50_000


def tune_gc_after_start(young_threshold: int = YOUNG_GENERATION_THRESHOLD) -> None:
    """Freeze what start-up allocated and collect the young generation less often."""
    if young_threshold <= 0:
        raise ValueError(f"young_threshold must be positive, got {young_threshold}")
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, older, oldest)
