"""The floor: a plain ASGI 3 callable with no framework.

It answers the three endpoints that every app serves and nothing else, and
does only what any app must: compare the path, convert ``id``, serialize the
JSON body on each request, send the response. It has no routing table, so it
shows what the server and the least possible Python cost; every framework's
number is read against it. It does not serve the typed endpoint, ``POST
/items/{item_id}``, which only the frameworks with typed handlers serve.

Serve with ``uvicorn --app-dir benchmarks/apps raw_asgi_app:app``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_TEXT = b"text/plain; charset=utf-8"
_JSON = b"application/json"


async def _respond(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    """Send one complete response."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _dump(value: dict[str, object]) -> bytes:
    """Serialize ``value`` to compact JSON bytes."""
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


async def _lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown; there is nothing to set up."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Serve ``/plaintext``, ``/json`` and ``/users/{id}/posts/{slug}``."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    path: str = scope["path"]
    if scope["method"] != "GET":
        await _respond(send, 405, _TEXT, b"Method Not Allowed")
    elif path == "/plaintext":
        await _respond(send, 200, _TEXT, b"Hello, World!")
    elif path == "/json":
        await _respond(send, 200, _JSON, _dump({"message": "Hello, World!"}))
    else:
        parts = path.split("/")
        # str.isdigit alone accepts digits such as "²" that int() rejects.
        if (
            len(parts) == 5
            and parts[1] == "users"
            and parts[3] == "posts"
            and parts[2].isascii()
            and parts[2].isdigit()
            and parts[4]
        ):
            await _respond(send, 200, _JSON, _dump({"id": int(parts[2]), "slug": parts[4]}))
        else:
            await _respond(send, 404, _TEXT, b"Not Found")
