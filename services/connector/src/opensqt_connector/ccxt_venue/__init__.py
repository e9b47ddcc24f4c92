"""The ccxt / ccxt.pro adapter for Binance, Bitget, Gate, OKX and Bybit (spot and
linear perpetual).

- `tables`: one row of facts per venue (the only place venue differences live);
- `mapping`: pure conversions ccxt structures <-> connector records;
- `errors`: ccxt exceptions -> venue errors, and the secret sanitiser;
- `exchange`: building the configured ccxt.pro object (sandbox, URL overrides);
- `streams`, `state`: supervised watch loops and the resync bookkeeping;
- `adapter`: `CcxtVenue`, the VenueAdapter.

Import `opensqt_connector.ccxt_venue.adapter.CcxtVenue` directly; this package does
not import ccxt on its own.
"""
