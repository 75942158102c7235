from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Page

from carboy import Carboy, HTMLResponse, Response
from tests._live import live_server
from tests.browser.conftest import Serve, Traffic

PAGE = """<!doctype html>
<html>
<head>
<title>Loopback only</title>
<link rel="stylesheet" href="/static/page.css">
<script src="/static/page.js" defer></script>
</head>
<body><h1>Served by carboy</h1></body>
</html>
"""


def page_app() -> Carboy:
    app = Carboy()

    @app.get("/")
    def home() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @app.get("/static/page.css")
    def css() -> Response:
        return Response("h1 { color: rgb(0, 128, 0); }", media_type="text/css")

    @app.get("/static/page.js")
    def js() -> Response:
        script = "document.body.dataset.ready = 'yes';"
        return Response(script, media_type="text/javascript")

    return app


def test_browser_fixture_sees_only_loopback_requests(
    serve: Serve, page: Page, traffic: Traffic
) -> None:
    base_url = serve(page_app())

    response = page.goto(f"{base_url}/")
    page.wait_for_selector("body[data-ready='yes']")

    assert response is not None
    assert response.status == 200
    assert page.title() == "Loopback only"
    assert page.locator("h1").evaluate("h => getComputedStyle(h).color") == "rgb(0, 128, 0)"
    assert sorted(traffic.network_urls) == [
        f"{base_url}/",
        f"{base_url}/static/page.css",
        f"{base_url}/static/page.js",
    ]
    assert traffic.failed == []
    assert [response.status for response in traffic.responses] == [200, 200, 200]


def test_live_server_answers_until_it_is_stopped() -> None:
    with (
        live_server(page_app()) as base_url,
        urllib.request.urlopen(f"{base_url}/static/page.css", timeout=5) as response,
    ):
        body = response.read()

    assert base_url.startswith("http://127.0.0.1:")
    assert body == b"h1 { color: rgb(0, 128, 0); }"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{base_url}/", timeout=5)


def test_live_server_refuses_an_address_off_loopback() -> None:
    with pytest.raises(ValueError) as excinfo, live_server(page_app(), host="0.0.0.0"):
        pass

    assert str(excinfo.value) == (
        "live_server serves on loopback only, and 0.0.0.0 is not in 127.0.0.0/8."
    )
