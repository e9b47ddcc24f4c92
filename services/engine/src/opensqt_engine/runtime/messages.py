"""What the engine's tasks hand to its single consumer through the inbox.

Stream readers, the risk and order-entry links, lookups, timers and the operator
service never touch the grid state: they describe what happened with one of these,
and the consumer applies it (to the core, the journal, the audit log and the metrics).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opensqt.common.v1 import common_pb2
from opensqt.exchange.v1 import types_pb2
from opensqt_common.enums import TradingState
from opensqt_engine.core import PriceTick, RejectReason

if TYPE_CHECKING:
    from opensqt_engine.durable import ReconcileReport, Settlement


@dataclass(frozen=True, slots=True)
class TickIn:
    tick: PriceTick
    received_ns: int  # time.perf_counter_ns() when read off the stream


class OrderSource(enum.Enum):
    SNAPSHOT = "snapshot"  # the open orders the order stream sends first
    STREAM = "stream"  # a live update on the order stream


@dataclass(frozen=True, slots=True)
class OrderIn:
    order: types_pb2.Order
    source: OrderSource


@dataclass(frozen=True, slots=True)
class FillIn:
    fill: types_pb2.Fill
    replayed: bool


class RequestKind(enum.Enum):
    PLACE = "place"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class VenueAnswer:
    """The connector's answer to a place or cancel: the order, or an error."""

    kind: RequestKind
    client_order_id: str
    order: types_pb2.Order | None
    error: common_pb2.Error | None


@dataclass(frozen=True, slots=True)
class AnswerLost:
    """A request whose answer will never come (the stream broke): look the order up."""

    kind: RequestKind
    client_order_id: str
    detail: str


@dataclass(frozen=True, slots=True)
class PlaceFailed:
    """An order that was never sent: vetoed by risk, or nobody to send it to."""

    client_order_id: str
    reason: RejectReason
    detail: str
    vetoed: bool


@dataclass(frozen=True, slots=True)
class LookupResult:
    """What GetOrder said about an order whose fate was unknown (None: the venue never saw it)."""

    kind: RequestKind
    client_order_id: str
    order: types_pb2.Order | None


@dataclass(frozen=True, slots=True)
class Settled:
    """An order's lifecycle workflow (DBOS) settled it: the venue's answer never came, so it
    looked the order up (`settlement.status` set; None with NOT_FOUND: it never arrived), or
    the runtime had recorded the answer itself meanwhile (`status` None, outcome not NOT_FOUND)."""

    client_order_id: str
    settlement: Settlement


@dataclass(frozen=True, slots=True)
class DurableReconciled:
    """A reconciliation workflow's report (open intents against the venue's open orders)."""

    report: ReconcileReport


@dataclass(frozen=True, slots=True)
class RiskStateIn:
    """Risk's trading state, as WatchTradingState pushed it."""

    state: TradingState
    reason: str
    source: str
    since_ns: int


@dataclass(frozen=True, slots=True)
class LinkChange:
    """A supervised stream came up or went down."""

    name: str
    up: bool
    detail: str


@dataclass(frozen=True, slots=True)
class TimerIn:
    pass


@dataclass(frozen=True, slots=True)
class ReconcileRequest:
    reason: str


@dataclass(slots=True)
class Command:
    """Run `action` on the consumer (serialised with everything else) and resolve `done`."""

    action: Callable[[], Awaitable[Any]]
    done: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


Control = (
    VenueAnswer
    | AnswerLost
    | PlaceFailed
    | LookupResult
    | Settled
    | DurableReconciled
    | RiskStateIn
    | LinkChange
    | TimerIn
    | ReconcileRequest
    | Command
)
StreamItem = OrderIn | FillIn
