"""The rate limit battery's startup checks: ``ratelimit.E001`` and on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from carboy.checks import CheckMessage
from carboy.exceptions import ImproperlyConfigured
from carboy.ratelimit.backends import MemoryBackend

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.ratelimit.extension import RateLimits

__all__ = ["register_checks"]


def register_checks(app: Carboy, extension: RateLimits) -> None:
    """Register the rate limit battery's checks with ``app``."""

    def check_backend(_app: Carboy) -> list[CheckMessage]:
        try:
            extension.limiter  # noqa: B018 - made here, so a bad setting stops startup
        except ImproperlyConfigured as exc:
            return [CheckMessage("ratelimit.E001", "error", str(exc))]
        return []

    def check_deploy(_app: Carboy) -> list[CheckMessage]:
        try:
            backend = extension.backend
        except ImproperlyConfigured:
            return []  # ratelimit.E001 says why
        if not isinstance(backend, MemoryBackend):
            return []
        return [
            CheckMessage(
                "ratelimit.W001",
                "warning",
                "Rate limits are counted in this process's memory: limits are per process, so "
                "a site served by several workers allows each client the limit once per worker.",
                "Use Redis when serving with several workers: set "
                "CARBOY_RATELIMIT_URL=redis://host:6379/0.",
            )
        ]

    app.register_check(check_backend)
    app.register_check(check_deploy, deploy=True)
