from __future__ import annotations

import enum
import json
import uuid
from typing import Annotated, Any, Literal

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel, Field, computed_field

from carboy import (
    Body,
    Carboy,
    Cookie,
    Depends,
    File,
    Form,
    Header,
    HTMLResponse,
    JSONResponse,
    Mount,
    OpenAPIConfig,
    Path,
    Query,
    Request,
    Response,
    Router,
    UploadFile,
    WebSocket,
)
from carboy.controllers import Controller, get
from carboy.exceptions import ImproperlyConfigured
from carboy.security import APIKeyCookie, APIKeyHeader, HTTPBearer
from carboy.testing import TestClient

REF = "#/components/schemas/"
VALIDATION_ERROR = {
    "description": "Validation error",
    "content": {"application/problem+json": {"schema": {"$ref": REF + "ValidationProblem"}}},
}
UNAUTHORIZED = {
    "description": "Missing or malformed credentials",
    "content": {"application/problem+json": {"schema": {"$ref": REF + "Problem"}}},
}


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Item(BaseModel):
    """An item of the shop."""

    name: str = Field(max_length=20)
    price: float = Field(ge=0)


class ItemOut(BaseModel):
    name: str


def document(app: Carboy) -> dict[str, Any]:
    """Fetch the app's document as a client does; check it is valid and its refs resolve."""
    with TestClient(app) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    found: dict[str, Any] = response.json()
    validate(found)
    schemas = found.get("components", {}).get("schemas", {})
    assert [ref for ref in refs(found) if ref.removeprefix(REF) not in schemas] == []
    return found


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs(value)]
    return []


def test_an_app_without_routes_has_an_empty_document() -> None:
    assert document(Carboy()) == {
        "openapi": "3.1.0",
        "info": {"title": "carboy API", "version": "0.1.0"},
        "paths": {},
    }


def test_info_servers_and_tags_come_from_the_config() -> None:
    config = OpenAPIConfig(
        title="Shop",
        version="2.1",
        description="Sells *carboys*.",
        servers=[{"url": "https://shop.example", "description": "Production"}],
        tags=[{"name": "items", "description": "What the shop sells."}],
        contact={"name": "Shop team", "email": "team@shop.example"},
        license_info={"name": "MIT", "identifier": "MIT"},
        terms_of_service="https://shop.example/terms",
    )

    found = document(Carboy(openapi=config))

    assert found == {
        "openapi": "3.1.0",
        "info": {
            "title": "Shop",
            "description": "Sells *carboys*.",
            "termsOfService": "https://shop.example/terms",
            "contact": {"name": "Shop team", "email": "team@shop.example"},
            "license": {"name": "MIT", "identifier": "MIT"},
            "version": "2.1",
        },
        "servers": [{"url": "https://shop.example", "description": "Production"}],
        "paths": {},
        "tags": [{"name": "items", "description": "What the shop sells."}],
    }


def path_app() -> Carboy:
    app = Carboy()

    @app.get("/users/{id:int}")
    async def user(id: int) -> None: ...

    @app.get("/prices/{amount:float}")
    async def price(amount: float) -> None: ...

    @app.get("/things/{key:uuid}")
    async def thing(key: uuid.UUID) -> None: ...

    @app.get("/articles/{slug:slug}")
    async def article(slug: str) -> None: ...

    @app.get("/files/{rest:path}")
    async def files(rest: str) -> None: ...

    @app.get("/names/{name}")
    async def by_name(name: str) -> None: ...

    @app.get("/typed/{number}/{key}")
    async def typed(number: int, key: uuid.UUID) -> None: ...

    @app.get("/pages/{name}.{ext:slug}")
    async def page(name: str, ext: str) -> None: ...

    @app.get("/raw/{key:int}")
    async def raw(request: Request) -> None: ...

    return app


def test_path_templates_lose_their_converters() -> None:
    found = document(path_app())

    assert list(found["paths"]) == [
        "/users/{id}",
        "/prices/{amount}",
        "/things/{key}",
        "/articles/{slug}",
        "/files/{rest}",
        "/names/{name}",
        "/typed/{number}/{key}",
        "/pages/{name}.{ext}",
        "/raw/{key}",
    ]


def test_path_parameters_get_their_converters_schema() -> None:
    found = document(path_app())

    def path_params(path: str) -> list[tuple[str, bool, dict[str, Any]]]:
        return [
            (param["name"], param["required"], param["schema"])
            for param in found["paths"][path]["get"]["parameters"]
            if param["in"] == "path"
        ]

    assert path_params("/users/{id}") == [("id", True, {"type": "integer", "minimum": 0})]
    assert path_params("/prices/{amount}") == [("amount", True, {"type": "number", "minimum": 0})]
    assert path_params("/things/{key}") == [("key", True, {"type": "string", "format": "uuid"})]
    assert path_params("/articles/{slug}") == [
        ("slug", True, {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"})
    ]
    assert path_params("/files/{rest}") == [("rest", True, {"type": "string"})]
    assert path_params("/names/{name}") == [("name", True, {"type": "string"})]
    assert path_params("/typed/{number}/{key}") == [
        ("number", True, {"type": "integer", "minimum": 0}),
        ("key", True, {"type": "string", "format": "uuid"}),
    ]
    assert path_params("/pages/{name}.{ext}") == [
        ("name", True, {"type": "string"}),
        ("ext", True, {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"}),
    ]
    # Read by the handler from the request, yet still in the path.
    assert path_params("/raw/{key}") == [("key", True, {"type": "integer", "minimum": 0})]


def test_a_path_parameter_with_a_marker_takes_its_schema_from_pydantic() -> None:
    app = Carboy()

    @app.get("/items/{item_id:int}")
    async def item(item_id: Annotated[int, Path(ge=1, description="The item's id.")]) -> None: ...

    @app.get("/colors/{color}")
    async def color(color: Color) -> None: ...

    found = document(app)

    assert found["paths"]["/items/{item_id}"]["get"]["parameters"] == [
        {
            "name": "item_id",
            "in": "path",
            "description": "The item's id.",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    ]
    assert found["paths"]["/colors/{color}"]["get"]["parameters"] == [
        {"name": "color", "in": "path", "required": True, "schema": {"$ref": REF + "Color"}}
    ]
    assert found["components"]["schemas"]["Color"] == {
        "enum": ["red", "blue"],
        "title": "Color",
        "type": "string",
    }
    assert found["paths"]["/colors/{color}"]["get"]["responses"]["422"] == VALIDATION_ERROR


def test_query_parameters_carry_constraints_aliases_defaults_and_examples() -> None:
    app = Carboy()

    @app.get("/search")
    async def search(
        q: Annotated[
            str,
            Query(min_length=2, max_length=50, description="Words to look for.", examples=["jug"]),
        ],
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        page_size: Annotated[int | None, Query(alias="page-size", gt=0)] = None,
        tags: Annotated[list[str], Query(alias="tag", max_length=3)] = [],  # noqa: B006
        color: Color | None = None,
        sort: Literal["asc", "desc"] = "asc",
        old: Annotated[bool, Query(deprecated=True)] = False,
    ) -> list[str]:
        return []

    found = document(app)

    assert found["paths"]["/search"]["get"]["parameters"] == [
        {
            "name": "q",
            "in": "query",
            "description": "Words to look for.",
            "required": True,
            "schema": {"type": "string", "minLength": 2, "maxLength": 50, "examples": ["jug"]},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
        },
        {
            "name": "page-size",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "exclusiveMinimum": 0},
        },
        {
            "name": "tag",
            "in": "query",
            "required": False,
            "style": "form",
            "explode": True,
            "schema": {"type": "array", "items": {"type": "string"}, "maxItems": 3, "default": []},
        },
        {"name": "color", "in": "query", "required": False, "schema": {"$ref": REF + "Color"}},
        {
            "name": "sort",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": ["asc", "desc"], "default": "asc"},
        },
        {
            "name": "old",
            "in": "query",
            "required": False,
            "deprecated": True,
            "schema": {"type": "boolean", "default": False},
        },
    ]


def test_header_and_cookie_parameters_use_their_wire_names() -> None:
    app = Carboy()

    @app.get("/whoami")
    async def whoami(
        trace: Annotated[str, Header(alias="X-Trace-Id")],
        user_agent: Annotated[str | None, Header()] = None,
        raw_name: Annotated[str | None, Header(convert_underscores=False)] = None,
        forwarded: Annotated[list[str], Header(alias="x-forwarded-for")] = [],  # noqa: B006
        session: Annotated[str | None, Cookie(alias="session-id")] = None,
        theme: Annotated[str, Cookie(max_length=10)] = "light",
    ) -> None: ...

    found = document(app)

    assert found["paths"]["/whoami"]["get"]["parameters"] == [
        {"name": "X-Trace-Id", "in": "header", "required": True, "schema": {"type": "string"}},
        {"name": "user-agent", "in": "header", "required": False, "schema": {"type": "string"}},
        {"name": "raw_name", "in": "header", "required": False, "schema": {"type": "string"}},
        {
            "name": "x-forwarded-for",
            "in": "header",
            "required": False,
            "schema": {"type": "array", "items": {"type": "string"}, "default": []},
        },
        {"name": "session-id", "in": "cookie", "required": False, "schema": {"type": "string"}},
        {
            "name": "theme",
            "in": "cookie",
            "required": False,
            "schema": {"type": "string", "maxLength": 10, "default": "light"},
        },
    ]


def test_dependencies_parameters_are_documented_once_each_grouped_by_location() -> None:
    app = Carboy()

    async def pagination(
        offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(le=50)] = 10
    ) -> tuple[int, int]:
        return offset, limit

    async def current_user(
        x_token: Annotated[str, Header()], page: Annotated[tuple[int, int], Depends(pagination)]
    ) -> str:
        return x_token

    def audit(x_request_id: Annotated[str | None, Header()] = None) -> None: ...

    @app.get("/items/{item_id:int}", dependencies=[Depends(audit)])
    async def items(
        item_id: int,
        user: Annotated[str, Depends(current_user)],
        page: Annotated[tuple[int, int], Depends(pagination)],
        limit: Annotated[int, Query(le=5)] = 5,
        q: str | None = None,
    ) -> None: ...

    found = document(app)

    assert found["paths"]["/items/{item_id}"]["get"]["parameters"] == [
        {
            "name": "item_id",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "maximum": 5, "default": 5},
        },
        {"name": "q", "in": "query", "required": False, "schema": {"type": "string"}},
        {
            "name": "offset",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0, "default": 0},
        },
        {"name": "x-request-id", "in": "header", "required": False, "schema": {"type": "string"}},
        {"name": "x-token", "in": "header", "required": True, "schema": {"type": "string"}},
    ]


def test_a_json_body_model_is_the_request_body() -> None:
    app = Carboy()

    @app.post("/items")
    async def create(item: Item) -> None: ...

    @app.put("/items")
    async def replace(item: Item | None = None) -> None: ...

    @app.post("/ids")
    async def ids(values: Annotated[list[int], Body(max_length=3)]) -> None: ...

    found = document(app)

    assert found["paths"]["/items"]["post"]["requestBody"] == {
        "content": {"application/json": {"schema": {"$ref": REF + "Item"}}},
        "required": True,
    }
    assert found["paths"]["/items"]["put"]["requestBody"] == {
        "content": {
            "application/json": {
                "schema": {"anyOf": [{"$ref": REF + "Item"}, {"type": "null"}], "default": None}
            }
        },
        "required": False,
    }
    assert found["paths"]["/ids"]["post"]["requestBody"] == {
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"type": "integer"}, "maxItems": 3}
            }
        },
        "required": True,
    }
    assert found["components"]["schemas"]["Item"] == {
        "description": "An item of the shop.",
        "properties": {
            "name": {"maxLength": 20, "title": "Name", "type": "string"},
            "price": {"minimum": 0, "title": "Price", "type": "number"},
        },
        "required": ["name", "price"],
        "title": "Item",
        "type": "object",
    }
    assert found["paths"]["/items"]["post"]["responses"]["422"] == VALIDATION_ERROR


def test_embedded_bodies_are_one_object_of_their_fields() -> None:
    app = Carboy()

    @app.put("/items/{item_id:int}")
    async def update_item(
        item_id: int, item: Item, note: Annotated[str, Body(max_length=10)] = ""
    ) -> None: ...

    @app.post("/names")
    async def add_name(name: Annotated[str, Body(embed=True)]) -> None: ...

    found = document(app)

    assert found["paths"]["/items/{item_id}"]["put"]["requestBody"] == {
        "content": {"application/json": {"schema": {"$ref": REF + "UpdateItemBody"}}},
        "required": True,
    }
    assert found["components"]["schemas"]["UpdateItemBody"] == {
        "properties": {
            "item": {"$ref": REF + "Item"},
            "note": {"default": "", "maxLength": 10, "title": "Note", "type": "string"},
        },
        "required": ["item"],
        "title": "UpdateItemBody",
        "type": "object",
    }
    assert found["components"]["schemas"]["AddNameBody"] == {
        "properties": {"name": {"title": "Name", "type": "string"}},
        "required": ["name"],
        "title": "AddNameBody",
        "type": "object",
    }


class Signup(BaseModel):
    username: str = Field(min_length=3)
    newsletter: bool = False


class Avatar(BaseModel):
    picture: UploadFile
    caption: str = ""


def test_forms_are_url_encoded_and_uploads_multipart() -> None:
    app = Carboy()

    @app.post("/contact")
    async def contact(
        name: Annotated[str, Form(max_length=50)],
        topics: Annotated[list[str], Form()] = [],  # noqa: B006
    ) -> None: ...

    @app.post("/signup")
    async def signup(data: Annotated[Signup, Form()]) -> None: ...

    @app.post("/upload")
    async def upload(
        file: Annotated[UploadFile, File()], description: Annotated[str, Form()] = ""
    ) -> None: ...

    @app.post("/gallery")
    async def gallery(pictures: list[UploadFile]) -> None: ...

    @app.post("/avatar")
    async def avatar(data: Annotated[Avatar, Form()]) -> None: ...

    found = document(app)
    paths, schemas = found["paths"], found["components"]["schemas"]

    assert paths["/contact"]["post"]["requestBody"] == {
        "content": {"application/x-www-form-urlencoded": {"schema": {"$ref": REF + "ContactForm"}}},
        "required": True,
    }
    assert schemas["ContactForm"] == {
        "properties": {
            "name": {"maxLength": 50, "title": "Name", "type": "string"},
            "topics": {
                "default": [],
                "items": {"type": "string"},
                "title": "Topics",
                "type": "array",
            },
        },
        "required": ["name"],
        "title": "ContactForm",
        "type": "object",
    }
    assert paths["/signup"]["post"]["requestBody"] == {
        "content": {"application/x-www-form-urlencoded": {"schema": {"$ref": REF + "Signup"}}},
        "required": True,
    }
    assert paths["/upload"]["post"]["requestBody"] == {
        "content": {"multipart/form-data": {"schema": {"$ref": REF + "UploadForm"}}},
        "required": True,
    }
    assert schemas["UploadForm"] == {
        "properties": {
            "file": {"format": "binary", "title": "File", "type": "string"},
            "description": {"default": "", "title": "Description", "type": "string"},
        },
        "required": ["file"],
        "title": "UploadForm",
        "type": "object",
    }
    assert schemas["GalleryForm"]["properties"]["pictures"] == {
        "items": {"format": "binary", "type": "string"},
        "title": "Pictures",
        "type": "array",
    }
    assert list(paths["/gallery"]["post"]["requestBody"]["content"]) == ["multipart/form-data"]
    assert list(paths["/avatar"]["post"]["requestBody"]["content"]) == ["multipart/form-data"]


def response_app() -> Carboy:
    app = Carboy()

    @app.get("/model")
    async def model() -> Item:
        return Item(name="jug", price=1)

    @app.get("/filtered", response_model=ItemOut)
    async def filtered() -> dict[str, Any]:
        return {"name": "jug", "secret": 1}

    @app.get("/many")
    async def many() -> list[Item]:
        return []

    @app.post("/created", status_code=201)
    async def created() -> Item:
        return Item(name="jug", price=1)

    @app.delete("/nothing")
    async def nothing() -> None: ...

    @app.post("/accepted", status_code=202)
    async def accepted() -> None: ...

    @app.get("/text")
    async def text() -> str:
        return "hi"

    @app.get("/html", response_class=HTMLResponse)
    async def html() -> str:
        return "<p>hi</p>"

    @app.get("/mapping")
    async def mapping() -> dict[str, int]:
        return {}

    @app.get("/page")
    async def page() -> HTMLResponse:
        return HTMLResponse("<p>hi</p>")

    @app.get("/json")
    async def json_response() -> JSONResponse:
        return JSONResponse({})

    @app.get("/bytes")
    async def raw_bytes() -> bytes:
        return b""

    @app.get("/any-response")
    async def any_response() -> Response:
        return Response()

    @app.get("/unannotated")
    async def unannotated():  # type: ignore[no-untyped-def]
        return {}

    @app.get("/opaque")
    async def opaque() -> dict[str, Request]:
        return {}

    return app


def json_of(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


@pytest.mark.parametrize(
    ("path", "method", "responses"),
    [
        (
            "/model",
            "get",
            {"200": {"description": "OK", "content": json_of({"$ref": REF + "Item"})}},
        ),
        (
            "/filtered",
            "get",
            {"200": {"description": "OK", "content": json_of({"$ref": REF + "ItemOut"})}},
        ),
        (
            "/many",
            "get",
            {
                "200": {
                    "description": "OK",
                    "content": json_of({"type": "array", "items": {"$ref": REF + "Item"}}),
                }
            },
        ),
        (
            "/created",
            "post",
            {"201": {"description": "Created", "content": json_of({"$ref": REF + "Item"})}},
        ),
        ("/nothing", "delete", {"204": {"description": "No Content"}}),
        ("/accepted", "post", {"202": {"description": "Accepted"}}),
        (
            "/text",
            "get",
            {
                "200": {
                    "description": "OK",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        ),
        (
            "/html",
            "get",
            {
                "200": {
                    "description": "OK",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                }
            },
        ),
        (
            "/mapping",
            "get",
            {
                "200": {
                    "description": "OK",
                    "content": json_of(
                        {"type": "object", "additionalProperties": {"type": "integer"}}
                    ),
                }
            },
        ),
        (
            "/page",
            "get",
            {
                "200": {
                    "description": "OK",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                }
            },
        ),
        ("/json", "get", {"200": {"description": "OK", "content": {"application/json": {}}}}),
        (
            "/bytes",
            "get",
            {"200": {"description": "OK", "content": {"application/octet-stream": {}}}},
        ),
        ("/any-response", "get", {"200": {"description": "OK"}}),
        ("/unannotated", "get", {"200": {"description": "OK"}}),
        # pydantic has no schema for it: the response is documented without one.
        ("/opaque", "get", {"200": {"description": "OK"}}),
    ],
)
def test_the_success_response_documents_what_the_handler_returns(
    path: str, method: str, responses: dict[str, Any]
) -> None:
    found = document(response_app())

    assert found["paths"][path][method]["responses"] == responses


class Conflict(BaseModel):
    reason: str


class Queued(BaseModel):
    position: int


def test_declared_responses_are_merged_and_ordered_by_status() -> None:
    app = Carboy()

    @app.get(
        "/items/{item_id:int}",
        responses={
            "default": {"description": "Something else."},
            500: {"description": "It broke."},
            409: {"description": "Taken.", "model": Conflict},
            "4XX": {"description": "Your mistake."},
            404: {"description": "No such item."},
            202: {"model": Queued},
            200: {"description": "The item.", "headers": {"ETag": {"schema": {"type": "string"}}}},
        },
    )
    async def item(item_id: int) -> Item:
        return Item(name="jug", price=1)

    found = document(app)
    problem = {"application/problem+json": {"schema": {"$ref": REF + "Problem"}}}

    assert found["paths"]["/items/{item_id}"]["get"]["responses"] == {
        "200": {
            "description": "The item.",
            "headers": {"ETag": {"schema": {"type": "string"}}},
            "content": json_of({"$ref": REF + "Item"}),
        },
        "202": {"description": "Accepted", "content": json_of({"$ref": REF + "Queued"})},
        "404": {"description": "No such item.", "content": problem},
        "409": {
            "description": "Taken.",
            "content": {"application/problem+json": {"schema": {"$ref": REF + "Conflict"}}},
        },
        "4XX": {"description": "Your mistake.", "content": problem},
        "500": {"description": "It broke.", "content": problem},
        "default": {"description": "Something else."},
    }
    assert list(found["paths"]["/items/{item_id}"]["get"]["responses"]) == [
        "200",
        "202",
        "404",
        "409",
        "4XX",
        "500",
        "default",
    ]


def test_a_declared_422_replaces_the_generated_one() -> None:
    app = Carboy()

    @app.get("/search", responses={422: {"description": "Bad search."}})
    async def search(q: str) -> None: ...

    found = document(app)

    assert found["paths"]["/search"]["get"]["responses"]["422"] == {
        "description": "Bad search.",
        "content": {"application/problem+json": {"schema": {"$ref": REF + "ValidationProblem"}}},
    }


def test_validation_error_is_documented_only_where_something_is_validated() -> None:
    app = Carboy()

    @app.get("/plain")
    async def plain(request: Request) -> None: ...

    @app.get("/converted/{id:int}")
    async def converted(id: int) -> None: ...

    @app.get("/queried")
    async def queried(q: str = "") -> None: ...

    def needs_header(x_key: Annotated[str, Header()]) -> None: ...

    @app.get("/depends", dependencies=[Depends(needs_header)])
    async def depends() -> None: ...

    found = document(app)

    def statuses(path: str) -> list[str]:
        return list(found["paths"][path]["get"]["responses"])

    assert statuses("/plain") == ["204"]
    assert statuses("/converted/{id}") == ["204"]
    assert statuses("/queried") == ["204", "422"]
    assert statuses("/depends") == ["204", "422"]


def test_summary_and_description_come_from_the_docstring_unless_given() -> None:
    app = Carboy()

    @app.get("/documented")
    async def documented() -> None:
        """List the items
        of the shop.

        Only those in stock.

        Sorted by name.

        Args:
            nothing: Python readers only.
        """

    @app.get("/given", summary="Given summary", description="Given description.")
    async def given() -> None:
        """Docstring summary.

        Docstring description.
        """

    @app.get("/summary-only", summary="Given summary")
    async def summary_only() -> None:
        """Docstring summary.

        Docstring description.
        """

    @app.get("/bare")
    async def bare() -> None: ...

    found = document(app)

    def texts(path: str) -> tuple[str | None, str | None]:
        operation = found["paths"][path]["get"]
        return operation.get("summary"), operation.get("description")

    assert texts("/documented") == (
        "List the items of the shop.",
        "Only those in stock.\n\nSorted by name.",
    )
    assert texts("/given") == ("Given summary", "Given description.")
    assert texts("/summary-only") == ("Given summary", "Docstring description.")
    assert texts("/bare") == (None, None)


def test_tags_come_from_the_router_chain_then_the_route() -> None:
    app = Carboy()
    api = Router(prefix="/api", tags=["api"])
    users = Router(prefix="/users", tags=["users"])

    @users.get("/", tags=["admin", "users"])
    async def listing() -> None: ...

    @app.get("/plain")
    async def plain() -> None: ...

    api.include_router(users)
    app.include_router(api)
    found = document(app)

    assert found["paths"]["/api/users"]["get"]["tags"] == ["api", "users", "admin"]
    assert "tags" not in found["paths"]["/plain"]["get"]


def test_only_documented_http_operations_are_listed() -> None:
    app = Carboy()

    @app.route("/multi", methods=["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"])
    async def multi() -> None: ...

    @app.route("/head-only", methods=["HEAD"])
    async def head_only() -> None: ...

    @app.get("/hidden", include_in_schema=False)
    async def hidden() -> None: ...

    @app.get("/old", deprecated=True)
    async def old() -> None: ...

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None: ...

    app.routes.append(Mount("/static", Carboy()))
    found = document(app)

    assert found["paths"] == {
        "/multi": {
            method: {
                "operationId": f"multi_{method}",
                "responses": {"204": {"description": "No Content"}},
            }
            for method in ["get", "put", "post", "delete", "patch"]
        },
        "/old": {
            "get": {
                "operationId": "old_get",
                "responses": {"204": {"description": "No Content"}},
                "deprecated": True,
            }
        },
    }
    assert list(found["paths"]["/multi"]) == ["get", "put", "post", "delete", "patch"]


def listing_router(prefix: str, name: str) -> Router:
    router = Router(prefix=prefix, name=name)

    @router.get("/")
    async def listing() -> None: ...

    return router


def test_operation_ids_are_unique_across_the_document() -> None:
    app = Carboy()
    first = Router(prefix="/first", name="a")
    second = Router(prefix="/second", name="a_b")

    @first.get("/")
    async def b_c() -> None: ...

    @second.get("/")
    async def c() -> None: ...

    @app.get("/legacy", operation_id="users_listing_get")
    async def legacy() -> None: ...

    @app.get("/one", operation_id="same")
    async def one() -> None: ...

    @app.get("/two", operation_id="same")
    async def two() -> None: ...

    app.include_router(listing_router("/users", "users"))
    app.include_router(listing_router("/posts", "posts"))
    app.include_router(first)
    app.include_router(second)
    found = document(app)

    ids = {path: item["get"]["operationId"] for path, item in found["paths"].items()}
    assert ids == {
        "/legacy": "users_listing_get",
        "/one": "same",
        "/two": "same_2",
        "/users": "users_listing_get_2",
        "/posts": "posts_listing_get",
        "/first": "a_b_c_get",
        "/second": "a_b_c_get_2",
    }


def test_security_schemes_are_found_anywhere_among_the_dependencies() -> None:
    app = Carboy()
    bearer = HTTPBearer(bearer_format="JWT")
    admin = Router(prefix="/admin", dependencies=[Depends(APIKeyHeader("X-Admin-Key"))])

    async def current_user(token: Annotated[str, Depends(bearer)]) -> str:
        return token

    @admin.get("/users")
    async def users(user: Annotated[str, Depends(current_user)]) -> None: ...

    @app.get("/me")
    async def me(token: Annotated[str, Depends(HTTPBearer(bearer_format="JWT"))]) -> None: ...

    @app.get("/maybe")
    async def maybe(
        key: Annotated[str | None, Depends(APIKeyCookie("key", auto_error=False))],
    ) -> None: ...

    @app.get("/mixed")
    async def mixed(
        token: Annotated[str, Depends(bearer)],
        key: Annotated[str | None, Depends(APIKeyCookie("key", auto_error=False))],
    ) -> None: ...

    @app.get("/public")
    async def public() -> None: ...

    app.include_router(admin)
    found = document(app)
    paths = found["paths"]

    assert found["components"]["securitySchemes"] == {
        "APIKeyCookie": {"type": "apiKey", "in": "cookie", "name": "key"},
        "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Admin-Key"},
        "HTTPBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    }
    assert list(found["components"]["securitySchemes"]) == [
        "APIKeyCookie",
        "APIKeyHeader",
        "HTTPBearer",
    ]
    assert paths["/admin/users"]["get"]["security"] == [{"APIKeyHeader": [], "HTTPBearer": []}]
    assert paths["/me"]["get"]["security"] == [{"HTTPBearer": []}]
    assert paths["/maybe"]["get"]["security"] == [{"APIKeyCookie": []}, {}]
    assert paths["/mixed"]["get"]["security"] == [
        {"HTTPBearer": [], "APIKeyCookie": []},
        {"HTTPBearer": []},
    ]
    assert "security" not in paths["/public"]["get"]
    assert paths["/me"]["get"]["responses"]["401"] == UNAUTHORIZED
    assert "401" not in paths["/maybe"]["get"]["responses"]


def test_two_different_schemes_of_one_name_are_a_setup_mistake() -> None:
    app = Carboy()

    @app.get("/a")
    async def a(token: Annotated[str, Depends(HTTPBearer())]) -> None: ...

    @app.get("/b")
    async def b(token: Annotated[str, Depends(HTTPBearer(bearer_format="JWT"))]) -> None: ...

    with pytest.raises(ImproperlyConfigured) as info:
        app.openapi()

    assert str(info.value) == (
        "Two security schemes are named 'HTTPBearer', with different settings: "
        "{'type': 'http', 'scheme': 'bearer'} and "
        "{'type': 'http', 'scheme': 'bearer', 'bearerFormat': 'JWT'}. The document names "
        "each scheme once: give one of them another scheme_name=."
    )


def make_model(name: str) -> type[BaseModel]:
    class Item(BaseModel):
        label: str

    Item.__qualname__ = f"{name}.Item"
    return Item


Other = make_model("other")


class Temperature(BaseModel):
    celsius: float

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fahrenheit(self) -> float:
        return self.celsius * 9 / 5 + 32


def test_component_names_never_clash() -> None:
    app = Carboy()

    @app.post("/items")
    async def ours(item: Item) -> None: ...

    @app.post("/others")
    async def theirs(item: Other) -> None: ...  # type: ignore[valid-type]

    @app.post("/temperatures")
    async def temperatures(value: Temperature) -> Temperature:
        return value

    found = document(app)
    schemas = found["components"]["schemas"]
    ours_ref = found["paths"]["/items"]["post"]["requestBody"]["content"]["application/json"]
    theirs_ref = found["paths"]["/others"]["post"]["requestBody"]["content"]["application/json"]
    temperature = found["paths"]["/temperatures"]["post"]

    assert ours_ref["schema"] != theirs_ref["schema"]
    assert schemas[ours_ref["schema"]["$ref"].removeprefix(REF)]["title"] == "Item"
    assert schemas[theirs_ref["schema"]["$ref"].removeprefix(REF)]["required"] == ["label"]
    assert temperature["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": REF + "Temperature-Input"
    }
    assert temperature["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": REF + "Temperature-Output"
    }
    assert schemas["Temperature-Output"]["required"] == ["celsius", "fahrenheit"]
    assert list(schemas) == sorted(schemas)


def test_odd_types_and_defaults_never_break_the_document() -> None:
    app = Carboy()
    sentinel = object()

    @app.get("/odd")
    async def odd(flag: str = sentinel) -> dict[str, Request]:  # type: ignore[assignment]
        return {}

    found = document(app)

    assert found["paths"]["/odd"]["get"]["parameters"] == [
        {"name": "flag", "in": "query", "required": False, "schema": {"type": "string"}}
    ]


def test_the_document_is_deterministic() -> None:
    first = json.dumps(document(response_app()))
    second = json.dumps(document(response_app()))

    assert first == second


def test_the_document_is_built_once_after_startup() -> None:
    app = response_app()
    before = app.openapi()

    with TestClient(app):
        started = app.openapi()
        again = app.openapi()

    assert before == started
    assert before is not started
    assert started is again


def test_openapi_url_moves_and_turns_off_the_document() -> None:
    moved = Carboy(openapi=OpenAPIConfig(openapi_url="/api/schema.json"))
    off = Carboy(openapi=OpenAPIConfig(openapi_url=None))

    with TestClient(moved) as client:
        found = client.get("/api/schema.json")
        default = client.get("/openapi.json")
    with TestClient(off) as client:
        missing = client.get("/openapi.json")

    assert found.status_code == 200
    assert found.json()["openapi"] == "3.1.0"
    assert default.status_code == 404
    assert missing.status_code == 404


class Articles(Controller):
    prefix = "/articles"
    tags = ("articles",)

    @get("/{slug:slug}")
    async def show(self, slug: str) -> ItemOut:
        """Show one article."""
        return ItemOut(name=slug)


def test_controller_handlers_are_documented_like_functions() -> None:
    app = Carboy()
    app.include_controller(Articles)

    found = document(app)

    assert found["paths"]["/articles/{slug}"]["get"] == {
        "tags": ["articles"],
        "summary": "Show one article.",
        "operationId": "articles_show_get",
        "parameters": [
            {
                "name": "slug",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
            }
        ],
        "responses": {"200": {"description": "OK", "content": json_of({"$ref": REF + "ItemOut"})}},
    }
