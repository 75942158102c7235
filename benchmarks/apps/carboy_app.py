"""The benchmark app on carboy: five measured endpoints among 52 routes.

Routes, in registration order: ``/plaintext`` and ``/json`` first, 44 filler
routes (a collection and an item route for each of 22 resources), then
``/users/{id}/posts/{slug}`` as the 47th route, then three more ``/users``
routes, then the typed ``POST /items/{item_id}`` as the 51st and the HTML
page ``/page`` as the 52nd. The fillers are real, distinct routes so that a
router which tries routes one by one pays for them before it reaches the
47th. carboy's own documentation routes (``/openapi.json``, ``/docs``, ...)
stay on, as they are by default, and sit before these in the route list.

``/page`` renders ``templates/page.html`` with Jinja2 through
``carboy.templating.render``; its ``csrf_token()`` keeps the CSRF secret in
the session, which the default middleware then signs into the session cookie.

Serve with ``uvicorn --app-dir benchmarks/apps carboy_app:app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, SecretStr

from carboy import Carboy, HTMLResponse, Query, Request
from carboy.config import Settings
from carboy.templating import render

RESOURCES: tuple[str, ...] = (
    "accounts", "addresses", "audits", "carts", "categories", "comments",
    "coupons", "customers", "devices", "events", "groups", "invoices",
    "messages", "notifications", "orders", "payments", "products", "projects",
    "refunds", "reports", "reviews", "shipments",
)  # fmt: skip

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE_TITLE = "Items & offers"
PAGE_ITEMS = tuple({"id": n, "name": f"Item {n}"} for n in range(1, 11))

# Default middleware stays on: the point is what a user of ``Carboy()`` gets.
# A secret key is what sessions and CSRF tokens need; a fixed one is harmless
# here, where nothing signed is worth forging.
app = Carboy(
    settings=Settings(
        secret_key=SecretStr("benchmark-only-not-a-secret"), template_dirs=[str(TEMPLATES)]
    )
)


@app.get("/plaintext")
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

    async def item(id: int) -> dict[str, object]:
        return {"route": name, "id": id}

    app.get(path, name=name)(item)


for _resource in RESOURCES:
    _add_collection_route(f"/{_resource}", f"{_resource}_list")
    _add_item_route(f"/{_resource}/{{id:int}}", f"{_resource}_detail")


@app.get("/users/{id:int}/posts/{slug}")
async def user_post(id: int, slug: str) -> dict[str, object]:
    """Answer with the converted path parameters."""
    return {"id": id, "slug": slug}


_add_item_route("/users/{id:int}", "user_detail")
_add_item_route("/users/{id:int}/posts", "user_posts")
_add_item_route("/users/{id:int}/followers", "user_followers")


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


@app.get("/page")
async def page(request: Request) -> HTMLResponse:
    """Render the HTML page: a title, ten items and a form with its CSRF token."""
    return render(request, "page.html", {"title": PAGE_TITLE, "items": PAGE_ITEMS})
