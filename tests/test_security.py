from __future__ import annotations

from typing import Annotated

import pytest

from carboy import Carboy, Depends, WebSocket, WebSocketDisconnect
from carboy.requests import HTTPConnection
from carboy.security import APIKeyCookie, APIKeyHeader, APIKeyQuery, HTTPBearer, SecurityScheme
from carboy.testing import TestClient

NO_BEARER = (
    "The request carries no credentials: send a bearer token in the Authorization header, "
    "as 'Authorization: Bearer <token>'."
)
NOT_BEARER = (
    "The Authorization header does not hold a bearer token: send it as "
    "'Authorization: Bearer <token>'."
)


def problem(detail: str) -> dict[str, object]:
    return {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": detail}


def bearer_app(scheme: HTTPBearer) -> Carboy:
    app = Carboy()

    @app.get("/me")
    async def me(token: Annotated[str | None, Depends(scheme)]) -> dict[str, str | None]:
        return {"token": token}

    return app


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc.DEF-123_~+/==", "abc.DEF-123_~+/=="),
        ("bearer abc", "abc"),
        ("BEARER abc", "abc"),
        ("Bearer   abc  ", "abc"),
    ],
)
def test_http_bearer_returns_the_token_whatever_the_scheme_case(header: str, token: str) -> None:
    with TestClient(bearer_app(HTTPBearer())) as client:
        response = client.get("/me", headers={"Authorization": header})

    assert response.status_code == 200
    assert response.json() == {"token": token}


def test_http_bearer_without_authorization_answers_401_problem_with_challenge() -> None:
    with TestClient(bearer_app(HTTPBearer())) as client:
        response = client.get("/me")

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == problem(NO_BEARER)


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer two tokens", "Bearer tok@en", "Token abc"],
)
def test_http_bearer_refuses_a_malformed_authorization_header(header: str) -> None:
    with TestClient(bearer_app(HTTPBearer())) as client:
        response = client.get("/me", headers={"Authorization": header})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == problem(NOT_BEARER)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}])
def test_http_bearer_without_auto_error_gives_none(headers: dict[str, str]) -> None:
    with TestClient(bearer_app(HTTPBearer(auto_error=False))) as client:
        response = client.get("/me", headers=headers)

    assert response.status_code == 200
    assert response.json() == {"token": None}


def test_http_bearer_problem_is_a_page_for_browsers() -> None:
    with TestClient(bearer_app(HTTPBearer())) as client:
        response = client.get("/me", headers={"Accept": "text/html"})

    assert response.status_code == 401
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["www-authenticate"] == "Bearer"
    assert "<h1>401 Unauthorized</h1>" in response.text


def api_key_app() -> Carboy:
    app = Carboy()

    @app.get("/header")
    async def by_header(key: Annotated[str, Depends(APIKeyHeader("X-API-Key"))]) -> str:
        return key

    @app.get("/query")
    async def by_query(key: Annotated[str, Depends(APIKeyQuery("api_key"))]) -> str:
        return key

    @app.get("/cookie")
    async def by_cookie(key: Annotated[str, Depends(APIKeyCookie("session"))]) -> str:
        return key

    @app.get("/optional")
    async def optional(
        key: Annotated[str | None, Depends(APIKeyHeader("X-API-Key", auto_error=False))],
    ) -> dict[str, str | None]:
        return {"key": key}

    return app


def test_api_keys_are_read_from_a_header_a_query_parameter_and_a_cookie() -> None:
    with TestClient(api_key_app()) as client:
        by_header = client.get("/header", headers={"x-api-key": "h-key"})
        by_query = client.get("/query", params={"api_key": "q-key"})
        client.cookies.set("session", "c-key")
        by_cookie = client.get("/cookie")

    assert (by_header.status_code, by_header.text) == (200, "h-key")
    assert (by_query.status_code, by_query.text) == (200, "q-key")
    assert (by_cookie.status_code, by_cookie.text) == (200, "c-key")


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/header", "The request carries no API key: send it in the 'X-API-Key' header."),
        ("/query", "The request carries no API key: send it in the 'api_key' query parameter."),
        ("/cookie", "The request carries no API key: send it in the 'session' cookie."),
        (
            "/query?api_key=",
            "The request carries no API key: send it in the 'api_key' query parameter.",
        ),
    ],
)
def test_a_missing_api_key_answers_401_problem(path: str, detail: str) -> None:
    with TestClient(api_key_app()) as client:
        response = client.get(path)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "APIKey"
    assert response.json() == problem(detail)


def test_an_api_key_without_auto_error_gives_none() -> None:
    with TestClient(api_key_app()) as client:
        missing = client.get("/optional")
        present = client.get("/optional", headers={"X-API-Key": "k"})

    assert missing.json() == {"key": None}
    assert present.json() == {"key": "k"}


def test_a_websocket_without_credentials_is_refused_with_1008() -> None:
    app = Carboy()

    async def chat(websocket: WebSocket, token: Annotated[str, Depends(HTTPBearer())]) -> None:
        await websocket.accept()
        await websocket.send_text(token)
        await websocket.close()

    app.add_websocket_route("/ws", chat)

    with TestClient(app) as client:
        with client.websocket_connect("/ws", headers={"Authorization": "Bearer t0k"}) as ws:
            received = ws.receive_text()
        with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/ws"):
            pass

    assert received == "t0k"
    assert (info.value.code, info.value.reason) == (1008, NO_BEARER)


def test_a_security_scheme_can_be_overridden_in_tests() -> None:
    bearer = HTTPBearer()
    app = bearer_app(bearer)
    app.dependency_overrides[bearer] = lambda: "test-token"

    with TestClient(app) as client:
        response = client.get("/me")

    assert response.json() == {"token": "test-token"}


def test_schemes_describe_themselves_to_openapi() -> None:
    schemes: list[SecurityScheme] = [
        HTTPBearer(),
        HTTPBearer(bearer_format="JWT", scheme_name="jwt", description="A signed token."),
        APIKeyHeader("X-API-Key"),
        APIKeyQuery("api_key", description="From the account page."),
        APIKeyCookie("session", scheme_name="session"),
    ]

    assert [(scheme.scheme_name, scheme.openapi_scheme()) for scheme in schemes] == [
        ("HTTPBearer", {"type": "http", "scheme": "bearer"}),
        (
            "jwt",
            {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "A signed token.",
            },
        ),
        ("APIKeyHeader", {"type": "apiKey", "in": "header", "name": "X-API-Key"}),
        (
            "APIKeyQuery",
            {
                "type": "apiKey",
                "in": "query",
                "name": "api_key",
                "description": "From the account page.",
            },
        ),
        ("session", {"type": "apiKey", "in": "cookie", "name": "session"}),
    ]


def test_a_scheme_reads_its_credential_once_per_request() -> None:
    calls: list[str] = []

    class CountingBearer(HTTPBearer):
        async def __call__(self, request: HTTPConnection) -> str | None:
            calls.append("called")
            return await super().__call__(request)

    scheme = CountingBearer()
    app = Carboy()

    async def user(token: Annotated[str, Depends(scheme)]) -> str:
        return f"user:{token}"

    @app.get("/both")
    async def both(
        token: Annotated[str, Depends(scheme)], who: Annotated[str, Depends(user)]
    ) -> dict[str, str]:
        return {"token": token, "who": who}

    with TestClient(app) as client:
        response = client.get("/both", headers={"Authorization": "Bearer abc"})

    assert response.json() == {"token": "abc", "who": "user:abc"}
    assert calls == ["called"]
