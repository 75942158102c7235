"""``Form``: an HTML form declared once, as a pydantic model."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import BaseModel, ValidationError

from carboy.exceptions import ImproperlyConfigured
from carboy.forms._fields import OMIT, FieldSpec
from carboy.forms.bound import FORM_ERRORS, BoundForm, form_fields

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

    from carboy.requests import Request

__all__ = ["Form"]

_DEFAULT_ERROR_MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        "missing": "This field is required.",
        "int_parsing": "Enter a whole number.",
        "int_from_float": "Enter a whole number.",
        "float_parsing": "Enter a number.",
        "decimal_parsing": "Enter a number.",
        "string_pattern_mismatch": "Enter a valid value.",
        "literal_error": "Select a valid choice.",
        "enum": "Select a valid choice.",
        "date_parsing": "Enter a valid date.",
        "date_from_datetime_parsing": "Enter a valid date.",
        "date_from_datetime_inexact": "Enter a valid date.",
        "datetime_parsing": "Enter a valid date and time.",
        "datetime_from_date_parsing": "Enter a valid date and time.",
        "time_parsing": "Enter a valid time.",
        # What pydantic reports for text where an UploadFile belongs: the
        # <form> tag lacks enctype="multipart/form-data".
        "is_instance_of": "No file was submitted. Check the encoding type on the form.",
        # A validator's own message, without pydantic's "Value error, " prefix.
        "value_error": "{error}",
        "assertion_error": "{error}",
    }
)


class Form(BaseModel):
    """An HTML form: a pydantic model whose fields are drawn as inputs.

    Each field's type picks its widget: ``str`` a text input (an email
    input when the field is named ``email`` or typed ``EmailStr``),
    ``SecretStr`` a password input, ``int``/``float``/``Decimal`` a number
    input, ``bool`` a checkbox, ``Literal`` and ``Enum`` a select, ``date``,
    ``datetime`` and ``time`` their inputs, ``UploadFile`` a file input, and a
    list of choices or files their ``multiple`` forms. ``Annotated[...,
    Textarea()]`` picks another. ``title`` is the label, ``description`` the
    help text, and ``min_length``, ``max_length``, ``ge`` and ``le`` become
    ``minlength``, ``maxlength``, ``min`` and ``max``. A ``pattern`` is
    checked on the server only.

    Being a model, the same class is a JSON body too: ``async def
    create(body: SignupForm)``.

    Attributes:
        error_messages: The text shown for each pydantic error type, merged
            over those of the parent classes, so that a subclass lists only
            what it changes. ``{name}`` in a message is filled from the
            error's context: ``"Enter at least {min_length} characters."``.
            A type not listed shows pydantic's own message. The defaults are
            "This field is required." (missing), "Enter a whole number."
            (int_parsing, int_from_float), "Enter a number." (float_parsing,
            decimal_parsing), "Enter a valid value." (string_pattern_mismatch),
            "Select a valid choice." (literal_error, enum), "Enter a valid
            date." / "date and time." / "time." (their parsing errors), "No file
            was submitted. Check the encoding type on the form."
            (is_instance_of), and a validator's own message (value_error,
            assertion_error).

    Example::

        class SignupForm(Form):
            name: str = Field(min_length=2, title="Your name")
            plan: Literal["free", "pro"] = "free"
            bio: Annotated[str, Textarea(rows=4)] = ""
            accept_terms: bool

        @app.post("/signup")
        async def signup(request: Request) -> Response:
            form = await SignupForm.from_request(request)
            if not form.is_valid:
                return templates.render("signup.html", form=form, status_code=422)
            ...
    """

    error_messages: ClassVar[Mapping[str, str]] = _DEFAULT_ERROR_MESSAGES

    @classmethod
    def blank(
        cls, request: Request, *, initial: Mapping[str, Any] | None = None
    ) -> BoundForm[Self]:
        """Return the form to show before it is sent: field defaults, then ``initial``.

        Args:
            request: The request the page answers.
            initial: Values by field name, such as those of the object edited.

        Raises:
            KeyError: when ``initial`` names a field the form does not have.
            ImproperlyConfigured: for a field no HTML widget can hold.
        """
        specs = form_fields(cls)
        given = dict(initial or {})
        unknown = set(given) - {spec.name for spec in specs}
        if unknown:
            raise KeyError(
                f"{cls.__name__} has no field {sorted(unknown)[0]!r}, given in initial. "
                f"Its fields are: {', '.join(spec.name for spec in specs)}."
            )
        values: dict[str, str | list[str]] = {}
        for spec in specs:
            if spec.name in given:
                value = given[spec.name]
            elif spec.is_required:
                continue
            else:
                value = spec.info.get_default(call_default_factory=True, validated_data={})
            text = spec.initial(value)
            if text is not None:
                values[spec.name] = text
        return BoundForm(cls, request, values=values, errors={})

    @classmethod
    async def from_request(cls, request: Request) -> BoundForm[Self]:
        """Read the request's form (urlencoded or multipart), validate it, and bind it.

        A checkbox left out is ``False``; an empty value is missing for a
        required field, ``None`` for an optional one, ``""`` for another
        ``str`` field, and the default otherwise. Fields the model does not
        declare, such as the CSRF token, are ignored.

        Raises:
            HTTPException: 415, 400 or 413 for a body that is not a form or
                breaks a form limit, as ``request.form()`` does.
            ImproperlyConfigured: for a field no HTML widget can hold, or an
                ``error_messages`` entry that cannot be filled in.
        """
        specs = form_fields(cls)
        form_data = await request.form()
        values: dict[str, str | list[str]] = {}
        data: dict[str, Any] = {}
        for spec in specs:
            raw = spec.widget.value_from(form_data, spec)
            if isinstance(raw, str) or (
                isinstance(raw, list) and all(isinstance(item, str) for item in raw)
            ):
                values[spec.name] = raw
            prepared = spec.prepare(raw)
            if prepared is not OMIT:
                data[spec.html_name] = prepared
        try:
            model = cls.model_validate(data)
        except ValidationError as exc:
            return BoundForm(cls, request, values=values, errors=_errors(cls, specs, exc))
        return BoundForm(cls, request, values=values, errors={}, data=model)


def _errors(
    form_class: type[Form], specs: tuple[FieldSpec, ...], exc: ValidationError
) -> dict[str, list[str]]:
    names = {spec.html_name: spec.name for spec in specs}
    messages: dict[str, str] = {}
    for klass in reversed(form_class.__mro__):
        own = klass.__dict__.get("error_messages")
        if isinstance(own, Mapping):
            messages.update(own)
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        key = names.get(str(loc[0]), str(loc[0])) if loc else FORM_ERRORS
        text = _message(form_class, messages, error)
        found = errors.setdefault(key, [])
        if text not in found:
            found.append(text)
    return errors


def _message(form_class: type[Form], messages: Mapping[str, str], error: ErrorDetails) -> str:
    kind = error["type"]
    template = messages.get(kind)
    if template is None:
        return error["msg"]
    context = error.get("ctx", {})
    try:
        return template.format_map(context)
    except (KeyError, IndexError, ValueError) as exc:
        known = ", ".join(f"{{{name}}}" for name in context) or "nothing"
        raise ImproperlyConfigured(
            f"{form_class.__name__}.error_messages[{kind!r}] is {template!r}, which cannot be "
            f"filled in ({type(exc).__name__}: {exc}): a {kind!r} error has {known}. "
            "Name only those in braces, and double a brace meant literally."
        ) from None
