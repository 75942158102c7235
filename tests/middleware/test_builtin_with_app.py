"""The built-in middleware, added to a carboy app."""

from __future__ import annotations

from carboy import Carboy
from carboy.middleware import (
    CORSMiddleware,
    GZipMiddleware,
    HTTPSRedirectMiddleware,
    Middleware,
    TrustedHostMiddleware,
)
from carboy.testing import TestClient


def make_app(*middleware: Middleware) -> Carboy:
    app = Carboy(middleware=list(middleware))

    @app.get("/big")
    async def big() -> str:
        return "carboy " * 200

    @app.post("/items")
    async def create() -> tuple[dict[str, bool], int]:
        return {"created": True}, 201

    return app


def test_gzip_compresses_a_large_response() -> None:
    client = TestClient(make_app(Middleware(GZipMiddleware, minimum_size=100)))

    response = client.get("/big", headers={"accept-encoding": "gzip"})

    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.text == "carboy " * 200
    assert int(response.headers["content-length"]) < len("carboy " * 200)


def test_cors_answers_a_preflight_before_the_router() -> None:
    app = make_app(
        Middleware(CORSMiddleware, allow_origins=["https://app.example"], allow_methods=["POST"])
    )
    client = TestClient(app)

    preflight = client.options(
        "/items",
        headers={"origin": "https://app.example", "access-control-request-method": "POST"},
    )
    actual = client.post("/items", headers={"origin": "https://app.example"})

    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert actual.status_code == 201
    assert actual.headers["access-control-allow-origin"] == "https://app.example"


def test_trusted_host_refuses_a_foreign_host_with_400() -> None:
    client = TestClient(make_app(Middleware(TrustedHostMiddleware, allowed_hosts=["testserver"])))

    allowed = client.get("/big")
    refused = client.get("/big", headers={"host": "evil.example"})

    assert allowed.status_code == 200
    assert refused.status_code == 400
    assert refused.text == "Bad Request: the Host header is not one this site serves."


def test_https_redirect_sends_plain_http_to_https_with_308() -> None:
    client = TestClient(make_app(Middleware(HTTPSRedirectMiddleware)))

    response = client.post("/items?x=1")

    assert response.status_code == 308
    assert response.headers["location"] == "https://testserver/items?x=1"
