from __future__ import annotations

import pytest

from carboy import Carboy, HTTPException
from carboy.datastructures import Headers
from carboy.problems import error_response, prefers_html
from carboy.testing import TestClient

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(
    "accept",
    [
        BROWSER_ACCEPT,
        "text/html",
        "TEXT/HTML,*/*",
        "text/html, application/json;q=0.5",
    ],
)
def test_prefers_html_for_a_browser_accept_header(accept: str) -> None:
    assert prefers_html(Headers({"accept": accept}))


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "",
        "*/*",
        "application/json",
        "application/problem+json",
        "application/json, text/html",
        "text/plain",
        "text/*",
    ],
)
def test_prefers_json_for_api_clients(accept: str | None) -> None:
    headers = Headers() if accept is None else Headers({"accept": accept})

    assert not prefers_html(headers)


def test_error_response_gives_problem_json_to_api_clients() -> None:
    response = error_response(
        Headers({"accept": "application/json"}),
        429,
        "Too Many Requests",
        "Slow down.",
        extra_headers={"Retry-After": "30"},
        extensions={"retry_after": 30},
    )

    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "30"
    assert response.body == (
        b'{"type":"about:blank","title":"Too Many Requests","status":429,'
        b'"detail":"Slow down.","retry_after":30}'
    )


def test_error_response_gives_an_escaped_page_to_browsers() -> None:
    response = error_response(
        Headers({"accept": BROWSER_ACCEPT}), 400, "Bad Request", 'Use <b> & "quotes".'
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.body.decode() == (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>400 Bad Request</title>\n</head>\n<body>\n<h1>400 Bad Request</h1>\n"
        "<p>Use &lt;b&gt; &amp; &quot;quotes&quot;.</p>\n</body>\n</html>\n"
    )


def test_error_page_leaves_out_a_detail_that_repeats_the_title() -> None:
    response = error_response(Headers({"accept": "text/html"}), 404, "Not Found", "Not Found")

    assert response.body.decode() == (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>404 Not Found</title>\n</head>\n<body>\n<h1>404 Not Found</h1>\n"
        "</body>\n</html>\n"
    )


def test_unknown_path_gives_404_problem_json_to_api_clients() -> None:
    app = Carboy()

    with TestClient(app) as client:
        response = client.get("/missing", headers={"accept": "*/*"})

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Nothing is served at '/missing'.",
    }


def test_unknown_path_with_script_gives_an_escaped_404_page_to_browsers() -> None:
    app = Carboy()

    with TestClient(app) as client:
        response = client.get("/<script>alert(1)</script>", headers={"accept": BROWSER_ACCEPT})

    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<script>" not in response.text
    assert "<p>Nothing is served at &#x27;/&lt;script&gt;alert(1)&lt;/script&gt;&#x27;.</p>" in (
        response.text
    )


def test_http_exception_detail_with_html_is_escaped_for_browsers() -> None:
    app = Carboy()

    @app.get("/articles/{slug}")
    async def article(slug: str) -> str:
        raise HTTPException(404, f"No article <{slug}>.")

    with TestClient(app) as client:
        html = client.get("/articles/x", headers={"accept": BROWSER_ACCEPT})
        api = client.get("/articles/x")

    assert html.status_code == 404
    assert "<p>No article &lt;x&gt;.</p>" in html.text
    assert api.status_code == 404
    assert api.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "No article <x>.",
    }
