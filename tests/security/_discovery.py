"""What the battery learns about an app: its operations, plausible inputs, and its forms.

Operations come from the app's OpenAPI document; a plausible value for each
parameter and body comes from its schema, so that a request which differs
from a valid one in a single bad value is refused for that value alone.
Forms come from the HTML of the pages the battery is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Tried in order for a string with a pattern; the first that matches wins.
STRING_CANDIDATES = (
    "battery",
    "battery@example.com",
    "battery-1",
    "https://example.com/battery",
    "1",
    "a",
    "2024-01-02",
)
PLAUSIBLE_FORMATS = {
    "email": "battery@example.com",
    "uri": "https://example.com/battery",
    "url": "https://example.com/battery",
    "date": "2024-01-02",
    "date-time": "2024-01-02T03:04:05Z",
    "time": "03:04:05",
    "uuid": "8c3f2a8e-5b0c-4a53-9f51-3d0c1e2b7a64",
    "ipv4": "192.0.2.1",
    "password": "battery-Password-1",
}
PLAUSIBLE_INPUTS = {
    "email": "battery@example.com",
    "password": "battery-Password-1",
    "url": "https://example.com/battery",
    "tel": "+15555550100",
    "number": "1",
    "range": "1",
    "date": "2024-01-02",
    "datetime-local": "2024-01-02T03:04",
    "time": "03:04",
    "month": "2024-01",
    "week": "2024-W01",
    "color": "#000000",
}
# Input types whose value the app reads as text, and so where a bad byte goes.
TEXT_INPUTS = frozenset(
    {"text", "search", "email", "url", "tel", "password", "number", "date", "hidden"}
    | {"datetime-local", "time", "month", "week", "color", "textarea", "select"}
)


@dataclass(frozen=True)
class Parameter:
    """One parameter of an operation, where it goes and its schema."""

    name: str
    location: str
    required: bool
    schema: dict[str, Any]


@dataclass(frozen=True)
class Operation:
    """One method on one path of the OpenAPI document."""

    method: str
    path: str
    parameters: tuple[Parameter, ...] = ()
    body_kind: str | None = None
    body_schema: dict[str, Any] | None = None
    json_statuses: frozenset[str] = frozenset()
    required_auth_headers: tuple[str, ...] = ()


class Schemas:
    """Resolves ``$ref`` in an OpenAPI document and makes plausible values from schemas."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Follow ``$ref`` until a schema that is not one."""
        seen = 0
        while "$ref" in schema and seen < 32:
            node: Any = self.document
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node.get(part.replace("~1", "/").replace("~0", "~"), {})
            schema = node if isinstance(node, dict) else {}
            seen += 1
        return schema

    def plausible(self, schema: dict[str, Any], name: str = "", depth: int = 0) -> Any:
        """Return a value that ``schema`` (the parameter or property ``name``) likely accepts."""
        schema = self.resolve(schema)
        if depth > 8:
            return None
        for key in ("const", "example", "default"):
            if key in schema and schema[key] is not None:
                return schema[key]
        if schema.get("examples"):
            return schema["examples"][0]
        if schema.get("enum"):
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [self.resolve(option) for option in schema[key]]
                usable = [option for option in options if option.get("type") != "null"]
                return self.plausible((usable or options)[0], name, depth + 1)
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                for key, value in self.resolve(part).items():
                    if key == "properties":
                        merged.setdefault("properties", {}).update(value)
                    elif key == "required":
                        merged.setdefault("required", []).extend(value)
                    else:
                        merged[key] = value
            return self.plausible(merged, name, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((each for each in kind if each != "null"), "null")
        if kind == "object" or (kind is None and "properties" in schema):
            return {
                key: self.plausible(value, key, depth + 1)
                for key, value in schema.get("properties", {}).items()
            }
        if kind == "array":
            count = max(1, int(schema.get("minItems", 1)))
            return [self.plausible(schema.get("items", {}), name, depth + 1)] * count
        if kind == "integer":
            return int(max(schema.get("minimum", 1), schema.get("exclusiveMinimum", 0) + 1))
        if kind == "number":
            return float(max(schema.get("minimum", 1), schema.get("exclusiveMinimum", 0) + 1))
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return plausible_string(schema, name)


def plausible_string(schema: dict[str, Any], name: str = "") -> str:
    """Return a string within ``schema``'s format, pattern and length bounds."""
    if schema.get("format") in PLAUSIBLE_FORMATS:
        value = PLAUSIBLE_FORMATS[schema["format"]]
    elif "email" in name.lower():
        value = PLAUSIBLE_FORMATS["email"]
    elif "password" in name.lower():
        value = PLAUSIBLE_FORMATS["password"]
    else:
        value = "battery"
    pattern = schema.get("pattern")
    if pattern:
        candidates = (value, *STRING_CANDIDATES)
        value = next((each for each in candidates if _matches(pattern, each)), value)
    minimum = int(schema.get("minLength", 0))
    maximum = int(schema.get("maxLength", 10_000))
    if len(value) < minimum:
        value += "x" * (minimum - len(value))
    return value[:maximum]


def _matches(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return False


def operations(document: dict[str, Any]) -> list[Operation]:
    """Return every operation of an OpenAPI 3 document, in its order."""
    schemas = Schemas(document)
    schemes = document.get("components", {}).get("securitySchemes", {})
    found: list[Operation] = []
    for path, item in document.get("paths", {}).items():
        item = schemas.resolve(item)
        shared = item.get("parameters", [])
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            parameters: dict[tuple[str, str], Parameter] = {}
            for raw in [*shared, *operation.get("parameters", [])]:
                raw = schemas.resolve(raw)
                parameter = Parameter(
                    raw["name"],
                    raw["in"],
                    bool(raw.get("required", raw["in"] == "path")),
                    raw.get("schema", {}),
                )
                parameters[(parameter.name, parameter.location)] = parameter
            body_kind, body_schema = _body(schemas.resolve(operation.get("requestBody", {})))
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    parameters=tuple(parameters.values()),
                    body_kind=body_kind,
                    body_schema=body_schema,
                    json_statuses=frozenset(
                        status
                        for status, answer in operation.get("responses", {}).items()
                        if any(
                            "json" in kind for kind in schemas.resolve(answer).get("content", {})
                        )
                    ),
                    required_auth_headers=_required_auth_headers(
                        operation.get("security", document.get("security", [])), schemes
                    ),
                )
            )
    return found


def _body(request_body: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    content = request_body.get("content", {})
    for media, kind in (
        ("application/json", "json"),
        ("application/x-www-form-urlencoded", "form"),
        ("multipart/form-data", "multipart"),
    ):
        if media in content:
            return kind, content[media].get("schema", {})
    for media, entry in content.items():
        if media.endswith("+json"):
            return "json", entry.get("schema", {})
    return None, None


def _required_auth_headers(
    requirements: list[dict[str, Any]], schemes: dict[str, Any]
) -> tuple[str, ...]:
    """Name the headers an operation cannot do without (none when ``{}`` is an option)."""
    if not requirements or any(not requirement for requirement in requirements):
        return ()
    names: list[str] = []
    for requirement in requirements:
        for scheme_name in requirement:
            scheme = schemes.get(scheme_name, {})
            if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                names.append(scheme["name"])
            elif scheme.get("type") == "http":
                names.append("Authorization")
    return tuple(dict.fromkeys(names))


def fill_path(template: str, values: dict[str, str]) -> str:
    """Put each ``{name}`` of ``template``'s value in ``values``, already percent-encoded."""
    return re.sub(r"\{([^}/]+)\}", lambda match: values[match[1]], template)


def plausible_path_values(operation: Operation, schemas: Schemas) -> dict[str, str]:
    """Percent-encoded plausible values for the path parameters of ``operation``."""
    values = {}
    for name in re.findall(r"\{([^}/]+)\}", operation.path):
        parameter = next(
            (
                each
                for each in operation.parameters
                if each.name == name and each.location == "path"
            ),
            Parameter(name, "path", True, {}),
        )
        values[name] = quote(str(schemas.plausible(parameter.schema, name)), safe="")
    return values


# Forms -----------------------------------------------------------------------------------------


@dataclass
class FormField:
    """A named control of a form, with what a browser would send for it."""

    name: str
    kind: str
    value: str
    options: list[str] = field(default_factory=list)

    @property
    def is_token(self) -> bool:
        """Tell whether this field carries a CSRF token."""
        return "csrf" in self.name.lower() or "xsrf" in self.name.lower()

    def plausible(self) -> str:
        """Return what a person filling the form in might send."""
        if self.kind == "select":
            return self.value or (self.options[0] if self.options else "")
        if self.kind in ("hidden", "submit", "checkbox", "radio") or self.value:
            return self.value or ("on" if self.kind in ("checkbox", "radio") else "")
        return PLAUSIBLE_INPUTS.get(self.kind, "battery")


@dataclass
class Form:
    """A form of a page: where it posts, how it encodes, and its fields."""

    action: str
    method: str
    enctype: str
    fields: list[FormField] = field(default_factory=list)

    @property
    def token(self) -> tuple[str, str] | None:
        """Return the CSRF token field's name and value, if the form has one."""
        for each in self.fields:
            if each.is_token and each.kind == "hidden" and each.value:
                return each.name, each.value
        return None

    def plausible(self, *, with_token: bool) -> list[tuple[str, str]]:
        """Return the pairs a browser would send, with or without the CSRF token."""
        pairs: list[tuple[str, str]] = []
        seen_radio: set[str] = set()
        submitted = False
        for each in self.fields:
            if each.is_token and not with_token:
                continue
            if each.kind == "file":
                continue
            if each.kind == "radio":
                if each.name in seen_radio:
                    continue
                seen_radio.add(each.name)
            if each.kind == "submit":
                # A browser sends the button that was clicked, and only that one.
                if submitted:
                    continue
                submitted = True
            pairs.append((each.name, each.plausible()))
        return pairs

    def injectable(self) -> list[str]:
        """Name the fields whose value the app reads as text, each once."""
        names = [
            each.name for each in self.fields if each.kind in TEXT_INPUTS and not each.is_token
        ]
        return list(dict.fromkeys(names))


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.tokens_outside_forms: list[str] = []
        self._form: Form | None = None
        self._textarea: FormField | None = None
        self._select: FormField | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "form":
            self._form = Form(
                action=attributes.get("action", ""),
                method=(attributes.get("method") or "get").upper(),
                enctype=attributes.get("enctype") or "application/x-www-form-urlencoded",
            )
            self.forms.append(self._form)
            return
        if tag == "meta" and "csrf" in attributes.get("name", "").lower():
            self.tokens_outside_forms.append(attributes.get("content", ""))
            return
        name = attributes.get("name")
        if self._form is None or not name:
            if tag == "input" and name and "csrf" in name.lower():
                self.tokens_outside_forms.append(attributes.get("value", ""))
            return
        if tag == "input":
            kind = attributes.get("type", "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in attributes:
                kind_value = attributes.get("value", "on")
                # An unchecked box is not sent; keep it out of the plausible pairs.
                if kind == "checkbox":
                    return
                self._form.fields.append(FormField(name, kind, kind_value))
                return
            if kind in ("button", "reset", "image"):
                return
            self._form.fields.append(FormField(name, kind, attributes.get("value", "")))
        elif tag == "button":
            if attributes.get("type", "submit").lower() == "submit":
                self._form.fields.append(FormField(name, "submit", attributes.get("value", "")))
        elif tag == "textarea":
            self._textarea = FormField(name, "textarea", "")
            self._form.fields.append(self._textarea)
        elif tag == "select":
            self._select = FormField(name, "select", "")
            self._form.fields.append(self._select)
        if tag == "option" and self._select is not None:
            value = attributes.get("value", "")
            self._select.options.append(value)
            if "selected" in attributes:
                self._select.value = value

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            if self._textarea is not None:
                self._textarea.value = self._textarea.value.removeprefix("\n")
            self._textarea = None
        elif tag == "select":
            self._select = None


def forms_in(html: str, page_url: str) -> list[Form]:
    """Return the forms of ``html``, with each ``action`` made absolute against ``page_url``."""
    parser = _FormParser()
    parser.feed(html)
    for form in parser.forms:
        form.action = urljoin(page_url, form.action or page_url)
    return parser.forms


def carries_token(html: str) -> bool:
    """Tell whether a page carries a CSRF token, in a form or a ``<meta>``."""
    parser = _FormParser()
    parser.feed(html)
    return bool(parser.tokens_outside_forms) or any(form.token for form in parser.forms)


def same_origin(url: str, base_url: str) -> bool:
    """Tell whether ``url`` is on the scheme, host and port of ``base_url``."""
    one, other = urlsplit(url), urlsplit(base_url)
    return (one.scheme, one.netloc) == (other.scheme, other.netloc)


def string_leaves(value: Any, trail: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Yield the trail of keys and indexes to every string inside a JSON value."""
    if isinstance(value, str):
        yield trail
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from string_leaves(item, (*trail, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from string_leaves(item, (*trail, index))


def replaced(value: Any, trail: tuple[str | int, ...], new: Any) -> Any:
    """Return a copy of ``value`` with the item at ``trail`` replaced by ``new``."""
    if not trail:
        return new
    head, rest = trail[0], trail[1:]
    if isinstance(value, dict):
        return {
            key: replaced(item, rest, new) if key == head else item for key, item in value.items()
        }
    return [
        replaced(item, rest, new) if index == head else item for index, item in enumerate(value)
    ]
