"""``PageKit``: what every admin page handler needs, shared by the admin's page classes.

The list pages, the pages of one row and the password page each take the
same kit: the battery, template rendering, the user's permissions on a
model, and the row an address names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from carboy.admin._paths import primary_key_of
from carboy.admin.modelforms import integer_bound
from carboy.auth import has_permission, model_permission
from carboy.exceptions import HTTPException
from carboy.requests import Request
from carboy.responses import Response
from carboy.templating import render

if TYPE_CHECKING:
    from carboy.admin.deletion import Deletion
    from carboy.admin.extension import Admin
    from carboy.admin.options import ModelAdmin

__all__ = ["PageKit"]

ACTIONS = ("view", "add", "change", "delete")


class PageKit:
    """Rendering, permissions and row lookup for the admin's pages.

    Args:
        admin: The admin battery the pages belong to.
    """

    def __init__(self, admin: Admin) -> None:
        self.admin = admin

    def render(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Render the admin template ``name`` with ``admin`` and ``context``."""
        variables = {"admin": self.admin, **(context or {})}
        return render(
            request, f"carboy/admin/{name}", variables, status_code=status_code, headers=headers
        )

    def model_admin(self, table: str) -> ModelAdmin:
        """Return the options of the model registered for ``table``, or end with 404."""
        found = self.admin.model_admin(table)
        if found is None:
            raise HTTPException(404, "The administration has no such model.")
        return found

    async def permissions(
        self, request: Request, session: AsyncSession, model_admin: ModelAdmin
    ) -> dict[str, bool]:
        """Return which of the model's four actions the user may do."""
        user = request.user
        return {
            action: await has_permission(session, user, model_permission(model_admin.model, action))
            for action in ACTIONS
        }

    async def require(
        self, request: Request, session: AsyncSession, model_admin: ModelAdmin, action: str
    ) -> dict[str, bool]:
        """Return the user's permissions on the model, or end with 403 without ``action``."""
        allowed = await self.permissions(request, session, model_admin)
        if not allowed[action]:
            raise HTTPException(
                403,
                f"You may not {action} {model_admin.verbose_name_plural}: you lack the "
                f"permission {model_permission(model_admin.model, action)}. Ask an "
                "administrator for it.",
            )
        return allowed

    async def forbidden(
        self, request: Request, session: AsyncSession, deletions: Sequence[Deletion]
    ) -> list[str]:
        """Return the kinds of rows deleted with these that the user may not delete."""
        found: list[str] = []
        for deletion in deletions:
            for group in deletion.deleted:
                model = group.model
                if model is None or self.admin.model_admin(model.__table__.name) is None:
                    continue
                if group.noun in found:
                    continue
                codename = model_permission(model, "delete")
                if not await has_permission(session, request.user, codename):
                    found.append(group.noun)
        return found

    def ident(self, model_admin: ModelAdmin, pk: str) -> Any:
        """Return the primary key written in the address, or end with 404."""
        key = primary_key_of(model_admin.model)
        missing = HTTPException(404, f"No {model_admin.verbose_name} has this id.")
        if key is None:
            raise missing
        python = key.type.python_type
        if python is int:
            if not (pk.isascii() and pk.isdigit()) or int(pk) >= integer_bound(key):
                raise missing
            return int(pk)
        try:
            return python(pk)
        except (TypeError, ValueError):
            raise missing from None

    async def get_object(self, session: AsyncSession, model_admin: ModelAdmin, ident: Any) -> Any:
        """Return the row with the primary key ``ident``, or end with 404."""
        obj = await session.get(model_admin.model, ident)
        if obj is None:
            raise HTTPException(404, f"No {model_admin.verbose_name} has this id.")
        return obj
