"""The benchmark app on Starlette: three measured endpoints among 50 routes.

Routes, in registration order: ``/plaintext`` and ``/json`` first, 44 filler
routes (a collection and an item route for each of 22 resources), then
``/users/{id}/posts/{slug}`` as the 47th route, then three more ``/users``
routes. Starlette tries routes in order, so the 47th pays for the 46 before it.

Serve with ``uvicorn --app-dir benchmarks/apps starlette_app:app``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

RESOURCES: tuple[str, ...] = (
    "accounts", "addresses", "audits", "carts", "categories", "comments",
    "coupons", "customers", "devices", "events", "groups", "invoices",
    "messages", "notifications", "orders", "payments", "products", "projects",
    "refunds", "reports", "reviews", "shipments",
)  # fmt: skip


async def plaintext(request: Request) -> Response:
    """Answer with a fixed text body."""
    return PlainTextResponse("Hello, World!")


async def json_(request: Request) -> Response:
    """Answer with a fixed JSON object."""
    return JSONResponse({"message": "Hello, World!"})


async def user_post(request: Request) -> Response:
    """Answer with the converted path parameters."""
    return JSONResponse({"id": request.path_params["id"], "slug": request.path_params["slug"]})


def _collection_route(path: str, name: str) -> Route:
    """Build a filler route without path parameters."""

    async def collection(request: Request) -> Response:
        return JSONResponse({"route": name})

    return Route(path, collection, name=name)


def _item_route(path: str, name: str) -> Route:
    """Build a filler route with one integer path parameter, ``id``."""

    async def item(request: Request) -> Response:
        return JSONResponse({"route": name, "id": request.path_params["id"]})

    return Route(path, item, name=name)


routes: list[Route] = [
    Route("/plaintext", plaintext, name="plaintext"),
    Route("/json", json_, name="json"),
]
for _resource in RESOURCES:
    routes.append(_collection_route(f"/{_resource}", f"{_resource}_list"))
    routes.append(_item_route(f"/{_resource}/{{id:int}}", f"{_resource}_detail"))
routes += [
    Route("/users/{id:int}/posts/{slug}", user_post, name="user_post"),
    _item_route("/users/{id:int}", "user_detail"),
    _item_route("/users/{id:int}/posts", "user_posts"),
    _item_route("/users/{id:int}/followers", "user_followers"),
]

app = Starlette(routes=routes)
