"""Settings base: one frozen pydantic-settings class per service.

Values come, highest first, from command-line flags (kebab-case: `auth_token_file`
is `--auth-token-file`), environment variables (`OPENSQT_<SERVICE>_<FIELD>`), secret
files (a file named exactly like the env var, e.g. `OPENSQT_CONNECTOR_API_KEY`, in
`OPENSQT_SECRETS_DIR`, default `/run/secrets` when it exists) and the defaults.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

DEFAULT_SECRETS_DIR = "/run/secrets"

LogFormat = Literal["json", "console"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


def secrets_dir() -> str | None:
    """The directory of secret files, or None when there is none to read."""
    configured = os.environ.get("OPENSQT_SECRETS_DIR")
    if configured:
        return configured
    return DEFAULT_SECRETS_DIR if Path(DEFAULT_SECRETS_DIR).is_dir() else None


def service_config(service: str, *, prog: str) -> SettingsConfigDict:
    """The model_config of a service's settings class (`service` is e.g. "connector")."""
    return SettingsConfigDict(
        env_prefix=f"OPENSQT_{service.upper()}_",
        frozen=True,
        extra="forbid",
        cli_prog_name=prog,
        cli_kebab_case=True,
        cli_implicit_flags=True,
        cli_enforce_required=False,
        cli_exit_on_error=True,
        cli_hide_none_type=True,
        cli_avoid_json=True,
    )


class ServiceSettings(BaseSettings):
    """Fields every service has. Subclasses set `model_config = service_config(...)`."""

    log_level: LogLevel = Field("INFO", description="Log level")
    log_format: LogFormat = Field("json", description="json (default) or console (human-readable)")
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Prometheus metrics port (0: any free port; unset: off)"
    )


S = TypeVar("S", bound=ServiceSettings)


def load_settings(settings_cls: type[S], argv: Sequence[str] | None = None) -> S:
    """Build settings from flags (argv; none when None), env vars and secret files."""
    args: list[str] | bool = list(argv) if argv is not None else False
    return settings_cls(_cli_parse_args=args, _secrets_dir=secrets_dir())


def describe_settings_error(exc: ValidationError | SettingsError) -> str:
    """What is wrong with the flags and environment, one indented line per problem, each
    named by its flag (`--order-rate: ...`)."""
    if isinstance(exc, SettingsError):
        return f"  {exc}"
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        where = "--" + "-".join(str(part) for part in error["loc"]).replace("_", "-") if error["loc"] else ""
        lines.append(f"  {where}: {error['msg']}" if where else f"  {error['msg']}")
    return "\n".join(lines)
