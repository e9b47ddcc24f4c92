"""Run one replica by hand: `.venv/bin/python -m tests.venues binance --port 8765`.

Prints the REST and WebSocket base URLs and the test credentials, then serves until
interrupted. Tests start replicas in-process instead (`async with BinanceReplica()`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Callable

from .binance.replica import BinanceReplica
from .bitget.replica import BitgetReplica
from .bybit.replica import BybitReplica
from .framework.server import VenueReplica
from .gate.replica import GateReplica
from .okx.replica import OkxReplica

REPLICAS: dict[str, Callable[[], VenueReplica]] = {
    "binance": BinanceReplica,
    "bitget": BitgetReplica,
    "bybit": BybitReplica,
    "gate": GateReplica,
    "okx": OkxReplica,
}


async def _serve(venue: str, host: str, port: int) -> None:
    replica = REPLICAS[venue]()
    await replica.start(host, port)
    print(f"{venue} replica: --api-url {replica.rest_url} --ws-url {replica.ws_url}", flush=True)
    credentials = replica.credentials
    passphrase = f" passphrase {credentials.passphrase}" if credentials.passphrase else ""
    print(f"api key {credentials.api_key} secret {credentials.api_secret}{passphrase}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await replica.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("venue", choices=sorted(REPLICAS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.venue, args.host, args.port))


if __name__ == "__main__":
    main()
