"""The database benchmark app on Django: TechEmpower's /db, /queries and /fortunes.

A single-file project like ``django_app.py``, with the same settings and
middleware, plus a PostgreSQL database through psycopg (3) on the URL in
``BENCH_DATABASE_URL``. Its connection is persistent (``CONN_MAX_AGE=None``):
gunicorn's sync worker serves one request at a time, so one connection per
worker is all it can use, and it is opened once instead of per request. The
models map the existing tables (``managed = False``), which the runner fills
(``benchmarks/_database.py``); Django's ORM runs in autocommit, its default.

``fortunes`` renders ``templates/django/fortunes.html`` with the Django
template language through ``django.shortcuts.render``, which escapes every
value.

Serve with ``gunicorn --chdir benchmarks/apps django_db_app:application``.
"""

from __future__ import annotations

import os
import urllib.parse
from operator import attrgetter
from pathlib import Path
from random import randint

import django
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.db import models
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import URLPattern, path

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates" / "django"
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
WORLD_SIZE = 10_000
MAX_QUERIES = 500


def database_settings(url: str) -> dict[str, object]:
    """Return Django's ``DATABASES["default"]`` for a ``postgresql://`` URL."""
    parts = urllib.parse.urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": urllib.parse.unquote(parts.path.lstrip("/")),
        "USER": urllib.parse.unquote(parts.username or ""),
        "PASSWORD": urllib.parse.unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": None,
    }


settings.configure(
    DEBUG=False,
    # A fixed key is harmless here, where nothing signed is worth forging.
    SECRET_KEY="benchmark-only-not-a-secret",
    ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.sessions"],
    DATABASES={"default": database_settings(DATABASE_URL)},
    # As in django_app.py: signed-cookie sessions holding the CSRF secret,
    # and the middleware of `startproject` less auth and messages.
    SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
    CSRF_USE_SESSIONS=True,
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
            "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
        }
    ],
    USE_TZ=True,
)
# Models can only be declared once the app registry is ready.
django.setup()


class World(models.Model):
    """A row of TechEmpower's ``world`` table."""

    id = models.IntegerField(primary_key=True)
    randomnumber = models.IntegerField()

    class Meta:
        app_label = "benchmark"
        db_table = "world"
        managed = False


class Fortune(models.Model):
    """A row of TechEmpower's ``fortune`` table."""

    id = models.IntegerField(primary_key=True)
    message = models.CharField(max_length=2048)

    class Meta:
        app_label = "benchmark"
        db_table = "fortune"
        managed = False


def query_count(queries: str | None) -> int:
    """Read the ``queries`` parameter as TechEmpower asks: 1 unless a number, at most 500."""
    try:
        count = int(queries or 1)
    except ValueError:
        return 1
    return min(max(count, 1), MAX_QUERIES)


def single_query(request: HttpRequest) -> HttpResponse:
    """Answer with one random row of ``world``."""
    world = World.objects.get(id=randint(1, WORLD_SIZE))
    return JsonResponse({"id": world.id, "randomNumber": world.randomnumber})


def multiple_queries(request: HttpRequest) -> HttpResponse:
    """Answer with ``queries`` random rows of ``world``, read one query at a time."""
    worlds = []
    for _ in range(query_count(request.GET.get("queries"))):
        world = World.objects.get(id=randint(1, WORLD_SIZE))
        worlds.append({"id": world.id, "randomNumber": world.randomnumber})
    return JsonResponse(worlds, safe=False)


def fortunes(request: HttpRequest) -> HttpResponse:
    """Render every fortune, plus one added now, sorted by message, as an HTML table."""
    rows = list(Fortune.objects.all())
    rows.append(Fortune(id=0, message="Additional fortune added at request time."))
    rows.sort(key=attrgetter("message"))
    return render(request, "fortunes.html", {"fortunes": rows})


urlpatterns: list[URLPattern] = [
    path("db", single_query, name="db"),
    path("queries", multiple_queries, name="queries"),
    path("fortunes", fortunes, name="fortunes"),
]

application = get_wsgi_application()
