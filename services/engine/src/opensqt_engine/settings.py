"""Engine process settings: one frozen pydantic-settings class, flags and `OPENSQT_ENGINE_*` env.

Process settings only (addresses, files, timings). The grid itself (symbol, interval,
windows, limits) comes from the config file (`--config`, see `opensqt_engine.config`).
The store is chosen by `OPENSQT_DATABASE_URL` (shared with the durable layer).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator

from opensqt_common.settings import ServiceSettings, service_config

_ADDRESS = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(\d{1,5})")
DEFAULT_AUDIT_LOG = Path("data/engine-audit.jsonl")

JournalKind = Literal["auto", "memory", "durable"]


class EngineSettings(ServiceSettings):
    """Every option of `opensqt-engine`; flag `--x-y` is env `OPENSQT_ENGINE_X_Y`."""

    model_config = service_config("engine", prog="opensqt-engine")

    listen: str = Field("127.0.0.1:50053", description="host:port to serve gRPC on (port 0: any free port)")
    connector: str = Field("127.0.0.1:50051", description="host:port of the exchange connector")
    risk: str = Field("127.0.0.1:50052", description="host:port of the risk service")
    config: Path | None = Field(
        None, description="YAML grid config (unset: a default grid on the sim's BTC/USDT:USDT)"
    )
    audit_log: Path = Field(
        DEFAULT_AUDIT_LOG,
        description="Append-only JSON-lines audit log of intents, risk decisions, venue results and fills",
    )
    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("database_url", "OPENSQT_DATABASE_URL"),
        description="Durable store (env OPENSQT_DATABASE_URL): sqlite:///path or postgresql://... "
        "(unset: the store's SQLite default under ./data)",
    )
    journal: JournalKind = Field(
        "auto",
        description="auto: the durable store when installed, else in memory; memory: nothing survives "
        "a restart (tests); durable: refuse to start without the durable store",
    )
    auth_token_file: Path | None = Field(
        None, description="File holding the bearer token clients must send (unset: no auth)"
    )
    connector_auth_token_file: Path | None = Field(
        None, description="File holding the bearer token to send to the connector (unset: none)"
    )
    risk_auth_token_file: Path | None = Field(
        None, description="File holding the bearer token to send to the risk service (unset: none)"
    )
    connector_timeout_seconds: float = Field(
        5.0, gt=0, le=300, description="Deadline of each unary call to the connector or risk"
    )
    reconnect_initial_seconds: float = Field(
        0.2, gt=0, le=60, description="First delay before re-opening a lost stream"
    )
    reconnect_max_seconds: float = Field(
        5.0, gt=0, le=600, description="Largest delay between attempts to re-open a stream"
    )
    shutdown_timeout_seconds: float = Field(
        20.0, gt=0, le=600, description="How long SIGTERM waits for the cancels of our orders to be confirmed"
    )
    startup_checks: bool = Field(
        True, description="Ask risk's CheckStartup before trading and refuse to start when a check fails"
    )
    snapshot_interval_seconds: float = Field(
        0.5, gt=0, le=3600, description="Longest time between two saves of the grid state while it changes"
    )
    lookup_delay_seconds: float = Field(
        1.0,
        ge=0,
        le=60,
        description="Wait this long before asking the venue about an order whose answer was lost",
    )
    order_settle_seconds: float = Field(
        15.0,
        gt=0,
        le=600,
        description="Durable store: how long an order may still be on its way to the venue after its "
        "intent was journaled; only later does the venue's 'not found' count (above the connector's "
        "submit deadline)",
    )
    order_ack_timeout_seconds: float = Field(
        5.0,
        gt=0,
        le=600,
        description="Durable store: how long an order's lifecycle workflow waits for the venue's answer "
        "before it looks the order up itself",
    )
    order_lifecycle_grace_seconds: float = Field(
        1.0,
        ge=0,
        le=600,
        description="Durable store: an order still unanswered this long after it was sent gets its DBOS "
        "lifecycle workflow (0: every order gets one at once, at a few ms of CPU each)",
    )
    claim_timeout_seconds: float = Field(
        10.0,
        ge=0,
        le=600,
        description="Durable store: how long to wait at start for another holder of this strategy id "
        "to go (a killed engine's database session can outlive it briefly), then exit",
    )
    inbox_size: int = Field(
        10_000, ge=16, le=1_000_000, description="Order updates and fills the engine may hold unprocessed"
    )
    event_queue_size: int = Field(
        1_024,
        ge=1,
        le=100_000,
        description="Events a StreamEvents client may fall behind before it is dropped",
    )

    @field_validator("listen", "connector", "risk")
    @classmethod
    def _check_address(cls, value: str) -> str:
        match = _ADDRESS.fullmatch(value)
        if match is None or int(match.group(2)) > 65535:
            raise ValueError(f"{value!r} is not host:port")
        return value

    @model_validator(mode="after")
    def _check_backoff(self) -> EngineSettings:
        if self.reconnect_max_seconds < self.reconnect_initial_seconds:
            raise ValueError("--reconnect-max-seconds must be >= --reconnect-initial-seconds")
        return self
