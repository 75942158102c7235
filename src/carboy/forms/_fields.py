"""Reading a form's pydantic fields: what each one needs to be drawn and parsed.

A ``FieldSpec`` is made once per field, the first time a form class is
used, from the field's type, its ``Field(...)`` options and the widget in
its ``Annotated`` metadata, if any.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import types
import typing
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import EmailStr, SecretStr

from carboy.exceptions import ImproperlyConfigured
from carboy.formparsers import UploadFile
from carboy.forms import widgets
from carboy.forms._values import value_text

if TYPE_CHECKING:
    from pydantic import BaseModel
    from pydantic.fields import FieldInfo

__all__ = ["OMIT", "FieldSpec", "read_fields"]

OMIT: Any = object()
"""Returned by ``FieldSpec.prepare`` for a value left out, so that the default applies."""

_SEQUENCES = (list, tuple, set, frozenset, Sequence, typing.Sequence)
_LIMITS: dict[type, str] = {
    annotated_types.MinLen: "min_length",
    annotated_types.MaxLen: "max_length",
    annotated_types.Ge: "ge",
    annotated_types.Gt: "gt",
    annotated_types.Le: "le",
    annotated_types.Lt: "lt",
}


@dataclasses.dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a form, as its widget sees it.

    Attributes:
        name: The model's field name.
        html_name: The ``name`` of the HTML element: the field's alias, if it has one.
        label: The field's ``title``, or its name made readable ("accept_terms"
            reads "Accept terms").
        help_text: The field's ``description``.
        annotation: The field's type, without ``None`` and, for a list, the
            type of its items.
        info: The pydantic field.
        is_required: Whether the field has no default.
        allows_none: Whether the field accepts ``None``: an empty value becomes ``None``.
        is_multiple: Whether the field is a list (of choices or files).
        choices: ``(value, label)`` pairs of a ``Literal`` or ``Enum`` field.
        min_length: ``min_length`` of the field.
        max_length: ``max_length`` of the field.
        ge: ``ge`` of the field.
        le: ``le`` of the field.
        gt: ``gt`` of the field.
        lt: ``lt`` of the field.
        widget: The widget that draws the field.
    """

    name: str
    html_name: str
    label: str
    help_text: str | None
    annotation: Any
    info: FieldInfo
    is_required: bool
    allows_none: bool
    is_multiple: bool
    choices: tuple[tuple[str, str], ...]
    min_length: int | None
    max_length: int | None
    ge: Any
    le: Any
    gt: Any
    lt: Any
    widget: widgets.Widget
    choice_values: Mapping[str, Any] = dataclasses.field(repr=False)

    def initial(self, value: Any) -> str | list[str] | None:
        """Return ``value`` as the text a form would send: ``None`` for nothing.

        Passwords and files are never shown, so they have no initial text.
        """
        if value is None or isinstance(value, (SecretStr, UploadFile)):
            return None
        if isinstance(self.widget, widgets.CheckboxInput):
            return "on" if value else None
        if self.is_multiple and isinstance(value, (list, tuple, set, frozenset)):
            return [value_text(item) for item in value]
        return value_text(value)

    def prepare(self, raw: object) -> Any:
        """Return what the form sent, ready to validate, or ``OMIT``.

        An empty value (``""``, no choice, a file input left blank) counts
        as not sent: a required field then gets "missing", an optional one
        ``None``, a ``str`` one ``""`` and any other its default. A choice
        becomes the ``Literal`` value or ``Enum`` member it names.
        """
        if isinstance(raw, list):
            raw = [item for item in raw if not _is_empty(item)]
        if _is_empty(raw):
            if self.is_required:
                return OMIT
            if self.allows_none:
                return None
            return "" if self.annotation is str and not self.is_multiple else OMIT
        if self.choice_values:
            if isinstance(raw, list):
                return [self.choice_values.get(item, item) for item in raw]
            if isinstance(raw, str):
                return self.choice_values.get(raw, raw)
        return raw


def _is_empty(value: object) -> bool:
    if isinstance(value, UploadFile):
        # A file input left blank sends a part with an empty filename and no content.
        return not value.filename and value.size == 0
    return value is None or value == "" or value == []


def read_fields(model: type[BaseModel]) -> tuple[FieldSpec, ...]:
    """Return the specs of every field of ``model``, in declaration order.

    Raises:
        ImproperlyConfigured: for a field no HTML widget can hold.
    """
    return tuple(_read(model, name, info) for name, info in model.model_fields.items())


def _read(model: type[BaseModel], name: str, info: FieldInfo) -> FieldSpec:
    annotation, allows_none = _strip_none(info.annotation)
    is_multiple = get_origin(annotation) in _SEQUENCES
    if is_multiple:
        item_types = get_args(annotation)
        annotation, _ = _strip_none(item_types[0] if item_types else Any)
    metadata = [*info.metadata, *_inner_metadata(info.annotation)]
    widget = next((item for item in metadata if isinstance(item, widgets.Widget)), None)
    choices = _choices(annotation)
    if widget is None:
        widget = _default_widget(model, name, annotation, is_multiple, bool(choices))
    limits = {
        _LIMITS[type(item)]: getattr(item, _LIMITS[type(item)])
        for item in metadata
        if type(item) in _LIMITS
    }
    alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
    return FieldSpec(
        name=name,
        html_name=alias or name,
        label=info.title or _readable(name),
        help_text=info.description,
        annotation=annotation,
        info=info,
        is_required=info.is_required(),
        allows_none=allows_none,
        is_multiple=is_multiple,
        choices=tuple((value, label) for value, label, _ in choices),
        min_length=limits.get("min_length"),
        max_length=limits.get("max_length"),
        ge=limits.get("ge"),
        le=limits.get("le"),
        gt=limits.get("gt"),
        lt=limits.get("lt"),
        widget=widget,
        choice_values={value: python for value, _, python in choices},
    )


def _strip_none(annotation: Any) -> tuple[Any, bool]:
    """Return the type without ``None`` and ``Annotated``, and whether ``None`` was in it."""
    if get_origin(annotation) is Annotated:
        return _strip_none(annotation.__origin__)
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) < len(get_args(annotation)):
            # A union of several types keeps them all: a text input holds any.
            return (_strip_none(args[0])[0] if len(args) == 1 else annotation), True
    return annotation, False


def _inner_metadata(annotation: Any) -> list[Any]:
    """Return ``Annotated`` metadata below a union: ``Annotated[str, Textarea()] | None``."""
    found: list[Any] = []
    if get_origin(annotation) in (Union, types.UnionType):
        for arg in get_args(annotation):
            if get_origin(arg) is Annotated:
                found.extend(arg.__metadata__)
    return found


def _choices(annotation: Any) -> list[tuple[str, str, Any]]:
    """Return ``(value, label, Python value)`` of each choice of a Literal or an Enum."""
    if get_origin(annotation) is Literal:
        return [
            (value_text(value), value_text(value), value)
            for value in get_args(annotation)
            if value is not None
        ]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [(value_text(member), _readable(member.name), member) for member in annotation]
    return []


def _readable(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def _default_widget(
    model: type[BaseModel], name: str, annotation: Any, is_multiple: bool, has_choices: bool
) -> widgets.Widget:
    if has_choices:
        return widgets.Select()
    if annotation is UploadFile:
        return widgets.FileInput()
    if not is_multiple:
        widget = _scalar_widget(name, annotation)
        if widget is not None:
            return widget
    raise ImproperlyConfigured(
        f"{model.__name__}.{name} is a {_type_name(annotation, is_multiple)}, which no HTML "
        "input holds. Give it a widget, as in Annotated[..., HiddenInput()], or declare "
        "it in another model."
    )


def _scalar_widget(name: str, annotation: Any) -> widgets.Widget | None:
    if annotation is bool:
        return widgets.CheckboxInput()
    if annotation in (int, float, Decimal):
        return widgets.NumberInput()
    if annotation is SecretStr:
        return widgets.PasswordInput()
    if annotation is EmailStr or (annotation is str and name == "email"):
        return widgets.EmailInput()
    # datetime before date: a datetime is a date too.
    if annotation is datetime.datetime:
        return widgets.DateTimeInput()
    if annotation is datetime.date:
        return widgets.DateInput()
    if annotation is datetime.time:
        return widgets.TimeInput()
    if _is_structured(annotation):
        return None
    return widgets.TextInput()


def _is_structured(annotation: Any) -> bool:
    """Tell whether values of ``annotation`` are objects no single input can hold."""
    origin = get_origin(annotation) or annotation
    if origin in (dict, Mapping, *_SEQUENCES):
        return True
    return isinstance(origin, type) and (
        hasattr(origin, "model_fields") or dataclasses.is_dataclass(origin)
    )


def _type_name(annotation: Any, is_multiple: bool) -> str:
    name = getattr(annotation, "__name__", None) or repr(annotation)
    return f"list of {name}" if is_multiple else name
