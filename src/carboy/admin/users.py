"""Users in the admin: a page that sets a user's password, and options for users and groups.

A user added through the admin starts with an unusable password (nobody can
sign in with it), and the admin then opens the user's password page:

    GET  POST  /admin/<table>/<pk>/password/   set a user's password   admin:password

The page asks for the new password twice and checks it with the auth
battery's ``password_validators``; the hash is stored, the change is
recorded in the history (masked), and the user's other sessions end, as
after any password change. It needs the ``change`` permission of the user
model, and it exists only for models of ``carboy.auth`` users.

``UserAdmin`` and ``GroupAdmin`` are ready-made options for the auth
models: ``admin.register(User, UserAdmin)``.
"""

from __future__ import annotations

# The handler's annotations are read at run time: AsyncSession and Request
# are imported for it, not only for type checking.
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from carboy.admin.history import record_change, snapshot
from carboy.admin.options import ModelAdmin
from carboy.auth.authentication import auth_of
from carboy.auth.forms import SetPasswordForm
from carboy.auth.models import AbstractUser
from carboy.auth.pages import PASSWORDS_DIFFER
from carboy.auth.validators import PasswordRejected, validate_password
from carboy.exceptions import HTTPException
from carboy.requests import Request
from carboy.responses import RedirectResponse, Response
from carboy.sessions import flash

if TYPE_CHECKING:
    from carboy.admin.objectpages import ObjectPages

__all__ = ["GroupAdmin", "PasswordPage", "UserAdmin", "is_user_model"]

SEE_OTHER = 303
UNPROCESSABLE = 422

NOT_A_USER_MODEL = "The {noun} has no password: only users do."


def is_user_model(model: type[Any]) -> bool:
    """Whether ``model`` is a model of ``carboy.auth`` users, which have passwords."""
    return isinstance(model, type) and issubclass(model, AbstractUser)


class UserAdmin(ModelAdmin):
    """The admin options of the auth user model; the password is set on its own page."""

    list_display = ("email", "is_active", "is_staff", "is_superuser", "last_login")
    search_fields = ("email",)
    list_filter = ("is_active", "is_staff", "is_superuser")
    readonly_fields = ("last_login", "date_joined")
    exclude = ("session_epoch",)
    """Bookkeeping of the sign-in sessions, moved on by logouts and password changes."""
    section = "Authentication"

    def readonly_fields_for(self, user: Any) -> frozenset[str]:
        """Keep ``is_superuser`` from anyone who is not a superuser: no one raises themselves."""
        if getattr(user, "is_superuser", False):
            return frozenset()
        return frozenset({"is_superuser"})


class GroupAdmin(ModelAdmin):
    """The admin options of the auth groups."""

    search_fields = ("name",)
    section = "Authentication"


class PasswordPage:
    """The page that sets a user's password, served beside a row's other pages."""

    def __init__(self, objects: ObjectPages) -> None:
        self.objects = objects

    async def password(
        self, request: Request, session: AsyncSession, table: str, pk: str
    ) -> Response:
        """Show the form, or set the password sent twice and go back to the user's page."""
        kit = self.objects.kit
        model_admin = kit.model_admin(table)
        if not is_user_model(model_admin.model):
            raise HTTPException(404, NOT_A_USER_MODEL.format(noun=model_admin.verbose_name))
        await kit.require(request, session, model_admin, "change")
        user = await session.get(model_admin.model, kit.ident(model_admin, pk))
        if user is None:
            raise HTTPException(404, f"No {model_admin.verbose_name} has this id.")
        context = {"model_admin": model_admin, "user": user, "urls": self._urls(table, pk)}
        if request.method != "POST":
            return kit.render(
                request, "password.html", {**context, "form": SetPasswordForm.blank(request)}
            )
        form = await SetPasswordForm.from_request(request)
        data = form.data if form.is_valid else None
        if data is not None:
            password = data.new_password.get_secret_value()
            if password != data.new_password_again.get_secret_value():
                form.add_error("new_password_again", PASSWORDS_DIFFER)
            try:
                validate_password(password, user, auth_of(request).password_validators)
            except PasswordRejected as exc:
                for problem in exc.problems:
                    form.add_error("new_password", problem)
        if data is None or form.errors:
            return kit.render(request, "password.html", {**context, "form": form}, UNPROCESSABLE)
        before = snapshot(user)
        user.set_password(password)
        await record_change(session, request.user, user, before, message="Password changed")
        flash(request, f"The password of “{user}” was changed.", "success")
        return RedirectResponse(self.objects.admin.url(table, pk), SEE_OTHER)

    def _urls(self, table: str, pk: str) -> dict[str, str]:
        admin = self.objects.admin
        return {"list": admin.url(table), "object": admin.url(table, pk)}
