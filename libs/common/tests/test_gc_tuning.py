from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from opensqt_common.gc_tuning import tune_gc_after_start


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_start_up_objects_are_frozen_and_young_collections_are_rarer() -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    survivor = [object() for _ in range(100)]

    tune_gc_after_start(12_345)

    assert gc.get_threshold() == (12_345, 10, 10)
    assert gc.get_freeze_count() >= len(survivor)


def test_a_threshold_that_would_disable_collection_is_refused() -> None:
    with pytest.raises(ValueError, match="young_threshold must be positive"):
        tune_gc_after_start(0)
