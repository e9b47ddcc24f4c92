"""The per-venue tables: client-id rules, status maps, and agreement with ccxt."""

from __future__ import annotations

import ccxt
import ccxt.pro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from opensqt_common.enums import MarketType, OrderStatus, Venue
from opensqt_connector.ccxt_venue.exchange import url_at
from opensqt_connector.ccxt_venue.mapping import UNIFIED_STATUSES
from opensqt_connector.ccxt_venue.tables import (
    OUR_CLIENT_ID,
    VENUES,
    SandboxKind,
    VenueRow,
    venue_row,
)

ROWS = list(VENUES.values())
ROW_IDS = [row.venue.value for row in ROWS]
MARKETS = [(row, market_type) for row in ROWS for market_type in MarketType]
MARKET_IDS = [f"{row.venue.value}-{market_type.value}" for row, market_type in MARKETS]

# Order statuses as each venue's API documentation lists them (REST and WebSocket).
DOCUMENTED_STATUSES: dict[Venue, tuple[str, ...]] = {
    # Spot "Order status" enum and USDⓈ-M futures order status.
    Venue.BINANCE: (
        "NEW",
        "PENDING_NEW",
        "PARTIALLY_FILLED",
        "FILLED",
        "CANCELED",
        "PENDING_CANCEL",
        "REJECTED",
        "EXPIRED",
        "EXPIRED_IN_MATCH",
    ),
    # V5 "orderStatus": open statuses and closed statuses.
    Venue.BYBIT: (
        "New",
        "PartiallyFilled",
        "Untriggered",
        "Created",
        "Rejected",
        "PartiallyFilledCanceled",
        "Filled",
        "Cancelled",
        "Triggered",
        "Deactivated",
    ),
    # v5 order "state".
    Venue.OKX: ("canceled", "live", "partially_filled", "filled", "mmp_canceled"),
    # Spot "status" / "finish_as" and futures "status" / "finish_as" (+ WS "_new", "_update").
    Venue.GATE: (
        "open",
        "closed",
        "cancelled",
        "filled",
        "liquidate_cancelled",
        "small",
        "depth_not_enough",
        "trader_not_enough",
        "ioc",
        "poc",
        "fok",
        "stp",
        "finished",
        "liquidated",
        "auto_deleveraged",
        "reduce_only",
        "position_closed",
        "reduce_out",
        "_new",
        "_update",
    ),
    # v2 spot "status", mix "state" and WebSocket "status".
    Venue.BITGET: ("live", "partially_filled", "filled", "cancelled", "canceled", "new", "init"),
}

# Where our status deliberately differs from ccxt's unified one for the same raw value.
DEVIATIONS = {
    # ccxt: "closed" (filled); the order was cancelled after a partial fill.
    (Venue.BYBIT, "PartiallyFilledCanceled"): OrderStatus.CANCELED,
    # ccxt: "canceled"; an IOC remainder expiring is EXPIRED, as on Binance.
    (Venue.GATE, "ioc"): OrderStatus.EXPIRED,
    # ccxt: "closed"; a futures order "liquidated" was cancelled by the liquidation.
    (Venue.GATE, "liquidated"): OrderStatus.CANCELED,
}


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_status_map_covers_every_documented_status(row: VenueRow) -> None:
    missing = [s for s in DOCUMENTED_STATUSES[row.venue] if s not in row.statuses]
    assert missing == []


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_status_map_agrees_with_ccxt_on_open_versus_final(row: VenueRow) -> None:
    exchange = getattr(ccxt, row.market(MarketType.SPOT).ccxt_class)()
    for raw, ours in row.statuses.items():
        unified = exchange.parse_order_status(raw)
        if unified not in UNIFIED_STATUSES:
            continue  # ccxt passes the raw value through; only our table knows it
        if raw == "finished":  # Gate futures: ended, how is in finish_as
            continue
        assert (unified == "open") == (not ours.is_terminal), (row.venue, raw, unified, ours)
        expected = DEVIATIONS.get((row.venue, raw), UNIFIED_STATUSES[unified])
        if ours is OrderStatus.PARTIALLY_FILLED:
            expected = OrderStatus.PARTIALLY_FILLED
        assert ours is expected, (row.venue, raw, unified)


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_every_post_only_marker_names_a_terminal_status_field_or_reason(row: VenueRow) -> None:
    for field, _value in row.post_only_markers:
        assert field
        assert field not in ("status", "id")


# -- client order ids -----------------------------------------------------------------

ENGINE_IDS = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=24
)
OUR_IDS = st.from_regex(OUR_CLIENT_ID, fullmatch=True)


@given(ENGINE_IDS)
def test_engine_ids_fit_every_venue(ours: str) -> None:
    for row in ROWS:
        venue_id = row.client_id.to_venue(ours)
        assert len(venue_id) <= row.client_id.max_length
        assert venue_id.startswith(row.client_id.prefix)
        assert row.client_id.from_venue(venue_id) == ours


@given(OUR_IDS)
def test_client_id_mapping_round_trips_or_refuses(ours: str) -> None:
    for row in ROWS:
        rule = row.client_id
        if rule.accepts(ours):
            assert rule.from_venue(rule.to_venue(ours)) == ours
        else:
            with pytest.raises(ValueError, match="must be"):
                rule.to_venue(ours)


def test_gate_adds_and_strips_its_t_prefix() -> None:
    rule = venue_row(Venue.GATE).client_id
    assert rule.to_venue("g1L100B0") == "t-g1L100B0"
    assert rule.from_venue("t-g1L100B0") == "g1L100B0"
    # an id that itself starts with "t" still gets the prefix (ccxt would not add it)
    assert rule.to_venue("tp7") == "t-tp7"
    assert rule.from_venue("web") is None  # placed on the website, not ours
    assert rule.from_venue("apiv4") is None
    assert rule.to_venue("a" * 26) == "t-" + "a" * 26
    with pytest.raises(ValueError, match="1-26"):
        rule.to_venue("a" * 27)


def test_okx_accepts_only_alphanumerics() -> None:
    rule = venue_row(Venue.OKX).client_id
    assert rule.to_venue("A" * 32) == "A" * 32
    for bad in ("grid_1", "grid-1"):
        assert not rule.accepts(bad)
        with pytest.raises(ValueError, match="A-Za-z0-9"):
            rule.to_venue(bad)
    assert rule.from_venue("grid_1") is None


@pytest.mark.parametrize(
    ("venue", "longest"), [(Venue.BINANCE, 32), (Venue.BYBIT, 32), (Venue.BITGET, 32), (Venue.GATE, 26)]
)
def test_client_id_length_limits(venue: Venue, longest: int) -> None:
    rule = venue_row(venue).client_id
    assert rule.accepts("x_-" * 8 + "y" * (longest - 24))
    assert not rule.accepts("y" * (longest + 1))
    assert rule.accepts("with_under-score") is (venue is not Venue.OKX)


# -- agreement with ccxt --------------------------------------------------------------


@pytest.mark.parametrize(("row", "market_type"), MARKETS, ids=MARKET_IDS)
def test_ccxt_class_supports_what_the_adapter_uses(row: VenueRow, market_type: MarketType) -> None:
    exchange = getattr(ccxt.pro, row.market(market_type).ccxt_class)()
    for feature in (
        "watchTickers",
        "watchOHLCV",
        "watchOrders",
        "watchMyTrades",
        "createOrder",
        "cancelOrder",
        "fetchOpenOrders",
        "fetchMyTrades",
        "fetchOHLCV",
        "fetchBalance",
    ):
        assert exchange.has.get(feature), feature
    if market_type is MarketType.LINEAR_PERPETUAL:
        assert exchange.has.get("setLeverage")
        assert exchange.has.get("fetchPositions")
        assert exchange.has.get("setPositionMode") or exchange.has.get("fetchPositionMode")
    assert "1m" in exchange.timeframes
    assert exchange.requiredCredentials["password"] is row.needs_passphrase


@pytest.mark.parametrize(("row", "market_type"), MARKETS, ids=MARKET_IDS)
def test_listed_url_keys_exist_in_ccxt(row: VenueRow, market_type: MarketType) -> None:
    market = row.market(market_type)
    exchange = getattr(ccxt.pro, market.ccxt_class)()
    for key in market.rest_url_keys:
        assert url_at(exchange.urls["api"], key).startswith("https://"), key
    for key in market.ws_url_keys:
        assert url_at(exchange.urls["api"], key).startswith("wss://"), key


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_sandbox_switch_matches_ccxt(row: VenueRow) -> None:
    exchange = getattr(ccxt.pro, row.market(MarketType.SPOT).ccxt_class)()
    if row.sandbox.kind is SandboxKind.HEADER:
        assert row.sandbox.header is not None
        assert row.venue in (Venue.OKX, Venue.BITGET)
    elif row.sandbox.kind is SandboxKind.DEMO:
        assert "demo" in exchange.urls
    else:
        assert "test" in exchange.urls


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_error_tables_only_name_venue_error_types(row: VenueRow) -> None:
    from opensqt_common.errors import ServiceError

    for code, error in row.error_codes.items():
        assert code
        assert issubclass(error, ServiceError)
    for (code, message), error in row.error_messages.items():
        assert code
        assert message
        assert issubclass(error, ServiceError)


@pytest.mark.parametrize(("row", "market_type"), MARKETS, ids=MARKET_IDS)
def test_post_only_and_reduce_only_are_described_for_every_market(
    row: VenueRow, market_type: MarketType
) -> None:
    market = row.market(market_type)
    assert market.post_only_wire.field
    if market_type is MarketType.LINEAR_PERPETUAL:
        assert market.reduce_only_wire is not None
    else:
        assert market.reduce_only_wire is None
