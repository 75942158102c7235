"""carboy's auth battery: users, groups, permissions, sign-in pages and API tokens.

::

    from carboy import Carboy
    from carboy.auth import Auth, CurrentUser, login_required
    from carboy.db import Database

    app = Carboy(extensions=[Database(), Auth()])

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, str]:
        return {"email": user.email}

Install its password hasher with ``pip install 'carboy[auth]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from carboy.auth.authentication import authenticate, login, logout, update_session_hash
from carboy.auth.extension import Auth
from carboy.auth.guards import (
    CurrentUser,
    LoginRequired,
    PermissionDenied,
    login_required,
    permission_required,
    staff_required,
)
from carboy.auth.hashers import check_password, make_password
from carboy.auth.models import AbstractUser, AnonymousUser, APIToken, Group, Permission
from carboy.auth.permissions import get_permissions, grant, has_permission, model_permission, revoke
from carboy.auth.tokens import create_token, revoke_token, tokens_of
from carboy.auth.validators import PasswordRejected, validate_password

if TYPE_CHECKING:
    from carboy.auth.user import User

__all__ = [
    "APIToken",
    "AbstractUser",
    "AnonymousUser",
    "Auth",
    "CurrentUser",
    "Group",
    "LoginRequired",
    "PasswordRejected",
    "Permission",
    "PermissionDenied",
    "User",
    "authenticate",
    "check_password",
    "create_token",
    "get_permissions",
    "grant",
    "has_permission",
    "login",
    "login_required",
    "logout",
    "make_password",
    "model_permission",
    "permission_required",
    "revoke",
    "revoke_token",
    "staff_required",
    "tokens_of",
    "update_session_hash",
    "validate_password",
]


def __getattr__(name: str) -> Any:
    # The default user model is defined on first use, so that a project with
    # its own user model (same table) never defines this one.
    if name == "User":
        from carboy.auth.user import User

        return User
    raise AttributeError(f"module 'carboy.auth' has no attribute {name!r}")
