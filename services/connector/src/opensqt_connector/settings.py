"""Connector settings: one frozen pydantic-settings class, flags and `OPENSQT_CONNECTOR_*` env.

API credentials are deliberately not flags (argv is visible to every local user):
`VenueCredentials` reads them only from the environment or secret files.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from opensqt_common.enums import MarketType, Venue
from opensqt_common.settings import ServiceSettings, secrets_dir, service_config

ExchangeName = Literal["sim", "binance", "bitget", "gate", "okx", "bybit"]
MarketName = Literal["spot", "perp"]
KlineIntervalName = Literal["1s", "1m", "3m", "5m", "15m", "30m", "1h", "4h", "1d"]

DEFAULT_SYMBOLS: dict[MarketName, tuple[str, ...]] = {
    "perp": ("BTC/USDT:USDT",),
    "spot": ("BTC/USDT",),
}
_SYMBOL = re.compile(r"[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(:[A-Z0-9]{1,20})?")
_LISTEN = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(\d{1,5})")


class ConnectorSettings(ServiceSettings):
    """Every option of `opensqt-connector`; flag `--x-y` is env `OPENSQT_CONNECTOR_X_Y`."""

    model_config = service_config("connector", prog="opensqt-connector")

    exchange: ExchangeName = Field("sim", description="Venue: sim (built-in simulator) or a real exchange")
    market: MarketName = Field("perp", description="spot or perp (linear perpetual)")
    symbols: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Comma-separated unified symbols (default BTC/USDT:USDT for perp, BTC/USDT for spot)",
    )
    listen: str = Field("127.0.0.1:50051", description="host:port to serve gRPC on (port 0: any free port)")
    sandbox: bool = Field(False, description="Use the venue's testnet / demo trading")
    api_url: str | None = Field(None, description="Override the venue's REST base URL")
    ws_url: str | None = Field(None, description="Override the venue's WebSocket base URL")
    auth_token_file: FilePath | None = Field(
        None, description="File holding the bearer token clients must send (unset: no auth)"
    )
    tls_cert: FilePath | None = Field(None, description="PEM server certificate (with --tls-key)")
    tls_key: FilePath | None = Field(None, description="PEM server private key (with --tls-cert)")
    kline_interval: KlineIntervalName = Field("1m", description="Interval of the streamed klines")
    sim_data: FilePath | None = Field(None, description="sim: CSV/Parquet of trades or klines to replay")
    sim_speed: Decimal = Field(
        Decimal(1), gt=0, le=1_000_000, description="sim: replay / random-walk speed factor"
    )
    sim_seed: int = Field(1, ge=0, description="sim: random seed")
    sim_faults: str | None = Field(None, description="sim: faults to inject, e.g. latency_ms=5,fail_next=2")
    sim_spot_fees_in_base: bool = Field(
        False,
        description="sim: take spot buy fees from the coins bought, as most spot venues do "
        "(default: in the quote asset)",
    )
    order_rate: int = Field(25, ge=0, le=100_000, description="Order-entry token bucket: orders/s (0: off)")
    order_burst: int = Field(30, ge=0, le=100_000, description="Order-entry token bucket: burst size")
    venue_max_attempts: int = Field(
        4, ge=1, le=20, description="Attempts per venue call on network errors, 5xx and 429"
    )
    breaker_failures: int = Field(
        5, ge=1, le=1_000, description="Consecutive venue failures that open the circuit breaker"
    )
    breaker_cooldown_ms: int = Field(
        30_000, ge=0, le=3_600_000, description="How long the open breaker refuses calls before a probe"
    )
    order_queue_ms: int = Field(
        250, ge=0, le=10_000, description="How long an order may wait for a token before RATE_LIMITED"
    )

    @field_validator("symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("symbols")
    @classmethod
    def _check_symbols(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for symbol in value:
            if not _SYMBOL.fullmatch(symbol):
                raise ValueError(f"{symbol!r} is not a unified symbol like BTC/USDT or BTC/USDT:USDT")
        if len(set(value)) != len(value):
            raise ValueError("symbols must not repeat")
        return value

    @field_validator("sim_faults")
    @classmethod
    def _check_faults(cls, value: str | None) -> str | None:
        if value:
            from opensqt_connector.sim.faults import parse_faults

            parse_faults(value)
        return value

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        match = _LISTEN.fullmatch(value)
        if match is None or int(match.group(2)) > 65535:
            raise ValueError(f"{value!r} is not host:port")
        return value

    @model_validator(mode="after")
    def _check_combinations(self) -> ConnectorSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together")
        perp = self.market == "perp"
        for symbol in self.symbols:
            if (":" in symbol) != perp:
                kind = "a linear perpetual like BTC/USDT:USDT" if perp else "a spot symbol like BTC/USDT"
                raise ValueError(f"--market {self.market} needs {kind}, got {symbol!r}")
        if self.order_rate > 0 and self.order_burst < 1:
            raise ValueError("--order-burst must be >= 1 when --order-rate is on")
        return self

    @property
    def venue(self) -> Venue:
        return Venue(self.exchange)

    @property
    def market_type(self) -> MarketType:
        return MarketType(self.market)

    @property
    def symbol_list(self) -> tuple[str, ...]:
        """The configured symbols, or the default of the market type."""
        return self.symbols or DEFAULT_SYMBOLS[self.market]


class VenueCredentials(BaseSettings):
    """API keys: only `OPENSQT_CONNECTOR_API_KEY` / `_API_SECRET` / `_API_PASSPHRASE`
    or the secret files of the same names; never flags, never logged."""

    model_config = SettingsConfigDict(env_prefix="OPENSQT_CONNECTOR_", frozen=True, extra="ignore")

    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    api_passphrase: SecretStr | None = None

    @classmethod
    def load(cls) -> VenueCredentials:
        return cls(_secrets_dir=secrets_dir())

    @property
    def complete(self) -> bool:
        return self.api_key is not None and self.api_secret is not None
