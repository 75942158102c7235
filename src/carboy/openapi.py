"""The app's OpenAPI 3.1 document, built from the declarations that serve requests.

Nothing is declared twice. Paths come from the routes; parameters and
bodies from the parameter plans that read requests (the handler's and its
dependencies'); responses from response models and return annotations;
summaries from docstrings; security from the security schemes among the
dependencies (``carboy.security``). Every schema is made by pydantic, in one
pass, so models appear once under ``components/schemas``.

``app.openapi()`` returns the document (built once, after startup);
``OpenAPIConfig`` sets its metadata and where it and the docs page are served.
"""

from __future__ import annotations

import copy
import functools
import inspect
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, get_args, get_origin

from carboy._callables import type_hints
from carboy._dispatch import _flatten
from carboy._plan import Dependant, Parameter, _is_upload, _strip_optional
from carboy._routetable import CompiledPath, compile_path
from carboy._schemas import (
    SchemaCollector,
    ValidationProblem,
    without_null,
)
from carboy._serialize import _NO_MODEL, response_model_of
from carboy.converters import (
    Converter,
    FloatConverter,
    IntConverter,
    SlugConverter,
    UUIDConverter,
)
from carboy.exceptions import ImproperlyConfigured, _phrase
from carboy.responses import PlainTextResponse, Response
from carboy.routing import Route
from carboy.security import SecurityScheme

if TYPE_CHECKING:
    from carboy._dispatch import Dispatcher, _Flat
    from carboy.app import Carboy

__all__ = ["OPENAPI_VERSION", "build_document"]

OPENAPI_VERSION = "3.1.0"

# HEAD and OPTIONS are answered by carboy for every GET route and path; they
# are left out, as every OpenAPI generator does.
_METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH", "TRACE")
_JSON = "application/json"
_PROBLEM = "application/problem+json"
_RANGE_DESCRIPTIONS = {
    "1XX": "Informational",
    "2XX": "Success",
    "3XX": "Redirection",
    "4XX": "Client error",
    "5XX": "Server error",
    "default": "Any other response",
}
# Docstring sections written for Python readers, not API clients.
_PYTHON_SECTIONS = re.compile(r"^(?:Args|Arguments|Returns|Raises|Yields):[ \t]*$", re.MULTILINE)
_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]+")
_CONVERTER_IN_PATH = re.compile(r"{([^{}:]+):[^{}]*}")


def build_document(app: Carboy, dispatcher: Dispatcher) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of ``app``, whose routes ``dispatcher`` has planned.

    Raises:
        ImproperlyConfigured: when two different security schemes share a name.
    """
    config = app.openapi_config
    builder = _DocumentBuilder(app, dispatcher)
    paths = builder.paths()
    schemas = builder.schemas.generate()

    info: dict[str, Any] = {"title": config.title}
    if config.description:
        info["description"] = config.description
    if config.terms_of_service:
        info["termsOfService"] = config.terms_of_service
    if config.contact:
        info["contact"] = dict(config.contact)
    if config.license_info:
        info["license"] = dict(config.license_info)
    info["version"] = config.version

    document: dict[str, Any] = {"openapi": OPENAPI_VERSION, "info": info}
    if config.servers:
        document["servers"] = [dict(server) for server in config.servers]
    document["paths"] = paths
    components: dict[str, Any] = {}
    if schemas:
        components["schemas"] = schemas
    if builder.security_schemes:
        components["securitySchemes"] = dict(sorted(builder.security_schemes.items()))
    if components:
        document["components"] = components
    if config.tags:
        document["tags"] = [dict(tag) for tag in config.tags]
    return document


@dataclass
class _Operation:
    flat: _Flat
    route: Route
    method: str
    operation_id: str = ""


class _DocumentBuilder:
    """The parts of one document, gathered route by route."""

    def __init__(self, app: Carboy, dispatcher: Dispatcher) -> None:
        self.app = app
        self.dispatcher = dispatcher
        self.schemas = SchemaCollector()
        self.security_schemes: dict[str, dict[str, Any]] = {}

    def paths(self) -> dict[str, Any]:
        by_key: dict[tuple[str, str], _Operation] = {}
        for flat in _flatten(self.app, "", None, ()):
            route = flat.item
            if not isinstance(route, Route) or not route.include_in_schema:
                continue
            template = _CONVERTER_IN_PATH.sub(r"{\1}", flat.path)
            for method in _METHODS:
                if method in route.methods:
                    # The first route declaring a method for a path is the one served.
                    by_key.setdefault((template, method), _Operation(flat, route, method))
        operations = list(by_key.items())
        _assign_operation_ids([operation for _, operation in operations])
        paths: dict[str, dict[str, Any]] = {}
        for (template, method), operation in operations:
            paths.setdefault(template, {})[method.lower()] = self._operation(operation)
        return {
            path: dict(sorted(item.items(), key=lambda pair: _METHODS.index(pair[0].upper())))
            for path, item in paths.items()
        }

    def _operation(self, operation: _Operation) -> dict[str, Any]:
        route, flat = operation.route, operation.flat
        plan = self.dispatcher.plans[route]
        plans = plan.walk()
        hints = type_hints(route.endpoint)
        compiled = compile_path(flat.path, self.app.converters, hints)

        result: dict[str, Any] = {}
        tags = _unique([*(tag for router in flat.routers for tag in router.tags), *route.tags])
        if tags:
            result["tags"] = tags
        summary, description = _docstring(route.endpoint)
        summary = route.summary or summary
        description = route.description or description
        if summary:
            result["summary"] = summary
        if description:
            result["description"] = description
        result["operationId"] = operation.operation_id
        parameters = self._parameters(plans, compiled)
        if parameters:
            result["parameters"] = parameters
        body = self._request_body(plans)
        if body is not None:
            result["requestBody"] = body
        schemes = self._security(plans)
        result["responses"] = self._responses(route, hints, plans, schemes)
        if route.deprecated:
            result["deprecated"] = True
        if schemes:
            everything: dict[str, list[str]] = {scheme.scheme_name: [] for scheme in schemes}
            required: dict[str, list[str]] = {
                scheme.scheme_name: [] for scheme in schemes if scheme.auto_error
            }
            # OpenAPI lists alternatives: with an optional scheme, a request
            # without its credential is served too.
            result["security"] = [everything] if required == everything else [everything, required]
        return result

    # Parameters -----------------------------------------------------------

    def _parameters(self, plans: list[Dependant], compiled: CompiledPath) -> list[dict[str, Any]]:
        declared: dict[tuple[str, str], Parameter] = {}
        for plan in plans:
            for param in plan.parameters:
                declared.setdefault((param.source, param.alias), param)
        result = []
        for name, converter in _path_converters(compiled):
            if ("path", name) not in declared:
                schema = _converter_schema(converter)
                result.append({"name": name, "in": "path", "required": True, "schema": schema})
            else:
                result.append(self._parameter(declared.pop(("path", name)), name))
        for source in ("query", "header", "cookie"):
            for (where, wire_name), param in declared.items():
                if where == source:
                    result.append(self._parameter(param, wire_name))
        return result

    def _parameter(self, param: Parameter, wire_name: str) -> dict[str, Any]:
        field = param.field
        result: dict[str, Any] = {"name": wire_name, "in": param.source}
        if field.description:
            result["description"] = field.description
        result["required"] = param.source == "path" or param.required
        if field.deprecated:
            result["deprecated"] = True
            # The parameter object says it; pydantic would warn that a bare
            # type cannot be deprecated.
            field = copy.copy(field)
            field.deprecated = None
        if param.is_list and param.source == "query":
            result["style"] = "form"
            result["explode"] = True

        def finish(schema: dict[str, Any]) -> None:
            schema = without_null(schema)
            schema.pop("description", None)
            result["schema"] = schema

        if self.schemas.add_type(Annotated[param.annotation, field], "validation", finish) is None:
            result["schema"] = {}
        return result

    # Request bodies ---------------------------------------------------------

    def _request_body(self, plans: list[Dependant]) -> dict[str, Any] | None:
        for plan in plans:
            if plan.body_adapter is not None:
                schema = self.schemas.add(plan.body_adapter, "validation")
                return {"content": {_JSON: {"schema": schema}}, "required": plan.body_required}
            if plan.form_adapter is not None:
                has_files = any(_has_upload(field.annotation) for field in plan.form_fields)
                media = "multipart/form-data" if has_files else "application/x-www-form-urlencoded"
                schema = self.schemas.add(plan.form_adapter, "validation")
                required = any(field.field.is_required() for field in plan.form_fields)
                return {"content": {media: {"schema": schema}}, "required": required}
        return None

    # Responses --------------------------------------------------------------

    def _responses(
        self,
        route: Route,
        hints: Mapping[str, Any],
        plans: list[Dependant],
        schemes: list[SecurityScheme],
    ) -> dict[str, Any]:
        status, content = self._success(route, hints)
        success: dict[str, Any] = {"description": _phrase(status)}
        if content:
            success["content"] = content
        responses: dict[str, dict[str, Any]] = {str(status): success}
        for key, spec in route.responses.items():
            self._declared(responses, str(key), spec)
        if any(scheme.auto_error for scheme in schemes) and "401" not in responses:
            responses["401"] = {
                "description": "Missing or malformed credentials",
                "content": {_PROBLEM: {"schema": self.schemas.problem()}},
            }
        needs_validation = any(
            plan.parameters or plan.body_adapter is not None or plan.form_adapter is not None
            for plan in plans
        )
        if needs_validation and "422" not in responses:
            responses["422"] = {
                "description": "Validation error",
                "content": {_PROBLEM: {"schema": self.schemas.problem(ValidationProblem)}},
            }
        return dict(sorted(responses.items(), key=lambda pair: _status_order(pair[0])))

    def _success(self, route: Route, hints: Mapping[str, Any]) -> tuple[int, dict[str, Any] | None]:
        """Return the status and content of what the handler returns, as carboy converts it."""
        status = route.status_code
        hint = hints.get("return")
        model = response_model_of(route, hint)
        if model is not _NO_MODEL:
            schema = self.schemas.add_type(model, "serialization")
            return status or 200, {_JSON: {"schema": schema if schema is not None else {}}}
        if "return" not in hints:
            return status or 200, None
        if hint is type(None):
            return status or 204, None
        if hint is str:
            text = (route.response_class or PlainTextResponse).media_type or "text/plain"
            return status or 200, {text: {"schema": {"type": "string"}}}
        if hint is bytes:
            return status or 200, {"application/octet-stream": {}}
        if isinstance(hint, type) and issubclass(hint, Response):
            media_type = hint.media_type
            if media_type is None:
                return status or 200, None
            if media_type.startswith("text/"):
                return status or 200, {media_type: {"schema": {"type": "string"}}}
            return status or 200, {media_type: {}}
        if _is_json_container(hint):
            schema = self.schemas.add_type(hint, "serialization")
            if schema is not None:
                return status or 200, {_JSON: {"schema": schema}}
        return status or 200, None

    def _declared(
        self, responses: dict[str, dict[str, Any]], key: str, spec: Mapping[str, Any]
    ) -> None:
        rest = dict(spec)
        model = rest.pop("model", None)
        entry = responses.setdefault(key, {"description": _status_description(key)})
        entry.update(rest)
        is_error = key[:1] in ("4", "5")
        if model is not None:
            schema = self.schemas.add_type(model, "serialization")
            media_type = _PROBLEM if is_error else _JSON
            entry["content"] = {
                **rest.get("content", {}),
                media_type: {"schema": schema if schema is not None else {}},
            }
        elif is_error and "content" not in rest:
            # carboy answers HTTPException with problem details.
            problem = (
                self.schemas.problem(ValidationProblem) if key == "422" else self.schemas.problem()
            )
            entry["content"] = {_PROBLEM: {"schema": problem}}

    # Security ---------------------------------------------------------------

    def _security(self, plans: list[Dependant]) -> list[SecurityScheme]:
        schemes: list[SecurityScheme] = []
        for plan in plans:
            scheme = plan.call
            if not isinstance(scheme, SecurityScheme):
                continue
            name = scheme.scheme_name
            described = scheme.openapi_scheme()
            known = self.security_schemes.get(name)
            if known is None:
                self.security_schemes[name] = described
            elif known != described:
                raise ImproperlyConfigured(
                    f"Two security schemes are named {name!r}, with different settings: "
                    f"{known} and {described}. The document names each scheme once: give "
                    "one of them another scheme_name=."
                )
            if all(other.scheme_name != name for other in schemes):
                schemes.append(scheme)
        return schemes


# Helpers ----------------------------------------------------------------------


def _assign_operation_ids(operations: list[_Operation]) -> None:
    """Give every operation a unique id: its route's, else its name and method.

    Ids given by routes are claimed first, so that a derived id never takes
    one; any repeat gets a numeric suffix, ``_2`` and on.
    """
    taken: set[str] = set()

    def claim(wanted: str) -> str:
        candidate, number = wanted, 2
        while candidate in taken:
            candidate, number = f"{wanted}_{number}", number + 1
        taken.add(candidate)
        return candidate

    for operation in operations:
        if operation.route.operation_id:
            operation.operation_id = claim(operation.route.operation_id)
    for operation in operations:
        if not operation.operation_id:
            name = operation.flat.name or operation.route.name or ""
            base = _NOT_IDENTIFIER.sub("_", name).strip("_") or "operation"
            operation.operation_id = claim(f"{base}_{operation.method.lower()}")


def _docstring(endpoint: Any) -> tuple[str | None, str | None]:
    """Return a handler's summary (its docstring's first paragraph) and description (the rest).

    Sections for Python readers (``Args:``, ``Returns:``, ``Raises:``) and
    what follows them are left out.
    """
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    raw = getattr(endpoint, "__doc__", None)
    if not isinstance(raw, str) or not raw.strip():
        return None, None
    doc = inspect.cleandoc(raw)
    section = _PYTHON_SECTIONS.search(doc)
    if section is not None:
        doc = doc[: section.start()].rstrip()
    first, _, rest = doc.partition("\n\n")
    summary = " ".join(first.split()) or None
    return summary, rest.strip() or None


def _path_converters(compiled: CompiledPath) -> list[tuple[str, Converter]]:
    found: list[tuple[str, Converter]] = []
    for segment in compiled.segments:
        if segment.name is not None and segment.converter is not None:
            found.append((segment.name, segment.converter))
        found.extend(segment.converters)
    return found


def _converter_schema(converter: Converter) -> dict[str, Any]:
    """Return the schema of what a path converter accepts."""
    if isinstance(converter, IntConverter):
        return {"type": "integer", "minimum": 0}
    if isinstance(converter, FloatConverter):
        return {"type": "number", "minimum": 0}
    if isinstance(converter, UUIDConverter):
        return {"type": "string", "format": "uuid"}
    if isinstance(converter, SlugConverter):
        return {"type": "string", "pattern": f"^{converter.regex}$"}
    return {"type": "string"}


def _has_upload(annotation: Any) -> bool:
    """Tell whether a form field, or a form model's field, is a file."""
    if _is_upload(annotation):
        return True
    model_fields = getattr(_strip_optional(annotation), "model_fields", None)
    if isinstance(model_fields, Mapping):
        return any(_is_upload(info.annotation) for info in model_fields.values())
    return False


def _is_json_container(hint: Any) -> bool:
    """Tell whether carboy sends a value of this type as JSON without a response model."""
    origin = get_origin(hint)
    if origin is Annotated:
        return _is_json_container(get_args(hint)[0])
    return hint in (dict, list) or origin in (dict, list, Mapping, Sequence)


def _status_description(key: str) -> str:
    if key.isdigit():
        return _phrase(int(key))
    return _RANGE_DESCRIPTIONS.get(key.upper() if key != "default" else key, "Response")


def _status_order(key: str) -> tuple[int, float, str]:
    if key.isdigit():
        return 0, int(key), ""
    if len(key) == 3 and key[0].isdigit() and key[1:].upper() == "XX":
        # After every status of its range: 4XX after 499.
        return 0, int(key[0]) * 100 + 99.5, ""
    return (1, 0, "") if key == "default" else (2, 0, key)


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))
