"""Security headers, on every response by default.

``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'`` (no framing:
clickjacking), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
same-origin`` and ``Cross-Origin-Opener-Policy: same-origin``; on HTTPS,
``Strict-Transport-Security``. A full Content-Security-Policy is optional:
``{nonce}`` in it becomes a fresh nonce per request, which templates read
with ``csp_nonce()``. Each header comes from a setting, and a response that
sets a header itself keeps its own.

The pages carboy renders itself (the admin's and the sign-in pages, the
docs page, the debug page, the HTML error pages) are ``BuiltinPage``
responses, and get the strict policy of the
``builtin_pages_content_security_policy`` setting instead of the app's, with
the same per-request nonce: whatever the app allows on its own pages, an
injected script cannot run on its admin. Setting it to ``None`` gives them
the app's policy, like any other page.
"""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping
from typing import TYPE_CHECKING

from carboy.responses import HTMLResponse, Response
from carboy.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from carboy.config import Settings
    from carboy.requests import HTTPConnection

__all__ = ["BuiltinPage", "SecurityHeaders", "csp_nonce", "secure_refusal"]

_NONCE = "carboy.csp_nonce"
SCOPE_KEY = "carboy.security_headers"
"""The scope key of the app's ``SecurityHeaders``, set by the outermost layer."""

_DOCUMENT_TYPES = (
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/xml",
    "application/xml",
)


def is_document(media_type: str | None) -> bool:
    """Tell whether a response of ``media_type`` is a document a browser renders."""
    if media_type is None:
        return True
    return media_type.split(";", 1)[0].strip().lower() in _DOCUMENT_TYPES


def csp_nonce(connection: HTTPConnection | Scope) -> str:
    """Return this request's CSP nonce, for ``<script nonce="...">``.

    The nonce is made on first use and kept for the request: every call,
    and the ``Content-Security-Policy`` header, give the same one.

    Args:
        connection: The request, or its ASGI scope where there is no
            request object (the debug page).
    """
    scope = connection if isinstance(connection, MutableMapping) else connection.scope
    return _nonce(scope)


def _nonce(scope: Scope) -> str:
    nonce: str | None = scope.get(_NONCE)
    if nonce is None:
        nonce = scope[_NONCE] = secrets.token_urlsafe(16)
    return nonce


class BuiltinPage(HTMLResponse):
    """An HTML page that carboy renders itself, served under carboy's own strict CSP.

    The admin's and the sign-in pages (every template under ``carboy/``
    rendered with ``render()``), the docs page, the debug page and the HTML
    error pages are answered with it. ``SecurityHeaders`` gives it the
    ``builtin_pages_content_security_policy`` setting, whose ``{nonce}`` is
    the request's ``csp_nonce()``, instead of the app's policy; a page that
    sets ``Content-Security-Policy`` itself keeps its own.
    """

    data_images = False
    """Whether the page's ``img-src`` also allows ``data:`` URLs (Swagger UI's icons need them)."""


class SecurityHeaders:
    """The security headers of an app, computed once from its settings.

    ``nosniff`` (and HSTS on HTTPS) go on every response. The headers that
    only a document obeys (framing, referrer, opener and content policies)
    go on documents: HTML, XHTML, SVG and XML, and responses of no declared
    type, which a browser may sniff into one. A JSON or plain-text response
    is never a page a browser frames or runs scripts in, and nosniff keeps
    it from being taken for one.
    """

    def __init__(self, settings: Settings) -> None:
        always: list[tuple[bytes, bytes]] = []
        if settings.content_type_nosniff:
            always.append((b"x-content-type-options", b"nosniff"))
        if settings.cross_origin_resource_policy:
            policy = settings.cross_origin_resource_policy.encode()
            always.append((b"cross-origin-resource-policy", policy))
        document: list[tuple[bytes, bytes]] = []
        if settings.x_frame_options:
            document.append((b"x-frame-options", settings.x_frame_options.encode()))
        if settings.referrer_policy:
            document.append((b"referrer-policy", settings.referrer_policy.encode()))
        if settings.cross_origin_opener_policy:
            policy = settings.cross_origin_opener_policy.encode()
            document.append((b"cross-origin-opener-policy", policy))
        if settings.permissions_policy:
            document.append((b"permissions-policy", settings.permissions_policy.encode()))
        if settings.x_permitted_cross_domain_policies:
            policy = settings.x_permitted_cross_domain_policies.encode()
            document.append((b"x-permitted-cross-domain-policies", policy))
        # Carboy's own pages get every document header but the app's policy.
        self.builtin_document = always + document
        self.builtin_template = settings.builtin_pages_content_security_policy
        self.csp_template: str | None = None
        if settings.content_security_policy:
            if "{nonce}" in settings.content_security_policy:
                self.csp_template = settings.content_security_policy
            else:
                csp = settings.content_security_policy.encode()
                document.append((b"content-security-policy", csp))
        elif settings.frame_ancestors:
            csp = f"frame-ancestors {settings.frame_ancestors}".encode()
            document.append((b"content-security-policy", csp))
        self.always = always
        self.document = always + document
        added = [b"content-security-policy", b"strict-transport-security"]
        self.names = frozenset([*(name for name, _ in self.document), *added])
        self.hsts: tuple[bytes, bytes] | None = None
        if settings.hsts_seconds > 0:
            value = f"max-age={settings.hsts_seconds}"
            if settings.hsts_include_subdomains:
                value += "; includeSubDomains"
            if settings.hsts_preload:
                value += "; preload"
            self.hsts = (b"strict-transport-security", value.encode())

    def for_scope(self, scope: Scope, is_document: bool = True) -> list[tuple[bytes, bytes]]:
        """Return the headers to add to a response (a document, or not) to this request."""
        headers = self.document if is_document else self.always
        is_https = scope.get("scheme") == "https"
        has_csp = is_document and self.csp_template is not None
        if has_csp or (self.hsts is not None and is_https):
            headers = list(headers)
            if has_csp:
                template: str = self.csp_template  # type: ignore[assignment]
                policy = template.replace("{nonce}", _nonce(scope))
                headers.append((b"content-security-policy", policy.encode()))
            if self.hsts is not None and is_https:
                # RFC 6797 7.2: HSTS over plain HTTP is ignored, so it is sent on HTTPS only.
                headers.append(self.hsts)
        return headers

    def for_builtin_page(
        self, scope: Scope, data_images: bool = False
    ) -> list[tuple[bytes, bytes]]:
        """Return the headers to add to one of carboy's own pages (a ``BuiltinPage``).

        They are a document's, with the ``builtin_pages_content_security_policy``
        setting as the policy; when that is ``None``, exactly a document's.
        """
        if self.builtin_template is None:
            return self.for_scope(scope)
        headers = list(self.builtin_document)
        policy = self.builtin_template.replace("{nonce}", _nonce(scope))
        if data_images:
            policy = _with_data_images(policy)
        headers.append((b"content-security-policy", policy.encode()))
        if self.hsts is not None and scope.get("scheme") == "https":
            headers.append(self.hsts)
        return headers

    def apply(self, response: Response, scope: Scope) -> None:
        """Add the headers the response does not set itself."""
        if not is_document(response.media_type):
            extra = self.for_scope(scope, False)
        elif isinstance(response, BuiltinPage):
            extra = self.for_builtin_page(scope, response.data_images)
        else:
            extra = self.for_scope(scope)
        raw = response.raw_headers
        names = self.names
        for name, _ in raw:
            if name in names:
                present = {name for name, _ in raw}
                raw.extend(pair for pair in extra if pair[0] not in present)
                return
        raw.extend(extra)

    def refusal_headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        """Return the headers of a plain-text refusal sent before the app runs."""
        return self.for_scope(scope, False)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """Wrap an ASGI app (a mounted one) so that its responses get the headers too."""

        async def secured(scope: Scope, receive: Receive, send: Send) -> None:
            async def send_secured(message: Message) -> None:
                if message["type"] == "http.response.start":
                    raw = list(message.get("headers", []))
                    present = {name.lower() for name, _ in raw}
                    media_type = next(
                        (
                            value.decode("latin-1")
                            for name, value in raw
                            if name.lower() == b"content-type"
                        ),
                        None,
                    )
                    extra = self.for_scope(scope, is_document(media_type))
                    raw.extend(pair for pair in extra if pair[0] not in present)
                    message["headers"] = raw
                await send(message)

            await app(scope, receive, send_secured)

        return secured


def _with_data_images(policy: str) -> str:
    """Add ``data:`` to the ``img-src`` directive of ``policy``, or add one that allows it."""
    directives = [directive.strip() for directive in policy.split(";") if directive.strip()]
    for index, directive in enumerate(directives):
        if directive.split(None, 1)[0].lower() == "img-src":
            directives[index] = directive + " data:"
            break
    else:
        directives.append("img-src 'self' data:")
    return "; ".join(directives)


def secure_refusal(response: Response, scope: Scope) -> None:
    """Give a response made before the app's dispatcher (a 429 of a whole-site limit) its headers.

    The app's outermost layer puts its ``SecurityHeaders`` in the scope; a
    middleware that answers on its own, before the dispatcher that adds them
    to every other response, calls this on its response. Outside a carboy
    app it does nothing.
    """
    security: SecurityHeaders | None = scope.get(SCOPE_KEY)
    if security is not None:
        security.apply(response, scope)
