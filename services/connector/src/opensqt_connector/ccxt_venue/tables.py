"""Every per-venue fact the ccxt adapter needs, one frozen row per venue.

The adapter and the mapping functions read these rows and contain no venue names.
A row says, for spot and for the linear perpetual:

- which ccxt(.pro) class serves it and which market types ccxt should load;
- how the venue writes a symbol;
- what the venue receives on the wire for post-only and reduce-only (we pass ccxt's
  unified `postOnly` / `reduceOnly` params; the wire form is what tests check ccxt
  sends), and how a spot market buy is sized in base units (or that it cannot be);
- the client-order-id rule (length, charset, required prefix) with a pure, reversible
  mapping of our ids ([A-Za-z0-9_-]{1,32}) to the venue's and back;
- the venue's own order statuses (from its API documentation) and the raw fields that
  carry them, mapped to our OrderStatus, plus markers of a post-only auto-cancel;
- error codes ccxt does not classify precisely enough (duplicate client id, min
  notional, reduce-only, post-only, auth, server errors, rate limits), where the code
  sits in an error response, and how a rate-limit answer says when to come back;
- ccxt parsing gaps: which raw fields carry the order's own client id or its
  cumulative fill, how a crossing post-only order shows (a marker, or nothing);
- the sandbox switch (testnet URLs, demo-trading URLs, or a header), whether a
  passphrase is needed, how one-way position mode is checked, extra leverage params;
- which `exchange.urls['api']` entries each market uses (REST and WebSocket), for
  the --api-url / --ws-url overrides.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from opensqt_common.enums import MarketType, OrderStatus, Venue
from opensqt_common.errors import ServiceError
from opensqt_connector.venue_errors import (
    AuthFailed,
    DuplicateClientOrderId,
    MinNotional,
    OrderNotFound,
    PostOnlyWouldCross,
    ReduceOnlyRejected,
    VenueRateLimited,
    VenueUnavailable,
)

OUR_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
"""Client order ids as the connector's callers send them."""

POST_ONLY_DETAIL = "POST_ONLY_WOULD_CROSS"
"""`OrderInfo.status_detail` of a post-only order the venue cancelled for crossing."""


@dataclass(frozen=True)
class ClientIdRule:
    """One venue's client-order-id rule and the mapping of our ids onto it."""

    param: str  # the field name on the wire when placing
    max_length: int  # of the whole venue id, prefix included
    charset: re.Pattern[str]  # the venue's allowed characters (one char)
    prefix: str = ""  # required prefix, added by us (Gate's "t-")

    @property
    def max_our_length(self) -> int:
        return self.max_length - len(self.prefix)

    def accepts(self, ours: str) -> bool:
        """Whether our id fits this venue once mapped."""
        return (
            OUR_CLIENT_ID.fullmatch(ours) is not None
            and len(ours) <= self.max_our_length
            and all(self.charset.fullmatch(char) for char in ours)
        )

    def to_venue(self, ours: str) -> str:
        """Our id as the venue stores it. Raises ValueError when it cannot fit."""
        if not self.accepts(ours):
            raise ValueError(self.describe())
        return self.prefix + ours

    def from_venue(self, theirs: str | None) -> str | None:
        """Our id back from the venue's, or None when the id is not one of ours
        (an order placed elsewhere, e.g. on the venue's website)."""
        if not theirs or not theirs.startswith(self.prefix):
            return None
        ours = theirs[len(self.prefix) :]
        return ours if self.accepts(ours) else None

    def describe(self) -> str:
        prefix = f" (the connector adds the prefix {self.prefix!r})" if self.prefix else ""
        return (
            f"must be 1-{self.max_our_length} characters of [A-Za-z0-9_-] that this venue "
            f"accepts ({self.charset.pattern}){prefix}"
        )


@dataclass(frozen=True)
class WireParam:
    """A field and value as the venue receives them (documentation checked by tests)."""

    field: str
    value: str | bool


class SandboxKind(enum.Enum):
    TESTNET = "testnet"  # ccxt set_sandbox_mode(True): testnet URLs
    DEMO = "demo"  # ccxt enable_demo_trading(True): demo-trading URLs
    HEADER = "header"  # production URLs plus a header (ccxt set_sandbox_mode sets it)


@dataclass(frozen=True)
class Sandbox:
    kind: SandboxKind
    header: tuple[str, str] | None = None
    markets: frozenset[MarketType] = frozenset(MarketType)


class OrderLookup(enum.Enum):
    """How one order is read back by its venue id or client order id."""

    FETCH_ORDER = "fetch_order"  # ccxt fetch_order(id, symbol, {lookup_param: client id})
    # ccxt fetch_open_orders, then fetch_closed_orders, filtered by {param: id} (Bybit,
    # whose single-order endpoint only sees open orders and needs an order id).
    OPEN_THEN_CLOSED = "open_then_closed"


class PositionModeCheck(enum.Enum):
    """How the adapter makes sure a perpetual account trades in one-way mode."""

    FETCH = "fetch"  # ccxt fetch_position_mode; refuse to start when hedged
    SET = "set"  # ccxt set_position_mode(False); "already set" codes count as success


@dataclass(frozen=True)
class MarketRow:
    """What differs between a venue's spot and linear-perpetual markets."""

    ccxt_class: str
    ccxt_types: tuple[str, ...]  # options['fetchMarkets']['types']
    default_type: str  # options['defaultType']
    post_only_wire: WireParam
    reduce_only_wire: WireParam | None  # None: the venue has no reduce-only here
    client_id_wire: str
    rest_url_keys: tuple[str, ...]  # dotted paths into exchange.urls['api']
    ws_url_keys: tuple[str, ...]
    # Params that make a spot market buy's amount a base quantity; None: the venue
    # sizes spot market buys in quote currency only, which we refuse.
    market_buy_base_params: Mapping[str, object] | None = None
    order_params: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    ccxt_options: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    # ccxt passes the venue's candle volume through; True when that counts contracts
    # (Gate futures "v"), False when it is already base units (OKX swaps use volCcy).
    candle_volume_in_contracts: bool = False


@dataclass(frozen=True)
class VenueRow:
    venue: Venue
    markets: Mapping[MarketType, MarketRow]
    venue_symbol: Callable[[str, str, MarketType], str]  # (base id, quote id, type) -> id
    client_id: ClientIdRule
    lookup_param: str  # ccxt param naming the client id in fetch_order / cancel_order
    status_fields: tuple[str, ...]  # raw order fields holding the venue's status
    statuses: Mapping[str, OrderStatus]
    post_only_markers: tuple[tuple[str, str], ...]  # (raw field, value) of a post-only cancel
    error_code_paths: tuple[tuple[str | int, ...], ...]
    success_codes: frozenset[str]
    error_codes: Mapping[str, type[ServiceError]]
    error_messages: Mapping[tuple[str, str], type[ServiceError]]
    sandbox: Sandbox
    needs_passphrase: bool
    position_mode: PositionModeCheck
    position_mode_noop_codes: frozenset[str] = frozenset()
    leverage_params: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    # Error codes meaning "the leverage is already that" (success for us).
    leverage_noop_codes: frozenset[str] = frozenset()
    order_lookup: OrderLookup = OrderLookup.FETCH_ORDER
    # The venue takes the client order id where the order id goes (Gate: "t-…" in the
    # path of GET/DELETE /orders/{order_id}); ccxt's cancel does not map it otherwise.
    client_id_as_order_id: bool = False
    # (ccxt method, response field) giving the account's user id, which ccxt.pro needs
    # to subscribe to private channels (Gate futures); None: not needed.
    uid_lookup: tuple[str, str] | None = None
    order_id_param: str = "orderId"  # the venue's order-id param, for OPEN_THEN_CLOSED
    # Raw order fields that carry the order's own client id ahead of ccxt's unified
    # clientOrderId (Binance spot cancel answers put the cancel request's id there).
    client_id_fields: tuple[str, ...] = ()
    # A response header with the epoch milliseconds at which a rate limit resets, used
    # when a rate-limit answer has no Retry-After (Bybit X-Bapi-Limit-Reset-Timestamp).
    rate_limit_reset_header: str | None = None
    # Raw order fields holding the cumulative filled amount, ahead of ccxt's `filled`
    # (ccxt's bitget stream parser reports the last fill's size as `filled`).
    filled_fields: tuple[str, ...] = ()
    # The venue cancels a crossing post-only order without saying why (Bitget): a
    # post-only order whose first state is cancelled and unfilled crossed.
    post_only_cancel_unmarked: bool = False
    # The order id ccxt's fetch_order gets when looking up by client id (None: None;
    # ccxt's bitget builds its not-found message with the id and fails on None).
    client_lookup_order_id: str | None = None
    # The venue's rate-limit window: how long to wait after a rate-limit answer that
    # says nothing of when to come back (OKX and Bitget count requests per window).
    rate_limit_window_s: float | None = None

    def market(self, market_type: MarketType) -> MarketRow:
        return self.markets[market_type]


def _frozen(mapping: Mapping[str, object]) -> Mapping[str, object]:
    return MappingProxyType(dict(mapping))


def _concat(base: str, quote: str, _: MarketType) -> str:
    return f"{base}{quote}"


def _okx_symbol(base: str, quote: str, market_type: MarketType) -> str:
    return f"{base}-{quote}-SWAP" if market_type is MarketType.LINEAR_PERPETUAL else f"{base}-{quote}"


def _underscore(base: str, quote: str, _: MarketType) -> str:
    return f"{base}_{quote}"


_ALNUM = re.compile(r"[A-Za-z0-9]")
_ALNUM_DASH = re.compile(r"[A-Za-z0-9_-]")
_BINANCE_CHARS = re.compile(r"[.A-Z:/a-z0-9_-]")
_GATE_CHARS = re.compile(r"[0-9A-Za-z_.-]")

N, P, F, C, R, X = (
    OrderStatus.NEW,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED,
    OrderStatus.CANCELED,
    OrderStatus.REJECTED,
    OrderStatus.EXPIRED,
)

BINANCE = VenueRow(
    venue=Venue.BINANCE,
    markets=MappingProxyType(
        {
            MarketType.SPOT: MarketRow(
                ccxt_class="binance",
                ccxt_types=("spot",),
                default_type="spot",
                post_only_wire=WireParam("type", "LIMIT_MAKER"),
                reduce_only_wire=None,
                client_id_wire="newClientOrderId",
                rest_url_keys=("public", "private"),
                ws_url_keys=("ws.spot", "ws.ws-api.spot"),
                market_buy_base_params=_frozen({}),
                # Margin pairs (a private call) are not needed to trade spot.
                ccxt_options=_frozen({"fetchMargins": False}),
            ),
            MarketType.LINEAR_PERPETUAL: MarketRow(
                ccxt_class="binanceusdm",
                ccxt_types=("linear",),
                default_type="swap",
                post_only_wire=WireParam("timeInForce", "GTX"),
                reduce_only_wire=WireParam("reduceOnly", "true"),
                client_id_wire="newClientOrderId",
                rest_url_keys=("fapiPublic", "fapiPublicV2", "fapiPrivate", "fapiPrivateV2", "fapiPrivateV3"),
                # USDⓈ-M streams are routed by kind (/public/ws, /market/ws, /private/ws);
                # ccxt keeps those URLs under the "option*" keys.
                ws_url_keys=(
                    "ws.linear",
                    "ws.option",
                    "ws.optionMarket",
                    "ws.optionPrivate",
                    "ws.ws-api.linear",
                ),
            ),
        }
    ),
    venue_symbol=_concat,
    client_id=ClientIdRule("newClientOrderId", 36, _BINANCE_CHARS),
    lookup_param="clientOrderId",
    # REST orders carry "status"; user-data-stream orders carry "X".
    status_fields=("status", "X"),
    statuses=MappingProxyType(
        {
            "NEW": N,
            "PENDING_NEW": N,
            "PARTIALLY_FILLED": P,
            "PENDING_CANCEL": N,
            "FILLED": F,
            "CANCELED": C,
            "REJECTED": R,
            "EXPIRED": X,
            "EXPIRED_IN_MATCH": X,
        }
    ),
    post_only_markers=(),
    error_code_paths=(("code",),),
    success_codes=frozenset({"0", "200"}),
    error_codes=MappingProxyType(
        {
            "-4116": DuplicateClientOrderId,  # DUPLICATED_CLIENT_ORDER_ID (futures)
            "-4164": MinNotional,  # order's notional must be no smaller than ...
            "-5022": PostOnlyWouldCross,  # post-only order could not be executed as maker
            "-2022": ReduceOnlyRejected,  # ReduceOnly Order is rejected
            "-4118": ReduceOnlyRejected,  # REDUCE_ONLY_MARGIN_CHECK_FAILED
            # ccxt turns -2015 into DDoSProtection once a private call has succeeded
            # ("hasAlreadyAuthenticatedSuccessfully"): a revoked key is still a bad key.
            "-2015": AuthFailed,  # Invalid API-key, IP, or permissions for action
            "-2014": AuthFailed,  # API-key format invalid
            "-1022": AuthFailed,  # Signature for this request is not valid
            "-1001": VenueUnavailable,  # DISCONNECTED: internal error (ccxt: OperationFailed)
            "-1007": VenueUnavailable,  # TIMEOUT: backend timeout, execution status unknown
            "-1003": VenueRateLimited,  # TOO_MANY_REQUESTS
            "-1015": VenueRateLimited,  # TOO_MANY_ORDERS
        }
    ),
    error_messages=MappingProxyType(
        # Spot answers every rejected new order with -2010; the documented message
        # tells a duplicate client order id apart.
        {("-2010", "Duplicate order sent."): DuplicateClientOrderId}
    ),
    sandbox=Sandbox(SandboxKind.DEMO),
    needs_passphrase=False,
    position_mode=PositionModeCheck.FETCH,
    client_id_fields=("origClientOrderId",),
)

BITGET = VenueRow(
    venue=Venue.BITGET,
    markets=MappingProxyType(
        {
            MarketType.SPOT: MarketRow(
                ccxt_class="bitget",
                ccxt_types=("spot",),
                default_type="spot",
                post_only_wire=WireParam("force", "post_only"),
                reduce_only_wire=None,
                client_id_wire="clientOid",
                rest_url_keys=("spot", "margin"),
                ws_url_keys=("ws.public", "ws.private"),
                market_buy_base_params=None,
            ),
            MarketType.LINEAR_PERPETUAL: MarketRow(
                ccxt_class="bitget",
                ccxt_types=("swap",),
                default_type="swap",
                post_only_wire=WireParam("force", "post_only"),
                reduce_only_wire=WireParam("reduceOnly", "YES"),
                client_id_wire="clientOid",
                rest_url_keys=("mix",),
                ws_url_keys=("ws.public", "ws.private"),
            ),
        }
    ),
    venue_symbol=_concat,
    client_id=ClientIdRule("clientOid", 50, _ALNUM_DASH),
    lookup_param="clientOrderId",
    status_fields=("status", "state"),
    statuses=MappingProxyType(
        {
            "init": N,
            "new": N,
            "live": N,
            "partial_fill": P,
            "partially_fill": P,
            "partially_filled": P,
            "full_fill": F,
            "filled": F,
            "cancelled": C,
            "canceled": C,
        }
    ),
    post_only_markers=(),
    error_code_paths=(("code",),),
    success_codes=frozenset({"00000", "0"}),
    error_codes=MappingProxyType(
        {
            "40786": DuplicateClientOrderId,  # Duplicate clientOid
            "40708": DuplicateClientOrderId,  # client_oid duplicate
            "43118": DuplicateClientOrderId,  # clientOrderId duplicate
            "45110": MinNotional,  # less than the minimum amount
            "22002": ReduceOnlyRejected,  # no position to close
            "25227": ReduceOnlyRejected,  # no position available to close
            "429": VenueRateLimited,  # too many requests (HTTP 429)
            "40015": VenueUnavailable,  # system is abnormal, try again later
        }
    ),
    error_messages=MappingProxyType({}),
    sandbox=Sandbox(SandboxKind.HEADER, ("PAPTRADING", "1")),
    needs_passphrase=True,
    position_mode=PositionModeCheck.SET,
    filled_fields=("accBaseVolume",),  # stream orders: cumulative (baseVolume: this fill)
    post_only_cancel_unmarked=True,
    client_lookup_order_id="",
    rate_limit_window_s=1.0,  # trading endpoints count requests per second
)

GATE = VenueRow(
    venue=Venue.GATE,
    markets=MappingProxyType(
        {
            MarketType.SPOT: MarketRow(
                ccxt_class="gate",
                ccxt_types=("spot",),
                default_type="spot",
                post_only_wire=WireParam("time_in_force", "poc"),
                reduce_only_wire=None,
                client_id_wire="text",
                rest_url_keys=("public.spot", "private.spot", "public.margin"),
                ws_url_keys=("spot",),
                market_buy_base_params=None,
            ),
            MarketType.LINEAR_PERPETUAL: MarketRow(
                ccxt_class="gate",
                ccxt_types=("swap",),
                default_type="swap",
                post_only_wire=WireParam("tif", "poc"),
                reduce_only_wire=WireParam("reduce_only", True),
                client_id_wire="text",
                rest_url_keys=("public.futures", "private.futures"),
                ws_url_keys=("swap.usdt",),
                # Linear perpetuals settle in USDT; skip loading the BTC-settled list.
                ccxt_options=_frozen({"swap": {"fetchMarkets": {"settlementCurrencies": ["usdt"]}}}),
                candle_volume_in_contracts=True,
            ),
        }
    ),
    venue_symbol=_underscore,
    # Gate: "t-" + at most 28 bytes; ccxt checks the whole text against 28, so our part
    # may be 26 characters.
    client_id=ClientIdRule("text", 28, _GATE_CHARS, prefix="t-"),
    lookup_param="clientOrderId",
    # "finish_as" says how an order ended ("open" while it lives); "status" is the
    # coarse state of older payloads.
    status_fields=("finish_as", "status"),
    statuses=MappingProxyType(
        {
            "open": N,
            "_new": N,
            "_update": N,
            "filled": F,
            "closed": F,
            "finished": F,
            "cancelled": C,
            "liquidate_cancelled": C,
            "liquidated": C,
            "depth_not_enough": C,
            "trader_not_enough": C,
            "small": C,
            "auto_deleveraged": C,
            "reduce_only": C,
            "position_closed": C,
            "reduce_out": C,
            "ioc": X,
            "fok": X,
            "stp": X,
            "poc": R,
        }
    ),
    post_only_markers=(("finish_as", "poc"),),
    error_code_paths=(("label",),),
    success_codes=frozenset(),
    error_codes=MappingProxyType(
        {
            "ORDER_POC_IMMEDIATE": PostOnlyWouldCross,
            "POC_FILL_IMMEDIATELY": PostOnlyWouldCross,
            "INCREASE_POSITION": ReduceOnlyRejected,  # reduce-only order would increase position
            "REDUCE_EXCEEDED": ReduceOnlyRejected,  # reduce order would exceed the position
            # Cancelling an order that is no longer open: "no open order" like the other
            # venues (ccxt: InvalidOrder for the spot labels, ExchangeError for futures).
            "ORDER_CANCELLED": OrderNotFound,
            "ORDER_CLOSED": OrderNotFound,
            "ORDER_FINISHED": OrderNotFound,
            "TOO_MANY_REQUESTS": VenueRateLimited,  # HTTP 429
            "SERVER_ERROR": VenueUnavailable,  # HTTP 500
            "TOO_BUSY": VenueUnavailable,  # HTTP 503
        }
    ),
    error_messages=MappingProxyType({}),
    # ccxt's Gate testnet has no spot WebSocket URL; spot sandbox is refused.
    sandbox=Sandbox(SandboxKind.TESTNET, markets=frozenset({MarketType.LINEAR_PERPETUAL})),
    needs_passphrase=False,
    position_mode=PositionModeCheck.SET,
    leverage_params=_frozen({"marginMode": "cross"}),
    client_id_as_order_id=True,
    uid_lookup=("privateAccountGetDetail", "user_id"),  # GET /api/v4/account/detail
    rate_limit_reset_header="X-Gate-RateLimit-Reset-Timestamp",
)

OKX = VenueRow(
    venue=Venue.OKX,
    markets=MappingProxyType(
        {
            MarketType.SPOT: MarketRow(
                ccxt_class="okx",
                ccxt_types=("spot",),
                default_type="spot",
                post_only_wire=WireParam("ordType", "post_only"),
                reduce_only_wire=None,
                client_id_wire="clOrdId",
                rest_url_keys=("rest",),
                ws_url_keys=("ws",),
                market_buy_base_params=_frozen({"tgtCcy": "base_ccy"}),
            ),
            MarketType.LINEAR_PERPETUAL: MarketRow(
                ccxt_class="okx",
                ccxt_types=("swap",),
                default_type="swap",
                post_only_wire=WireParam("ordType", "post_only"),
                reduce_only_wire=WireParam("reduceOnly", True),
                client_id_wire="clOrdId",
                rest_url_keys=("rest",),
                ws_url_keys=("ws",),
            ),
        }
    ),
    venue_symbol=_okx_symbol,
    client_id=ClientIdRule("clOrdId", 32, _ALNUM),
    lookup_param="clientOrderId",
    status_fields=("state",),
    statuses=MappingProxyType(
        {
            "live": N,
            "partially_filled": P,
            "filled": F,
            "canceled": C,
            "mmp_canceled": C,
        }
    ),
    post_only_markers=(("cancelSource", "31"),),
    error_code_paths=(("data", 0, "sCode"), ("code",)),
    success_codes=frozenset({"0"}),
    error_codes=MappingProxyType(
        {
            "51016": DuplicateClientOrderId,  # duplicated client order id
            "51020": MinNotional,  # order quantity below the minimum order size
            "51120": MinNotional,  # order quantity is less than the minimum
            "51169": ReduceOnlyRejected,  # no position in this direction to reduce
            "51170": ReduceOnlyRejected,  # reduce-only order in the direction of the position
            "50011": VenueRateLimited,  # rate limit reached (HTTP 429)
            "50026": VenueUnavailable,  # system error, try again later
            "50013": VenueUnavailable,  # systems are busy
        }
    ),
    error_messages=MappingProxyType({}),
    sandbox=Sandbox(SandboxKind.HEADER, ("x-simulated-trading", "1")),
    needs_passphrase=True,
    position_mode=PositionModeCheck.FETCH,
    leverage_params=_frozen({"marginMode": "cross"}),
    rate_limit_window_s=2.0,  # trading endpoints count requests per 2 s
)

BYBIT = VenueRow(
    venue=Venue.BYBIT,
    markets=MappingProxyType(
        {
            MarketType.SPOT: MarketRow(
                ccxt_class="bybit",
                ccxt_types=("spot",),
                default_type="spot",
                post_only_wire=WireParam("timeInForce", "PostOnly"),
                reduce_only_wire=None,
                client_id_wire="orderLinkId",
                rest_url_keys=("public", "private"),
                ws_url_keys=("ws.public.spot", "ws.private.spot.unified"),
                market_buy_base_params=_frozen({"marketUnit": "baseCoin"}),
            ),
            MarketType.LINEAR_PERPETUAL: MarketRow(
                ccxt_class="bybit",
                ccxt_types=("linear",),
                default_type="swap",
                post_only_wire=WireParam("timeInForce", "PostOnly"),
                reduce_only_wire=WireParam("reduceOnly", True),
                client_id_wire="orderLinkId",
                rest_url_keys=("public", "private"),
                ws_url_keys=("ws.public.linear", "ws.private.contract"),
                order_params=_frozen({"positionIdx": 0}),
            ),
        }
    ),
    venue_symbol=_concat,
    client_id=ClientIdRule("orderLinkId", 36, _ALNUM_DASH),
    lookup_param="orderLinkId",
    status_fields=("orderStatus",),
    statuses=MappingProxyType(
        {
            "Created": N,
            "New": N,
            "Untriggered": N,
            "Triggered": N,
            "Active": N,
            "PartiallyFilled": P,
            "Filled": F,
            "Cancelled": C,
            "PartiallyFilledCanceled": C,
            "Deactivated": C,
            "Rejected": R,
        }
    ),
    post_only_markers=(("rejectReason", "EC_PostOnlyWillTakeLiquidity"),),
    error_code_paths=(("retCode",),),
    success_codes=frozenset({"0"}),
    error_codes=MappingProxyType(
        {
            "110072": DuplicateClientOrderId,  # OrderLinkedID is duplicate
            "170141": DuplicateClientOrderId,  # duplicate clientOrderId (spot)
            "12141": DuplicateClientOrderId,
            "110094": MinNotional,  # order notional value below the lower limit
            "170140": MinNotional,  # transaction amount lower than the minimum
            "170136": MinNotional,  # order quantity lower than the minimum
            "110017": ReduceOnlyRejected,  # reduce-only rule not satisfied
            "170218": PostOnlyWouldCross,  # the LIMIT-MAKER order is rejected (spot)
            "10003": AuthFailed,  # API key is invalid
            "10004": AuthFailed,  # error sign
            "10006": VenueRateLimited,  # too many visits
            "10000": VenueUnavailable,  # server timeout
            "10016": VenueUnavailable,  # server error (ccxt: ExchangeError)
        }
    ),
    error_messages=MappingProxyType({}),
    sandbox=Sandbox(SandboxKind.TESTNET),
    needs_passphrase=False,
    position_mode=PositionModeCheck.SET,
    position_mode_noop_codes=frozenset({"110025"}),  # position mode is not modified
    leverage_noop_codes=frozenset({"110043"}),  # leverage not modified
    order_lookup=OrderLookup.OPEN_THEN_CLOSED,
    rate_limit_reset_header="X-Bapi-Limit-Reset-Timestamp",
)

VENUES: Mapping[Venue, VenueRow] = MappingProxyType(
    {row.venue: row for row in (BINANCE, BITGET, GATE, OKX, BYBIT)}
)


def venue_row(venue: Venue) -> VenueRow:
    row = VENUES.get(venue)
    if row is None:
        raise ValueError(f"{venue.value} is not served by the ccxt adapter")
    return row


__all__ = [
    "BINANCE",
    "BITGET",
    "BYBIT",
    "GATE",
    "OKX",
    "OUR_CLIENT_ID",
    "POST_ONLY_DETAIL",
    "VENUES",
    "ClientIdRule",
    "MarketRow",
    "OrderLookup",
    "PositionModeCheck",
    "Sandbox",
    "SandboxKind",
    "VenueRow",
    "WireParam",
    "venue_row",
]
