"""The raw ASGI hello app, for the import-and-build time: one answer."""

from __future__ import annotations

from typing import Any

BODY = b'{"message":"Hello, World!"}'


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer every HTTP request with a greeting."""
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", b"27")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})
