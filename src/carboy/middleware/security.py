"""Security headers, on every response by default.

``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'`` (no framing:
clickjacking), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
same-origin`` and ``Cross-Origin-Opener-Policy: same-origin``; on HTTPS,
``Strict-Transport-Security``. A full Content-Security-Policy is optional:
``{nonce}`` in it becomes a fresh nonce per request, which templates read
with ``csp_nonce()``. Each header comes from a setting, and a response that
sets a header itself keeps its own.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from carboy.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from carboy.config import Settings
    from carboy.requests import HTTPConnection
    from carboy.responses import Response

__all__ = ["SecurityHeaders", "csp_nonce"]

_NONCE = "carboy.csp_nonce"


def csp_nonce(connection: HTTPConnection) -> str:
    """Return this request's CSP nonce, for ``<script nonce="...">``."""
    scope = connection.scope
    nonce = scope.get(_NONCE)
    if nonce is None:
        nonce = scope[_NONCE] = secrets.token_urlsafe(16)
    return str(nonce)


class SecurityHeaders:
    """The security headers of an app, computed once from its settings."""

    def __init__(self, settings: Settings) -> None:
        headers: list[tuple[bytes, bytes]] = []
        if settings.x_frame_options:
            headers.append((b"x-frame-options", settings.x_frame_options.encode()))
        if settings.content_type_nosniff:
            headers.append((b"x-content-type-options", b"nosniff"))
        if settings.referrer_policy:
            headers.append((b"referrer-policy", settings.referrer_policy.encode()))
        if settings.cross_origin_opener_policy:
            headers.append(
                (b"cross-origin-opener-policy", settings.cross_origin_opener_policy.encode())
            )
        self.csp_template: str | None = None
        if settings.content_security_policy:
            if "{nonce}" in settings.content_security_policy:
                self.csp_template = settings.content_security_policy
            else:
                headers.append(
                    (b"content-security-policy", settings.content_security_policy.encode())
                )
        elif settings.frame_ancestors:
            headers.append(
                (b"content-security-policy", f"frame-ancestors {settings.frame_ancestors}".encode())
            )
        self.headers = headers
        added = [b"content-security-policy", b"strict-transport-security"]
        self.names = frozenset([*(name for name, _ in headers), *added])
        self.hsts: tuple[bytes, bytes] | None = None
        if settings.hsts_seconds > 0:
            value = f"max-age={settings.hsts_seconds}"
            if settings.hsts_include_subdomains:
                value += "; includeSubDomains"
            if settings.hsts_preload:
                value += "; preload"
            self.hsts = (b"strict-transport-security", value.encode())

    def for_scope(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        """Return the headers to add to a response to this request."""
        headers = self.headers
        is_https = scope.get("scheme") == "https"
        if self.csp_template is not None or (self.hsts is not None and is_https):
            headers = list(headers)
            if self.csp_template is not None:
                nonce = scope.get(_NONCE) or scope.setdefault(_NONCE, secrets.token_urlsafe(16))
                policy = self.csp_template.replace("{nonce}", nonce)
                headers.append((b"content-security-policy", policy.encode()))
            if self.hsts is not None and is_https:
                # RFC 6797 7.2: HSTS over plain HTTP is ignored, so it is sent on HTTPS only.
                headers.append(self.hsts)
        return headers

    def apply(self, response: Response, scope: Scope) -> None:
        """Add the headers the response does not set itself."""
        raw = response.raw_headers
        names = self.names
        for name, _ in raw:
            if name in names:
                present = {name for name, _ in raw}
                raw.extend(pair for pair in self.for_scope(scope) if pair[0] not in present)
                return
        raw.extend(self.for_scope(scope))

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """Wrap an ASGI app (a mounted one) so that its responses get the headers too."""

        async def secured(scope: Scope, receive: Receive, send: Send) -> None:
            async def send_secured(message: Message) -> None:
                if message["type"] == "http.response.start":
                    raw = list(message.get("headers", []))
                    present = {name.lower() for name, _ in raw}
                    raw.extend(pair for pair in self.for_scope(scope) if pair[0] not in present)
                    message["headers"] = raw
                await send(message)

            await app(scope, receive, send_secured)

        return secured
