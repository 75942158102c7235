"""Inline rows edited in place on the parent's add and edit pages.

Each ``Inline`` of a model becomes an ``InlineFormSet``: a form per row that
points at the edited row (at most ``max_rows``), then ``extra`` blank rows
to add new ones. The fields of row ``i`` of the table ``adm_note`` are sent
as ``adm_note-<i>-<field>``, with the row's id in ``adm_note-<i>-id`` and a
``adm_note-<i>-DELETE`` checkbox for the rows that exist. A blank row left
as it was is ignored. Rows follow the inline model's add, change and delete
permissions when it is registered, else the parent's permission of the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from sqlalchemy import Column, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from carboy.admin._paths import primary_key_of, unique_groups
from carboy.admin._widgets import RelatedForm, RelatedOptions, RelatedWidget
from carboy.admin.history import DELETE, record
from carboy.admin.inlines import default_fields, inline_key
from carboy.admin.modelforms import ModelForm
from carboy.admin.options import Inline, ModelAdmin
from carboy.exceptions import HTTPException
from carboy.formparsers import FormData
from carboy.forms import FORM_ERRORS

if TYPE_CHECKING:
    from carboy.forms import AttrValue
    from carboy.requests import Request

__all__ = [
    "STALE_ROW",
    "InlineFormSet",
    "InlineRow",
    "RowRefused",
    "bind_rows",
    "clean_rows",
    "existing_rows",
    "mark_repeated_rows",
    "plan_formset",
    "save_rows",
]

STALE_ROW = (
    "An inline row changed since the page was shown: its id is not one of the rows it lists. "
    "Reload the page and try again."
)


class _Prefixed:
    """A request whose form is the fields of one inline row, the prefix taken off."""

    def __init__(
        self, request: Request, form_data: FormData, prefix: str, aliases: dict[str, str]
    ) -> None:
        self._request = request
        start = f"{prefix}-"
        self._form = FormData(
            [
                (aliases[key[len(start) :]], value)
                for key, value in form_data.multi_items()
                if key.startswith(start) and key[len(start) :] in aliases
            ]
        )

    async def form(self) -> FormData:
        return self._form

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


class RowRefused(Exception):
    """The database refused an inline row; raised out of ``save_rows`` to undo the whole save.

    Attributes:
        formset: The row's form set.
        row: The row refused.
        values: Its values, with the key that points at the parent, to find
            which unique value is taken.
    """

    def __init__(self, formset: InlineFormSet, row: InlineRow, values: dict[str, Any]) -> None:
        super().__init__(f"the database refused a row of {formset.table}")
        self.formset = formset
        self.row = row
        self.values = values


@dataclass
class InlineRow:
    """One row of an inline: an existing row (``obj``) or a blank one to add.

    Attributes:
        prefix: The start of its fields' names: ``adm_note-0``.
        obj: The row, ``None`` for a blank one.
        form: Its bound form; ``None`` for a row shown but not editable.
        pk: The row's id, ``None`` for a blank one.
        is_deleted: Whether its Delete box is ticked.
        is_ignored: Whether it is a blank row left as it was.
        cells: Its values as text, for a row shown only.
        changed: The fields whose sent text differs from the row's.
    """

    prefix: str
    obj: Any
    form: RelatedForm | None
    pk: Any = None
    is_deleted: bool = False
    is_ignored: bool = False
    cells: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


@dataclass
class InlineFormSet:
    """The forms of one ``Inline`` on a parent's page.

    Attributes:
        inline: The options.
        model_form: The planned fields of the inline's model.
        key: The foreign key that points at the parent.
        names: The fields edited, by name.
        title: The heading.
        rows: The existing rows, then the blank ones.
        can_add, can_change, can_delete: What the user may do with the rows.
    """

    inline: type[Inline]
    model_form: ModelForm
    key: Column[Any]
    names: list[str]
    title: str
    rows: list[InlineRow]
    can_add: bool
    can_change: bool
    can_delete: bool

    @property
    def table(self) -> str:
        """The inline model's table, the start of its fields' names."""
        name: str = self.model_form.model.__table__.name
        return name

    @property
    def headers(self) -> list[str]:
        """The fields' labels."""
        return [self.model_form.fields[name].label for name in self.names]

    @property
    def has_errors(self) -> bool:
        """Whether a row that is saved has an error, or a row was refused as a whole."""
        return any(
            (row.form is not None and row.form.errors and not row.is_deleted and not row.is_ignored)
            or self.row_errors(row)
            for row in self.rows
        )

    def field_name(self, row: InlineRow, name: str) -> str:
        """Return the HTML name of a field of ``row``: ``adm_note-0-text``."""
        return f"{row.prefix}-{name}"

    def value(self, row: InlineRow, name: str) -> Any:
        """Return the text a field of ``row`` holds."""
        if row.form is None:
            return ""
        return row.form.values.get(self.model_form.fields[name].internal_name, "")

    def error(self, row: InlineRow, name: str) -> list[str]:
        """Return the errors of a field of ``row``."""
        if row.form is None or row.is_deleted or row.is_ignored:
            return []
        found = row.form.errors.get(self.model_form.fields[name].internal_name, [])
        return list(found)

    def row_errors(self, row: InlineRow) -> list[str]:
        """Return the errors of ``row`` as a whole, such as a refusal of the database."""
        if row.form is None or row.is_ignored:
            return []
        return list(row.form.errors.get(FORM_ERRORS, []))

    def kind(self, name: str) -> str:
        """Return a field's kind, such as ``boolean``."""
        return self.model_form.fields[name].kind

    def is_select(self, row: InlineRow, name: str) -> bool:
        """Whether a field of ``row`` is drawn as a select of the related rows."""
        if row.form is None or not self.model_form.fields[name].is_related:
            return False
        options = row.form.related.get(self.model_form.fields[name].internal_name)
        return options is not None and not options.is_search

    def select(self, row: InlineRow, name: str) -> Markup:
        """Return the select of a related field of ``row``, named for the row."""
        field = self.model_form.fields[name]
        if row.form is None:
            return Markup("")
        html_name = self.field_name(row, name)
        attrs: dict[str, AttrValue] = {
            "name": html_name,
            "id": html_name,
            "aria-label": field.label,
        }
        if self.error(row, name):
            attrs["aria-invalid"] = "true"
        return RelatedWidget().render(row.form[field.internal_name], self.value(row, name), attrs)

    def load_options(self, session: Session) -> None:
        """Put on each row's form the rows its related fields offer; sync only.

        The options are read once for the first row and shared by the
        others, so the queries do not grow with the rows. A field too big
        for a select stays a text input taking ids.
        """
        forms = [row.form for row in self.rows if row.form is not None]
        related = [name for name in self.names if self.model_form.fields[name].is_related]
        if not forms or not related:
            return
        first, *others = forms
        self.model_form.load_options(session, first, related)
        for name in related:
            internal = self.model_form.fields[name].internal_name
            options = first.related.get(internal, RelatedOptions(is_search=True))
            shared = options if not options.is_search else RelatedOptions(is_search=True)
            for form in others:
                form.related[internal] = shared


def plan_formset(
    inline: type[Inline], parent: type[Any], permissions: dict[str, bool]
) -> InlineFormSet | None:
    """Return the empty form set of ``inline`` on ``parent``'s pages, without rows yet."""
    column = inline_key(inline, parent)
    model = inline.model
    if column is None or model is None or not inline.is_editable:
        return None
    model_form = ModelForm(ModelAdmin(model))
    key_name = model_form.name_of(column.key)
    wanted = [model_form.name_of(name) for name in inline.fields or default_fields(model, column)]
    # Files are uploaded on the row's own page: an inline table cell holds text.
    names = [
        name
        for name in model_form.editable(wanted, "change")
        if name not in (key_name, column.key) and model_form.fields[name].kind != "file"
    ]
    title = inline.title or ModelAdmin(model).verbose_name_plural.capitalize()
    return InlineFormSet(
        inline,
        model_form,
        column,
        names,
        title,
        [],
        permissions["add"],
        permissions["change"],
        permissions["delete"],
    )


def existing_rows(session: Session, formset: InlineFormSet, parent: Any) -> list[Any]:
    """Return the rows that point at ``parent``, at most ``max_rows``; sync only."""
    if parent is None or sa_inspect(parent).identity is None:
        return []
    target = next(iter(formset.key.foreign_keys)).column
    value = getattr(parent, sa_inspect(type(parent)).get_property_by_column(target).key)
    model = formset.model_form.model
    own_key = primary_key_of(model)
    order = [own_key] if own_key is not None else []
    statement = (
        select(model).where(formset.key == value).order_by(*order).limit(formset.inline.max_rows)
    )
    return list(session.scalars(statement))


def _blank_count(formset: InlineFormSet, existing: int) -> int:
    if not formset.can_add:
        return 0
    return max(0, min(formset.inline.extra, formset.inline.max_rows - existing))


async def bind_rows(
    request: Request,
    formset: InlineFormSet,
    rows: list[Any],
    initials: list[dict[str, Any]],
    *,
    is_sent: bool,
) -> None:
    """Make the forms of ``formset``'s rows: blank ones, or those the request sends."""
    model_form = formset.model_form
    names = formset.names
    change_class = model_form.form_class(names, "change")
    add_class = model_form.form_class(names, "add")
    # A field's HTML name is its model name; its name in the form class is internal.
    aliases = {name: name for name in names}
    internal = {name: model_form.fields[name].internal_name for name in names}
    form_data = await request.form() if is_sent else None
    key = primary_key_of(model_form.model)
    table = formset.table
    for index, (obj, initial) in enumerate(zip(rows, initials, strict=True)):
        prefix = f"{table}-{index}"
        pk = getattr(obj, key.key) if key is not None else None
        row = InlineRow(prefix, obj, None, pk)
        blank = change_class.blank(request, initial=initial)
        if form_data is not None:
            if form_data.get(f"{prefix}-id") != str(pk):
                raise HTTPException(400, STALE_ROW)
            row.is_deleted = formset.can_delete and form_data.get(f"{prefix}-DELETE") is not None
        if not formset.can_change:
            row.cells = [str(initial.get(internal[name], "")) for name in names]
        elif form_data is not None:
            prefixed: Any = _Prefixed(request, form_data, prefix, aliases)
            row.form = RelatedForm.wrap(await change_class.from_request(prefixed))
            row.changed = model_form.changed(row.form, blank.values, names)
        else:
            row.form = RelatedForm.wrap(blank)
        formset.rows.append(row)
    defaults = model_form.defaults(names)
    for index in range(len(rows), len(rows) + _blank_count(formset, len(rows))):
        prefix = f"{table}-{index}"
        blank = add_class.blank(request, initial=defaults)
        row = InlineRow(prefix, None, RelatedForm.wrap(blank))
        if form_data is not None:
            prefixed = _Prefixed(request, form_data, prefix, aliases)
            row.form = RelatedForm.wrap(await add_class.from_request(prefixed))
            row.is_ignored = not model_form.changed(row.form, blank.values, names)
        formset.rows.append(row)


def clean_rows(session: Session, formsets: list[InlineFormSet]) -> list[dict[str, Any]]:
    """Read each saved row's values, related ids as rows; errors go on its form; sync only."""
    cleaned = []
    for formset in formsets:
        for row in formset.rows:
            values: dict[str, Any] = {}
            form = row.form
            if form is not None and not row.is_deleted and not row.is_ignored and form.is_valid:
                values = formset.model_form.clean(session, form, formset.names)
            cleaned.append(values)
    return cleaned


def mark_repeated_rows(formsets: list[InlineFormSet], cleaned: list[dict[str, Any]]) -> None:
    """Put an error on each row whose unique values repeat those of a row above it.

    The database would refuse the second row anyway, but only after the first
    was written, and it could not say which row it meant; this names both the
    row and the field before anything is saved. ``cleaned`` is what
    ``clean_rows`` returned for the same form sets.
    """
    values_of = iter(cleaned)
    for formset in formsets:
        rows = [(row, next(values_of)) for row in formset.rows]
        model_form = formset.model_form
        for columns in unique_groups(model_form.mapper.local_table):
            # Every row has the same parent: the key that points at it never differs.
            names = [
                model_form.name_of(model_form.mapper.get_property_by_column(column).key)
                for column in columns
                if column is not formset.key
            ]
            if not names or any(name not in model_form.fields for name in names):
                continue
            seen: set[tuple[Any, ...]] = set()
            for row, values in rows:
                if row.form is None or not values or row.is_deleted or row.is_ignored:
                    continue
                found = tuple(_comparable(model_form, name, values.get(name)) for name in names)
                if None in found:
                    continue  # NULL equals nothing, itself included
                if found not in seen:
                    seen.add(found)
                    continue
                labels = " and ".join(model_form.fields[name].label.lower() for name in names)
                noun = model_form.model_admin.verbose_name
                field_name = model_form.fields[names[0]].internal_name if len(names) == 1 else None
                row.form.add_error(
                    field_name, f"Another {noun} above has the same {labels}, which must be unique."
                )


def _comparable(model_form: ModelForm, name: str, value: Any) -> Any:
    """Return a value as the database compares it: a related row by its key."""
    field = model_form.fields[name]
    if field.kind == "foreign_key" and value is not None and field.related_key is not None:
        return getattr(value, field.related_key.key)
    return value


def save_rows(
    session: Session,
    formsets: list[InlineFormSet],
    cleaned: list[dict[str, Any]],
    parent: Any,
    user: Any,
) -> None:
    """Add, change and delete the inline rows of ``parent``, each recorded; sync only."""
    values_of = iter(cleaned)
    for formset in formsets:
        target = next(iter(formset.key.foreign_keys)).column
        parent_value = getattr(parent, sa_inspect(type(parent)).get_property_by_column(target).key)
        mapper = sa_inspect(formset.model_form.model)
        key_attribute = mapper.get_property_by_column(formset.key).key
        key_name = formset.model_form.name_of(key_attribute)
        for row in formset.rows:
            values = next(values_of)
            if row.is_ignored or row.form is None:
                continue
            try:
                _save_row(session, formset, row, values, key_attribute, parent_value, user)
            except (IntegrityError, DataError) as exc:
                raise RowRefused(formset, row, {**values, key_name: parent}) from exc


def _save_row(
    session: Session,
    formset: InlineFormSet,
    row: InlineRow,
    values: dict[str, Any],
    key_attribute: str,
    parent_value: Any,
    user: Any,
) -> None:
    if row.is_deleted:
        record(session, user, DELETE, row.obj)
        session.delete(row.obj)
        session.flush()
        return
    if row.obj is None:
        obj = formset.model_form.model()
        setattr(obj, key_attribute, parent_value)
        formset.model_form.save(session, obj, values, user, is_new=True)
        return
    changed = {name: value for name, value in values.items() if name in row.changed}
    formset.model_form.save(session, row.obj, changed, user, is_new=False)
