"""The benchmark app on Django, as a single-file project: 50 routes.

Routes, in registration order: ``plaintext`` and ``json`` first, 44 filler
routes (a collection and an item route for each of 22 resources), then
``users/<id>/posts/<slug>`` as the 47th route, then three more ``users``
routes. Django's resolver tries patterns in order, so the 47th pays for the
46 before it.

Serve with ``gunicorn --chdir benchmarks/apps django_app:application``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path

RESOURCES: tuple[str, ...] = (
    "accounts", "addresses", "audits", "carts", "categories", "comments",
    "coupons", "customers", "devices", "events", "groups", "invoices",
    "messages", "notifications", "orders", "payments", "products", "projects",
    "refunds", "reports", "reviews", "shipments",
)  # fmt: skip

settings.configure(
    DEBUG=False,
    # A fixed key is harmless here: nothing is signed, no session exists.
    SECRET_KEY="benchmark-only-not-a-secret",
    ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"],
    ROOT_URLCONF=__name__,
    # No contrib apps and no database: an API that serves JSON needs neither,
    # and each would add queries or model loading to startup.
    INSTALLED_APPS=[],
    DATABASES={},
    # The middleware of `startproject`, less the three that read a session
    # or the database on every request (sessions, auth, messages). What is
    # left is what an API deployment keeps: security headers, URL
    # normalization, CSRF (which costs little on GET) and X-Frame-Options.
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
    USE_TZ=True,
)


def plaintext(request: HttpRequest) -> HttpResponse:
    """Answer with a fixed text body."""
    return HttpResponse("Hello, World!", content_type="text/plain; charset=utf-8")


def json_(request: HttpRequest) -> HttpResponse:
    """Answer with a fixed JSON object."""
    return JsonResponse({"message": "Hello, World!"})


def user_post(request: HttpRequest, id: int, slug: str) -> HttpResponse:
    """Answer with the converted path parameters."""
    return JsonResponse({"id": id, "slug": slug})


def _collection_route(route: str, name: str) -> URLPattern:
    """Build a filler route without path parameters."""

    def collection(request: HttpRequest) -> HttpResponse:
        return JsonResponse({"route": name})

    return path(route, collection, name=name)


def _item_route(route: str, name: str) -> URLPattern:
    """Build a filler route with one integer path parameter, ``id``."""

    def item(request: HttpRequest, id: int) -> HttpResponse:
        return JsonResponse({"route": name, "id": id})

    return path(route, item, name=name)


urlpatterns: list[URLPattern] = [
    path("plaintext", plaintext, name="plaintext"),
    path("json", json_, name="json"),
]
for _resource in RESOURCES:
    urlpatterns.append(_collection_route(_resource, f"{_resource}_list"))
    urlpatterns.append(_item_route(f"{_resource}/<int:id>", f"{_resource}_detail"))
urlpatterns += [
    path("users/<int:id>/posts/<str:slug>", user_post, name="user_post"),
    _item_route("users/<int:id>", "user_detail"),
    _item_route("users/<int:id>/posts", "user_posts"),
    _item_route("users/<int:id>/followers", "user_followers"),
]

application = get_wsgi_application()
