"""Risk configuration: limits, traded symbols, crash detector, initial state.

Read from a YAML file (`--config`, example and documentation in `configs/risk.yaml`)
and overridden by environment variables, which win over the file:

    OPENSQT_RISK_LIMITS__MAX_POSITION=0.5          one default limit
    OPENSQT_RISK_CRASH_DETECTOR__MULTIPLIER=4      one crash-detector field
    OPENSQT_RISK_INITIAL_STATE=halted
    OPENSQT_RISK_SYMBOLS='{"BTC/USDT:USDT": {"max_position": "0.2"}}'   (JSON)

Numbers are exact: the YAML loader reads every number as a Decimal from its text
(`0.05` is exactly 0.05), and floats from anywhere else are refused.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from opensqt.exchange.v1 import types_pb2 as exchange_pb2
from opensqt_common.enums import TradingState
from opensqt_risk.rules import DetectorMode, Limits, VolumeAnomalyDetector

KlineIntervalName = Literal["1s", "1m", "3m", "5m", "15m", "30m", "1h", "4h", "1d"]
StateName = Literal["active", "reduce_only", "halted"]
HaltStateName = Literal["reduce_only", "halted"]

KLINE_INTERVALS: dict[str, int] = {
    "1s": exchange_pb2.KLINE_INTERVAL_1S,
    "1m": exchange_pb2.KLINE_INTERVAL_1M,
    "3m": exchange_pb2.KLINE_INTERVAL_3M,
    "5m": exchange_pb2.KLINE_INTERVAL_5M,
    "15m": exchange_pb2.KLINE_INTERVAL_15M,
    "30m": exchange_pb2.KLINE_INTERVAL_30M,
    "1h": exchange_pb2.KLINE_INTERVAL_1H,
    "4h": exchange_pb2.KLINE_INTERVAL_4H,
    "1d": exchange_pb2.KLINE_INTERVAL_1D,
}
_STATES = {
    "active": TradingState.ACTIVE,
    "reduce_only": TradingState.REDUCE_ONLY,
    "halted": TradingState.HALTED,
}
_SYMBOL = re.compile(r"[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(:[A-Z0-9]{1,20})?")


class ConfigError(ValueError):
    """The config file is missing, unreadable or invalid; the message says where."""


def _exact(value: object) -> object:
    if isinstance(value, float):
        raise ValueError('write decimals as strings (e.g. "0.05"), never as binary floats')
    return value


ExactDecimal = Annotated[Decimal, BeforeValidator(_exact)]


class LimitsConfig(BaseModel):
    """Default limits of every traded symbol (see `configs/risk.yaml` for each meaning)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_order_quantity: ExactDecimal = Decimal("0.01")
    max_position: ExactDecimal = Decimal("0.1")
    max_order_notional: ExactDecimal = Decimal(100)
    max_open_orders: int = 40
    price_band: ExactDecimal = Decimal("0.05")
    max_order_rate: ExactDecimal = Decimal(50)
    stale_after_seconds: int = 30
    drawdown_limit: ExactDecimal = Decimal(100)
    drawdown_state: HaltStateName = "halted"
    max_leverage: ExactDecimal = Decimal(10)
    min_slots: int = 10

    def to_limits(self) -> Limits:
        return Limits(
            max_order_quantity=self.max_order_quantity,
            max_position=self.max_position,
            max_order_notional=self.max_order_notional,
            max_open_orders=self.max_open_orders,
            price_band=self.price_band,
            max_order_rate_per_second=self.max_order_rate,
            stale_after_seconds=self.stale_after_seconds,
            drawdown_limit=self.drawdown_limit,
            drawdown_state=_STATES[self.drawdown_state],
            max_leverage=self.max_leverage,
            min_slots=self.min_slots,
        )


class SymbolConfig(BaseModel):
    """Per-symbol overrides of the default limits (the drawdown guard is account wide)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_order_quantity: ExactDecimal | None = None
    max_position: ExactDecimal | None = None
    max_order_notional: ExactDecimal | None = None
    max_open_orders: int | None = None
    price_band: ExactDecimal | None = None
    max_order_rate: ExactDecimal | None = None
    stale_after_seconds: int | None = None
    max_leverage: ExactDecimal | None = None
    min_slots: int | None = None

    def apply(self, defaults: Limits) -> Limits:
        changes: dict[str, Any] = {
            name: value
            for name, value in self.model_dump(exclude_none=True).items()
            if name != "max_order_rate"
        }
        if self.max_order_rate is not None:
            changes["max_order_rate_per_second"] = self.max_order_rate
        return dataclasses.replace(defaults, **changes)


class CrashDetectorConfig(BaseModel):
    """The volume-anomaly halt (DESIGN §5) on the connector's streamed klines."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    # Monitored symbols; empty: the traded symbols.
    symbols: tuple[str, ...] = ()
    # Must be the interval the connector streams (its --kline-interval, default 1m).
    interval: KlineIntervalName = "1m"
    average_window: Annotated[int, Field(ge=1, le=1000)] = 20
    multiplier: ExactDecimal = Decimal(3)
    mode: Literal["all", "any"] = "all"
    recovery_threshold: Annotated[int, Field(ge=1)] = 1

    @property
    def interval_proto(self) -> int:
        return KLINE_INTERVALS[self.interval]

    def build(self, traded: tuple[str, ...]) -> VolumeAnomalyDetector | None:
        """The detector over the monitored symbols; None when disabled or nothing to watch."""
        symbols = self.symbols or traded
        if not self.enabled or not symbols:
            return None
        return VolumeAnomalyDetector(
            symbols,
            average_window=self.average_window,
            multiplier=self.multiplier,
            mode=DetectorMode(self.mode),
            recovery_threshold=self.recovery_threshold,
        )


class RiskConfig(BaseSettings):
    """The whole config. Environment variables override the file's values."""

    model_config = SettingsConfigDict(
        env_prefix="OPENSQT_RISK_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    limits: LimitsConfig = LimitsConfig()
    # Traded symbols with their overrides; empty: every symbol the connector serves.
    symbols: dict[str, SymbolConfig] = Field(default_factory=dict)
    crash_detector: CrashDetectorConfig = CrashDetectorConfig()
    initial_state: StateName = "active"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init kwargs; env vars come first, so they win.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _check(self) -> RiskConfig:
        for symbol in (*self.symbols, *self.crash_detector.symbols):
            if not _SYMBOL.fullmatch(symbol):
                raise ValueError(f"{symbol!r} is not a unified symbol like BTC/USDT or BTC/USDT:USDT")
        if len(set(self.crash_detector.symbols)) != len(self.crash_detector.symbols):
            raise ValueError("crash_detector.symbols must not repeat")
        # Build everything once so that a bad limit fails at load time, naming the symbol.
        self.default_limits()
        self.symbol_limits()
        monitored = self.crash_detector.symbols or tuple(self.symbols)
        if monitored and self.crash_detector.recovery_threshold > len(monitored):
            raise ValueError(
                f"crash_detector.recovery_threshold {self.crash_detector.recovery_threshold} exceeds "
                f"the {len(monitored)} monitored symbols"
            )
        return self

    @property
    def initial_trading_state(self) -> TradingState:
        return _STATES[self.initial_state]

    @property
    def traded_symbols(self) -> tuple[str, ...]:
        return tuple(self.symbols)

    def default_limits(self) -> Limits:
        try:
            return self.limits.to_limits()
        except ValueError as exc:
            raise ValueError(f"limits: {exc}") from None

    def symbol_limits(self) -> dict[str, Limits]:
        defaults = self.default_limits()
        limits: dict[str, Limits] = {}
        for symbol, overrides in self.symbols.items():
            try:
                limits[symbol] = overrides.apply(defaults)
            except ValueError as exc:
                raise ValueError(f"symbols.{symbol}: {exc}") from None
        return limits


class _ExactLoader(yaml.SafeLoader):
    """YAML with numbers read as exact Decimals (never binary floats)."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")  # .inf / .nan and other YAML float spellings Decimal refuses
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


def load_config(path: Path | None = None, overrides: Mapping[str, Any] | None = None) -> RiskConfig:
    """The config from `path` (None: built-in defaults) plus `overrides`, then env vars."""
    data: dict[str, Any] = read_yaml(path) if path is not None else {}
    data.update(overrides or {})
    try:
        return RiskConfig(**data)
    except ValidationError as exc:
        where = f"{path}: " if path is not None else ""
        raise ConfigError(f"{where}invalid risk config:\n{describe_errors(exc)}") from None


def describe_errors(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in error["loc"])
        lines.append(f"  {location}: {error['msg']}" if location else f"  {error['msg']}")
    return "\n".join(lines)
