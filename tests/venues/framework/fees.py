"""How a venue reports a fill's fee.

Spot venues (Binance, Bybit) take the fee out of what the trade pays out: the base
asset on a buy, the quote asset on a sell; perpetuals charge the settle asset. The
shared sim core charges every fee in the quote asset, so a spot buy's fee is
re-expressed in base units (quantity · rate, exact) for the venue's payloads; the
replica's balances keep the sim's accounting (documented deviation).
"""

from __future__ import annotations

from decimal import Decimal

from opensqt_common.enums import MarketType, Side
from opensqt_connector.models import FillInfo, MarketInfo


def fee_rate(fill: FillInfo, market: MarketInfo) -> Decimal:
    return market.maker_fee if fill.maker else market.taker_fee


def venue_fee(fill: FillInfo, market: MarketInfo) -> tuple[Decimal, str]:
    """(fee amount, fee asset) as the venue reports it for this fill."""
    if market.market_type is MarketType.SPOT and fill.side is Side.BUY:
        return fill.quantity * fee_rate(fill, market), market.base
    return fill.fee, fill.fee_asset
