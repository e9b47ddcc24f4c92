"""Deterministic client order ids: (strategy id, level index, side, generation) <-> text.

Layout: ``<strategy><B|S><P|N><level base36>G<generation base36>``, for example
``grid1BP1aG43`` = strategy "grid1", buy, level +46, generation 147.

- Only [A-Za-z0-9]: OKX forbids '-' and '_', Gate prepends its own "t-", and every venue accepts
  plain alphanumerics. At most 24 characters, under every venue's cap (Gate 28, OKX 32, Binance 36).
- The strategy id is lowercase [a-z0-9]{1,8}; every structural marker is uppercase, so the
  strategy part ends unambiguously at the first uppercase letter. Strategy "ab" can therefore
  never mistake an order of strategy "abb" for its own.
- Numbers are lowercase base 36 without leading zeros, so each tuple has exactly one text and
  parsing is strict: anything else is "not ours" (None), never a guess.
- Ids are case-sensitive on every supported venue; the connector must pass them through as is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opensqt_common.enums import Side

from .config import STRATEGY_ID_PATTERN

MAX_LENGTH = 24
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
LEVEL_DIGITS = 6
GENERATION_DIGITS = 7
MAX_LEVEL_MAGNITUDE = 36**LEVEL_DIGITS - 1
MAX_GENERATION = 36**GENERATION_DIGITS - 1

_PATTERN = re.compile(r"([a-z0-9]{1,8})([BS])([PN])(0|[1-9a-z][0-9a-z]{0,5})G(0|[1-9a-z][0-9a-z]{0,6})")
_SIDE_CODE = {Side.BUY: "B", Side.SELL: "S"}
_CODE_SIDE = {"B": Side.BUY, "S": Side.SELL}


@dataclass(frozen=True, slots=True)
class ClientOrderId:
    strategy_id: str
    level_index: int
    side: Side
    generation: int

    def encode(self) -> str:
        return encode_client_order_id(self.strategy_id, self.level_index, self.side, self.generation)


def validate_strategy_id(strategy_id: str) -> str:
    if not STRATEGY_ID_PATTERN.fullmatch(strategy_id):
        raise ValueError(f"strategy id must match [a-z0-9]{{1,8}}, got {strategy_id!r}")
    return strategy_id


def _base36(value: int) -> str:
    if value == 0:
        return "0"
    out = []
    while value:
        value, digit = divmod(value, 36)
        out.append(_DIGITS[digit])
    return "".join(reversed(out))


def encode_client_order_id(strategy_id: str, level_index: int, side: Side, generation: int) -> str:
    """The one client order id of this (strategy, level, side, generation)."""
    validate_strategy_id(strategy_id)
    if abs(level_index) > MAX_LEVEL_MAGNITUDE:
        raise ValueError(f"level index {level_index} is out of range (|k| <= {MAX_LEVEL_MAGNITUDE})")
    if not 0 <= generation <= MAX_GENERATION:
        raise ValueError(f"generation {generation} is out of range (0..{MAX_GENERATION})")
    sign = "N" if level_index < 0 else "P"
    return f"{strategy_id}{_SIDE_CODE[side]}{sign}{_base36(abs(level_index))}G{_base36(generation)}"


def parse_client_order_id(text: str) -> ClientOrderId | None:
    """The tuple behind an id made by `encode_client_order_id`, or None for any other text."""
    if len(text) > MAX_LENGTH:
        return None
    match = _PATTERN.fullmatch(text)
    if match is None:
        return None
    strategy_id, side_code, sign, level_text, generation_text = match.groups()
    magnitude = int(level_text, 36)
    if sign == "N" and magnitude == 0:
        return None  # "-0" is not canonical
    level_index = -magnitude if sign == "N" else magnitude
    return ClientOrderId(strategy_id, level_index, _CODE_SIDE[side_code], int(generation_text, 36))


def is_own_client_order_id(text: str, strategy_id: str) -> bool:
    """True when `text` is a well-formed id of this strategy."""
    parsed = parse_client_order_id(text)
    return parsed is not None and parsed.strategy_id == strategy_id
