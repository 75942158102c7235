"""Who sent a request: signing in and out, and finding the user of each request.

A browser is signed in by its session: ``login()`` stores the user's id and a
keyed hash of the user's password hash and ``session_epoch`` in it, under a
new session id. Each request then loads that user, and drops the session when
either has changed since: a password change ends every other session, and
``logout()`` ends every session of the user, so that a copied session cookie
(signed cookies cannot be taken back) is worthless after it. An API client
sends a token instead: ``Authorization: Bearer <token>`` or ``Token <token>``.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import anyio.to_thread
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from carboy.auth.hashers import check_password, make_password, spend_check_time
from carboy.auth.models import AbstractUser, AnonymousUser, APIToken
from carboy.background import tasks_of
from carboy.db.models import utcnow
from carboy.exceptions import ImproperlyConfigured
from carboy.requests import HTTPConnection

if TYPE_CHECKING:
    from carboy.auth.extension import Auth
    from carboy.config import Settings

__all__ = [
    "SESSION_HASH_KEY",
    "SESSION_USER_KEY",
    "authenticate",
    "load_user",
    "login",
    "logout",
    "session_hash",
    "token_digest",
    "update_session_hash",
]

SESSION_USER_KEY = "_auth_user_id"
SESSION_HASH_KEY = "_auth_hash"
TOKEN_SCHEMES = ("bearer", "token")
LAST_USED_PRECISION = timedelta(minutes=1)
"""How stale a token's ``last_used_at`` may be: one write a minute, not one per request."""


def auth_of(connection: HTTPConnection) -> Auth:
    """Return the app's ``Auth`` extension."""
    auth = connection.app.extensions.get("auth")
    if auth is None:
        raise ImproperlyConfigured(
            "This needs the auth battery, which is not installed. "
            "Add Auth() to Carboy(extensions=[...])."
        )
    return cast("Auth", auth)


def normalize_email(email: str) -> str:
    """Return ``email`` trimmed and in lower case, as users' addresses are stored.

    Mail servers may tell ``Ada@`` from ``ada@``, but people do not: one
    spelling per address keeps two accounts from sharing it, and lets the
    unique index answer sign-ins.
    """
    return email.strip().lower()


async def authenticate(
    connection: HTTPConnection, session: AsyncSession, email: str, password: str
) -> AbstractUser | None:
    """Return the active user with this e-mail address and password, or ``None``.

    A wrong password, an unknown address and an inactive user take the same
    time and give the same answer. A password stored with an older
    algorithm, or older argon2 parameters, is hashed anew.
    """
    user_model = auth_of(connection).user_model
    statement = select(user_model).where(user_model.email == normalize_email(email))
    user = (await session.scalars(statement)).first()
    if user is None:
        await anyio.to_thread.run_sync(spend_check_time, password)
        return None
    result = await anyio.to_thread.run_sync(check_password, password, user.password)
    if not result or not user.is_active:
        return None
    if result.needs_rehash:
        user.password = await anyio.to_thread.run_sync(make_password, password)
    return user


def session_hash(user: AbstractUser, settings: Settings, key: str | None = None) -> str:
    """Return the keyed hash of ``user``'s password hash and session epoch a session holds.

    A new password or a new ``session_epoch`` gives a new hash, which ends
    every session holding the old one.
    """
    secret = key or _secret(settings)
    message = f"carboy.auth.session:{user.id}:{user.password}"
    epoch = user.session_epoch or 0
    if epoch:
        # At epoch 0 the message is the one sessions were signed in with
        # before the epoch existed, so that adding it signed nobody out.
        message += f":epoch={epoch}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _secret(settings: Settings) -> str:
    if settings.secret_key is None:
        raise ImproperlyConfigured(
            "Signing in needs a secret key, and none is set. Set CARBOY_SECRET_KEY to a long "
            "random value (python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    return settings.secret_key.get_secret_value()


def login(connection: HTTPConnection, user: AbstractUser) -> None:
    """Sign ``user`` in: a new session id, the user in the session, ``last_login`` now.

    The new id makes a session id planted before login worthless, and the
    CSRF secret is renewed with it.
    """
    session = connection.session
    signed_in = session.get(SESSION_USER_KEY)
    if signed_in is not None and signed_in != user.id:
        # Another user's data must not leak into this one's session; what the
        # visitor did before signing in (a cart, a message) stays.
        session.clear()
    session.rotate()
    session.pop("_csrf", None)
    session[SESSION_USER_KEY] = user.id
    session[SESSION_HASH_KEY] = session_hash(user, connection.app.settings)
    user.last_login = utcnow()
    connection.scope["user"] = user


async def logout(connection: HTTPConnection, session: AsyncSession) -> None:
    """Sign the user out of every session: this one is emptied, the others end.

    The session gets a new id (a server-side store forgets the old one), and
    the user's ``session_epoch`` moves on in the database, so that no session
    signed in before, this one's copied cookie included, authenticates again:
    logging out in one browser signs the user out in all of them. The
    ``UPDATE`` is made in ``session`` and committed with it; a request's
    ``AsyncSession`` is committed when the handler returns.

    Args:
        connection: The request to sign out.
        session: The database session to write the new epoch in.

    Example::

        @app.post("/bye")
        async def bye(request: Request, session: AsyncSession) -> RedirectResponse:
            await logout(request, session)
            return RedirectResponse("/", 303)
    """
    user = connection.scope.get("user")
    signed_in = connection.session.get(SESSION_USER_KEY)
    connection.session.clear()
    connection.scope["user"] = AnonymousUser()
    if isinstance(user, AbstractUser) and signed_in == user.id:
        # One atomic increment: two logouts at once both end what came before,
        # and neither writes back an epoch the other has passed.
        model = type(user)
        await session.execute(
            update(model)
            .where(model.id == user.id)
            .values(session_epoch=model.session_epoch + 1)
            .execution_options(synchronize_session=False)
        )
        # Read back, not computed from the loaded value, which may be stale;
        # a login later in this request then signs in under the new epoch.
        await session.refresh(user, ["session_epoch"])


def update_session_hash(connection: HTTPConnection, user: AbstractUser) -> None:
    """Keep this session signed in after ``user``'s password changed; others end.

    Call it after ``user.set_password()``, which ends every session.
    """
    connection.session[SESSION_HASH_KEY] = session_hash(user, connection.app.settings)


def token_digest(token: str) -> str:
    """Return the SHA-256 digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


async def load_user(connection: HTTPConnection, session: AsyncSession) -> Any:
    """Find the user of ``connection`` from its token or its session; anonymous otherwise."""
    user: Any = None
    authorization = connection.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() in TOKEN_SCHEMES and token.strip():
            user = await _user_of_token(connection, session, token.strip())
    elif "carboy.session" in connection.scope:
        user = await _user_of_session(connection, session)
    if authorization is not None or user is not None:
        # The answer depends on who asks: no shared cache may keep it.
        connection.mark_private()
    user = user or AnonymousUser()
    connection.scope["user"] = user
    return user


async def _user_of_token(
    connection: HTTPConnection, session: AsyncSession, token: str
) -> AbstractUser | None:
    if len(token) > 200:
        return None
    user_model = auth_of(connection).user_model
    statement = (
        select(APIToken, user_model)
        .join(user_model, user_model.id == APIToken.user_id)
        .where(APIToken.digest == token_digest(token))
    )
    row = (await session.execute(statement)).first()
    if row is None:
        return None
    api_token, user = row
    if not user.is_active:
        return None
    now = utcnow()
    if api_token.last_used_at is None or now - api_token.last_used_at >= LAST_USED_PRECISION:
        bind = session.bind
        if isinstance(bind, AsyncEngine):
            # Written after the response, in a transaction of its own: written
            # by this session, it would hold a write lock (all of SQLite, or the
            # row) through the handler, whose own session (a sync handler's)
            # may need it, and wait for this one's commit after the handler.
            set_committed_value(api_token, "last_used_at", now)
            tasks_of(connection.scope).add_task(_record_use, bind, api_token.id, now)
        else:
            api_token.last_used_at = now
    return user


async def _record_use(engine: AsyncEngine, token_id: int, when: datetime) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            update(APIToken).where(APIToken.id == token_id).values(last_used_at=when)
        )


async def _user_of_session(
    connection: HTTPConnection, session: AsyncSession
) -> AbstractUser | None:
    data = connection.session
    user_id = data.get(SESSION_USER_KEY)
    if not isinstance(user_id, int):
        return None
    user = await session.get(auth_of(connection).user_model, user_id)
    stored = data.get(SESSION_HASH_KEY)
    if user is None or not user.is_active or not isinstance(stored, str):
        data.clear()
        return None
    settings = connection.app.settings
    keys = [None, *(key.get_secret_value() for key in settings.secret_key_fallbacks)]
    if not any(hmac.compare_digest(stored, session_hash(user, settings, key)) for key in keys):
        # The password changed since this session signed in: it ends here.
        data.clear()
        return None
    return user
