"""Cross-site request forgery protection, on by default.

A request with an unsafe method (POST, PUT, PATCH, DELETE) that carries
cookies, and so could ride on a logged-in user's session, must prove it
comes from the site's own pages: with a token from ``csrf_token(request)``,
sent as the ``csrf_token`` form field or the ``X-CSRF-Token`` header. The
token is tied to the session, so another session's token does not pass.
On HTTPS, the ``Origin`` (or, without it, the ``Referer``) must also be the
site itself or one of ``csrf_trusted_origins``; a cross-origin or ``null`` ``Origin`` is
refused on plain HTTP too.

Exempt: requests without cookies, requests authenticated by an
``Authorization`` header (no browser adds one by itself), and handlers
marked with ``@csrf_exempt``.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from carboy.exceptions import HTTPException

if TYPE_CHECKING:
    from carboy.config import Settings
    from carboy.requests import HTTPConnection, Request

__all__ = ["CSRFError", "check_csrf", "csrf_exempt", "csrf_token"]

F = TypeVar("F", bound=Callable[..., Any])

_SECRET = "_csrf"
_SECRET_BYTES = 32
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CSRFError(HTTPException):
    """403: the request failed the CSRF check; the detail says which part."""

    def __init__(self, detail: str) -> None:
        super().__init__(403, detail)


def csrf_exempt(function: F) -> F:
    """Turn the CSRF check off for one handler, such as a webhook signed by other means."""
    function.__carboy_csrf_exempt__ = True  # type: ignore[attr-defined]
    return function


def is_exempt(function: Any) -> bool:
    """Tell whether ``csrf_exempt`` marked ``function``."""
    return bool(getattr(function, "__carboy_csrf_exempt__", False))


def csrf_token(connection: HTTPConnection) -> str:
    """Return a token for a form or an AJAX header of this session.

    The token is the session's secret, masked with a fresh random pad each
    time (so it differs on every page, and compression cannot leak it:
    BREACH), in hex. The response is marked private (``Cache-Control:
    no-store``), so that no shared cache hands the token to someone else.
    """
    connection.mark_private()
    session = connection.session
    secret = session.get(_SECRET)
    if secret is None:
        secret = session[_SECRET] = secrets.token_hex(_SECRET_BYTES)
    secret_bytes = bytes.fromhex(secret)
    pad = secrets.token_bytes(_SECRET_BYTES)
    masked = bytes(a ^ b for a, b in zip(pad, secret_bytes, strict=True))
    return (pad + masked).hex()


def _unmask(token: str) -> bytes | None:
    try:
        raw = bytes.fromhex(token)
    except ValueError:
        return None
    if len(raw) != 2 * _SECRET_BYTES:
        return None
    pad, masked = raw[:_SECRET_BYTES], raw[_SECRET_BYTES:]
    return bytes(a ^ b for a, b in zip(pad, masked, strict=True))


def _same_origin(url: str, request: Request, settings: Settings) -> bool:
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    own = f"{request.url.scheme}://{request.url.netloc}".lower()
    if origin == own:
        return True
    return origin in {trusted.lower().rstrip("/") for trusted in settings.csrf_trusted_origins}


async def check_csrf(request: Request, settings: Settings) -> None:
    """Refuse an unsafe request that carries cookies and no valid token.

    Raises:
        CSRFError: 403, saying what was missing or wrong.
    """
    headers = request.headers
    if "cookie" not in headers or "authorization" in headers:
        return
    origin = headers.get("origin")
    if origin == "null":
        # RFC 6454 7.3: an opaque origin (a sandboxed frame, a data: URL, a
        # redirect across sites) cannot be told apart from an attacker's page.
        raise CSRFError(
            "Cross-site request refused: the Origin header is null, which a sandboxed or "
            "data: page sends. Submit the form from the site's own page."
        )
    if origin is not None and not _same_origin(origin, request, settings):
        raise CSRFError(
            "Cross-site request refused: the Origin header names another site. "
            "Add it to csrf_trusted_origins if it is yours."
        )
    if request.url.is_secure and origin is None:
        referer = headers.get("referer")
        if referer is None:
            raise CSRFError(
                "Request refused: an HTTPS form post must carry a Referer or Origin header, "
                "and this one has neither."
            )
        if not _same_origin(referer, request, settings):
            raise CSRFError(
                "Cross-site request refused: the Referer header names another site. "
                "Add it to csrf_trusted_origins if it is yours."
            )
    token = headers.get(settings.csrf_header_name)
    if token is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.form()
        value = form.get(settings.csrf_field_name)
        token = value if isinstance(value, str) else None
    if not token:
        raise CSRFError(
            f"CSRF token missing: send the token of csrf_token() in the "
            f"{settings.csrf_field_name!r} form field or the {settings.csrf_header_name} header."
        )
    secret = request.session.get(_SECRET)
    unmasked = _unmask(token)
    expected = bytes.fromhex(secret) if secret is not None else None
    if expected is None or unmasked is None or not hmac.compare_digest(unmasked, expected):
        raise CSRFError(
            "CSRF token incorrect: it does not belong to this session. Reload the page "
            "and submit the form again."
        )
