"""The Binance replica's markets and their exchangeInfo entries (spot and USDⓈ-M).

Increments follow the live BTCUSDT / ETHUSDT listings: spot ticks 0.01, steps
0.00001 BTC / 0.0001 ETH, NOTIONAL filter 5 USDT; USDⓈ-M ticks 0.1 / 0.01, steps
0.001, MIN_NOTIONAL 100 / 20 USDT.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from opensqt_common.decimals import format_decimal
from opensqt_common.enums import MarketType, Venue
from opensqt_connector.models import MarketInfo

PERPETUAL_DELIVERY_DATE = 4133404800000
ONBOARD_DATE = 1569398400000


@dataclass(frozen=True, slots=True)
class BinanceMarket:
    info: MarketInfo
    start_price: Decimal
    max_quantity: Decimal

    @property
    def spot(self) -> bool:
        return self.info.market_type is MarketType.SPOT

    @property
    def venue_symbol(self) -> str:
        return self.info.venue_symbol


def _market(
    symbol: str,
    *,
    tick: str,
    step: str,
    min_notional: str,
    start: str,
    max_qty: str,
    maker: str,
    taker: str,
    leverage: int,
) -> BinanceMarket:
    pair, _, settle = symbol.partition(":")
    base, quote = pair.split("/")
    perp = bool(settle)
    return BinanceMarket(
        MarketInfo(
            symbol=symbol,
            venue_symbol=base + quote,
            venue=Venue.BINANCE,
            market_type=MarketType.LINEAR_PERPETUAL if perp else MarketType.SPOT,
            base=base,
            quote=quote,
            settle=settle or quote,
            tick_size=Decimal(tick),
            step_size=Decimal(step),
            min_quantity=Decimal(step),
            min_notional=Decimal(min_notional),
            contract_size=Decimal(1),
            maker_fee=Decimal(maker),
            taker_fee=Decimal(taker),
            max_leverage=Decimal(leverage),
        ),
        Decimal(start),
        Decimal(max_qty),
    )


DEFAULT_MARKETS: tuple[BinanceMarket, ...] = (
    _market(
        "BTC/USDT",
        tick="0.01",
        step="0.00001",
        min_notional="5",
        start="60000",
        max_qty="9000",
        maker="0.001",
        taker="0.001",
        leverage=1,
    ),
    _market(
        "ETH/USDT",
        tick="0.01",
        step="0.0001",
        min_notional="5",
        start="3000",
        max_qty="9000",
        maker="0.001",
        taker="0.001",
        leverage=1,
    ),
    _market(
        "BTC/USDT:USDT",
        tick="0.1",
        step="0.001",
        min_notional="100",
        start="60000",
        max_qty="1000",
        maker="0.0002",
        taker="0.0005",
        leverage=125,
    ),
    _market(
        "ETH/USDT:USDT",
        tick="0.01",
        step="0.001",
        min_notional="20",
        start="3000",
        max_qty="10000",
        maker="0.0002",
        taker="0.0005",
        leverage=100,
    ),
)


def _s(value: Decimal) -> str:
    return format_decimal(value)


def _digits(increment: Decimal) -> int:
    exponent = increment.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def spot_symbol_entry(market: BinanceMarket) -> dict[str, Any]:
    """One `symbols[]` entry of GET /api/v3/exchangeInfo."""
    info = market.info
    return {
        "symbol": info.venue_symbol,
        "status": "TRADING",
        "baseAsset": info.base,
        "baseAssetPrecision": 8,
        "quoteAsset": info.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": [
            "LIMIT",
            "LIMIT_MAKER",
            "MARKET",
            "STOP_LOSS",
            "STOP_LOSS_LIMIT",
            "TAKE_PROFIT",
            "TAKE_PROFIT_LIMIT",
        ],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": _s(info.tick_size),
                "maxPrice": "1000000.00000000",
                "tickSize": _s(info.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": _s(info.min_quantity),
                "maxQty": _s(market.max_quantity),
                "stepSize": _s(info.step_size),
            },
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": "0.00000000",
                "maxQty": "100.00000000",
                "stepSize": "0.00000000",
            },
            {
                "filterType": "TRAILING_DELTA",
                "minTrailingAboveDelta": 10,
                "maxTrailingAboveDelta": 2000,
                "minTrailingBelowDelta": 10,
                "maxTrailingBelowDelta": 2000,
            },
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": "5",
                "bidMultiplierDown": "0.2",
                "askMultiplierUp": "5",
                "askMultiplierDown": "0.2",
                "avgPriceMins": 5,
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": _s(info.min_notional),
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def futures_symbol_entry(market: BinanceMarket) -> dict[str, Any]:
    """One `symbols[]` entry of GET /fapi/v1/exchangeInfo."""
    info = market.info
    return {
        "symbol": info.venue_symbol,
        "pair": info.venue_symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": PERPETUAL_DELIVERY_DATE,
        "onboardDate": ONBOARD_DATE,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": info.base,
        "quoteAsset": info.quote,
        "marginAsset": info.settle,
        "pricePrecision": _digits(info.tick_size),
        "quantityPrecision": _digits(info.step_size),
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": ["PoW"],
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": _s(info.tick_size),
                "maxPrice": "4529764",
                "tickSize": _s(info.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": _s(info.min_quantity),
                "maxQty": _s(market.max_quantity),
                "stepSize": _s(info.step_size),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": _s(info.min_quantity),
                "maxQty": "120",
                "stepSize": _s(info.step_size),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": _s(info.min_notional)},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": [
            "LIMIT",
            "MARKET",
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "permissionSets": ["GRID", "COPY"],
    }


RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
    {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
]


def spot_exchange_info(markets: list[BinanceMarket], server_time: int) -> dict[str, Any]:
    return {
        "timezone": "UTC",
        "serverTime": server_time,
        "rateLimits": RATE_LIMITS,
        "exchangeFilters": [],
        "symbols": [spot_symbol_entry(m) for m in markets if m.spot],
    }


def futures_exchange_info(markets: list[BinanceMarket], server_time: int) -> dict[str, Any]:
    assets = sorted({m.info.settle for m in markets if not m.spot})
    return {
        "timezone": "UTC",
        "serverTime": server_time,
        "futuresType": "U_MARGINED",
        "rateLimits": RATE_LIMITS,
        "exchangeFilters": [],
        "assets": [{"asset": a, "marginAvailable": True, "autoAssetExchange": "-10000"} for a in assets],
        "symbols": [futures_symbol_entry(m) for m in markets if not m.spot],
    }
