"""``TestClient``: drive an app in-process, on httpx's ASGI transport.

Sync use, the app running in a background event loop::

    with TestClient(app) as client:         # runs startup, then shutdown
        assert client.get("/").status_code == 200
        with client.websocket_connect("/ws") as ws:
            ws.send_text("hi")

Async use, in the caller's event loop; ``async with`` gives an
``httpx.AsyncClient``::

    async with TestClient(app) as client:
        response = await client.get("/")

Cookies are kept between requests, as a browser keeps them. A test posts a
form as a browser does, with the CSRF token of the page that shows it::

    page = client.get("/notes/new")
    client.post("/notes/new", data={"csrf_token": csrf_token_in(page.text), ...})
"""

from __future__ import annotations

import contextlib
import math
import typing
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from html.parser import HTMLParser
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
import anyio.from_thread
import httpx
import orjson
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from carboy.exceptions import WebSocketDisconnect
from carboy.types import ASGIApp, Message

__all__ = ["TestClient", "WebSocketTestSession", "csrf_token_in"]

_CLIENT_ADDRESS = ("testclient", 50000)


class _TokenFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tokens: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("name") == "csrf_token" and found.get("value"):
            self.tokens.append(str(found["value"]))


def csrf_token_in(html: str) -> str:
    """Return the CSRF token of the first form on a page, to post the form in a test.

    Raises:
        AssertionError: when the page has no ``csrf_token`` field, so that
            the test fails there, saying so, rather than with a 403 later.
    """
    finder = _TokenFinder()
    finder.feed(html)
    if not finder.tokens:
        raise AssertionError(
            "The page has no csrf_token field: is it the page of a form, and does the "
            "template draw the form with form.render(), or a hidden input named csrf_token "
            "holding csrf_token()?"
        )
    return finder.tokens[0]


class _Lifespan:
    """Run an app's ASGI lifespan protocol: startup, then shutdown on request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.to_app, self._app_inbox = anyio.create_memory_object_stream[Message](math.inf)
        self._app_outbox, self.from_app = anyio.create_memory_object_stream[Message](math.inf)
        self.error: BaseException | None = None
        self._ended = False

    async def run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        try:
            await self.app(scope, self._app_inbox.receive, self._app_outbox.send)
        except BaseException as exc:
            self.error = exc
        finally:
            with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                await self._app_outbox.send({"type": "carboy.ended"})

    async def _receive(self) -> Message:
        """Return the app's next message, and ``carboy.ended`` for good once it returned."""
        if self._ended:
            return {"type": "carboy.ended"}
        message = await self.from_app.receive()
        self._ended = message["type"] == "carboy.ended"
        return message

    async def startup(self) -> None:
        await self.to_app.send({"type": "lifespan.startup"})
        message = await self._receive()
        if message["type"] == "lifespan.startup.failed":
            await self._receive()
            if self.error is not None:
                raise self.error
            raise RuntimeError(f"The app's startup failed: {message.get('message', '')}")
        if message["type"] == "carboy.ended" and self.error is not None:
            raise self.error

    def close(self) -> None:
        for stream in (self.to_app, self._app_inbox, self._app_outbox, self.from_app):
            stream.close()

    async def shutdown(self) -> None:
        if self._ended:
            # The app returned at startup, ignoring the lifespan protocol (as
            # ASGI allows): there is nothing to shut down.
            return
        await self.to_app.send({"type": "lifespan.shutdown"})
        message = await self._receive()
        if message["type"] == "lifespan.shutdown.failed":
            await self._receive()
            if self.error is not None:
                raise self.error
            raise RuntimeError(f"The app's shutdown failed: {message.get('message', '')}")
        if message["type"] == "carboy.ended" and self.error is not None:
            raise self.error


async def _close_after_run(lifespan: _Lifespan) -> None:
    # An app that ignores the lifespan protocol may still wait on receive():
    # closing the streams ends it.
    lifespan.close()


class _PortalTransport(httpx.BaseTransport):
    """Carry a sync request to the ASGI transport through the client's event loop."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # The body reaches the app in the chunks it was given in, and with the
        # request's own headers: a body from an iterator stays chunked, with
        # no Content-Length.
        chunks = [bytes(chunk) for chunk in typing.cast(Iterable[bytes], request.stream)]
        replay = httpx.Request(
            request.method, request.url, headers=request.headers, stream=_Chunks(chunks)
        )
        transport = self.client.asgi_transport

        async def send() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            response = await transport.handle_async_request(replay)
            # The raw bytes: the client decodes Content-Encoding itself.
            content = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
            return response.status_code, response.headers.raw, content

        with self.client._portal() as portal:
            status, headers, content = portal.call(send)
        # A stream, not content=, so that httpx adds no Content-Length the app did not send.
        return httpx.Response(
            status, headers=headers, stream=httpx.ByteStream(content), request=request
        )


class _Chunks(httpx.AsyncByteStream):
    """A request body already read, replayed chunk by chunk."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


class TestClient(httpx.Client):
    """A test client for an ASGI app; see the module docstring.

    Args:
        app: The app (any ASGI app).
        base_url: The URL requests are relative to.
        raise_server_exceptions: Re-raise an exception the app did not
            handle in the test, instead of returning its 500 response.
        root_path: The ASGI ``root_path``, as behind a proxy under a prefix.
            Request paths in full, prefix included, as servers send them.
        follow_redirects: Follow redirects (off by default, to test them).
        headers: Headers sent with every request.
        cookies: Cookies to start with.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        *,
        raise_server_exceptions: bool = True,
        root_path: str = "",
        follow_redirects: bool = False,
        headers: Mapping[str, str] | None = None,
        cookies: httpx._types.CookieTypes | None = None,
    ) -> None:
        self.app = app
        self.asgi_transport = httpx.ASGITransport(
            app=app,
            raise_app_exceptions=raise_server_exceptions,
            root_path=root_path,
            client=_CLIENT_ADDRESS,
        )
        self._blocking_portal: anyio.from_thread.BlockingPortal | None = None
        self._portal_cm: (
            contextlib.AbstractContextManager[anyio.from_thread.BlockingPortal] | None
        ) = None
        self._lifespan: _Lifespan | None = None
        self._async_client: httpx.AsyncClient | None = None
        self._async_group: anyio.abc.TaskGroup | None = None
        super().__init__(
            base_url=base_url,
            transport=_PortalTransport(self),
            follow_redirects=follow_redirects,
            headers=headers,
            cookies=cookies,
        )

    @contextlib.contextmanager
    def _portal(self) -> Iterator[anyio.from_thread.BlockingPortal]:
        if self._blocking_portal is not None:
            yield self._blocking_portal
        else:
            with anyio.from_thread.start_blocking_portal() as portal:
                yield portal

    # Sync use ---------------------------------------------------------------

    def __enter__(self) -> TestClient:
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        portal = self._blocking_portal = self._portal_cm.__enter__()
        lifespan = self._lifespan = portal.call(_Lifespan, self.app)
        portal.start_task_soon(lifespan.run)
        try:
            portal.call(lifespan.startup)
        except BaseException:
            self._close_portal()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        try:
            if self._blocking_portal is not None and self._lifespan is not None:
                self._blocking_portal.call(self._lifespan.shutdown)
        finally:
            self._close_portal()
            super().__exit__(exc_type, exc_value, traceback)

    def _close_portal(self) -> None:
        portal_cm, self._portal_cm = self._portal_cm, None
        portal, self._blocking_portal = self._blocking_portal, None
        lifespan, self._lifespan = self._lifespan, None
        if lifespan is not None and portal is not None:
            portal.call(_close_after_run, lifespan)
        if portal_cm is not None:
            portal_cm.__exit__(None, None, None)

    # Async use --------------------------------------------------------------

    async def __aenter__(self) -> httpx.AsyncClient:
        lifespan = self._lifespan = _Lifespan(self.app)
        group = self._async_group = anyio.create_task_group()
        await group.__aenter__()
        group.start_soon(lifespan.run)
        try:
            await lifespan.startup()
        except BaseException:
            self._lifespan = self._async_group = None
            await _close_after_run(lifespan)
            await group.__aexit__(None, None, None)
            raise
        self._async_client = httpx.AsyncClient(
            transport=self.asgi_transport,
            base_url=self.base_url,
            follow_redirects=self.follow_redirects,
            headers=self.headers,
            cookies=self.cookies,
        )
        return self._async_client

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        try:
            if self._async_client is not None:
                await self._async_client.aclose()
            if self._lifespan is not None:
                await self._lifespan.shutdown()
        finally:
            group, self._async_group = self._async_group, None
            lifespan, self._lifespan = self._lifespan, None
            if lifespan is not None:
                await _close_after_run(lifespan)
            if group is not None:
                await group.__aexit__(None, None, None)

    # WebSockets ---------------------------------------------------------------

    def websocket_connect(
        self,
        url: str,
        *,
        subprotocols: Sequence[str] = (),
        headers: Mapping[str, str] | None = None,
    ) -> WebSocketTestSession:
        """Open a WebSocket to the app, as a context manager.

        Raises:
            WebSocketDisconnect: on ``__enter__``, when the app closes the
                connection instead of accepting it.
        """
        target = self.base_url.join(url)
        scheme = "wss" if target.scheme == "https" else "ws"
        request_headers = [
            (b"host", target.netloc),
            (b"sec-websocket-version", b"13"),
            (b"connection", b"upgrade"),
        ]
        request_headers += [
            (key.lower().encode("latin-1"), value.encode("latin-1"))
            for key, value in {**self.headers, **(headers or {})}.items()
            if key.lower() not in ("host", "connection", "accept-encoding", "user-agent")
        ]
        cookie_header = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if cookie_header:
            request_headers.append((b"cookie", cookie_header.encode("latin-1")))
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "scheme": scheme,
            "http_version": "1.1",
            "path": target.path,
            "raw_path": target.raw_path.split(b"?", 1)[0],
            "root_path": self.asgi_transport.root_path,
            "query_string": target.query,
            "headers": request_headers,
            "client": _CLIENT_ADDRESS,
            "server": (target.host, target.port or (443 if scheme == "wss" else 80)),
            "subprotocols": list(subprotocols),
            "state": {},
        }
        return WebSocketTestSession(self, scope)


class WebSocketTestSession:
    """One WebSocket connection to an app, opened by ``TestClient.websocket_connect``."""

    __test__ = False

    def __init__(self, client: TestClient, scope: dict[str, Any], timeout: float = 10.0) -> None:
        self.client = client
        self.scope = scope
        self.timeout = timeout
        self.accepted_subprotocol: str | None = None
        self.extra_headers: list[tuple[bytes, bytes]] = []
        self._stack = contextlib.ExitStack()
        self._portal: anyio.from_thread.BlockingPortal | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._app_ended = False

    def __enter__(self) -> WebSocketTestSession:
        self._portal = portal = self._stack.enter_context(self.client._portal())
        self._to_app, self._app_inbox = portal.call(_stream_pair)
        self._app_outbox, self._from_app = portal.call(_stream_pair)
        portal.start_task_soon(self._run)
        try:
            self._put({"type": "websocket.connect"})
            message = self.receive()
            if message["type"] == "websocket.close":
                raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
            if message["type"] != "websocket.accept":
                raise RuntimeError(f"The app answered the handshake with {message['type']!r}.")
        except BaseException:
            # As a server does after a refused handshake, tell an app still
            # receiving that the client is gone, then wait for it to return.
            self.close(1006)
            self._end()
            raise
        self.accepted_subprotocol = message.get("subprotocol")
        self.extra_headers = list(message.get("headers") or [])
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close(1000)
        self._end()

    def _end(self) -> None:
        """Wait for the app to return, then release the streams and the portal."""
        try:
            self._wait_for_app()
        finally:
            streams = (self._to_app, self._app_inbox, self._app_outbox, self._from_app)
            if self._portal is not None:
                self._portal.call(_close_streams, streams)
            self._portal = None
            self._stack.close()

    async def _run(self) -> None:
        try:
            await self.client.app(self.scope, self._app_inbox.receive, self._app_outbox.send)
        except BaseException as exc:
            self._error = exc
        finally:
            with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                await self._app_outbox.send({"type": "carboy.ended"})

    def _put(self, message: Message) -> None:
        if self._portal is None:
            raise RuntimeError("The WebSocket session is not open: use it in a with block.")
        self._portal.call(self._to_app.send, message)

    def _wait_for_app(self) -> None:
        while not self._app_ended:
            self.receive()

    def receive(self) -> Message:
        """Return the next ASGI message the app sent; fail after ``timeout`` seconds."""
        portal = self._portal
        if portal is None:
            raise RuntimeError("The WebSocket session is not open: use it in a with block.")
        if self._app_ended:
            return {"type": "carboy.ended"}

        async def receive() -> Message:
            with anyio.fail_after(self.timeout):
                return await self._from_app.receive()

        message = portal.call(receive)
        self._app_ended = message["type"] == "carboy.ended"
        if (
            message["type"] == "carboy.ended"
            and self._error is not None
            and self.client.asgi_transport.raise_app_exceptions
        ):
            error, self._error = self._error, None
            raise error
        return message

    def _receive_data(self) -> Message:
        message = self.receive()
        if message["type"] == "websocket.close":
            self._closed = True
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        if message["type"] == "carboy.ended":
            self._closed = True
            raise WebSocketDisconnect(1006, "The app ended without closing the WebSocket.")
        return message

    def send_text(self, data: str) -> None:
        """Send a text message to the app."""
        self._put({"type": "websocket.receive", "text": data})

    def send_bytes(self, data: bytes) -> None:
        """Send a binary message to the app."""
        self._put({"type": "websocket.receive", "bytes": data})

    def send_json(self, data: Any) -> None:
        """Send ``data`` as JSON in a text message."""
        self.send_text(orjson.dumps(data).decode())

    def receive_text(self) -> str:
        """Wait for a text message from the app."""
        return str(self._receive_data()["text"])

    def receive_bytes(self) -> bytes:
        """Wait for a binary message from the app."""
        return bytes(self._receive_data()["bytes"])

    def receive_json(self) -> Any:
        """Wait for a JSON message from the app."""
        message = self._receive_data()
        return orjson.loads(message.get("text") or message.get("bytes") or b"")

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection from the client's side."""
        if not self._closed:
            self._closed = True
            self._put({"type": "websocket.disconnect", "code": code, "reason": reason})


async def _close_streams(
    streams: Iterable[anyio.abc.ObjectSendStream[Message] | anyio.abc.ObjectReceiveStream[Message]],
) -> None:
    for stream in streams:
        await stream.aclose()


def _stream_pair() -> tuple[MemoryObjectSendStream[Message], MemoryObjectReceiveStream[Message]]:
    send, receive = anyio.create_memory_object_stream[Message](math.inf)
    return send, receive
