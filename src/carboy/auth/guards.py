"""Guards: who may run a handler, as decorators or as dependencies.

::

    @app.get("/account")
    @login_required
    async def account(request: Request) -> dict[str, str]: ...

    admin = Router(prefix="/manage", dependencies=[Depends(staff_required)])

    @app.post("/posts/{post_id}/publish")
    @permission_required("post.publish")
    async def publish(post_id: int) -> None: ...

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, str]:     # the signed-in user, or 401
        return {"email": user.email}

A request that is not signed in gets, from a browser asking for a page, a
redirect to the login page (``?next=`` the page it wanted); from an API
client, 401 problem+json with ``WWW-Authenticate: Bearer``. A signed-in user
without the permission gets 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from carboy.auth.authentication import auth_of
from carboy.auth.models import AbstractUser
from carboy.auth.permissions import has_permission
from carboy.dependencies import Depends, add_dependency
from carboy.exceptions import HTTPException
from carboy.requests import HTTPConnection
from carboy.responses import RedirectResponse, Response

__all__ = [
    "CurrentUser",
    "Guard",
    "LoginRequired",
    "PermissionDenied",
    "login_required",
    "permission_required",
    "require_user",
    "staff_required",
]

F = TypeVar("F", bound=Callable[..., Any])


class LoginRequired(HTTPException):
    """401: the request must come from a signed-in user."""

    def __init__(self) -> None:
        super().__init__(
            401,
            "Sign in first: send a valid token as 'Authorization: Bearer <token>', or sign in "
            "with a session.",
            headers={"WWW-Authenticate": "Bearer"},
        )


class PermissionDenied(HTTPException):
    """403: the signed-in user may not do this."""

    def __init__(self, detail: str = "You do not have permission to do this.") -> None:
        super().__init__(403, detail)


class Guard:
    """A check that runs before a handler: a decorator, and a dependency with ``Depends()``."""

    def __init__(self, check: Callable[..., Awaitable[Any]]) -> None:
        self.__carboy_dependency__ = check

    def __call__(self, handler: F) -> F:
        """Guard ``handler``; put this decorator below the route decorator."""
        return add_dependency(handler, Depends(self.__carboy_dependency__))


async def require_user(connection: HTTPConnection) -> AbstractUser:
    """Return the signed-in user, or end the request (login page or 401)."""
    user = connection.scope.get("user")
    if user is None:
        auth_of(connection)  # says how to install the battery
    if not isinstance(user, AbstractUser):
        raise LoginRequired()
    return user


async def _require_staff(connection: HTTPConnection) -> None:
    user = await require_user(connection)
    if not (user.is_active and user.is_staff):
        raise PermissionDenied("This page is for staff members only.")


login_required = Guard(require_user)
"""Only signed-in users: a decorator, or ``Depends(login_required)``."""

staff_required = Guard(_require_staff)
"""Only active staff members (``is_staff``): a decorator, or ``Depends(staff_required)``."""

CurrentUser = Annotated[AbstractUser, Depends(require_user)]
"""A parameter type: the signed-in user; the request ends when nobody is signed in."""


def permission_required(*codenames: str) -> Guard:
    """Only users who hold every one of ``codenames`` (superusers hold them all).

    Example::

        @app.delete("/posts/{post_id}")
        @permission_required("post.delete")
        async def delete_post(post_id: int, session: AsyncSession) -> None: ...
    """
    if not codenames:
        raise ValueError("permission_required() needs at least one permission codename.")

    async def check(connection: HTTPConnection, session: AsyncSession) -> None:
        user = await require_user(connection)
        object_check = auth_of(connection).object_permission
        for codename in codenames:
            if not await has_permission(session, user, codename, object_check=object_check):
                raise PermissionDenied()

    check.__name__ = f"permission_required({', '.join(map(repr, codenames))})"
    return Guard(check)


def login_redirect(connection: HTTPConnection, exc: LoginRequired) -> Response:
    """Answer a ``LoginRequired``: a redirect to the login page for a browser, else 401."""
    from carboy.problems import error_response

    auth = auth_of(connection)
    accept = connection.headers.get("accept", "")
    wants_page = connection.scope.get("method") in ("GET", "HEAD") and "text/html" in accept
    if wants_page and auth.login_url is not None:
        target = connection.url.path
        if connection.url.query:
            target += "?" + connection.url.query
        # Behind a proxy that serves the app under a prefix, the login page is there too.
        login_url = connection.scope.get("root_path", "") + auth.login_url
        return RedirectResponse(f"{login_url}?next={quote(target, safe='/')}", 303)
    return error_response(connection.headers, 401, "Unauthorized", exc.detail, exc.headers)
