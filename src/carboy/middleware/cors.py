"""Let pages on other origins call the app, within limits the site sets (CORS).

The protocol is the Fetch standard's "CORS protocol"
(https://fetch.spec.whatwg.org/#http-cors-protocol): a browser asks first with
a preflight OPTIONS request for anything beyond a simple GET or form POST,
and lets a page read a response only if the response names the page's origin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from carboy.datastructures import Headers, MutableHeaders
from carboy.exceptions import ImproperlyConfigured
from carboy.middleware._replies import send_plain_text
from carboy.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CORSMiddleware"]

# Fetch standard: request headers a browser may send cross-origin without
# asking; it still lists Content-Type in a preflight when the value is not
# form-like (application/json), and the others when their values are unusual.
_SAFELISTED_HEADERS = ("accept", "accept-language", "content-language", "content-type")

# RFC 9110 5.1 and 9.1: header names and methods are tokens. Only a token
# is ever echoed back into a response header.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

# RFC 6454 6.1: an origin serialises as scheme "://" host [ ":" port ], or "null".
_ORIGIN = re.compile(r"null|[A-Za-z][A-Za-z0-9+.\-]*://[A-Za-z0-9\-._~!$&'()*+,;=%\[\]:]+")

_SETTING_NAMES = {
    "origin": "allow_origins",
    "method": "allow_methods",
    "request headers": "allow_headers",
}


class CORSMiddleware:
    """Answer CORS preflights and add CORS headers to responses for allowed origins.

    A preflight (OPTIONS with Origin and Access-Control-Request-Method) is
    answered here, without running the app: 204 when its origin, method and
    headers are all allowed, otherwise 400 with a plain-text body naming
    what is not. Any other request with an Origin runs the app; if the
    origin is allowed, the response says so in its Access-Control-* headers.
    A request without an Origin is not a CORS request and passes untouched.

    ``"*"`` in a list allows anything. With credentials allowed, browsers
    read a ``"*"`` header value literally, so the request's own origin,
    method and headers are echoed instead, and the response's header names
    are listed for ``expose_headers=["*"]``. The CORS-safelisted request
    headers (Accept, Accept-Language, Content-Language, Content-Type) are
    always allowed.

    Args:
        app: The ASGI app to open to other origins.
        allow_origins: Origins allowed, such as ``"https://example.com"``,
            or ``"*"`` for any.
        allow_origin_regex: A regular expression an allowed origin matches
            in full, such as ``r"https://.*\\.example\\.com"``.
        allow_methods: Methods allowed in a cross-origin request.
        allow_headers: Request headers allowed beyond the safelisted ones.
        allow_credentials: Whether a page may send cookies and HTTP
            authentication, and read the response to such a request.
        expose_headers: Response headers a page may read, beyond the
            safelisted ones (Content-Type, Content-Length and a few others).
        max_age: Seconds a browser may cache a preflight's answer.

    Raises:
        ImproperlyConfigured: if ``allow_origins`` holds ``"*"`` while
            ``allow_credentials`` is true, if an origin is not one (it has a
            path, say), if a list is given as a string, if the regular
            expression does not compile, or if ``max_age`` is negative.

    Example::

        app = CORSMiddleware(
            app,
            allow_origins=["https://app.example.com"],
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization"],
            allow_credentials=True,
        )
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        allow_origins: Sequence[str] = (),
        allow_origin_regex: str | None = None,
        allow_methods: Sequence[str] = ("GET",),
        allow_headers: Sequence[str] = (),
        allow_credentials: bool = False,
        expose_headers: Sequence[str] = (),
        max_age: int = 600,
    ) -> None:
        for setting, value in (
            ("allow_origins", allow_origins),
            ("allow_methods", allow_methods),
            ("allow_headers", allow_headers),
            ("expose_headers", expose_headers),
        ):
            if isinstance(value, str):
                raise ImproperlyConfigured(
                    f"{setting} is a string, so each of its characters would be read as "
                    f"an entry. Pass a list: {setting}=[{value!r}]."
                )
        if "*" in allow_origins and allow_credentials:
            raise ImproperlyConfigured(
                "allow_origins=['*'] with allow_credentials=True would let any site read "
                "responses made with a visitor's cookies, which browsers forbid. List the "
                "origins that may send credentials in allow_origins, or set "
                "allow_credentials=False."
            )
        if max_age < 0:
            raise ImproperlyConfigured(
                f"max_age is {max_age}, but a number of seconds cannot be negative. "
                "Pass 0 to have browsers ask before every request."
            )
        for origin in allow_origins:
            _check_origin_setting(origin)

        self.app = app
        self.allows_any_origin = "*" in allow_origins
        self._origins = frozenset(origin.lower() for origin in allow_origins if origin != "*")
        self._origin_regex = _compile_origin_regex(allow_origin_regex)
        self._allows_any_method = "*" in allow_methods
        self._methods = tuple(dict.fromkeys(m.upper() for m in allow_methods if m != "*"))
        self._allows_any_header = "*" in allow_headers
        configured = [h.lower() for h in allow_headers if h != "*"]
        self._headers = tuple(dict.fromkeys([*configured, *_SAFELISTED_HEADERS]))
        self.allow_credentials = allow_credentials
        self._echoes_response_header_names = "*" in expose_headers and allow_credentials
        self._expose_headers = ", ".join(expose_headers)
        self.max_age = max_age

    def is_allowed_origin(self, origin: str) -> bool:
        """Return whether a request's Origin header value is allowed.

        Example:
            ``middleware.is_allowed_origin("https://app.example.com")``
        """
        # Only a well-formed origin may be echoed into a response header.
        if not _ORIGIN.fullmatch(origin):
            return False
        if self.allows_any_origin or origin.lower() in self._origins:
            return True
        return self._origin_regex is not None and self._origin_regex.fullmatch(origin) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a preflight, or run the app and add CORS headers to its response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._answer_preflight(headers, origin, send)
            return

        is_allowed = self.is_allowed_origin(origin)

        async def send_with_cors_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(raw=list(message.get("headers", [])))
                if is_allowed:
                    self._add_actual_response_headers(response_headers, origin)
                self._add_vary(response_headers)
                message = {**message, "headers": response_headers.raw}
            await send(message)

        await self.app(scope, receive, send_with_cors_headers)

    async def _answer_preflight(self, headers: Headers, origin: str, send: Send) -> None:
        method = headers["access-control-request-method"]
        requested_headers = [
            name.strip().lower()
            for name in ",".join(headers.getlist("access-control-request-headers")).split(",")
            if name.strip()
        ]
        refused: list[str] = []
        if not self.is_allowed_origin(origin):
            refused.append("origin")
        if not _TOKEN.fullmatch(method) or not (
            self._allows_any_method or method.upper() in self._methods
        ):
            refused.append("method")
        if not all(
            _TOKEN.fullmatch(name) and (self._allows_any_header or name in self._headers)
            for name in requested_headers
        ):
            refused.append("request headers")

        response_headers = MutableHeaders(raw=[])
        self._add_vary(response_headers)
        if refused:
            await send_plain_text(send, 400, _refusal(refused), response_headers.raw)
            return

        response_headers["access-control-allow-origin"] = "*" if self.allows_any_origin else origin
        if self.allow_credentials:
            response_headers["access-control-allow-credentials"] = "true"
        response_headers["access-control-allow-methods"] = (
            method if self._allows_any_method else ", ".join(self._methods)
        )
        listed = requested_headers if self._allows_any_header else self._headers
        if listed:
            response_headers["access-control-allow-headers"] = ", ".join(listed)
        response_headers["access-control-max-age"] = str(self.max_age)
        await send_plain_text(send, 204, "", response_headers.raw)

    def _add_actual_response_headers(self, headers: MutableHeaders, origin: str) -> None:
        headers["access-control-allow-origin"] = "*" if self.allows_any_origin else origin
        if self.allow_credentials:
            headers["access-control-allow-credentials"] = "true"
        if self._echoes_response_header_names:
            # Set-Cookie is never readable by a page (Fetch: forbidden
            # response header name), so it is not worth listing.
            names = dict.fromkeys(
                name
                for name in headers
                if name != "set-cookie" and not name.startswith("access-control-")
            )
            if names:
                headers["access-control-expose-headers"] = ", ".join(names)
        elif self._expose_headers:
            headers["access-control-expose-headers"] = self._expose_headers

    def _add_vary(self, headers: MutableHeaders) -> None:
        # The answer depends on the Origin unless every origin gets "*";
        # without Vary, a cache could serve one origin's answer to another.
        if not self.allows_any_origin:
            headers.add_vary_header("Origin")


def _refusal(refused: list[str]) -> str:
    subjects = _join([f"the {part}" for part in refused])
    settings = _join([_SETTING_NAMES[part] for part in refused])
    if refused == ["origin"] or refused == ["method"]:
        return (
            f"CORS preflight refused: {subjects} is not allowed. To allow it, add it to {settings}."
        )
    return (
        f"CORS preflight refused: {subjects} are not allowed. "
        f"To allow them, add them to {settings}."
    )


def _join(words: list[str]) -> str:
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def _check_origin_setting(origin: str) -> None:
    if origin in ("*", "null"):
        return
    parts = urlsplit(origin)
    if (
        parts.scheme
        and parts.netloc
        and "@" not in parts.netloc
        and not (parts.path or parts.query or parts.fragment or origin.endswith(("?", "#")))
    ):
        return
    raise ImproperlyConfigured(
        f"allow_origins holds {origin!r}, which is not an origin. An origin is a scheme, "
        "a host and an optional port, such as 'https://example.com' or "
        "'http://localhost:8000', with no path, not even a trailing '/'."
    )


def _compile_origin_regex(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ImproperlyConfigured(
            f"allow_origin_regex does not compile: {error}. Fix the expression; it must "
            r"match a whole origin, such as r'https://.*\.example\.com'."
        ) from None
