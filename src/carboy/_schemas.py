"""JSON schemas for the OpenAPI document, all made by one pydantic generator.

Every schema of a document is asked for first, as a slot (an empty dict put
where the schema goes), and generated at the end in one pass: pydantic then
names each model once, gives two different models of the same name distinct
component names, and points every ``$ref`` at ``#/components/schemas/``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue

REF_PREFIX = "#/components/schemas/"

# "validation" for what clients send, "serialization" for what they get.
Mode = JsonSchemaMode
Finish = Callable[[dict[str, Any]], None]


class Problem(BaseModel):
    """Problem details (RFC 9457): what went wrong with a request."""

    type: str = Field(
        description="A URI naming the kind of problem; about:blank for plain HTTP errors."
    )
    title: str = Field(description="The HTTP status phrase, such as 'Not Found'.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong, for this request.")


class ValidationErrorItem(BaseModel):
    """One reason a request did not validate."""

    location: str = Field(
        description="Where: the source, then the name and the path inside it, "
        "such as 'query.limit' or 'body.user.email'."
    )
    message: str = Field(description="What is wrong with the value.")
    type: str = Field(description="The kind of error, such as 'missing' or 'int_parsing'.")


class ValidationProblem(Problem):
    """Problem details of a request whose parameters or body did not validate (422)."""

    errors: list[ValidationErrorItem] = Field(description="Every error found, in order.")


class _Generator(GenerateJsonSchema):
    """pydantic's generator, made never to fail or warn over one odd type.

    A type with no JSON schema (an arbitrary class) becomes ``{}``, any
    value; a default that is not JSON is left out. The document is built
    once per app, and one handler's odd type must not take the whole
    document down, or fail a test run that turns warnings into errors.
    """

    def handle_invalid_for_json_schema(self, schema: Any, error_info: str) -> JsonSchemaValue:
        return {}

    def render_warning_message(self, kind: Any, detail: str) -> str | None:
        return None


class SchemaCollector:
    """Collect the schemas of one document, then generate them together."""

    def __init__(self) -> None:
        self._inputs: list[tuple[int, Mode, TypeAdapter[Any]]] = []
        self._finishers: list[Finish] = []
        self._problem: dict[type[BaseModel], TypeAdapter[Any]] = {}

    def add(
        self, adapter: TypeAdapter[Any], mode: Mode, finish: Finish | None = None
    ) -> dict[str, Any]:
        """Return a slot that will hold ``adapter``'s schema in ``mode``.

        ``finish`` gets the schema instead, to place it itself.
        """
        slot: dict[str, Any] = {}
        self._inputs.append((len(self._inputs), mode, adapter))
        self._finishers.append(finish or slot.update)
        return slot

    def add_type(
        self, annotation: Any, mode: Mode, finish: Finish | None = None
    ) -> dict[str, Any] | None:
        """Like ``add``, from a type; ``None`` when pydantic cannot handle the type at all."""
        adapter = adapter_for(annotation)
        return None if adapter is None else self.add(adapter, mode, finish)

    def problem(self, model: type[BaseModel] = Problem) -> dict[str, Any]:
        """Return a slot for the ``$ref`` of carboy's problem details, or of its 422 variant."""
        adapter = self._problem.get(model)
        if adapter is None:
            adapter = self._problem[model] = TypeAdapter(model)
        return self.add(adapter, "serialization")

    def generate(self) -> dict[str, Any]:
        """Fill every slot; return the definitions, by component name."""
        if not self._inputs:
            return {}
        schemas, definitions = TypeAdapter.json_schemas(
            self._inputs,
            ref_template=REF_PREFIX + "{model}",
            schema_generator=_Generator,
        )
        for (key, mode, _), finish in zip(self._inputs, self._finishers, strict=True):
            finish(schemas[(key, mode)])
        defs: dict[str, Any] = definitions.get("$defs", {})
        return {name: defs[name] for name in sorted(defs)}


def adapter_for(annotation: Any) -> TypeAdapter[Any] | None:
    """Return a ``TypeAdapter`` of ``annotation``, or ``None`` if pydantic refuses it."""
    from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError

    try:
        return TypeAdapter(annotation)
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError):
        return None


def without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop ``null`` from an optional parameter's schema, and its ``None`` default.

    A query, header or cookie value is a string or is absent; it is never
    JSON ``null``, so ``int | None = None`` reads on the wire as an integer
    that may be left out.
    """
    options = schema.get("anyOf")
    if not isinstance(options, list):
        return schema
    rest = [option for option in options if option != {"type": "null"}]
    if len(rest) == len(options) or not rest:
        return schema
    others = {key: value for key, value in schema.items() if key != "anyOf"}
    if "default" in others and others["default"] is None:
        del others["default"]
    if len(rest) == 1:
        return {**rest[0], **others}
    return {"anyOf": rest, **others}
