"""The admin's pages: dashboard, list pages, bulk actions, sign-in and sign-out.

``Admin()`` serves them under its ``prefix`` as the router ``admin``::

    GET        /admin/                       the dashboard          admin:index
    GET  POST  /admin/login                  sign in (staff only)   admin:login
    GET  POST  /admin/logout                 a button, then out     admin:logout
    GET        /admin/<table>/               the list page          admin:list
    POST       /admin/<table>/actions        a bulk action          admin:actions
    GET        /admin/<table>/autocomplete   rows for a search box  admin:autocomplete
    GET  POST  /admin/<table>/add/           add a row              admin:add
    GET  POST  /admin/<table>/<pk>/          edit (or view) a row   admin:object
    GET  POST  /admin/<table>/<pk>/delete/   delete a row           admin:delete
    GET        /admin/<table>/<pk>/history/  a row's history        admin:history
    GET  POST  /admin/<table>/<pk>/password/ set a user's password  admin:password

Every page but sign-in and sign-out is for active staff: anybody else is
sent to the admin's sign-in page, and a signed-in user who is not staff gets
403. A model's pages and links also need its permission (``view`` to list,
``add``, ``change`` and ``delete`` to do each); superusers hold every one.
The pages of one row are in ``carboy.admin.objectpages``.

Only a POST acts: GET and HEAD (a GET without the body) show a page that
also takes a form, whatever they carry. Signing out ends every session of
the user (``carboy.auth.logout``).

The autocomplete endpoint answers the search boxes of ``autocomplete_fields``
with JSON: ``?field=author&q=ada&page=1`` searches the related model as its
list page does (its ``search_fields``) and returns
``{"results": [{"id": "1", "text": "Ada"}], "more": false}``, 20 rows a page.
It needs the related model's ``view`` permission, or the ``add`` or
``change`` permission of the model whose form holds the box. Bulk deletions
and actions are recorded in the history, as every change the admin makes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from carboy._callables import run_callable
from carboy.admin._pagekit import PageKit
from carboy.admin._paths import primary_key_of
from carboy.admin.deletion import plan_deletion
from carboy.admin.history import ChangeTracker, recent_actions
from carboy.admin.listing import display_value, parameters_for
from carboy.admin.modelforms import integer_bound
from carboy.admin.objectpages import ObjectPages, format_time
from carboy.admin.options import DELETE_SELECTED, ModelAdmin
from carboy.admin.users import PasswordPage
from carboy.auth import authenticate, has_permission, login, logout, model_permission
from carboy.auth.forms import LoginForm, LogoutForm
from carboy.auth.models import AbstractUser
from carboy.auth.pages import DEFAULT_THROTTLES, NO_SESSION, is_safe_next
from carboy.csrf import CSRFError
from carboy.db import atomic
from carboy.dependencies import Depends
from carboy.exceptions import HTTPException
from carboy.ratelimit import RateLimited, by_ip, hit, limiter_of
from carboy.requests import HTTPConnection, Request
from carboy.responses import JSONResponse, RedirectResponse, Response
from carboy.routing import Router
from carboy.sessions import flash

if TYPE_CHECKING:
    from carboy.admin.extension import Admin
    from carboy.admin.listing import ListPage, ListSpec

__all__ = [
    "NOT_STAFF",
    "NO_SELECTION",
    "STAFF_ONLY",
    "AdminSignIn",
    "admin_router",
    "sign_in_redirect",
]

NOT_STAFF = (
    "This account may not use the administration: it is not a staff account. Sign in with a "
    "staff account, or ask an administrator to make this one staff."
)
STAFF_ONLY = "The administration is for staff members only."
NO_SELECTION = "No rows were selected, so nothing was done. Tick the rows to act on first."
BULK_DELETE_REFUSED = (
    "Nothing was deleted: the database refused, as other rows still refer to the selected "
    "ones. Select them again to see which."
)

AUTOCOMPLETE_PAGE_SIZE = 20
"""The rows the autocomplete endpoint returns per page."""

# RFC 9110 15.4.4: 303 makes the browser GET the next page (Post/Redirect/Get).
SEE_OTHER = 303
UNPROCESSABLE = 422
CONFLICT = 409


class AdminSignIn(Exception):
    """Raised for a visitor who must sign in first; answered with the admin's sign-in page."""


def sign_in_redirect(connection: HTTPConnection, _exc: AdminSignIn) -> Response:
    """Send the visitor to the admin's sign-in page, coming back to the page they wanted."""
    admin = _admin_of(connection)
    target = connection.url.path
    if connection.url.query:
        target += "?" + connection.url.query
    root = connection.scope.get("root_path", "")
    return RedirectResponse(f"{root}{admin.prefix}/login?next={quote(target, safe='/')}", 303)


def _admin_of(connection: HTTPConnection) -> Admin:
    from carboy.admin.extension import Admin

    admin = connection.app.extensions.get("admin")
    if not isinstance(admin, Admin):
        raise HTTPException(404, "The admin battery is not installed.")
    return admin


def admin_router(admin: Admin) -> Router:
    """Return the router of the admin pages, named ``admin``, under ``admin.prefix``."""
    pages = _Pages(admin)
    router = Router(name="admin")
    base = admin.prefix
    staff = [Depends(pages.require_staff)]
    both = ("GET", "POST")

    def add(path: str, endpoint: Any, name: str, methods: Sequence[str] = ("GET",)) -> None:
        dependencies = [] if name in ("login", "logout") else staff
        router.add_route(
            f"{base}{path}",
            endpoint,
            methods=methods,
            name=name,
            dependencies=dependencies,
            include_in_schema=False,
        )

    add("/", pages.index, "index")
    add("/login", pages.login, "login", both)
    add("/logout", pages.logout, "logout", both)
    add("/{table}/", pages.changelist, "list")
    add("/{table}/actions", pages.actions, "actions", ("POST",))
    objects = ObjectPages(pages)
    pages.objects = objects
    add("/{table}/autocomplete", pages.autocomplete, "autocomplete")
    add("/{table}/add/", objects.add, "add", both)
    add("/{table}/{pk}/", objects.change, "object", both)
    add("/{table}/{pk}/delete/", objects.delete, "delete", both)
    add("/{table}/{pk}/history/", objects.history, "history")
    add("/{table}/{pk}/file/{field}/", objects.download, "file")
    add("/{table}/{pk}/password/", PasswordPage(objects).password, "password", both)
    return router


class _Pages(PageKit):
    """The handlers of the dashboard, list, action and sign-in pages."""

    objects: ObjectPages

    async def require_staff(self, request: Request) -> None:
        """End the request unless an active staff user sent it: sign-in page, or 403."""
        user = request.scope.get("user")
        if not isinstance(user, AbstractUser):
            raise AdminSignIn()
        if not (user.is_active and user.is_staff):
            raise HTTPException(403, STAFF_ONLY)

    # Dashboard ----------------------------------------------------------------

    async def index(self, request: Request, session: AsyncSession) -> Response:
        """Show the registered models by section, and the user's recent actions."""
        sections: dict[str, list[dict[str, Any]]] = {}
        for table, model_admin in self.admin.registry.items():
            allowed = await self.permissions(request, session, model_admin)
            if not any(allowed.values()):
                continue
            sections.setdefault(model_admin.get_section(), []).append(
                {
                    "table": table,
                    "name": model_admin.verbose_name_plural.capitalize(),
                    "allowed": allowed,
                    "url": self.admin.url(table),
                }
            )
        recent = await recent_actions(session, request.user, limit=10)
        return self.render(
            request,
            "index.html",
            {
                "sections": sorted(sections.items()),
                "recent_actions": recent,
                "format_time": format_time,
            },
        )

    # List page ----------------------------------------------------------------

    async def changelist(self, request: Request, session: AsyncSession, table: str) -> Response:
        """Show one page of a model's rows, searched, filtered and sorted as asked."""
        model_admin = self.model_admin(table)
        allowed = await self.require(request, session, model_admin, "view")
        spec = self.admin.list_spec(table)
        page = await spec.fetch(session, request.query_params.multi_items())
        return self.render(
            request, "list.html", self._list_context(request, model_admin, spec, page, allowed)
        )

    def _list_context(
        self,
        request: Request,
        model_admin: ModelAdmin,
        spec: ListSpec,
        page: ListPage,
        allowed: Mapping[str, bool],
    ) -> dict[str, Any]:
        params = page.params
        table = model_admin.table

        def link(**changes: str | None) -> str:
            query = urlencode(parameters_for(params, **changes))
            return "?" + query if query else "?"

        headers = []
        for column in spec.columns:
            header: dict[str, Any] = {"label": column.label, "sort": None, "url": None}
            if column.is_sortable:
                current = page.sort
                direction = (
                    "ascending"
                    if current == column.name
                    else "descending"
                    if current == f"-{column.name}"
                    else None
                )
                target = f"-{column.name}" if direction == "ascending" else column.name
                header.update(sort=direction, url=link(o=target, p=None))
            headers.append(header)
        key = spec.primary_key
        rows = []
        for obj in page.rows:
            pk = getattr(obj, key.key) if key is not None else None
            cells = [
                {
                    "text": display_value(column.value(obj)),
                    "url": self.admin.url(table, pk) if column.is_link and pk is not None else None,
                }
                for column in spec.columns
            ]
            rows.append({"pk": pk, "cells": cells})
        filters = [
            {
                "title": item.title,
                "choices": [
                    {
                        "label": choice.label,
                        "count": choice.count,
                        "selected": choice.is_selected,
                        "url": link(
                            **{
                                "p": None,
                                **dict.fromkeys(item.parameters),
                                **choice.params,
                            }
                        ),
                    }
                    for choice in choices
                ],
            }
            for item, choices in page.filters
        ]
        actions = [
            info
            for info in model_admin.get_actions().values()
            if allowed.get(info.permission, False)
        ]
        pages = {
            "prev": link(p=str(page.page - 1)) if page.page > 1 else None,
            "next": link(p=str(page.page + 1)) if page.page < page.pages else None,
        }
        kept = {name: value for name, value in params.items() if name not in ("q", "p")}
        return {
            "model_admin": model_admin,
            "allowed": allowed,
            "headers": headers,
            "rows": rows,
            "page": page,
            "filters": filters,
            "actions": actions,
            "pages": pages,
            "kept": kept,
            "query": urlencode(params),
            "has_search": bool(spec.search_paths),
            "count": _count(page.total, model_admin),
        }

    # Autocomplete ---------------------------------------------------------------

    async def autocomplete(self, request: Request, session: AsyncSession, table: str) -> Response:
        """Return one page of the rows a search box of ``autocomplete_fields`` may hold, as JSON."""
        model_admin = self.model_admin(table)
        query = request.query_params
        name = query.get("field", "")
        model_form = self.objects.model_form(model_admin)
        field = model_form.fields.get(model_form.name_of(name)) if name else None
        if field is None or not field.is_related or field.related_model is None:
            raise HTTPException(
                400,
                f"The {model_admin.verbose_name} has no relationship {_quoted(name)}. Give the "
                "name of a field of its autocomplete_fields as field=.",
            )
        if field.name not in model_form.autocomplete_names():
            raise HTTPException(
                400,
                f"The field {_quoted(name)} is not in autocomplete_fields of the "
                f"{model_admin.verbose_name}, so it has no search. Add it there to search it.",
            )
        page_text = query.get("page", "1")
        if not (page_text.isascii() and page_text.isdigit()) or not 1 <= int(page_text) <= 10_000:
            raise HTTPException(
                400,
                f"The page {_quoted(page_text)} is not a page number. Give a whole number "
                "from 1 to 10000.",
            )
        related = self.admin.model_admin(field.related_model.__table__.name)
        if related is None:
            raise HTTPException(
                400,
                f"The {field.label.lower()} of a {model_admin.verbose_name} cannot be searched: "
                "its model is not registered with the admin.",
            )
        own = await self.permissions(request, session, model_admin)
        if not (own["add"] or own["change"]):
            may_view = await has_permission(
                session, request.user, model_permission(related.model, "view")
            )
            if not may_view:
                raise HTTPException(
                    403,
                    f"You may not search {related.verbose_name_plural}: you need the permission "
                    f"{model_permission(related.model, 'view')}, or to add or change "
                    f"{model_admin.verbose_name_plural}.",
                )
        spec = self.admin.list_spec(related.table)
        rows, more = await spec.search(
            session, query.get("q", ""), int(page_text), AUTOCOMPLETE_PAGE_SIZE
        )
        key = spec.primary_key
        results = await session.run_sync(
            lambda _: (
                [
                    {"id": str(getattr(row, key.key)), "text": related.object_repr(row)}
                    for row in rows
                ]
                if key is not None
                else []
            )
        )
        return JSONResponse(
            {"results": results, "more": more}, headers={"cache-control": "private, no-store"}
        )

    # Bulk actions ---------------------------------------------------------------

    async def actions(self, request: Request, session: AsyncSession, table: str) -> Response:
        """Run a bulk action on the selected rows; deletion asks for a confirmation first."""
        model_admin = self.model_admin(table)
        allowed = await self.require(request, session, model_admin, "view")
        spec = self.admin.list_spec(table)
        form = await request.form()
        name = form.get("action")
        available = model_admin.get_actions()
        info = available.get(name) if isinstance(name, str) else None
        if info is None:
            raise HTTPException(
                400,
                "The action is missing or unknown. Choose one of the list's actions.",
            )
        if not allowed.get(info.permission, False):
            raise HTTPException(
                403,
                f"You may not run '{info.label}': you lack the permission "
                f"{model_permission(model_admin.model, info.permission)}.",
            )
        back = self.admin.url(table) + _safe_query(form.get("query"))
        objects = await self._selected(session, spec, form.getlist("selected"))
        if not objects:
            flash(request, NO_SELECTION, "warning")
            return RedirectResponse(back, SEE_OTHER)
        if info.name == DELETE_SELECTED:
            return await self._delete_selected(request, session, model_admin, objects, form, back)
        method = getattr(model_admin, info.name)
        # Every row the action adds, changes or deletes through the session
        # is recorded, under the action's label.
        tracker = ChangeTracker()
        with tracker.watching(session.sync_session):
            outcome = await run_callable(method, request, session, objects)
        await session.run_sync(tracker.record, request.user, info.label)
        if isinstance(outcome, Response):
            return outcome
        await session.flush()
        flash(request, f"{info.label}: done for {_count(len(objects), model_admin)}.", "success")
        return RedirectResponse(back, SEE_OTHER)

    async def _delete_selected(
        self,
        request: Request,
        session: AsyncSession,
        model_admin: ModelAdmin,
        objects: list[Any],
        form: Any,
        back: str,
    ) -> Response:
        """Ask to confirm, listing what goes with the rows or what stops them; then delete."""
        plans = [await session.run_sync(plan_deletion, obj) for obj in objects]
        names = await session.run_sync(lambda _: [model_admin.object_repr(obj) for obj in objects])
        blocked = [(name, plan) for name, plan in zip(names, plans, strict=True) if plan.is_blocked]
        forbidden = await self.forbidden(request, session, plans)
        if forbidden:
            raise HTTPException(
                403,
                f"Deleting them would delete {', '.join(forbidden)} too, which you may not delete.",
            )
        confirmed = form.get("confirm") == "yes"
        if confirmed and not blocked:
            try:
                async with atomic(session):
                    for name, plan in zip(names, plans, strict=True):
                        await session.run_sync(plan.perform, request.user, name)
            except IntegrityError:
                flash(request, BULK_DELETE_REFUSED, "error")
            else:
                flash(request, f"Deleted {_count(len(objects), model_admin)}.", "success")
            return RedirectResponse(back, SEE_OTHER)
        totals: dict[str, list[Any]] = {}
        for plan in plans:
            for group in [*plan.deleted, *plan.links]:
                found = totals.setdefault(group.noun, [group.singular, 0])
                found[1] += group.count
        also = [
            f"{count} {singular if count == 1 else noun}"
            for noun, (singular, count) in totals.items()
        ]
        key = primary_key_of(model_admin.model)
        return self.render(
            request,
            "delete_selected.html",
            {
                "model_admin": model_admin,
                "objects": [
                    (getattr(obj, key.key), name) for obj, name in zip(objects, names, strict=True)
                ]
                if key is not None
                else [],
                "blocked": blocked,
                "also": also,
                "count": _count(len(objects), model_admin),
                "query": _safe_query(form.get("query")).lstrip("?"),
                "back": back,
            },
            status_code=CONFLICT if confirmed else 200,
        )

    async def _selected(
        self, session: AsyncSession, spec: ListSpec, values: Sequence[Any]
    ) -> list[Any]:
        key = spec.primary_key
        if key is None:
            return []
        python_type = key.type.python_type
        ids = []
        for value in values:
            try:
                ident = python_type(value)
                if python_type is int and abs(ident) >= integer_bound(key):
                    raise ValueError(value)
            except (TypeError, ValueError):
                raise HTTPException(
                    400, "A selected row has an id that is not one. Reload the list and try again."
                ) from None
            ids.append(ident)
        if not ids:
            return []
        statement = select(spec.model).where(key.in_(ids)).order_by(key)
        return list((await session.execute(statement)).scalars())

    # Signing in and out -----------------------------------------------------------

    async def login(self, request: Request, session: AsyncSession) -> Response:
        """Show the admin's sign-in form, or sign a staff user in and go to ``next``."""
        from carboy.auth.authentication import auth_of

        index = self.admin.url()
        if request.method != "POST":
            wanted = request.query_params.get("next")
            initial = {"next": wanted if is_safe_next(wanted) else ""}
            return self.render(
                request, "login.html", {"form": LoginForm.blank(request, initial=initial)}
            )
        if request.app.settings.csrf_enabled and "cookie" not in request.headers:
            # A sign-in without cookies carries no CSRF token: login CSRF.
            raise CSRFError(NO_SESSION)
        form = await LoginForm.from_request(request)
        if not form.is_valid:
            return self.render(request, "login.html", {"form": form}, UNPROCESSABLE)
        data = form.data
        throttles = auth_of(request).throttles or DEFAULT_THROTTLES
        account = f"{by_ip(request)}:{data.email.strip().lower()}"
        try:
            await hit(request, "auth.login", throttles.login_per_ip, by_ip(request))
            await hit(request, "auth.login", throttles.login_per_account, account)
        except RateLimited as exc:
            return self.render(
                request, "throttled.html", {"detail": exc.detail}, exc.status_code, exc.headers
            )
        user = await authenticate(request, session, data.email, data.password.get_secret_value())
        if user is None:
            from carboy.auth.pages import LOGIN_FAILED

            form.add_error(None, LOGIN_FAILED)
            return self.render(request, "login.html", {"form": form}, UNPROCESSABLE)
        if not user.is_staff:
            form.add_error(None, NOT_STAFF)
            return self.render(request, "login.html", {"form": form}, UNPROCESSABLE)
        login(request, user)
        await limiter_of(request.app).reset("auth.login", account, throttles.login_per_account)
        target = data.next if is_safe_next(data.next) else index
        return RedirectResponse(target, SEE_OTHER)

    async def logout(self, request: Request, session: AsyncSession) -> Response:
        """Ask to confirm, then sign out of every session and go to the admin's sign-in page."""
        if request.method != "POST":
            return self.render(request, "logout.html", {"form": LogoutForm.blank(request)})
        await logout(request, session)
        flash(request, "You are signed out.", "success")
        return RedirectResponse(f"{self.admin.prefix}/login", SEE_OTHER)


def _count(number: int, model_admin: ModelAdmin) -> str:
    """Return "1 post" or "123 posts"."""
    noun = model_admin.verbose_name if number == 1 else model_admin.verbose_name_plural
    return f"{number} {noun}"


def _quoted(value: str) -> str:
    """Return a value of the query string for a message: quoted, and cut when long."""
    return repr(value if len(value) <= 40 else value[:40] + "...")


def _safe_query(value: Any) -> str:
    """Return a list page's query string, sent back by a form, re-encoded, with its ``?``."""
    if not isinstance(value, str) or not value:
        return ""
    from urllib.parse import parse_qsl

    pairs = parse_qsl(value[:2000], keep_blank_values=True)
    return "?" + urlencode(pairs) if pairs else ""
