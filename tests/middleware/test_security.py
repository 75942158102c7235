"""Security headers and the Host check, on by default."""

from __future__ import annotations

from carboy import Carboy, HTMLResponse, Request
from carboy.config import Settings
from carboy.middleware.security import csp_nonce
from carboy.staticfiles import StaticFiles
from carboy.testing import TestClient

DEFAULT_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "content-security-policy": "frame-ancestors 'none'",
}


def site(**settings: object) -> Carboy:
    app = Carboy(settings=Settings(**settings))  # type: ignore[arg-type]

    @app.get("/", response_class=HTMLResponse)
    async def home() -> str:
        return "<h1>home</h1>"

    @app.get("/framed")
    async def framed() -> HTMLResponse:
        response = HTMLResponse("<p>embeddable</p>")
        response.headers["x-frame-options"] = "SAMEORIGIN"
        return response

    @app.get("/nonce", response_class=HTMLResponse)
    async def nonce(request: Request) -> str:
        return f'<script nonce="{csp_nonce(request)}"></script>'

    return app


def security_headers(response: object) -> dict[str, str]:
    names = [*DEFAULT_HEADERS, "strict-transport-security"]
    return {name: value for name, value in response.headers.items() if name in names}  # type: ignore[attr-defined]


def test_every_page_carries_the_default_security_headers() -> None:
    client = TestClient(site())

    page = client.get("/")
    missing_page = client.get("/missing", headers={"accept": "text/html"})

    assert security_headers(page) == DEFAULT_HEADERS
    assert security_headers(missing_page) == DEFAULT_HEADERS


def test_a_response_that_is_no_document_gets_nosniff_only() -> None:
    client = TestClient(site())

    problem = client.get("/missing")

    assert problem.headers["content-type"] == "application/problem+json"
    assert security_headers(problem) == {"x-content-type-options": "nosniff"}


def test_https_responses_add_hsts() -> None:
    client = TestClient(site(), base_url="https://testserver")

    assert security_headers(client.get("/")) == {
        **DEFAULT_HEADERS,
        "strict-transport-security": "max-age=31536000; includeSubDomains",
    }


def test_a_header_the_response_sets_itself_is_kept() -> None:
    response = TestClient(site()).get("/framed")

    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]


def test_each_header_is_configurable() -> None:
    client = TestClient(
        site(
            x_frame_options=None,
            referrer_policy="no-referrer",
            content_type_nosniff=False,
            cross_origin_opener_policy=None,
            frame_ancestors="'self'",
            hsts_seconds=0,
        ),
        base_url="https://testserver",
    )

    assert security_headers(client.get("/")) == {
        "referrer-policy": "no-referrer",
        "content-security-policy": "frame-ancestors 'self'",
    }


def test_a_full_csp_gets_a_fresh_nonce_per_request_shared_with_the_page() -> None:
    client = TestClient(
        site(content_security_policy="default-src 'self'; script-src 'nonce-{nonce}'")
    )

    first = client.get("/nonce")
    second = client.get("/nonce")

    policy = first.headers["content-security-policy"]
    nonce = policy.split("'nonce-")[1].rstrip("'")
    assert first.text == f'<script nonce="{nonce}"></script>'
    assert second.headers["content-security-policy"] != policy


def test_mounted_apps_get_the_headers_too(tmp_path: object) -> None:
    import pathlib

    folder = pathlib.Path(str(tmp_path))
    (folder / "a.txt").write_text("static")
    (folder / "page.html").write_text("<p>static page</p>")
    app = site()
    app.mount("/static", StaticFiles(directory=folder))
    client = TestClient(app)

    text = client.get("/static/a.txt")
    page = client.get("/static/page.html")

    assert text.text == "static"
    assert security_headers(text) == {"x-content-type-options": "nosniff"}
    assert security_headers(page) == DEFAULT_HEADERS


def test_the_500_page_carries_the_security_headers_too() -> None:
    app = site(hsts_seconds=3600)

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("boom")

    client = TestClient(app, raise_server_exceptions=False, base_url="https://testserver")
    page = client.get("/broken", headers={"accept": "text/html"})
    problem = client.get("/broken", headers={"accept": "application/json"})

    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert security_headers(page) == {
        **DEFAULT_HEADERS,
        "strict-transport-security": "max-age=3600; includeSubDomains",
    }
    assert problem.status_code == 500
    assert security_headers(problem) == {
        "x-content-type-options": "nosniff",
        "strict-transport-security": "max-age=3600; includeSubDomains",
    }


def test_a_forged_host_is_refused_by_default() -> None:
    client = TestClient(site())

    for host in ("evil.example", "localhost.evil.example", "testserver@evil.example"):
        response = client.get("/", headers={"host": host})
        assert response.status_code == 400
        assert response.text == "Bad Request: the Host header is not one this site serves."
    assert client.get("/", headers={"host": "localhost:8000"}).status_code == 200
    assert client.get("/", headers={"host": "127.0.0.1"}).status_code == 200


def test_allowed_hosts_replace_the_localhost_defaults() -> None:
    client = TestClient(site(allowed_hosts=["example.com", ".example.org"]))

    assert client.get("/", headers={"host": "example.com"}).status_code == 200
    assert client.get("/", headers={"host": "www.example.org"}).status_code == 200
    assert client.get("/", headers={"host": "localhost"}).status_code == 400


def test_https_redirect_when_the_site_is_https() -> None:
    client = TestClient(site(https_redirect=True))

    response = client.get("/?x=1")

    assert response.status_code == 308
    assert response.headers["location"] == "https://testserver/?x=1"
