"""API credentials for the ccxt adapter: SecretStr until the moment ccxt needs them.

The connector's settings module reads them from the environment or secret files
(`VenueCredentials`); anything with the same three attributes will do here. The plain
values are handed to ccxt only when the exchange object is built, and are also given
to the adapter's `Sanitizer` so that no log line or error can carry them.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import SecretStr

from opensqt_connector.ccxt_venue.tables import VenueRow


class Credentials(Protocol):
    @property
    def api_key(self) -> SecretStr | None: ...

    @property
    def api_secret(self) -> SecretStr | None: ...

    @property
    def api_passphrase(self) -> SecretStr | None: ...


class MissingCredentials(ValueError):
    """Some but not all of the credentials a venue needs were given."""


def _plain(secret: SecretStr | None) -> str | None:
    value = secret.get_secret_value() if secret is not None else None
    return value or None


def ccxt_credentials(row: VenueRow, credentials: Credentials | None) -> dict[str, str]:
    """The ccxt config entries (apiKey, secret, password) for these credentials; empty
    when none are given (market data only). Partial credentials are refused."""
    if credentials is None:
        return {}
    key, secret, passphrase = (
        _plain(credentials.api_key),
        _plain(credentials.api_secret),
        _plain(credentials.api_passphrase),
    )
    if key is None and secret is None and passphrase is None:
        return {}
    missing = [name for name, value in (("API key", key), ("API secret", secret)) if value is None]
    if row.needs_passphrase and passphrase is None:
        missing.append("API passphrase")
    if missing:
        raise MissingCredentials(f"{row.venue.value} needs {', '.join(missing)} as well")
    config = {"apiKey": key or "", "secret": secret or ""}
    if passphrase is not None:
        config["password"] = passphrase
    return config


def secret_values(credentials: Credentials | None) -> list[str]:
    """Every plain credential value, for the sanitizer."""
    if credentials is None:
        return []
    values = (_plain(credentials.api_key), _plain(credentials.api_secret), _plain(credentials.api_passphrase))
    return [v for v in values if v]


__all__ = ["Credentials", "MissingCredentials", "ccxt_credentials", "secret_values"]
