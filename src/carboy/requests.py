"""The incoming request, parsed lazily: nothing is read until it is asked for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from carboy.datastructures import URL, Address, Headers, QueryParams, State
from carboy.exceptions import ClientDisconnect, HTTPException
from carboy.types import Receive, Scope, Send

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.formparsers import FormData, FormLimits
    from carboy.sessions import Session

__all__ = ["HTTPConnection", "Limits", "Request"]

PRIVATE = "carboy.private"
"""The scope key that ``mark_private()`` sets."""


@dataclass
class Limits:
    """Bounds on what a client may send; exceeding one gives 413 or 400.

    Args:
        max_body_size: The largest body read, in bytes (uploads included).
        form: The limits on form fields, files and part sizes; the defaults
            of ``FormLimits`` when ``None``.
    """

    max_body_size: int = 10 * 1024 * 1024
    form: FormLimits | None = None


class HTTPConnection:
    """What HTTP requests and WebSocket connections share: URL, headers, cookies.

    Every attribute is computed on first use and kept.
    """

    __slots__ = ("_cookies", "_headers", "_query_params", "_url", "receive", "scope", "send")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self._headers: Headers | None = None
        self._query_params: QueryParams | None = None
        self._cookies: dict[str, str] | None = None
        self._url: URL | None = None

    @property
    def app(self) -> Carboy:
        """The app serving this request."""
        app: Carboy = self.scope["app"]
        return app

    @property
    def path(self) -> str:
        """The decoded path, without the query string."""
        path: str = self.scope["path"]
        return path

    @property
    def url(self) -> URL:
        """The full URL the client asked for."""
        if self._url is None:
            self._url = URL.from_scope(self.scope)
        return self._url

    @property
    def base_url(self) -> URL:
        """The URL of the app's root, with a trailing slash."""
        url = self.url
        root = self.scope.get("root_path", "")
        return URL(f"{url.scheme}://{url.netloc}{root}/" if url.netloc else f"{root}/")

    @property
    def headers(self) -> Headers:
        """The request headers: case-insensitive, multi-valued."""
        if self._headers is None:
            self._headers = Headers(scope=self.scope)
        return self._headers

    @property
    def query_params(self) -> QueryParams:
        """The query string's parameters. Invalid UTF-8 in it raises a 400."""
        if self._query_params is None:
            self._query_params = QueryParams(self.scope.get("query_string", b""))
        return self._query_params

    @property
    def path_params(self) -> dict[str, Any]:
        """The path parameters of the matched route, converted to their types."""
        params: dict[str, Any] = self.scope.get("path_params", {})
        return params

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies the client sent. Cookies that cannot be parsed are left out."""
        if self._cookies is None:
            cookies: dict[str, str] = {}
            for header in self.headers.getlist("cookie"):
                cookies.update(_parse_cookie_header(header))
            self._cookies = cookies
        return self._cookies

    @property
    def client(self) -> Address | None:
        """The client's address as the server saw it (the proxy, behind one)."""
        client = self.scope.get("client")
        return None if client is None else Address(client[0], client[1])

    @property
    def state(self) -> State:
        """A namespace for anything middleware or handlers keep for this request."""
        state = self.scope.get("carboy.state")
        if state is None:
            state = self.scope["carboy.state"] = State()
        return state

    @property
    def session(self) -> Session:
        """The client's session: a dict of JSON-able values, saved when changed."""
        session = self.scope.get("carboy.session")
        if session is None:
            from carboy.sessions import Session

            session = self.scope["carboy.session"] = Session()
        return session

    def mark_private(self) -> None:
        """Say that the response depends on who asks, so that no cache keeps it.

        Its response is sent with ``Cache-Control: no-store`` unless the
        handler sets a ``Cache-Control`` of its own. ``csrf_token()`` marks
        the request, and so does the auth battery for a signed-in user: a
        shared cache must never hand one person's page, or token, to another.
        """
        self.scope[PRIVATE] = True

    @property
    def user(self) -> Any:
        """The user who sent the request; an anonymous user when nobody is signed in.

        Set by the auth battery before the handler runs.

        Raises:
            ImproperlyConfigured: when the auth battery is not installed.
        """
        try:
            return self.scope["user"]
        except KeyError:
            from carboy.exceptions import ImproperlyConfigured

            app = self.scope.get("app")
            if app is not None and "auth" in getattr(app, "extensions", {}):
                raise ImproperlyConfigured(
                    "request.user is not known yet here: the auth battery loads it just "
                    "before a routed handler's dependencies run, after middleware and "
                    "before-request hooks, and not at all for a path no route matches. "
                    "Read it in a handler or a dependency."
                ) from None
            raise ImproperlyConfigured(
                "request.user is set by the auth battery, which is not installed. "
                "Add Auth() to Carboy(extensions=[...])."
            ) from None

    def url_for(self, name: str, /, **params: Any) -> URL:
        """Return the absolute URL of the route called ``name``.

        Example:
            ``request.url_for("article", slug="hello")``
        """
        path = self.app.url_path_for(name, **params)
        url = self.url
        root = self.scope.get("root_path", "")
        return URL(f"{url.scheme}://{url.netloc}{root}{path}")


def _parse_cookie_header(header: str) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for chunk in header.split(";"):
        name, sep, value = chunk.partition("=")
        name = name.strip()
        if not sep or not name:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            # Quoted values, as written by set_cookie for values holding
            # separators, are unescaped the way SimpleCookie escaped them.
            from http.cookies import CookieError, SimpleCookie

            try:
                cookie: SimpleCookie = SimpleCookie()
                cookie.load(f"{name}={value}")
                value = cookie[name].value
            except (CookieError, KeyError):
                continue
        parsed[name] = value
    return parsed


class Request(HTTPConnection):
    """An HTTP request.

    The body is read only when asked for, and at most once from the network:
    ``body()``, ``json()`` and ``form()`` share what was read. Each read is
    bounded by the app's ``max_body_size`` setting (413 past it).
    """

    __slots__ = ("_body", "_form", "_json", "_stream_consumed")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        super().__init__(scope, receive, send)
        self._body: bytes | None = None
        self._json: Any = _UNSET
        self._form: FormData | None = None
        self._stream_consumed = False

    @property
    def method(self) -> str:
        """The HTTP method, upper case."""
        method: str = self.scope["method"]
        return method

    @property
    def content_type(self) -> str:
        """The media type of the body, lower case and without parameters."""
        return self.headers.get("content-type", "").partition(";")[0].strip().lower()

    def _max_body_size(self) -> int | None:
        app = self.scope.get("app")
        return None if app is None else app.limits.max_body_size

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the body in chunks as they arrive, without keeping them.

        Raises:
            HTTPException: 413 once the body exceeds ``max_body_size``.
            ClientDisconnect: if the client goes away mid-body.
            RuntimeError: if the body was already consumed by ``stream()``.
        """
        if self._body is not None:
            yield self._body
            return
        if self.scope["method"] == "HEAD":
            # RFC 9110 9.3.2: a body on HEAD has no meaning. It is never read,
            # so that no form or JSON sent with a HEAD can act like a POST.
            self._body = b""
            return
        if self._stream_consumed:
            raise RuntimeError(
                "The request body was already read by request.stream(), which does not keep it. "
                "Read it with await request.body() instead, which keeps it for later reads."
            )
        self._stream_consumed = True
        limit = self._max_body_size()
        if limit is not None:
            declared = self.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise _too_large(limit)
        received = 0
        while True:
            message = await self.receive()
            kind = message["type"]
            if kind == "http.request":
                chunk: bytes = message.get("body", b"")
                if chunk:
                    received += len(chunk)
                    if limit is not None and received > limit:
                        raise _too_large(limit)
                    yield chunk
                if not message.get("more_body", False):
                    return
            elif kind == "http.disconnect":
                raise ClientDisconnect()

    async def body(self) -> bytes:
        """Return the whole body (read once, then kept)."""
        if self._body is None:
            chunks = [chunk async for chunk in self.stream()]
            self._body = b"".join(chunks)
        return self._body

    async def json(self) -> Any:
        """Parse the body as JSON.

        Raises:
            HTTPException: 415 when the Content-Type is not JSON; 400 when the
                body is not valid JSON, saying where it breaks.
        """
        if self._json is _UNSET:
            content_type = self.content_type
            if content_type != "application/json" and not content_type.endswith("+json"):
                raise HTTPException(
                    415,
                    "The request body must be JSON: send it with 'Content-Type: application/json'.",
                )
            body = await self.body()
            try:
                value = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise HTTPException(
                    400, f"The request body is not valid JSON: {_json_error(exc)}"
                ) from None
            if NUL_ESCAPE in body:
                location = nul_location(value, "body")
                if location is not None:
                    raise HTTPException(
                        400,
                        f"The JSON value at {location} contains a NUL character (\\u0000), "
                        "which this site does not accept.",
                    )
            self._json = value
        return self._json

    async def form(self, limits: FormLimits | None = None) -> FormData:
        """Parse a urlencoded or multipart form, files included.

        Args:
            limits: Override the app's form limits for this request.

        Raises:
            HTTPException: 415 for a body that is not a form, 400 for a
                malformed one, 400 or 413 when a limit is exceeded.
        """
        if self._form is None:
            from carboy.formparsers import parse_form

            if limits is None:
                app = self.scope.get("app")
                limits = None if app is None else app.limits.form
            if limits is None:
                from carboy.formparsers import FormLimits

                limits = FormLimits()
            self._form = await parse_form(
                self.headers.get("content-type", ""), self.stream(), limits
            )
        return self._form

    async def close(self) -> None:
        """Release what the request holds, such as uploaded files spooled to disk."""
        if self._form is not None:
            await self._form.close()


_UNSET: Any = object()

NUL_ESCAPE = b"\\u0000"
"""How JSON writes a NUL; a raw NUL byte is not valid JSON at all."""


def nul_location(value: Any, where: str) -> str | None:
    """Return where in a parsed JSON ``value`` a string (or key) holds a NUL, or ``None``.

    The location is written as in validation errors: ``body.tags.2``.
    """
    if isinstance(value, str):
        return where if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            shown = key.replace("\x00", "\\u0000")
            if "\x00" in key:
                return f"{where}.{shown}"
            found = nul_location(item, f"{where}.{shown}")
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_location(item, f"{where}.{index}")
            if found is not None:
                return found
    return None


def _too_large(limit: int) -> HTTPException:
    return HTTPException(
        413,
        f"The request body is larger than the limit of {limit} bytes.",
    )


def _json_error(exc: orjson.JSONDecodeError) -> str:
    message = exc.msg.split(":", 1)[0]
    return f"{message} at line {exc.lineno}, column {exc.colno}."
