"""Loopback replicas of the exchanges' REST and WebSocket APIs, for tests only.

Each replica speaks one venue's own protocol (paths, payload shapes, signing, error
codes, WebSocket login or listen-key flow) so that ccxt's real request-building,
signing and parsing code runs against it on 127.0.0.1. All replicas share the `sim`
venue's matching core (`SimExchange`, `KlineSeries`) through
`framework.core.ReplicaCore`, which adds venue order ids and venue-only orders.

Adding a venue is one package `<venue>/` plus one row per market in `cases.py`:
- `markets.py`: the venue's markets as `MarketInfo` and its instrument payloads;
- `auth.py`: the signature / key / timestamp check, raising the venue's errors;
- `errors.py`: the venue's error answers and `from_sim` (sim error → venue error);
- `payloads.py`: order, fill, balance, position, ticker and kline shapes;
- `replica.py`: a `framework.server.VenueReplica` subclass — `add_routes`,
  `fault_response` (5xx / rate limit), `on_order_update` / `on_ticker` / `on_kline`
  (push to `WsSession`s), `public_ready` / `private_ready`, `before_shutdown`;
  order placements return through `acknowledge` so delayed / lost acks apply.
Run one by hand with `python -m tests.venues <venue>`.
"""
