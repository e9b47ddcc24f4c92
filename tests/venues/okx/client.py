"""A real ccxt.pro OKX client pointed at an `OkxReplica`.

ccxt keys rewritten (see `framework.ccxt_urls`): `urls['api']['rest']` (REST, all of
/api/v5) and `urls['api']['ws']` (wss://ws.okx.com:443/ws/v5 → ws://HOST:PORT/ws/v5;
ccxt appends /public, /business or /private). In demo mode ccxt swaps in
`urls['test']` first (set_sandbox_mode), which also adds the x-simulated-trading
header and "?brokerId=9999" to the WebSocket URLs.
"""

from __future__ import annotations

from typing import Any

import ccxt.pro

from ..framework.ccxt_urls import point_ccxt_at
from .replica import OkxReplica


def okx_client(replica: OkxReplica, *, demo: bool = False, **overrides: Any) -> Any:
    config: dict[str, Any] = {
        "apiKey": replica.credentials.api_key,
        "secret": replica.credentials.api_secret,
        "password": replica.credentials.passphrase,
        "enableRateLimit": False,
    }
    config.update(overrides)
    exchange = ccxt.pro.okx(config)
    exchange.timeout_on_exit = 0  # ccxt waits 250 ms on close() for TLS transports; loopback has none
    if demo:
        exchange.set_sandbox_mode(True)
    point_ccxt_at(exchange, replica.rest_url, replica.ws_url)
    return exchange
