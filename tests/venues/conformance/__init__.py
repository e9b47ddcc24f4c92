"""The connector conformance suite's harness (phase 2 of the venue replicas).

`test_conformance.py` runs the same scenarios for every venue × market through the
real `opensqt-connector` process, pointed at a loopback replica with `--api-url` /
`--ws-url`, talking gRPC to it:

- `cases`: the venue × market rows (replica, sizes, the venue's order-entry route);
- `process`: the connector as a subprocess, its stderr kept for the log checks;
- `recorders`: `StreamOrderUpdates` / `StreamFills` kept open by a client that
  resubscribes when the connector ends a stream with UNAVAILABLE (a venue stream
  dropped), as a real client must.
"""
