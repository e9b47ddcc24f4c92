"""Deterministic client order ids: format, limits and strict parsing."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opensqt_common.enums import Side
from opensqt_engine.core import (
    ClientOrderId,
    encode_client_order_id,
    is_own_client_order_id,
    parse_client_order_id,
    validate_strategy_id,
)
from opensqt_engine.core.client_ids import MAX_GENERATION, MAX_LENGTH, MAX_LEVEL_MAGNITUDE

ALNUM = re.compile(r"[A-Za-z0-9]+")


def test_known_examples() -> None:
    assert encode_client_order_id("grid1", 46, Side.BUY, 147) == "grid1BP1aG43"
    assert encode_client_order_id("g", -1, Side.SELL, 0) == "gSN1G0"
    assert encode_client_order_id("g", 0, Side.BUY, 35) == "gBP0Gz"


def test_worst_case_length_is_within_every_venue_limit() -> None:
    longest = encode_client_order_id("abcdefgh", -MAX_LEVEL_MAGNITUDE, Side.SELL, MAX_GENERATION)
    assert len(longest) == MAX_LENGTH == 24
    assert ALNUM.fullmatch(longest)


@given(
    strategy_id=st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True),
    level=st.integers(-MAX_LEVEL_MAGNITUDE, MAX_LEVEL_MAGNITUDE),
    side=st.sampled_from(Side),
    generation=st.integers(0, MAX_GENERATION),
)
def test_round_trip_and_charset(strategy_id: str, level: int, side: Side, generation: int) -> None:
    text = encode_client_order_id(strategy_id, level, side, generation)
    assert ALNUM.fullmatch(text)
    assert len(text) <= MAX_LENGTH
    assert parse_client_order_id(text) == ClientOrderId(strategy_id, level, side, generation)
    assert ClientOrderId(strategy_id, level, side, generation).encode() == text
    assert is_own_client_order_id(text, strategy_id)


@given(
    a=st.tuples(st.integers(-1000, 1000), st.sampled_from(Side), st.integers(0, 10_000)),
    b=st.tuples(st.integers(-1000, 1000), st.sampled_from(Side), st.integers(0, 10_000)),
)
def test_distinct_tuples_give_distinct_ids(a: tuple[int, Side, int], b: tuple[int, Side, int]) -> None:
    if a != b:
        assert encode_client_order_id("s", *a) != encode_client_order_id("s", *b)


def test_prefix_of_another_strategy_is_not_ours() -> None:
    other = encode_client_order_id("abb", 1, Side.SELL, 0)
    assert not is_own_client_order_id(other, "ab")
    assert is_own_client_order_id(other, "abb")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "grid1",
        "grid1BP01G0",  # leading zero in level
        "grid1BP1G00",  # leading zero in generation
        "grid1BN0G0",  # negative zero
        "grid1XP1G0",  # unknown side
        "Grid1BP1G0",  # uppercase strategy
        "grid1-BP1G0",
        "abcdefghiBP1G0",  # strategy id too long
        "grid1BP1G0extra",
        "grid1BP1234567G0",  # level has too many digits
    ],
)
def test_parse_rejects_anything_not_canonical(text: str) -> None:
    assert parse_client_order_id(text) is None


def test_encode_limits() -> None:
    with pytest.raises(ValueError, match="level index"):
        encode_client_order_id("g", MAX_LEVEL_MAGNITUDE + 1, Side.BUY, 0)
    with pytest.raises(ValueError, match="generation"):
        encode_client_order_id("g", 0, Side.BUY, MAX_GENERATION + 1)
    with pytest.raises(ValueError, match="generation"):
        encode_client_order_id("g", 0, Side.BUY, -1)
    with pytest.raises(ValueError, match="strategy id"):
        encode_client_order_id("G", 0, Side.BUY, 0)


def test_validate_strategy_id() -> None:
    assert validate_strategy_id("a1") == "a1"
    with pytest.raises(ValueError, match="strategy id"):
        validate_strategy_id("a_1")
