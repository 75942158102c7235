"""Permissions: what a user may do, from their own, their groups' and superuser status.

A permission is a codename ``<table>.<action>``. Every model has the actions
``view``, ``add``, ``change`` and ``delete``; an app may use others
(``post.publish``). Rows of ``Permission`` are made when first granted.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Iterable
from typing import Any, overload

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from carboy.auth.models import Group, Permission, group_permissions, user_groups, user_permissions

__all__ = [
    "MODEL_ACTIONS",
    "get_permissions",
    "grant",
    "has_permission",
    "model_permission",
    "revoke",
]

MODEL_ACTIONS = ("view", "add", "change", "delete")
_CODENAME = re.compile(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*")
_CACHE = "_carboy_permissions"


def model_permission(model: Any, action: str) -> str:
    """Return the codename of ``action`` on ``model``: ``model_permission(Post, "change")``."""
    return f"{model.__tablename__}.{action}"


@overload
def get_permissions(session: AsyncSession, user: Any) -> Awaitable[frozenset[str]]: ...
@overload
def get_permissions(session: Session, user: Any) -> frozenset[str]: ...
def get_permissions(
    session: AsyncSession | Session, user: Any
) -> frozenset[str] | Awaitable[frozenset[str]]:
    """Return the codenames ``user`` holds, their own and their groups'; cached on the user.

    With an ``AsyncSession``, await the result. A superuser holds every
    permission whether listed or not: ask ``has_permission``, which knows.
    """
    if isinstance(session, AsyncSession):
        return session.run_sync(_permissions, user)
    return _permissions(session, user)


def _permissions(session: Session, user: Any) -> frozenset[str]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached: frozenset[str] | None = user.__dict__.get(_CACHE)
    if cached is not None:
        return cached
    own = (
        select(Permission.codename)
        .join(user_permissions, user_permissions.c.permission_id == Permission.id)
        .where(user_permissions.c.user_id == user.id)
    )
    grouped = (
        select(Permission.codename)
        .join(group_permissions, group_permissions.c.permission_id == Permission.id)
        .join(user_groups, user_groups.c.group_id == group_permissions.c.group_id)
        .where(user_groups.c.user_id == user.id)
    )
    found = frozenset(session.execute(union(own, grouped)).scalars())
    user.__dict__[_CACHE] = found
    return found


async def has_permission(
    session: AsyncSession | Session,
    user: Any,
    codename: str,
    obj: Any = None,
    *,
    object_check: Any = None,
) -> bool:
    """Whether ``user`` may do ``codename`` (on ``obj``, when given).

    Inactive and anonymous users may do nothing; active superusers anything.
    Otherwise the user needs the permission, their own or a group's, or,
    for an object, the app's object check (``Auth(object_permission=...)``)
    must allow it: an author may edit their own posts without ``post.change``.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    held = (
        await get_permissions(session, user)
        if isinstance(session, AsyncSession)
        else get_permissions(session, user)
    )
    if codename in held:
        return True
    if obj is not None and object_check is not None:
        from carboy._callables import run_callable

        return bool(await run_callable(object_check, user, codename, obj))
    return False


def _check_codenames(codenames: Iterable[str]) -> list[str]:
    names = list(codenames)
    for name in names:
        if not _CODENAME.fullmatch(name):
            raise ValueError(
                f"{name!r} is not a permission codename. Write <table>.<action>, such as "
                "'post.change'."
            )
    return names


def _grant(session: Session, target: Any, codenames: list[str]) -> None:
    existing = {
        permission.codename: permission
        for permission in session.scalars(
            select(Permission).where(Permission.codename.in_(codenames))
        )
    }
    held = target.permissions if isinstance(target, Group) else target.user_permissions
    for codename in codenames:
        permission = existing.get(codename)
        if permission is None:
            table, _, action = codename.partition(".")
            permission = Permission(codename=codename, name=f"Can {action} {table}")
            session.add(permission)
            existing[codename] = permission
        if permission not in held:
            held.append(permission)
    session.flush()
    target.__dict__.pop(_CACHE, None)


def _revoke(session: Session, target: Any, codenames: list[str]) -> None:
    held = target.permissions if isinstance(target, Group) else target.user_permissions
    for permission in [p for p in held if p.codename in codenames]:
        held.remove(permission)
    session.flush()
    target.__dict__.pop(_CACHE, None)


@overload
def grant(session: AsyncSession, target: Any, *codenames: str) -> Awaitable[None]: ...
@overload
def grant(session: Session, target: Any, *codenames: str) -> None: ...
def grant(session: AsyncSession | Session, target: Any, *codenames: str) -> Awaitable[None] | None:
    """Give a user or a group permissions, making the ``Permission`` rows needed.

    With an ``AsyncSession``, await the result.

    Raises:
        ValueError: for a codename that is not ``<table>.<action>``.
    """
    names = _check_codenames(codenames)
    if isinstance(session, AsyncSession):
        return session.run_sync(_grant, target, names)
    _grant(session, target, names)
    return None


@overload
def revoke(session: AsyncSession, target: Any, *codenames: str) -> Awaitable[None]: ...
@overload
def revoke(session: Session, target: Any, *codenames: str) -> None: ...
def revoke(session: AsyncSession | Session, target: Any, *codenames: str) -> Awaitable[None] | None:
    """Take permissions back from a user or a group; with an ``AsyncSession``, await it."""
    names = _check_codenames(codenames)
    if isinstance(session, AsyncSession):
        return session.run_sync(_revoke, target, names)
    _revoke(session, target, names)
    return None
