"""Refuse requests whose Host header names a host the site does not serve.

A forged Host header poisons anything built from it: password-reset links,
absolute redirects, cache keys. Checking it against an allow-list before the
app runs closes that door.
"""

from __future__ import annotations

from collections.abc import Sequence

from carboy.exceptions import ImproperlyConfigured
from carboy.middleware._hosts import host_from_scope, split_host
from carboy.middleware._replies import send_plain_text
from carboy.types import ASGIApp, Receive, Scope, Send

__all__ = ["TrustedHostMiddleware"]

_REFUSAL = "Bad Request: the Host header is not one this site serves."

# RFC 6455 7.4.1: 1008 is "policy violation", the generic refusal code.
_WEBSOCKET_POLICY_VIOLATION = 1008


# How many distinct Host values keep their verdict; past it the table restarts.
_VERDICTS = 256


class TrustedHostMiddleware:
    """Answer 400 to a request whose Host header is missing, malformed or not allowed.

    The port is ignored and names compare case-insensitively. Each entry of
    ``allowed_hosts`` is one of:

    - an exact name or address: ``example.com``, ``127.0.0.1``, ``[::1]``;
    - ``*.example.com``: any subdomain of example.com, but not example.com
      itself;
    - ``.example.com``: example.com and any subdomain of it, as in Django;
    - ``*``: any well-formed host.

    A refused WebSocket handshake is closed with code 1008. Add this
    middleware outside any other, so that nothing reads the Host before it
    is checked. Only the Host header counts: behind a proxy, the server must
    put the client's host there (X-Forwarded-Host is not read).

    Args:
        app: The ASGI app to protect.
        allowed_hosts: The hosts this site serves.

    Raises:
        ImproperlyConfigured: if ``allowed_hosts`` is empty, a string, or
            holds an entry that is not a host.

    Example::

        app = TrustedHostMiddleware(app, allowed_hosts=["example.com", ".example.org"])
    """

    def __init__(self, app: ASGIApp, *, allowed_hosts: Sequence[str]) -> None:
        if isinstance(allowed_hosts, str):
            raise ImproperlyConfigured(
                "allowed_hosts is a string, so each of its characters would be read as "
                "a host. Pass a list: allowed_hosts=['example.com']."
            )
        if not allowed_hosts:
            raise ImproperlyConfigured(
                "allowed_hosts is empty, so every request would be refused. List the "
                "hosts this site serves, such as allowed_hosts=['example.com'], or "
                "allowed_hosts=['*'] to accept any host."
            )
        self.app = app
        self._allows_any = False
        self._exact: set[str] = set()
        self._suffixes: list[str] = []
        self._verdicts: dict[bytes, bool] = {}
        for entry in allowed_hosts:
            self._add(entry)

    def _add(self, entry: str) -> None:
        if entry == "*":
            self._allows_any = True
        elif entry.startswith("*."):
            self._suffixes.append("." + _entry_host(entry, entry[2:]))
        elif entry.startswith("."):
            host = _entry_host(entry, entry[1:])
            self._exact.add(host)
            self._suffixes.append("." + host)
        else:
            self._exact.add(_entry_host(entry, entry))

    def is_allowed(self, host: str) -> bool:
        """Return whether a host, lower-cased and without its port, is allowed.

        Example:
            ``middleware.is_allowed("www.example.com")``
        """
        if self._allows_any or host in self._exact:
            return True
        return any(host.endswith(suffix) for suffix in self._suffixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the Host header, then run the app or refuse the request."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        # Nearly every request names one of a few hosts: the verdict on a raw
        # Host value is remembered, in a bounded table.
        raw = None
        for name, value in scope["headers"]:
            if name == b"host":
                if raw is not None:
                    raw = None  # RFC 9112 3.2: more than one Host is refused below
                    break
                raw = value
        verdict = self._verdicts.get(raw) if raw is not None else None
        if verdict is None:
            split = host_from_scope(scope)
            verdict = split is not None and self.is_allowed(split[0])
            if raw is not None:
                if len(self._verdicts) >= _VERDICTS:
                    self._verdicts.clear()
                self._verdicts[raw] = verdict
        if verdict:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": _WEBSOCKET_POLICY_VIOLATION})
            return
        await send_plain_text(send, 400, _REFUSAL, scope=scope)


def _entry_host(entry: str, text: str) -> str:
    # A bare IPv6 address is accepted as most people write it: "::1".
    candidate = f"[{text}]" if text.count(":") > 1 and not text.startswith("[") else text
    split = split_host(candidate)
    # "*" is a legal host character (RFC 3986 sub-delims) but, anywhere other
    # than a leading "*.", it is a wildcard that would silently never match.
    if split is None or split[1] is not None or "*" in text:
        raise ImproperlyConfigured(
            f"allowed_hosts holds {entry!r}, which is not a host or host pattern. An entry "
            "is a name such as 'example.com', '*.example.com' or '.example.com', an "
            "address such as '127.0.0.1' or '[::1]', or '*'; it has no scheme, path "
            "or port."
        )
    return split[0]
