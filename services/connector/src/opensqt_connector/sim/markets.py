"""Default market definitions and start prices of the `sim` venue.

A unified symbol `BASE/QUOTE` is a spot market and `BASE/QUOTE:SETTLE` a linear
perpetual (settled in the quote asset). Well-known bases get venue-like increments;
any other base gets a generic definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from opensqt_common.enums import MarketType, Venue
from opensqt_connector.models import MarketInfo

DEFAULT_SYMBOL = "BTC/USDT:USDT"

PERP_MAKER_FEE = Decimal("0.0002")
PERP_TAKER_FEE = Decimal("0.0005")
SPOT_MAKER_FEE = Decimal("0.001")
SPOT_TAKER_FEE = Decimal("0.001")
PERP_MAX_LEVERAGE = Decimal(125)
MIN_NOTIONAL = Decimal(5)


@dataclass(frozen=True, slots=True)
class _Increments:
    tick_size: Decimal
    step_size: Decimal
    start_price: Decimal


_KNOWN_BASES = {
    "BTC": _Increments(Decimal("0.1"), Decimal("0.001"), Decimal(60000)),
    "ETH": _Increments(Decimal("0.01"), Decimal("0.001"), Decimal(3000)),
    "SOL": _Increments(Decimal("0.01"), Decimal("0.01"), Decimal(150)),
    "BNB": _Increments(Decimal("0.01"), Decimal("0.01"), Decimal(600)),
    "XRP": _Increments(Decimal("0.0001"), Decimal("0.1"), Decimal("0.6")),
    "DOGE": _Increments(Decimal("0.00001"), Decimal(1), Decimal("0.15")),
}
_GENERIC = _Increments(Decimal("0.01"), Decimal("0.01"), Decimal(100))


class SymbolFormatError(ValueError):
    """A symbol is not `BASE/QUOTE` or `BASE/QUOTE:QUOTE`."""


@dataclass(frozen=True, slots=True)
class ParsedSymbol:
    base: str
    quote: str
    settle: str
    market_type: MarketType


def parse_symbol(symbol: str) -> ParsedSymbol:
    pair, _, settle = symbol.partition(":")
    base, slash, quote = pair.partition("/")
    if not slash or not base or not quote or "/" in quote or (":" in symbol and not settle):
        raise SymbolFormatError(
            f"symbol {symbol!r} must look like BASE/QUOTE (spot) or BASE/QUOTE:QUOTE (perp)"
        )
    if not settle:
        return ParsedSymbol(base, quote, quote, MarketType.SPOT)
    if settle != quote:
        raise SymbolFormatError(
            f"symbol {symbol!r}: only linear perpetuals (settled in {quote}) are simulated"
        )
    return ParsedSymbol(base, quote, settle, MarketType.LINEAR_PERPETUAL)


def default_market(symbol: str) -> MarketInfo:
    """The sim's definition of `symbol` (raises SymbolFormatError for a malformed one)."""
    parsed = parse_symbol(symbol)
    increments = _KNOWN_BASES.get(parsed.base, _GENERIC)
    perp = parsed.market_type is MarketType.LINEAR_PERPETUAL
    return MarketInfo(
        symbol=symbol,
        venue_symbol=f"{parsed.base}{parsed.quote}" + ("-PERP" if perp else ""),
        venue=Venue.SIM,
        market_type=parsed.market_type,
        base=parsed.base,
        quote=parsed.quote,
        settle=parsed.settle,
        tick_size=increments.tick_size,
        step_size=increments.step_size,
        min_quantity=increments.step_size,
        min_notional=MIN_NOTIONAL,
        contract_size=Decimal(1),
        maker_fee=PERP_MAKER_FEE if perp else SPOT_MAKER_FEE,
        taker_fee=PERP_TAKER_FEE if perp else SPOT_TAKER_FEE,
        max_leverage=PERP_MAX_LEVERAGE if perp else Decimal(1),
    )


def default_start_price(symbol: str) -> Decimal:
    return _KNOWN_BASES.get(parse_symbol(symbol).base, _GENERIC).start_price
