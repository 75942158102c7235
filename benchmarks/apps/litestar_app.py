"""The benchmark app on Litestar: three measured endpoints among 50 routes.

Routes, in registration order: ``/plaintext`` and ``/json`` first, 44 filler
routes (a collection and an item route for each of 22 resources), then
``/users/{id}/posts/{slug}`` as the 47th route, then three more ``/users``
routes. Litestar's own OpenAPI schema routes stay on, as they are by default.

Path parameters use ``FromPath[...]``: Litestar 2.2x deprecates inferring
them from the bare annotation.

Serve with ``uvicorn --app-dir benchmarks/apps litestar_app:app``.
"""

from __future__ import annotations

from litestar import Litestar, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

RESOURCES: tuple[str, ...] = (
    "accounts", "addresses", "audits", "carts", "categories", "comments",
    "coupons", "customers", "devices", "events", "groups", "invoices",
    "messages", "notifications", "orders", "payments", "products", "projects",
    "refunds", "reports", "reviews", "shipments",
)  # fmt: skip


@get("/plaintext")
async def plaintext() -> str:
    """Answer with a fixed text body."""
    return "Hello, World!"


@get("/json")
async def json_() -> dict[str, str]:
    """Answer with a fixed JSON object."""
    return {"message": "Hello, World!"}


@get("/users/{id:int}/posts/{slug:str}")
async def user_post(id: FromPath[int], slug: FromPath[str]) -> dict[str, int | str]:
    """Answer with the converted path parameters."""
    return {"id": id, "slug": slug}


def _collection_route(path: str, name: str) -> HTTPRouteHandler:
    """Build a filler route without path parameters."""

    async def collection() -> dict[str, str]:
        return {"route": name}

    return get(path, name=name)(collection)


def _item_route(path: str, name: str) -> HTTPRouteHandler:
    """Build a filler route with one integer path parameter, ``id``."""

    async def item(id: FromPath[int]) -> dict[str, int | str]:
        return {"route": name, "id": id}

    return get(path, name=name)(item)


route_handlers: list[HTTPRouteHandler] = [plaintext, json_]
for _resource in RESOURCES:
    route_handlers.append(_collection_route(f"/{_resource}", f"{_resource}_list"))
    route_handlers.append(_item_route(f"/{_resource}/{{id:int}}", f"{_resource}_detail"))
route_handlers += [
    user_post,
    _item_route("/users/{id:int}", "user_detail"),
    _item_route("/users/{id:int}/posts", "user_posts"),
    _item_route("/users/{id:int}/followers", "user_followers"),
]

app = Litestar(route_handlers=route_handlers)
