"""Send every plain-HTTP request to the same URL over HTTPS."""

from __future__ import annotations

from urllib.parse import quote_from_bytes

from carboy.middleware._hosts import format_host, host_from_scope, split_host
from carboy.middleware._replies import send_plain_text
from carboy.types import ASGIApp, Receive, Scope, Send

__all__ = ["HTTPSRedirectMiddleware"]

# RFC 6455 7.4.1: 1008 is "policy violation", the generic refusal code.
_WEBSOCKET_POLICY_VIOLATION = 1008

# RFC 3986 3.3: the characters a path segment may hold unencoded, besides "/".
_PATH_SAFE = "/:@!$&'()*+,;=~"

# Each byte of a raw target as it may appear in a Location header: visible
# ASCII stays, "%" included so that sequences the client encoded stay encoded;
# controls (CR and LF above all), space, DEL, "#" and non-ASCII bytes are
# percent-encoded, so that no byte can split the header (RFC 9110 5.5) or
# change what the URL means.
_TARGET_BYTES = tuple(
    chr(byte) if 0x21 <= byte <= 0x7E and byte != ord("#") else f"%{byte:02X}"
    for byte in range(256)
)


class HTTPSRedirectMiddleware:
    """Redirect ``http`` requests to ``https`` with a 308, and refuse ``ws`` WebSockets.

    The redirect keeps the host, path and query string. The port is kept
    unless it is 80 or 443, which the ``https`` URL leaves implied. A 308 is
    permanent and, unlike a 301, keeps the method and body (RFC 9110 15.4.9),
    so a form POSTed over HTTP is re-sent as a POST over HTTPS.

    A WebSocket handshake over ``ws`` is closed with code 1008 instead of
    being redirected: browsers do not follow redirects on a WebSocket
    handshake (the WHATWG WebSockets standard fetches it with redirects
    treated as errors), so the client must be pointed at ``wss`` in its code.

    Behind a proxy that ends TLS, the app must be told to trust the
    proxy's ``X-Forwarded-Proto`` (the ``trusted_proxies`` setting), or every
    request looks like plain HTTP and is redirected forever.

    Args:
        app: The ASGI app that serves the HTTPS requests.

    Example::

        app = HTTPSRedirectMiddleware(app)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Redirect or refuse an insecure request; pass a secure one to the app."""
        if scope["type"] == "http" and scope.get("scheme", "http") != "https":
            await self._redirect(scope, send)
        elif scope["type"] == "websocket" and scope.get("scheme", "ws") != "wss":
            await send({"type": "websocket.close", "code": _WEBSOCKET_POLICY_VIOLATION})
        else:
            await self.app(scope, receive, send)

    async def _redirect(self, scope: Scope, send: Send) -> None:
        authority = _authority(scope)
        if authority is None:
            await send_plain_text(
                send,
                400,
                "Bad Request: the Host header is missing, repeated or malformed, so "
                "there is no HTTPS address to redirect to.",
            )
            return
        location = f"https://{authority}{_target(scope)}"
        await send_plain_text(send, 308, "", [(b"location", location.encode("ascii"))])


def _authority(scope: Scope) -> str | None:
    if any(name == b"host" for name, _ in scope["headers"]):
        split = host_from_scope(scope)
        if split is None:
            return None
        host, port = split
    elif scope.get("server") is not None:
        # HTTP/1.0 clients may send no Host; the address the server listens
        # on is then the best guess, unless it is a Unix socket's path.
        server_host, port = scope["server"]
        split = split_host(format_host(server_host, None, default_port=443))
        if split is None:
            return None
        host = split[0]
    else:
        return None
    if port == 80:
        port = None
    return format_host(host, port, default_port=443)


def _target(scope: Scope) -> str:
    raw_path: bytes | None = scope.get("raw_path")
    if raw_path:
        path = "".join(_TARGET_BYTES[byte] for byte in raw_path)
    else:
        # scope["path"] is already percent-decoded, so a "%" in it is a
        # literal one and must be encoded along with everything else.
        decoded = scope["path"].encode("utf-8", "surrogatepass")
        path = quote_from_bytes(decoded, safe=_PATH_SAFE)
    if not path.startswith("/"):
        path = "/" + path
    query: bytes = scope.get("query_string", b"")
    if query:
        path += "?" + "".join(_TARGET_BYTES[byte] for byte in query)
    return path
