"""``RateLimits``: everything the rate limit battery adds to an app, in one place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from carboy.exceptions import ImproperlyConfigured
from carboy.ratelimit.backends import Backend, MemoryBackend, backend_from_url
from carboy.ratelimit.limiter import Limiter, add_rate_limit_headers

if TYPE_CHECKING:
    from carboy.app import Carboy

__all__ = ["RateLimits"]


class RateLimits:
    """The rate limit battery: where counts live, and the headers that report them.

    Limits work without it, counted in memory (see ``limiter_of``); install
    it to count in Redis across processes, to put the ``RateLimit-*`` headers
    on allowed responses too (not only on 429s), and to have the backend
    checked at startup and closed at shutdown.

    Args:
        backend: Where to count. ``None``: the ``ratelimit_url`` setting
            (``CARBOY_RATELIMIT_URL``: ``memory://`` or
            ``redis://host:6379/0``), else this process's memory.

    Example::

        app = Carboy(extensions=[RateLimits()])

        @app.post("/contact")
        @limit("3/hour")
        async def contact(message: ContactIn) -> None: ...
    """

    name = "ratelimit"
    requires: Sequence[str] = ()

    def __init__(self, backend: Backend | None = None) -> None:
        if backend is not None and not isinstance(backend, Backend):
            raise ImproperlyConfigured(
                f"RateLimits(backend={backend!r}) is not a rate limit backend: it needs async "
                "hit(), reset() and close() methods. Give MemoryBackend(), RedisBackend(url), "
                "or leave it out to use the setting CARBOY_RATELIMIT_URL."
            )
        self._backend = backend
        self._limiter: Limiter | None = None
        self._app: Carboy | None = None

    def init_app(self, app: Carboy) -> None:
        """Report limits on every response, check the backend, and close it at shutdown."""
        from carboy.ratelimit.checks import register_checks

        self._app = app
        app.after_request(add_rate_limit_headers)
        app.on_shutdown(self.close)
        register_checks(app, self)

    @property
    def limiter(self) -> Limiter:
        """The app's limiter, made on first use.

        Raises:
            ImproperlyConfigured: when the ``ratelimit_url`` setting names no
                backend, or the Redis one cannot be made.
        """
        if self._limiter is None:
            self._limiter = Limiter(self._resolve())
        return self._limiter

    @property
    def backend(self) -> Backend:
        """Where the counts live."""
        return self.limiter.backend

    def _resolve(self) -> Backend:
        if self._backend is not None:
            return self._backend
        settings = self._app.settings if self._app is not None else None
        if settings is None or settings.ratelimit_url is None:
            return MemoryBackend()
        return backend_from_url(
            settings.ratelimit_url.get_secret_value(), prefix=settings.ratelimit_key_prefix
        )

    async def close(self) -> None:
        """Close the backend's connections; run at the app's shutdown."""
        if self._limiter is not None:
            await self._limiter.close()
