"""Faults a test arms on a replica: each one fires for the next N matching requests.

- `fail_next`: the venue's 5xx answer (its own JSON error body, or a gateway's HTML
  page when `gateway=True`, as a load balancer in front of the venue sends).
- `rate_limit_next`: the venue's own rate-limit answer (status, error code, headers).
- `delay_acks` / `hold_next_ack`: an order placement is executed at once (its WebSocket
  updates go out) but its REST answer is held back for `seconds` / until the test
  releases it.
- `lose_next_acks`: an order placement is executed, then answered with a 5xx as if
  the answer was lost on the way back; a retry must find the order, not place another.

Stream drops are immediate actions (`VenueReplica.drop_streams`), not armed faults.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field


class FaultKind(enum.Enum):
    SERVER_ERROR = "server_error"
    RATE_LIMIT = "rate_limit"


@dataclass(frozen=True, slots=True)
class RequestFault:
    kind: FaultKind
    status: int = 503
    retry_after_s: int = 1
    gateway: bool = False


@dataclass(frozen=True, slots=True)
class AckFault:
    delay_s: float = 0.0
    lost: bool = False
    status: int = 503
    release: asyncio.Event | None = field(default=None, compare=False)


@dataclass(slots=True)
class _Armed:
    fault: RequestFault
    remaining: int
    path: str
    method: str


@dataclass(slots=True)
class _ArmedAck:
    fault: AckFault
    remaining: int


class FaultPlan:
    """The armed faults of one replica; consumed in the order they were armed."""

    def __init__(self) -> None:
        self._requests: list[_Armed] = []
        self._acks: list[_ArmedAck] = []
        self.fired: list[tuple[str, str, FaultKind | str]] = []

    def fail_next(
        self, count: int = 1, *, status: int = 503, path: str = "", method: str = "", gateway: bool = False
    ) -> None:
        """Answer the next `count` requests whose path starts with `path` with a 5xx."""
        if not 500 <= status <= 599:
            raise ValueError(f"a server error needs a 5xx status, got {status}")
        self._arm(RequestFault(FaultKind.SERVER_ERROR, status=status, gateway=gateway), count, path, method)

    def rate_limit_next(
        self, count: int = 1, *, retry_after_s: int = 1, path: str = "", method: str = ""
    ) -> None:
        """Answer the next `count` matching requests with the venue's rate-limit error."""
        self._arm(RequestFault(FaultKind.RATE_LIMIT, retry_after_s=retry_after_s), count, path, method)

    def delay_acks(self, seconds: float, count: int = 1) -> None:
        self._arm_ack(AckFault(delay_s=seconds), count)

    def hold_next_ack(self) -> asyncio.Event:
        """Hold the next order placement's answer until the returned event is set (the
        order is executed and streamed at once): a delayed ack under the test's control."""
        release = asyncio.Event()
        self._arm_ack(AckFault(release=release), 1)
        return release

    def lose_next_acks(self, count: int = 1, *, status: int = 503) -> None:
        self._arm_ack(AckFault(lost=True, status=status), count)

    def clear(self) -> None:
        self._requests.clear()
        self._acks.clear()

    def take_request_fault(self, method: str, path: str) -> RequestFault | None:
        for armed in self._requests:
            if path.startswith(armed.path) and (not armed.method or armed.method == method):
                armed.remaining -= 1
                if armed.remaining == 0:
                    self._requests.remove(armed)
                self.fired.append((method, path, armed.fault.kind))
                return armed.fault
        return None

    def take_ack_fault(self, method: str, path: str) -> AckFault | None:
        if not self._acks:
            return None
        armed = self._acks[0]
        armed.remaining -= 1
        if armed.remaining == 0:
            self._acks.pop(0)
        self.fired.append((method, path, "lost_ack" if armed.fault.lost else "delayed_ack"))
        return armed.fault

    def _arm(self, fault: RequestFault, count: int, path: str, method: str) -> None:
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        self._requests.append(_Armed(fault, count, path, method.upper()))

    def _arm_ack(self, fault: AckFault, count: int) -> None:
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        self._acks.append(_ArmedAck(fault, count))
