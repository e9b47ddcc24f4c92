"""The grid config file (`--config configs/engine.yaml`) → `GridConfig` for the core.

Numbers are read exactly: the YAML loader turns every number into a Decimal from its
text (`0.1` is exactly 0.1), and binary floats from anywhere else are refused for money
and quantities. Every error names the key it is about:

    configs/engine.yaml: invalid engine config:
      price_interval: must be > 0 (got -5)

Without a file the defaults below make a small grid on the `sim` connector's default
symbol (BTC/USDT:USDT, which starts at 60,000): levels 50 apart, 100 USDT per buy,
5 buy and 5 sell levels.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from opensqt_common.enums import MarketType
from opensqt_engine.core import GridConfig, GridMode
from opensqt_engine.core.config import STRATEGY_ID_PATTERN

MarketName = Literal["perp", "spot"]
MARKETS: dict[str, MarketType] = {"perp": MarketType.LINEAR_PERPETUAL, "spot": MarketType.SPOT}
SUPPORTED_MODES = ("long",)
PLANNED_MODES = ("neutral",)


class ConfigError(ValueError):
    """The config file is missing, unreadable or invalid; the message names the key."""


def _exact(value: object) -> object:
    if isinstance(value, float):
        raise ValueError('write decimals as strings or plain YAML numbers (e.g. "0.05"), never as floats')
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


def _positive(value: Decimal) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise ValueError(f"must be > 0 (got {value})")
    return value


def _non_negative(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise ValueError(f"must be >= 0 (got {value})")
    return value


ExactDecimal = Annotated[Decimal, BeforeValidator(_exact)]


class EngineConfig(BaseModel):
    """One grid. See `configs/engine.yaml` for what each key means."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy_id: str = "grid"
    symbol: str = "BTC/USDT:USDT"
    market: MarketName = "perp"
    mode: str = "long"
    price_interval: ExactDecimal = Decimal(50)
    order_amount: ExactDecimal = Decimal(100)
    buy_window: Annotated[int, Field(ge=1, le=1000)] = 5
    sell_window: Annotated[int, Field(ge=1, le=1000)] = 5
    min_order_value: ExactDecimal = Decimal(0)
    anchor_price: ExactDecimal | None = None
    post_only: bool = True
    post_only_max_failures: Annotated[int, Field(ge=0, le=1000)] = 3
    margin_lock_seconds: ExactDecimal = Decimal(60)
    max_open_orders: Annotated[int, Field(ge=1, le=10_000)] = 20
    order_rate: ExactDecimal = Decimal(25)
    order_burst: Annotated[int, Field(ge=1, le=100_000)] = 30
    reconcile_seconds: ExactDecimal = Decimal(30)
    cancel_on_exit: bool = True
    reject_backoff_seconds: ExactDecimal = Decimal(1)
    reject_backoff_max_seconds: ExactDecimal = Decimal(60)

    @field_validator("strategy_id")
    @classmethod
    def _check_strategy_id(cls, value: str) -> str:
        if not STRATEGY_ID_PATTERN.fullmatch(value):
            raise ValueError(f"must be 1-8 characters of a-z and 0-9 (got {value!r})")
        return value

    @field_validator("symbol")
    @classmethod
    def _check_symbol(cls, value: str) -> str:
        pair, _, settle = value.partition(":")
        base, slash, quote = pair.partition("/")
        if not slash or not base or not quote or (":" in value and not settle):
            raise ValueError(f"must be a unified symbol like BTC/USDT or BTC/USDT:USDT (got {value!r})")
        return value

    @field_validator("mode")
    @classmethod
    def _check_mode(cls, value: str) -> str:
        if value in SUPPORTED_MODES:
            return value
        if value in PLANNED_MODES:
            raise ValueError(f"mode {value!r} is not supported yet; only 'long' grids run today")
        raise ValueError(f"must be 'long' (got {value!r})")

    @field_validator("price_interval", "order_amount", "order_rate", "reject_backoff_seconds")
    @classmethod
    def _check_positive(cls, value: Decimal) -> Decimal:
        return _positive(value)

    @field_validator("min_order_value", "margin_lock_seconds")
    @classmethod
    def _check_non_negative(cls, value: Decimal) -> Decimal:
        return _non_negative(value)

    @field_validator("anchor_price")
    @classmethod
    def _check_anchor(cls, value: Decimal | None) -> Decimal | None:
        return None if value is None else _positive(value)

    @field_validator("reconcile_seconds")
    @classmethod
    def _check_reconcile(cls, value: Decimal) -> Decimal:
        _positive(value)
        if value < 1:
            raise ValueError(f"must be >= 1 (got {value})")
        return value

    @field_validator("reject_backoff_max_seconds")
    @classmethod
    def _check_backoff_max(cls, value: Decimal) -> Decimal:
        return _positive(value)

    @property
    def market_type(self) -> MarketType:
        return MARKETS[self.market]

    def grid_config(self) -> GridConfig:
        """The core's config (raises `ConfigError` naming the key when the core refuses it)."""
        if self.reject_backoff_max_seconds < self.reject_backoff_seconds:
            raise ConfigError("reject_backoff_max_seconds: must be >= reject_backoff_seconds")
        if (":" in self.symbol) != (self.market == "perp"):
            kind = "a linear perpetual like BTC/USDT:USDT" if self.market == "perp" else "a spot symbol"
            raise ConfigError(f"symbol: market {self.market} needs {kind} (got {self.symbol!r})")
        try:
            return GridConfig(
                strategy_id=self.strategy_id,
                symbol=self.symbol,
                market=self.market_type,
                price_interval=self.price_interval,
                order_amount=self.order_amount,
                buy_window=self.buy_window,
                sell_window=self.sell_window,
                min_order_value=self.min_order_value,
                anchor_price=self.anchor_price,
                post_only=self.post_only,
                post_only_max_failures=self.post_only_max_failures,
                margin_lock_seconds=float(self.margin_lock_seconds),
                max_open_orders=self.max_open_orders,
                mode=GridMode(self.mode),
                reject_backoff_seconds=float(self.reject_backoff_seconds),
                reject_backoff_max_seconds=float(self.reject_backoff_max_seconds),
            )
        except (ValueError, TypeError) as exc:
            raise ConfigError(str(exc)) from None


class _ExactLoader(yaml.SafeLoader):
    """YAML with numbers read as exact Decimals (never binary floats)."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")  # .inf / .nan and other YAML float spellings
    if not value.is_finite():
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a finite decimal number", node.start_mark
        )
    return value


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def read_yaml(path: Path) -> dict[str, Any]:
    """The file's top-level mapping (an empty file is an empty mapping)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.load(text, Loader=_ExactLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def load_config(path: Path | None = None, overrides: Mapping[str, Any] | None = None) -> EngineConfig:
    """The config from `path` (None: the defaults) with `overrides` on top, fully checked."""
    data: dict[str, Any] = read_yaml(path) if path is not None else {}
    data.update(overrides or {})
    where = f"{path}: " if path is not None else ""
    try:
        config = EngineConfig(**data)
    except ValidationError as exc:
        raise ConfigError(f"{where}invalid engine config:\n{describe_errors(exc)}") from None
    try:
        config.grid_config()
    except ConfigError as exc:
        raise ConfigError(f"{where}invalid engine config:\n  {exc}") from None
    return config


def describe_errors(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling against configs/engine.yaml)"
        lines.append(f"  {location}: {message}" if location else f"  {message}")
    return "\n".join(lines)
