"""Each kind of handler parameter, with good and bad input."""

from __future__ import annotations

import dataclasses
import enum
import uuid
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from carboy import (
    Body,
    Carboy,
    Cookie,
    File,
    Form,
    Header,
    Path,
    Query,
    Request,
    UploadFile,
)
from carboy.exceptions import ImproperlyConfigured
from carboy.testing import TestClient


def problem_errors(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["title"] == "Unprocessable Content"
    assert body["status"] == 422
    return body["errors"]  # type: ignore[no-any-return]


INT_PARSING = "Input should be a valid integer, unable to parse string as an integer"


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Address(BaseModel):
    city: str
    zip: str = Field(pattern=r"^[0-9]{5}$")


class User(BaseModel):
    name: str = Field(min_length=1)
    email: str
    age: int = Field(ge=0, le=150)
    address: Address | None = None


@dataclasses.dataclass
class Point:
    x: float
    y: float


class Movie(TypedDict):
    title: str
    year: int


app = Carboy()


@app.get("/query")
async def query(
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    tags: Annotated[list[str], Query(max_length=3)] = [],  # noqa: B006 - pydantic copies it
    color: Color | None = None,
    flag: bool = False,
    search: Annotated[str | None, Query(alias="q", min_length=2)] = None,
) -> dict[str, Any]:
    return {"limit": limit, "tags": tags, "color": color and color.value, "flag": flag, "q": search}


@app.get("/required")
async def required(page: int, ids: Annotated[list[int], Query()]) -> dict[str, Any]:
    return {"page": page, "ids": ids}


@app.get("/headers")
async def headers(
    user_agent: Annotated[str, Header()],
    x_count: Annotated[int, Header(ge=0)] = 0,
    x_tags: Annotated[list[str], Header()] = [],  # noqa: B006
) -> dict[str, Any]:
    return {"user_agent": user_agent, "x_count": x_count, "x_tags": x_tags}


@app.get("/cookies")
async def cookies(
    session: Annotated[str, Cookie(min_length=4)], theme: str = "light"
) -> dict[str, str]:
    return {"session": session, "theme": theme}


@app.get("/path/{item_id}/{key}/{code}")
async def path(
    item_id: Annotated[int, Path(ge=1)],
    key: uuid.UUID,
    code: Color,
) -> dict[str, Any]:
    return {"item_id": item_id, "key": str(key), "code": code.value}


@app.post("/users")
async def create_user(user: User) -> dict[str, Any]:
    return {"created": user.model_dump()}


@app.post("/points")
async def points(point: Point) -> dict[str, float]:
    return {"sum": point.x + point.y}


@app.post("/movies")
async def movies(movies: list[Movie]) -> dict[str, int]:
    return {"count": len(movies), "first_year": movies[0]["year"] if movies else 0}


@app.post("/embedded")
async def embedded(
    user: User, point: Point, note: Annotated[str, Body(max_length=10)] = "none"
) -> dict[str, Any]:
    return {"user": user.name, "point": [point.x, point.y], "note": note}


@app.post("/one-embedded")
async def one_embedded(user: Annotated[User, Body(embed=True)]) -> dict[str, str]:
    return {"name": user.name}


@app.post("/optional-body")
async def optional_body(user: User | None = None) -> dict[str, Any]:
    return {"user": user and user.name}


class Signup(BaseModel):
    username: str = Field(min_length=3)
    age: int
    interests: list[str] = []


@app.post("/signup")
async def signup(form: Annotated[Signup, Form()]) -> dict[str, Any]:
    return form.model_dump()


@app.post("/upload")
async def upload(
    title: Annotated[str, Form(max_length=20)],
    document: UploadFile,
    attachments: Annotated[list[UploadFile], File()] = [],  # noqa: B006
) -> dict[str, Any]:
    return {
        "title": title,
        "document": [document.filename, (await document.read()).decode()],
        "attachments": [item.filename for item in attachments],
    }


@app.get("/request/{name}")
async def with_request(request: Request, name: str) -> dict[str, str]:
    return {"name": name, "method": request.method}


client = TestClient(app)


# Query -----------------------------------------------------------------------


def test_query_parameters_are_converted_with_defaults() -> None:
    response = client.get("/query?limit=5&tags=a&tags=b&color=red&flag=true&q=hi")

    assert response.status_code == 200
    assert response.json() == {
        "limit": 5,
        "tags": ["a", "b"],
        "color": "red",
        "flag": True,
        "q": "hi",
    }
    assert client.get("/query").json() == {
        "limit": 10,
        "tags": [],
        "color": None,
        "flag": False,
        "q": None,
    }


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        (
            "limit=abc",
            [
                {
                    "location": "query.limit",
                    "message": INT_PARSING,
                    "type": "int_parsing",
                }
            ],
        ),
        (
            "limit=0",
            [
                {
                    "location": "query.limit",
                    "message": "Input should be greater than or equal to 1",
                    "type": "greater_than_equal",
                }
            ],
        ),
        (
            "limit=101",
            [
                {
                    "location": "query.limit",
                    "message": "Input should be less than or equal to 100",
                    "type": "less_than_equal",
                }
            ],
        ),
        (
            "color=blue",
            [
                {
                    "location": "query.color",
                    "message": "Input should be 'red' or 'green'",
                    "type": "enum",
                }
            ],
        ),
        (
            "tags=a&tags=b&tags=c&tags=d",
            [
                {
                    "location": "query.tags",
                    "message": "List should have at most 3 items after validation, not 4",
                    "type": "too_long",
                }
            ],
        ),
        (
            "flag=maybe",
            [
                {
                    "location": "query.flag",
                    "message": "Input should be a valid boolean, unable to interpret input",
                    "type": "bool_parsing",
                }
            ],
        ),
        (
            "q=x",
            [
                {
                    "location": "query.q",
                    "message": "String should have at least 2 characters",
                    "type": "string_too_short",
                }
            ],
        ),
    ],
)
def test_bad_query_values_get_422_with_their_location(
    query: str, errors: list[dict[str, str]]
) -> None:
    response = client.get(f"/query?{query}")

    assert problem_errors(response) == errors


def test_every_error_is_reported_at_once() -> None:
    response = client.get("/query?limit=0&color=blue")

    assert [error["location"] for error in problem_errors(response)] == [
        "query.limit",
        "query.color",
    ]
    assert response.json()["detail"] == "The request is not valid: 2 errors were found."


def test_missing_required_query_parameters_get_422() -> None:
    response = client.get("/required")

    assert problem_errors(response) == [
        {"location": "query.page", "message": "Field required", "type": "missing"},
        {"location": "query.ids", "message": "Field required", "type": "missing"},
    ]


def test_a_list_query_parameter_reports_the_index_of_a_bad_item() -> None:
    response = client.get("/required?page=1&ids=1&ids=x")

    assert problem_errors(response) == [
        {
            "location": "query.ids.1",
            "message": "Input should be a valid integer, unable to parse string as an integer",
            "type": "int_parsing",
        }
    ]


def test_injection_strings_in_query_values_are_plain_data() -> None:
    response = client.get("/query", params={"q": "'; DROP TABLE users; --<script>"})

    assert response.status_code == 200
    assert response.json()["q"] == "'; DROP TABLE users; --<script>"


# Headers and cookies ------------------------------------------------------------


def test_headers_are_read_with_underscores_as_hyphens() -> None:
    response = client.get(
        "/headers",
        headers=[("user-agent", "tests"), ("x-count", "3"), ("x-tags", "a"), ("x-tags", "b")],
    )

    assert response.json() == {"user_agent": "tests", "x_count": 3, "x_tags": ["a", "b"]}


def test_bad_and_missing_headers_get_422() -> None:
    response = client.get("/headers", headers={"user-agent": "", "x-count": "-1"})
    missing = TestClient(app, headers={"user-agent": ""}).get("/headers", headers={"x-count": "1"})

    assert problem_errors(response) == [
        {
            "location": "header.x-count",
            "message": "Input should be greater than or equal to 0",
            "type": "greater_than_equal",
        }
    ]
    assert missing.status_code == 200


def test_cookies_are_read_and_validated() -> None:
    good = TestClient(app, cookies={"session": "abcd", "theme": "x"}).get("/cookies?theme=dark")
    short = TestClient(app, cookies={"session": "ab"}).get("/cookies")
    missing = TestClient(app).get("/cookies")

    assert good.json() == {"session": "abcd", "theme": "dark"}
    assert problem_errors(short) == [
        {
            "location": "cookie.session",
            "message": "String should have at least 4 characters",
            "type": "string_too_short",
        }
    ]
    assert problem_errors(missing) == [
        {"location": "cookie.session", "message": "Field required", "type": "missing"}
    ]


# Path ------------------------------------------------------------------------------


def test_path_parameters_are_validated_with_constraints_enums_and_uuids() -> None:
    key = "12345678-1234-5678-1234-567812345678"

    good = client.get(f"/path/5/{key}/green")
    bad = client.get(f"/path/0/{key}/blue")
    not_a_uuid = client.get("/path/5/not-a-uuid/green")

    assert good.json() == {"item_id": 5, "key": key, "code": "green"}
    assert problem_errors(bad) == [
        {
            "location": "path.item_id",
            "message": "Input should be greater than or equal to 1",
            "type": "greater_than_equal",
        },
        {
            "location": "path.code",
            "message": "Input should be 'red' or 'green'",
            "type": "enum",
        },
    ]
    # The uuid converter, taken from the annotation, does not match: no route.
    assert not_a_uuid.status_code == 404


def test_the_request_is_passed_beside_path_parameters() -> None:
    assert client.get("/request/x").json() == {"name": "x", "method": "GET"}


# JSON bodies ------------------------------------------------------------------------


def test_a_model_parameter_is_the_json_body() -> None:
    response = client.post(
        "/users",
        json={
            "name": "Ada",
            "email": "ada@example.com",
            "age": 36,
            "address": {"city": "L", "zip": "12345"},
        },
    )

    assert response.json() == {
        "created": {
            "name": "Ada",
            "email": "ada@example.com",
            "age": 36,
            "address": {"city": "L", "zip": "12345"},
        }
    }


def test_nested_body_errors_give_their_full_location() -> None:
    response = client.post(
        "/users",
        json={"name": "", "email": "a@b.c", "age": 200, "address": {"city": "L", "zip": "x"}},
    )

    assert problem_errors(response) == [
        {
            "location": "body.name",
            "message": "String should have at least 1 character",
            "type": "string_too_short",
        },
        {
            "location": "body.age",
            "message": "Input should be less than or equal to 150",
            "type": "less_than_equal",
        },
        {
            "location": "body.address.zip",
            "message": "String should match pattern '^[0-9]{5}$'",
            "type": "string_pattern_mismatch",
        },
    ]


def test_invalid_json_gets_422_at_the_body() -> None:
    response = client.post(
        "/users", content=b'{"name": ', headers={"content-type": "application/json"}
    )

    assert problem_errors(response) == [
        {
            "location": "body",
            "message": "Invalid JSON: EOF while parsing a value at line 1 column 9",
            "type": "json_invalid",
        }
    ]


def test_a_body_of_the_wrong_type_gets_422() -> None:
    response = client.post("/users", json=[1, 2])

    assert problem_errors(response) == [
        {
            "location": "body",
            "message": "Input should be an object",
            "type": "model_type",
        }
    ]


def test_a_missing_required_body_gets_422() -> None:
    response = client.post("/users")

    assert problem_errors(response) == [
        {"location": "body", "message": "Field required", "type": "missing"}
    ]


def test_a_body_with_a_non_json_content_type_gets_415() -> None:
    response = client.post("/users", content=b"name=Ada", headers={"content-type": "text/plain"})

    assert response.status_code == 415
    assert response.json()["detail"] == (
        "The request body must be JSON, not 'text/plain': send it with "
        "'Content-Type: application/json'."
    )


def test_dataclass_and_typeddict_list_bodies() -> None:
    assert client.post("/points", json={"x": 1, "y": 2.5}).json() == {"sum": 3.5}
    assert client.post("/movies", json=[{"title": "M", "year": 1927}]).json() == {
        "count": 1,
        "first_year": 1927,
    }
    assert problem_errors(client.post("/movies", json=[{"title": "M"}])) == [
        {"location": "body.0.year", "message": "Field required", "type": "missing"}
    ]


def test_several_body_parameters_are_embedded_by_name() -> None:
    response = client.post(
        "/embedded",
        json={"user": {"name": "A", "email": "a@b.c", "age": 1}, "point": {"x": 1, "y": 2}},
    )
    bad = client.post(
        "/embedded", json={"user": {"name": "A", "email": "a@b.c", "age": 1}, "note": "x" * 11}
    )

    assert response.json() == {"user": "A", "point": [1.0, 2.0], "note": "none"}
    assert problem_errors(bad) == [
        {"location": "body.point", "message": "Field required", "type": "missing"},
        {
            "location": "body.note",
            "message": "String should have at most 10 characters",
            "type": "string_too_long",
        },
    ]


def test_a_single_body_can_be_embedded_on_request() -> None:
    response = client.post("/one-embedded", json={"user": {"name": "B", "email": "e", "age": 2}})

    assert response.json() == {"name": "B"}


def test_an_optional_body_may_be_absent() -> None:
    assert client.post("/optional-body").json() == {"user": None}


def test_an_oversized_json_body_gets_413() -> None:
    small = Carboy()
    small.limits.max_body_size = 100

    @small.post("/users")
    async def create(user: User) -> dict[str, str]:
        return {"name": user.name}

    response = TestClient(small).post("/users", json={"name": "x" * 200, "email": "e", "age": 1})

    assert response.status_code == 413
    assert response.json()["detail"] == "The request body is larger than the limit of 100 bytes."


# Forms and files ---------------------------------------------------------------------


def test_a_form_model_is_built_from_form_fields() -> None:
    response = client.post(
        "/signup", data={"username": "ada", "age": "36", "interests": ["math", "looms"]}
    )

    assert response.json() == {"username": "ada", "age": 36, "interests": ["math", "looms"]}


def test_bad_form_fields_get_422_at_the_form() -> None:
    response = client.post("/signup", data={"username": "a", "age": "old"})

    assert problem_errors(response) == [
        {
            "location": "form.username",
            "message": "String should have at least 3 characters",
            "type": "string_too_short",
        },
        {
            "location": "form.age",
            "message": "Input should be a valid integer, unable to parse string as an integer",
            "type": "int_parsing",
        },
    ]


def test_uploaded_files_and_form_fields_together() -> None:
    response = client.post(
        "/upload",
        data={"title": "Report"},
        files=[
            ("document", ("report.txt", b"hello", "text/plain")),
            ("attachments", ("a.png", b"1", "image/png")),
            ("attachments", ("b.png", b"2", "image/png")),
        ],
    )

    assert response.json() == {
        "title": "Report",
        "document": ["report.txt", "hello"],
        "attachments": ["a.png", "b.png"],
    }


def test_a_missing_file_and_a_text_field_where_a_file_belongs_get_422() -> None:
    missing = client.post("/upload", data={"title": "x"}, files={"other": ("a", b"1")})
    wrong = client.post(
        "/upload", data={"title": "x", "document": "not a file"}, files={"x": ("a", b"")}
    )

    assert problem_errors(missing) == [
        {"location": "form.document", "message": "Field required", "type": "missing"}
    ]
    assert problem_errors(wrong) == [
        {
            "location": "form.document",
            "message": "Input should be an instance of UploadFile",
            "type": "is_instance_of",
        }
    ]


def test_a_form_sent_as_json_gets_415() -> None:
    response = client.post("/signup", json={"username": "ada", "age": 1})

    assert response.status_code == 415


# Setup errors --------------------------------------------------------------------------


def test_a_path_marker_for_a_name_the_path_lacks_is_refused() -> None:
    bad = Carboy()

    @bad.get("/items")
    async def items(item_id: Annotated[int, Path()]) -> None:
        return None

    with pytest.raises(ImproperlyConfigured) as info:
        bad.url_path_for("items")

    assert str(info.value) == (
        "test_a_path_marker_for_a_name_the_path_lacks_is_refused.<locals>.items declares "
        "'item_id' a path parameter, but '/items' has no {item_id}. Add it to the path, or "
        "take it from elsewhere."
    )


def test_a_json_body_and_a_form_together_are_refused() -> None:
    bad = Carboy()

    @bad.post("/mixed")
    async def mixed(user: User, title: Annotated[str, Form()]) -> None:
        return None

    with pytest.raises(ImproperlyConfigured) as info:
        bad.url_path_for("mixed")

    assert str(info.value) == (
        "test_a_json_body_and_a_form_together_are_refused.<locals>.mixed takes both a JSON body "
        "('user') and form fields ('title'); a request has one body. Take one or the other."
    )


def test_a_generator_handler_is_refused_with_the_fix() -> None:
    bad = Carboy()

    @bad.get("/stream")
    async def stream() -> Any:
        yield "x"

    with pytest.raises(ImproperlyConfigured) as info:
        bad.url_path_for("stream")

    assert str(info.value) == (
        "The handler test_a_generator_handler_is_refused_with_the_fix.<locals>.stream of "
        "'/stream' is a generator. Return a StreamingResponse (or EventSourceResponse) of the "
        "generator instead."
    )


def test_a_path_alias_maps_a_template_name_to_a_python_name() -> None:
    aliased = Carboy()

    @aliased.get("/items/{itemId}")
    async def item(item_id: Annotated[int, Path(alias="itemId", ge=1)]) -> dict[str, int]:
        return {"item_id": item_id}

    client = TestClient(aliased)

    assert client.get("/items/5").json() == {"item_id": 5}
    assert problem_errors(client.get("/items/0")) == [
        {
            "location": "path.itemId",
            "message": "Input should be greater than or equal to 1",
            "type": "greater_than_equal",
        }
    ]
    parameters = client.get("/openapi.json").json()["paths"]["/items/{itemId}"]["get"]["parameters"]
    assert parameters == [
        {
            "name": "itemId",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    ]


def test_a_deprecated_body_is_accepted_and_documented() -> None:
    documented = Carboy()

    @documented.post("/legacy")
    async def legacy(user: Annotated[User, Body(deprecated=True)]) -> dict[str, str]:
        return {"name": user.name}

    client = TestClient(documented)

    assert client.post("/legacy", json={"name": "A", "email": "e", "age": 1}).json() == {
        "name": "A"
    }


def test_models_of_handlers_with_the_same_name_get_distinct_names() -> None:
    twice = Carboy()

    async def create(a: Annotated[int, Body()], b: Annotated[int, Body()]) -> int:
        return a + b

    twice.add_route("/one", create, methods=["POST"], name="one")
    twice.add_route("/two", create, methods=["POST"], name="two")

    schemas = TestClient(twice).get("/openapi.json").json()["components"]["schemas"]

    assert sorted(schemas) == [
        "CreateBody",
        "CreateBody2",
        "ValidationErrorItem",
        "ValidationProblem",
    ]
