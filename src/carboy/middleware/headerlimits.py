"""Refuse a request whose headers are too many or too large, before anything reads them.

A server that buffers whatever headers arrive lets one client hold megabytes
of memory per connection and makes every later layer walk them. uvicorn's
default parser sets no limit, so the app sets its own: a request over a
limit gets ``431 Request Header Fields Too Large`` (RFC 6585 5) and the
connection is closed.
"""

from __future__ import annotations

from carboy.exceptions import ImproperlyConfigured
from carboy.middleware._replies import send_plain_text
from carboy.types import ASGIApp, Receive, Scope, Send

__all__ = ["HeaderLimitsMiddleware"]

# RFC 6455 7.4.1: 1009, the message is too big to process.
_WEBSOCKET_TOO_BIG = 1009
_CLOSE = ((b"connection", b"close"),)


class HeaderLimitsMiddleware:
    """Answer 431 to a request with too many header lines, or too many header bytes.

    Args:
        app: The ASGI app to protect.
        max_count: The most header lines a request may have.
        max_size: The most bytes of one header line, name and value.
        max_total: The most bytes of all the header lines together.

    Raises:
        ImproperlyConfigured: if a limit is not a positive number.

    Example::

        app = HeaderLimitsMiddleware(app, max_count=100, max_size=8190, max_total=32768)
    """

    def __init__(self, app: ASGIApp, *, max_count: int, max_size: int, max_total: int) -> None:
        for name, limit in (
            ("max_header_count", max_count),
            ("max_header_size", max_size),
            ("max_headers_total", max_total),
        ):
            if limit < 1:
                raise ImproperlyConfigured(
                    f"{name} is {limit}, so every request would be refused. "
                    "Set it to a positive number."
                )
        self.app = app
        self.max_count = max_count
        self.max_size = max_size
        self.max_total = max_total

    def refusal(self, headers: list[tuple[bytes, bytes]]) -> str | None:
        """Return why ``headers`` break a limit, or ``None`` when they keep to them all."""
        if len(headers) > self.max_count:
            return (
                f"Request Header Fields Too Large: the request has {len(headers)} header "
                f"lines, and this site accepts at most {self.max_count}."
            )
        total = 0
        max_size = self.max_size
        for name, value in headers:
            size = len(name) + len(value)
            if size > max_size:
                shown = name[:64].decode("latin-1")
                return (
                    f"Request Header Fields Too Large: the {shown!r} header has {size} bytes, "
                    f"and this site accepts at most {max_size} in one header."
                )
            total += size
        if total > self.max_total:
            return (
                f"Request Header Fields Too Large: the headers have {total} bytes in all, "
                f"and this site accepts at most {self.max_total}."
            )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request's headers, then run the app or refuse the request."""
        if scope["type"] in ("http", "websocket"):
            refusal = self.refusal(scope["headers"])
            if refusal is not None:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": _WEBSOCKET_TOO_BIG})
                    return
                await send_plain_text(send, 431, refusal, _CLOSE, scope=scope)
                return
        await self.app(scope, receive, send)
