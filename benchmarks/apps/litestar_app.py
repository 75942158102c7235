"""The benchmark app on Litestar: four measured endpoints among 51 routes.

Routes, in registration order: ``/plaintext`` and ``/json`` first, 44 filler
routes (a collection and an item route for each of 22 resources), then
``/users/{id}/posts/{slug}`` as the 47th route, then three more ``/users``
routes, then the typed ``POST /items/{item_id}`` as the 51st. Litestar's own
OpenAPI schema routes stay on, as they are by default.

Path parameters use ``FromPath[...]``, the query parameter
``Annotated[..., QueryParameter(...)]`` and the body ``JSONBody[...]``:
Litestar 2.2x deprecates inferring them from the bare annotation and the
generic ``Parameter(...)``.

The typed endpoint's models are pydantic models, as in the carboy and FastAPI
apps, so that all three validate and serialize with the same library;
Litestar's pydantic plugin, on by default when pydantic is installed, handles
them. (msgspec Structs are Litestar's native alternative.) Two settings make
its answers match the others': ``status_code=200``, since Litestar answers a
POST with 201 by default, and a handler that answers a validation error with
422 instead of Litestar's 400.

Serve with ``uvicorn --app-dir benchmarks/apps litestar_app:app``.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Litestar, Request, Response, get, post
from litestar.exceptions import ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_422_UNPROCESSABLE_ENTITY
from pydantic import BaseModel, Field

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


class ItemIn(BaseModel):
    """The JSON body of ``POST /items/{item_id}``."""

    name: str
    price: float = Field(gt=0)
    tags: list[str] = []


class ItemOut(BaseModel):
    """The answer of ``POST /items/{item_id}``."""

    id: int
    name: str
    price: float
    tags: list[str]
    q: str | None


def _unprocessable(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Answer invalid request data with 422, as carboy and FastAPI do, in Litestar's format."""
    return Response(
        {"status_code": HTTP_422_UNPROCESSABLE_ENTITY, "detail": exc.detail, "extra": exc.extra},
        status_code=HTTP_422_UNPROCESSABLE_ENTITY,
    )


@post(
    "/items/{item_id:int}",
    status_code=HTTP_200_OK,
    exception_handlers={ValidationException: _unprocessable},
)
async def update_item(
    item_id: FromPath[int],
    data: JSONBody[ItemIn],
    q: Annotated[str | None, QueryParameter(max_length=50)] = None,
) -> ItemOut:
    """Answer with the validated path, query and body, through the response model."""
    return ItemOut(id=item_id, name=data.name, price=data.price, tags=data.tags, q=q)


route_handlers: list[HTTPRouteHandler] = [plaintext, json_]
for _resource in RESOURCES:
    route_handlers.append(_collection_route(f"/{_resource}", f"{_resource}_list"))
    route_handlers.append(_item_route(f"/{_resource}/{{id:int}}", f"{_resource}_detail"))
route_handlers += [
    user_post,
    _item_route("/users/{id:int}", "user_detail"),
    _item_route("/users/{id:int}/posts", "user_posts"),
    _item_route("/users/{id:int}/followers", "user_followers"),
    update_item,
]

app = Litestar(route_handlers=route_handlers)
