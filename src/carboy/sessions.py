"""Sessions: ``request.session``, kept in a signed cookie or a server-side store.

By default the session's data lives in a cookie signed with the secret key
(and verified with former keys during rotation): nothing to set up, nothing
stored on the server. The client can read the data, never change it; keep
secrets out of it. With ``Carboy(sessions=ServerSideSessions(store))`` the
cookie holds only a random session id, and the data lives in the store: the
in-memory one here, a database or Redis one from the batteries.

A session is loaded only for a request that carries its cookie, and saved
only when changed, so a request that never touches it costs nothing.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from carboy.exceptions import ImproperlyConfigured
from carboy.signing import BadSignature, Signer

if TYPE_CHECKING:
    from carboy.config import Settings
    from carboy.requests import HTTPConnection
    from carboy.responses import Response

__all__ = [
    "CookieSessions",
    "MemorySessionStore",
    "ServerSideSessions",
    "Session",
    "SessionBackend",
    "SessionStore",
    "flash",
    "get_flashed_messages",
]

_ID = "_id"
_FLASHES = "_flashes"


class Session(MutableMapping[str, Any]):
    """The data of one client's session: a dict of JSON-able values.

    ``rotate()`` gives it a new id, keeping the data (call it at login, so a
    session id planted before login is worthless after); ``clear()`` empties
    it (logout).
    """

    def __init__(self, data: dict[str, Any] | None = None, *, key: str | None = None) -> None:
        self._data = dict(data or {})
        self.key = key
        """The server-side store's key of this session, ``None`` for a new one."""
        self.modified = False
        self.previous_key: str | None = None
        if _ID not in self._data:
            self._data[_ID] = secrets.token_urlsafe(16)
            self.modified = bool(data)

    @property
    def id(self) -> str:
        """A random id, new for every session and on every ``rotate()``."""
        return str(self._data[_ID])

    def rotate(self) -> None:
        """Give the session a new id, keeping its data."""
        self._data[_ID] = secrets.token_urlsafe(16)
        if self.key is not None:
            self.previous_key, self.key = self.key, None
        self.modified = True

    def clear(self) -> None:
        """Empty the session and give it a new id."""
        self._data = {_ID: secrets.token_urlsafe(16)}
        if self.key is not None:
            self.previous_key, self.key = self.key, None
        self.modified = True

    @property
    def is_empty(self) -> bool:
        """Whether it holds nothing but its id."""
        return len(self._data) <= 1

    def to_dict(self) -> dict[str, Any]:
        """Return the data, id included, as stored."""
        return dict(self._data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value
        self.modified = True

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self.modified = True

    def __iter__(self) -> Iterator[str]:
        return (key for key in self._data if key != _ID)

    def __len__(self) -> int:
        return len(self._data) - 1

    def __repr__(self) -> str:
        return f"Session({ {key: self._data[key] for key in self}!r})"


class SessionBackend(Protocol):
    """Where sessions live: load one from a request, save one onto a response."""

    async def load(self, connection: HTTPConnection, settings: Settings) -> Session:
        """Return the request's session, or a new empty one."""
        ...

    async def save(
        self, session: Session, response: Response, connection: HTTPConnection, settings: Settings
    ) -> None:
        """Store a changed session and set (or delete) its cookie on ``response``."""
        ...


def _cookie_options(connection: HTTPConnection, settings: Settings) -> dict[str, Any]:
    return {
        "path": "/",
        "domain": settings.session_cookie_domain,
        "secure": settings.session_cookie_secure,
        "httponly": True,
        "samesite": settings.session_cookie_samesite,
    }


def _signer(settings: Settings, salt: str) -> Signer:
    if settings.secret_key is None:
        raise ImproperlyConfigured(
            "Sessions and CSRF tokens are signed with the secret key, and none is set. "
            "Set CARBOY_SECRET_KEY to a long random value (python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'), or run with CARBOY_DEBUG=1 in development."
        )
    keys = [settings.secret_key, *settings.secret_key_fallbacks]
    return Signer([key.get_secret_value().encode() for key in keys], salt=salt)


class CookieSessions:
    """Sessions kept in a signed cookie (the default)."""

    salt = "carboy.sessions.cookie"

    async def load(self, connection: HTTPConnection, settings: Settings) -> Session:
        """Return the session of the request's cookie; a tampered or expired one is ignored."""
        token = connection.cookies.get(settings.session_cookie_name)
        # Without a secret key nothing can be verified: the cookie is ignored,
        # and saving a session says what to set.
        if token and settings.secret_key is not None:
            try:
                raw = _signer(settings, self.salt).unsign(token, max_age=settings.session_max_age)
                data = orjson.loads(raw)
            except (BadSignature, orjson.JSONDecodeError):
                data = None
            if isinstance(data, dict):
                return Session(data)
        return Session()

    async def save(
        self, session: Session, response: Response, connection: HTTPConnection, settings: Settings
    ) -> None:
        """Set the cookie to the signed data, or delete it when the session is empty."""
        name = settings.session_cookie_name
        options = _cookie_options(connection, settings)
        if session.is_empty:
            if name in connection.cookies:
                response.delete_cookie(name, **options)
            return
        token = _signer(settings, self.salt).sign(orjson.dumps(session.to_dict()))
        if len(token) > 4000:
            raise ImproperlyConfigured(
                f"The session holds {len(token)} bytes once signed; browsers keep at most "
                "about 4096 per cookie. Keep less in the session, or use server-side sessions."
            )
        response.set_cookie(name, token, max_age=settings.session_max_age, **options)


class SessionStore(Protocol):
    """Server-side storage of session data by key: memory here, database or Redis in batteries."""

    async def get(self, key: str) -> dict[str, Any] | None:
        """Return the data stored under ``key``, or ``None`` if absent or expired."""
        ...

    async def set(self, key: str, data: dict[str, Any], max_age: int) -> None:
        """Store ``data`` under ``key`` for ``max_age`` seconds."""
        ...

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        ...


class MemorySessionStore:
    """Sessions in this process's memory: for development and tests, one process only."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, dict[str, Any]]] = {}

    async def get(self, key: str) -> dict[str, Any] | None:
        """Return the data under ``key`` unless it expired."""
        item = self._items.get(key)
        if item is None:
            return None
        expires, data = item
        if expires < time.monotonic():
            del self._items[key]
            return None
        return dict(data)

    async def set(self, key: str, data: dict[str, Any], max_age: int) -> None:
        """Keep a copy of ``data`` for ``max_age`` seconds."""
        self._items[key] = (time.monotonic() + max_age, dict(data))

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        self._items.pop(key, None)


class ServerSideSessions:
    """Sessions in a ``SessionStore``; the cookie holds only a signed random key.

    Args:
        store: Where the data lives.
    """

    salt = "carboy.sessions.key"

    def __init__(self, store: SessionStore) -> None:
        self.store = store

    async def load(self, connection: HTTPConnection, settings: Settings) -> Session:
        """Return the stored session of the cookie's key, or a new one."""
        token = connection.cookies.get(settings.session_cookie_name)
        if token and settings.secret_key is not None:
            try:
                key = _signer(settings, self.salt).unsign(token).decode()
            except (BadSignature, UnicodeDecodeError):
                key = None
            if key is not None:
                data = await self.store.get(key)
                if data is not None:
                    return Session(data, key=key)
        return Session()

    async def save(
        self, session: Session, response: Response, connection: HTTPConnection, settings: Settings
    ) -> None:
        """Store the data under a (new, after rotation) key and set the cookie."""
        name = settings.session_cookie_name
        options = _cookie_options(connection, settings)
        if session.previous_key is not None:
            await self.store.delete(session.previous_key)
        if session.is_empty:
            if session.key is not None:
                await self.store.delete(session.key)
            if name in connection.cookies:
                response.delete_cookie(name, **options)
            return
        if session.key is None:
            session.key = secrets.token_urlsafe(32)
        await self.store.set(session.key, session.to_dict(), settings.session_max_age)
        token = _signer(settings, self.salt).sign(session.key.encode())
        response.set_cookie(name, token, max_age=settings.session_max_age, **options)


def flash(connection: HTTPConnection, message: str, category: str = "info") -> None:
    """Keep a message for the next page the client sees: "Saved.", "Wrong password."."""
    session = connection.session
    messages = list(session.get(_FLASHES, []))
    messages.append([category, message])
    session[_FLASHES] = messages


def get_flashed_messages(
    connection: HTTPConnection, with_categories: bool = False
) -> list[str] | list[tuple[str, str]]:
    """Return and forget the messages flashed so far."""
    session = connection.session
    if _FLASHES not in session:
        return []
    messages = session.pop(_FLASHES)
    if with_categories:
        return [(str(category), str(text)) for category, text in messages]
    return [str(text) for _, text in messages]
