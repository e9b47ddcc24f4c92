"""The slot lifecycle table and order-progress bookkeeping."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from opensqt_common.enums import Side
from opensqt_engine.core import SLOT_TRANSITIONS, IllegalSlotTransition, Slot, SlotStatus

D = Decimal
FREE, PENDING, LOCKED = SlotStatus.FREE, SlotStatus.PENDING, SlotStatus.LOCKED


def test_the_table_is_exactly_the_documented_lifecycle() -> None:
    assert {(FREE, PENDING), (PENDING, LOCKED), (PENDING, FREE), (LOCKED, FREE)} == SLOT_TRANSITIONS


@pytest.mark.parametrize(
    ("start", "to"),
    [pair for pair in itertools.product(SlotStatus, SlotStatus) if pair not in SLOT_TRANSITIONS],
)
def test_every_other_move_raises(start: SlotStatus, to: SlotStatus) -> None:
    slot = Slot(0, D("100"), status=start)
    with pytest.raises(IllegalSlotTransition):
        slot.move(to)
    assert slot.status is start


def test_open_and_close_order() -> None:
    slot = Slot(3, D("103"), position=D("0.5"))
    slot.open_order("cid", Side.SELL, D("104"), D("0.5"), post_only=True, reduce_only=True)
    assert slot.status is PENDING
    assert (slot.client_order_id, slot.side, slot.order_quantity) == ("cid", Side.SELL, D("0.5"))
    with pytest.raises(IllegalSlotTransition):
        slot.open_order("cid2", Side.SELL, D("104"), D("0.5"), post_only=True, reduce_only=True)
    slot.move(LOCKED)
    slot.close_order()
    assert slot.status is FREE
    assert slot.client_order_id == ""
    assert slot.side is None
    assert slot.position == D("0.5")  # closing the order keeps the position


def test_progress_takes_the_larger_source_and_never_counts_twice() -> None:
    slot = Slot(0, D("100"))
    slot.open_order("c", Side.BUY, D("100"), D("1"), post_only=True, reduce_only=False)
    slot.fills_quantity = D("0.3")
    assert slot.apply_progress() == D("0.3")
    slot.reported_filled = D("0.3")  # the update for the same trade
    assert slot.apply_progress() == 0
    slot.reported_filled = D("0.5")  # update ahead of its fill
    assert slot.apply_progress() == D("0.2")
    slot.fills_quantity = D("0.5")  # the late fill
    assert slot.apply_progress() == 0
    assert slot.filled_quantity == D("0.5")


def test_progress_is_capped_at_the_order_quantity() -> None:
    slot = Slot(0, D("100"))
    slot.open_order("c", Side.BUY, D("100"), D("1"), post_only=True, reduce_only=False)
    slot.reported_filled = D("1.5")
    assert slot.apply_progress() == D("1")
    assert slot.overfilled
