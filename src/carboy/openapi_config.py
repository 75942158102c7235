"""What the app says of itself in its OpenAPI document, and where it serves it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.requests import Request
    from carboy.responses import Response

__all__ = ["OpenAPIConfig"]


@dataclasses.dataclass
class OpenAPIConfig:
    """The OpenAPI document's metadata and the paths of the document and the docs page.

    Args:
        title: The API's name.
        version: The API's version (not OpenAPI's).
        description: A longer description, Markdown allowed.
        openapi_url: Where the JSON document is served; ``None`` turns off
            both the document and the docs page.
        docs_url: Where the interactive docs page is served; ``None`` turns
            it off.
        servers: The ``servers`` list of the document.
        tags: Descriptions of tags, as the document's ``tags`` list.
        contact, license_info, terms_of_service: The document's ``info``.

    Example:
        ``Carboy(openapi=OpenAPIConfig(title="Shop", version="2.1", docs_url="/api/docs"))``
    """

    title: str = "carboy API"
    version: str = "0.1.0"
    description: str | None = None
    openapi_url: str | None = "/openapi.json"
    docs_url: str | None = "/docs"
    servers: Sequence[Mapping[str, Any]] = ()
    tags: Sequence[Mapping[str, Any]] = ()
    contact: Mapping[str, Any] | None = None
    license_info: Mapping[str, Any] | None = None
    terms_of_service: str | None = None

    def install(self, app: Carboy) -> None:
        """Add the document's and the docs page's routes to ``app``."""
        if self.openapi_url is None:
            return
        openapi_url = self.openapi_url

        async def openapi_document(request: Request) -> Response:
            from carboy.responses import JSONResponse

            return JSONResponse(request.app.openapi())

        app.add_route(openapi_url, openapi_document, name="openapi", include_in_schema=False)
        if self.docs_url is None:
            return
        docs_url = self.docs_url

        async def docs_page(request: Request) -> Response:
            from carboy.docs import docs_page_response

            return docs_page_response(request, self)

        async def docs_asset(request: Request, name: str) -> Response:
            from carboy.docs import asset_response

            return await asset_response(name)

        app.add_route(docs_url, docs_page, name="docs", include_in_schema=False)
        app.add_route(
            docs_url.rstrip("/") + "/assets/{name}",
            docs_asset,
            name="docs_asset",
            include_in_schema=False,
        )
