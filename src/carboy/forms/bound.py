"""A form bound to a request: what the user sent, its errors, and its HTML.

``BoundForm`` is what ``Form.from_request`` and ``Form.blank`` return;
``form["email"]`` is one ``BoundField`` of it. Rendering is accessible by
default: each input has a ``<label for>``, and a field with errors has
``aria-invalid="true"`` and ``aria-describedby`` naming the elements that
hold its error text (and its help text, from the field's ``description``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from markupsafe import Markup

from carboy import csrf
from carboy.forms._fields import FieldSpec, read_fields
from carboy.forms.widgets import AttrValue, html_attrs

if TYPE_CHECKING:
    from pydantic import BaseModel

    from carboy.forms.form import Form
    from carboy.requests import Request

__all__ = ["FORM_ERRORS", "BoundField", "BoundForm", "form_fields"]

F = TypeVar("F", bound="Form")

FORM_ERRORS = "__all__"
"""The key of ``BoundForm.errors`` for errors of the whole form, not of one field."""

_SPECS = "__carboy_form_fields__"
_URLENCODED = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


def form_fields(form_class: type[BaseModel]) -> tuple[FieldSpec, ...]:
    """Return the field specs of ``form_class``, read on first use and kept on the class.

    Raises:
        ImproperlyConfigured: for a field no HTML widget can hold.
    """
    # Looked up in the class's own __dict__, so that a subclass never reuses
    # the specs of its parent, which lack its fields.
    specs: tuple[FieldSpec, ...] | None = form_class.__dict__.get(_SPECS)
    if specs is None:
        specs = read_fields(form_class)
        setattr(form_class, _SPECS, specs)
    return specs


class BoundForm(Generic[F]):
    """A form and what one request made of it.

    Args:
        form_class: The ``Form`` subclass.
        request: The request; rendering reads its CSRF token.
        values: What the user typed, by field name: ``str``, or ``list[str]``
            for a multiple choice. Files and unchecked boxes are absent.
        errors: Messages by field name; errors of the whole form under ``"__all__"``.
        data: The validated model, when the form is valid.

    Example::

        form = await SignupForm.from_request(request)
        if not form.is_valid:
            return render("signup.html", form=form)
        user = await create_user(form.data)
    """

    def __init__(
        self,
        form_class: type[F],
        request: Request,
        *,
        values: dict[str, str | list[str]],
        errors: dict[str, list[str]],
        data: F | None = None,
    ) -> None:
        self.form_class = form_class
        self.request = request
        self.values = values
        self.errors = errors
        self._data = data
        self._specs = {spec.name: spec for spec in form_fields(form_class)}

    @property
    def is_valid(self) -> bool:
        """Whether the form was sent, passed validation, and has no error added since."""
        return self._data is not None and not self.errors

    @property
    def data(self) -> F:
        """The validated model.

        Raises:
            RuntimeError: when the form is not valid.
        """
        if self._data is None or self.errors:
            raise RuntimeError(
                f"{self.form_class.__name__} has no data: it is not valid, or was never "
                "submitted. Check form.is_valid first, and show the form with its errors "
                "when it is false."
            )
        return self._data

    @property
    def enctype(self) -> str:
        """The ``enctype`` the ``<form>`` tag needs: multipart when a field takes files."""
        if any(spec.widget.needs_multipart for spec in self._specs.values()):
            return _MULTIPART
        return _URLENCODED

    def add_error(self, name: str | None, message: str) -> None:
        """Add an error found after validation, such as "This email is taken.".

        Args:
            name: The field's name, or ``None`` for an error of the whole form.
            message: The text shown to the user.

        Raises:
            KeyError: when the form has no field ``name``.
        """
        if name is not None and name not in self._specs:
            raise self._no_field(name)
        self.errors.setdefault(FORM_ERRORS if name is None else name, []).append(message)

    def __getitem__(self, name: str) -> BoundField:
        spec = self._specs.get(name)
        if spec is None:
            raise self._no_field(name)
        return BoundField(self, spec)

    def __iter__(self) -> Iterator[BoundField]:
        for spec in self._specs.values():
            yield BoundField(self, spec)

    def _no_field(self, name: str) -> KeyError:
        return KeyError(
            f"{self.form_class.__name__} has no field {name!r}. "
            f"Its fields are: {', '.join(self._specs)}."
        )

    def form_errors(self) -> Markup:
        """Return the errors of the whole form, each as ``<p class="form-error">``."""
        return Markup("").join(
            Markup('<p class="form-error">{}</p>').format(message)
            for message in self.errors.get(FORM_ERRORS, [])
        )

    def csrf_input(self) -> Markup:
        """Return the hidden input holding the request's CSRF token.

        Its name is the ``csrf_field_name`` setting; with ``csrf_enabled``
        off, it is left out.
        """
        settings = self.request.app.settings
        if not settings.csrf_enabled:
            return Markup("")
        token = csrf.csrf_token(self.request)
        return Markup('<input type="hidden" name="{}" value="{}">').format(
            settings.csrf_field_name, token
        )

    def render(self) -> Markup:
        """Return the form's errors, its CSRF input and every field, one per line.

        The ``<form>`` tag is the page's: give it ``enctype="{{ form.enctype }}"``.
        """
        parts = [self.form_errors(), self.csrf_input(), *(field.render() for field in self)]
        return Markup("\n").join(part for part in parts if part)

    def __html__(self) -> str:
        return str(self.render())

    def __repr__(self) -> str:
        state = "valid" if self.is_valid else f"errors={self.errors!r}"
        return f"<BoundForm {self.form_class.__name__} {state}>"


class BoundField:
    """One field of a ``BoundForm``: its label, widget and errors as HTML.

    Args:
        form: The bound form.
        spec: The field as read from the model.
    """

    def __init__(self, form: BoundForm[Any], spec: FieldSpec) -> None:
        self.form = form
        self.spec = spec

    @property
    def name(self) -> str:
        """The model's field name."""
        return self.spec.name

    @property
    def id(self) -> str:
        """The ``id`` of the field's element: ``id_`` and its HTML name."""
        return f"id_{self.spec.html_name}"

    @property
    def value(self) -> str | list[str] | None:
        """What the user typed, or the initial value; ``None`` for nothing."""
        return self.form.values.get(self.spec.name)

    @property
    def error_list(self) -> list[str]:
        """The field's error messages."""
        return self.form.errors.get(self.spec.name, [])

    def _error_ids(self) -> list[str]:
        count = len(self.error_list)
        return [
            f"{self.id}-error" + (f"-{number}" if number > 1 else "")
            for number in range(1, count + 1)
        ]

    def label(self, attrs: Mapping[str, AttrValue] | None = None) -> Markup:
        """Return ``<label for="id_...">`` with the field's title."""
        return Markup("<label{}>{}</label>").format(
            html_attrs({"for": self.id, **(attrs or {})}), self.spec.label
        )

    def widget(self, attrs: Mapping[str, AttrValue] | None = None) -> Markup:
        """Return the field's element; ``attrs`` are added to it, such as ``{"class": "wide"}``."""
        spec = self.spec
        widget = spec.widget
        described = self._error_ids()
        if spec.help_text:
            described.append(f"{self.id}-help")
        merged: dict[str, AttrValue] = {
            "name": spec.html_name,
            "id": self.id,
            **widget.field_attrs(spec),
            "aria-invalid": "true" if self.error_list else None,
            "aria-describedby": " ".join(described) or None,
            **widget.attrs,
            **(attrs or {}),
        }
        return widget.render(self, self.value, merged)

    def errors(self) -> Markup:
        """Return each error message as ``<p class="field-error" id="id_...-error">``."""
        return Markup("").join(
            Markup('<p class="field-error" id="{}">{}</p>').format(element_id, message)
            for element_id, message in zip(self._error_ids(), self.error_list, strict=True)
        )

    def help(self) -> Markup:
        """Return the field's ``description`` as ``<p class="field-help">``, if it has one."""
        if not self.spec.help_text:
            return Markup("")
        return Markup('<p class="field-help" id="{}-help">{}</p>').format(
            self.id, self.spec.help_text
        )

    def render(self) -> Markup:
        """Return the label, element, help text and errors in ``<div class="field">``.

        A checkbox comes before its label; a hidden input has neither label nor ``<div>``.
        """
        widget = self.spec.widget
        if widget.is_hidden:
            return self.widget() + self.errors()
        parts = [self.label(), self.widget()]
        if widget.puts_label_after:
            parts.reverse()
        return Markup('<div class="field">{}</div>').format(
            Markup("").join([*parts, self.help(), self.errors()])
        )

    def __html__(self) -> str:
        return str(self.render())

    def __repr__(self) -> str:
        return f"<BoundField {self.spec.name} value={self.value!r}>"
