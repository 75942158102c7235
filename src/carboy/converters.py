"""Path parameter converters: ``/users/{id:int}``.

A converter tells what a path segment may hold and turns it into a value of
its type; it also turns a value back into a segment for reverse URLs. Custom
converters follow the ``Converter`` protocol and are registered on the app:
``app.add_converter("year", YearConverter())``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Protocol, get_origin

if TYPE_CHECKING:
    import uuid

__all__ = [
    "Converter",
    "FloatConverter",
    "IntConverter",
    "PathConverter",
    "SlugConverter",
    "StringConverter",
    "UUIDConverter",
    "default_converters",
]


class Converter(Protocol):
    """Turn one path segment into a value, and back.

    ``regex`` says what the segment may hold (it never matches ``/`` except
    for the ``path`` converter). ``convert`` may raise ``ValueError`` to
    refuse a segment the regex let through; the route then does not match.
    """

    regex: str

    def convert(self, value: str) -> Any:
        """Return the value a matched segment stands for."""
        ...

    def to_string(self, value: Any) -> str:
        """Return the segment for ``value``, for reverse URLs."""
        ...


class StringConverter:
    """Any non-empty segment, as a ``str``."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        """Return the segment as it is."""
        return value

    def to_string(self, value: Any) -> str:
        """Return ``value`` as text; refuse an empty one or one holding ``/``."""
        text = str(value)
        if not text or "/" in text:
            raise ValueError(f"A str path parameter must be non-empty and hold no '/': {text!r}.")
        return text


class IntConverter:
    """Digits, as a non-negative ``int``."""

    regex = "[0-9]+"

    def convert(self, value: str) -> int:
        """Return the segment as an ``int``."""
        return int(value)

    def to_string(self, value: Any) -> str:
        """Return ``value`` written in decimal digits; refuse a negative one."""
        number = int(value)
        if number < 0:
            raise ValueError(f"An int path parameter must not be negative: {number}.")
        return str(number)


class FloatConverter:
    """A decimal number such as ``3`` or ``2.5``, as a ``float``."""

    regex = r"[0-9]+(?:\.[0-9]+)?"

    def convert(self, value: str) -> float:
        """Return the segment as a ``float``."""
        return float(value)

    def to_string(self, value: Any) -> str:
        """Return ``value`` as the decimal text the regex accepts."""
        number = float(value)
        if number < 0 or number != number or number in (float("inf"), float("-inf")):
            raise ValueError(f"A float path parameter must be finite and not negative: {number}.")
        return repr(number).removesuffix(".0") if number.is_integer() else repr(number)


class UUIDConverter:
    """A UUID in its canonical hyphenated form, as a ``uuid.UUID``."""

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def convert(self, value: str) -> uuid.UUID:
        """Return the segment as a ``uuid.UUID``."""
        from uuid import UUID

        return UUID(value)

    def to_string(self, value: Any) -> str:
        """Return ``value`` as its canonical hyphenated text."""
        from uuid import UUID

        return str(UUID(str(value)))


class SlugConverter:
    """ASCII letters, digits, hyphens and underscores, as a ``str``."""

    regex = "[-a-zA-Z0-9_]+"

    def convert(self, value: str) -> str:
        """Return the segment, a slug, as it is."""
        return value

    def to_string(self, value: Any) -> str:
        """Return ``value`` as text; refuse one that is not a slug."""
        text = str(value)
        if not re.fullmatch(self.regex, text):
            raise ValueError(f"{text!r} is not a slug: use ASCII letters, digits, '-' and '_'.")
        return text


class PathConverter:
    """The rest of the path, slashes included; only last in a pattern."""

    regex = ".*"

    def convert(self, value: str) -> str:
        """Return the rest of the path, slashes included."""
        return value

    def to_string(self, value: Any) -> str:
        """Return ``value`` as text, without a leading ``/``."""
        # The pattern already has the "/" before the parameter.
        return str(value).lstrip("/")


def default_converters() -> dict[str, Converter]:
    """Return a new registry holding the built-in converters by name."""
    return {
        "str": StringConverter(),
        "int": IntConverter(),
        "float": FloatConverter(),
        "uuid": UUIDConverter(),
        "slug": SlugConverter(),
        "path": PathConverter(),
    }


_ANNOTATION_CONVERTERS: dict[Any, str] = {str: "str", int: "int", float: "float"}


def converter_for_annotation(hint: Any) -> str:
    """Return the converter name a plain ``{name}`` gets from the handler's annotation.

    ``Annotated[int, Path(ge=1)]`` picks the converter of ``int``: its
    constraints are checked after the converter has matched the segment.
    """
    if get_origin(hint) is Annotated:
        hint = hint.__origin__
    name = _ANNOTATION_CONVERTERS.get(hint)
    if name is not None:
        return name
    # uuid.UUID, recognised without importing uuid for apps that never use it.
    if getattr(hint, "__module__", None) == "uuid" and getattr(hint, "__name__", None) == "UUID":
        return "uuid"
    return "str"
