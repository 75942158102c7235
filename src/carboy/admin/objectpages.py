"""The pages of one row: add, edit (or view), delete, and its history.

::

    GET  POST  /admin/<table>/add/               a new row        admin:add
    GET  POST  /admin/<table>/<pk>/              edit, or view    admin:object
    GET  POST  /admin/<table>/<pk>/delete/       confirm, delete  admin:delete
    GET        /admin/<table>/<pk>/history/      its history      admin:history
    GET        /admin/<table>/<pk>/file/<field>/ a stored file    admin:file

Only a POST saves or deletes: GET and HEAD (a GET without the body) show the
page, whatever they carry. Adding needs the model's ``add`` permission,
saving a change ``change``, deleting ``delete``; with ``view`` alone the
edit page shows the row's values and no buttons, and a POST to it is a 403.
Every add, change and delete is recorded in the history
(``carboy.admin.history``) in the same transaction. A form with errors comes
back with status 422, what was typed kept and each error next to its field;
a value the database refuses as a duplicate is such an error, never a 500.
Inlines (unless ``is_editable = False``) are edited on the add and edit
pages (``carboy.admin.inlineforms``) and saved in the same transaction as
the row; an error in one of their rows saves nothing.

A form with a file field is sent as ``multipart/form-data``; a file bigger
than the app's ``limits.max_body_size`` is refused with 413 before anything
is read or saved. A stored file is downloaded, with the ``view``
permission, as an attachment that browsers never sniff or show in place.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from carboy.admin._pagekit import PageKit
from carboy.admin._paths import primary_key_of, unique_groups
from carboy.admin._widgets import RelatedForm, StoredFile
from carboy.admin.deletion import plan_deletion
from carboy.admin.history import history_of
from carboy.admin.inlineforms import (
    InlineFormSet,
    RowRefused,
    bind_rows,
    clean_rows,
    existing_rows,
    mark_repeated_rows,
    plan_formset,
    save_rows,
)
from carboy.admin.inlines import InlineTable, inline_tables
from carboy.admin.listing import display_value
from carboy.admin.modelforms import FormField, ModelForm
from carboy.admin.options import ModelAdmin, label_of
from carboy.admin.users import is_user_model
from carboy.auth import has_permission, model_permission
from carboy.db import atomic
from carboy.exceptions import HTTPException
from carboy.requests import Request
from carboy.responses import RedirectResponse, Response
from carboy.sessions import flash

__all__ = ["SAVE_REFUSED", "ObjectPages"]

SEE_OTHER = 303
UNPROCESSABLE = 422
CONFLICT = 409
MAX_HISTORY = 200

SAVE_REFUSED = (
    "The {noun} could not be saved: the database refused it, as a value must be unique or "
    "must name a row that exists. Check the values and try again."
)
DELETE_REFUSED = (
    "The {noun} could not be deleted: the database refused it, as other rows still refer to "
    "it. Reload this page to see them."
)


def _article(noun: str) -> str:
    return "An" if noun[:1].lower() in "aeiou" else "A"


class ObjectPages:
    """The handlers of the pages of one row.

    Args:
        kit: The rendering, permission and lookup helpers every admin page shares.
    """

    def __init__(self, kit: PageKit) -> None:
        self.kit = kit
        self.admin = kit.admin
        self._forms: dict[str, ModelForm] = {}

    # Helpers -----------------------------------------------------------------------------

    def model_form(self, model_admin: ModelAdmin) -> ModelForm:
        """Return the planned forms of a registered model, planned on first use."""
        found = self._forms.get(model_admin.table)
        if found is None or found.model_admin is not model_admin:
            found = self._forms[model_admin.table] = ModelForm(model_admin)
        return found

    async def _formsets(
        self,
        request: Request,
        session: AsyncSession,
        model_admin: ModelAdmin,
        obj: Any,
        may_edit: bool,
        *,
        is_sent: bool,
    ) -> list[InlineFormSet]:
        """Return the forms of the inlines edited in place, bound to what the request sends."""
        formsets = []
        for inline in model_admin.inlines:
            model = inline.model
            actions = ("add", "change", "delete")
            permissions = dict.fromkeys(actions, may_edit)
            if model is not None and self.admin.model_admin(model.__table__.name) is not None:
                for action in actions:
                    codename = model_permission(model, action)
                    permissions[action] = await has_permission(session, request.user, codename)
            formset = plan_formset(inline, model_admin.model, permissions)
            if formset is None:
                continue

            def load(
                sync_session: Session, formset: InlineFormSet = formset
            ) -> tuple[list[Any], list[dict[str, Any]]]:
                rows = existing_rows(sync_session, formset, obj)
                names = formset.names
                return rows, [formset.model_form.initial(row, names) for row in rows]

            rows, initials = await session.run_sync(load)
            await bind_rows(request, formset, rows, initials, is_sent=is_sent)
            formsets.append(formset)
        return formsets

    @staticmethod
    def _button(form_data: Any) -> str:
        for name in ("_continue", "_addanother"):
            if form_data.get(name) is not None:
                return name
        return "_save"

    # Add and edit ------------------------------------------------------------------------

    async def add(self, request: Request, session: AsyncSession, table: str) -> Response:
        """Show the empty form of a model, or add the row it sends."""
        model_admin = self.kit.model_admin(table)
        allowed = await self.kit.require(request, session, model_admin, "add")
        model_form = self.model_form(model_admin)
        layout = model_form.layout()
        names = _editable(model_form, layout, "add", request.user)
        form_class = model_form.form_class(names, "add")
        if request.method != "POST":
            blank = form_class.blank(request, initial=model_form.defaults(names))
            form = RelatedForm.wrap(blank)
            formsets = await self._formsets(
                request, session, model_admin, None, allowed["add"], is_sent=False
            )
            return await self._form_page(
                request, session, model_form, form, names, None, allowed, formsets=formsets
            )
        form = RelatedForm.wrap(await form_class.from_request(request))
        await model_form.read_files(form, names, await request.form())
        formsets = await self._formsets(
            request, session, model_admin, None, allowed["add"], is_sent=True
        )
        obj = model_admin.model()
        if is_user_model(model_admin.model):
            # Nobody signs in as the new user until a password is set on its page.
            obj.set_unusable_password()
        name = await self._save(request, session, model_form, form, names, obj, None, formsets)
        if name is None:
            return await self._form_page(
                request,
                session,
                model_form,
                form,
                names,
                None,
                allowed,
                UNPROCESSABLE,
                formsets=formsets,
            )
        if is_user_model(model_admin.model):
            key = primary_key_of(model_admin.model)
            pk = getattr(obj, key.key) if key is not None else None
            flash(
                request,
                f"The {model_admin.verbose_name} “{name}” was added. "
                "Set a password for them below.",
                "success",
            )
            return RedirectResponse(self.admin.url(table, pk, "password"), SEE_OTHER)
        return await self._saved(request, model_admin, obj, name, "added")

    async def change(
        self, request: Request, session: AsyncSession, table: str, pk: str
    ) -> Response:
        """Show a row's form (its values alone, for view-only users), or save what it sends."""
        model_admin = self.kit.model_admin(table)
        allowed = await self.kit.permissions(request, session, model_admin)
        if request.method == "POST" or not allowed["change"]:
            # Saving needs the change permission; seeing, either of view and change.
            action = "change" if request.method == "POST" else "view"
            await self.kit.require(request, session, model_admin, action)
        obj = await self.kit.get_object(session, model_admin, self.kit.ident(model_admin, pk))
        model_form = self.model_form(model_admin)
        if not allowed["change"]:
            return await self._form_page(request, session, model_form, None, [], obj, allowed)
        layout = model_form.layout()
        names = _editable(model_form, layout, "change", request.user)
        form_class = model_form.form_class(names, "change")
        initial = await session.run_sync(lambda _: model_form.initial(obj, names))
        blank = form_class.blank(request, initial=initial)
        is_sent = request.method == "POST"
        formsets = await self._formsets(request, session, model_admin, obj, True, is_sent=is_sent)
        if not is_sent:
            form = RelatedForm.wrap(blank)
            return await self._form_page(
                request, session, model_form, form, names, obj, allowed, formsets=formsets
            )
        form = RelatedForm.wrap(await form_class.from_request(request))
        await model_form.read_files(form, names, await request.form())
        changed = model_form.changed(form, blank.values, names)
        name = await self._save(request, session, model_form, form, names, obj, changed, formsets)
        if name is None:
            return await self._form_page(
                request,
                session,
                model_form,
                form,
                names,
                obj,
                allowed,
                UNPROCESSABLE,
                formsets=formsets,
            )
        return await self._saved(request, model_admin, obj, name, "changed")

    async def _save(
        self,
        request: Request,
        session: AsyncSession,
        model_form: ModelForm,
        form: RelatedForm,
        names: Sequence[str],
        obj: Any,
        changed: Sequence[str] | None,
        formsets: list[InlineFormSet],
    ) -> str | None:
        """Save the form's values on ``obj`` and its inline rows; return its name, or ``None``.

        ``None`` after an error of the form or of an inline row, when nothing is saved.
        """
        is_new = changed is None
        values = (
            await session.run_sync(model_form.clean, form, names, is_new=is_new)
            if form.is_valid
            else {}
        )
        cleaned = await session.run_sync(clean_rows, formsets)
        mark_repeated_rows(formsets, cleaned)
        if not form.is_valid or form.errors or any(fs.has_errors for fs in formsets):
            return None
        if changed is not None:
            values = {name: value for name, value in values.items() if name in changed}
        try:
            async with atomic(session):
                await session.run_sync(model_form.save, obj, values, request.user, is_new=is_new)
                await session.run_sync(save_rows, formsets, cleaned, obj, request.user)
        except RowRefused as refused:
            # Nothing is kept; the error goes on the row, beside its field when one is named.
            row_form, row_ident = refused.row.form, refused.row.pk
            field, message = await session.run_sync(
                _refusal, refused.formset.model_form, refused.values, row_ident
            )
            if row_form is not None:
                row_form.add_error(field, message)
            return None
        except (IntegrityError, DataError):
            ident = None if is_new else _identity(obj)
            field, message = await session.run_sync(_refusal, model_form, values, ident)
            form.add_error(field, message)
            return None
        model_admin = model_form.model_admin
        return str(await session.run_sync(lambda _: model_admin.object_repr(obj)))

    async def _saved(
        self, request: Request, model_admin: ModelAdmin, obj: Any, name: str, verb: str
    ) -> Response:
        button = self._button(await request.form())
        noun = model_admin.verbose_name
        message = f"The {noun} “{name}” was {verb}."
        table = model_admin.table
        if button == "_continue":
            key = primary_key_of(model_admin.model)
            pk = getattr(obj, key.key) if key is not None else None
            flash(request, f"{message} You may edit it again below.", "success")
            return RedirectResponse(self.admin.url(table, pk), SEE_OTHER)
        if button == "_addanother":
            flash(request, f"{message} You may add another {noun} below.", "success")
            return RedirectResponse(self.admin.url(table, "add"), SEE_OTHER)
        flash(request, message, "success")
        return RedirectResponse(self.admin.url(table), SEE_OTHER)

    async def _form_page(
        self,
        request: Request,
        session: AsyncSession,
        model_form: ModelForm,
        form: RelatedForm | None,
        names: Sequence[str],
        obj: Any,
        allowed: dict[str, bool],
        status_code: int = 200,
        *,
        formsets: Sequence[InlineFormSet] = (),
    ) -> Response:
        model_admin = model_form.model_admin
        layout = model_form.layout()
        in_form = set(names) if form is not None else set()

        def prepare(
            sync_session: Session,
        ) -> tuple[str | None, list[dict[str, Any]], list[InlineTable]]:
            if form is not None:
                model_form.load_options(sync_session, form, names)
                self._link_widgets(model_form, form, names, obj)
            for formset in formsets:
                formset.load_options(sync_session)
            fieldsets = []
            for title, group in layout:
                rows: list[dict[str, Any]] = []
                for name in group:
                    field = model_form.fields.get(name)
                    if name in in_form and field is not None and form is not None:
                        rows.append({"bound": form[field.internal_name]})
                        continue
                    if field is not None and field.is_auto and obj is None:
                        continue
                    method = getattr(model_admin, name, None)
                    label = field.label if field is not None else label_of(name, method)
                    is_file = field is not None and field.kind == "file"
                    rows.append(
                        {
                            "label": label,
                            "value": model_form.display(obj, name),
                            "note": field.note if field is not None else "",
                            "url": self._file_url(model_form, obj, name) if is_file else None,
                        }
                    )
                fieldsets.append({"title": title, "rows": rows})
            shown = model_admin.object_repr(obj) if obj is not None else None
            is_editing = form is not None
            inlines = (
                inline_tables(sync_session, self.admin, obj, is_editing=is_editing)
                if obj is not None
                else []
            )
            return shown, fieldsets, inlines

        object_repr, fieldsets, inlines = await session.run_sync(prepare)
        table = model_admin.table
        key = primary_key_of(model_admin.model)
        pk = getattr(obj, key.key) if obj is not None and key is not None else None
        noun = model_admin.verbose_name
        if obj is None:
            heading = f"Add {noun}"
        elif form is None:
            heading = f"View {noun}"
        else:
            heading = f"Change {noun}"
        return self.kit.render(
            request,
            "change_form.html",
            {
                "model_admin": model_admin,
                "allowed": allowed,
                "heading": heading,
                "object_repr": object_repr,
                "form": form,
                "fieldsets": fieldsets,
                "inlines": inlines,
                "formsets": formsets,
                "is_adding": obj is None,
                "urls": {
                    "list": self.admin.url(table),
                    "add": self.admin.url(table, "add"),
                    "object": self.admin.url(table, pk) if pk is not None else None,
                    "history": self.admin.url(table, pk, "history") if pk is not None else None,
                    "delete": self.admin.url(table, pk, "delete") if pk is not None else None,
                    "password": (
                        self.admin.url(table, pk, "password")
                        if pk is not None and is_user_model(model_admin.model)
                        else None
                    ),
                },
            },
            status_code=status_code,
        )

    def _link_widgets(
        self, model_form: ModelForm, form: RelatedForm, names: Sequence[str], obj: Any
    ) -> None:
        """Give the search boxes their endpoint and lookup link, and file fields their file."""
        model_admin = model_form.model_admin
        autocomplete = model_form.autocomplete_names()
        for name in names:
            field = model_form.fields[name]
            options = form.related.get(field.internal_name)
            if options is not None and options.is_search and field.related_model is not None:
                related = self.admin.model_admin(field.related_model.__table__.name)
                if related is not None:
                    options.list_url = self.admin.url(related.table)
                    options.noun = related.verbose_name_plural
                if name in autocomplete:
                    options.search_url = (
                        f"{self.admin.prefix}/{model_admin.table}/autocomplete?field={name}"
                    )
            if field.kind == "file":
                column = field.column
                value = getattr(obj, name) if obj is not None else None
                form.files[field.internal_name] = StoredFile(
                    size=len(value) if value is not None else None,
                    url=self._file_url(model_form, obj, name),
                    can_clear=column is not None and bool(column.nullable),
                )

    def _file_url(self, model_form: ModelForm, obj: Any, name: str) -> str | None:
        """Return where the file of ``obj``'s field ``name`` is downloaded, if it holds one."""
        key = primary_key_of(model_form.model_admin.model)
        if obj is None or key is None or getattr(obj, name, None) is None:
            return None
        return self.admin.url(model_form.model_admin.table, getattr(obj, key.key), "file", name)

    async def download(
        self, request: Request, session: AsyncSession, table: str, pk: str, field: str
    ) -> Response:
        """Send the file stored in a binary column of a row, as an attachment."""
        model_admin = self.kit.model_admin(table)
        allowed = await self.kit.permissions(request, session, model_admin)
        if not allowed["change"]:
            await self.kit.require(request, session, model_admin, "view")
        model_form = self.model_form(model_admin)
        found = model_form.fields.get(field)
        shown = {name for _, group in model_form.layout() for name in group}
        if found is None or found.kind != "file" or field not in shown:
            raise HTTPException(404, f"The {model_admin.verbose_name} has no file field {field!r}.")
        obj = await self.kit.get_object(session, model_admin, self.kit.ident(model_admin, pk))
        content = getattr(obj, field)
        if content is None:
            raise HTTPException(404, f"The {model_admin.verbose_name} holds no {found.label}.")
        filename = _safe_filename(f"{table}-{pk}-{field}.bin")
        return Response(
            bytes(content),
            media_type="application/octet-stream",
            headers={
                "content-disposition": f'attachment; filename="{filename}"',
                "x-content-type-options": "nosniff",
                "cache-control": "private, no-store",
            },
        )

    # Delete ------------------------------------------------------------------------------

    async def delete(
        self, request: Request, session: AsyncSession, table: str, pk: str
    ) -> Response:
        """List what deleting a row takes with it (or what stops it), then delete it."""
        model_admin = self.kit.model_admin(table)
        allowed = await self.kit.require(request, session, model_admin, "delete")
        obj = await self.kit.get_object(session, model_admin, self.kit.ident(model_admin, pk))
        deletion = await session.run_sync(plan_deletion, obj)
        name = str(await session.run_sync(lambda _: model_admin.object_repr(obj)))
        forbidden = await self.kit.forbidden(request, session, [deletion])
        refused = None
        if request.method == "POST" and not deletion.is_blocked and not forbidden:
            try:
                async with atomic(session):
                    await session.run_sync(deletion.perform, request.user, name)
            except IntegrityError:
                refused = DELETE_REFUSED.format(noun=model_admin.verbose_name)
            else:
                noun = model_admin.verbose_name
                flash(request, f"The {noun} “{name}” was deleted.", "success")
                return RedirectResponse(self.admin.url(table), SEE_OTHER)
        status = CONFLICT if request.method == "POST" else 200
        return self.kit.render(
            request,
            "delete.html",
            {
                "model_admin": model_admin,
                "allowed": allowed,
                "object_repr": name,
                "deletion": deletion,
                "forbidden": forbidden,
                "refused": refused,
                "urls": {
                    "list": self.admin.url(table),
                    "object": self.admin.url(table, pk),
                },
            },
            status_code=status,
        )

    # History -----------------------------------------------------------------------------

    async def history(
        self, request: Request, session: AsyncSession, table: str, pk: str
    ) -> Response:
        """List a row's recorded actions, newest first, with each field's old and new value.

        The history of a deleted row stays readable.
        """
        model_admin = self.kit.model_admin(table)
        allowed = await self.kit.require(request, session, model_admin, "view")
        ident = self.kit.ident(model_admin, pk)
        entries = await history_of(session, model_admin.model, ident, limit=MAX_HISTORY)
        obj = await session.get(model_admin.model, ident)
        if obj is None and not entries:
            raise HTTPException(404, f"No {model_admin.verbose_name} has this id.")
        if obj is not None:
            name = str(await session.run_sync(lambda _: model_admin.object_repr(obj)))
        else:
            name = entries[0].object_repr
        model_form = self.model_form(model_admin)
        names = await session.run_sync(_related_names, model_form, entries)
        rows = []
        for entry in entries:
            changes = []
            for change in entry.changes or []:
                if not isinstance(change, dict):
                    continue
                field = model_form.name_of(str(change.get("field", "")))
                known = model_form.fields.get(field)
                labels = names.get(field, {})
                changes.append(
                    {
                        "field": known.label if known is not None else label_of(field),
                        "old": _named(change.get("old"), labels, known),
                        "new": _named(change.get("new"), labels, known),
                    }
                )
            rows.append(
                {
                    "time": format_time(entry.action_time),
                    "iso": entry.action_time.isoformat(),
                    "user": entry.user_repr or "Someone",
                    "action": entry.action,
                    "message": entry.message,
                    "changes": changes,
                }
            )
        return self.kit.render(
            request,
            "history.html",
            {
                "model_admin": model_admin,
                "allowed": allowed,
                "object_repr": name,
                "entries": rows,
                "exists": obj is not None,
                "urls": {
                    "list": self.admin.url(table),
                    "object": self.admin.url(table, pk),
                },
            },
        )


def _safe_filename(name: str) -> str:
    """Return ``name`` with only letters, digits, dots, dashes and underscores, for a header."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:150]


def _identity(obj: Any) -> Any:
    """Return the primary key of a stored row."""
    identity = sa_inspect(obj).identity
    return identity[0] if identity else None


def _editable(
    model_form: ModelForm, layout: list[tuple[str | None, list[str]]], mode: str, user: Any
) -> list[str]:
    """Return the fields of ``layout`` that ``user`` may set on the ``mode`` page."""
    names = model_form.editable([name for _, group in layout for name in group], mode)
    locked = model_form.model_admin.readonly_fields_for(user)
    return [name for name in names if name not in locked]


def format_time(moment: datetime) -> str:
    """Return a recorded time as people read it, in UTC: ``21 Nov 2026, 17:35 UTC``."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"


def _related_names(
    session: Session, model_form: ModelForm, entries: Sequence[Any]
) -> dict[str, dict[str, str]]:
    """Return the names of the related rows the entries' changes point at, by field and id.

    One query per related model, whatever the number of entries; a row
    deleted since keeps showing its id.
    """
    wanted: dict[str, set[str]] = {}
    for entry in entries:
        for change in entry.changes or []:
            if not isinstance(change, dict):
                continue
            field = model_form.fields.get(model_form.name_of(str(change.get("field", ""))))
            if field is None or not field.is_related:
                continue
            for value in (change.get("old"), change.get("new")):
                values = value if isinstance(value, list) else [value]
                found = wanted.setdefault(field.name, set())
                found.update(str(item) for item in values if item is not None)
    names: dict[str, dict[str, str]] = {}
    for name, idents in wanted.items():
        field = model_form.fields[name]
        key = field.related_key
        if not idents or key is None or field.related_model is None:
            continue
        parsed = _parse_known(idents, key)
        if not parsed:
            continue
        rows = session.scalars(select(field.related_model).where(key.in_(parsed)))
        names[name] = {str(getattr(row, key.key)): str(row) for row in rows}
    return names


def _parse_known(idents: set[str], key: Column[Any]) -> list[Any]:
    """Return the ids of ``idents`` that fit the key's type, leaving the others out."""
    python_type: Any = str
    with contextlib.suppress(NotImplementedError):
        python_type = key.type.python_type
    parsed = []
    for ident in idents:
        with contextlib.suppress(ValueError, TypeError):
            parsed.append(python_type(ident))
    return parsed


def _named(value: Any, labels: dict[str, str], field: FormField | None) -> str:
    """Return a change's value as text, related ids as the related rows' names."""
    if field is not None and field.kind == "datetime" and isinstance(value, str):
        with contextlib.suppress(ValueError):
            return format_time(datetime.fromisoformat(value))
    if field is None or not field.is_related or value is None:
        return _shown(value)
    values = value if isinstance(value, list) else [value]
    return ", ".join(labels.get(str(item), str(item)) for item in values) or "-"


def _shown(value: Any) -> str:
    """Return a stored history value as text: ``-`` for nothing, JSON for lists and dicts."""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return display_value(value)


def _refusal(
    session: Session, model_form: ModelForm, values: dict[str, Any], ident: Any
) -> tuple[str | None, str]:
    """Return the field and the message of a save the database refused; sync only.

    A value that must be unique and is taken names its field; anything else
    is an error of the whole form.
    """
    model_admin = model_form.model_admin
    noun = model_admin.verbose_name
    table = model_form.mapper.local_table
    key = primary_key_of(model_admin.model)
    for columns in unique_groups(table):
        fields = []
        for column in columns:
            prop = model_form.mapper.get_property_by_column(column)
            name = model_form.name_of(prop.key)
            if name not in values:
                break
            fields.append(name)
        else:
            conditions = []
            for column, name in zip(columns, fields, strict=True):
                value = values[name]
                if model_form.fields[name].kind == "foreign_key" and value is not None:
                    related = model_form.fields[name].related_key
                    value = getattr(value, related.key) if related is not None else value
                conditions.append(column == value)
            if ident is not None and key is not None:
                conditions.append(key != ident)
            statement = select(func.count()).select_from(table).where(*conditions)
            if session.scalar(statement):
                labels = " and ".join(model_form.fields[name].label.lower() for name in fields)
                message = f"{_article(noun)} {noun} with this {labels} already exists."
                first = model_form.fields[fields[0]].internal_name
                return (first if len(fields) == 1 else None), message
    return None, SAVE_REFUSED.format(noun=noun)
