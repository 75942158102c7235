"""Keys: whom a limit counts, such as the client's address or the signed-in user.

A key function takes the connection (``Request`` or ``WebSocket``) and
returns a string; it may be ``def`` or ``async def``. Requests with the same
key share one count::

    def by_api_key(connection: HTTPConnection) -> str:
        return connection.headers.get("x-api-key", "")

    @app.get("/search")
    @limit("30/minute", key=by_api_key)
    async def search(q: str) -> list[str]: ...

A sync key function runs in the event loop, so it must not block.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from carboy.ratelimit.rates import Rate
    from carboy.requests import HTTPConnection

__all__ = ["KeyFunction", "by_ip", "by_user", "key_of", "storage_key"]

KeyFunction = Callable[["HTTPConnection"], "str | Awaitable[str]"]
"""A function of the connection that returns the key to count under."""

UNKNOWN_CLIENT = "unknown"
"""The key of a client whose address the server does not know (a Unix socket)."""

# Keys kept readable in storage: addresses, ids, short names. Anything else
# (e-mail addresses, header values, very long strings) is stored as its
# SHA-256, so no client can make a key huge, odd, or personal.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.:\-\[\]]{1,64}")


def by_ip(connection: HTTPConnection) -> str:
    """Key by the client's IP address, as the server saw it.

    Behind a reverse proxy that is the proxy's address, and every client
    would share one count, unless the app is told to trust the proxy's
    ``X-Forwarded-For`` (the ``trusted_proxies`` setting), which then sets
    the client address. The header itself is never read here: any client
    could send one and pick its own key.
    """
    client = connection.scope.get("client")
    if not client:
        return UNKNOWN_CLIENT
    return str(client[0])


def by_user(connection: HTTPConnection) -> str:
    """Key by the signed-in user's id (``user:<id>``), else by IP address.

    The user is the one the auth battery sets on the request. In a
    middleware, which runs before the user is loaded, this keys by IP.
    """
    user: Any = connection.scope.get("user")
    if user is not None and getattr(user, "is_authenticated", False):
        user_id = getattr(user, "id", None)
        if user_id is not None:
            return f"user:{user_id}"
    return by_ip(connection)


async def key_of(key: KeyFunction, connection: HTTPConnection) -> str:
    """Return the key ``key`` gives ``connection``, awaiting it when it is async.

    Raises:
        TypeError: when the key function returns something other than a string.
    """
    value = key(connection)
    if inspect.isawaitable(value):
        value = await value
    if not isinstance(value, str):
        name = getattr(key, "__qualname__", repr(key))
        raise TypeError(
            f"The rate limit key function {name} returned {type(value).__name__}, not str. "
            "Return a string, such as the client's address or the user's id."
        )
    return value


def storage_key(bucket: str, rate: Rate, key_value: str) -> str:
    """Return the backend key of ``key_value``'s count in ``bucket`` at ``rate``.

    The rate is part of the key, so two limits on one route (``5/minute``
    and ``100/day``) count apart. Keys that are not short and plain are
    hashed; see ``_PLAIN_KEY``.
    """
    if _PLAIN_KEY.fullmatch(key_value) is None:
        digest = hashlib.sha256(key_value.encode("utf-8", "surrogatepass")).hexdigest()
        key_value = f"sha256-{digest}"
    return f"{bucket}:{rate.limit}/{rate.window}:{key_value}"
