"""Every exception carboy raises, in one tree.

::

    CarboyError
    ├── ImproperlyConfigured     a setup mistake, found at registration or startup
    ├── NoRouteFound             url_path_for() has no route of that name and params
    ├── HTTPException            ends a request with an HTTP error response
    │   ├── RequestValidationError   422: parameters or body failed validation
    │   ├── carboy.auth.LoginRequired      401: sign in first (browsers go to the login page)
    │   ├── carboy.auth.PermissionDenied   403: the signed-in user may not do this
    │   └── carboy.ratelimit.RateLimited   429: too many requests; Retry-After says when to retry
    ├── ResponseValidationError  a handler's return value does not fit its response model
    ├── ClientDisconnect         the client went away while its body was read
    ├── WebSocketDisconnect      the peer closed the WebSocket
    ├── WebSocketException       ends a WebSocket with a close code
    ├── carboy.db.MigrationError    a migration command could not do its work
    ├── carboy.db.FixtureError      a file of rows could not be loaded (carboy db load)
    ├── carboy.auth.PasswordRejected  a new password failed the validators; .problems says why
    └── carboy.mail.MailError       a message could not be built or sent
        └── carboy.mail.InvalidMessageError   a header with a line break, no recipients

``HTTPException`` is the one an application raises itself (``raise
HTTPException(404)``). The others are raised by carboy and are caught by it
where that is the right thing to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

__all__ = [
    "CarboyError",
    "ClientDisconnect",
    "HTTPException",
    "ImproperlyConfigured",
    "NoRouteFound",
    "RequestValidationError",
    "ResponseValidationError",
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


class RequestValidationError(HTTPException):
    """The request's parameters or body did not validate: a 422 with every error.

    Each error is a dict with ``location`` (where, as ``query.limit`` or
    ``body.user.email``), ``message`` and ``type`` (pydantic's error type,
    such as ``missing`` or ``int_parsing``).

    Args:
        errors: The errors, in the order found.
    """

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        count = len(errors)
        super().__init__(
            422,
            "The request is not valid: "
            + ("1 error was found." if count == 1 else f"{count} errors were found."),
        )


class ResponseValidationError(CarboyError):
    """A handler returned a value that its response model refuses: a server error (500)."""


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
