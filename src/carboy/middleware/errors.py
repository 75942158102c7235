"""The outermost middleware: turn an unhandled exception into a 500 response."""

from __future__ import annotations

from collections.abc import Callable

from carboy.datastructures import Headers
from carboy.problems import error_response
from carboy.responses import PlainTextResponse, Response
from carboy.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ServerErrorMiddleware"]


class ServerErrorMiddleware:
    """Answer 500 when the app raises, then re-raise so the server logs it.

    With ``debug`` off, the client gets a plain page or problem details that
    reveal nothing of the error. With ``debug`` on, it gets the traceback.

    Args:
        app: The ASGI app to guard.
        debug: Show the traceback to the client (development only); a
            callable is asked when an error happens, so that settings are
            read only if one does.
    """

    def __init__(self, app: ASGIApp, *, debug: bool | Callable[[], bool] = False) -> None:
        self.app = app
        self._debug = debug

    @property
    def debug(self) -> bool:
        """Whether the traceback is shown."""
        return self._debug() if callable(self._debug) else self._debug

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            if not started:
                response: Response
                if self.debug:
                    import traceback

                    text = "".join(traceback.format_exception(exc))
                    response = PlainTextResponse(text, 500)
                else:
                    response = error_response(
                        Headers(scope=scope),
                        500,
                        "Internal Server Error",
                        "The server failed to answer this request. The error has been logged.",
                    )
                await response(scope, receive, send)
            # The server logs the traceback; the client never sees it.
            raise
