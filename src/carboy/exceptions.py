"""Every exception carboy raises, in one tree.

::

    CarboyError
    ├── ImproperlyConfigured     a setup mistake, found at registration or startup
    ├── NoRouteFound             url_path_for() has no route of that name and params
    ├── HTTPException            ends a request with an HTTP error response
    ├── ClientDisconnect         the client went away while its body was read
    ├── WebSocketDisconnect      the peer closed the WebSocket
    └── WebSocketException       ends a WebSocket with a close code

``HTTPException`` is the one an application raises itself (``raise
HTTPException(404)``). The others are raised by carboy and are caught by it
where that is the right thing to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

__all__ = [
    "CarboyError",
    "ClientDisconnect",
    "HTTPException",
    "ImproperlyConfigured",
    "NoRouteFound",
    "WebSocketDisconnect",
    "WebSocketException",
]


class CarboyError(Exception):
    """Base class of every exception carboy raises."""


class ImproperlyConfigured(CarboyError):
    """A setup mistake: a bad route, a missing extension, a refused registration."""


class NoRouteFound(CarboyError, LookupError):
    """No route has the name, or the parameters given do not fit its path."""


class HTTPException(CarboyError):
    """End the request with an HTTP error response.

    Args:
        status_code: The HTTP status, such as 404.
        detail: What went wrong, shown to the client. Defaults to the status
            phrase ("Not Found").
        headers: Extra response headers, such as ``Allow`` or ``Retry-After``.

    Example:
        ``raise HTTPException(404, "No article with the slug 'x'.")``
    """

    def __init__(
        self,
        status_code: int,
        detail: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.title = _phrase(status_code)
        self.detail = self.title if detail is None else detail
        self.headers = dict(headers) if headers else None
        super().__init__(status_code, self.detail)

    def __str__(self) -> str:
        return f"{self.status_code}: {self.detail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, detail={self.detail!r})"


class ClientDisconnect(CarboyError):
    """The client disconnected before its request body was read in full."""


class WebSocketDisconnect(CarboyError):
    """The WebSocket peer closed the connection.

    Args:
        code: The close code the peer sent (1000 for a normal close).
        reason: The close reason, if any.
    """

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""
        super().__init__(code, self.reason)


class WebSocketException(CarboyError):
    """Close the WebSocket with a code (RFC 6455 7.4) and a reason.

    Raised before ``accept()``, the handshake is refused with that close code.
    """

    def __init__(self, code: int, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""
        super().__init__(code, self.reason)


# RFC 9110 renamed these; older Pythons still carry the RFC 7231 phrases, so
# the same app would answer differently from one Python to the next.
_RFC_9110_PHRASES = {
    413: "Content Too Large",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}


def _phrase(status_code: int) -> str:
    phrase = _RFC_9110_PHRASES.get(status_code)
    if phrase is not None:
        return phrase
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"
