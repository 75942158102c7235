"""Every benchmark app answers each measured endpoint correctly.

The apps in ``benchmarks/apps/`` are measured side by side by
``benchmarks/run.py``; a number is only worth comparing if every app serves the
same bytes. Speed is not tested here.
"""

from __future__ import annotations

import base64
import functools
import html
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

BENCHMARKS_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
APPS_DIR = BENCHMARKS_DIR / "apps"

ASGI_APPS = ("carboy_app", "starlette_app", "fastapi_app", "litestar_app", "raw_asgi_app")
# The apps that also serve the typed endpoint, POST /items/{item_id}.
TYPED_APPS = ("carboy_app", "fastapi_app", "litestar_app")
# WSGI module name -> the attribute that holds the WSGI callable.
WSGI_APPS = {"flask_app": "app", "django_app": "application"}


@dataclass(frozen=True)
class Endpoint:
    """One measured endpoint and the answer every app must give."""

    path: str
    content_type: str
    text: str | None = None
    json: dict[str, Any] = field(default_factory=dict)


ENDPOINTS = (
    Endpoint("/plaintext", "text/plain; charset=utf-8", text="Hello, World!"),
    Endpoint("/json", "application/json", json={"message": "Hello, World!"}),
    Endpoint(
        "/users/42/posts/hello-world",
        "application/json",
        json={"id": 42, "slug": "hello-world"},
    ),
)

ITEM = {"name": "Widget", "price": 9.5, "tags": ["a", "b"]}


@functools.cache
def load_app_module(name: str, directory: Path = APPS_DIR) -> ModuleType:
    """Import ``benchmarks/apps/<name>.py`` (or ``<directory>/<name>.py``) under a new name.

    ``benchmarks/`` is not a package, so the file is loaded by path. The
    module is put in ``sys.modules`` before it runs because the Django app
    names itself as its URLconf, which Django imports by name.
    """
    module_name = f"_carboy_benchmark_{name}"
    spec = importlib.util.spec_from_file_location(module_name, directory / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"Cannot load {directory / f'{name}.py'}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def assert_answers(response: httpx.Response, endpoint: Endpoint) -> None:
    """Assert that ``response`` is exactly what ``endpoint`` must answer."""
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(endpoint.content_type)
    if endpoint.text is not None:
        assert response.content == endpoint.text.encode("utf-8")
    else:
        # Types are compared too: 42 == 42.0 == "42" must not pass as the same id.
        body = response.json()
        assert {key: (value, type(value)) for key, value in body.items()} == {
            key: (value, type(value)) for key, value in endpoint.json.items()
        }


@pytest.mark.anyio
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.path)
@pytest.mark.parametrize("app_name", ASGI_APPS)
async def test_asgi_benchmark_app_answers_endpoint(app_name: str, endpoint: Endpoint) -> None:
    app = load_app_module(app_name).app

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        response = await client.get(endpoint.path)

    assert_answers(response, endpoint)


@pytest.mark.anyio
@pytest.mark.parametrize("app_name", TYPED_APPS)
async def test_typed_benchmark_app_answers_item_with_path_query_and_body(app_name: str) -> None:
    app = load_app_module(app_name).app

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        response = await client.post("/items/42?q=hello", json=ITEM)

    assert_answers(
        response,
        Endpoint(
            "/items/42?q=hello",
            "application/json",
            json={"id": 42, "name": "Widget", "price": 9.5, "tags": ["a", "b"], "q": "hello"},
        ),
    )


@pytest.mark.anyio
@pytest.mark.parametrize("app_name", TYPED_APPS)
async def test_typed_benchmark_app_answers_null_q_and_empty_tags_when_omitted(
    app_name: str,
) -> None:
    app = load_app_module(app_name).app

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        response = await client.post("/items/42", json={"name": "Widget", "price": 9.5})

    assert_answers(
        response,
        Endpoint(
            "/items/42",
            "application/json",
            json={"id": 42, "name": "Widget", "price": 9.5, "tags": [], "q": None},
        ),
    )


@pytest.mark.anyio
@pytest.mark.parametrize("app_name", TYPED_APPS)
async def test_typed_benchmark_app_refuses_a_non_positive_price_with_422(app_name: str) -> None:
    app = load_app_module(app_name).app

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        response = await client.post("/items/42?q=hello", json={**ITEM, "price": -1})

    assert response.status_code == 422


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.path)
@pytest.mark.parametrize("app_name", sorted(WSGI_APPS))
def test_wsgi_benchmark_app_answers_endpoint(app_name: str, endpoint: Endpoint) -> None:
    app = getattr(load_app_module(app_name), WSGI_APPS[app_name])

    with httpx.Client(
        transport=httpx.WSGITransport(app=app), base_url="http://testserver"
    ) as client:
        response = client.get(endpoint.path)

    assert_answers(response, endpoint)


def _carboy_routes(module: ModuleType) -> list[str]:
    # The OpenAPI document and docs routes are carboy's own, left out of the schema.
    return [route.path for route in module.app.routes if getattr(route, "include_in_schema", True)]


def _starlette_routes(module: ModuleType) -> list[str]:
    return [route.path for route in module.app.routes]


def _fastapi_routes(module: ModuleType) -> list[str]:
    from fastapi.routing import APIRoute

    # FastAPI's documentation routes are plain routes; the app's own are APIRoutes.
    return [route.path for route in module.app.routes if isinstance(route, APIRoute)]


def _litestar_routes(module: ModuleType) -> list[str]:
    # The OpenAPI schema routes belong to a router of Litestar's; the app's own to the app.
    app = module.app
    return [
        route.path
        for route in app.routes
        if all(handler.owner is app for handler in route.route_handlers)
    ]


def _flask_routes(module: ModuleType) -> list[str]:
    return [rule.rule for rule in module.app.url_map.iter_rules() if rule.endpoint != "static"]


def _django_routes(module: ModuleType) -> list[str]:
    return [str(pattern.pattern) for pattern in module.urlpatterns]


# App -> how to list its routes, its users-posts route, and the routes it
# registers after the 50 every app has: the typed route, then the HTML page,
# where it has them. The raw ASGI app has no routes.
ROUTE_LISTS: dict[str, tuple[Callable[[ModuleType], list[str]], str, list[str]]] = {
    "carboy_app": (
        _carboy_routes,
        "/users/{id:int}/posts/{slug}",
        ["/items/{item_id}", "/page"],
    ),
    "starlette_app": (_starlette_routes, "/users/{id:int}/posts/{slug}", []),
    "fastapi_app": (_fastapi_routes, "/users/{id}/posts/{slug}", ["/items/{item_id}"]),
    "litestar_app": (
        _litestar_routes,
        "/users/{id:int}/posts/{slug:str}",
        ["/items/{item_id:int}"],
    ),
    "flask_app": (_flask_routes, "/users/<int:id>/posts/<slug>", ["/page"]),
    "django_app": (_django_routes, "users/<int:id>/posts/<str:slug>", ["page"]),
}


@pytest.mark.parametrize("app_name", sorted(ROUTE_LISTS))
def test_benchmark_app_registers_users_posts_route_47th_of_50_then_its_extra_routes(
    app_name: str,
) -> None:
    list_routes, users_posts_route, extra_routes = ROUTE_LISTS[app_name]

    routes = list_routes(load_app_module(app_name))

    assert len(routes) == 50 + len(extra_routes)
    assert len(set(routes)) == len(routes)
    assert routes.index(users_posts_route) == 46
    assert routes[50:] == extra_routes


# The HTML page, GET /page ------------------------------------------------

# The apps that serve it, each with its session cookie's name and the key
# under which the session holds the CSRF secret.
PAGE_APPS = {
    "carboy_app": ("session", "_csrf"),
    "flask_app": ("session", "csrf_token"),
    "django_app": ("sessionid", "_csrftoken"),
}
PAGE_ITEMS = [f'<li id="item-{n}">Item {n}</li>' for n in range(1, 11)]
PAGE_CSRF_INPUT = re.compile(
    r'<input type="hidden" name="(?:csrf_token|csrfmiddlewaretoken)" value="[\w.-]{32,}">'
)


async def get_page(app_name: str) -> httpx.Response:
    """Return the app's answer to ``GET /page``, from a client without cookies."""
    module = load_app_module(app_name)
    if app_name in WSGI_APPS:
        transport = httpx.WSGITransport(app=getattr(module, WSGI_APPS[app_name]))
        with httpx.Client(transport=transport, base_url="http://testserver") as client:
            return client.get("/page")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=module.app), base_url="http://testserver"
    ) as client:
        return await client.get("/page")


def session_data(cookie_value: str) -> dict[str, Any]:
    """Decode the JSON payload of a signed session cookie, ignoring its signature.

    All three frameworks put the base64url JSON first, before a ``.`` (carboy,
    Flask) or a ``:`` (Django); the payloads here are too short to be compressed.
    """
    payload = re.split(r"[.:]", cookie_value, maxsplit=1)[0]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


@pytest.mark.anyio
@pytest.mark.parametrize("app_name", sorted(PAGE_APPS))
async def test_benchmark_page_renders_the_items_and_the_csrf_input_from_a_session_secret(
    app_name: str,
) -> None:
    cookie_name, secret_key = PAGE_APPS[app_name]

    response = await get_page(app_name)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>Items &amp; offers</title>" in response.text
    assert re.findall(r"<li [^>]*>[^<]*</li>", response.text) == PAGE_ITEMS
    assert len(PAGE_CSRF_INPUT.findall(response.text)) == 1
    assert list(response.cookies) == [cookie_name]
    assert len(response.headers.get_list("set-cookie")) == 1
    assert secret_key in session_data(response.cookies[cookie_name])


@pytest.mark.anyio
async def test_benchmark_pages_are_the_same_html_but_for_the_csrf_input() -> None:
    pages = {app_name: (await get_page(app_name)).text for app_name in sorted(PAGE_APPS)}

    # Django keeps the template's last newline, Jinja2 drops it.
    normalized = {
        app_name: PAGE_CSRF_INPUT.sub("<csrf>", text).rstrip("\n")
        for app_name, text in pages.items()
    }

    assert normalized["flask_app"] == normalized["carboy_app"]
    assert normalized["django_app"] == normalized["carboy_app"]


HELLO_DIR = APPS_DIR / "hello"
# Each hello app answers GET / in a fresh interpreter: Django's settings can
# be configured once per process, and the benchmark app configures them too.
_HELLO_PROBE = """\
import sys, httpx
sys.path.insert(0, sys.argv[1])
app = getattr(__import__(sys.argv[2]), sys.argv[3])
if sys.argv[4] == "asgi":
    import anyio
    async def get():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.get("/")
    response = anyio.run(get)
else:
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://testserver") as c:
        response = c.get("/")
print(response.status_code, response.headers["content-type"], response.text)
"""


@pytest.mark.parametrize(
    ("module", "attribute", "kind"),
    [
        ("carboy_hello", "app", "asgi"),
        ("starlette_hello", "app", "asgi"),
        ("fastapi_hello", "app", "asgi"),
        ("litestar_hello", "app", "asgi"),
        ("raw_asgi_hello", "app", "asgi"),
        ("flask_hello", "app", "wsgi"),
        ("django_hello", "application", "wsgi"),
    ],
)
def test_hello_app_of_the_import_time_measure_answers(
    module: str, attribute: str, kind: str
) -> None:
    import subprocess

    completed = subprocess.run(
        [sys.executable, "-c", _HELLO_PROBE, str(HELLO_DIR), module, attribute, kind],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    status, content_type, body = completed.stdout.strip().split(" ", 2)
    assert status == "200"
    assert content_type == "application/json"
    assert json.loads(body) == {"message": "Hello, World!"}


# The database apps: GET /db, /queries and /fortunes on PostgreSQL ----------

DB_APPS = {"carboy_db_app": "asgi", "fastapi_db_app": "asgi", "django_db_app": "wsgi"}
QUERIES = {
    "/queries?queries=20": 20,
    # Not a number, or no number: 1 row; out of 1..500: clamped.
    "/queries?queries=foo": 1,
    "/queries": 1,
    "/queries?queries=0": 1,
    "/queries?queries=1000": 500,
}
DB_PATHS = ("/db", *QUERIES, "/fortunes")
FORTUNES_HEAD = (
    "<!DOCTYPE html><html><head><title>Fortunes</title></head><body>"
    "<table><tr><th>id</th><th>message</th></tr>"
)
FORTUNES_TAIL = "</table></body></html>"

# Each database app answers in a fresh interpreter: Django's settings can be
# configured once per process, and carboy's models would join the Model
# registry of every test after. ASGI apps go through carboy's TestClient,
# which runs their lifespan, so their pools open and close in its loop.
_DB_PROBE = """\
import json, sys
sys.path.insert(0, sys.argv[1])
module = __import__(sys.argv[2])
if sys.argv[3] == "asgi":
    from carboy.testing import TestClient
    client = TestClient(module.app)
else:
    import httpx
    transport = httpx.WSGITransport(app=module.application)
    client = httpx.Client(transport=transport, base_url="http://testserver")
with client:
    answers = {}
    for path in sys.argv[4:]:
        response = client.get(path)
        answers[path] = [response.status_code, response.headers["content-type"], response.text]
print(json.dumps(answers))
"""

Answer = tuple[int, str, str]
"""An answer's status, content type and body."""


def benchmark_tables() -> ModuleType:
    """Return ``benchmarks/_database.py``: the tables' rows and how to fill them."""
    return load_app_module("_database", BENCHMARKS_DIR)


def database_unavailable(reason: str) -> None:
    """Skip the test for ``reason``, or fail it when the suite must have its services.

    CI sets ``CARBOY_REQUIRE_SERVICES=1``, so that a missing PostgreSQL there
    is a failure instead of a quietly skipped test.
    """
    if os.environ.get("CARBOY_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (and CARBOY_REQUIRE_SERVICES=1 requires it)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def database_url() -> str:
    """Fill the benchmark's tables and return the database's URL, or skip without it.

    The URL is the runner's: ``BENCH_DATABASE_URL``, else PostgreSQL on
    127.0.0.1 as ``postgres``, database ``test``; the apps read the same
    variable.
    """
    tables = benchmark_tables()
    url: str = tables.database_url()
    try:
        import psycopg
    except ImportError:
        database_unavailable("psycopg is not installed: pip install -e '.[dev]'")
    try:
        tables.fill(url)
    except psycopg.OperationalError as error:
        reason = " ".join(str(error).split())
        database_unavailable(f"PostgreSQL at {tables.safe_url(url)} is not reachable: {reason}")
    return url


@pytest.fixture(scope="module")
def db_answers(database_url: str) -> dict[str, dict[str, Answer]]:
    """Return every database app's answer to each of ``DB_PATHS``, by app and path."""
    answers = {}
    for app_name, kind in DB_APPS.items():
        completed = subprocess.run(
            [sys.executable, "-c", _DB_PROBE, str(APPS_DIR), app_name, kind, *DB_PATHS],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        by_path = json.loads(completed.stdout.strip().splitlines()[-1])
        answers[app_name] = {path: (int(s), str(t), str(b)) for path, (s, t, b) in by_path.items()}
    return answers


def assert_world_rows(rows: list[Any]) -> None:
    """Assert that each of ``rows`` is a row of ``world``, as ``{"id": n, "randomNumber": m}``."""
    world = benchmark_tables().world_rows()
    for row in rows:
        assert list(row) == ["id", "randomNumber"]
        # bool is an int to isinstance; JSON's true is no id.
        assert type(row["id"]) is int
        assert type(row["randomNumber"]) is int
        assert row["randomNumber"] == world[row["id"]]


@pytest.mark.parametrize("app_name", DB_APPS)
def test_database_app_answers_db_with_one_row_of_world(
    app_name: str, db_answers: dict[str, dict[str, Answer]]
) -> None:
    status, content_type, body = db_answers[app_name]["/db"]

    assert status == 200
    assert content_type == "application/json"
    row = json.loads(body)
    assert isinstance(row, dict)
    assert_world_rows([row])


@pytest.mark.parametrize(("path", "count"), QUERIES.items())
@pytest.mark.parametrize("app_name", DB_APPS)
def test_database_app_answers_queries_with_as_many_rows_as_asked_between_1_and_500(
    app_name: str, path: str, count: int, db_answers: dict[str, dict[str, Answer]]
) -> None:
    status, content_type, body = db_answers[app_name][path]

    assert status == 200
    assert content_type == "application/json"
    rows = json.loads(body)
    assert isinstance(rows, list)
    assert len(rows) == count
    assert_world_rows(rows)
    if count >= 20:
        # Random ids: 20 copies of one row would mean one query, repeated from a cache.
        assert len({row["id"] for row in rows}) > 1


@pytest.mark.parametrize("app_name", DB_APPS)
def test_database_app_renders_every_fortune_and_the_added_one_sorted_and_escaped(
    app_name: str, db_answers: dict[str, dict[str, Answer]]
) -> None:
    tables = benchmark_tables()
    expected_rows = "".join(
        f"<tr><td>{id_}</td><td>{html.escape(message)}</td></tr>"
        for id_, message in tables.fortunes_page()
    )

    status, content_type, body = db_answers[app_name]["/fortunes"]

    assert status == 200
    assert content_type == "text/html; charset=utf-8"
    assert "<script>" not in body
    assert "<tr><td>11</td><td>&lt;script&gt;alert(" in body
    assert "<tr><td>0</td><td>Additional fortune added at request time.</td></tr>" in body
    # Entities compared by what they stand for: Jinja2 writes " as &#34;,
    # Django as &quot;. Django keeps the template's last newline.
    page = html.unescape(body.rstrip("\n"))
    assert page == html.unescape(FORTUNES_HEAD + expected_rows + FORTUNES_TAIL)


def test_fortunes_page_rows_put_the_script_first_and_the_japanese_fortune_last() -> None:
    rows = benchmark_tables().fortunes_page()

    assert len(rows) == 13
    assert rows[0] == (
        11,
        '<script>alert("This should not be displayed in a browser alert box.");</script>',
    )
    assert rows[1][0] == 4
    assert rows[-1] == (12, "フレームワークのベンチマーク")
    assert (0, "Additional fortune added at request time.") in rows
