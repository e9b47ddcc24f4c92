"""Point a ccxt / ccxt.pro exchange at a replica by rewriting the origin of its URLs.

The rule is the same for every venue, so the connector's `--api-url` / `--ws-url` can
apply it without per-venue tables: every URL in `exchange.urls['api']` (nested dicts
included) keeps its path and gets the origin (scheme://host[:port]) of the override —
`https://…` URLs take `api_url`, `wss://…` URLs take `ws_url`. ccxt's `{hostname}`
placeholder is part of the origin and disappears with it.

Example: binance `urls['api']['fapiPrivate']` = https://fapi.binance.com/fapi/v1 becomes
http://127.0.0.1:PORT/fapi/v1; bybit `urls['api']['ws']['public']['linear']` =
wss://stream.{hostname}/v5/public/linear becomes ws://127.0.0.1:PORT/v5/public/linear.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def rewrite_origin(url: str, api_url: str, ws_url: str) -> str:
    """`url` with its scheme and host replaced (http(s) → api_url, ws(s) → ws_url)."""
    scheme, _, rest = url.partition("://")
    if not rest:
        return url
    base = ws_url if scheme in ("ws", "wss") else api_url
    path = rest[len(rest.split("/", 1)[0]) :]
    return base.rstrip("/") + path


def rewritten_urls(urls: Any, api_url: str, ws_url: str) -> Any:
    if isinstance(urls, str):
        return rewrite_origin(urls, api_url, ws_url)
    if isinstance(urls, dict):
        return {key: rewritten_urls(value, api_url, ws_url) for key, value in urls.items()}
    return urls


def point_ccxt_at(exchange: Any, api_url: str, ws_url: str) -> dict[str, str]:
    """Rewrite `exchange.urls['api']` in place; returns {dotted key: new url} of every
    URL it changed (the exact keys an adapter's override must set)."""
    for url in (api_url, ws_url):
        if not urlsplit(url).netloc:
            raise ValueError(f"{url!r} is not an absolute URL")
    before = _flatten(exchange.urls["api"])
    exchange.urls["api"] = rewritten_urls(exchange.urls["api"], api_url, ws_url)
    after = _flatten(exchange.urls["api"])
    return {key: value for key, value in after.items() if before.get(key) != value}


def _flatten(urls: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(urls, str):
        return {prefix: urls}
    if isinstance(urls, dict):
        flat: dict[str, str] = {}
        for key, value in urls.items():
            flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {}
