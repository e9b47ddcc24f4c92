"""Connector conformance: the same scenarios for every venue × market, through the real
`opensqt-connector --exchange <venue> --api-url … --ws-url …` process, against the
venue's loopback replica, over gRPC.

One connector process (and one replica) serves all scenarios of a venue × market
(the module-scoped `venue` fixture); each scenario uses its own client order ids and
leaves no open order, armed fault or moved price behind (`_isolated`). What a
scenario asserts about the venue it reads from the replica's own order book and
request log, not from the connector.

"Exactly once" is checked behind a barrier: after a scenario's fills, one more
order is placed and filled, and its update and fill are awaited; streams are ordered,
so any duplicate of the earlier events would have arrived before them.

When a venue × market is done, the connector must exit 0 on SIGTERM, no credential
may appear anywhere in its log (stderr, JSON lines), and the replica must have served
every request it got (no replica gap, no handler error).

docs/venues.md is the table of these scenarios per venue × market.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import grpc
import pytest
import pytest_asyncio

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt.exchange.v1 import exchange_service_pb2_grpc
from opensqt_common.errors import error_info
from opensqt_common.testing import eventually
from opensqt_connector.testing import limit_order

from .conformance.cases import CONFORMANCE_CASES, ConformanceCase
from .conformance.process import ConnectorExited, ConnectorProcess
from .conformance.recorders import FillRecorder, OrderRecorder
from .framework.core import VenueOrder
from .framework.faults import FaultKind, RequestFault
from .framework.server import Credentials, StreamKind, VenueReplica

pytestmark = pytest.mark.asyncio(loop_scope="module")

NEW = common_pb2.ORDER_STATUS_NEW
PENDING_NEW = common_pb2.ORDER_STATUS_PENDING_NEW
PARTIALLY_FILLED = common_pb2.ORDER_STATUS_PARTIALLY_FILLED
FILLED = common_pb2.ORDER_STATUS_FILLED
CANCELED = common_pb2.ORDER_STATUS_CANCELED
READY_TIMEOUT_S = 20.0
RETRY_AFTER_S = 1

_ids = itertools.count(1)


def cid(tag: str) -> str:
    """A client order id unique in the module that every venue accepts (alphanumeric)."""
    return f"{tag}{next(_ids)}"


def d(value: common_pb2.Decimal) -> Decimal:
    return Decimal(value.value)


@dataclass
class Venue:
    """One venue × market under test: its replica and the connector serving it."""

    case: ConformanceCase
    replica: VenueReplica
    connector: ConnectorProcess
    stub: Any
    credentials: Credentials
    start_price: Decimal
    mark: int = 0  # requests the replica had seen when the current scenario began

    @property
    def symbol(self) -> str:
        return self.case.symbol

    def last(self) -> Decimal:
        return self.replica.core.ticker(self.symbol).last

    def level(self, steps: int = 1) -> Decimal:
        """A buy price `steps` rest offsets below the last price (rests, post-only)."""
        return self.last() - self.case.rest_offset * steps

    def order(self, client_order_id: str, price: Decimal, *, post_only: bool = True) -> pb.PlaceOrderRequest:
        return limit_order(
            client_order_id,
            "buy",
            str(price),
            str(self.case.quantity),
            symbol=self.symbol,
            post_only=post_only,
        )

    async def place(self, client_order_id: str, price: Decimal, **kwargs: Any) -> pb.PlaceOrderResponse:
        response: pb.PlaceOrderResponse = await self.stub.PlaceOrder(
            self.order(client_order_id, price), **kwargs
        )
        return response

    def at_venue(self, client_order_id: str) -> list[VenueOrder]:
        """Every order the venue holds under this client order id (any state)."""
        stored = self.case.client_id_prefix + client_order_id
        return [
            o
            for o in self.replica.core.orders(self.symbol)
            if self.case.stored_client_id(self.replica, o) == stored
        ]

    def venue_fills(self, venue_order_id: str) -> list[Any]:
        return [f for f in self.replica.core.fills(self.symbol) if f.order_id == venue_order_id]

    def placements(self) -> list[Any]:
        method, path = self.case.place_route
        return [r for r in self.requests() if r.method == method and r.path == path]

    def requests(self) -> list[Any]:
        """What the replica was asked since the current scenario began."""
        return self.replica.requests[self.mark :]

    def recorders(self, since_ms: int) -> tuple[OrderRecorder, FillRecorder]:
        orders = OrderRecorder(self.stub, self.symbol)
        fills = FillRecorder(self.stub, self.symbol, since_ms)
        orders.start()
        fills.start()
        return orders, fills

    async def barrier(self, orders: OrderRecorder, fills: FillRecorder) -> None:
        """Place and fill one more order and wait for its update and fill (see the
        module docstring): everything caused before it has been delivered."""
        sentinel = cid("bar")
        price = self.level()
        await self.place(sentinel, price)
        await eventually(lambda: len(self.at_venue(sentinel)) == 1, message="barrier order at the venue")
        self.replica.set_price(self.symbol, price)
        await orders.until(lambda: orders.has(sentinel, FILLED), "barrier order FILLED on StreamOrderUpdates")
        await fills.until(lambda: len(fills.of(sentinel)) >= 1, "barrier fill on StreamFills")


async def rpc_error(call: Any) -> tuple[grpc.StatusCode, str]:
    """The status code and ErrorInfo reason of a call expected to fail."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    info = error_info(raised.value)
    return raised.value.code(), info.reason if info is not None else ""


def venue_rate_limit_status(venue: Venue) -> int:
    """The HTTP status of the venue's rate-limit answer (Bybit: 200 with retCode 10006)."""
    return int(venue.replica.fault_response(RequestFault(FaultKind.RATE_LIMIT)).status)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=CONFORMANCE_CASES, ids=lambda c: c.id)
async def venue(request: pytest.FixtureRequest) -> AsyncIterator[Venue]:
    case: ConformanceCase = request.param
    replica = case.new_replica()
    await replica.start()
    try:
        connector = await ConnectorProcess.start(case.argv(replica), case.env(replica))
        try:
            await eventually(
                lambda: replica.private_ready(case.market, frozenset({"orders", "trades"})),
                timeout=READY_TIMEOUT_S,
                message=f"{case.id}: the connector's private streams subscribed",
            )
            async with grpc.aio.insecure_channel(connector.target) as channel:
                yield Venue(
                    case=case,
                    replica=replica,
                    connector=connector,
                    stub=exchange_service_pb2_grpc.ExchangeServiceStub(channel),
                    credentials=replica.credentials,
                    start_price=replica.core.ticker(case.symbol).last,
                )
        finally:
            returncode = await connector.stop()
        assert returncode == 0, f"connector exited with {returncode}:\n{connector.log[-3000:]}"
        for secret in case.secrets(replica):
            assert secret not in connector.log, "a credential appeared in the connector's log"
    finally:
        await replica.stop()
    assert not replica.handler_errors, f"replica handler failed: {replica.handler_errors!r}"
    assert not replica.unserved(), f"the replica does not serve {replica.unserved()}"


@pytest_asyncio.fixture(autouse=True, loop_scope="module")
async def _isolated(venue: Venue) -> AsyncIterator[None]:
    assert venue.replica.core.open_orders(venue.symbol) == [], "an earlier scenario left an order open"
    venue.mark = len(venue.replica.requests)
    try:
        yield
    finally:
        replica = venue.replica
        replica.faults.clear()
        replica.credentials = venue.credentials
        replica.core.cancel_all(venue.symbol)
        replica.set_price(venue.symbol, venue.start_price)


# ----------------------------------------------------------------------------- scenarios


async def test_markets_load_and_orders_round_to_the_venue_grid(venue: Venue) -> None:
    info = venue.replica.core.market(venue.symbol)
    market = (await venue.stub.GetMarket(pb.GetMarketRequest(symbol=venue.symbol))).market
    assert (market.symbol, market.venue_symbol) == (venue.symbol, info.venue_symbol)
    assert d(market.tick_size) == info.tick_size
    assert d(market.step_size) == info.step_size
    assert d(market.min_quantity) == info.min_quantity
    assert d(market.min_notional) == info.min_notional
    assert d(market.contract_size) == info.contract_size
    listed = (await venue.stub.ListMarkets(pb.ListMarketsRequest())).markets
    assert [m.symbol for m in listed] == [venue.symbol]

    price, quantity = venue.level(), venue.case.quantity
    invalid = (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    refused = [
        (price + info.tick_size / 2, quantity, invalid),  # between two ticks
        (price, quantity + info.step_size / 2, invalid),  # between two steps
        (price, info.min_quantity - info.step_size, invalid),  # below the minimum quantity (or zero)
    ]
    if info.min_notional > 0:  # the smallest quantity, at a price that leaves it below the notional
        low = max(info.tick_size, (info.min_notional / info.min_quantity / 2).quantize(info.tick_size))
        refused.append(
            (min(low, price), info.min_quantity, (grpc.StatusCode.FAILED_PRECONDITION, "MIN_NOTIONAL"))
        )
    for bad_price, bad_quantity, expected in refused:
        request = limit_order(cid("grid"), "buy", str(bad_price), str(bad_quantity), symbol=venue.symbol)
        assert await rpc_error(venue.stub.PlaceOrder(request)) == expected, (bad_price, bad_quantity)
    assert venue.placements() == []  # refused before anything reached the venue


async def test_post_only_order_rests_on_the_book(venue: Venue) -> None:
    client_id, price = cid("rest"), venue.level()
    placed = (await venue.place(client_id, price)).order
    assert placed.status in (NEW, PENDING_NEW)
    assert (placed.client_order_id, placed.post_only) == (client_id, True)
    [held] = venue.at_venue(client_id)
    assert held.info.status.name == "NEW"
    assert (held.info.price, held.info.quantity, held.info.post_only) == (price, venue.case.quantity, True)
    assert placed.order_id == held.venue_id
    fetched = (
        await venue.stub.GetOrder(pb.GetOrderRequest(symbol=venue.symbol, client_order_id=client_id))
    ).order
    assert (fetched.status, fetched.order_id) == (NEW, held.venue_id)
    assert (d(fetched.price), d(fetched.quantity)) == (price, venue.case.quantity)
    assert d(fetched.filled_quantity) == 0
    listed = (await venue.stub.ListOpenOrders(pb.ListOpenOrdersRequest(symbol=venue.symbol))).orders
    assert [(o.client_order_id, o.status) for o in listed] == [(client_id, NEW)]


async def test_post_only_that_would_cross_is_refused(venue: Venue) -> None:
    client_id = cid("cross")
    code, reason = await rpc_error(venue.place(client_id, venue.last() + venue.case.rest_offset))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "POST_ONLY_WOULD_CROSS")
    assert venue.replica.core.open_orders(venue.symbol) == []
    refused = venue.at_venue(client_id)  # none, or one the venue cancelled at once (Bybit, OKX)
    assert all(o.info.status.is_terminal for o in refused)
    assert all(venue.venue_fills(o.venue_id) == [] for o in refused)


async def test_partial_then_full_fill_reported_exactly_once(venue: Venue) -> None:
    orders, fills = venue.recorders(_now_ms())
    try:
        await orders.started()
        client_id, price, case = cid("fill"), venue.level(), venue.case
        order_id = (await venue.place(client_id, price)).order.order_id
        await orders.until(lambda: orders.has(client_id, NEW), "NEW on StreamOrderUpdates")
        venue.replica.set_price(venue.symbol, price, max_fill=case.partial)
        await orders.until(
            lambda: orders.has(client_id, PARTIALLY_FILLED, str(case.partial)), "PARTIALLY_FILLED update"
        )
        await fills.until(lambda: len(fills.of(client_id)) == 1, "the partial fill on StreamFills")
        venue.replica.set_price(venue.symbol, price)
        await orders.until(lambda: orders.has(client_id, FILLED, str(case.quantity)), "FILLED update")
        await venue.barrier(orders, fills)
    finally:
        await orders.stop()
        await fills.stop()

    assert [e for e in orders.ended + fills.ended if e.code is not grpc.StatusCode.CANCELLED] == []
    statuses = [(o.status, d(o.filled_quantity)) for o in orders.updates(client_id)]
    assert statuses.count((PARTIALLY_FILLED, case.partial)) == 1
    assert statuses.count((FILLED, case.quantity)) == 1
    assert statuses[-1] == (FILLED, case.quantity)
    venue_fills = venue.venue_fills(order_id)
    received = [r.item for r in fills.of(client_id)]
    assert len(received) == len(venue_fills) == 2  # each fill exactly once
    assert len({f.trade_id for f in received}) == 2
    assert sorted(d(f.quantity) for f in received) == sorted([case.partial, case.quantity - case.partial])
    assert all(
        (f.order_id, d(f.price), f.maker, f.side) == (order_id, price, True, common_pb2.SIDE_BUY)
        for f in received
    )


async def test_cancel_by_client_id_and_by_venue_id(venue: Venue) -> None:
    first, second = cid("cxl"), cid("cxl")
    await venue.place(first, venue.level())
    second_id = (await venue.place(second, venue.level(2))).order.order_id
    canceled = (
        await venue.stub.CancelOrder(pb.CancelOrderRequest(symbol=venue.symbol, client_order_id=first))
    ).order
    assert (canceled.client_order_id, canceled.status) == (first, CANCELED)
    canceled = (
        await venue.stub.CancelOrder(pb.CancelOrderRequest(symbol=venue.symbol, order_id=second_id))
    ).order
    assert (canceled.client_order_id, canceled.status) == (second, CANCELED)
    assert [o.info.status.name for o in venue.at_venue(first) + venue.at_venue(second)] == ["CANCELED"] * 2
    fetched = (
        await venue.stub.GetOrder(pb.GetOrderRequest(symbol=venue.symbol, client_order_id=first))
    ).order
    assert fetched.status == CANCELED
    code, reason = await rpc_error(
        venue.stub.CancelOrder(pb.CancelOrderRequest(symbol=venue.symbol, order_id=second_id))
    )
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "ORDER_NOT_FOUND")


async def test_cancel_all_orders(venue: Venue) -> None:
    client_ids = [cid("all") for _ in range(3)]
    for steps, client_id in enumerate(client_ids, start=1):
        await venue.place(client_id, venue.level(steps))
    assert len(venue.replica.core.open_orders(venue.symbol)) == 3
    canceled = (await venue.stub.CancelAllOrders(pb.CancelAllOrdersRequest(symbol=venue.symbol))).orders
    assert sorted((o.client_order_id, o.status) for o in canceled) == sorted(
        (c, CANCELED) for c in client_ids
    )
    assert venue.replica.core.open_orders(venue.symbol) == []
    again = (await venue.stub.CancelAllOrders(pb.CancelAllOrdersRequest(symbol=venue.symbol))).orders
    assert list(again) == []


async def test_lost_ack_is_retried_without_a_second_order(venue: Venue) -> None:
    client_id = cid("lost")
    venue.replica.faults.lose_next_acks(1)
    placed = await venue.place(client_id, venue.level())
    assert venue.replica.faults.fired[-1][2] == "lost_ack"
    assert placed.order.client_order_id == client_id
    [held] = venue.at_venue(client_id)
    assert placed.order.order_id == held.venue_id
    again = await venue.place(client_id, venue.level())  # the client's own retry
    assert (again.existing, again.order.order_id) == (True, held.venue_id)
    assert len(venue.at_venue(client_id)) == 1
    assert len(venue.placements()) == 1  # the connector found the order instead of re-sending


async def test_client_retry_while_the_ack_is_held_places_one_order(venue: Venue) -> None:
    client_id = cid("held")
    release = venue.replica.faults.hold_next_ack()
    try:
        code, _ = await rpc_error(venue.place(client_id, venue.level(), timeout=0.5))
        assert code is grpc.StatusCode.DEADLINE_EXCEEDED  # the client gave up waiting ...
        assert len(venue.at_venue(client_id)) == 1  # ... but the venue has the order
        retry = venue.place(client_id, venue.level())  # ... so the client retries the same id
    finally:
        release.set()
    again = await retry
    [held] = venue.at_venue(client_id)
    assert (again.existing, again.order.order_id) == (True, held.venue_id)
    assert len(venue.placements()) == 1


async def test_stream_drop_mid_fill_reconnects_and_reports_the_fill_once(venue: Venue) -> None:
    """Twice: the venue closes its streams with its own close code, then the network
    cuts them (no close frame); each time the rest of the order fills while they are
    down."""
    await _drop_mid_fill(venue, abrupt=False)
    await _drop_mid_fill(venue, abrupt=True)


async def _drop_mid_fill(venue: Venue, *, abrupt: bool) -> None:
    orders, fills = venue.recorders(_now_ms())
    case, replica = venue.case, venue.replica
    private: frozenset[StreamKind] = frozenset({"orders", "trades"})
    try:
        await orders.started()
        client_id, price = cid("drop"), venue.level()
        order_id = (await venue.place(client_id, price)).order.order_id
        replica.set_price(venue.symbol, price, max_fill=case.partial)
        await fills.until(lambda: len(fills.of(client_id)) == 1, "the partial fill before the drop")
        before = set(replica.sessions())
        assert await replica.drop_streams(abrupt=abrupt) == len(before) > 0
        await eventually(lambda: not replica.private_ready(case.market, private), message="streams down")
        replica.set_price(venue.symbol, price)  # the rest fills while the streams are down
        await orders.until(
            lambda: orders.has(client_id, FILLED, str(case.quantity)), "FILLED after reconnect"
        )
        await fills.until(lambda: len(fills.trade_ids(client_id)) == 2, "the missed fill after reconnect")
        await eventually(
            lambda: replica.private_ready(case.market, private),
            timeout=READY_TIMEOUT_S,
            message="private streams resubscribed",
        )
        await venue.barrier(orders, fills)  # live streams work again
    finally:
        await orders.stop()
        await fills.stop()

    assert set(replica.sessions()).isdisjoint(before)  # every stream reconnected on a new socket
    unavailable = [e for e in orders.ended + fills.ended if e.code is grpc.StatusCode.UNAVAILABLE]
    assert unavailable, "the connector did not tell its clients the venue stream was interrupted"
    assert len(venue.venue_fills(order_id)) == 2
    received = fills.of(client_id)
    first = [r for r in received if r.subscription == 1]
    assert len(first) == 1  # the partial fill, before the drop
    missed = [r for r in received if r.item.trade_id != first[0].item.trade_id]
    assert len(missed) == 1, f"the fill made while disconnected came {len(missed)} times"
    assert d(missed[0].item.quantity) == case.quantity - case.partial
    for subscription in {r.subscription for r in received}:
        ids = [r.item.trade_id for r in received if r.subscription == subscription]
        assert len(ids) == len(set(ids)), "a fill was repeated within one subscription"
    for trade_id in {r.item.trade_id for r in received}:
        assert sum(1 for r in received if r.live and r.item.trade_id == trade_id) <= 1  # live once at most
    assert [o.status for o in orders.updates(client_id)].count(FILLED) == 1


async def test_rate_limit_backs_off_for_the_venues_retry_after(venue: Venue) -> None:
    client_id = cid("limit")
    method, path = venue.case.place_route
    venue.replica.faults.rate_limit_next(1, retry_after_s=RETRY_AFTER_S, path=path, method=method)
    placed = await venue.place(client_id, venue.level())
    assert placed.order.client_order_id == client_id
    limited, accepted = venue.placements()
    assert limited.status == venue_rate_limit_status(venue)
    assert 200 <= accepted.status < 300
    wait_s = venue.case.rate_limit_window_s or RETRY_AFTER_S
    assert accepted.time_ms - limited.time_ms >= wait_s * 1000  # waited the venue's time
    between = [r for r in venue.requests() if limited.time_ms < r.time_ms < accepted.time_ms]
    assert all(r.method == "GET" for r in between)  # only the look-up of the order ...
    assert len(between) <= 2, between  # ... no hammering
    assert len(venue.at_venue(client_id)) == 1


async def test_positions_and_balances_match_the_venue(venue: Venue) -> None:
    """After a fill: a perpetual's position (base units, entry price, leverage), or a
    spot account's balances, as the venue holds them."""
    client_id, price = cid("pos"), venue.level()
    order_id = (await venue.place(client_id, price)).order.order_id
    await eventually(lambda: len(venue.at_venue(client_id)) == 1, message="order at the venue")
    venue.replica.set_price(venue.symbol, price)
    await eventually(lambda: len(venue.venue_fills(order_id)) == 1, message="filled at the venue")
    core = venue.replica.core
    if venue.case.perp:
        [position] = [p for p in core.positions(venue.symbol) if p.quantity != 0]
        positions = (await venue.stub.GetPositions(pb.GetPositionsRequest(symbol=venue.symbol))).positions
        assert [(p.symbol, d(p.quantity), d(p.entry_price)) for p in positions] == [
            (venue.symbol, position.quantity, position.entry_price)
        ]
        assert d(positions[0].leverage) == core.leverage(venue.symbol)
        return
    balances = {b.asset: b for b in (await venue.stub.GetBalances(pb.GetBalancesRequest())).balances}
    for held in core.balances():
        if held.total:
            assert (d(balances[held.asset].total), d(balances[held.asset].free)) == (held.total, held.free)


async def test_set_leverage_is_idempotent(venue: Venue) -> None:
    request = pb.SetLeverageRequest(symbol=venue.symbol, leverage=common_pb2.Decimal(value="7"))
    if not venue.case.perp:
        code, _ = await rpc_error(venue.stub.SetLeverage(request))
        assert code is grpc.StatusCode.INVALID_ARGUMENT
        return
    for _ in range(2):  # the second time the venue may answer "not modified" (Bybit 110043)
        assert d((await venue.stub.SetLeverage(request)).leverage) == 7
    assert venue.replica.core.leverage(venue.symbol) == 7


async def test_revoked_credentials_are_unauthenticated(venue: Venue) -> None:
    before = len(venue.placements())
    venue.replica.credentials = dataclasses.replace(
        venue.credentials, api_key=venue.credentials.api_key + "0"
    )
    code, reason = await rpc_error(venue.place(cid("auth"), venue.level()))
    assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "AUTH_FAILED")
    assert len(venue.placements()) == before + 1  # refused once, not retried
    code, reason = await rpc_error(venue.stub.GetBalances(pb.GetBalancesRequest()))
    assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "AUTH_FAILED")


async def test_bad_credentials_stop_the_start_and_never_reach_the_log(venue: Venue) -> None:
    case, replica = venue.case, venue.replica
    wrong_secret = "wrong-" + venue.credentials.api_secret[::-1]
    with pytest.raises(ConnectorExited) as exited:
        await ConnectorProcess.start(case.argv(replica), case.env(replica, secret=wrong_secret))
    assert exited.value.returncode == 1
    log = exited.value.log
    assert "AUTH_FAILED" in log
    for secret in [*case.secrets(replica), wrong_secret]:
        assert secret not in log
