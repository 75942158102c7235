"""Where rate limit counters live: this process's memory, or Redis.

Both backends count with a **fixed window that starts at a key's first
hit**: the first request makes a counter that expires ``window`` seconds
later, each request adds one, and a request is allowed while the count is at
most the limit. This was chosen over a sliding-window counter because

- one counter per key is one atomic Redis script, with Redis's own expiry as
  the only clock, so processes on machines whose clocks disagree still agree
  on every count;
- the numbers the ``RateLimit-*`` headers and ``Retry-After`` report are
  exact, not estimates: the window really ends when the header says.

The price is the fixed window's known burst: a client may spend a whole
window's quota at its end and the next one's at once, twice the limit in a
short time. For throttling abuse and guessing that is acceptable; requests
over the limit are counted too, so hammering never opens the gate early.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from carboy.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    import redis.asyncio

__all__ = [
    "DEFAULT_PREFIX",
    "Backend",
    "MemoryBackend",
    "RedisBackend",
    "Usage",
    "backend_from_url",
]

DEFAULT_PREFIX = "carboy:ratelimit:"
"""What the Redis backend puts before every key, to share a Redis with other data."""


@dataclass(frozen=True)
class Usage:
    """How much of a limit a key has used, after one more hit.

    Attributes:
        count: Hits in the current window, this one included.
        limit: Hits the window allows.
        window: The window's length in seconds.
        reset_after: Seconds until the window ends and the count starts again.
    """

    count: int
    limit: int
    window: int
    reset_after: float

    @property
    def allowed(self) -> bool:
        """Whether this hit is within the limit."""
        return self.count <= self.limit

    @property
    def remaining(self) -> int:
        """Hits still allowed in this window."""
        return max(self.limit - self.count, 0)

    @property
    def retry_after(self) -> int:
        """Whole seconds until the window ends, at least 1: for ``Retry-After``."""
        return max(math.ceil(self.reset_after), 1)

    def headers(self) -> dict[str, str]:
        """The ``RateLimit-*`` fields of draft-ietf-httpapi-ratelimit-headers-06.

        ``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset``
        (whole seconds until the window ends) and ``RateLimit-Policy``
        (``5;w=60``: 5 requests in windows of 60 seconds).
        """
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.retry_after),
            "RateLimit-Policy": f"{self.limit};w={self.window}",
        }


@runtime_checkable
class Backend(Protocol):
    """What stores rate limit counters; see the module docstring for the algorithm."""

    async def hit(self, key: str, limit: int, window_seconds: int) -> Usage:
        """Count one hit of ``key`` and return its usage of ``limit`` per window."""
        ...

    async def reset(self, key: str) -> None:
        """Forget ``key``'s count, as if its window had ended."""
        ...

    async def close(self) -> None:
        """Release connections; the app calls it at shutdown."""
        ...


class MemoryBackend:
    """Counters in this process's memory: the default, for one process.

    Each worker process counts on its own, so with four workers a client may
    make four times the limit. Use ``RedisBackend`` to share counts.

    Memory stays bounded: a counter is dropped once its window has ended,
    and past ``max_keys`` live counters, the ones closest to their end are
    dropped first (their clients start afresh).

    Args:
        clock: Seconds from any fixed point, never going back; for tests.
        max_keys: The most counters kept at once.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be 1 or more, not {max_keys}.")
        self.clock = clock
        self.max_keys = max_keys
        # key -> [count, end of window]; a list, changed in place on each hit.
        self._counters: dict[str, list[float]] = {}
        # (end of window, key) of every window started, soonest first.
        self._ends: list[tuple[float, str]] = []
        # Sync handlers' threads and several event loops may share one backend.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Return the number of counters kept."""
        return len(self._counters)

    async def hit(self, key: str, limit: int, window_seconds: int) -> Usage:
        """Count one hit of ``key``; see ``Backend.hit``."""
        with self._lock:
            now = self.clock()
            self._prune(now)
            counter = self._counters.get(key)
            if counter is None:
                if len(self._counters) >= self.max_keys:
                    self._evict()
                end = now + window_seconds
                counter = self._counters[key] = [0, end]
                heapq.heappush(self._ends, (end, key))
            counter[0] += 1
            # min(): now + window - now may exceed the window by a rounding error.
            reset_after = min(counter[1] - now, window_seconds)
            return Usage(int(counter[0]), limit, window_seconds, reset_after)

    async def reset(self, key: str) -> None:
        """Forget ``key``'s count."""
        with self._lock:
            self._counters.pop(key, None)

    def clear(self) -> None:
        """Forget every count, as a new process would start; for tests."""
        with self._lock:
            self._counters.clear()
            self._ends.clear()

    async def close(self) -> None:
        """Do nothing: memory has no connection to release."""

    def _prune(self, now: float) -> None:
        ends, counters = self._ends, self._counters
        while ends and ends[0][0] <= now:
            end, key = heapq.heappop(ends)
            counter = counters.get(key)
            # A key reset and hit again since has a later end: keep it.
            if counter is not None and counter[1] <= end:
                del counters[key]

    def _evict(self) -> None:
        ends, counters = self._ends, self._counters
        while ends and len(counters) >= self.max_keys:
            end, key = heapq.heappop(ends)
            counter = counters.get(key)
            if counter is not None and counter[1] == end:
                del counters[key]


# INCR makes the key at 1 with no expiry; the first hit of a window (or a key
# left without an expiry) gets one. PTTL is read in the same script, so the
# reset time is the one this very count belongs to.
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  ttl = tonumber(ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return {count, ttl}
"""


class RedisBackend:
    """Counters in Redis, shared by every process and machine that uses it.

    Each hit is one round trip running one Lua script, atomic in Redis. Keys
    are ``prefix`` then the limiter's key, and expire with their window.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://``
            for TLS, or ``unix:///path/to/socket``.
        prefix: Put before every key.
        timeout: Seconds to wait to connect, and for each answer.
        source: Where the URL came from, named in error messages instead of
            the URL, which may hold a password.

    Raises:
        ImproperlyConfigured: when the ``redis`` package is not installed, or
            redis-py cannot read the URL.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 5.0,
        source: str = "the url given to RedisBackend()",
    ) -> None:
        try:
            import redis.asyncio
        except ImportError:
            raise ImproperlyConfigured(
                f"The Redis rate limit backend ({source}) needs the redis package, which is not "
                "installed. Install it: pip install 'carboy[redis]'."
            ) from None
        try:
            # Options in the URL's query string win over these defaults.
            self._pool = redis.asyncio.ConnectionPool.from_url(
                url, socket_connect_timeout=timeout, socket_timeout=timeout
            )
        except ValueError:
            # redis-py's reason may quote part of the URL, such as a password
            # read as a port: name the source instead.
            raise ImproperlyConfigured(
                f"The Redis URL ({source}) cannot be read. Give one such as "
                "redis://localhost:6379/0, with rediss:// for TLS."
            ) from None
        self.prefix = prefix
        self._client: redis.asyncio.Redis = redis.asyncio.Redis(connection_pool=self._pool)
        self._script = self._client.register_script(_HIT_SCRIPT)

    async def hit(self, key: str, limit: int, window_seconds: int) -> Usage:
        """Count one hit of ``key``; see ``Backend.hit``."""
        count, ttl = await self._script(keys=[self.prefix + key], args=[window_seconds * 1000])
        return Usage(int(count), limit, window_seconds, int(ttl) / 1000)

    async def reset(self, key: str) -> None:
        """Delete ``key``'s counter."""
        await self._client.delete(self.prefix + key)

    async def close(self) -> None:
        """Close the pooled connections; a later hit opens new ones."""
        await self._client.aclose()
        await self._pool.disconnect()


def backend_from_url(
    url: str, source: str = "the setting CARBOY_RATELIMIT_URL", prefix: str = DEFAULT_PREFIX
) -> Backend:
    """Make the backend a URL names: ``memory://`` or ``redis://host:6379/0``.

    Args:
        url: The backend's URL.
        prefix: What the Redis backend's keys start with.
        source: Where the URL came from, for error messages; the URL itself
            is never shown, as it may hold a password.

    Raises:
        ImproperlyConfigured: when the URL names no backend carboy has, or
            the Redis one cannot be made.
    """
    scheme = _scheme(url)
    if scheme == "memory":
        return MemoryBackend()
    if scheme in ("redis", "rediss", "unix"):
        return RedisBackend(url, prefix=prefix, source=source)
    fix = (
        "Set it to memory:// (counts in each process) or redis://host:6379/0 (counts shared "
        "by every process)."
    )
    if scheme is None:
        raise ImproperlyConfigured(f"The rate limit URL ({source}) is not a URL. {fix}")
    raise ImproperlyConfigured(
        f"The rate limit URL ({source}) has the scheme {scheme!r}, which names no rate limit "
        f"backend. {fix}"
    )


def _scheme(url: str) -> str | None:
    scheme, separator, _ = url.partition("://")
    if not separator or not scheme.isascii() or not scheme.isalpha() or len(scheme) > 20:
        return None
    return scheme.lower()
