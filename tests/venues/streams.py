"""Drive a ccxt.pro `watch_*` call in a loop and keep everything it delivered.

ccxt.pro resolves a watch only with messages that arrive while it is awaited, and
its caches are mutated in place, so tests keep one watcher running for the whole
scenario and assert on the deep-copied batches it collected. An error (a dropped
connection) is recorded and the loop calls the watch again, which reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Awaitable, Callable
from typing import Any

from opensqt_common.testing import eventually


class Watcher:
    def __init__(self, watch: Callable[[], Awaitable[Any]], *, retry_delay_s: float = 0.05) -> None:
        self._watch = watch
        self._retry_delay_s = retry_delay_s
        self.batches: list[Any] = []
        self.errors: list[BaseException] = []
        self._task = asyncio.create_task(self._run())

    @property
    def items(self) -> list[Any]:
        return [item for batch in self.batches for item in (batch if isinstance(batch, list) else [batch])]

    async def _run(self) -> None:
        while True:
            try:
                result = await self._watch()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # recorded for the test; the next watch reconnects
                self.errors.append(error)
                await asyncio.sleep(self._retry_delay_s)
                continue
            self.batches.append(copy.deepcopy(result))

    async def until(
        self, condition: Callable[[list[Any]], bool], *, timeout: float = 5.0, what: str = ""
    ) -> None:
        await eventually(lambda: condition(self.items), timeout=timeout, message=what or "watched condition")

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
