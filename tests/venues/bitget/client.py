"""A real ccxt.pro Bitget client pointed at a `BitgetReplica`.

ccxt keys rewritten (see `framework.ccxt_urls`): every `urls['api'][*]` REST origin
(spot, mix, common, margin, uta, … all https://api.{hostname} → http://HOST:PORT),
`urls['api']['ws']['public' | 'private']` (wss://ws.bitget.com/v2/ws/…) and, for demo
trading, `urls['api']['demo']['public' | 'private']` (wss://wspap.bitget.com/v2/ws/…).
Demo trading is `set_sandbox_mode(True)`: ccxt then sends PAPTRADING: 1 and uses the
demo WebSocket URLs.
"""

from __future__ import annotations

from typing import Any

import ccxt.pro

from ..framework.ccxt_urls import point_ccxt_at
from .replica import BitgetReplica


def bitget_client(replica: BitgetReplica, *, demo: bool = False, **overrides: Any) -> Any:
    config: dict[str, Any] = {
        "apiKey": replica.credentials.api_key,
        "secret": replica.credentials.api_secret,
        "password": replica.credentials.passphrase,
        "enableRateLimit": False,
    }
    config.update(overrides)
    exchange = ccxt.pro.bitget(config)
    exchange.timeout_on_exit = 0  # ccxt waits 250 ms on close() for TLS transports; loopback has none
    if demo:
        exchange.set_sandbox_mode(True)
    point_ccxt_at(exchange, replica.rest_url, replica.ws_url)
    return exchange
