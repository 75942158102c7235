"""Refusals sent before the dispatcher carry the app's security headers too.

The host check (400), the header limits (431) and a whole-site rate limit
(429) answer before the layer that adds security headers to every other
response; the outermost layer hands them the app's headers through the scope.
"""

from __future__ import annotations

import re

from carboy import Carboy
from carboy.middleware import Middleware
from carboy.ratelimit import RateLimitMiddleware, RateLimits
from carboy.testing import TestClient

NOT_A_DOCUMENT = {
    "x-content-type-options": "nosniff",
    "cross-origin-resource-policy": "same-origin",
}


def make_app() -> Carboy:
    app = Carboy(
        extensions=[RateLimits()],
        middleware=[Middleware(RateLimitMiddleware, rate="1/minute")],
    )

    @app.get("/")
    def home() -> dict[str, int]:
        return {"answer": 42}

    return app


def test_a_refused_host_gets_the_headers_of_a_plain_text_reply() -> None:
    with TestClient(make_app()) as client:
        response = client.get("/", headers={"host": "evil.example"})

    assert response.status_code == 400
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert {name: response.headers.get(name) for name in NOT_A_DOCUMENT} == NOT_A_DOCUMENT


def test_an_oversized_header_gets_the_headers_of_a_plain_text_reply() -> None:
    with TestClient(make_app()) as client:
        response = client.get("/", headers={"x-big": "b" * 10_000})

    assert response.status_code == 431
    assert response.headers["connection"] == "close"
    assert {name: response.headers.get(name) for name in NOT_A_DOCUMENT} == NOT_A_DOCUMENT


def test_a_whole_site_limits_429_page_is_a_builtin_page_under_the_strict_policy() -> None:
    with TestClient(make_app()) as client:
        assert client.get("/").status_code == 200
        response = client.get("/", headers={"accept": "text/html"})

    assert response.status_code == 429
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["retry-after"] == "60"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert re.fullmatch(
        r"default-src 'self'; script-src 'nonce-[\w-]{22}'; style-src 'self' 'nonce-[\w-]{22}'; "
        r"img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        r"frame-ancestors 'none'",
        response.headers["content-security-policy"],
    )


def test_a_refusal_around_a_plain_asgi_app_gets_no_carboy_headers() -> None:
    async def bare(scope, receive, send):  # type: ignore[no-untyped-def]
        assert scope["type"] != "http", "a refused request reached the app"

    from carboy.middleware.trustedhost import TrustedHostMiddleware

    with TestClient(TrustedHostMiddleware(bare, allowed_hosts=["ok.example"])) as client:
        response = client.get("/", headers={"host": "evil.example"})

    assert response.status_code == 400
    assert "x-content-type-options" not in response.headers
