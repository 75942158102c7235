from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from carboy import Carboy
from carboy.config import Settings
from tests.browser.conftest import Serve, Traffic

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Rendered operations as (method, path), in the order Swagger UI shows them.
RENDERED_OPERATIONS = """
blocks => blocks.map(block => [
    block.querySelector(".opblock-summary-method").textContent,
    block.querySelector(".opblock-summary-path").dataset.path,
])
"""


def items_app() -> Carboy:
    app = Carboy(settings=Settings(allowed_hosts=["127.0.0.1", "127.0.0.2"]))

    @app.get("/items/{item_id}")
    async def read_item(item_id: int, q: str | None = None) -> dict[str, object]:
        return {"item_id": item_id, "q": q}

    @app.get("/items")
    async def list_items(limit: int = 10) -> list[dict[str, object]]:
        return [{"item_id": item_id} for item_id in range(limit)]

    return app


def fetch_openapi(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base_url}/openapi.json", timeout=10) as response:
        document: dict[str, Any] = json.load(response)
    return document


# Swagger UI's online-validator badge, an image from validator.swagger.io, is
# left out when the document's URL names "localhost" or "127.0.0.1"; served
# from 127.0.0.2, also loopback, the page would show it.
@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2"])
def test_docs_page_renders_every_operation_from_assets_served_by_carboy(
    host: str, serve: Serve, page: Page, traffic: Traffic, screenshots: Path
) -> None:
    base_url = serve(items_app(), host)
    document = fetch_openapi(base_url)
    operations = sorted(
        [method.upper(), path]
        for path, path_item in document["paths"].items()
        for method in path_item
        if method in HTTP_METHODS
    )
    # The documentation site shows it (docs/build.py sets CARBOY_SCREENSHOTS).
    screenshot = screenshots / "docs-page.png"

    response = page.goto(f"{base_url}/docs")
    assert response is not None
    assert response.status == 200
    page.wait_for_selector(".opblock")
    # The badge and any late asset load after the operations render.
    page.wait_for_load_state("networkidle")
    page.screenshot(path=screenshot, full_page=True)

    assert ["GET", "/items/{item_id}"] in operations
    assert sorted(page.locator(".opblock").evaluate_all(RENDERED_OPERATIONS)) == operations
    assert document["info"]["title"] in page.locator(".information-container .title").inner_text()
    assert f"{base_url}/openapi.json" in traffic.network_urls
    assert [url for url in traffic.network_urls if not url.startswith(f"{base_url}/")] == []
    assert [request.url for request in traffic.failed] == []
    assert [(r.url, r.status) for r in traffic.responses if r.status >= 400] == []
    assert screenshot.stat().st_size > 0
