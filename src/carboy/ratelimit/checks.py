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
        "The rate limits' backend cannot be made from ``ratelimit_url``: it is not a URL, its "
        "scheme names no backend (``memory``, ``redis``, ``rediss`` or ``unix``), or the Redis "
        "backend cannot be made, as when the ``redis`` package is missing (the message says "
        "which). Fix ``CARBOY_RATELIMIT_URL``, or run ``pip install 'carboy[redis]'``."
    ),
    "ratelimit.W001": (
        "In a deployment, rate limits are counted in each process's memory, so a site served "
        "by several workers allows each client the limit once per worker. Count in Redis: set "
        "``CARBOY_RATELIMIT_URL=redis://host:6379/0``, or give ``RateLimits()`` a "
        "``RedisBackend``."
    ),
}
"""What each check id of this module means and how to fix it: the checks reference."""


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
