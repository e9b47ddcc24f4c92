"""The Gate replica's markets: v4 spot currency pairs and USDT-settled perpetual
futures contracts, with their /spot/currency_pairs and /futures/usdt/contracts entries.

Increments follow the live listings: BTC_USDT spot price precision 1 (tick 0.1),
amount precision 6, min 3 USDT; ETH_USDT spot precision 2, amount precision 4;
BTC_USDT futures quanto_multiplier 0.0001 BTC, order_price_round 0.1, sizes in whole
contracts; ETH_USDT futures quanto_multiplier 0.01 ETH, order_price_round 0.01.
Fees: spot 0.2 %, futures maker 0.02 % / taker 0.05 %.

Futures sizes on the wire are signed whole contracts; the core keeps base units, so
every size crosses `to_base` / `to_contracts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from opensqt_common.decimals import format_decimal
from opensqt_common.enums import MarketType, Venue
from opensqt_connector.models import MarketInfo

LAUNCH_TIME_S = 1_569_398_400


@dataclass(frozen=True, slots=True)
class GateMarket:
    info: MarketInfo
    start_price: Decimal
    quanto: Decimal  # base per contract (futures); 1 for spot
    size_min: int
    size_max: int
    leverage_max: int

    @property
    def spot(self) -> bool:
        return self.info.market_type is MarketType.SPOT

    @property
    def market_id(self) -> str:
        return self.info.venue_symbol

    def to_base(self, contracts: Decimal) -> Decimal:
        return contracts * self.quanto

    def to_contracts(self, quantity: Decimal) -> Decimal:
        return quantity / self.quanto


def _digits(increment: Decimal) -> int:
    exponent = increment.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def _spot(symbol: str, *, tick: str, step: str, min_quote: str, start: str) -> GateMarket:
    base, quote = symbol.split("/")
    return GateMarket(
        info=MarketInfo(
            symbol=symbol,
            venue_symbol=f"{base}_{quote}",
            venue=Venue.GATE,
            market_type=MarketType.SPOT,
            base=base,
            quote=quote,
            settle=quote,
            tick_size=Decimal(tick),
            step_size=Decimal(step),
            min_quantity=Decimal(step),
            min_notional=Decimal(min_quote),
            contract_size=Decimal(1),
            maker_fee=Decimal("0.002"),
            taker_fee=Decimal("0.002"),
            max_leverage=Decimal(1),
        ),
        start_price=Decimal(start),
        quanto=Decimal(1),
        size_min=0,
        size_max=0,
        leverage_max=1,
    )


def _perp(symbol: str, *, tick: str, quanto: str, start: str, leverage: int) -> GateMarket:
    pair, _, settle = symbol.partition(":")
    base, quote = pair.split("/")
    contract = Decimal(quanto)
    return GateMarket(
        info=MarketInfo(
            symbol=symbol,
            venue_symbol=f"{base}_{quote}",
            venue=Venue.GATE,
            market_type=MarketType.LINEAR_PERPETUAL,
            base=base,
            quote=quote,
            settle=settle,
            tick_size=Decimal(tick),
            step_size=contract,
            min_quantity=contract,
            min_notional=Decimal(0),
            contract_size=contract,
            maker_fee=Decimal("0.0002"),
            taker_fee=Decimal("0.0005"),
            max_leverage=Decimal(leverage),
        ),
        start_price=Decimal(start),
        quanto=contract,
        size_min=1,
        size_max=1_000_000,
        leverage_max=leverage,
    )


DEFAULT_MARKETS: tuple[GateMarket, ...] = (
    _spot("BTC/USDT", tick="0.1", step="0.000001", min_quote="3", start="60000"),
    _spot("ETH/USDT", tick="0.01", step="0.0001", min_quote="3", start="3000"),
    _perp("BTC/USDT:USDT", tick="0.1", quanto="0.0001", start="60000", leverage=125),
    _perp("ETH/USDT:USDT", tick="0.01", quanto="0.01", start="3000", leverage=100),
)


def _s(value: Decimal) -> str:
    return format_decimal(value)


def currency_pair(market: GateMarket) -> dict[str, Any]:
    """One entry of GET /api/v4/spot/currency_pairs."""
    info = market.info
    return {
        "id": market.market_id,
        "base": info.base,
        "base_name": info.base,
        "quote": info.quote,
        "quote_name": info.quote,
        "fee": _s(info.taker_fee * 100),
        "min_base_amount": _s(info.min_quantity),
        "min_quote_amount": _s(info.min_notional),
        "max_base_amount": "",
        "max_quote_amount": "5000000",
        "amount_precision": _digits(info.step_size),
        "precision": _digits(info.tick_size),
        "trade_status": "tradable",
        "sell_start": LAUNCH_TIME_S,
        "buy_start": LAUNCH_TIME_S,
        "delisting_time": 0,
        "type": "normal",
        "trade_url": f"https://www.gate.com/trade/{market.market_id}",
        "st_tag": False,
    }


def contract(market: GateMarket, last: Decimal) -> dict[str, Any]:
    """One entry of GET /api/v4/futures/usdt/contracts."""
    info = market.info
    return {
        "name": market.market_id,
        "type": "direct",
        "quanto_multiplier": _s(market.quanto),
        "ref_discount_rate": "0",
        "order_price_deviate": "0.5",
        "maintenance_rate": "0.004",
        "mark_type": "index",
        "last_price": _s(last),
        "mark_price": _s(last),
        "index_price": _s(last),
        "funding_rate_indicative": "0.0001",
        "mark_price_round": _s(info.tick_size),
        "funding_offset": 0,
        "in_delisting": False,
        "risk_limit_base": "1000000",
        "interest_rate": "0.0003",
        "order_price_round": _s(info.tick_size),
        "order_size_min": market.size_min,
        "ref_rebate_rate": "0.2",
        "funding_interval": 28800,
        "risk_limit_step": "1000000",
        "leverage_min": "1",
        "leverage_max": str(market.leverage_max),
        "risk_limit_max": "30000000",
        "maker_fee_rate": _s(info.maker_fee),
        "taker_fee_rate": _s(info.taker_fee),
        "funding_rate": "0.0001",
        "order_size_max": market.size_max,
        "funding_next_apply": 1_800_000_000,
        "short_users": 0,
        "config_change_time": LAUNCH_TIME_S,
        "create_time": LAUNCH_TIME_S,
        "trade_size": 0,
        "position_size": 0,
        "long_users": 0,
        "funding_impact_value": "60000",
        "orders_limit": 100,
        "trade_id": 1,
        "orderbook_id": 1,
        "enable_bonus": True,
        "enable_credit": True,
        "enable_decimal": False,
        "cross_leverage_default": "10",
        "funding_cap_ratio": "0.75",
        "status": "trading",
        "launch_time": LAUNCH_TIME_S,
    }


def currency(asset: str) -> dict[str, Any]:
    """One entry of GET /api/v4/spot/currencies."""
    return {
        "currency": asset,
        "name": asset,
        "delisted": False,
        "withdraw_disabled": False,
        "withdraw_delayed": False,
        "deposit_disabled": False,
        "trade_disabled": False,
        "fixed_rate": "",
        "chain": asset,
        "chains": [
            {
                "name": asset,
                "addr": "",
                "withdraw_disabled": False,
                "withdraw_delayed": False,
                "deposit_disabled": False,
            }
        ],
    }
