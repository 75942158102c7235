"""Tokens: API tokens a client keeps, and the signed links of e-mails.

API tokens are random, shown once, and stored as a digest. Password-reset
and e-mail-verification links carry a signed value instead, which needs no
table: it names the user, is signed with the secret key, expires, and stops
verifying once used, because it is bound to the password hash and last
login that using it changes.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, overload

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from carboy.auth.authentication import token_digest
from carboy.auth.models import AbstractUser, APIToken
from carboy.signing import BadSignature, Signer

if TYPE_CHECKING:
    from carboy.config import Settings

__all__ = [
    "create_token",
    "link_token_matches",
    "make_link_token",
    "read_link_token",
    "revoke_token",
    "tokens_of",
]

TOKEN_BYTES = 32


@overload
def create_token(
    session: AsyncSession, user: AbstractUser, name: str = ""
) -> Awaitable[tuple[APIToken, str]]: ...
@overload
def create_token(session: Session, user: AbstractUser, name: str = "") -> tuple[APIToken, str]: ...
def create_token(
    session: AsyncSession | Session, user: AbstractUser, name: str = ""
) -> tuple[APIToken, str] | Awaitable[tuple[APIToken, str]]:
    """Make an API token for ``user``; return its row and the token, which is not stored.

    Show the token to the user once: only its digest is kept. With an
    ``AsyncSession``, await the result.
    """
    if isinstance(session, AsyncSession):
        return session.run_sync(_create, user, name)
    return _create(session, user, name)


def _create(session: Session, user: AbstractUser, name: str) -> tuple[APIToken, str]:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = APIToken(user_id=user.id, name=name, digest=token_digest(token), prefix=token[:8])
    session.add(row)
    session.flush()
    return row, token


@overload
def revoke_token(session: AsyncSession, token: APIToken) -> Awaitable[None]: ...
@overload
def revoke_token(session: Session, token: APIToken) -> None: ...
def revoke_token(session: AsyncSession | Session, token: APIToken) -> Awaitable[None] | None:
    """Delete ``token``: it authenticates nobody from the next request on."""
    if isinstance(session, AsyncSession):
        return session.run_sync(_revoke, token)
    _revoke(session, token)
    return None


def _revoke(session: Session, token: APIToken) -> None:
    session.delete(token)
    session.flush()


@overload
def tokens_of(session: AsyncSession, user: AbstractUser) -> Awaitable[list[APIToken]]: ...
@overload
def tokens_of(session: Session, user: AbstractUser) -> list[APIToken]: ...
def tokens_of(
    session: AsyncSession | Session, user: AbstractUser
) -> list[APIToken] | Awaitable[list[APIToken]]:
    """Return ``user``'s API tokens, newest first; with an ``AsyncSession``, await it."""
    if isinstance(session, AsyncSession):
        return session.run_sync(_tokens_of, user)
    return _tokens_of(session, user)


def _tokens_of(session: Session, user: AbstractUser) -> list[APIToken]:
    statement = (
        select(APIToken)
        .where(APIToken.user_id == user.id)
        .order_by(APIToken.created_at.desc(), APIToken.id.desc())
    )
    return list(session.scalars(statement))


def _state(user: AbstractUser) -> str:
    # What using a link changes: the password (reset) or the last login.
    last_login = user.last_login.isoformat() if user.last_login else ""
    material = f"{user.id}:{user.password}:{last_login}:{user.is_active}".encode()
    return hashlib.sha256(material).hexdigest()[:24]


def _signer(settings: Settings, purpose: str) -> Signer:
    if settings.secret_key is None:
        from carboy.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "Signed links need a secret key, and none is set. Set CARBOY_SECRET_KEY."
        )
    keys = [settings.secret_key, *settings.secret_key_fallbacks]
    return Signer([key.get_secret_value().encode() for key in keys], salt=f"carboy.auth.{purpose}")


def make_link_token(settings: Settings, user: AbstractUser, purpose: str) -> str:
    """Return a signed token for a link that acts for ``user``, such as a password reset."""
    value = f"{user.id}:{_state(user)}".encode()
    return _signer(settings, purpose).sign(value)


def read_link_token(
    settings: Settings, token: str, purpose: str, max_age: int
) -> tuple[int, str] | None:
    """Return the user id and state a link token holds, or ``None`` if forged or expired."""
    if len(token) > 500 or not token.isascii():
        # A signed token is ASCII; anything else cannot be compared in constant time.
        return None
    try:
        value = _signer(settings, purpose).unsign(token, max_age=max_age).decode()
        user_id, _, state = value.partition(":")
        return int(user_id), state
    except (BadSignature, ValueError, UnicodeDecodeError):
        return None


def link_token_matches(user: Any, state: str) -> bool:
    """Whether the state a link token holds is still ``user``'s: the link is unused."""
    import hmac

    return isinstance(user, AbstractUser) and hmac.compare_digest(_state(user), state)
