"""Positions as risk sees them: moved at once by fills, corrected by position polls.

Fills arrive on the connector's StreamFills as soon as the venue reports them, so the
position risk checks against (e.g. for a take-profit reduce-only sell right after a buy
fill) moves without waiting for the next poll. Polls of GetPositions are the truth
and overwrite the fill-derived quantity, except for a symbol that received a fill while
the poll was in flight (the poll may predate that fill; the next poll settles it).

PnL is reported relative to a baseline taken from the first poll of each symbol, so
the drawdown guard measures the loss since this risk process started, not the
account's lifetime PnL. A symbol first seen in a fill has no PnL until its first poll.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from opensqt_common.enums import Side
from opensqt_risk.rules import PositionSnapshot
from opensqt_risk.rules.arith import ZERO, add, sub

DEFAULT_TRADE_MEMORY = 10_000


@dataclass(frozen=True, slots=True)
class FillEvent:
    """The fields of a connector Fill that move a position."""

    trade_id: str
    symbol: str
    side: Side
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class PositionReport:
    """One position as GetPositions reports it (PnL absolute, leverage as set at the venue)."""

    symbol: str
    quantity: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    leverage: Decimal | None


class _Book:
    __slots__ = ("baseline_realized", "baseline_unrealized", "epoch", "quantity", "realized", "unrealized")

    def __init__(self) -> None:
        self.quantity = ZERO
        self.realized = ZERO
        self.unrealized = ZERO
        self.baseline_realized: Decimal | None = None
        self.baseline_unrealized = ZERO
        # Bumped by every fill; a poll started before a fill must not overwrite it.
        self.epoch = 0

    def snapshot(self, symbol: str) -> PositionSnapshot:
        return PositionSnapshot(symbol, self.quantity, self.realized, self.unrealized)


class AccountTracker:
    def __init__(self, symbols: Iterable[str] = (), *, trade_memory: int = DEFAULT_TRADE_MEMORY) -> None:
        if trade_memory < 1:
            raise ValueError(f"trade_memory must be >= 1, got {trade_memory}")
        self._books: dict[str, _Book] = {}
        self._trades: OrderedDict[str, None] = OrderedDict()
        self._trade_memory = trade_memory
        for symbol in symbols:
            self.track(symbol)

    def track(self, symbol: str) -> None:
        self._books.setdefault(symbol, _Book())

    def tracks(self, symbol: str) -> bool:
        return symbol in self._books

    def on_fill(self, fill: FillEvent) -> PositionSnapshot | None:
        """Apply a fill once (deduplicated by trade id); the new position, or None."""
        book = self._books.get(fill.symbol)
        if book is None or fill.quantity <= 0:
            return None
        key = f"{fill.symbol}\x00{fill.trade_id}"
        if key in self._trades:
            return None
        self._trades[key] = None
        if len(self._trades) > self._trade_memory:
            self._trades.popitem(last=False)
        if fill.side is Side.BUY:
            book.quantity = add(book.quantity, fill.quantity)
        else:
            book.quantity = sub(book.quantity, fill.quantity)
        book.epoch += 1
        return book.snapshot(fill.symbol)

    def poll_token(self) -> dict[str, int]:
        """Taken before a GetPositions call and handed back with its answer."""
        return {symbol: book.epoch for symbol, book in self._books.items()}

    def on_poll(
        self, reports: Iterable[PositionReport], token: Mapping[str, int], *, flat_when_missing: Iterable[str]
    ) -> list[PositionSnapshot]:
        """Apply a poll; returns the snapshots to push into the risk context.

        `flat_when_missing`: tracked symbols whose absence from the answer means no
        position (perpetuals; venues list only open positions). Their realised PnL is kept.
        """
        seen: dict[str, PositionReport] = {}
        for report in reports:
            if report.symbol in self._books:
                seen[report.symbol] = report
        for symbol in flat_when_missing:
            if symbol in self._books and symbol not in seen:
                book = self._books[symbol]
                realized = (
                    ZERO if book.baseline_realized is None else add(book.realized, book.baseline_realized)
                )
                seen[symbol] = PositionReport(symbol, ZERO, realized, ZERO, None)
        snapshots: list[PositionSnapshot] = []
        for symbol, report in seen.items():
            book = self._books[symbol]
            if book.baseline_realized is None:
                book.baseline_realized = report.realized_pnl
                book.baseline_unrealized = report.unrealized_pnl
            book.realized = sub(report.realized_pnl, book.baseline_realized)
            book.unrealized = sub(report.unrealized_pnl, book.baseline_unrealized)
            if token.get(symbol) == book.epoch:
                book.quantity = report.quantity
            snapshots.append(book.snapshot(symbol))
        return snapshots
