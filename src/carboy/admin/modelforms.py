"""The add and edit forms of a model, planned from its columns and relationships.

``ModelForm`` is made once per registered model, on first use. It plans a
``FormField`` for each column and relationship, lays them out as the
``ModelAdmin`` asks (``fields``, ``fieldsets``, ``exclude``,
``readonly_fields``), and builds a ``carboy.forms.Form`` subclass for the
editable ones, so that the fields are drawn and parsed as every carboy form
is: labels, ``aria-invalid`` and ``aria-describedby``, values kept on errors.

============================== ============================================
column or relationship         widget
============================== ============================================
String (255 or fewer)          text (email for a column named ``email``)
Text, longer String            textarea
Integer, Numeric, Float        number
Date, DateTime, Time           date, datetime-local, time
Boolean                        checkbox
Enum, ``info={"choices": ...}`` select
JSON                           textarea, checked to hold JSON
many-to-one                    select of the related rows, or a search box
                               taking the id for ``autocomplete_fields`` and
                               tables of more than 1,000 rows
many-to-many                   multiple select, or a search box of ids
LargeBinary (and other bytes)  file input; left empty, the file is kept
============================== ============================================

Primary keys the database makes, automatic timestamps (a date column with a
default made on insert, or any column with ``onupdate``), columns holding
secrets and types no input holds are shown, never edited. A nullable column
left empty is stored as NULL; a column with a default is filled with it on
the add page. A file input left empty keeps the stored file; a nullable
file column is emptied by its "Clear" box.

The database work runs in ``AsyncSession.run_sync``, so that ``str()`` of a
row may read its relationships.
"""

from __future__ import annotations

import datetime
import enum
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, create_model
from sqlalchemy import JSON, BigInteger, Column, Integer, SmallInteger, Text, func, select
from sqlalchemy import Enum as SAEnum
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import ColumnProperty, Mapper, RelationshipProperty, Session
from sqlalchemy.orm.interfaces import MANYTOONE

from carboy.admin._paths import primary_key_of
from carboy.admin._widgets import (
    CLEAR_SUFFIX,
    AdminFileInput,
    RelatedForm,
    RelatedOptions,
    RelatedWidget,
)
from carboy.admin.history import (
    ADD,
    CHANGE,
    MASK,
    LogEntry,
    changes_between,
    is_secret,
    record,
    snapshot,
)
from carboy.admin.listing import display_value
from carboy.admin.options import ModelAdmin, label_of
from carboy.formparsers import FormData, UploadFile
from carboy.forms import DateTimeInput, Form, Select, Textarea, TimeInput

__all__ = [
    "MAX_SELECT_ROWS",
    "NO_FILE",
    "NO_SUCH_ROW",
    "NO_SUCH_ROWS",
    "AdminForm",
    "FormField",
    "ModelForm",
    "integer_bound",
]

MAX_SELECT_ROWS = 1000
"""The most related rows a select lists; past it the field is a search box taking ids."""

NO_SUCH_ROW = "Select a valid choice: no {model} has the id {ident}."
NO_SUCH_ROWS = "Select valid choices: no {model} has the id {idents}."
NO_FILE = "Choose a file: this field needs one."

_INTEGER_BOUNDS = {SmallInteger: 2**15, BigInteger: 2**63, Integer: 2**31}


def integer_bound(column: Column[Any]) -> int:
    """Return the first whole number too big for an integer column: ``2**31`` for Integer.

    Values are checked against it before they reach the database, which
    would refuse them with an error rather than find no row.
    """
    for integer_type, bound in _INTEGER_BOUNDS.items():
        if isinstance(column.type, integer_type):
            return bound
    return 2**63


def _key_item(key: Column[Any] | None) -> Any:
    """Return the type of a related row's id in a form: bounded, for a whole number."""
    python = key.type.python_type if key is not None else int
    if python is int:
        bound = integer_bound(key) if key is not None else 2**63
        return Annotated[int, Field(ge=-bound, le=bound - 1)]
    return python


_LONG_TEXT = 255


class AdminForm(Form):
    """The base of every admin form, with messages for the constraints columns bring."""

    error_messages: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            "string_too_long": "Enter at most {max_length} characters.",
            "greater_than_equal": "Enter a number from {ge}.",
            "less_than_equal": "Enter a number up to {le}.",
            "decimal_max_digits": "Enter at most {max_digits} digits.",
            "decimal_max_places": "Enter at most {decimal_places} decimal places.",
            "decimal_whole_digits": "Enter at most {whole_digits} digits before the decimal point.",
            "finite_number": "Enter a finite number.",
            "uuid_parsing": "Enter a valid UUID.",
            "bool_parsing": "Tick the box or leave it empty.",
        }
    )


def _parse_json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"Enter valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None


_JSON = Annotated[object, BeforeValidator(_parse_json), Textarea(rows=8, spellcheck="false")]


@dataclass(frozen=True)
class FormField:
    """One column or relationship of a model, as the add and edit pages see it.

    Attributes:
        name: The attribute: ``"title"``, ``"author"`` (for ``author_id``), ``"tags"``.
        label: What the page calls it.
        kind: ``text``, ``textarea``, ``integer``, ``float``, ``decimal``,
            ``boolean``, ``date``, ``datetime``, ``time``, ``uuid``,
            ``choice``, ``json``, ``file``, ``foreign_key``,
            ``many_to_many``; or, for what is only shown, ``secret``,
            ``related`` and ``other``.
        column: The column, for every kind but the relationships' lists.
        relationship: The relationship of a ``foreign_key`` or ``many_to_many``.
        related_model: The model the relationship points to.
        is_editable: Whether a form can change it.
        is_auto: Whether the database or the ORM fills it (keys, timestamps):
            left off the pages unless named.
        note: Why it is shown but not edited.
    """

    name: str
    label: str
    kind: str
    column: Column[Any] | None = None
    relationship: RelationshipProperty[Any] | None = None
    related_model: type[Any] | None = None
    is_editable: bool = True
    is_auto: bool = False
    note: str = ""

    @property
    def internal_name(self) -> str:
        """The field's name in the form class: prefixed, so that no column shadows pydantic."""
        return f"f_{self.name}"

    @property
    def is_related(self) -> bool:
        """Whether the field holds related rows."""
        return self.kind in ("foreign_key", "many_to_many")

    @property
    def related_key(self) -> Column[Any] | None:
        """The primary key of the related model."""
        return primary_key_of(self.related_model) if self.related_model is not None else None


def _python_type(column: Column[Any]) -> Any:
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


def _is_auto(column: Column[Any]) -> bool:
    if column.onupdate is not None or column.server_onupdate is not None:
        return True
    if column.computed is not None or column.identity is not None:
        return True
    has_default = column.server_default is not None or (
        column.default is not None and not column.default.is_scalar
    )
    if column.primary_key:
        return (
            column.autoincrement is True
            or (column.autoincrement == "auto" and _python_type(column) is int)
            or has_default
        )
    return has_default and _python_type(column) in (datetime.datetime, datetime.date)


def _column_kind(column: Column[Any]) -> tuple[str, str]:
    """Return the kind of a column's field, and why it cannot be edited, if it cannot."""
    column_type = column.type
    if isinstance(column_type, SAEnum) or column.info.get("choices"):
        return "choice", ""
    if isinstance(column_type, JSON):
        return "json", ""
    python = _python_type(column)
    if python is str:
        length = getattr(column_type, "length", None)
        long = isinstance(column_type, Text) or length is None or length > _LONG_TEXT
        return ("textarea" if long else "text"), ""
    kinds = {
        bool: "boolean",
        int: "integer",
        float: "float",
        Decimal: "decimal",
        datetime.datetime: "datetime",
        datetime.date: "date",
        datetime.time: "time",
        uuid.UUID: "uuid",
    }
    if python in kinds:
        return kinds[python], ""
    if python in (bytes, bytearray, memoryview):
        return "file", ""
    return "other", "This kind of field cannot be changed in the administration."


class ModelForm:
    """The add and edit forms of one registered model.

    Args:
        model_admin: The model's options.
    """

    def __init__(self, model_admin: ModelAdmin) -> None:
        self.model_admin = model_admin
        self.model = model_admin.model
        mapper: Mapper[Any] = sa_inspect(self.model)
        self.mapper = mapper
        self.fields: dict[str, FormField] = {}
        self._aliases: dict[str, str] = {}
        self._plan()
        self._classes: dict[tuple[str, tuple[str, ...]], type[AdminForm]] = {}

    # Planning ----------------------------------------------------------------------------

    def _plan(self) -> None:
        to_one: dict[str, RelationshipProperty[Any]] = {}
        for relationship in self.mapper.relationships:
            if relationship.viewonly or relationship.direction is not MANYTOONE:
                continue
            columns = list(relationship.local_columns)
            if len(columns) == 1 and columns[0].key not in to_one:
                to_one[str(columns[0].key)] = relationship
        for prop in self.mapper.column_attrs:
            column = prop.columns[0] if isinstance(prop, ColumnProperty) else None
            if not isinstance(column, Column) or column.table is not self.mapper.local_table:
                label = label_of(prop.key)
                self.fields[prop.key] = FormField(prop.key, label, "other", is_editable=False)
                continue
            to_one_over = to_one.get(str(column.key))
            if to_one_over is not None:
                self._plan_to_one(prop.key, column, to_one_over)
                continue
            self.fields[prop.key] = self._column_field(prop.key, column)
        for relationship in self.mapper.relationships:
            if relationship.key in self.fields:
                continue
            target = relationship.mapper.class_
            is_many = relationship.secondary is not None and relationship.uselist
            if is_many and not relationship.viewonly and primary_key_of(target) is not None:
                self.fields[relationship.key] = FormField(
                    relationship.key,
                    label_of(relationship.key),
                    "many_to_many",
                    relationship=relationship,
                    related_model=target,
                )
            else:
                self.fields[relationship.key] = FormField(
                    relationship.key,
                    label_of(relationship.key),
                    "related",
                    relationship=relationship,
                    related_model=target,
                    is_editable=False,
                    is_auto=True,
                )

    def _plan_to_one(
        self, key: str, column: Column[Any], relationship: RelationshipProperty[Any]
    ) -> None:
        target = relationship.mapper.class_
        name = relationship.key
        editable = primary_key_of(target) is not None and not column.primary_key
        self.fields[name] = FormField(
            name,
            label_of(name),
            "foreign_key",
            column=column,
            relationship=relationship,
            related_model=target,
            is_editable=editable,
            note="" if editable else "This relationship cannot be changed in the administration.",
        )
        self._aliases[key] = name

    def _column_field(self, key: str, column: Column[Any]) -> FormField:
        label = label_of(key)
        if is_secret(key):
            return FormField(
                key, label, "secret", column, is_editable=False, note="Secrets are never shown."
            )
        kind, note = _column_kind(column)
        if kind == "integer" and column.foreign_keys:
            target = self._model_of_table(column)
            if target is not None:
                return FormField(key, label, "foreign_key", column, related_model=target)
        return FormField(
            key, label, kind, column, is_editable=not note, is_auto=_is_auto(column), note=note
        )

    def _model_of_table(self, column: Column[Any]) -> type[Any] | None:
        foreign_key = next(iter(column.foreign_keys))
        for mapper in self.mapper.registry.mappers:
            if mapper.local_table is foreign_key.column.table:
                model: type[Any] = mapper.class_
                return model if primary_key_of(model) is not None else None
        return None

    def name_of(self, name: str) -> str:
        """Return the field an option's name means: ``author_id`` is the field ``author``."""
        return self._aliases.get(name, name)

    # Layout ------------------------------------------------------------------------------

    def layout(self) -> list[tuple[str | None, list[str]]]:
        """Return the fieldsets: ``(title or None, field names)``, as the options ask.

        ``fieldsets`` first, then ``fields``, then every field that is not
        filled by the database, in the model's order; ``readonly_fields`` not
        listed yet are added at the end. ``exclude`` is applied to all.
        """
        options = self.model_admin
        sets: list[tuple[str | None, list[str]]]
        if options.fieldsets:
            sets = [(title, list(names)) for title, names in options.fieldsets]
        elif options.fields:
            sets = [(None, list(options.fields))]
        else:
            names = [name for name, field in self.fields.items() if not field.is_auto]
            names += [name for name in options.readonly_fields if self.name_of(name) not in names]
            sets = [(None, names)]
        excluded = {self.name_of(name) for name in options.exclude}
        laid_out: list[tuple[str | None, list[str]]] = []
        for title, names in sets:
            kept = list(dict.fromkeys(self.name_of(name) for name in names))
            laid_out.append((title, [name for name in kept if name not in excluded]))
        return laid_out

    def editable(self, names: Sequence[str], mode: str) -> list[str]:
        """Return which of ``names`` the form of ``mode`` (``add`` or ``change``) edits."""
        readonly = {self.name_of(name) for name in self.model_admin.readonly_fields}
        found = []
        for name in names:
            field = self.fields.get(name)
            if field is None or not field.is_editable or name in readonly:
                continue
            column = field.column
            if field.is_auto or (column is not None and column.primary_key and mode == "change"):
                continue
            found.append(name)
        return found

    # The form class ----------------------------------------------------------------------

    def form_class(self, names: Sequence[str], mode: str) -> type[AdminForm]:
        """Return the form that edits ``names`` on the page of ``mode``; made once, then kept."""
        key = (mode, tuple(names))
        found = self._classes.get(key)
        if found is None:
            definitions: dict[str, Any] = {
                self.fields[name].internal_name: self._definition(self.fields[name], mode)
                for name in names
            }
            found = create_model(
                f"{self.model.__name__}AdminForm", __base__=AdminForm, **definitions
            )
            self._classes[key] = found
        return found

    def _definition(self, field: FormField, mode: str) -> tuple[Any, Any]:
        column = field.column
        options: dict[str, Any] = {"alias": field.name, "title": field.label}
        if field.kind == "many_to_many":
            item = _key_item(field.related_key)
            annotated = Annotated[list[item], RelatedWidget()]  # type: ignore[valid-type]
            return annotated, Field(default_factory=list, **options)
        if column is None:
            raise ValueError(f"The field {field.name!r} has no column to edit.")
        if field.kind == "file":
            # Always optional: an input left empty keeps the stored file.
            return Annotated[UploadFile, AdminFileInput()] | None, Field(None, **options)
        annotation = self._annotation(field, column, options)
        scalar, value = _scalar_default(column)
        if field.kind == "boolean":
            return annotation, Field(bool(value), **options)
        made_on_insert = column.server_default is not None or (
            column.default is not None and not scalar
        )
        if column.nullable:
            return annotation | None, Field(value, **options)
        if scalar:
            return annotation, Field(value, **options)
        if made_on_insert and mode == "add":
            # Left empty, the column's own default fills it.
            return annotation | None, Field(None, **options)
        return annotation, Field(**options)

    def _annotation(self, field: FormField, column: Column[Any], options: dict[str, Any]) -> Any:
        kind = field.kind
        column_type = column.type
        if kind == "foreign_key":
            return Annotated[_key_item(field.related_key), RelatedWidget()]
        if kind == "json":
            return _JSON
        if kind == "choice":
            return self._choice_annotation(column)
        if kind in ("text", "textarea"):
            length = getattr(column_type, "length", None)
            if length:
                options["max_length"] = length
            return Annotated[str, Textarea(rows=6)] if kind == "textarea" else str
        if kind == "integer":
            bound = integer_bound(column)
            options.update(ge=-bound, le=bound - 1)
            return int
        if kind == "decimal":
            precision = getattr(column_type, "precision", None)
            scale = getattr(column_type, "scale", None)
            if precision is not None:
                options["max_digits"] = precision
                options["decimal_places"] = scale or 0
            options["allow_inf_nan"] = False
            return Decimal
        if kind == "float":
            options["allow_inf_nan"] = False
            return float
        if kind == "datetime":
            return Annotated[datetime.datetime, DateTimeInput(step=1)]
        if kind == "time":
            return Annotated[datetime.time, TimeInput(step=1)]
        python: Any = {"boolean": bool, "date": datetime.date, "uuid": uuid.UUID}[kind]
        return python

    def _choice_annotation(self, column: Column[Any]) -> Any:
        given = column.info.get("choices")
        if given:
            pairs = [
                (item[0], str(item[1])) if isinstance(item, tuple | list) else (item, str(item))
                for item in given
            ]
            values = tuple(value for value, _ in pairs)
            labels = [(_choice_text(value), label) for value, label in pairs]
            return Annotated[Literal[values], Select(choices=labels)]
        column_type = column.type
        if isinstance(column_type, SAEnum) and column_type.enum_class is not None:
            return column_type.enum_class
        values = tuple(getattr(column_type, "enums", ()))
        return Literal[values]

    # Values ------------------------------------------------------------------------------

    def initial(self, obj: Any, names: Sequence[str]) -> dict[str, Any]:
        """Return the form's initial values for ``obj``, by field name in the form; sync only."""
        return {
            self.fields[name].internal_name: self._text(self.fields[name], self._value(obj, name))
            for name in names
        }

    def defaults(self, names: Sequence[str]) -> dict[str, Any]:
        """Return the add form's initial values: the columns' defaults."""
        values: dict[str, Any] = {}
        for name in names:
            field = self.fields[name]
            column = field.column
            has_default, value = _scalar_default(column)
            if has_default:
                values[field.internal_name] = self._text(field, value)
        return values

    def _value(self, obj: Any, name: str) -> Any:
        field = self.fields[name]
        if field.kind == "many_to_many":
            return list(getattr(obj, name))
        if field.kind == "foreign_key" and field.column is not None:
            return getattr(obj, str(self.mapper.get_property_by_column(field.column).key))
        return getattr(obj, name)

    def _text(self, field: FormField, value: Any) -> Any:
        if value is None or field.kind == "file":
            # A file input never shows a value.
            return None
        if field.kind == "json":
            return json.dumps(value, indent=2, ensure_ascii=False, default=str)
        if field.kind == "many_to_many":
            key = field.related_key
            return [str(getattr(row, key.key)) for row in value] if key is not None else []
        if isinstance(value, datetime.datetime | datetime.time):
            if isinstance(value, datetime.datetime):
                value = value.replace(tzinfo=None)
            precise = bool(value.second or value.microsecond)
            return value.isoformat(timespec="seconds" if precise else "minutes")
        return value

    def display(self, obj: Any, name: str) -> str:
        """Return the text a page shows for the field ``name`` of ``obj``; sync only.

        ``name`` may also be a method of the ``ModelAdmin``, given ``obj``.
        """
        field = self.fields.get(name)
        if field is None:
            method = getattr(self.model_admin, name, None)
            return display_value(method(obj)) if callable(method) and obj is not None else "-"
        if obj is None:
            return "-"
        if field.kind == "secret":
            return MASK if getattr(obj, name) else "-"
        if field.kind in ("many_to_many", "related"):
            value = getattr(obj, name)
            rows = value if isinstance(value, Sequence | set) else [value] if value else []
            return ", ".join(str(row) for row in rows) or "-"
        if field.kind == "foreign_key" and field.relationship is None:
            value = self._value(obj, name)
            return display_value(value)
        value = getattr(obj, name)
        if field.kind == "file" and value is not None:
            return f"A file of {len(value)} bytes"
        if field.kind == "json" and value is not None:
            return json.dumps(value, ensure_ascii=False, default=str)
        return display_value(value)

    # Related rows ------------------------------------------------------------------------

    def load_options(self, session: Session, form: RelatedForm, names: Sequence[str]) -> None:
        """Put on ``form`` the rows each related field of ``names`` offers; sync only."""
        autocomplete = self.autocomplete_names()
        for name in names:
            field = self.fields[name]
            key = field.related_key
            if not field.is_related or key is None or field.related_model is None:
                continue
            model = field.related_model
            is_search = name in autocomplete
            if not is_search:
                # One count, so that a big table is never read whole.
                count = session.scalar(select(func.count()).select_from(model)) or 0
                if count <= MAX_SELECT_ROWS:
                    rows = list(session.scalars(select(model).order_by(key)))
                    choices = [(str(getattr(row, key.key)), str(row)) for row in rows]
                    choices.sort(key=lambda choice: choice[1].casefold())
                    form.related[field.internal_name] = RelatedOptions(choices)
                    continue
            value = form.values.get(field.internal_name)
            texts = value if isinstance(value, list) else [value] if value else []
            idents = _parse_idents(texts, key)
            labels: dict[str, str] = {}
            if idents:
                for row in session.scalars(select(model).where(key.in_(idents))):
                    labels[str(getattr(row, key.key))] = str(row)
            form.related[field.internal_name] = RelatedOptions(is_search=True, labels=labels)

    def autocomplete_names(self) -> set[str]:
        """Return the related fields of ``autocomplete_fields``, by field name."""
        return {self.name_of(name) for name in self.model_admin.autocomplete_fields}

    async def read_files(
        self, form: RelatedForm, names: Sequence[str], form_data: FormData
    ) -> None:
        """Put on ``form`` the bytes uploaded for its file fields, and which are cleared."""
        for name in names:
            field = self.fields[name]
            if field.kind != "file":
                continue
            column = field.column
            if column is not None and column.nullable and form_data.get(name + CLEAR_SUFFIX):
                form.cleared.add(field.internal_name)
                continue
            upload = form_data.get(name)
            if isinstance(upload, UploadFile) and (upload.filename or upload.size):
                await upload.seek(0)
                form.uploads[field.internal_name] = await upload.read()

    def clean(
        self, session: Session, form: RelatedForm, names: Sequence[str], *, is_new: bool = False
    ) -> dict[str, Any]:
        """Return the valid form's values by field name, related ids read as rows; sync only.

        An id naming no row is an error on its field, and so is a file left
        out of a new row whose column needs one.
        """
        data = form.data
        cleaned: dict[str, Any] = {}
        for name in names:
            field = self.fields[name]
            value = getattr(data, field.internal_name)
            if field.kind == "file":
                if field.internal_name in form.cleared:
                    cleaned[name] = None
                elif field.internal_name in form.uploads:
                    cleaned[name] = form.uploads[field.internal_name]
                elif is_new and _needs_value(field.column):
                    form.add_error(field.internal_name, NO_FILE)
                continue
            model, key = field.related_model, field.related_key
            noun = _noun(model)
            if field.kind == "foreign_key" and value is not None and model is not None:
                row = session.get(model, value)
                if row is None:
                    form.add_error(field.internal_name, NO_SUCH_ROW.format(model=noun, ident=value))
                    continue
                value = row
            elif field.kind == "many_to_many" and model is not None and key is not None:
                idents = list(dict.fromkeys(value))
                rows: Any = session.scalars(select(model).where(key.in_(idents))) if idents else []
                found = {getattr(row, key.key): row for row in rows}
                missing = [str(ident) for ident in idents if ident not in found]
                if missing:
                    message = NO_SUCH_ROWS.format(model=noun, idents=", ".join(missing))
                    form.add_error(field.internal_name, message)
                    continue
                value = [found[ident] for ident in idents]
            elif field.kind == "datetime" and isinstance(value, datetime.datetime):
                column = field.column
                if value.tzinfo is None and getattr(
                    column.type if column is not None else None, "timezone", False
                ):
                    value = value.replace(tzinfo=datetime.UTC)
            cleaned[name] = value
        return cleaned

    def changed(
        self, form: RelatedForm, initial: Mapping[str, Any], names: Sequence[str]
    ) -> list[str]:
        """Return the names whose text in ``form`` differs from ``initial``'s, a blank form's."""
        found = []
        for name in names:
            internal = self.fields[name].internal_name
            if self.fields[name].kind == "file":
                is_changed = internal in form.uploads or internal in form.cleared
            else:
                is_changed = _comparable(form.values.get(internal)) != _comparable(
                    initial.get(internal)
                )
            if is_changed:
                found.append(name)
        return found

    # Saving ------------------------------------------------------------------------------

    def save(
        self,
        session: Session,
        obj: Any,
        values: Mapping[str, Any],
        user: Any,
        *,
        is_new: bool,
    ) -> LogEntry | None:
        """Set ``values`` on ``obj``, flush it and record the addition or change; sync only.

        Returns the history's entry, or ``None`` for a change that changed nothing.
        """
        many = [name for name in self.fields if self.fields[name].kind == "many_to_many"]
        before = None if is_new else self.state(obj, many)
        for name, value in values.items():
            field = self.fields[name]
            if field.kind == "foreign_key" and field.relationship is None:
                key = field.related_key
                value = getattr(value, key.key) if value is not None and key is not None else None
            elif is_new and value is None and field.column is not None and not field.is_related:
                column = field.column
                if not column.nullable:
                    # Left empty on the add page: the column's default fills it.
                    continue
            setattr(obj, name, value)
        if is_new:
            session.add(obj)
        session.flush()
        after = self.state(obj, many)
        if before is None:
            additions = [{"field": key, "old": None, "new": value} for key, value in after.items()]
            return record(session, user, ADD, obj, additions)
        changes = changes_between(before, after)
        return record(session, user, CHANGE, obj, changes) if changes else None

    def state(self, obj: Any, many: Sequence[str]) -> dict[str, Any]:
        """Return ``obj``'s columns (``snapshot``) and the names of its many-to-many rows."""
        object_state = sa_inspect(obj)
        if object_state.persistent:
            for prop in self.mapper.column_attrs:
                if prop.key in object_state.unloaded:
                    getattr(obj, prop.key)
        values = snapshot(obj)
        for name in many:
            values[name] = sorted(str(row) for row in getattr(obj, name))
        return values


def _scalar_default(column: Column[Any] | None) -> tuple[bool, Any]:
    """Return whether the column has a plain default value (not a function), and that value."""
    default = column.default if column is not None else None
    if default is None or not default.is_scalar:
        return False, None
    return True, getattr(default, "arg", None)


def _needs_value(column: Column[Any] | None) -> bool:
    """Return whether a new row must be given a value for ``column``: NOT NULL, no default."""
    return (
        column is not None
        and not column.nullable
        and column.default is None
        and column.server_default is None
    )


def _choice_text(value: Any) -> str:
    """Return a choice as the form sends it back, as the forms battery writes it."""
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


def _noun(model: type[Any] | None) -> str:
    return ModelAdmin(model).verbose_name if model is not None else "row"


def _parse_idents(texts: Sequence[Any], key: Column[Any]) -> list[Any]:
    idents = []
    python = key.type.python_type
    for text in texts:
        try:
            ident = python(text)
        except (TypeError, ValueError):
            continue
        if python is int and abs(ident) >= integer_bound(key):
            continue
        idents.append(ident)
    return idents


def _comparable(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(str(item) for item in value if item != "")
    return value or None
