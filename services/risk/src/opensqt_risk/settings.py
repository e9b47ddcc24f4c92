"""Risk service settings: one frozen pydantic-settings class, flags and `OPENSQT_RISK_*` env.

Process settings only (addresses, files, timings, account semantics). The limits, the
traded symbols and the crash detector come from the config file (`--config`, see
`opensqt_risk.config`), which env vars can override too.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from opensqt_common.settings import ServiceSettings, service_config

_ADDRESS = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(\d{1,5})")
DEFAULT_AUDIT_LOG = Path("data/risk-audit.jsonl")


class RiskSettings(ServiceSettings):
    """Every option of `opensqt-risk`; flag `--x-y` is env `OPENSQT_RISK_X_Y`."""

    model_config = service_config("risk", prog="opensqt-risk")

    listen: str = Field("127.0.0.1:50052", description="host:port to serve gRPC on (port 0: any free port)")
    connector: str = Field("127.0.0.1:50051", description="host:port of the exchange connector")
    config: Path | None = Field(
        None, description="YAML file with limits, symbols and the crash detector (unset: built-in defaults)"
    )
    auth_token_file: Path | None = Field(
        None, description="File holding the bearer token clients must send (unset: no auth)"
    )
    connector_auth_token_file: Path | None = Field(
        None, description="File holding the bearer token to send to the connector (unset: none)"
    )
    audit_log: Path = Field(
        DEFAULT_AUDIT_LOG, description="Append-only JSON-lines audit log of halts, resumes and state changes"
    )
    settle_asset: str | None = Field(
        None,
        description="Asset whose free balance is the margin (unset: the settle asset of the traded markets)",
    )
    account_poll_seconds: float = Field(
        2.0, gt=0, le=3600, description="Seconds between GetBalances/GetPositions polls of the connector"
    )
    in_flight_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="An approval the connector never acknowledges stops counting after this many seconds",
    )
    venue_free_nets_open_orders: bool = Field(
        True,
        description="The venue's free balance already excludes what resting orders lock (true on the "
        "supported venues and on sim); false: risk keeps their margin reserved until they end",
    )
    klines_required: bool = Field(
        True, description="Opening orders also need a fresh kline, not only a fresh price"
    )
    connector_timeout_seconds: float = Field(
        5.0, gt=0, le=300, description="Deadline of each unary call to the connector"
    )
    reconnect_initial_seconds: float = Field(
        0.2, gt=0, le=60, description="First delay before re-subscribing a connector stream"
    )
    reconnect_max_seconds: float = Field(
        5.0, gt=0, le=600, description="Largest delay between re-subscription attempts"
    )
    watcher_queue_size: int = Field(
        64,
        ge=1,
        le=100_000,
        description="State updates a WatchTradingState client may fall behind before it is disconnected",
    )

    @field_validator("listen", "connector")
    @classmethod
    def _check_address(cls, value: str) -> str:
        match = _ADDRESS.fullmatch(value)
        if match is None or int(match.group(2)) > 65535:
            raise ValueError(f"{value!r} is not host:port")
        return value

    @field_validator("settle_asset")
    @classmethod
    def _check_asset(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9]{1,20}", value):
            raise ValueError(f"{value!r} is not an asset code like USDT")
        return value

    @model_validator(mode="after")
    def _check_backoff(self) -> RiskSettings:
        if self.reconnect_max_seconds < self.reconnect_initial_seconds:
            raise ValueError("--reconnect-max-seconds must be >= --reconnect-initial-seconds")
        return self

    @property
    def in_flight_timeout_ns(self) -> int:
        return round(self.in_flight_timeout_seconds * 1_000_000_000)
