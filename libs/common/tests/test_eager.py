from __future__ import annotations

import asyncio
import contextvars

import pytest

from opensqt_common.eager import start_eagerly

current: contextvars.ContextVar[str] = contextvars.ContextVar("current", default="caller")


async def test_a_coroutine_that_never_suspends_is_done_on_return() -> None:
    steps: list[str] = []

    async def work() -> int:
        steps.append("ran")
        return 7

    result = start_eagerly(work())
    assert steps == ["ran"]
    assert result.done()
    assert result.result() == 7


async def test_an_immediate_failure_is_the_future_s_exception() -> None:
    async def work() -> None:
        raise ValueError("bad")

    result = start_eagerly(work())
    assert result.done()
    with pytest.raises(ValueError, match="bad"):
        result.result()


async def test_the_first_step_runs_now_and_the_rest_as_a_task() -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def work() -> str:
        steps.append("before")
        value = await gate
        steps.append("after")
        await asyncio.sleep(0)
        return value.upper()

    result = start_eagerly(work())
    assert steps == ["before"]
    assert not result.done()
    gate.set_result("ok")
    assert await result == "OK"
    assert steps == ["before", "after"]


async def test_failures_after_suspending_reach_the_future() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def work() -> None:
        await gate
        raise KeyError("late")

    result = start_eagerly(work())
    gate.set_result(None)
    with pytest.raises(KeyError, match="late"):
        await result


async def test_cancelling_the_future_cancels_the_coroutine_where_it_waits() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    cleaned: list[bool] = []

    async def work() -> None:
        try:
            await gate
        finally:
            cleaned.append(True)

    result = start_eagerly(work())
    result.cancel()
    with pytest.raises(asyncio.CancelledError):
        await result
    assert cleaned == [True]


async def test_cancelling_after_the_task_has_started_waiting_cancels_what_it_waits_for() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def work() -> None:
        await gate

    result = start_eagerly(work())
    await asyncio.sleep(0)  # the task's first step: it now waits on `gate`
    result.cancel()
    with pytest.raises(asyncio.CancelledError):
        await result
    assert gate.cancelled()


async def test_context_variables_stay_in_the_coroutine_s_own_context() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def work() -> None:
        token = current.set("coroutine")
        await gate
        seen.append(current.get())
        current.reset(token)  # raises ValueError if resumed in another context

    result = start_eagerly(work())
    assert current.get() == "caller"
    gate.set_result(None)
    await result
    assert seen == ["coroutine"]
    assert current.get() == "caller"
