"""Start a coroutine now, in the caller's step, and finish it as a task if it suspends.

`asyncio.create_task` only schedules a coroutine: its first step runs one event-loop
iteration later, after whatever else is ready. On a hot path that hop is paid before
anything happens: a write not yet handed to gRPC, an order not yet on its way to the
venue. Python 3.12 has eager tasks for this (`asyncio.eager_task_factory`); this is the
same for 3.11, for single coroutines.

The coroutine runs in a copy of the caller's context, its first step included, exactly
as in a task: context variables it sets (OpenTelemetry's current span) are reset in the
context they were set in, and do not leak into the caller's.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


def start_eagerly(coroutine: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
    """Run `coroutine` until it first suspends; a future of its result.

    A coroutine that finishes without suspending gives a future that is already done
    (its result or exception set); otherwise it goes on as a task, from where it
    suspended. Cancelling the future cancels the coroutine, as for a task.
    """
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    try:
        yielded = context.run(coroutine.send, None)
    except StopIteration as stop:
        done: asyncio.Future[T] = loop.create_future()
        done.set_result(stop.value)
        return done
    except BaseException as exc:
        failed: asyncio.Future[T] = loop.create_future()
        if isinstance(exc, asyncio.CancelledError):
            failed.cancel()
        else:
            failed.set_exception(exc)
        return failed
    return loop.create_task(_Resumed(coroutine, yielded), context=context)


class _Resumed(Coroutine[Any, Any, T]):
    """The rest of a started coroutine, for a task to drive: its first step hands the task
    what the coroutine yielded when it suspended; every later send or throw (a
    cancellation included, even one before that first step) goes into the coroutine."""

    def __init__(self, coroutine: Coroutine[Any, Any, T], yielded: object) -> None:
        self._coroutine = coroutine
        self._yielded: object = yielded
        self._started = False

    def send(self, value: Any) -> Any:
        if not self._started:
            self._started = True
            return self._yielded
        return self._coroutine.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        self._started = True
        if val is None and tb is None:
            return self._coroutine.throw(typ)
        return self._coroutine.throw(typ, val, tb)  # the deprecated three-argument form

    def close(self) -> None:
        self._coroutine.close()

    def __await__(self) -> Generator[Any, None, T]:
        raise TypeError("driven by its task only")
