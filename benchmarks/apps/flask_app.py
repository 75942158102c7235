"""The benchmark app on Flask: four measured endpoints among 51 routes.

Routes, in registration order: ``/plaintext`` and ``/json`` first, 44 filler
routes (a collection and an item route for each of 22 resources), then
``/users/<id>/posts/<slug>`` as the 47th route, then three more ``/users``
routes, then the HTML page ``/page`` as the 51st. Plain synchronous views, as
a Flask user writes them.

``/page`` renders ``templates/page.html`` with ``render_template``. Flask has
no CSRF protection of its own, so the app registers a ``csrf_token()``
template global that does what Flask-WTF's ``generate_csrf`` does: a random
secret kept in Flask's default session (a signed cookie), and a token made
by signing it with itsdangerous. Each framework's page thus stores a CSRF
secret in a signed session cookie and puts a token in the form.

Serve with ``gunicorn --chdir benchmarks/apps flask_app:app``.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, render_template, session
from itsdangerous import URLSafeTimedSerializer

RESOURCES: tuple[str, ...] = (
    "accounts", "addresses", "audits", "carts", "categories", "comments",
    "coupons", "customers", "devices", "events", "groups", "invoices",
    "messages", "notifications", "orders", "payments", "products", "projects",
    "refunds", "reports", "reviews", "shipments",
)  # fmt: skip

PAGE_TITLE = "Items & offers"
PAGE_ITEMS = tuple({"id": n, "name": f"Item {n}"} for n in range(1, 11))
CSRF_SESSION_KEY = "csrf_token"

# Templates come from templates/ beside this file, Flask's default folder.
app = Flask(__name__)
# Flask's session needs a key; a fixed one is harmless here, where nothing
# signed is worth forging.
app.secret_key = "benchmark-only-not-a-secret"
# Flask-WTF's serializer and salt; it makes one per call, this app one in all.
_csrf_serializer = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token")


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


@app.template_global()
def csrf_token() -> str:
    """Return a token for a form, keeping the CSRF secret in the session.

    The work of Flask-WTF's ``generate_csrf``, where a Flask app with forms
    gets its CSRF tokens, since Flask itself has none.
    """
    if CSRF_SESSION_KEY not in session:
        session[CSRF_SESSION_KEY] = secrets.token_hex(20)
    return _csrf_serializer.dumps(session[CSRF_SESSION_KEY])


@app.get("/page")
def page() -> str:
    """Render the HTML page: a title, ten items and a form with its CSRF token."""
    return render_template("page.html", title=PAGE_TITLE, items=PAGE_ITEMS)
