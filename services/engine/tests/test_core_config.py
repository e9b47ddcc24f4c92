"""GridConfig and MarketRules validation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from opensqt_common.enums import MarketType
from opensqt_engine.core import ConfigError, GridConfig, GridMode, GridStrategy, MarketRules

D = Decimal
RULES = MarketRules(tick_size=D("0.1"), step_size=D("0.001"), min_quantity=D("0.001"), min_notional=D("5"))


def config(**overrides: object) -> GridConfig:
    base: dict[str, object] = {
        "strategy_id": "grid1",
        "symbol": "BTC/USDT:USDT",
        "market": MarketType.LINEAR_PERPETUAL,
        "price_interval": D("10"),
        "order_amount": D("100"),
        "buy_window": 5,
        "sell_window": 5,
    }
    base.update(overrides)
    return GridConfig(**base)  # type: ignore[arg-type]


def test_defaults_match_the_issue() -> None:
    cfg = config()
    assert cfg.post_only is True
    assert cfg.post_only_max_failures == 3
    assert cfg.mode is GridMode.LONG
    assert cfg.anchor_price is None
    assert cfg.min_order_value == 0


@pytest.mark.parametrize("strategy_id", ["", "Grid1", "grid-1", "g_1", "toolong12", "grid 1"])
def test_strategy_id_must_be_short_lowercase_alphanumeric(strategy_id: str) -> None:
    with pytest.raises(ConfigError, match="strategy_id"):
        config(strategy_id=strategy_id)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price_interval", D("0")),
        ("price_interval", D("-1")),
        ("order_amount", D("0")),
        ("min_order_value", D("-1")),
        ("anchor_price", D("0")),
        ("buy_window", 0),
        ("sell_window", 0),
        ("max_open_orders", 0),
        ("post_only_max_failures", -1),
        ("margin_lock_seconds", -1.0),
        ("reject_backoff_seconds", 0.0),
        ("trade_id_memory", 0),
        ("price_interval", D("NaN")),
        ("margin_lock_seconds", float("inf")),
    ],
)
def test_out_of_range_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        config(**{field: value})


@pytest.mark.parametrize("field", ["price_interval", "order_amount", "min_order_value", "anchor_price"])
def test_money_must_not_be_float(field: str) -> None:
    with pytest.raises(TypeError, match=field):
        config(**{field: 10.0})


def test_windows_must_be_int_not_bool() -> None:
    with pytest.raises(TypeError, match="buy_window"):
        config(buy_window=True)


def test_backoff_cap_must_not_be_below_base() -> None:
    with pytest.raises(ConfigError, match="reject_backoff_max_seconds"):
        config(reject_backoff_seconds=10.0, reject_backoff_max_seconds=5.0)


def test_market_must_be_the_enum() -> None:
    with pytest.raises(TypeError, match="market"):
        config(market="perp")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tick_size", D("0")),
        ("step_size", D("-0.001")),
        ("min_quantity", D("-1")),
        ("min_notional", D("-1")),
        ("base_fee_rate", D("-0.001")),
        ("base_fee_rate", D("1")),
    ],
)
def test_market_rules_are_validated(field: str, value: Decimal) -> None:
    values = {
        "tick_size": D("0.1"),
        "step_size": D("0.001"),
        "min_quantity": D("0"),
        "min_notional": D("0"),
    }
    values[field] = value
    with pytest.raises(ConfigError, match=field):
        MarketRules(**values)


def test_market_rules_refuse_float() -> None:
    with pytest.raises(TypeError, match="tick_size"):
        MarketRules(tick_size=0.1, step_size=D("1"), min_quantity=D("0"), min_notional=D("0"))  # type: ignore[arg-type]


def test_interval_below_tick_is_refused_by_the_strategy() -> None:
    with pytest.raises(ConfigError, match="tick size"):
        GridStrategy(config(price_interval=D("0.05")), RULES)
