"""The outermost middleware: turn an unhandled exception into a 500 response."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from carboy.datastructures import Headers
from carboy.middleware.security import SCOPE_KEY as SECURITY_SCOPE_KEY
from carboy.problems import error_response
from carboy.responses import Response
from carboy.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from carboy.middleware.security import SecurityHeaders

__all__ = ["ServerErrorMiddleware"]

logger = logging.getLogger("carboy.error")

# An incoming X-Request-ID is reused only if it cannot forge a log line or a
# header: a short token of safe characters.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class ServerErrorMiddleware:
    """Answer 500 when the app raises, log the error, then re-raise it for the server.

    Every unhandled error is logged to the ``carboy.error`` logger with the
    request's id: the client's ``X-Request-ID`` when it is a short token of
    letters, digits, ``.``, ``_`` and ``-``, else a new random one. The 500
    response carries that id in its ``X-Request-ID`` header.

    With ``debug`` off, the client gets a plain page or problem details that
    reveal nothing of the error but the id, as "Reference: <id>", to quote
    when reporting it. With ``debug`` on, it gets the debug page of
    ``carboy.debug``: the traceback, source and local variables.

    Args:
        app: The ASGI app to guard.
        debug: Show the traceback to the client (development only); a
            callable is asked when an error happens, so that settings are
            read only if one does.
        security: The app's security headers, added to the 500 response as
            to every other (the app's own responses get them from its
            dispatcher, which the error has bypassed).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        debug: bool | Callable[[], bool] = False,
        security: SecurityHeaders | None = None,
    ) -> None:
        self.app = app
        self._debug = debug
        self.security = security

    @property
    def debug(self) -> bool:
        """Whether the traceback is shown."""
        return self._debug() if callable(self._debug) else self._debug

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.security is not None:
            # For the refusals of the layers inside, which answer before the dispatcher.
            scope[SECURITY_SCOPE_KEY] = self.security
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            headers = Headers(scope=scope)
            request_id = _request_id(headers)
            logger.error(
                "Unhandled error in %s %s (request id %s)",
                scope["method"],
                _printable(scope["path"]),
                request_id,
                exc_info=exc,
            )
            if not started:
                response: Response
                if self.debug:
                    from carboy.debug import debug_response

                    response = debug_response(scope, exc)
                else:
                    response = error_response(
                        headers,
                        500,
                        "Internal Server Error",
                        "The server failed to answer this request. The error has been "
                        f"logged. Reference: {request_id}",
                    )
                response.headers["x-request-id"] = request_id
                # The error is re-raised below, and the server then closes the
                # connection: saying so lets a keep-alive client open a new
                # one for its next request instead of failing on this one.
                response.headers["connection"] = "close"
                if self.security is not None:
                    self.security.apply(response, scope)
                await response(scope, receive, send)
            # Re-raised so that the server sees the failure too; the client
            # never sees more than the response above.
            raise


def _request_id(headers: Headers) -> str:
    incoming = headers.get("x-request-id", "")
    if _REQUEST_ID.fullmatch(incoming):
        return incoming
    import uuid

    return uuid.uuid4().hex


def _printable(path: str) -> str:
    # The path is percent-decoded: "%0A" in a URL is a line break here, which
    # would start a forged line in a plain-text log.
    if path.isprintable():
        return path
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in path)
