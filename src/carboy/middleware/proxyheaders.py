"""Believe ``X-Forwarded-*`` headers only from the reverse proxies the site names.

Behind a proxy, the connection's peer is the proxy, not the client: the
client's address, the scheme it used and the host it asked for come in
``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``X-Forwarded-Host``. Any
client can send those headers too, so they are read only when the peer is a
trusted proxy, and ``X-Forwarded-For`` is read from the right: the client is
the nearest address that is not a trusted proxy, so that a client cannot
pick its own address by sending the header itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from carboy.exceptions import ImproperlyConfigured
from carboy.types import ASGIApp, Receive, Scope, Send

__all__ = ["ProxyHeadersMiddleware"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_SCHEMES = {
    "http": {"http": "http", "https": "https", "ws": "http", "wss": "https"},
    "websocket": {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"},
}


class ProxyHeadersMiddleware:
    """Take the client's address, scheme and host from a trusted proxy's headers.

    Args:
        app: The ASGI app to wrap.
        trusted_proxies: Addresses (``"10.0.0.5"``) or networks
            (``"10.0.0.0/8"``) of the proxies to believe; ``"*"`` believes
            every peer.

    Raises:
        ImproperlyConfigured: if an entry is not an address or network.

    Example::

        app = ProxyHeadersMiddleware(app, trusted_proxies=["10.0.0.0/8"])
    """

    def __init__(self, app: ASGIApp, *, trusted_proxies: Sequence[str]) -> None:
        if isinstance(trusted_proxies, str):
            raise ImproperlyConfigured(
                "trusted_proxies is a string. Pass a list: trusted_proxies=['10.0.0.5']."
            )
        self.app = app
        self.trusts_any = "*" in trusted_proxies
        self.networks: list[_Network] = []
        for entry in trusted_proxies:
            if entry == "*":
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ImproperlyConfigured(
                    f"trusted_proxies holds {entry!r}, which is not an IP address or network. "
                    "List addresses such as '10.0.0.5', networks such as '10.0.0.0/8', or '*'."
                ) from None

    def is_trusted(self, address: str) -> bool:
        """Tell whether ``address`` is one of the trusted proxies."""
        return self.trusts_any or self._is_listed(address)

    def _is_listed(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Rewrite the scope from the forwarded headers when the peer is trusted."""
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client and self.is_trusted(client[0]):
            self._apply(scope)
        await self.app(scope, receive, send)

    def _apply(self, scope: Scope) -> None:
        forwarded_for: list[str] = []
        proto = host = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded_for.extend(value.decode("latin-1").split(","))
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1")
            elif name == b"x-forwarded-host":
                host = value
        if forwarded_for:
            client = self._client(forwarded_for)
            if client is not None:
                scope["client"] = (client, 0)
        if proto is not None:
            # The nearest proxy appends last.
            scheme = _SCHEMES[scope["type"]].get(proto.rsplit(",", 1)[-1].strip().lower())
            if scheme is not None:
                scope["scheme"] = scheme
        if host is not None:
            nearest = host.rsplit(b",", 1)[-1].strip()
            if nearest:
                headers = [(n, v) for n, v in scope["headers"] if n != b"host"]
                headers.append((b"host", nearest))
                scope["headers"] = headers

    def _client(self, hops: list[str]) -> str | None:
        # From the right: each trusted proxy appended the address it saw; the
        # first address no trusted proxy owns is the client's.
        client = None
        for hop in reversed(hops):
            address = hop.strip()
            try:
                address = str(ipaddress.ip_address(address.strip("[]")))
            except ValueError:
                # A hop that is not an address was not written by a proxy of
                # this site: what lies beyond it cannot be believed.
                return client
            client = address
            # Past the peer, "*" trusts nothing: only listed proxies are hops.
            if not self._is_listed(address):
                return client
        return client
