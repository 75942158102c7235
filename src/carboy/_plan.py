"""The parameter plan: how a callable's arguments are filled from a request.

A plan (``Dependant``) is made once, when the app starts, from a handler's or
a dependency's signature and type hints: which arguments are the request,
which come from the path, the query, headers, cookies, the body or a form,
and which are other dependencies. Scalar parameters are validated together by
one pydantic model, the body by one pydantic adapter, straight from its bytes.
A request only runs the plan.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

from carboy._callables import is_async_callable, qualname, type_hints
from carboy.background import BackgroundTasks, tasks_of
from carboy.dependencies import Depends
from carboy.exceptions import HTTPException, ImproperlyConfigured, RequestValidationError
from carboy.params import Param
from carboy.requests import NUL_ESCAPE, HTTPConnection, Request, nul_location

if TYPE_CHECKING:
    from pydantic import BaseModel, TypeAdapter, ValidationError
    from pydantic.fields import FieldInfo

Kind = Literal["async", "sync", "asyncgen", "gen"]

_PATH_NATIVE = {str, int, float}  # what the path converters already produce


@dataclasses.dataclass
class Parameter:
    """A path, query, header or cookie parameter."""

    name: str
    alias: str
    source: str
    annotation: Any
    field: FieldInfo
    is_list: bool

    @property
    def required(self) -> bool:
        return bool(self.field.is_required())


@dataclasses.dataclass
class BodyField:
    """A parameter read from the JSON body or a form."""

    name: str
    alias: str
    annotation: Any
    field: FieldInfo


@dataclasses.dataclass
class Dependant:
    """The plan of one callable: where each argument comes from."""

    call: Callable[..., Any]
    kind: Kind
    path: str
    connection_args: list[str] = dataclasses.field(default_factory=list)
    uses_request: bool = False
    """Whether a connection argument needs a real request (not a bare ``HTTPConnection``)."""
    background_args: list[str] = dataclasses.field(default_factory=list)
    path_args: list[str] = dataclasses.field(default_factory=list)
    parameters: list[Parameter] = dataclasses.field(default_factory=list)
    params_model: type[BaseModel] | None = None
    body_fields: list[BodyField] = dataclasses.field(default_factory=list)
    body_adapter: TypeAdapter[Any] | None = None
    body_embedded: bool = False
    body_required: bool = False
    form_fields: list[BodyField] = dataclasses.field(default_factory=list)
    form_adapter: TypeAdapter[Any] | None = None
    form_embedded: bool = False
    form_list_fields: frozenset[str] = frozenset()
    dependencies: list[tuple[str | None, Depends, Dependant]] = dataclasses.field(
        default_factory=list
    )
    use_cache: bool = True

    @property
    def name(self) -> str:
        return qualname(self.call)

    @property
    def needs_exit_stack(self) -> bool:
        """Whether a generator dependency is anywhere below: it needs cleanup."""
        return self.kind in ("asyncgen", "gen") or any(
            sub.needs_exit_stack for _, _, sub in self.dependencies
        )

    @property
    def is_trivial(self) -> bool:
        """Whether only the connection and converted path values are passed."""
        return not (
            self.background_args
            or self.parameters
            or self.body_fields
            or self.form_fields
            or self.dependencies
        )

    def walk(self) -> list[Dependant]:
        """Return this plan and every plan below it, depth first, each once."""
        seen: list[Dependant] = []
        stack = [self]
        while stack:
            plan = stack.pop()
            if any(plan is other for other in seen):
                continue
            seen.append(plan)
            stack.extend(sub for _, _, sub in reversed(plan.dependencies))
        return seen


class PlanBuilder:
    """Make plans for one app: its type providers apply to every plan."""

    def __init__(self, providers: Mapping[Any, Callable[..., Any]] | None = None) -> None:
        self.providers = dict(providers or {})
        self._cache: dict[tuple[Any, str], Dependant] = {}
        self._model_names: set[str] = set()

    def _unique(self, name: str) -> str:
        """Return ``name``, numbered if taken: models become named OpenAPI components."""
        unique, number = name, 1
        while unique in self._model_names:
            number += 1
            unique = f"{name}{number}"
        self._model_names.add(unique)
        return unique

    def build(
        self,
        call: Callable[..., Any],
        path: str,
        path_param_names: Sequence[str] = (),
        extra_dependencies: Sequence[Depends] = (),
        localns: Mapping[str, Any] | None = None,
    ) -> Dependant:
        """Make the plan of ``call`` for a route of ``path``.

        Raises:
            ImproperlyConfigured: for a parameter the plan cannot fill.
        """
        plan = Dependant(call=call, kind=_kind(call), path=path)
        for depends in extra_dependencies:
            plan.dependencies.append(
                (None, depends, self._sub(depends, None, path, path_param_names, localns))
            )
        hints = type_hints(call, localns)
        signature = _signature(call)
        body: list[tuple[BodyField, Param | None]] = []
        form: list[tuple[BodyField, Param | None]] = []
        for name, parameter in signature.parameters.items():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            annotation, marker = _unwrap(hints.get(name, Any), parameter.default)
            if isinstance(marker, Depends):
                sub = self._sub(marker, annotation, path, path_param_names, localns)
                plan.dependencies.append((name, marker, sub))
                continue
            if marker is None and _is_connection(annotation, name, hints):
                plan.connection_args.append(name)
                plan.uses_request = plan.uses_request or annotation is not HTTPConnection
                continue
            if marker is None and annotation is BackgroundTasks:
                plan.background_args.append(name)
                continue
            provider = self.providers.get(annotation) if marker is None else None
            if provider is not None:
                depends = Depends(provider)
                sub = self._sub(depends, annotation, path, path_param_names, localns)
                plan.dependencies.append((name, depends, sub))
                continue
            source = (
                marker.source
                if marker is not None
                else _source_of(name, annotation, path_param_names)
            )
            default = _default_of(parameter, marker)
            if source == "path":
                if _alias(name, marker, source) not in path_param_names:
                    raise ImproperlyConfigured(
                        f"{qualname(call)} declares {name!r} a path parameter, but {path!r} has "
                        f"no {{{name}}}. Add it to the path, or take it from elsewhere."
                    )
                if marker is None and (
                    annotation in _PATH_NATIVE or _is_uuid(annotation) or annotation is Any
                ):
                    plan.path_args.append(name)
                    continue
            field = _field(marker, default)
            alias = _alias(name, marker, source)
            if source in ("body",):
                body.append((BodyField(name, alias, annotation, field), marker))
            elif source in ("form", "file"):
                form.append((BodyField(name, alias, annotation, field), marker))
            else:
                plan.parameters.append(
                    Parameter(name, alias, source, annotation, field, _is_sequence(annotation))
                )
        if plan.parameters:
            plan.params_model = _model(
                self._unique(f"{_model_name(call)}Parameters"),
                {param.name: (param.annotation, param.field) for param in plan.parameters},
            )
        if body and form:
            raise ImproperlyConfigured(
                f"{qualname(call)} takes both a JSON body ({body[0][0].name!r}) and form fields "
                f"({form[0][0].name!r}); a request has one body. Take one or the other."
            )
        if body:
            self._plan_body(plan, body)
        if form:
            self._plan_form(plan, form)
        return plan

    def _sub(
        self,
        depends: Depends,
        annotation: Any,
        path: str,
        path_param_names: Sequence[str],
        localns: Mapping[str, Any] | None,
    ) -> Dependant:
        call = depends.dependency or annotation
        if call is None or call is Any or not callable(call):
            raise ImproperlyConfigured(
                f"Depends() without a function needs a callable annotation, such as a class; "
                f"got {annotation!r}. Pass the function: Depends(get_value)."
            )
        key = (call, path)
        plan = self._cache.get(key)
        if plan is None:
            plan = self.build(call, path, path_param_names, (), localns)
            self._cache[key] = plan
        return plan if depends.use_cache else dataclasses.replace(plan, use_cache=False)

    def _plan_body(self, plan: Dependant, body: list[tuple[BodyField, Param | None]]) -> None:
        from pydantic import TypeAdapter

        plan.body_fields = [field for field, _ in body]
        embed = len(body) > 1 or any(marker is not None and marker.embed for _, marker in body)
        plan.body_embedded = embed
        if embed:
            model = _model(
                self._unique(f"{_model_name(plan.call)}Body"),
                {field.alias: (field.annotation, field.field) for field in plan.body_fields},
            )
            plan.body_adapter = TypeAdapter(model)
            plan.body_required = any(field.field.is_required() for field in plan.body_fields)
        else:
            only = plan.body_fields[0]
            plan.body_adapter = TypeAdapter(_annotated(only.annotation, only.field))
            plan.body_required = bool(only.field.is_required())

    def _plan_form(self, plan: Dependant, form: list[tuple[BodyField, Param | None]]) -> None:
        from pydantic import TypeAdapter

        plan.form_fields = [field for field, _ in form]
        only = form[0][0]
        if len(form) == 1 and _is_complex(only.annotation):
            # A model built from the form's fields.
            plan.form_adapter = TypeAdapter(only.annotation)
            model_fields = getattr(only.annotation, "model_fields", {})
            plan.form_list_fields = frozenset(
                info.alias or key
                for key, info in model_fields.items()
                if _is_sequence(info.annotation)
            )
            return
        plan.form_embedded = True
        model = _model(
            self._unique(f"{_model_name(plan.call)}Form"),
            {field.alias: (field.annotation, field.field) for field in plan.form_fields},
        )
        plan.form_adapter = TypeAdapter(model)
        plan.form_list_fields = frozenset(
            field.alias for field in plan.form_fields if _is_sequence(field.annotation)
        )


# Classifying parameters -------------------------------------------------------


def _signature(call: Callable[..., Any]) -> inspect.Signature:
    try:
        return inspect.signature(call)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(
            f"carboy cannot read the signature of {qualname(call)}."
        ) from None


def _kind(call: Callable[..., Any]) -> Kind:
    target: Any = call
    if not (inspect.isfunction(call) or inspect.ismethod(call) or isinstance(call, type)):
        # An instance used as a dependency: what runs is its __call__ method.
        target = type(call).__call__
    if inspect.isasyncgenfunction(target):
        return "asyncgen"
    if inspect.isgeneratorfunction(target):
        return "gen"
    return "async" if is_async_callable(call) else "sync"


def _unwrap(hint: Any, default: Any) -> tuple[Any, Param | Depends | None]:
    marker: Param | Depends | None = None
    annotation = hint
    if get_origin(hint) is Annotated:
        annotation = hint.__origin__
        rest = []
        for item in hint.__metadata__:
            if isinstance(item, (Param, Depends)):
                marker = item
            else:
                rest.append(item)
        if rest:
            annotation = Annotated[(annotation, *rest)]
    if isinstance(default, (Param, Depends)):
        marker = default
    return annotation, marker


def _is_connection(annotation: Any, name: str, hints: Mapping[str, Any]) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, HTTPConnection):
        return True
    return name not in hints and name in ("request", "websocket")


def _strip_optional(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    if origin is Annotated:
        return _strip_optional(annotation.__origin__)
    return annotation


def _is_sequence(annotation: Any) -> bool:
    base = _strip_optional(annotation)
    return get_origin(base) in (list, tuple, set, frozenset, Sequence, typing.Sequence) or base in (
        list,
        tuple,
        set,
    )


def _is_complex(annotation: Any) -> bool:
    base = _strip_optional(annotation)
    origin = get_origin(base)
    if origin in (list, tuple, set, frozenset, Sequence):
        return any(_is_complex(arg) for arg in get_args(base))
    if origin in (dict, Mapping) or base in (dict,):
        return True
    if isinstance(base, type):
        if issubclass(base, (str, bytes, int, float, enum.Enum)):
            return False
        return hasattr(base, "model_fields") or dataclasses.is_dataclass(base) or is_typeddict(base)
    return False


def is_typeddict(annotation: Any) -> bool:
    """Tell whether ``annotation`` is a TypedDict, of ``typing`` or ``typing_extensions``."""
    # Both kinds are dict subclasses with these attributes; checking them
    # spares importing typing_extensions at startup.
    return (
        isinstance(annotation, type)
        and issubclass(annotation, dict)
        and hasattr(annotation, "__required_keys__")
        and hasattr(annotation, "__total__")
    )


def _is_upload(annotation: Any) -> bool:
    from carboy.formparsers import UploadFile

    base = _strip_optional(annotation)
    if get_origin(base) in (list, tuple, Sequence):
        return any(_is_upload(arg) for arg in get_args(base))
    return base is UploadFile


def _is_uuid(annotation: Any) -> bool:
    return (
        getattr(annotation, "__module__", None) == "uuid"
        and getattr(annotation, "__name__", "") == "UUID"
    )


def _source_of(name: str, annotation: Any, path_param_names: Sequence[str]) -> str:
    if name in path_param_names:
        return "path"
    if _is_upload(annotation):
        return "file"
    if _is_complex(annotation):
        return "body"
    return "query"


def _default_of(parameter: inspect.Parameter, marker: Param | None) -> Any:
    if marker is not None and marker.has_default:
        return marker.field_options["default"]
    if parameter.default is not inspect.Parameter.empty and not isinstance(
        parameter.default, Param
    ):
        return parameter.default
    return ...


def _field(marker: Param | None, default: Any) -> FieldInfo:
    from pydantic import Field

    options = dict(marker.field_options) if marker is not None else {}
    options.pop("alias", None)
    options["default"] = default
    result: FieldInfo = Field(**options)
    return result


def _alias(name: str, marker: Param | None, source: str) -> str:
    if marker is not None and marker.alias:
        return marker.alias
    if source == "header" and (marker is None or marker.convert_underscores):
        return name.replace("_", "-")
    return name


def _annotated(annotation: Any, field: FieldInfo) -> Any:
    if field.deprecated is not None:
        # pydantic refuses `deprecated` on a bare type; it only documents the
        # parameter, which the OpenAPI document reads from the plan's field.
        from copy import copy

        field = copy(field)
        field.deprecated = None
    return Annotated[annotation, field]


def _model(name: str, fields: dict[str, tuple[Any, FieldInfo]]) -> type[BaseModel]:
    from pydantic import ConfigDict, create_model

    return create_model(  # type: ignore[no-any-return, call-overload]
        name,
        __config__=ConfigDict(arbitrary_types_allowed=True),
        **fields,
    )


def _model_name(call: Callable[..., Any]) -> str:
    name = getattr(call, "__name__", type(call).__name__)
    return "".join(part.capitalize() for part in name.split("_")) or "Handler"


# Running plans -------------------------------------------------------------------


async def solve(
    plan: Dependant,
    connection: HTTPConnection,
    stack: contextlib.AsyncExitStack | None,
    overrides: Mapping[Callable[..., Any], Callable[..., Any]],
    builder: PlanBuilder,
) -> dict[str, Any]:
    """Return the keyword arguments of ``plan.call`` for this request.

    Raises:
        RequestValidationError: with every parameter and body error found.
    """
    kwargs: dict[str, Any] = {}
    scope = connection.scope
    for name, depends, sub in plan.dependencies:
        value = await _dependency(depends, sub, connection, stack, overrides, builder)
        if name is not None:
            kwargs[name] = value
    for name in plan.connection_args:
        kwargs[name] = connection
    if plan.background_args:
        tasks = tasks_of(scope)
        for name in plan.background_args:
            kwargs[name] = tasks
    if plan.path_args:
        path_params = scope["path_params"]
        for name in plan.path_args:
            kwargs[name] = path_params[name]
    errors: list[dict[str, Any]] = []
    if plan.params_model is not None:
        _validate_parameters(plan, connection, kwargs, errors)
    if plan.body_adapter is not None:
        await _validate_body(plan, connection, kwargs, errors)
    elif plan.form_adapter is not None:
        await _validate_form(plan, connection, kwargs, errors)
    if errors:
        raise RequestValidationError(errors)
    return kwargs


async def _dependency(
    depends: Depends,
    plan: Dependant,
    connection: HTTPConnection,
    stack: contextlib.AsyncExitStack | None,
    overrides: Mapping[Callable[..., Any], Callable[..., Any]],
    builder: PlanBuilder,
) -> Any:
    call = plan.call
    if overrides:
        replacement = overrides.get(call)
        if replacement is not None:
            plan = builder.build(
                replacement, plan.path, list(connection.scope.get("path_params", {}))
            )
            call = replacement
    cache: dict[Any, Any] | None = None
    if plan.use_cache:
        cache = connection.scope.get("carboy.dependency_cache")
        if cache is None:
            cache = connection.scope["carboy.dependency_cache"] = {}
        elif call in cache:
            return cache[call]
    kwargs = await solve(plan, connection, stack, overrides, builder)
    value = await call_plan(plan, kwargs, stack)
    if cache is not None:
        cache[call] = value
    return value


async def call_plan(
    plan: Dependant, kwargs: dict[str, Any], stack: contextlib.AsyncExitStack | None
) -> Any:
    """Call ``plan.call`` with ``kwargs``: await, thread, or enter its generator."""
    import functools

    import anyio.to_thread

    call = plan.call
    if plan.kind == "async":
        return await call(**kwargs)
    if plan.kind == "sync":
        return await anyio.to_thread.run_sync(functools.partial(call, **kwargs))
    if stack is None:
        raise ImproperlyConfigured(
            f"The generator dependency {plan.name} needs an exit stack for its cleanup."
        )
    if plan.kind == "asyncgen":
        return await stack.enter_async_context(contextlib.asynccontextmanager(call)(**kwargs))
    manager = contextlib.contextmanager(call)(**kwargs)
    value = await anyio.to_thread.run_sync(manager.__enter__)

    async def leave(*exc_info: Any) -> bool | None:
        return await anyio.to_thread.run_sync(manager.__exit__, *exc_info)

    stack.push_async_exit(leave)
    return value


def _validate_parameters(
    plan: Dependant,
    connection: HTTPConnection,
    kwargs: dict[str, Any],
    errors: list[dict[str, Any]],
) -> None:
    from pydantic import ValidationError

    raw: dict[str, Any] = {}
    query = headers = cookies = None
    for param in plan.parameters:
        source = param.source
        if source == "query":
            if query is None:
                query = connection.query_params
            value: Any = query.getlist(param.alias) if param.is_list else query.get(param.alias)
        elif source == "header":
            if headers is None:
                headers = connection.headers
            value = headers.getlist(param.alias) if param.is_list else headers.get(param.alias)
        elif source == "cookie":
            if cookies is None:
                cookies = connection.cookies
            value = cookies.get(param.alias)
        else:
            value = connection.scope["path_params"].get(param.alias)
        if value is not None and value != []:
            raw[param.name] = value
    model = plan.params_model
    try:
        validated = model.__pydantic_validator__.validate_python(raw)  # type: ignore[union-attr]
    except ValidationError as exc:
        by_name = {param.name: param for param in plan.parameters}
        for error in exc.errors(include_url=False, include_context=False, include_input=False):
            loc = error["loc"]
            found = by_name.get(str(loc[0])) if loc else None
            where = f"{found.source}.{found.alias}" if found is not None else "query"
            errors.append(_error(where, loc[1:], error))
        return
    kwargs.update(validated.__dict__)


async def _validate_body(
    plan: Dependant,
    connection: HTTPConnection,
    kwargs: dict[str, Any],
    errors: list[dict[str, Any]],
) -> None:
    from pydantic import ValidationError

    if not isinstance(connection, Request):
        return
    content_type = connection.content_type
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise HTTPException(
            415,
            f"The request body must be JSON, not {content_type[:50]!r}: send it with "
            "'Content-Type: application/json'.",
        )
    body = await connection.body()
    if not body:
        if plan.body_required:
            errors.append({"location": "body", "message": "Field required", "type": "missing"})
            return
        for field in plan.body_fields:
            kwargs[field.name] = field.field.get_default(call_default_factory=True)
        return
    if NUL_ESCAPE in body:
        location = _nul_in_json(body)
        if location is not None:
            errors.append(
                {
                    "location": location,
                    "message": "Text must not contain a NUL character (\\u0000)",
                    "type": "string_nul",
                }
            )
            return
    adapter = plan.body_adapter
    try:
        value = adapter.validate_json(body)  # type: ignore[union-attr]
    except ValidationError as exc:
        _collect("body", exc, errors)
        return
    _assign(value, plan.body_fields, plan.body_embedded, kwargs)


async def _validate_form(
    plan: Dependant,
    connection: HTTPConnection,
    kwargs: dict[str, Any],
    errors: list[dict[str, Any]],
) -> None:
    from pydantic import ValidationError

    if not isinstance(connection, Request):
        return
    form = await connection.form()
    raw: dict[str, Any] = {}
    for key in form:
        raw[key] = form.getlist(key) if key in plan.form_list_fields else form[key]
    try:
        value = plan.form_adapter.validate_python(raw)  # type: ignore[union-attr]
    except ValidationError as exc:
        _collect("form", exc, errors)
        return
    _assign(value, plan.form_fields, plan.form_embedded, kwargs)


def _nul_in_json(body: bytes) -> str | None:
    import orjson

    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None  # validation reports the broken JSON itself
    return nul_location(parsed, "body")


def _collect(where: str, exc: ValidationError, errors: list[dict[str, Any]]) -> None:
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        errors.append(_error(where, error["loc"], error))


def _assign(value: Any, fields: list[BodyField], embedded: bool, kwargs: dict[str, Any]) -> None:
    # An embedded body or form is a model of the parameters; otherwise the
    # value is the one parameter.
    if embedded:
        for field in fields:
            kwargs[field.name] = getattr(value, field.alias)
    else:
        kwargs[fields[0].name] = value


def _error(where: str, loc: Sequence[Any], error: Mapping[str, Any]) -> dict[str, Any]:
    location = ".".join([where, *(str(part) for part in loc)])
    return {"location": location, "message": error["msg"], "type": error["type"]}


async def solve_without_request(
    plan: Dependant,
    stack: contextlib.AsyncExitStack,
    overrides: Mapping[Callable[..., Any], Callable[..., Any]],
    builder: PlanBuilder,
    scope: dict[str, Any],
) -> Any:
    """Run ``plan`` as a dependency with no request: ``app.resolve()``.

    ``scope`` is the stand-in connection's scope, where ``on_success``
    callbacks are left for the caller to run.

    Raises:
        ImproperlyConfigured: when a plan below needs the request.
    """
    for each in plan.walk():
        needs = (
            each.uses_request
            or each.background_args
            or each.path_args
            or each.parameters
            or each.body_fields
            or each.form_fields
        )
        if needs:
            raise ImproperlyConfigured(
                f"{each.name} needs a request (its parameters, body or the request itself), "
                "so it cannot be resolved outside one. Give it only dependencies and "
                "provided types, or resolve it inside a handler."
            )

    async def never(*_: Any) -> Any:
        raise RuntimeError("No request: this connection stands in for app.resolve().")

    scope.update({"type": "carboy.resolve", "headers": [], "path_params": {}})
    connection = HTTPConnection(scope, never, never)
    call = overrides.get(plan.call)
    if call is not None:
        plan = builder.build(call, plan.path)
    kwargs = await solve(plan, connection, stack, overrides, builder)
    return await call_plan(plan, kwargs, stack)
