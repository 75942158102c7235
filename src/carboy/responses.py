"""Responses: what a handler returns, and what is sent.

Each response is an ASGI app: ``await response(scope, receive, send)`` sends
it. A handler may also return a plain value, which ``carboy`` converts (see
``to_response``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import anyio
import orjson

from carboy.datastructures import URL, MutableHeaders
from carboy.types import Receive, Scope, Send

if TYPE_CHECKING:
    from carboy._fileresponse import FileResponse

__all__ = [
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
    "to_response",
]

SameSite = Literal["lax", "strict", "none"]


class Response:
    """An HTTP response with its whole body in memory.

    Args:
        content: The body: bytes, or a str encoded with ``charset``.
        status_code: The HTTP status.
        headers: Extra headers. CR, LF or NUL in a name or value is refused.
        media_type: The Content-Type, without charset; defaults to the class's.

    Example:
        ``Response(b"%PDF...", media_type="application/pdf")``
    """

    media_type: str | None = None
    charset = "utf-8"

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        body = self.body = self.render(content)
        self._cookies: list[_Cookie] | None = None
        self.raw_headers: list[tuple[bytes, bytes]]
        if headers is None and status_code >= 200 and status_code != 204 and status_code != 304:
            # The common case, kept short: it runs for nearly every response.
            length = (b"content-length", str(len(body)).encode())
            if self.media_type is None:
                self.raw_headers = [length]
            else:
                self.raw_headers = [
                    length,
                    (b"content-type", _content_type(self.media_type, self.charset)),
                ]
        else:
            self.raw_headers = self._initial_headers(headers)

    def render(self, content: Any) -> bytes:
        """Turn ``content`` into the body's bytes."""
        if content is None:
            return b""
        if isinstance(content, (bytes, bytearray, memoryview)):
            return bytes(content)
        return str(content).encode(self.charset)

    def _initial_headers(self, headers: Mapping[str, str] | None) -> list[tuple[bytes, bytes]]:
        raw: list[tuple[bytes, bytes]] = []
        if headers:
            extra = MutableHeaders(raw=raw)
            for key, value in headers.items():
                extra.append(key, value)
        names = {name for name, _ in raw} if raw else ()
        status = self.status_code
        if b"content-length" not in names and not (status < 200 or status in (204, 304)):
            raw.append((b"content-length", str(len(self.body)).encode()))
        if self.media_type is not None and b"content-type" not in names:
            raw.append((b"content-type", _content_type(self.media_type, self.charset)))
        return raw

    @property
    def headers(self) -> MutableHeaders:
        """The headers, changeable: ``response.headers["cache-control"] = "no-store"``."""
        return MutableHeaders(raw=self.raw_headers)

    def set_cookie(
        self,
        key: str,
        value: str = "",
        *,
        max_age: int | None = None,
        expires: datetime | int | None = None,
        path: str = "/",
        domain: str | None = None,
        secure: bool | None = None,
        httponly: bool = True,
        samesite: SameSite | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Set a cookie, safe by default.

        Args:
            key: The cookie's name; it must be an RFC 6265 token.
            value: The value; characters a cookie cannot hold are quoted and
                escaped, so a value can never split the header.
            max_age: Lifetime in seconds; 0 or less deletes the cookie.
            expires: When it expires, as a datetime or seconds from now.
            path: The path it is sent for.
            domain: The domain it is sent for; the host alone by default.
            secure: Send it over HTTPS only. ``None`` (the default) means
                "when the request came over HTTPS".
            httponly: Hide it from JavaScript (the default).
            samesite: ``"lax"`` (the default), ``"strict"``, ``"none"`` or ``None``.
            partitioned: Set the CHIPS ``Partitioned`` attribute.

        Raises:
            ValueError: on an invalid name or ``samesite`` value, or a value
                holding characters outside Latin-1.
        """
        import http.cookies  # loaded on first use: most responses set no cookie

        if samesite is not None and samesite.lower() not in ("lax", "strict", "none"):
            raise ValueError(f"samesite must be 'lax', 'strict', 'none' or None, not {samesite!r}.")
        cookie: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
        try:
            cookie[key] = value
        except http.cookies.CookieError:
            raise ValueError(
                f"{key!r} is not a valid cookie name: use letters, digits and !#$%&'*+-.^_`|~ only."
            ) from None
        morsel = cookie[key]
        coded = morsel.coded_value
        if not coded.isascii() and any(ord(char) > 0xFF for char in coded):
            # SimpleCookie escapes Latin-1 only; the header could not be sent.
            raise ValueError(
                f"The value of the cookie {key!r} holds characters outside Latin-1, which a "
                "Set-Cookie header cannot carry. Encode it first, for example with "
                "urllib.parse.quote()."
            )
        morsel["path"] = path
        if max_age is not None:
            morsel["max-age"] = max_age
        if expires is not None:
            if isinstance(expires, datetime):
                from email.utils import format_datetime

                morsel["expires"] = format_datetime(expires.astimezone(UTC), usegmt=True)
            else:
                morsel["expires"] = expires
        if domain is not None:
            morsel["domain"] = domain
        if httponly:
            morsel["httponly"] = True
        if samesite is not None:
            morsel["samesite"] = samesite.capitalize()
        output = morsel.OutputString()
        if partitioned:
            # http.cookies knows the attribute from Python 3.14 only.
            output += "; Partitioned"
        if self._cookies is None:
            self._cookies = []
        self._cookies.append(_Cookie(output, secure))

    def delete_cookie(
        self,
        key: str,
        *,
        path: str = "/",
        domain: str | None = None,
        secure: bool | None = None,
        httponly: bool = True,
        samesite: SameSite | None = "lax",
    ) -> None:
        """Tell the client to drop a cookie (same ``path`` and ``domain`` as when set)."""
        self.set_cookie(
            key,
            max_age=0,
            expires=datetime(1970, 1, 1, tzinfo=UTC),
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )

    def _headers_for(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        if self._cookies is None:
            return self.raw_headers
        is_https = scope.get("scheme") in ("https", "wss")
        headers = list(self.raw_headers)
        for cookie in self._cookies:
            value = cookie.value
            if cookie.secure or (cookie.secure is None and is_https):
                value += "; Secure"
            headers.append((b"set-cookie", value.encode("latin-1")))
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": self._headers_for(scope),
            }
        )
        # RFC 9110 9.3.2: a HEAD response has the headers of a GET, no body.
        body = b"" if scope.get("method") == "HEAD" else self.body
        await send({"type": "http.response.body", "body": body})

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status_code}>"


class _Cookie:
    __slots__ = ("secure", "value")

    def __init__(self, value: str, secure: bool | None) -> None:
        self.value = value
        self.secure = secure


_CONTENT_TYPES: dict[tuple[str, str], bytes] = {}


def _content_type(media_type: str, charset: str) -> bytes:
    value = _CONTENT_TYPES.get((media_type, charset))
    if value is None:
        if media_type.startswith("text/") and "charset=" not in media_type:
            text = f"{media_type}; charset={charset}"
        else:
            text = media_type
        value = text.encode("latin-1")
        if len(_CONTENT_TYPES) < 256:
            _CONTENT_TYPES[(media_type, charset)] = value
    return value


class PlainTextResponse(Response):
    """A ``text/plain; charset=utf-8`` response."""

    media_type = "text/plain"


class HTMLResponse(Response):
    """A ``text/html; charset=utf-8`` response."""

    media_type = "text/html"


def _json_default(value: Any) -> Any:
    # Pydantic models and anything else shaped like them, without importing
    # pydantic for apps that never use it.
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, URL):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def dump_json(content: Any) -> bytes:
    """Encode ``content`` as compact UTF-8 JSON (orjson), models included."""
    return orjson.dumps(content, default=_json_default, option=_JSON_OPTIONS)


class JSONResponse(Response):
    """An ``application/json`` response from any JSON-able value.

    Dicts, lists, dataclasses, datetimes, UUIDs and pydantic models are encoded
    by orjson. The body is compact UTF-8 and never readable as HTML: ``<``,
    ``>`` and ``&`` only ever appear inside JSON strings.
    """

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dump_json(content)


class RedirectResponse(Response):
    """Redirect the client to ``url``.

    Args:
        url: Where to. Characters a Location header cannot hold, CR and LF
            among them, are percent-encoded, so the URL cannot split the
            response.
        status_code: 302 by default; 303 after a form post; 307 or 308 to
            keep the method (RFC 9110 15.4).
    """

    def __init__(
        self,
        url: str | URL,
        status_code: int = 302,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(None, status_code, headers)
        location = quote(str(url), safe=":/%#?=@[]!$&'()*+,;~")
        self.raw_headers.append((b"location", location.encode("latin-1")))


ContentStream = AsyncIterable[str | bytes] | Iterable[str | bytes]


class StreamingResponse(Response):
    """Send a body as an iterator yields it.

    Args:
        content: An async or plain iterator of str or bytes. A plain iterator
            is advanced in a worker thread, so it may block.
        status_code: The HTTP status.
        headers: Extra headers.
        media_type: The Content-Type.

    The stream stops, and the iterator is closed, when the client disconnects.
    """

    def __init__(
        self,
        content: ContentStream,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.content = content
        super().__init__(None, status_code, headers, media_type)
        if not headers or not any(key.lower() == "content-length" for key in headers):
            # The length computed for the empty body; a length given in headers stays.
            self.raw_headers = [pair for pair in self.raw_headers if pair[0] != b"content-length"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": self._headers_for(scope),
            }
        )
        if scope.get("method") == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        try:
            async with anyio.create_task_group() as group:

                async def stream_then_stop() -> None:
                    await self.stream_body(send)
                    group.cancel_scope.cancel()

                group.start_soon(stream_then_stop)
                await _wait_for_disconnect(receive)
                group.cancel_scope.cancel()
        except BaseExceptionGroup as errors:
            # Raise the iterator's own error, for the server to log and for
            # tests to catch, rather than the task groups wrapping it.
            error: BaseException = errors
            while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
                error = error.exceptions[0]
            if error is errors:
                raise
            raise error from None

    async def stream_body(self, send: Send) -> None:
        """Send every chunk, then the end of the body."""
        async with contextlib.aclosing(_iterate(self.content)) as chunks:
            async for chunk in chunks:
                await send(
                    {"type": "http.response.body", "body": self._encode(chunk), "more_body": True}
                )
        await send({"type": "http.response.body", "body": b""})

    def _encode(self, chunk: str | bytes) -> bytes:
        return chunk if isinstance(chunk, bytes) else chunk.encode(self.charset)


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def _next_or_none(iterator: Iterator[str | bytes]) -> str | bytes | None:
    return next(iterator, None)


async def _iterate(content: ContentStream) -> AsyncGenerator[str | bytes, None]:
    # Callers close this generator (contextlib.aclosing) when the client
    # leaves; it closes the iterator in turn, which "async for" alone does not.
    if isinstance(content, AsyncIterable):
        chunks = aiter(content)
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        return
    iterator = iter(content)
    try:
        while True:
            item = await anyio.to_thread.run_sync(_next_or_none, iterator)
            if item is None:
                return
            yield item
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


TextClass = type[Response]


def to_response(value: Any, text_class: TextClass = PlainTextResponse) -> Response:
    """Turn what a handler returned into a response.

    - a ``Response``: as is;
    - a dict, list, pydantic model or dataclass: JSON;
    - a str: ``text_class`` (plain text unless the route declares HTML);
    - bytes: ``application/octet-stream``;
    - ``None``: ``204 No Content``;
    - ``(body, status)`` or ``(body, status, headers)``: the body converted
      as above, with that status and those headers.

    Raises:
        TypeError: for anything else, naming the type and what may be returned.
    """
    kind = type(value)
    if kind is dict or kind is list:
        return JSONResponse(value)
    if kind is str:
        return text_class(value)
    if isinstance(value, Response):
        return value
    if kind is tuple:
        return _from_tuple(value, text_class)
    return _convert(value, 200, None, text_class)


def _from_tuple(value: tuple[Any, ...], text_class: TextClass) -> Response:
    if len(value) not in (2, 3) or not isinstance(value[1], int):
        raise TypeError(
            "A handler returned a tuple that is not (body, status) or (body, status, headers): "
            f"{_describe(value)}. Return one of those, or a Response."
        )
    headers = value[2] if len(value) == 3 else None
    if headers is not None and not isinstance(headers, Mapping):
        raise TypeError(
            "The headers of a (body, status, headers) return value must be a mapping, "
            f"not {type(headers).__name__}."
        )
    return _convert(value[0], value[1], headers, text_class)


def _convert(
    body: Any, status: int, headers: Mapping[str, str] | None, text_class: TextClass
) -> Response:
    if isinstance(body, Response):
        body.status_code = status
        if headers:
            body.headers.update(headers)
        return body
    if body is None:
        return Response(None, 204 if status == 200 else status, headers)
    if isinstance(body, str):
        return text_class(body, status, headers)
    if isinstance(body, (bytes, bytearray, memoryview)):
        return Response(body, status, headers, media_type="application/octet-stream")
    if (
        isinstance(body, (dict, list))
        or hasattr(body, "model_dump")
        or hasattr(body, "__dataclass_fields__")
    ):
        return JSONResponse(body, status, headers)
    raise TypeError(
        f"A handler returned {_describe(body)}, which carboy cannot turn into a response. "
        "Return a Response, a dict, list, pydantic model or dataclass (JSON), a str, bytes, "
        "None, or a (body, status[, headers]) tuple."
    )


def _describe(value: Any) -> str:
    return f"a value of type {type(value).__name__}"


def __getattr__(name: str) -> Any:
    # FileResponse lives in its own module, loaded on first use.
    if name == "FileResponse":
        from carboy._fileresponse import FileResponse

        return FileResponse
    raise AttributeError(f"module 'carboy.responses' has no attribute {name!r}")
