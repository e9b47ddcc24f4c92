"""The Bybit replica's markets (v5 `spot` and `linear` categories) and their
GET /v5/market/instruments-info entries.

Filters follow the live BTCUSDT / ETHUSDT instruments: spot ticks 0.01 with base
precision 0.000001 BTC / 0.00001 ETH and minOrderAmt 1 USDT; linear ticks 0.10 /
0.01, qty steps 0.001 / 0.01 and minNotionalValue 5 USDT.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from opensqt_common.decimals import format_decimal
from opensqt_common.enums import MarketType, Venue
from opensqt_connector.models import MarketInfo

LAUNCH_TIME = "1585526400000"


@dataclass(frozen=True, slots=True)
class BybitMarket:
    info: MarketInfo
    start_price: Decimal
    max_quantity: Decimal
    tick_text: str  # Bybit prints ticks with trailing zeros ("0.10")

    @property
    def spot(self) -> bool:
        return self.info.market_type is MarketType.SPOT

    @property
    def category(self) -> str:
        return "spot" if self.spot else "linear"

    @property
    def venue_symbol(self) -> str:
        return self.info.venue_symbol


def _market(
    symbol: str,
    *,
    tick: str,
    step: str,
    min_qty: str,
    min_notional: str,
    start: str,
    max_qty: str,
    maker: str,
    taker: str,
    leverage: int,
) -> BybitMarket:
    pair, _, settle = symbol.partition(":")
    base, quote = pair.split("/")
    return BybitMarket(
        MarketInfo(
            symbol=symbol,
            venue_symbol=base + quote,
            venue=Venue.BYBIT,
            market_type=MarketType.LINEAR_PERPETUAL if settle else MarketType.SPOT,
            base=base,
            quote=quote,
            settle=settle or quote,
            tick_size=Decimal(tick),
            step_size=Decimal(step),
            min_quantity=Decimal(min_qty),
            min_notional=Decimal(min_notional),
            contract_size=Decimal(1),
            maker_fee=Decimal(maker),
            taker_fee=Decimal(taker),
            max_leverage=Decimal(leverage),
        ),
        Decimal(start),
        Decimal(max_qty),
        tick,
    )


DEFAULT_MARKETS: tuple[BybitMarket, ...] = (
    _market(
        "BTC/USDT",
        tick="0.01",
        step="0.000001",
        min_qty="0.000048",
        min_notional="1",
        start="60000",
        max_qty="71.73956243",
        maker="0.001",
        taker="0.001",
        leverage=1,
    ),
    _market(
        "ETH/USDT",
        tick="0.01",
        step="0.00001",
        min_qty="0.00062",
        min_notional="1",
        start="3000",
        max_qty="1229.2336343",
        maker="0.001",
        taker="0.001",
        leverage=1,
    ),
    _market(
        "BTC/USDT:USDT",
        tick="0.10",
        step="0.001",
        min_qty="0.001",
        min_notional="5",
        start="60000",
        max_qty="1190.000",
        maker="0.0002",
        taker="0.00055",
        leverage=100,
    ),
    _market(
        "ETH/USDT:USDT",
        tick="0.01",
        step="0.01",
        min_qty="0.01",
        min_notional="5",
        start="3000",
        max_qty="7240.00",
        maker="0.0002",
        taker="0.00055",
        leverage=100,
    ),
)


def _s(value: Decimal) -> str:
    return format_decimal(value)


def spot_instrument(market: BybitMarket) -> dict[str, Any]:
    info = market.info
    return {
        "symbol": info.venue_symbol,
        "baseCoin": info.base,
        "quoteCoin": info.quote,
        "innovation": "0",
        "status": "Trading",
        "marginTrading": "utaOnly",
        "stTag": "0",
        "lotSizeFilter": {
            "basePrecision": _s(info.step_size),
            "quotePrecision": "0.00000001",
            "minOrderQty": _s(info.min_quantity),
            "maxOrderQty": _s(market.max_quantity),
            "minOrderAmt": _s(info.min_notional),
            "maxOrderAmt": "2000000",
        },
        "priceFilter": {"tickSize": market.tick_text},
        "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
    }


def linear_instrument(market: BybitMarket) -> dict[str, Any]:
    info = market.info
    scale = -info.tick_size.normalize().as_tuple().exponent  # type: ignore[operator]
    return {
        "symbol": info.venue_symbol,
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": info.base,
        "quoteCoin": info.quote,
        "launchTime": LAUNCH_TIME,
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": str(max(scale, 0)),
        "leverageFilter": {
            "minLeverage": "1",
            "maxLeverage": f"{info.max_leverage:.2f}",
            "leverageStep": "0.01",
        },
        "priceFilter": {"minPrice": market.tick_text, "maxPrice": "199999.80", "tickSize": market.tick_text},
        "lotSizeFilter": {
            "maxOrderQty": _s(market.max_quantity),
            "minOrderQty": _s(info.min_quantity),
            "qtyStep": _s(info.step_size),
            "postOnlyMaxOrderQty": _s(market.max_quantity),
            "maxMktOrderQty": _s(market.max_quantity / 10),
            "minNotionalValue": _s(info.min_notional),
        },
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "settleCoin": info.settle,
        "copyTrading": "both",
        "upperFundingRate": "0.00375",
        "lowerFundingRate": "-0.00375",
        "isPreListing": False,
        "preListingInfo": None,
        "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
    }
