"""The benchmark app on Flask: three measured endpoints among 50 routes.

Routes, in registration order: ``/plaintext`` and ``/json`` first, 44 filler
routes (a collection and an item route for each of 22 resources), then
``/users/<id>/posts/<slug>`` as the 47th route, then three more ``/users``
routes. Plain synchronous views, as a Flask user writes them.

Serve with ``gunicorn --chdir benchmarks/apps flask_app:app``.
"""

from __future__ import annotations

from flask import Flask, Response

RESOURCES: tuple[str, ...] = (
    "accounts", "addresses", "audits", "carts", "categories", "comments",
    "coupons", "customers", "devices", "events", "groups", "invoices",
    "messages", "notifications", "orders", "payments", "products", "projects",
    "refunds", "reports", "reviews", "shipments",
)  # fmt: skip

app = Flask(__name__)


@app.get("/plaintext")
def plaintext() -> Response:
    """Answer with a fixed text body."""
    # A bare str return would be served as text/html.
    return Response("Hello, World!", mimetype="text/plain")


@app.get("/json")
def json_() -> dict[str, str]:
    """Answer with a fixed JSON object."""
    return {"message": "Hello, World!"}


def _add_collection_route(path: str, name: str) -> None:
    """Register a filler route without path parameters."""

    def collection() -> dict[str, str]:
        return {"route": name}

    app.add_url_rule(path, endpoint=name, view_func=collection, methods=["GET"])


def _add_item_route(path: str, name: str) -> None:
    """Register a filler route with one integer path parameter, ``id``."""

    def item(id: int) -> dict[str, int | str]:
        return {"route": name, "id": id}

    app.add_url_rule(path, endpoint=name, view_func=item, methods=["GET"])


for _resource in RESOURCES:
    _add_collection_route(f"/{_resource}", f"{_resource}_list")
    _add_item_route(f"/{_resource}/<int:id>", f"{_resource}_detail")


@app.get("/users/<int:id>/posts/<slug>")
def user_post(id: int, slug: str) -> dict[str, int | str]:
    """Answer with the converted path parameters."""
    return {"id": id, "slug": slug}


_add_item_route("/users/<int:id>", "user_detail")
_add_item_route("/users/<int:id>/posts", "user_posts")
_add_item_route("/users/<int:id>/followers", "user_followers")
