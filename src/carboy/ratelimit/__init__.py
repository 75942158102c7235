"""carboy's rate limit battery: how often a client may do something.

::

    from carboy import Carboy
    from carboy.ratelimit import RateLimits, by_user, limit

    app = Carboy(extensions=[RateLimits()])

    @app.post("/comments")
    @limit("5/minute")                          # per client address
    async def comment(form: CommentIn) -> None: ...

    @app.get("/export")
    @limit("10/hour", key=by_user)              # per signed-in user
    async def export() -> FileResponse: ...

Counts live in memory by default, one set per process; set
``CARBOY_RATELIMIT_URL=redis://host:6379/0`` to share them between processes
(``pip install 'carboy[redis]'``). A request over its limit gets 429 with
``Retry-After`` and the ``RateLimit-Limit``, ``RateLimit-Remaining``,
``RateLimit-Reset`` and ``RateLimit-Policy`` headers of
draft-ietf-httpapi-ratelimit-headers-06. The counting algorithm, a fixed
window from each key's first hit, is explained in ``carboy.ratelimit.backends``.
"""

from __future__ import annotations

from carboy.ratelimit.backends import Backend, MemoryBackend, RedisBackend, Usage
from carboy.ratelimit.extension import RateLimits
from carboy.ratelimit.keys import KeyFunction, by_ip, by_user
from carboy.ratelimit.limiter import (
    Limit,
    Limiter,
    RateLimited,
    forget_counts,
    hit,
    limit,
    limiter_of,
)
from carboy.ratelimit.middleware import RateLimitMiddleware
from carboy.ratelimit.rates import Rate, parse_rate

__all__ = [
    "Backend",
    "KeyFunction",
    "Limit",
    "Limiter",
    "MemoryBackend",
    "Rate",
    "RateLimitMiddleware",
    "RateLimited",
    "RateLimits",
    "RedisBackend",
    "Usage",
    "by_ip",
    "by_user",
    "forget_counts",
    "hit",
    "limit",
    "limiter_of",
    "parse_rate",
]
