from __future__ import annotations

import re
from pathlib import Path

import pytest
import swagger_ui_bundle  # type: ignore[import-untyped]

from carboy import Carboy, OpenAPIConfig
from carboy.testing import TestClient

VENDOR = Path(swagger_ui_bundle.swagger_ui_path)
VERSION = VENDOR.name.removeprefix("swagger-ui-")

PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>carboy API: docs</title>
<!-- Swagger UI {VERSION}, Apache License 2.0: /docs/assets/LICENSE -->
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="/docs/assets/favicon-16x16.png" sizes="16x16">
</head>
<body>
<div id="swagger-ui" data-openapi-url="/openapi.json"></div>
<script src="/docs/assets/swagger-ui-bundle.js" nonce="{{nonce}}"></script>
<script src="/docs/assets/init.js" nonce="{{nonce}}"></script>
</body>
</html>
"""


def make_app(config: OpenAPIConfig | None = None) -> Carboy:
    app = Carboy(openapi=config)

    @app.get("/items")
    async def items() -> list[int]:
        return [1, 2]

    return app


def linked_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', html)


def test_docs_page_is_served_as_html_with_only_local_urls() -> None:
    with TestClient(make_app()) as client:
        response = client.get("/docs")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    # The scripts carry the request's nonce, which carboy's policy for its pages requires.
    nonce = response.headers["content-security-policy"].split("'nonce-", 1)[1].split("'", 1)[0]
    assert response.text == PAGE.replace("{nonce}", nonce)
    assert "http" not in response.text
    assert all(url.startswith("/docs/assets/") for url in linked_urls(response.text))


def test_docs_page_has_no_inline_script() -> None:
    with TestClient(make_app()) as client:
        html = client.get("/docs").text

    assert re.findall(r"<script[^>]*>([^<]*)</script>", html) == ["", ""]
    assert re.search(r"\son[a-z]+=", html) is None  # no onload= or other handlers


@pytest.mark.parametrize(
    ("name", "content_type", "source"),
    [
        ("swagger-ui.css", "text/css; charset=utf-8", "swagger-ui.css"),
        ("swagger-ui-bundle.js", "text/javascript; charset=utf-8", "swagger-ui-bundle.js"),
        (
            "swagger-ui-standalone-preset.js",
            "text/javascript; charset=utf-8",
            "swagger-ui-standalone-preset.js",
        ),
        ("favicon-16x16.png", "image/png", "favicon-16x16.png"),
        ("favicon-32x32.png", "image/png", "favicon-32x32.png"),
    ],
)
def test_swagger_ui_files_are_served_from_the_package(
    name: str, content_type: str, source: str
) -> None:
    with TestClient(make_app()) as client:
        response = client.get(f"/docs/assets/{name}")

    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == "public, max-age=86400"
    assert "etag" in response.headers
    assert response.content == (VENDOR / source).read_bytes()


def test_every_url_of_the_page_answers() -> None:
    with TestClient(make_app()) as client:
        html = client.get("/docs").text
        statuses = {url: client.get(url).status_code for url in linked_urls(html)}

    assert statuses == {
        "/docs/assets/swagger-ui.css": 200,
        "/docs/assets/favicon-32x32.png": 200,
        "/docs/assets/favicon-16x16.png": 200,
        "/docs/assets/swagger-ui-bundle.js": 200,
        "/docs/assets/init.js": 200,
    }


def test_initializer_reads_the_document_url_from_the_page_and_skips_the_online_validator() -> None:
    with TestClient(make_app()) as client:
        response = client.get("/docs/assets/init.js")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=86400"
    assert "url: node.dataset.openapiUrl," in response.text
    assert "validatorUrl: null," in response.text
    assert "http" not in response.text


def test_swagger_ui_license_is_served() -> None:
    with TestClient(make_app()) as client:
        response = client.get("/docs/assets/LICENSE")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text.lstrip().startswith("Apache License")
    assert "Version 2.0, January 2004" in response.text


@pytest.mark.parametrize(
    "name",
    [
        "index.html",
        "swagger-initializer.js",
        "swagger-ui-bundle.js.map",
        "oauth2-redirect.html",
        "__init__.py",
        "..%2F__init__.py",
        "..%2F..%2F..%2Fcarboy%2Fapp.py",
        "%2e%2e",
        "%2e%2e%2f%2e%2e%2fpyproject.toml",
        "SWAGGER-UI.CSS",
    ],
)
def test_anything_off_the_asset_list_is_not_found(name: str) -> None:
    with TestClient(make_app()) as client:
        response = client.get(f"/docs/assets/{name}")

    assert response.status_code == 404


def test_a_nested_path_under_assets_is_not_found() -> None:
    with TestClient(make_app()) as client:
        nested = client.get("/docs/assets/vendor/swagger-ui.css")

    assert nested.status_code == 404


def test_unknown_asset_answers_a_problem() -> None:
    with TestClient(make_app()) as client:
        response = client.get("/docs/assets/nope.js")

    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "The docs page has no asset of that name.",
    }


def test_docs_url_none_turns_the_page_off_but_not_the_document() -> None:
    with TestClient(make_app(OpenAPIConfig(docs_url=None))) as client:
        page = client.get("/docs")
        asset = client.get("/docs/assets/swagger-ui.css")
        document = client.get("/openapi.json")

    assert page.status_code == 404
    assert asset.status_code == 404
    assert document.status_code == 200


def test_openapi_url_none_turns_off_the_document_and_the_page() -> None:
    with TestClient(make_app(OpenAPIConfig(openapi_url=None))) as client:
        document = client.get("/openapi.json")
        page = client.get("/docs")
        asset = client.get("/docs/assets/init.js")

    assert (document.status_code, page.status_code, asset.status_code) == (404, 404, 404)


def test_custom_paths_move_the_page_its_assets_and_the_document() -> None:
    config = OpenAPIConfig(title="Shop", openapi_url="/api/schema.json", docs_url="/api/docs")

    with TestClient(make_app(config)) as client:
        page = client.get("/api/docs")
        asset = client.get("/api/docs/assets/swagger-ui.css")
        document = client.get("/api/schema.json")
        default_page = client.get("/docs")

    assert page.status_code == 200
    assert '<div id="swagger-ui" data-openapi-url="/api/schema.json"></div>' in page.text
    assert linked_urls(page.text) == [
        "/api/docs/assets/swagger-ui.css",
        "/api/docs/assets/favicon-32x32.png",
        "/api/docs/assets/favicon-16x16.png",
        "/api/docs/assets/swagger-ui-bundle.js",
        "/api/docs/assets/init.js",
    ]
    assert "<title>Shop: docs</title>" in page.text
    assert asset.status_code == 200
    assert document.json()["info"]["title"] == "Shop"
    assert default_page.status_code == 404


def test_page_urls_honour_the_root_path() -> None:
    with TestClient(make_app(), root_path="/shop") as client:
        page = client.get("/shop/docs")
        asset = client.get("/shop/docs/assets/init.js")

    assert page.status_code == 200
    assert '<div id="swagger-ui" data-openapi-url="/shop/openapi.json"></div>' in page.text
    assert all(url.startswith("/shop/docs/assets/") for url in linked_urls(page.text))
    assert asset.status_code == 200


def test_the_title_is_escaped() -> None:
    config = OpenAPIConfig(title='<Shop & "Co">')

    with TestClient(make_app(config)) as client:
        page = client.get("/docs")

    assert "<title>&lt;Shop &amp; &quot;Co&quot;&gt;: docs</title>" in page.text


def test_the_docs_routes_are_not_in_the_document() -> None:
    with TestClient(make_app()) as client:
        document = client.get("/openapi.json").json()

    assert list(document["paths"]) == ["/items"]
