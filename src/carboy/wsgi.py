"""Serve a carboy app from a WSGI server, such as gunicorn or waitress.

::

    # wsgi.py
    from carboy.wsgi import to_wsgi
    from mysite.web import app

    application = to_wsgi(app)

    $ gunicorn --workers 4 --threads 8 wsgi:application
    $ waitress-serve wsgi:application

The bridge is a2wsgi's ``ASGIMiddleware`` (``pip install 'carboy[wsgi]'``).
Each process runs the app on one asyncio event loop in a background thread;
a WSGI request thread hands its request to that loop and waits for the
response. ``async def`` handlers run on that loop, plain ``def`` handlers in
worker threads, as under an ASGI server. WebSockets need an ASGI server.

Lifespan: a2wsgi serves HTTP requests only and never runs the ASGI lifespan
protocol, so this module runs it. Startup (startup hooks, the ``lifespan``
context) runs on the first request, not when ``to_wsgi`` is called, because
``to_wsgi`` runs at import time, which may be in a pre-forking master (gunicorn
``--preload``), where an event loop and connections would not survive the
fork; the first request waits for it, and concurrent first requests wait
together. It runs on the loop that serves the requests, so what it opens
(such as an async connection pool) is usable by handlers. If startup raises,
that request fails with the error and the next request tries again.
Shutdown runs when the process exits normally (``atexit``), as gunicorn and
waitress workers do on a graceful stop; a process that is killed skips it,
as it would under any server.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Callable, Iterable
from typing import Any, cast
from wsgiref.types import StartResponse, WSGIEnvironment

from carboy.exceptions import ImproperlyConfigured
from carboy.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["WSGIApp", "to_wsgi"]

WSGIApp = Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]
"""A WSGI application (PEP 3333): ``app(environ, start_response)``."""


def to_wsgi(app: ASGIApp) -> WSGIApp:
    """Wrap an ASGI app (a carboy app) as a WSGI app, running its lifespan.

    Startup runs on the first request, shutdown when the process exits; see
    the module docstring for why. The returned app also has a ``close()``
    method that runs the shutdown at once, for tests and embedding servers.

    Raises:
        ImproperlyConfigured: when the a2wsgi package is not installed.

    Example::

        application = to_wsgi(app)   # gunicorn wsgi:application
    """
    try:
        from a2wsgi import ASGIMiddleware
    except ImportError:
        raise ImproperlyConfigured(
            "Serving carboy over WSGI needs the a2wsgi package: pip install 'carboy[wsgi]'."
        ) from None
    return _LifespanWSGI(app, ASGIMiddleware)


class _LifespanWSGI:
    """The WSGI app: a2wsgi's middleware, behind the app's lifespan startup."""

    def __init__(self, app: ASGIApp, middleware_class: Callable[..., Any]) -> None:
        self.app = app
        self._middleware_class = middleware_class
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lifespan: _Lifespan | None = None
        self._served: WSGIApp | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        served = self._served or self._start()
        return served(environ, start_response)

    def _start(self) -> WSGIApp:
        with self._lock:
            if self._served is not None:
                return self._served
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=loop.run_forever, name="carboy-wsgi-loop", daemon=True
                )
                self._thread.start()
            lifespan = _Lifespan(self.app)
            asyncio.run_coroutine_threadsafe(lifespan.startup(), loop).result()
            self._lifespan = lifespan
            self._served = cast(WSGIApp, self._middleware_class(lifespan.with_state, loop=loop))
            atexit.register(self.close)
            return self._served

    def close(self) -> None:
        """Run the app's shutdown, then stop the event loop; a later request starts anew."""
        atexit.unregister(self.close)
        with self._lock:
            lifespan, self._lifespan = self._lifespan, None
            loop, self._loop = self._loop, None
            thread, self._thread = self._thread, None
            self._served = None
            if loop is None:
                return
            try:
                if lifespan is not None:
                    asyncio.run_coroutine_threadsafe(lifespan.shutdown(), loop).result()
            finally:
                loop.call_soon_threadsafe(loop.stop)
                if thread is not None:
                    thread.join()
                loop.close()


class _Lifespan:
    """Run an ASGI app's lifespan protocol on the running event loop."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        # Unbounded queues bind to the event loop on first use, so they can be
        # made in the request thread that starts the app.
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._error: Exception | None = None

    async def startup(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        await self._to_app.put({"type": "lifespan.startup"})
        message = await self._from_app.get()
        if message["type"] == "lifespan.startup.failed":
            await self._task
            self._task = None
            if self._error is not None:
                raise self._error
            raise RuntimeError(f"The app's startup failed: {message.get('message', '')}")
        if message["type"] == "carboy.ended":
            # ASGI lifespan spec: an app that returns or raises here does not
            # support lifespan, and is served without it.
            self._task = None

    async def shutdown(self) -> None:
        if self._task is None:
            return
        await self._to_app.put({"type": "lifespan.shutdown"})
        message = await self._from_app.get()
        await self._task
        self._task = None
        if message["type"] == "lifespan.shutdown.failed":
            if self._error is not None:
                raise self._error
            raise RuntimeError(f"The app's shutdown failed: {message.get('message', '')}")

    async def _run(self) -> None:
        scope: Scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self._to_app.get, self._from_app.put)
        except Exception as exc:
            self._error = exc
        finally:
            self._from_app.put_nowait({"type": "carboy.ended"})

    async def with_state(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request, with a copy of the lifespan state, as ASGI servers give it."""
        scope["state"] = dict(self.state)
        await self.app(scope, receive, send)
