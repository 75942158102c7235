"""``Auth``: everything the auth battery adds to an app, in one place."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from carboy.auth.authentication import load_user
from carboy.auth.guards import LoginRequired, login_redirect
from carboy.auth.models import USER_TABLE, AbstractUser
from carboy.auth.validators import DEFAULT_VALIDATORS, PasswordValidator
from carboy.db import BatteryMigrations
from carboy.dependencies import Depends
from carboy.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.auth.pages import Throttles

__all__ = ["Auth"]

ObjectCheck = Callable[[Any, str, Any], Any]


class Auth:
    """The auth battery: users, groups, permissions, sign-in pages and API tokens.

    Every request gets ``request.user``: the user its session or token
    names, or an ``AnonymousUser``. Requires the database battery.

    Args:
        user_model: The user model; ``carboy.auth.user.User`` by default. A
            replacement subclasses ``AbstractUser`` (table ``auth_user``).
        prefix: Where the sign-in pages are served; ``None`` serves none,
            for an API that only takes tokens.
        signup: Serve a sign-up page, with e-mail verification.
        password_validators: What a new password must pass.
        object_permission: ``check(user, codename, obj)``, sync or async:
            whether ``user`` may do ``codename`` to ``obj`` without holding
            the permission itself (an author and their own posts).
        reset_max_age: Seconds a password-reset or verification link works.
        throttles: The rates of sign-in, reset and sign-up attempts
            (``carboy.auth.pages.Throttles``); the pages' defaults when ``None``.
        login_redirect: Where a sign-in with no safe ``?next=`` goes.

    Example::

        app = Carboy(extensions=[Database(), Auth()])
    """

    name = "auth"
    requires: Sequence[str] = ("db",)
    migrations = BatteryMigrations(
        package="carboy.auth",
        folder="migrations",
        branch="auth",
        tables=frozenset(
            {
                "auth_user",
                "auth_group",
                "auth_permission",
                "auth_group_permission",
                "auth_user_group",
                "auth_user_permission",
                "auth_token",
            }
        ),
    )
    """The migrations of the auth tables, which ``carboy db migrate`` applies."""

    def __init__(
        self,
        *,
        user_model: type[AbstractUser] | None = None,
        prefix: str | None = "/auth",
        signup: bool = False,
        password_validators: Sequence[PasswordValidator] = DEFAULT_VALIDATORS,
        object_permission: ObjectCheck | None = None,
        reset_max_age: int = 24 * 3600,
        throttles: Throttles | None = None,
        login_redirect: str = "/",
    ) -> None:
        if user_model is None:
            from carboy.auth.user import User

            user_model = User
        if not (isinstance(user_model, type) and issubclass(user_model, AbstractUser)):
            raise ImproperlyConfigured(
                f"Auth(user_model={user_model!r}) is not a user model. Subclass "
                "carboy.auth.models.AbstractUser."
            )
        if user_model.__table__.name != USER_TABLE:  # type: ignore[attr-defined]
            raise ImproperlyConfigured(
                f"The user model {user_model.__name__} has the table "
                f"{user_model.__table__.name!r}; the auth tables point to "  # type: ignore[attr-defined]
                f"{USER_TABLE!r}. Remove its __tablename__."
            )
        self.user_model: type[AbstractUser] = user_model
        self.prefix = prefix.rstrip("/") if prefix else None
        self.signup = signup
        self.password_validators = list(password_validators)
        self.object_permission = object_permission
        self.reset_max_age = reset_max_age
        self.throttles = throttles
        self.login_redirect = login_redirect

    @property
    def login_url(self) -> str | None:
        """The path of the login page, where browsers that must sign in are sent."""
        return f"{self.prefix}/login" if self.prefix is not None else None

    def init_app(self, app: Carboy) -> None:
        """Load each request's user, answer sign-in failures, and serve the pages."""
        from carboy.checks import register_check, secret_key_check

        register_check(app, secret_key_check(self.name))
        app.dependencies.append(Depends(load_user))
        app.add_exception_handler(LoginRequired, login_redirect)
        from carboy.templating import templates_for

        templates_for(app).add_package_folder("carboy.auth")
        if self.prefix is not None:
            from carboy.auth.pages import pages_router

            app.include_router(pages_router(self, throttles=self.throttles))

    def shell_context(self) -> dict[str, Any]:
        """The names ``carboy shell`` adds: the user model and the auth helpers."""
        from carboy.auth import hashers, permissions, tokens

        return {
            "User": self.user_model,
            "make_password": hashers.make_password,
            "grant": permissions.grant,
            "create_token": tokens.create_token,
        }
