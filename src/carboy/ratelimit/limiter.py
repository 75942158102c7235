"""Limits on routes and in code: ``limit()``, ``hit()``, and the ``Limiter`` behind them.

::

    @app.post("/comments")
    @limit("5/minute")                       # per client address, for this route
    async def comment(form: CommentIn) -> None: ...

    @app.get("/export")
    @limit("10/hour", key=by_user)           # per signed-in user
    async def export() -> FileResponse: ...

    api = Router(prefix="/api", dependencies=[Depends(limit("100/minute", scope="api"))])

    usage = await hit(request, "auth.login", "5/minute", key_value=f"{ip}:{email}")

A request over the limit gets 429, as problem+json or an HTML page,
with ``Retry-After`` and the ``RateLimit-*`` headers (see ``Usage.headers``).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from carboy.dependencies import Depends, add_dependency
from carboy.exceptions import HTTPException
from carboy.ratelimit.backends import Backend, MemoryBackend, Usage
from carboy.ratelimit.keys import KeyFunction, by_ip, key_of, storage_key
from carboy.ratelimit.rates import Rate, parse_rate
from carboy.requests import HTTPConnection

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.ratelimit.extension import RateLimits
    from carboy.responses import Response

__all__ = [
    "Limit",
    "Limiter",
    "RateLimited",
    "add_rate_limit_headers",
    "forget_counts",
    "hit",
    "limit",
    "limiter_of",
    "record_usage",
    "tightest",
]

F = TypeVar("F", bound=Callable[..., Any])

USAGES = "carboy.ratelimit"
"""The scope key under which a request's usages are kept, for the response's headers."""

_STATE_NAME = "carboy_ratelimit"


class RateLimited(HTTPException):
    """429: the client made more requests than the rate allows.

    Args:
        usage: The usage of the hit that went over the limit.
        rate: The rate that was exceeded.
    """

    def __init__(self, usage: Usage, rate: Rate) -> None:
        self.usage = usage
        self.rate = rate
        seconds = usage.retry_after
        wait = "1 second" if seconds == 1 else f"{seconds} seconds"
        headers = {"Retry-After": str(seconds), **usage.headers()}
        super().__init__(
            429,
            f"Too many requests: the limit here is {rate.describe()}. Try again in {wait}.",
            headers=headers,
        )


class Limiter:
    """Count hits against rates in a backend; one per app.

    Args:
        backend: Where the counts live.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def hit(self, scope: str, key_value: str, rate: str | Rate) -> Usage:
        """Count one hit of ``key_value`` in ``scope`` and return its usage; never raise 429.

        Args:
            scope: The name the count belongs to, such as ``"auth.login"``.
            key_value: Whom to count, such as the client's address.
            rate: The rate, as ``"5/minute"`` or a ``Rate``.
        """
        parsed = parse_rate(rate)
        key = storage_key(scope, parsed, key_value)
        return await self.backend.hit(key, parsed.limit, parsed.window)

    async def reset(self, scope: str, key_value: str, rate: str | Rate) -> None:
        """Forget ``key_value``'s count in ``scope`` at ``rate``, such as after a good login."""
        parsed = parse_rate(rate)
        await self.backend.reset(storage_key(scope, parsed, key_value))

    async def close(self) -> None:
        """Close the backend."""
        await self.backend.close()


def limiter_of(app: Carboy) -> Limiter:
    """Return the app's limiter: the ``RateLimits`` battery's, or a default in memory.

    Without the battery, a limiter in this process's memory is made on first
    use and kept on ``app.state``, so that other batteries (auth's login
    throttle) work with no setup. The ``ratelimit_url`` setting is read by
    the battery only: add ``RateLimits()`` to share counts through Redis.
    """
    extension = app.extensions.get("ratelimit")
    if extension is not None:
        return cast("RateLimits", extension).limiter
    state = app.state
    if _STATE_NAME not in state:
        setattr(state, _STATE_NAME, Limiter(MemoryBackend()))
    limiter: Limiter = getattr(state, _STATE_NAME)
    return limiter


def forget_counts(app: Carboy) -> None:
    """Forget the counts the app's limiter keeps in memory, so that a test starts afresh.

    carboy's pytest plugin calls it before each test that uses ``client`` or
    ``async_client``: without it, one app serving a whole test session would
    carry counts from test to test, and the twenty-first sign-in of the
    session would be refused. Counts in Redis are left alone: a test that
    shares them through ``ratelimit_url`` owns that store.
    """
    extension = app.extensions.get("ratelimit")
    if extension is not None:
        limiter = cast("RateLimits", extension)._limiter
    else:
        limiter = getattr(app.state, _STATE_NAME, None)
    if limiter is not None and isinstance(limiter.backend, MemoryBackend):
        limiter.backend.clear()


async def hit(
    connection: HTTPConnection, scope: str, rate: str | Rate, key_value: str | None = None
) -> Usage:
    """Count one hit in ``scope`` for this request, and end it with 429 when over ``rate``.

    For throttling in code, where a decorator cannot say what to count: a
    login form counts attempts per address and account.

    Args:
        connection: The request.
        scope: The name of the count, such as ``"auth.login"``; requests in
            different scopes count apart.
        rate: The rate, as ``"5/minute"`` or a ``Rate``.
        key_value: Whom to count; the client's IP address when ``None``.
            Values that are long or hold unusual characters (an e-mail
            address) are stored hashed.

    Returns:
        The usage, when the hit is within the rate.

    Raises:
        RateLimited: when the hit is over the rate; it becomes a 429 response.

    Example::

        await hit(request, "auth.login", "5/minute", f"{by_ip(request)}:{email.lower()}")
    """
    parsed = parse_rate(rate)
    if key_value is None:
        key_value = by_ip(connection)
    usage = await limiter_of(connection.app).hit(scope, key_value, parsed)
    record_usage(connection.scope, usage)
    if not usage.allowed:
        raise RateLimited(usage, parsed)
    return usage


class Limit:
    """A rate limit on handlers: a decorator, and a dependency with ``Depends()``.

    Made by ``limit()``; see there.
    """

    def __init__(
        self, rate: str | Rate, key: KeyFunction = by_ip, scope: str | None = None
    ) -> None:
        self.rate = parse_rate(rate)
        self.key = key
        self.scope = scope

        async def check_route(connection: HTTPConnection) -> None:
            await self.check(connection, self.scope or _route_name(connection))

        check_route.__name__ = check_route.__qualname__ = f"limit({self.rate.text!r})"
        self.__carboy_dependency__ = check_route

    def __call__(self, handler: F) -> F:
        """Limit ``handler``; put this decorator below the route decorator."""
        scope = self.scope or _qualified_name(handler)

        async def check_handler(connection: HTTPConnection) -> None:
            await self.check(connection, scope)

        check_handler.__name__ = check_handler.__qualname__ = f"limit({self.rate.text!r})"
        return add_dependency(handler, Depends(check_handler))

    async def check(self, connection: HTTPConnection, scope: str) -> Usage:
        """Count this request in ``scope``; raise ``RateLimited`` when over the rate."""
        key_value = await key_of(self.key, connection)
        return await hit(connection, scope, self.rate, key_value)

    def __repr__(self) -> str:
        scope = f", scope={self.scope!r}" if self.scope else ""
        return f"limit({self.rate.text!r}{scope})"


def limit(rate: str | Rate, key: KeyFunction = by_ip, scope: str | None = None) -> Limit:
    """Limit how often a handler runs: per client address by default.

    As a decorator, below the route decorator, or as a dependency, on a
    route or a router: ``Depends(limit("100/minute"))``.

    Args:
        rate: Such as ``"5/minute"``, ``"100/hour"`` or ``"5/10 minutes"``;
            read now, so a wrong one stops the app at import.
        key: Whom to count: ``by_ip`` (the default), ``by_user``, or any
            function of the connection that returns a string.
        scope: The name of the count. By default each handler counts
            apart, named by its module and qualified name, even under one
            router's dependency; routes that give the same ``scope`` share
            one count. Handlers made by one factory function called twice
            have one name, and share a count unless given scopes.

    Raises:
        ImproperlyConfigured: when ``rate`` cannot be read.

    Example::

        @app.post("/login")
        @limit("5/minute")
        async def login(form: LoginForm) -> Response: ...
    """
    return Limit(rate, key, scope)


def record_usage(scope: MutableMapping[str, Any], usage: Usage) -> None:
    """Keep ``usage`` with the request, for ``add_rate_limit_headers`` to report."""
    usages: list[Usage] | None = scope.get(USAGES)
    if usages is None:
        scope[USAGES] = [usage]
    else:
        usages.append(usage)


def tightest(usages: list[Usage]) -> Usage:
    """Return the usage closest to its limit; of those, the one that ends last.

    When several limits apply to one response, the headers report the one
    nearest to running out, as the draft advises.
    """
    return min(usages, key=lambda usage: (usage.remaining, -usage.reset_after))


async def add_rate_limit_headers(request: HTTPConnection, response: Response) -> None:
    """Add the ``RateLimit-*`` headers of the request's tightest limit to ``response``.

    The ``RateLimits`` battery runs this after every handler; it does
    nothing for requests that no limit counted.
    """
    usages: list[Usage] | None = request.scope.get(USAGES)
    if usages:
        headers = response.headers
        for name, value in tightest(usages).headers().items():
            headers[name] = value


def _route_name(connection: HTTPConnection) -> str:
    route = connection.scope.get("route")
    endpoint = getattr(route, "endpoint", None)
    if endpoint is None:
        # Outside a route (app.resolve()): one count for all such calls.
        return "(outside a route)"
    return _qualified_name(endpoint)


def _qualified_name(function: Callable[..., Any]) -> str:
    module = getattr(function, "__module__", None) or ""
    name = getattr(function, "__qualname__", None) or type(function).__qualname__
    return f"{module}.{name}" if module else name
