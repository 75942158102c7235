"""HTML forms declared once, as pydantic models: parsed, validated and drawn.

::

    from carboy.forms import Form, Textarea

    class SignupForm(Form):
        name: str = Field(min_length=2, max_length=50, title="Your name")
        plan: Literal["free", "pro"] = "free"
        bio: Annotated[str, Textarea(rows=4)] = ""
        accept_terms: bool

    form = SignupForm.blank(request)                 # to show it
    form = await SignupForm.from_request(request)    # when it is sent
    if form.is_valid:
        form.data                                    # a SignupForm
    else:
        form.errors                                  # {"name": ["This field is required."]}
        form.render()                                # the fields again, with what was typed

In a template: ``<form method="post" enctype="{{ form.enctype }}">{{ form }}
<button>Sign up</button></form>``, or field by field with
``{{ form["name"].label() }}``, ``.widget()``, ``.errors()``.
"""

from __future__ import annotations

from carboy.forms._fields import FieldSpec
from carboy.forms.bound import FORM_ERRORS, BoundField, BoundForm
from carboy.forms.form import Form
from carboy.forms.widgets import (
    AttrValue,
    CheckboxInput,
    DateInput,
    DateTimeInput,
    EmailInput,
    FileInput,
    HiddenInput,
    Input,
    NumberInput,
    PasswordInput,
    Select,
    Textarea,
    TextInput,
    TimeInput,
    Widget,
    html_attrs,
)

__all__ = [
    "FORM_ERRORS",
    "AttrValue",
    "BoundField",
    "BoundForm",
    "CheckboxInput",
    "DateInput",
    "DateTimeInput",
    "EmailInput",
    "FieldSpec",
    "FileInput",
    "Form",
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
