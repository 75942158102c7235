"""Text no database can store (a NUL character) is refused where it enters.

PostgreSQL refuses a NUL in text with an error, and C libraries cut text at
it; lone surrogates are not valid UTF-8 and are refused as such. Each input
kind gets a 4xx that names the field, and the handler never runs.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel

from carboy import Carboy, Form, Query, Request
from carboy.testing import TestClient


class Article(BaseModel):
    title: str
    tags: list[str] = []


def nul_app() -> tuple[Carboy, list[str]]:
    app = Carboy()
    reached: list[str] = []

    @app.get("/items/{name}")
    async def item(name: str) -> dict[str, str]:
        reached.append(name)
        return {"name": name}

    @app.get("/search")
    async def search(q: Annotated[str, Query()] = "") -> dict[str, str]:
        reached.append(q)
        return {"q": q}

    @app.get("/raw-search")
    async def raw_search(request: Request) -> dict[str, str]:
        reached.append(request.query_params.get("q", ""))
        return {"q": request.query_params.get("q", "")}

    @app.post("/articles")
    async def article(body: Article) -> dict[str, Any]:
        reached.append(body.title)
        return body.model_dump()

    @app.post("/raw-json")
    async def raw_json(request: Request) -> Any:
        value = await request.json()
        reached.append(str(value))
        return value

    @app.post("/login")
    async def login(email: Annotated[str, Form()]) -> dict[str, str]:
        reached.append(email)
        return {"email": email}

    return app, reached


def test_a_nul_in_the_path_is_400() -> None:
    app, reached = nul_app()

    response = TestClient(app).get("/items/a%00b")

    assert response.status_code == 400
    assert response.json()["detail"] == (
        "The request path contains a NUL character (%00), which no page has."
    )
    assert reached == []


def test_a_lone_surrogate_in_the_path_is_400() -> None:
    app, reached = nul_app()

    response = TestClient(app).get("/items/a%ED%A0%80b")

    assert response.status_code == 400
    assert response.json()["detail"] == "The request path is not valid UTF-8."
    assert reached == []


def test_a_nul_in_a_query_value_names_the_parameter() -> None:
    app, reached = nul_app()
    client = TestClient(app)

    typed = client.get("/search?q=ab%00c")
    raw = client.get("/raw-search?page=1&q=%00")

    detail = (
        "The query parameter 'q' contains a NUL character (%00), which this site does not accept."
    )
    assert (typed.status_code, typed.json()["detail"]) == (400, detail)
    assert (raw.status_code, raw.json()["detail"]) == (400, detail)
    assert reached == []


def test_a_lone_surrogate_in_a_query_value_is_400() -> None:
    app, reached = nul_app()

    response = TestClient(app).get("/search?q=%ED%A0%80")

    assert response.status_code == 400
    assert response.json()["detail"] == "The query string is not valid UTF-8."
    assert reached == []


def test_a_nul_in_a_json_value_is_422_naming_where() -> None:
    app, reached = nul_app()

    response = TestClient(app).post("/articles", json={"title": "ok", "tags": ["a", "b\u0000"]})

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "location": "body.tags.1",
            "message": "Text must not contain a NUL character (\\u0000)",
            "type": "string_nul",
        }
    ]
    assert reached == []


def test_a_nul_in_json_read_by_the_handler_is_400_naming_where() -> None:
    app, reached = nul_app()

    response = TestClient(app).post("/raw-json", json={"user": {"name": "\u0000"}})

    assert response.status_code == 400
    assert response.json()["detail"] == (
        "The JSON value at body.user.name contains a NUL character (\\u0000), which this "
        "site does not accept."
    )
    assert reached == []


def test_a_lone_surrogate_in_json_is_not_valid_json() -> None:
    app, reached = nul_app()
    client = TestClient(app)

    typed = client.post(
        "/articles", content=b'{"title": "\\ud800"}', headers={"content-type": "application/json"}
    )
    raw = client.post(
        "/raw-json", content=b'{"title": "\\ud800"}', headers={"content-type": "application/json"}
    )

    assert typed.status_code == 422
    assert typed.json()["errors"][0]["type"] == "json_invalid"
    assert raw.status_code == 400
    assert raw.json()["detail"].startswith("The request body is not valid JSON: ")
    assert reached == []


def test_a_nul_in_a_form_field_names_the_field() -> None:
    app, reached = nul_app()
    client = TestClient(app)

    urlencoded = client.post(
        "/login",
        content=b"email=a%00%40example.com",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    multipart = client.post("/login", files={"email": (None, b"a\x00@example.com")})

    detail = "The form field 'email' contains a NUL character, which this site does not accept."
    assert (urlencoded.status_code, urlencoded.json()["detail"]) == (400, detail)
    assert (multipart.status_code, multipart.json()["detail"]) == (400, detail)
    assert reached == []


def test_an_uploaded_file_may_hold_nul_bytes() -> None:
    app = Carboy()

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        form = await request.form()
        file = form["file"]
        assert not isinstance(file, str)
        return {"size": len(await file.read())}

    response = TestClient(app).post("/upload", files={"file": ("a.bin", b"\x00\x01\x00")})

    assert response.status_code == 200
    assert response.json() == {"size": 3}


def test_a_lone_surrogate_in_json_or_a_form_is_refused_and_no_handler_runs() -> None:
    app, reached = nul_app()
    client = TestClient(app)
    json = {"content-type": "application/json"}
    form = {"content-type": "application/x-www-form-urlencoded"}

    validated = client.post("/articles", content=b'{"title": "a\\ud800b"}', headers=json)
    raw = client.post("/raw-json", content=b'{"title": "a\\ud800b"}', headers=json)
    posted = client.post("/login", content=b"email=%ED%A0%80", headers=form)
    query = client.get("/search?q=%ED%A0%80")

    assert (validated.status_code, raw.status_code) == (422, 400)
    assert raw.json()["detail"] == (
        "The request body is not valid JSON: no low surrogate in string at line 1, column 13."
    )
    assert posted.status_code == 400
    assert posted.json()["detail"] == (
        "The form field 'email' is not valid UTF-8 once percent-decoded. Encode the form as UTF-8."
    )
    assert query.json()["detail"] == "The query string is not valid UTF-8."
    assert reached == []
