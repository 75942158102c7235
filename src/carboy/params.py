"""Where a handler's parameters come from: ``Query``, ``Header``, ``Cookie``,
``Path``, ``Body``, ``Form`` and ``File``.

Each marker takes pydantic's field options (``ge``, ``max_length``,
``pattern``, ``alias``, ``description``, ``examples``, ``deprecated``...), and
goes in ``Annotated`` or as the default value::

    async def search(
        q: Annotated[str, Query(min_length=2)],
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        user_agent: Annotated[str | None, Header()] = None,
    ) -> list[Hit]: ...

A parameter without a marker is a path parameter if the path names it, the
JSON body if its type is a model (pydantic, dataclass, TypedDict), an upload
if it is an ``UploadFile``, and a query parameter otherwise.
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["Body", "Cookie", "File", "Form", "Header", "Param", "Path", "Query"]

Source = Literal["path", "query", "header", "cookie", "body", "form", "file"]

_UNSET: Any = ...


class Param:
    """A parameter's source and pydantic field options; made by the functions below."""

    __slots__ = ("convert_underscores", "embed", "field_options", "has_default", "source")

    def __init__(
        self,
        source: Source,
        default: Any = _UNSET,
        *,
        embed: bool = False,
        convert_underscores: bool = True,
        **field_options: Any,
    ) -> None:
        self.source = source
        self.embed = embed
        self.convert_underscores = convert_underscores
        self.has_default = default is not _UNSET
        if self.has_default:
            field_options["default"] = default
        self.field_options = field_options

    @property
    def alias(self) -> str | None:
        alias: str | None = self.field_options.get("alias")
        return alias

    def __repr__(self) -> str:
        options = ", ".join(f"{key}={value!r}" for key, value in self.field_options.items())
        return f"{self.source.capitalize()}({options})"


def Query(default: Any = _UNSET, **options: Any) -> Any:
    """Take the parameter from the query string; ``alias`` names it there."""
    return Param("query", default, **options)


def Path(default: Any = _UNSET, **options: Any) -> Any:
    """Take the parameter from the path, with constraints such as ``ge=1``."""
    return Param("path", default, **options)


def Header(default: Any = _UNSET, *, convert_underscores: bool = True, **options: Any) -> Any:
    """Take the parameter from a header: ``user_agent`` reads ``User-Agent``."""
    return Param("header", default, convert_underscores=convert_underscores, **options)


def Cookie(default: Any = _UNSET, **options: Any) -> Any:
    """Take the parameter from a cookie of its name (or ``alias``)."""
    return Param("cookie", default, **options)


def Body(default: Any = _UNSET, *, embed: bool = False, **options: Any) -> Any:
    """Take the parameter from the JSON body.

    Args:
        default: Its default, when the body may be absent.
        embed: Read it from a key of its name in the body object, rather
            than as the whole body. Several body parameters are always embedded.
        options: pydantic field options.
    """
    return Param("body", default, embed=embed, **options)


def Form(default: Any = _UNSET, **options: Any) -> Any:
    """Take the parameter from a form field, or build a model from the form's fields."""
    return Param("form", default, **options)


def File(default: Any = _UNSET, **options: Any) -> Any:
    """Take the parameter from an uploaded file of a multipart form."""
    return Param("file", default, **options)
