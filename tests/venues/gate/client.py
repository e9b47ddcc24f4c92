"""A real ccxt.pro Gate client pointed at a `GateReplica`.

ccxt keys rewritten (see `framework.ccxt_urls`): every `urls['api']['public'][*]` and
`urls['api']['private'][*]` (https://api.gateio.ws/api/v4 → http://HOST:PORT/api/v4),
`urls['api']['spot']` (wss://api.gateio.ws/ws/v4/) and `urls['api']['swap']['usdt']`
(wss://fx-ws.gateio.ws/v4/ws/usdt). Futures private streams need `uid` (the user id
the replica reports in /account/detail).
"""

from __future__ import annotations

from typing import Any

import ccxt.pro

from ..framework.ccxt_urls import point_ccxt_at
from .replica import GateReplica


def gate_client(replica: GateReplica, **overrides: Any) -> Any:
    config: dict[str, Any] = {
        "apiKey": replica.credentials.api_key,
        "secret": replica.credentials.api_secret,
        "uid": str(replica.user_id),
        "enableRateLimit": False,
    }
    config.update(overrides)
    exchange = ccxt.pro.gate(config)
    exchange.timeout_on_exit = 0  # ccxt waits 250 ms on close() for TLS transports; loopback has none
    point_ccxt_at(exchange, replica.rest_url, replica.ws_url)
    return exchange
