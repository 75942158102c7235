"""Widgets: how one form field becomes HTML.

A widget is a small object whose ``render(field, value, attrs)`` returns
``markupsafe.Markup``. ``field`` is the ``BoundField`` being drawn, ``value``
what the user typed (a ``str``, a ``list[str]`` for a multiple choice, or
``None``), and ``attrs`` the attributes worked out for it: ``name``, ``id``,
``required``, the constraints the widget reads from the field (``minlength``,
``min``...), ``aria-invalid`` and ``aria-describedby``, then the widget's own
attributes and those passed at the call site. Every value and attribute is
escaped.

The type of a field picks its widget; ``Annotated`` picks another::

    bio: Annotated[str, Textarea(rows=4)] = ""
    password: Annotated[str, PasswordInput(autocomplete="new-password")]

A widget of your own subclasses ``Widget`` (or ``Input``, for one more
``<input type=...>``) and overrides ``render``.
"""

from __future__ import annotations

import abc
import datetime
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

from markupsafe import Markup, escape

from carboy.forms._values import value_text

if TYPE_CHECKING:
    from carboy.formparsers import FormData
    from carboy.forms._fields import FieldSpec
    from carboy.forms.bound import BoundField

__all__ = [
    "AttrValue",
    "CheckboxInput",
    "DateInput",
    "DateTimeInput",
    "EmailInput",
    "FileInput",
    "HiddenInput",
    "Input",
    "NumberInput",
    "PasswordInput",
    "Select",
    "TextInput",
    "Textarea",
    "TimeInput",
    "Widget",
    "html_attrs",
]

AttrValue = str | int | float | Decimal | bool | None
"""An HTML attribute's value: ``True`` writes it bare, ``False`` and ``None`` leave it out."""

# HTML's attribute names exclude whitespace, quotes, ">", "/" and "=" (HTML
# Living Standard 13.1.2.3); a name with one could break out of the tag.
_ATTR_NAME = re.compile(r"^[^\s\"'>/=\x00-\x1f\x7f]+$")


def html_attrs(attrs: Mapping[str, AttrValue]) -> Markup:
    """Return ``attrs`` as HTML attributes, each with a leading space, values escaped.

    Raises:
        ValueError: for an attribute name HTML does not allow.

    Example:
        ``html_attrs({"name": "q", "required": True})`` gives `` name="q" required``.
    """
    parts: list[str] = []
    for name, value in attrs.items():
        if not _ATTR_NAME.match(name):
            raise ValueError(
                f"{name!r} is not a valid HTML attribute name: names cannot hold spaces, "
                "quotes, '>', '/' or '='."
            )
        if value is True:
            parts.append(f" {name}")
        elif value is not None and value is not False:
            parts.append(f' {name}="{escape(str(value))}"')
    return Markup("".join(parts))


class Widget(abc.ABC):
    """How one form field is read from a form and drawn as HTML.

    Args:
        attrs: HTML attributes added to the element, such as ``{"class": "wide"}``.
        more: More attributes by keyword: ``Textarea(rows=4)``.
    """

    is_hidden: ClassVar[bool] = False
    """Whether the field is drawn without a label, as ``<input type="hidden">`` is."""

    needs_multipart: ClassVar[bool] = False
    """Whether the form must be sent as ``multipart/form-data`` (files)."""

    puts_label_after: ClassVar[bool] = False
    """Whether the label follows the element, as it does beside a checkbox."""

    def __init__(self, attrs: Mapping[str, AttrValue] | None = None, /, **more: AttrValue) -> None:
        self.attrs: dict[str, AttrValue] = {**(attrs or {}), **more}

    def value_from(self, form_data: FormData, spec: FieldSpec) -> object:
        """Return what the form sent for the field: ``None`` when it sent nothing."""
        if spec.is_multiple:
            return form_data.getlist(spec.html_name)
        return form_data.get(spec.html_name)

    def field_attrs(self, spec: FieldSpec) -> dict[str, AttrValue]:
        """Return the attributes the field's declaration implies, such as ``required``."""
        return {"required": spec.is_required}

    @abc.abstractmethod
    def render(
        self, field: BoundField, value: str | list[str] | None, attrs: dict[str, AttrValue]
    ) -> Markup:
        """Return the field's element, showing ``value``, with ``attrs`` on it."""

    def __repr__(self) -> str:
        options = ", ".join(f"{key}={value!r}" for key, value in self.attrs.items())
        return f"{type(self).__name__}({options})"


class Input(Widget):
    """An ``<input>`` of type ``input_type``; subclass it for another type."""

    input_type: ClassVar[str] = "text"

    def render(
        self, field: BoundField, value: str | list[str] | None, attrs: dict[str, AttrValue]
    ) -> Markup:
        """Return ``<input type=... name=... id=... ... value=...>``."""
        shown = value if isinstance(value, str) and value else None
        return Markup("<input{}>").format(
            html_attrs({"type": self.input_type, **attrs, "value": shown})
        )


def _length_attrs(spec: FieldSpec) -> dict[str, AttrValue]:
    return {"minlength": spec.min_length, "maxlength": spec.max_length}


class TextInput(Input):
    """``<input type="text">``, with ``minlength`` and ``maxlength`` from the field."""

    input_type = "text"

    def field_attrs(self, spec: FieldSpec) -> dict[str, AttrValue]:
        """Return ``required``, ``minlength`` and ``maxlength``."""
        return {**super().field_attrs(spec), **_length_attrs(spec)}


class EmailInput(TextInput):
    """``<input type="email">``: for ``EmailStr`` fields and ``str`` fields named ``email``."""

    input_type = "email"


class PasswordInput(TextInput):
    """``<input type="password">``, which never shows the value typed back to the user."""

    input_type = "password"

    def render(
        self, field: BoundField, value: str | list[str] | None, attrs: dict[str, AttrValue]
    ) -> Markup:
        """Return the input without its value, so that a password never reaches the page."""
        return super().render(field, None, attrs)


class HiddenInput(Input):
    """``<input type="hidden">``, drawn without a label."""

    input_type = "hidden"
    is_hidden = True

    def field_attrs(self, spec: FieldSpec) -> dict[str, AttrValue]:
        """Return no attributes: ``required`` does not apply to a hidden input."""
        return {}


def _number(value: object) -> AttrValue:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value
    return None


class NumberInput(Input):
    """``<input type="number">``, with ``min``/``max`` from ``ge``/``le``.

    For ``int`` fields ``gt``/``lt`` become ``min``/``max`` one step in;
    other numbers get ``step="any"``, since the browser's default step of 1
    would refuse decimals.
    """

    input_type = "number"

    def field_attrs(self, spec: FieldSpec) -> dict[str, AttrValue]:
        """Return ``required``, ``min``, ``max`` and, for decimals, ``step``."""
        attrs = super().field_attrs(spec)
        low, high = _number(spec.ge), _number(spec.le)
        if spec.annotation is int:
            if low is None and isinstance(spec.gt, int):
                low = spec.gt + 1
            if high is None and isinstance(spec.lt, int):
                high = spec.lt - 1
        attrs["min"] = low
        attrs["max"] = high
        if spec.annotation is not int:
            attrs["step"] = "any"
        return attrs


def _moment(value: object) -> AttrValue:
    if isinstance(value, (datetime.date, datetime.time)):
        return value_text(value)
    return None


class DateInput(Input):
    """``<input type="date">``, with ``min``/``max`` from ``ge``/``le``."""

    input_type = "date"

    def field_attrs(self, spec: FieldSpec) -> dict[str, AttrValue]:
        """Return ``required``, ``min`` and ``max``."""
        return {**super().field_attrs(spec), "min": _moment(spec.ge), "max": _moment(spec.le)}


class DateTimeInput(DateInput):
    """``<input type="datetime-local">``: a date and a time, without a time zone."""

    input_type = "datetime-local"


class TimeInput(DateInput):
    """``<input type="time">``."""

    input_type = "time"


class CheckboxInput(Widget):
    """``<input type="checkbox">`` for ``bool`` fields: checked is true, absent is false.

    It never has ``required``, since an unchecked box is a valid ``False``;
    a box that must be checked (terms of use) is a validator's job.
    """

    puts_label_after = True
    _unchecked: ClassVar[frozenset[str]] = frozenset({"", "0", "off", "false", "f", "n", "no"})

    def value_from(self, form_data: FormData, spec: FieldSpec) -> object:
        """Return the box's value when checked, ``False`` when the form left it out."""
        value = form_data.get(spec.html_name)
        return False if value is None else value

    def field_attrs(self, spec: FieldSpec) -> dict[str, AttrValue]:
        """Return no attributes."""
        return {}

    def render(
        self, field: BoundField, value: str | list[str] | None, attrs: dict[str, AttrValue]
    ) -> Markup:
        """Return the box, ``checked`` when ``value`` reads as true."""
        checked = isinstance(value, str) and value.lower() not in self._unchecked
        return Markup("<input{}>").format(
            html_attrs({"type": "checkbox", **attrs, "checked": checked})
        )


class FileInput(Widget):
    """``<input type="file">``, ``multiple`` for a list of files; it never shows a value."""

    needs_multipart = True

    def render(
        self, field: BoundField, value: str | list[str] | None, attrs: dict[str, AttrValue]
    ) -> Markup:
        """Return the file input."""
        return Markup("<input{}>").format(
            html_attrs({"type": "file", **attrs, "multiple": field.spec.is_multiple})
        )


class Textarea(Widget):
    """``<textarea>``, with ``minlength`` and ``maxlength`` from the field."""

    def field_attrs(self, spec: FieldSpec) -> dict[str, AttrValue]:
        """Return ``required``, ``minlength`` and ``maxlength``."""
        return {**super().field_attrs(spec), **_length_attrs(spec)}

    def render(
        self, field: BoundField, value: str | list[str] | None, attrs: dict[str, AttrValue]
    ) -> Markup:
        """Return the textarea holding ``value``."""
        text = value if isinstance(value, str) else ""
        # HTML drops one newline right after <textarea>, so one is written
        # there: a value that starts with a newline keeps it.
        return Markup("<textarea{}>\n{}</textarea>").format(html_attrs(attrs), text)


class Select(Widget):
    """``<select>`` with one ``<option>`` per choice; ``multiple`` for a list field.

    A ``Literal`` or ``Enum`` field brings its own choices: a Literal's
    values, an Enum's values labelled with its member names ("DARK_BLUE"
    reads "Dark blue"). A field that may be left empty (optional, or
    required with no default) starts with a blank option.

    Args:
        choices: ``(value, label)`` pairs to show instead of the field's own.
        blank_label: The text of the blank option.
        attrs: HTML attributes, as for every widget.
        more: More attributes by keyword.
    """

    def __init__(
        self,
        attrs: Mapping[str, AttrValue] | None = None,
        /,
        *,
        choices: list[tuple[str, str]] | None = None,
        blank_label: str = "---------",
        **more: AttrValue,
    ) -> None:
        super().__init__(attrs, **more)
        self.choices = choices
        self.blank_label = blank_label

    def render(
        self, field: BoundField, value: str | list[str] | None, attrs: dict[str, AttrValue]
    ) -> Markup:
        """Return the select, the options matching ``value`` marked ``selected``."""
        spec = field.spec
        chosen = set(value) if isinstance(value, list) else {value}
        options: list[Markup] = []
        if not spec.is_multiple and (spec.allows_none or spec.is_required):
            options.append(Markup('<option value="">{}</option>').format(self.blank_label))
        for choice, label in self.choices if self.choices is not None else spec.choices:
            options.append(
                Markup("<option{}>{}</option>").format(
                    html_attrs({"value": choice, "selected": choice in chosen}), label
                )
            )
        return Markup("<select{}>{}</select>").format(
            html_attrs({**attrs, "multiple": spec.is_multiple}), Markup("").join(options)
        )
