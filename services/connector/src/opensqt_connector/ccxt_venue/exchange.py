"""Build the ccxt.pro exchange object for one venue and market, as the table says.

- the ccxt class and options of the market type (which market lists to load);
- `number = str`, so parsed amounts and prices stay the venue's decimal strings;
- the sandbox switch: testnet URLs, demo-trading URLs, or a header;
- `--api-url` / `--ws-url`: every REST URL (http, https) and every WebSocket URL
  (ws, wss) in `exchange.urls['api']` is re-based onto the given origin, keeping its
  path, so a loopback replica of a venue serves the venue's own paths
  (e.g. `http://127.0.0.1:8080` + `/fapi/v1/order`); a path on the override is
  prefixed. The rewrite is applied after the sandbox switch and covers every key,
  not only the ones the table lists, so nothing can reach the real venue;
- currencies are not fetched at start (a private call the adapter does not need);
- the response hook that tags errors with the venue's code (see `errors`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import ccxt.pro

from opensqt_common.enums import MarketType
from opensqt_connector.ccxt_venue.credentials import Credentials, ccxt_credentials
from opensqt_connector.ccxt_venue.errors import install_response_hook
from opensqt_connector.ccxt_venue.tables import SandboxKind, VenueRow

REST_SCHEMES = frozenset({"http", "https"})
WS_SCHEMES = frozenset({"ws", "wss"})

# ccxt logs request headers (API keys) at DEBUG on these loggers; keep them above it.
for _name in ("ccxt", "ccxt.base.exchange", "ccxt.async_support.base.exchange"):
    logging.getLogger(_name).setLevel(logging.INFO)


class ExchangeConfigError(ValueError):
    """The flags ask for something this venue cannot do (e.g. a sandbox it lacks)."""


def check_base_url(url: str, schemes: frozenset[str], flag: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.netloc or parts.query or parts.fragment:
        raise ExchangeConfigError(
            f"{flag} must be {'/'.join(sorted(schemes))}://host[:port][/path] (got {url!r})"
        )
    return url


def rebase_url(url: str, base: str) -> str:
    """`url` moved onto `base`'s scheme and host; `base`'s path prefixes `url`'s."""
    target, origin = urlsplit(url), urlsplit(base)
    path = origin.path.rstrip("/") + target.path
    return urlunsplit((origin.scheme, origin.netloc, path, target.query, target.fragment))


def override_urls(urls: Any, rest_base: str | None, ws_base: str | None) -> Any:
    """A copy of a ccxt `urls['api']` tree with every URL re-based (pure)."""
    if isinstance(urls, Mapping):
        return {key: override_urls(value, rest_base, ws_base) for key, value in urls.items()}
    if isinstance(urls, list):
        return [override_urls(value, rest_base, ws_base) for value in urls]
    if isinstance(urls, str):
        scheme = urlsplit(urls).scheme
        if rest_base is not None and scheme in REST_SCHEMES:
            return rebase_url(urls, rest_base)
        if ws_base is not None and scheme in WS_SCHEMES:
            return rebase_url(urls, ws_base)
    return urls


def url_at(urls: Any, dotted: str) -> Any:
    """The entry of a ccxt `urls['api']` tree at a dotted key path ("ws.public.spot")."""
    node = urls
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def all_urls(urls: Any) -> list[str]:
    if isinstance(urls, Mapping):
        return [url for value in urls.values() for url in all_urls(value)]
    if isinstance(urls, list):
        return [url for value in urls for url in all_urls(value)]
    return [urls] if isinstance(urls, str) and "://" in urls else []


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


def build_exchange(
    row: VenueRow,
    market_type: MarketType,
    *,
    credentials: Credentials | None = None,
    sandbox: bool = False,
    api_url: str | None = None,
    ws_url: str | None = None,
    session: Any | None = None,
    timeout_ms: int = 10_000,
    rate_limit: bool = True,
) -> Any:
    """A configured ccxt.pro exchange (no I/O happens here)."""
    market_row = row.market(market_type)
    if api_url is not None:
        check_base_url(api_url, REST_SCHEMES, "--api-url")
    if ws_url is not None:
        check_base_url(ws_url, WS_SCHEMES, "--ws-url")
    if sandbox and market_type not in row.sandbox.markets:
        raise ExchangeConfigError(f"{row.venue.value} has no sandbox for {market_type.value} in ccxt")
    options = _merge(
        {
            "defaultType": market_row.default_type,
            "fetchMarkets": {"types": list(market_row.ccxt_types)},
        },
        market_row.ccxt_options,
    )
    config: dict[str, Any] = {
        "enableRateLimit": rate_limit,
        "timeout": timeout_ms,
        "has": {"fetchCurrencies": False},
        "options": options,
        **ccxt_credentials(row, credentials),
    }
    if session is not None:
        config["session"] = session
    exchange = getattr(ccxt.pro, market_row.ccxt_class)(config)
    exchange.number = str
    exchange.verbose = False
    if sandbox:
        kind = row.sandbox.kind
        if kind is SandboxKind.DEMO:
            exchange.enable_demo_trading(True)
        else:
            exchange.set_sandbox_mode(True)
        if kind is SandboxKind.HEADER and row.sandbox.header is not None:
            name, value = row.sandbox.header
            exchange.headers = {**(exchange.headers or {}), name: value}
    if api_url is not None or ws_url is not None:
        exchange.urls["api"] = override_urls(exchange.urls["api"], api_url, ws_url)
    install_response_hook(exchange, row)
    return exchange


__all__ = [
    "ExchangeConfigError",
    "all_urls",
    "build_exchange",
    "check_base_url",
    "override_urls",
    "rebase_url",
    "url_at",
]
