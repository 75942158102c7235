"""Server-Sent Events: a stream of events to a browser's ``EventSource``.

See the HTML Living Standard, section 9.2 "Server-sent events".
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from carboy.responses import StreamingResponse, _iterate, dump_json
from carboy.types import Send

__all__ = ["EventSourceResponse", "ServerSentEvent"]


@dataclass(frozen=True)
class ServerSentEvent:
    """One event.

    Args:
        data: The payload: a str as is; anything else is sent as JSON.
        event: The event type (``addEventListener(type, ...)`` on the client).
        id: The event id, sent back by the browser as ``Last-Event-ID`` when
            it reconnects.
        retry: How long the browser waits before reconnecting, in milliseconds.
        comment: A comment line, ignored by the browser.
    """

    data: Any = None
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    comment: str | None = None

    def encode(self) -> bytes:
        """Return the event in the wire format, ending with its blank line."""
        lines: list[str] = []
        if self.comment is not None:
            lines.extend(f": {line}" for line in _lines(self.comment))
        if self.event is not None:
            lines.append(f"event: {_one_line('event', self.event)}")
        if self.id is not None:
            lines.append(f"id: {_one_line('id', self.id)}")
        if self.retry is not None:
            lines.append(f"retry: {int(self.retry)}")
        if self.data is not None:
            text = self.data if isinstance(self.data, str) else dump_json(self.data).decode()
            # A newline inside the data would end the field: each line of it
            # becomes its own data field, which the browser joins back.
            lines.extend(f"data: {line}" for line in _lines(text))
        return ("\n".join(lines) + "\n\n").encode("utf-8")


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _one_line(field: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"The SSE {field} field cannot hold a line break: {value!r}.")
    if field == "id" and "\0" in value:
        # A browser ignores an id holding NUL, so Last-Event-ID would be wrong.
        raise ValueError(f"The SSE id field cannot hold a NUL character: {value!r}.")
    return value


EventStream = AsyncIterable[Any] | Iterable[Any]


class EventSourceResponse(StreamingResponse):
    """Stream Server-Sent Events, with keep-alive comments while idle.

    Args:
        content: An async or plain iterator of events: ``ServerSentEvent``
            objects, str (sent as data), or anything JSON-able (sent as JSON data).
        ping: Seconds of silence after which a ``: ping`` comment is sent, so
            that proxies keep the connection open; ``None`` for never.
        status_code: The HTTP status.
        headers: Extra headers.

    Example::

        @app.get("/clock")
        async def clock() -> EventSourceResponse:
            async def ticks():
                while True:
                    yield ServerSentEvent({"now": time.time()}, event="tick")
                    await anyio.sleep(1)
            return EventSourceResponse(ticks())
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        content: EventStream,
        *,
        ping: float | None = 15.0,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(content, status_code, headers)
        self.ping = ping
        extra = self.headers
        extra.setdefault("cache-control", "no-cache")
        # Proxies such as nginx buffer responses unless told not to.
        extra.setdefault("x-accel-buffering", "no")

    async def stream_body(self, send: Send) -> None:
        """Send each event as it comes, and a ping comment after each idle ``ping`` seconds."""
        writer, reader = anyio.create_memory_object_stream[bytes](0)

        async def produce() -> None:
            async with writer, contextlib.aclosing(_iterate(self.content)) as items:
                async for item in items:
                    await writer.send(_encode(item))

        async with anyio.create_task_group() as group:
            group.start_soon(produce)
            async with reader:
                wait = math.inf if self.ping is None else self.ping
                while True:
                    chunk = b": ping\n\n"
                    with anyio.move_on_after(wait):
                        try:
                            chunk = await reader.receive()
                        except anyio.EndOfStream:
                            break
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def _encode(item: Any) -> bytes:
    if isinstance(item, ServerSentEvent):
        return item.encode()
    if isinstance(item, bytes):
        return item
    return ServerSentEvent(data=item).encode()
