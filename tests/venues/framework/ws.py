"""One WebSocket connection to a replica, with a send queue so synchronous code can push.

The matching core runs synchronously; whatever it causes is queued here with `send`
and written by the session's own writer task in order. A test drops a connection the
way a venue does: a close frame with a code, or an abrupt cut with no close frame.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web


class WsSession:
    def __init__(self, request: web.Request, ws: web.WebSocketResponse, channel: str) -> None:
        self.channel = channel
        self.path = request.path
        self.query = dict(request.query)
        self.topics: set[str] = set()
        self.authenticated = False
        self.state: dict[str, Any] = {}
        self._ws = ws
        self._transport = request.transport
        self._outbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.sent: list[Any] = []

    @property
    def closed(self) -> bool:
        return self._ws.closed

    def send(self, payload: Any) -> None:
        """Queue one JSON message (kept in `sent` for assertions)."""
        if self._ws.closed:
            return
        self.sent.append(payload)
        self._outbox.put_nowait(json.dumps(payload, separators=(",", ":")))

    def send_text(self, text: str) -> None:
        """Queue one raw text frame (for venues whose keep-alive replies are bare text)."""
        if self._ws.closed:
            return
        self.sent.append(text)
        self._outbox.put_nowait(text)

    async def write_loop(self) -> None:
        while True:
            text = await self._outbox.get()
            if text is None or self._ws.closed:
                return
            try:
                await self._ws.send_str(text)
            except ConnectionError:
                return

    def stop_writer(self) -> None:
        self._outbox.put_nowait(None)

    async def close(self, code: int, message: str = "") -> None:
        """Close with a close frame carrying `code` (what a venue sends on shutdown)."""
        self.stop_writer()
        await self._ws.close(code=code, message=message.encode())

    def abort(self) -> None:
        """Cut the TCP connection without a close frame (a network drop)."""
        self.stop_writer()
        if self._transport is not None:
            self._transport.abort()
