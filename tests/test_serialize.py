"""Response models: the return annotation or response_model= shapes the output."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pydantic import BaseModel

from carboy import Carboy, HTTPException, Request
from carboy.exceptions import ResponseValidationError
from carboy.responses import JSONResponse, Response
from carboy.testing import TestClient


class PublicUser(BaseModel):
    id: int
    name: str


class StoredUser(PublicUser):
    password_hash: str


@dataclasses.dataclass
class Row:
    id: int
    name: str
    secret: str


app = Carboy()


@app.get("/model")
async def model() -> PublicUser:
    return StoredUser(id=1, name="Ada", password_hash="argon2$...")


@app.get("/dict")
async def from_dict() -> PublicUser:
    return {"id": "2", "name": "Grace", "password_hash": "x"}  # type: ignore[return-value]


@app.get("/orm", response_model=PublicUser)
async def from_attributes() -> Any:
    return Row(id=3, name="Edsger", secret="s")


@app.get("/list")
async def many() -> list[PublicUser]:
    return [StoredUser(id=i, name=f"u{i}", password_hash="h") for i in range(2)]


@app.post("/created", status_code=201)
async def created() -> PublicUser:
    return PublicUser(id=4, name="new")


@app.get("/tuple")
async def with_status() -> tuple[PublicUser, int, dict[str, str]]:
    return PublicUser(id=5, name="t"), 202, {"x-extra": "yes"}


@app.get("/response")
async def explicit_response() -> PublicUser:
    return JSONResponse({"anything": True}, 203)  # type: ignore[return-value]


@app.get("/broken")
async def broken() -> PublicUser:
    return {"id": "not a number"}  # type: ignore[return-value]


@app.get("/plain")
async def plain() -> dict[str, Any]:
    return {"kept": True, "nested": {"any": [1, 2]}}


@app.delete("/nothing", status_code=204)
async def nothing() -> None:
    return None


client = TestClient(app, raise_server_exceptions=False)


def test_fields_the_model_does_not_declare_are_dropped() -> None:
    response = client.get("/model")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"id": 1, "name": "Ada"}


def test_a_dict_is_validated_and_coerced_by_the_model() -> None:
    assert client.get("/dict").json() == {"id": 2, "name": "Grace"}


def test_response_model_reads_attributes_of_any_object() -> None:
    assert client.get("/orm").json() == {"id": 3, "name": "Edsger"}


def test_a_list_of_models_is_serialized_item_by_item() -> None:
    assert client.get("/list").json() == [{"id": 0, "name": "u0"}, {"id": 1, "name": "u1"}]


def test_the_declared_status_code_is_used() -> None:
    response = client.post("/created")

    assert response.status_code == 201
    assert response.json() == {"id": 4, "name": "new"}


def test_a_tuple_gives_status_and_headers_around_the_model() -> None:
    response = client.get("/tuple")

    assert response.status_code == 202
    assert response.headers["x-extra"] == "yes"
    assert response.json() == {"id": 5, "name": "t"}


def test_a_response_object_is_sent_as_is() -> None:
    response = client.get("/response")

    assert response.status_code == 203
    assert response.json() == {"anything": True}


def test_a_value_the_model_refuses_is_a_server_error_not_a_leak() -> None:
    response = client.get("/broken")

    assert response.status_code == 500
    assert "not a number" not in response.text


def test_a_value_the_model_refuses_raises_a_clear_error() -> None:
    with pytest.raises(ResponseValidationError) as info:
        TestClient(app).get("/broken")

    assert str(info.value).startswith(
        "The handler broken returned a value that does not fit its response model 'PublicUser': "
    )


def test_plain_annotations_send_the_value_as_returned() -> None:
    assert client.get("/plain").json() == {"kept": True, "nested": {"any": [1, 2]}}


def test_none_with_204_sends_no_body() -> None:
    response = client.delete("/nothing")

    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers


# Error formats ---------------------------------------------------------------------


def test_a_validation_error_is_an_html_page_for_a_browser() -> None:
    app = Carboy()

    @app.get("/items")
    async def items(limit: int) -> list[int]:
        return []

    response = TestClient(app).get("/items?limit=<b>x</b>", headers={"accept": "text/html"})

    assert response.status_code == 422
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>422 Unprocessable Content</h1>" in response.text
    assert "<li><code>query.limit</code>: Input should be a valid integer" in response.text
    assert "<b>x</b>" not in response.text


def test_an_app_can_register_its_own_error_format() -> None:
    from carboy.exceptions import RequestValidationError

    app = Carboy()

    @app.exception_handler(RequestValidationError)
    async def conduit_errors(request: Request, exc: RequestValidationError) -> Response:
        errors: dict[str, list[str]] = {}
        for error in exc.errors:
            field = error["location"].split(".")[-1]
            errors.setdefault(field, []).append(error["message"])
        return JSONResponse({"errors": errors}, 422)

    class NewUser(BaseModel):
        username: str
        email: str

    @app.post("/users")
    async def register(user: NewUser) -> NewUser:
        return user

    response = TestClient(app).post("/users", json={"username": "ada"})

    assert response.status_code == 422
    assert response.json() == {"errors": {"email": ["Field required"]}}


def test_every_http_error_is_problem_json_for_an_api_client() -> None:
    app = Carboy()

    @app.get("/gone")
    async def gone() -> None:
        raise HTTPException(410, "This resource was removed.")

    response = TestClient(app).get("/gone", headers={"accept": "application/json"})

    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Gone",
        "status": 410,
        "detail": "This resource was removed.",
    }
