"""The benchmark app on Django, as a single-file project: 51 routes.

Routes, in registration order: ``plaintext`` and ``json`` first, 44 filler
routes (a collection and an item route for each of 22 resources), then
``users/<id>/posts/<slug>`` as the 47th route, then three more ``users``
routes, then the HTML page ``page`` as the 51st. Django's resolver tries
patterns in order, so the 47th pays for the 46 before it.

``page`` renders ``templates/django/page.html`` with the Django template
language through ``django.shortcuts.render``; its ``{% csrf_token %}`` keeps
the CSRF secret in the session, a signed cookie, as carboy and Flask do.

Serve with ``gunicorn --chdir benchmarks/apps django_app:application``.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import URLPattern, path

RESOURCES: tuple[str, ...] = (
    "accounts", "addresses", "audits", "carts", "categories", "comments",
    "coupons", "customers", "devices", "events", "groups", "invoices",
    "messages", "notifications", "orders", "payments", "products", "projects",
    "refunds", "reports", "reviews", "shipments",
)  # fmt: skip

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates" / "django"
PAGE_TITLE = "Items & offers"
PAGE_ITEMS = tuple({"id": n, "name": f"Item {n}"} for n in range(1, 11))

settings.configure(
    DEBUG=False,
    # A fixed key is harmless here, where nothing signed is worth forging.
    SECRET_KEY="benchmark-only-not-a-secret",
    ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"],
    ROOT_URLCONF=__name__,
    # Sessions only, and no database: the HTML page keeps its CSRF secret in
    # a signed-cookie session, as carboy's and Flask's do. auth, admin and
    # messages would add model loading to startup and queries to requests.
    INSTALLED_APPS=["django.contrib.sessions"],
    DATABASES={},
    SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
    # The CSRF secret in the session rather than in a cookie of its own, so
    # that the page sets one signed session cookie, as in the other apps.
    # The CSRF middleware then reads the session on every request: on the
    # JSON endpoints that costs a lookup in an empty session, and adds
    # "Vary: Cookie" to their answers.
    CSRF_USE_SESSIONS=True,
    # The middleware of `startproject`, less the two that need the database
    # (auth, messages): security headers, sessions, URL normalization, CSRF
    # and X-Frame-Options.
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [TEMPLATES_DIR],
            # `request`, as carboy and Flask give every template; the CSRF
            # context processor is always on.
            "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
        }
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


def page(request: HttpRequest) -> HttpResponse:
    """Render the HTML page: a title, ten items and a form with its CSRF token."""
    return render(request, "page.html", {"title": PAGE_TITLE, "items": PAGE_ITEMS})


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
    path("page", page, name="page"),
]

application = get_wsgi_application()
