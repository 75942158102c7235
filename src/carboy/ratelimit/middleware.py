"""``RateLimitMiddleware``: one limit on every request the app serves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from carboy.datastructures import Headers
from carboy.exceptions import ImproperlyConfigured
from carboy.middleware.security import secure_refusal
from carboy.problems import error_response
from carboy.ratelimit.backends import Backend, MemoryBackend
from carboy.ratelimit.keys import KeyFunction, by_ip, key_of
from carboy.ratelimit.limiter import (
    USAGES,
    Limiter,
    RateLimited,
    limiter_of,
    record_usage,
    tightest,
)
from carboy.ratelimit.rates import Rate, parse_rate
from carboy.requests import HTTPConnection
from carboy.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RateLimitMiddleware"]


class RateLimitMiddleware:
    """Limit every HTTP request to the app, before routing: a whole-site limit.

    Requests over the rate get 429 (problem+json, or an HTML page for
    browsers) with ``Retry-After``; every counted response carries the
    ``RateLimit-*`` headers. WebSocket handshakes and lifespan messages pass
    unlimited. Route limits (``limit()``) still apply under it; a response
    reports the one closest to running out.

    It runs before the auth battery loads the user, so ``by_user`` keys by
    address here; limit per user with ``limit(..., key=by_user)`` on routes.

    Args:
        app: The ASGI app to protect.
        rate: Such as ``"100/minute"``.
        key: Whom to count; the client's address by default.
        exempt_paths: Paths not counted, each with what lies below it:
            ``"/health"`` exempts ``/health`` and ``/health/db``.
        scope: The name of the count, apart from route limits' counts.
        backend: Where to count. ``None``: the app's limiter (the
            ``RateLimits`` battery's, see ``limiter_of``). A backend given
            here is the caller's to close.

    Example::

        app = Carboy(
            extensions=[RateLimits()],
            middleware=[Middleware(RateLimitMiddleware, rate="300/minute",
                                   exempt_paths=["/health", "/static"])],
        )
    """

    def __init__(
        self,
        app: ASGIApp,
        rate: str | Rate,
        key: KeyFunction = by_ip,
        *,
        exempt_paths: Sequence[str] = (),
        scope: str = "app",
        backend: Backend | None = None,
    ) -> None:
        self.app = app
        self.rate = parse_rate(rate)
        self.key = key
        self.bucket = scope
        if isinstance(exempt_paths, str):
            exempt_paths = [exempt_paths]
        for path in exempt_paths:
            if not path.startswith("/"):
                raise ImproperlyConfigured(
                    f"The exempt path {path!r} of RateLimitMiddleware does not start with '/'. "
                    "Give paths as the app sees them, such as '/health'."
                )
        self.exempt_paths = tuple(path.rstrip("/") or "/" for path in exempt_paths)
        self._limiter = Limiter(backend) if backend is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count an HTTP request; answer 429 over the rate, else pass it on."""
        if scope["type"] != "http" or self._is_exempt(scope):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope, receive, send)
        key_value = await key_of(self.key, connection)
        usage = await self._limiter_for(scope).hit(self.bucket, key_value, self.rate)
        record_usage(scope, usage)
        if not usage.allowed:
            refusal = RateLimited(usage, self.rate)
            response = error_response(
                Headers(scope=scope), 429, refusal.title, refusal.detail, refusal.headers
            )
            secure_refusal(response, scope)
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = _with_rate_limit_headers(message, scope)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _limiter_for(self, scope: Scope) -> Limiter:
        if self._limiter is not None:
            return self._limiter
        app: Any = scope.get("app")
        if app is not None and hasattr(app, "extensions") and hasattr(app, "state"):
            return limiter_of(app)
        # Around an ASGI app that is not a carboy app: counts of its own.
        self._limiter = Limiter(MemoryBackend())
        return self._limiter

    def _is_exempt(self, scope: Scope) -> bool:
        if not self.exempt_paths:
            return False
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        return any(
            exempt == "/" or path == exempt or path.startswith(exempt + "/")
            for exempt in self.exempt_paths
        )


def _with_rate_limit_headers(message: Message, scope: Scope) -> Message:
    headers: list[tuple[bytes, bytes]] = list(message.get("headers", ()))
    if any(name.lower() == b"ratelimit-limit" for name, _ in headers):
        # The app added them already, from every limit this request met.
        return message
    usage = tightest(scope[USAGES])
    headers.extend(
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in usage.headers().items()
    )
    return {**message, "headers": headers}
