"""The types and protocols that are carboy's seams.

The ASGI names follow the ASGI 3 specification; ``Extension`` is the one seam
through which a battery plugs into an app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.requests import Request
    from carboy.responses import Response

__all__ = [
    "ASGIApp",
    "Extension",
    "Lifespan",
    "Message",
    "Receive",
    "Scope",
    "Send",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

Lifespan = Callable[["Carboy"], AbstractAsyncContextManager[Any]]
"""An async context manager factory: code before ``yield`` runs at startup,
code after it at shutdown. A mapping it yields is merged into ``app.state``."""

CallNext = Callable[["Request"], Awaitable["Response"]]
"""What a function middleware calls to get the response of the rest of the chain."""

HTTPMiddleware = Callable[["Request", CallNext], Awaitable["Response"]]
"""``async def middleware(request, call_next) -> Response``."""


@runtime_checkable
class Extension(Protocol):
    """A battery, or any reusable piece that plugs into an app.

    ``Carboy(extensions=[...])`` checks that each extension's ``requires``
    names come earlier in the list, then calls ``init_app(app)`` once per
    extension, in list order. ``init_app`` adds what the extension brings:
    routes, routers, middleware, lifespan hooks, exception handlers and state.

    Example::

        class Hello:
            name = "hello"
            requires: Sequence[str] = ()

            def init_app(self, app: Carboy) -> None:
                app.add_route("/hello", hello_view)
    """

    name: str
    requires: Sequence[str]

    def init_app(self, app: Carboy) -> None:
        """Register what the extension brings on ``app``."""
        ...
