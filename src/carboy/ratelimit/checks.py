"""The rate limit battery's startup checks: ``ratelimit.E001`` and on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from carboy.checks import CheckMessage
from carboy.exceptions import ImproperlyConfigured
from carboy.ratelimit.backends import MemoryBackend

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.ratelimit.extension import RateLimits

__all__ = ["CHECK_IDS", "register_checks"]

CHECK_IDS: dict[str, str] = {
    "ratelimit.E001": (
        "The rate limits' backend cannot be made from ``ratelimit_url``: the URL is not one "
        "carboy knows, or the Redis client is not installed (the message says which). Fix "
        "``CARBOY_RATELIMIT_URL``, or ``pip install 'carboy[redis]'``."
    ),
    "ratelimit.W001": (
        "In a deployment, rate limits are counted in each process's memory, so a site served "
        "by several workers allows each client the limit once per worker. Count in Redis: set "
        "``CARBOY_RATELIMIT_URL=redis://host:6379/0``."
    ),
}
"""What each check id of the rate limit battery means and how to fix it."""


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
