"""Turning a handler's return value into a response, through its response model.

The response model is ``response_model=`` on the route, else the return
annotation when it declares fields (a pydantic model, a dataclass, a
TypedDict, or a list or union of them): the value is validated against it
and serialized by pydantic straight to JSON bytes, so fields the model does
not declare are dropped. Plain annotations such as ``dict[str, str]`` or
``str`` only document the response; the value is sent as returned.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin

from carboy._callables import qualname
from carboy._plan import is_typeddict
from carboy.exceptions import ResponseValidationError
from carboy.responses import PlainTextResponse, Response, _convert, to_response

if TYPE_CHECKING:
    from carboy.routing import Route

Converter = Callable[[Any], Response]

_NO_MODEL = object()


def declares_fields(annotation: Any) -> bool:
    """Tell whether ``annotation`` involves a type with declared fields."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return declares_fields(annotation.__origin__)
    if origin in (Union, types.UnionType) or origin in (
        list,
        tuple,
        set,
        frozenset,
        Sequence,
        dict,
        Mapping,
    ):
        return any(declares_fields(arg) for arg in get_args(annotation))
    if isinstance(annotation, type):
        return (
            hasattr(annotation, "model_fields")
            or dataclasses.is_dataclass(annotation)
            or is_typeddict(annotation)
        )
    return False


def response_model_of(route: Route, return_hint: Any) -> Any:
    """Return the route's response model, or ``_NO_MODEL``."""
    if route.response_model is not None:
        return route.response_model
    args = get_args(return_hint)
    if get_origin(return_hint) is tuple and len(args) in (2, 3) and args[1] is int:
        # (body, status) or (body, status, headers): the body's type is the model.
        return_hint = args[0]
    if return_hint is not None and declares_fields(return_hint):
        if isinstance(return_hint, type) and issubclass(return_hint, Response):
            return _NO_MODEL
        return return_hint
    return _NO_MODEL


def make_converter(route: Route, return_hint: Any) -> Converter:
    """Make the function that turns ``route``'s handler results into responses."""
    text_class = route.response_class or PlainTextResponse
    status = route.status_code
    model = response_model_of(route, return_hint)
    if model is _NO_MODEL:
        if status is None:
            return lambda value: to_response(value, text_class)

        def convert_with_status(value: Any) -> Response:
            if isinstance(value, Response) or type(value) is tuple:
                return to_response(value, text_class)
            return _convert(value, status, None, text_class)

        return convert_with_status

    from pydantic import TypeAdapter, ValidationError

    adapter: TypeAdapter[Any] = TypeAdapter(model)
    exact = model if isinstance(model, type) else None
    default_status = status or 200
    handler = qualname(route.endpoint)

    def convert(value: Any) -> Response:
        if isinstance(value, Response):
            return value
        code = default_status
        headers: Mapping[str, str] | None = None
        if type(value) is tuple and len(value) in (2, 3) and isinstance(value[1], int):
            code = value[1]
            headers = value[2] if len(value) == 3 else None
            value = value[0]
            if isinstance(value, Response):
                return _convert(value, code, headers, text_class)
        try:
            if exact is None or type(value) is not exact:
                value = adapter.validate_python(value, from_attributes=True)
            body = adapter.dump_json(value)
        except ValidationError as exc:
            raise ResponseValidationError(
                f"The handler {handler} returned a value that does not fit its response model "
                f"{getattr(model, '__name__', model)!r}: {exc}"
            ) from None
        return Response(body, code, headers, media_type="application/json")

    return convert
