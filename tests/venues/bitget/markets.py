"""The Bitget replica's markets (v2 spot and USDT-FUTURES perpetuals) and their
/api/v2/spot/public/symbols and /api/v2/mix/market/contracts entries.

Increments follow the live listings: BTCUSDT spot pricePrecision 2, quantityPrecision 6,
minTradeUSDT 1; ETHUSDT spot 2 / 4; BTCUSDT perpetual pricePlace 1 (tick 0.1),
sizeMultiplier 0.0001, minTradeNum 0.0001, minTradeUSDT 5; ETHUSDT perpetual pricePlace
2, sizeMultiplier 0.01. Mix sizes are base coin (contract size 1). Fees: spot 0.1 %,
futures maker 0.02 % / taker 0.06 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from opensqt_common.decimals import format_decimal
from opensqt_common.enums import MarketType, Venue
from opensqt_connector.models import MarketInfo

PRODUCT_TYPE = "USDT-FUTURES"
PRODUCT_TYPES = (
    "USDT-FUTURES",
    "COIN-FUTURES",
    "USDC-FUTURES",
    "SUSDT-FUTURES",
    "SCOIN-FUTURES",
    "SUSDC-FUTURES",
)
LAUNCH_TIME_MS = 1_532_454_360_000


@dataclass(frozen=True, slots=True)
class BitgetMarket:
    info: MarketInfo
    start_price: Decimal
    leverage_max: int

    @property
    def spot(self) -> bool:
        return self.info.market_type is MarketType.SPOT

    @property
    def market_id(self) -> str:
        return self.info.venue_symbol

    @property
    def inst_type(self) -> str:
        return "SPOT" if self.spot else PRODUCT_TYPE


def _market(
    symbol: str, *, tick: str, step: str, min_usdt: str, start: str, maker: str, taker: str, leverage: int
) -> BitgetMarket:
    pair, _, settle = symbol.partition(":")
    base, quote = pair.split("/")
    perp = bool(settle)
    return BitgetMarket(
        info=MarketInfo(
            symbol=symbol,
            venue_symbol=base + quote,
            venue=Venue.BITGET,
            market_type=MarketType.LINEAR_PERPETUAL if perp else MarketType.SPOT,
            base=base,
            quote=quote,
            settle=settle or quote,
            tick_size=Decimal(tick),
            step_size=Decimal(step),
            min_quantity=Decimal(step),
            min_notional=Decimal(min_usdt),
            contract_size=Decimal(1),
            maker_fee=Decimal(maker),
            taker_fee=Decimal(taker),
            max_leverage=Decimal(leverage if perp else 1),
        ),
        start_price=Decimal(start),
        leverage_max=leverage,
    )


DEFAULT_MARKETS: tuple[BitgetMarket, ...] = (
    _market(
        "BTC/USDT",
        tick="0.01",
        step="0.000001",
        min_usdt="1",
        start="60000",
        maker="0.001",
        taker="0.001",
        leverage=1,
    ),
    _market(
        "ETH/USDT",
        tick="0.01",
        step="0.0001",
        min_usdt="1",
        start="3000",
        maker="0.001",
        taker="0.001",
        leverage=1,
    ),
    _market(
        "BTC/USDT:USDT",
        tick="0.1",
        step="0.0001",
        min_usdt="5",
        start="60000",
        maker="0.0002",
        taker="0.0006",
        leverage=125,
    ),
    _market(
        "ETH/USDT:USDT",
        tick="0.01",
        step="0.01",
        min_usdt="5",
        start="3000",
        maker="0.0002",
        taker="0.0006",
        leverage=100,
    ),
)


def _s(value: Decimal) -> str:
    return format_decimal(value)


def _digits(increment: Decimal) -> int:
    exponent = increment.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def spot_symbol(market: BitgetMarket) -> dict[str, Any]:
    """One entry of GET /api/v2/spot/public/symbols."""
    info = market.info
    return {
        "symbol": market.market_id,
        "baseCoin": info.base,
        "quoteCoin": info.quote,
        "minTradeAmount": "0",
        "maxTradeAmount": "900000000000000000000",
        "takerFeeRate": _s(info.taker_fee),
        "makerFeeRate": _s(info.maker_fee),
        "pricePrecision": str(_digits(info.tick_size)),
        "quantityPrecision": str(_digits(info.step_size)),
        "quotePrecision": "8",
        "status": "online",
        "minTradeUSDT": _s(info.min_notional),
        "buyLimitPriceRatio": "0.05",
        "sellLimitPriceRatio": "0.05",
        "areaSymbol": "no",
        "orderQuantity": "200",
        "openTime": str(LAUNCH_TIME_MS),
        "offTime": "",
    }


def mix_contract(market: BitgetMarket) -> dict[str, Any]:
    """One entry of GET /api/v2/mix/market/contracts?productType=USDT-FUTURES."""
    info = market.info
    tick = info.tick_size.normalize()
    exponent = tick.as_tuple().exponent
    assert isinstance(exponent, int)
    return {
        "symbol": market.market_id,
        "baseCoin": info.base,
        "quoteCoin": info.quote,
        "buyLimitPriceRatio": "0.05",
        "sellLimitPriceRatio": "0.05",
        "feeRateUpRatio": "0.005",
        "makerFeeRate": _s(info.maker_fee),
        "takerFeeRate": _s(info.taker_fee),
        "openCostUpRatio": "0.01",
        "supportMarginCoins": [info.settle],
        "minTradeNum": _s(info.min_quantity),
        "priceEndStep": str(tick.as_tuple().digits[-1]),
        "volumePlace": str(_digits(info.step_size)),
        "pricePlace": str(_digits(info.tick_size)),
        "sizeMultiplier": _s(info.step_size),
        "symbolType": "perpetual",
        "minTradeUSDT": _s(info.min_notional),
        "maxSymbolOrderNum": "200",
        "maxProductOrderNum": "400",
        "maxPositionNum": "150",
        "symbolStatus": "normal",
        "offTime": "-1",
        "limitOpenTime": "-1",
        "deliveryTime": "",
        "deliveryStartTime": "",
        "deliveryPeriod": "",
        "launchTime": "",
        "fundInterval": "8",
        "minLever": "1",
        "maxLever": str(market.leverage_max),
        "posLimit": "0.1",
        "maintainTime": "",
        "maxMarketOrderQty": "1200",
        "maxOrderQty": "1200",
    }


def coin(asset: str) -> dict[str, Any]:
    """One entry of GET /api/v2/spot/public/coins."""
    chain = {"BTC": "BTC", "ETH": "ERC20", "USDT": "TRC20"}.get(asset, "ERC20")
    return {
        "coinId": str(sum(map(ord, asset))),
        "coin": asset,
        "transfer": "true",
        "chains": [
            {
                "chain": chain,
                "needTag": "false",
                "withdrawable": "true",
                "rechargeable": "true",
                "withdrawFee": "0.0005",
                "extraWithdrawFee": "0",
                "depositConfirm": "1",
                "withdrawConfirm": "1",
                "minDepositAmount": "0.0001",
                "minWithdrawAmount": "0.001",
                "browserUrl": "",
                "contractAddress": "",
                "withdrawStep": "0",
                "withdrawMinScale": "8",
                "congestion": "normal",
            }
        ],
        "areaCoin": "no",
    }
