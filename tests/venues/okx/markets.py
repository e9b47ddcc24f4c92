"""The OKX replica's instruments (v5 SPOT and linear USDT SWAP) and their
GET /api/v5/public/instruments entries.

Increments follow the live listings: BTC-USDT spot tickSz 0.1, lotSz 0.00000001,
minSz 0.00001; ETH-USDT spot tickSz 0.01, lotSz 0.000001, minSz 0.0001;
BTC-USDT-SWAP ctVal 0.01 BTC, tickSz 0.1, lotSz/minSz 0.01 contracts;
ETH-USDT-SWAP ctVal 0.1 ETH, tickSz 0.01, lotSz/minSz 0.01 contracts. OKX has no
minimum notional. Fees are the regular tier (spot 0.08 % / 0.1 %, swap 0.02 % / 0.05 %).

SWAP sizes on the wire are contracts; the shared core keeps base units, so every
size crosses `to_base` / `to_venue` (exact: ctVal is a power of ten).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from opensqt_common.decimals import format_decimal
from opensqt_common.enums import MarketType, Venue
from opensqt_connector.models import MarketInfo

LIST_TIME_MS = 1606468572000


@dataclass(frozen=True, slots=True)
class OkxMarket:
    info: MarketInfo  # base units, as the core trades it
    start_price: Decimal
    tick_sz: Decimal
    lot_sz: Decimal  # venue units: base for SPOT, contracts for SWAP
    min_sz: Decimal
    max_lmt_sz: Decimal
    max_mkt_sz: Decimal
    ct_val: Decimal  # base per contract (1 for SPOT)
    lever: int

    @property
    def spot(self) -> bool:
        return self.info.market_type is MarketType.SPOT

    @property
    def inst_id(self) -> str:
        return self.info.venue_symbol

    @property
    def inst_type(self) -> str:
        return "SPOT" if self.spot else "SWAP"

    def to_base(self, size: Decimal) -> Decimal:
        return size * self.ct_val

    def to_venue(self, quantity: Decimal) -> Decimal:
        return quantity / self.ct_val


def _market(
    symbol: str,
    *,
    tick: str,
    lot: str,
    min_sz: str,
    ct_val: str,
    start: str,
    maker: str,
    taker: str,
    lever: int,
    max_lmt: str,
    max_mkt: str,
) -> OkxMarket:
    pair, _, settle = symbol.partition(":")
    base, quote = pair.split("/")
    swap = bool(settle)
    contract = Decimal(ct_val)
    return OkxMarket(
        info=MarketInfo(
            symbol=symbol,
            venue_symbol=f"{base}-{quote}-SWAP" if swap else f"{base}-{quote}",
            venue=Venue.OKX,
            market_type=MarketType.LINEAR_PERPETUAL if swap else MarketType.SPOT,
            base=base,
            quote=quote,
            settle=settle or quote,
            tick_size=Decimal(tick),
            step_size=Decimal(lot) * contract,
            min_quantity=Decimal(min_sz) * contract,
            min_notional=Decimal(0),
            contract_size=contract,
            maker_fee=Decimal(maker),
            taker_fee=Decimal(taker),
            max_leverage=Decimal(lever if swap else 1),
        ),
        start_price=Decimal(start),
        tick_sz=Decimal(tick),
        lot_sz=Decimal(lot),
        min_sz=Decimal(min_sz),
        max_lmt_sz=Decimal(max_lmt),
        max_mkt_sz=Decimal(max_mkt),
        ct_val=contract,
        lever=lever,
    )


DEFAULT_MARKETS: tuple[OkxMarket, ...] = (
    _market(
        "BTC/USDT",
        tick="0.1",
        lot="0.00000001",
        min_sz="0.00001",
        ct_val="1",
        start="60000",
        maker="0.0008",
        taker="0.001",
        lever=10,
        max_lmt="9999999999",
        max_mkt="1000000",
    ),
    _market(
        "ETH/USDT",
        tick="0.01",
        lot="0.000001",
        min_sz="0.0001",
        ct_val="1",
        start="3000",
        maker="0.0008",
        taker="0.001",
        lever=10,
        max_lmt="9999999999",
        max_mkt="1000000",
    ),
    _market(
        "BTC/USDT:USDT",
        tick="0.1",
        lot="0.01",
        min_sz="0.01",
        ct_val="0.01",
        start="60000",
        maker="0.0002",
        taker="0.0005",
        lever=100,
        max_lmt="100000000",
        max_mkt="12000",
    ),
    _market(
        "ETH/USDT:USDT",
        tick="0.01",
        lot="0.01",
        min_sz="0.01",
        ct_val="0.1",
        start="3000",
        maker="0.0002",
        taker="0.0005",
        lever=100,
        max_lmt="100000000",
        max_mkt="12000",
    ),
)


def _s(value: Decimal) -> str:
    return format_decimal(value)


def instrument(market: OkxMarket) -> dict[str, Any]:
    """One entry of GET /api/v5/public/instruments."""
    info = market.info
    common: dict[str, Any] = {
        "alias": "",
        "auctionEndTime": "",
        "contTdSwTime": "",
        "expTime": "",
        "futureSettlement": False,
        "instId": market.inst_id,
        "instType": market.inst_type,
        "lever": str(market.lever),
        "listTime": str(LIST_TIME_MS),
        "lotSz": _s(market.lot_sz),
        "maxIcebergSz": "9999999999.0000000000000000",
        "maxLmtAmt": "20000000",
        "maxLmtSz": _s(market.max_lmt_sz),
        "maxMktAmt": "1000000",
        "maxMktSz": _s(market.max_mkt_sz),
        "maxStopSz": _s(market.max_mkt_sz),
        "maxTriggerSz": "9999999999.0000000000000000",
        "maxTwapSz": "9999999999.0000000000000000",
        "minSz": _s(market.min_sz),
        "openType": "",
        "optType": "",
        "ruleType": "normal",
        "state": "live",
        "stk": "",
        "tickSz": _s(market.tick_sz),
        "tradeQuoteCcyList": [info.quote] if market.spot else [],
    }
    if market.spot:
        return common | {
            "baseCcy": info.base,
            "category": "1",
            "ctMult": "",
            "ctType": "",
            "ctVal": "",
            "ctValCcy": "",
            "instFamily": "",
            "quoteCcy": info.quote,
            "settleCcy": "",
            "uly": "",
        }
    family = f"{info.base}-{info.quote}"
    return common | {
        "baseCcy": "",
        "category": "1",
        "ctMult": "1",
        "ctType": "linear",
        "ctVal": _s(market.ct_val),
        "ctValCcy": info.base,
        "instFamily": family,
        "quoteCcy": "",
        "settleCcy": info.settle,
        "uly": family,
    }


def currency_entries(assets: list[str]) -> list[dict[str, Any]]:
    """GET /api/v5/asset/currencies: one chain per asset (what ccxt's loadMarkets reads)."""
    chains = {"BTC": "BTC-Bitcoin", "ETH": "ETH-ERC20", "USDT": "USDT-TRC20"}
    return [
        {
            "ccy": asset,
            "name": asset,
            "chain": chains.get(asset, f"{asset}-ERC20"),
            "canDep": True,
            "canWd": True,
            "canInternal": True,
            "minDep": "0.00000001",
            "minWd": "0.001",
            "maxWd": "500",
            "wdTickSz": "8",
            "wdQuota": "10000000",
            "usedWdQuota": "0",
            "minFee": "0.0002",
            "maxFee": "0.0004",
            "mainNet": True,
            "needTag": False,
            "minDepArrivalConfirm": "1",
            "minWdUnlockConfirm": "2",
            "depQuotaFixed": "",
            "usedDepQuotaFixed": "",
            "depQuoteDailyLayer2": "",
        }
        for asset in assets
    ]
