"""Test-only crash points: make the engine kill itself (SIGKILL) at an exact moment.

Chaos tests need to land a kill -9 in windows a few microseconds wide — after the intent is
durable but before the order leaves, after it left but before the venue answered, after a fill
changed the slots but before it was recorded. A random kill hits those rarely; a crash point
hits them every time. Set

    OPENSQT_ENGINE_CRASH_AT=<point>:<n>        e.g. after_intent:3

and the engine sends itself SIGKILL (no cleanup, no flush: exactly what kill -9 does) the
`n`-th time it passes `<point>` (see `CrashPoint`). Unset, `hit` is one comparison.

FOR TESTS ONLY: never set this variable in a deployment. It is read from the environment
directly (not a setting, not a flag) so that it cannot be set by a config file by mistake.
"""

from __future__ import annotations

import enum
import os
import signal
import sys
from collections.abc import Callable, Mapping

ENV_VAR = "OPENSQT_ENGINE_CRASH_AT"


class CrashPoint(enum.Enum):
    AFTER_INTENT = "after_intent"  # the intent is durable; the order has not been sent
    AFTER_SEND = "after_send"  # the order was written to SubmitOrders; its answer not yet applied
    AFTER_FILL = "after_fill"  # a fill changed the slots; it is not yet recorded (journal, snapshot)
    AFTER_RECOVERY = "after_recovery"  # start-up recovery recorded its outcomes; nothing applied/saved


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class CrashPoints:
    """Where (and on which pass) to crash; `CrashPoints()` never crashes."""

    __slots__ = ("_count", "_kill", "_point", "_seen")

    def __init__(
        self, point: CrashPoint | None = None, count: int = 1, kill: Callable[[], None] = _kill_self
    ) -> None:
        if count < 1:
            raise ValueError(f"a crash point's pass must be >= 1, got {count}")
        self._point = point
        self._count = count
        self._seen = 0
        self._kill = kill

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> CrashPoints:
        """The crash point `OPENSQT_ENGINE_CRASH_AT` names (ValueError when it is malformed)."""
        text = environ.get(ENV_VAR, "").strip()
        if not text:
            return cls()
        name, _, count = text.partition(":")
        try:
            return cls(CrashPoint(name), int(count or "1"))
        except ValueError:
            points = ", ".join(point.value for point in CrashPoint)
            raise ValueError(
                f"{ENV_VAR}={text!r}: expected <point>[:<n>] with point one of {points}"
            ) from None

    @property
    def armed(self) -> CrashPoint | None:
        return self._point

    def hit(self, point: CrashPoint) -> None:
        """Pass `point`; on the chosen pass, die at once."""
        if point is not self._point:
            return
        self._seen += 1
        if self._seen == self._count:
            sys.stderr.write(f"{ENV_VAR}: SIGKILL at {point.value} pass {self._seen}\n")
            sys.stderr.flush()
            self._kill()
