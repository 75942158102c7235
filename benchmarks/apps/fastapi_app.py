"""The benchmark app on FastAPI: four measured endpoints among 51 routes.

Routes, in registration order: ``/plaintext`` and ``/json`` first, 44 filler
routes (a collection and an item route for each of 22 resources), then
``/users/{id}/posts/{slug}`` as the 47th route, then three more ``/users``
routes, then the typed ``POST /items/{item_id}`` as the 51st. FastAPI's own
documentation routes (``/openapi.json``, ``/docs``, ...) stay on, as they are
by default, and sit before these in the route list.

Handlers declare their return types, as FastAPI's documentation advises: the
declared type is what lets FastAPI serialize straight to JSON bytes.

Serve with ``uvicorn --app-dir benchmarks/apps fastapi_app:app``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

RESOURCES: tuple[str, ...] = (
    "accounts", "addresses", "audits", "carts", "categories", "comments",
    "coupons", "customers", "devices", "events", "groups", "invoices",
    "messages", "notifications", "orders", "payments", "products", "projects",
    "refunds", "reports", "reviews", "shipments",
)  # fmt: skip

app = FastAPI()


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext() -> str:
    """Answer with a fixed text body."""
    return "Hello, World!"


@app.get("/json")
async def json_() -> dict[str, str]:
    """Answer with a fixed JSON object."""
    return {"message": "Hello, World!"}


def _add_collection_route(path: str, name: str) -> None:
    """Register a filler route without path parameters."""

    async def collection() -> dict[str, str]:
        return {"route": name}

    app.get(path, name=name)(collection)


def _add_item_route(path: str, name: str) -> None:
    """Register a filler route with one integer path parameter, ``id``."""

    async def item(id: int) -> dict[str, int | str]:
        return {"route": name, "id": id}

    app.get(path, name=name)(item)


for _resource in RESOURCES:
    _add_collection_route(f"/{_resource}", f"{_resource}_list")
    _add_item_route(f"/{_resource}/{{id}}", f"{_resource}_detail")


@app.get("/users/{id}/posts/{slug}")
async def user_post(id: int, slug: str) -> dict[str, int | str]:
    """Answer with the converted path parameters."""
    return {"id": id, "slug": slug}


_add_item_route("/users/{id}", "user_detail")
_add_item_route("/users/{id}/posts", "user_posts")
_add_item_route("/users/{id}/followers", "user_followers")


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


@app.post("/items/{item_id}")
async def update_item(
    item_id: int, item: ItemIn, q: Annotated[str | None, Query(max_length=50)] = None
) -> ItemOut:
    """Answer with the validated path, query and body, through the response model."""
    return ItemOut(id=item_id, name=item.name, price=item.price, tags=item.tags, q=q)
