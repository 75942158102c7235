"""Answer a request directly from a middleware, without the app's response classes.

Middleware sit below the app and must work around any ASGI app, so they speak
raw ASGI messages rather than depend on ``carboy.responses``.
"""

from __future__ import annotations

from collections.abc import Sequence

from carboy.middleware.security import SCOPE_KEY, SecurityHeaders
from carboy.types import Scope, Send

__all__ = ["send_plain_text"]


async def send_plain_text(
    send: Send,
    status: int,
    text: str = "",
    headers: Sequence[tuple[bytes, bytes]] = (),
    scope: Scope | None = None,
) -> None:
    """Send a whole response with a plain-text body in two ASGI messages.

    Args:
        send: The ASGI ``send`` callable.
        status: The HTTP status code.
        text: The body; an empty body sends no ``Content-Type``.
        headers: Extra raw headers, as (lower-case name, value) byte pairs.
        scope: The request's scope: inside a carboy app, the reply gets the
            app's security headers (``nosniff``, the resource policy, HSTS).
    """
    body = text.encode("utf-8")
    raw = [(b"content-length", str(len(body)).encode("latin-1"))]
    if body:
        raw.append((b"content-type", b"text/plain; charset=utf-8"))
    raw.extend(headers)
    security: SecurityHeaders | None = scope.get(SCOPE_KEY) if scope is not None else None
    if security is not None:
        raw.extend(security.refusal_headers(scope))  # type: ignore[arg-type]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})
