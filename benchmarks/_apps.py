"""The apps under test: which they are, what they must answer, how fast they import."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any, Literal

from _database import fortunes_page, world_rows
from _text import last_lines
from _venv import venv_python

APPS_DIR = Path(__file__).resolve().parent / "apps"
CHECK_TIMEOUT = 5.0
IMPORT_TIMEOUT = 60.0
# Every request body, in the checks and under load, is JSON.
BODY_CONTENT_TYPE = "application/json"

HELLO_DIR = APPS_DIR / "hello"

# Runs in a fresh interpreter; argv holds the hello apps' directory, the
# module, the attribute that holds the built app, and whether it is an ASGI
# app. It prints two times: the import and build, then the same plus an ASGI
# app's lifespan startup, where a framework may do work it put off at import
# (carboy compiles its routes and reads its settings then). Interpreter
# startup is not timed.
_IMPORT_PROBE = """\
import asyncio, sys, time
sys.path.insert(0, sys.argv[1])

async def start_up(app):
    inbox = [{"type": "lifespan.startup"}]
    started = asyncio.Event()
    async def receive():
        if inbox:
            return inbox.pop()
        await asyncio.Event().wait()
    async def send(message):
        started.set()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.ensure_future(app(scope, receive, send))
    waiter = asyncio.ensure_future(started.wait())
    await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    task.cancel()
    waiter.cancel()

start = time.perf_counter()
module = __import__(sys.argv[2])
app = getattr(module, sys.argv[3])
built = time.perf_counter()
if sys.argv[4] == "asgi":
    asyncio.run(start_up(app))
print(f"{(built - start) * 1000:.3f} {(time.perf_counter() - start) * 1000:.3f}")
"""


AppKind = Literal["web", "db"]
"""Which of a framework's apps serves an endpoint: the web app, or the database app."""

APP_KINDS: tuple[AppKind, ...] = ("web", "db")

BodyCheck = Callable[[bytes], str | None]
"""Judges an answer's body: None when it is right, else what is wrong."""


@dataclass(frozen=True)
class Framework:
    """One framework: its benchmark app, its database app if any, and their server."""

    key: str
    label: str
    module: str
    attribute: str
    server: Literal["uvicorn", "gunicorn"]
    # The module of the app that serves the database endpoints, with the
    # same attribute and server as ``module``'s; None when there is none.
    db_module: str | None = None

    def module_of(self, kind: AppKind) -> str:
        """Return the module of the app of ``kind``."""
        if kind == "web":
            return self.module
        if self.db_module is None:
            raise ValueError(f"{self.label} has no database app")
        return self.db_module


@dataclass(frozen=True)
class Endpoint:
    """One measured endpoint, the request that loads it and the answer it must give."""

    path: str
    content_type: str
    text: str | None = None
    json: dict[str, Any] | None = None
    method: str = "GET"
    # The JSON request body, exactly as sent; None sends no body.
    body: str | None = None
    # A body that fails validation, which must be answered with 422 before any load.
    invalid_body: str | None = None
    # The keys of the frameworks that serve it; None means every framework.
    served_by: tuple[str, ...] | None = None
    # For an HTML page, whose token differs on every request: texts the body
    # must contain, and a regular expression it must match.
    html_contains: tuple[str, ...] = ()
    html_pattern: str | None = None
    # The names, one per framework, of which the answer must set exactly one cookie.
    session_cookies: tuple[str, ...] = ()
    # For an answer that differs on every request (random rows): a function
    # that judges the body instead of comparing it with a fixed one.
    body_check: BodyCheck | None = None
    # More GET requests, sent by the check only and never under load: a path
    # with its query string, and the body check that its answer must pass.
    more_checks: tuple[tuple[str, BodyCheck], ...] = ()
    # The app that serves it: each framework's benchmark app, or its database app.
    app: AppKind = "web"

    @property
    def label(self) -> str:
        """Name the endpoint in the tables: its path, led by its method unless GET."""
        return self.path if self.method == "GET" else f"{self.method} {self.path}"

    def is_served_by(self, key: str) -> bool:
        """Tell whether the framework ``key`` serves this endpoint."""
        return self.served_by is None or key in self.served_by


# The order of the report's rows.
FRAMEWORKS = (
    Framework("raw", "raw ASGI", "raw_asgi_app", "app", "uvicorn"),
    Framework("carboy", "carboy", "carboy_app", "app", "uvicorn", "carboy_db_app"),
    Framework("starlette", "Starlette", "starlette_app", "app", "uvicorn"),
    Framework("fastapi", "FastAPI", "fastapi_app", "app", "uvicorn", "fastapi_db_app"),
    Framework("litestar", "Litestar", "litestar_app", "app", "uvicorn"),
    Framework("flask", "Flask", "flask_app", "app", "gunicorn"),
    Framework("django", "Django", "django_app", "application", "gunicorn", "django_db_app"),
)
FRAMEWORKS_BY_KEY = {framework.key: framework for framework in FRAMEWORKS}

# Path, query and JSON body, each validated against a declared type, and the
# answer serialized through a response model: only frameworks that offer
# typed handlers serve it, so raw ASGI has no row and no "vs raw" for it.
TYPED_ENDPOINT = Endpoint(
    "/items/42?q=hello",
    "application/json",
    json={"id": 42, "name": "Widget", "price": 9.5, "tags": ["a", "b"], "q": "hello"},
    method="POST",
    body='{"name": "Widget", "price": 9.5, "tags": ["a", "b"]}',
    invalid_body='{"name": "Widget", "price": -1, "tags": ["a", "b"]}',
    served_by=("carboy", "fastapi", "litestar"),
)

# A page rendered from a template behind the full default middleware, with a
# form whose CSRF secret lives in the session: served by the frameworks that
# render pages, carboy, Flask and Django. Flask has no CSRF protection, so its
# app does the work of Flask-WTF's itself. Each answer sets one signed session
# cookie: carboy's and Flask's are called "session", Django's "sessionid".
PAGE_ENDPOINT = Endpoint(
    "/page",
    "text/html; charset=utf-8",
    html_contains=(
        "<title>Items &amp; offers</title>",
        *(f'<li id="item-{n}">Item {n}</li>' for n in range(1, 11)),
    ),
    html_pattern=(
        r'<input type="hidden" name="(csrf_token|csrfmiddlewaretoken)" value="[\w.-]{32,}">'
    ),
    session_cookies=("session", "sessionid"),
    served_by=("carboy", "flask", "django"),
)


def _world_row_error(value: object) -> str | None:
    """Tell what keeps ``value`` from being a row of ``world`` as JSON, or None."""
    if not isinstance(value, dict) or set(value) != {"id", "randomNumber"}:
        return f"{value!r} is not an object with exactly the keys id and randomNumber"
    id_, number = value["id"], value["randomNumber"]
    # bool is an int to isinstance, and JSON's true is no id.
    if type(id_) is not int or type(number) is not int:
        return f"{value!r}: id and randomNumber must both be integers"
    if id_ not in world_rows():
        return f"{value!r}: id {id_} is not in 1..{len(world_rows())}"
    if world_rows()[id_] != number:
        return f"{value!r}: row {id_} of world has randomNumber {world_rows()[id_]}"
    return None


def check_world_row(body: bytes) -> str | None:
    """Check that ``body`` is one row of ``world`` as JSON, ``{"id": n, "randomNumber": m}``."""
    try:
        value = json.loads(body)
    except ValueError:
        return f"body {body[:200]!r} is not JSON"
    return _world_row_error(value)


def world_rows_check(count: int) -> BodyCheck:
    """Return a body check for a JSON list of ``count`` rows of ``world``."""

    def check(body: bytes) -> str | None:
        try:
            value = json.loads(body)
        except ValueError:
            return f"body {body[:200]!r} is not JSON"
        if not isinstance(value, list) or len(value) != count:
            length = len(value) if isinstance(value, list) else "not a list"
            return f"expected a list of {count} rows, got {length}: {body[:200]!r}"
        for row in value:
            if (error := _world_row_error(row)) is not None:
                return error
        # Random ids repeat rarely; 20 copies of one row mean one query, cached.
        if count >= 20 and len({row["id"] for row in value}) == 1:
            return f"all {count} rows are row {value[0]['id']}: the ids are not random"
        return None

    return check


FORTUNES_HEAD = (
    "<!DOCTYPE html><html><head><title>Fortunes</title></head><body>"
    "<table><tr><th>id</th><th>message</th></tr>"
)
FORTUNES_TAIL = "</table></body></html>"
_FORTUNE_ROWS = re.compile(r"(?:<tr><td>[^<]*</td><td>[^<]*</td></tr>)*")
_FORTUNE_ROW = re.compile(r"<tr><td>([^<]*)</td><td>([^<]*)</td></tr>")


def check_fortunes(body: bytes) -> str | None:
    """Check the fortunes page: its markup, its escaping, and every fortune in order.

    Whitespace between tags is ignored and entities are compared by what
    they stand for, since engines differ there: Jinja2 writes ``"`` as
    ``&#34;``, Django as ``&quot;``.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return f"body {body[:200]!r} is not UTF-8"
    if "<script>" in text or "&lt;script&gt;" not in text:
        return "the <script> fortune is not escaped as &lt;script&gt;"
    page = re.sub(r">\s+<", "><", text.strip())
    if not page.startswith(FORTUNES_HEAD) or not page.endswith(FORTUNES_TAIL):
        return f"body {body[:200]!r} is not the fortunes page's markup"
    rows = page[len(FORTUNES_HEAD) : -len(FORTUNES_TAIL)]
    if _FORTUNE_ROWS.fullmatch(rows) is None:
        return f"the table holds something besides rows of two cells: {rows[:200]!r}"
    found = [(html.unescape(id_), html.unescape(text)) for id_, text in _FORTUNE_ROW.findall(rows)]
    expected = [(str(id_), message) for id_, message in fortunes_page()]
    if len(found) != len(expected):
        return f"{len(found)} fortunes, expected {len(expected)}"
    for number, (row, wanted) in enumerate(zip(found, expected, strict=True), start=1):
        if row != wanted:
            return f"row {number} is {row}, expected {wanted} (sorted by message)"
    return None


# TechEmpower's database tests, served by one app per framework beside its
# benchmark app, on PostgreSQL, by the frameworks with an ORM of their own or
# a documented one: carboy (carboy.db), FastAPI (SQLAlchemy) and Django.
DB_FRAMEWORKS = ("carboy", "fastapi", "django")
DB_ENDPOINTS = (
    Endpoint(
        "/db", "application/json", body_check=check_world_row, served_by=DB_FRAMEWORKS, app="db"
    ),
    Endpoint(
        "/queries?queries=20",
        "application/json",
        body_check=world_rows_check(20),
        # Not a number: 1 row; out of 1..500: clamped.
        more_checks=(
            ("/queries?queries=foo", world_rows_check(1)),
            ("/queries?queries=0", world_rows_check(1)),
            ("/queries?queries=1000", world_rows_check(500)),
        ),
        served_by=DB_FRAMEWORKS,
        app="db",
    ),
    Endpoint(
        "/fortunes",
        "text/html; charset=utf-8",
        body_check=check_fortunes,
        served_by=DB_FRAMEWORKS,
        app="db",
    ),
)

ENDPOINTS = (
    Endpoint("/plaintext", "text/plain; charset=utf-8", text="Hello, World!"),
    Endpoint("/json", "application/json", json={"message": "Hello, World!"}),
    Endpoint(
        "/users/42/posts/hello-world",
        "application/json",
        json={"id": 42, "slug": "hello-world"},
    ),
    TYPED_ENDPOINT,
    PAGE_ENDPOINT,
    *DB_ENDPOINTS,
)
ENDPOINTS_BY_PATH = {endpoint.path: endpoint for endpoint in ENDPOINTS}


def endpoints_of(key: str, kinds: tuple[AppKind, ...] = APP_KINDS) -> tuple[Endpoint, ...]:
    """Return the endpoints of the apps of ``kinds`` that framework ``key`` serves, in order."""
    return tuple(
        endpoint for endpoint in ENDPOINTS if endpoint.app in kinds and endpoint.is_served_by(key)
    )


def _canonical_json(value: object) -> str:
    """Return ``value`` as JSON text in which 42, 42.0 and "42" all differ."""
    return json.dumps(value, sort_keys=True)


def _request(url: str, method: str, body: str | None) -> tuple[int, Message, bytes]:
    """Send one request and return the status, the headers and the body.

    An error status is returned like any other; only a failed connection raises.

    Raises:
        OSError: The request could not be sent or answered.
    """
    data = None if body is None else body.encode("utf-8")
    headers = {} if body is None else {"Content-Type": BODY_CONTENT_TYPE}
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=CHECK_TIMEOUT) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def check_page(body: bytes, headers: Message, endpoint: Endpoint) -> str | None:
    """Check an HTML page's body and session cookie against ``endpoint``.

    Returns:
        None when they are right, else what is wrong first.
    """
    text = body.decode("utf-8", errors="replace")
    for expected in endpoint.html_contains:
        if expected not in text:
            return f"body {body[:200]!r} lacks {expected!r}"
    if endpoint.html_pattern is not None and re.search(endpoint.html_pattern, text) is None:
        return f"body {body[:200]!r} does not match {endpoint.html_pattern!r}"
    if endpoint.session_cookies:
        names = [cookie.split("=", 1)[0].strip() for cookie in headers.get_all("set-cookie", [])]
        if len(names) != 1 or names[0] not in endpoint.session_cookies:
            wanted = " or ".join(endpoint.session_cookies)
            return f"cookies set: {names}, expected exactly one, named {wanted}"
    return None


def _status_and_type_error(status: int, headers: Message, content_type: str) -> str | None:
    """Tell what is wrong with an answer's status (200 expected) and content type, or None."""
    if status != 200:
        return f"status {status}, expected 200"
    answered = headers.get("content-type", "")
    if not answered.startswith(content_type):
        return f"content-type {answered!r}, expected {content_type!r}"
    return None


def check_answer(url_of: Callable[[str], str], endpoint: Endpoint) -> str | None:
    """Request ``endpoint`` from a server and compare the answer with the expected one.

    An endpoint with an ``invalid_body`` is also sent that body, which must be
    refused with 422, so that a framework that skips validation fails. An
    HTML page is checked for its texts, its pattern and its session cookie,
    since its CSRF token differs on every request. An endpoint with a
    ``body_check`` is judged by it, and its ``more_checks`` are requested too.

    Args:
        url_of: Returns the server's absolute URL of a path, such as ``Server.url``.
        endpoint: The endpoint to request.

    Returns:
        None when the answers are right, else what is wrong with the first wrong one.
    """
    try:
        status, headers, body = _request(url_of(endpoint.path), endpoint.method, endpoint.body)
    except OSError as error:
        return f"request failed: {error}"
    if (wrong := _status_and_type_error(status, headers, endpoint.content_type)) is not None:
        return wrong
    if endpoint.body_check is not None:
        return endpoint.body_check(body) or _check_more(url_of, endpoint)
    if endpoint.html_contains or endpoint.html_pattern is not None:
        return check_page(body, headers, endpoint)
    if endpoint.text is not None:
        expected = endpoint.text.encode("utf-8")
        return None if body == expected else f"body {body[:200]!r}, expected {expected!r}"
    try:
        answer = _canonical_json(json.loads(body))
    except ValueError:
        return f"body {body[:200]!r} is not JSON"
    expected_json = _canonical_json(endpoint.json)
    if answer != expected_json:
        return f"JSON {answer}, expected {expected_json}"
    if endpoint.invalid_body is None:
        return None
    try:
        status, _, _ = _request(url_of(endpoint.path), endpoint.method, endpoint.invalid_body)
    except OSError as error:
        return f"request with an invalid body failed: {error}"
    if status != 422:
        return f"status {status} for the invalid body {endpoint.invalid_body}, expected 422"
    return None


def _check_more(url_of: Callable[[str], str], endpoint: Endpoint) -> str | None:
    """Send ``endpoint``'s ``more_checks``; return what is wrong with the first wrong answer."""
    for path, body_check in endpoint.more_checks:
        try:
            status, headers, body = _request(url_of(path), "GET", None)
        except OSError as error:
            return f"{path}: request failed: {error}"
        wrong = _status_and_type_error(status, headers, endpoint.content_type) or body_check(body)
        if wrong is not None:
            return f"{path}: {wrong}"
    return None


def measure_import(framework: Framework) -> tuple[float, float] | str:
    """Time importing, building and starting ``framework``'s hello app in a fresh interpreter.

    The hello app (``apps/hello/``) is one route answering a dict, the app a
    user writes first. Every app builds itself at import (Django's calls
    ``get_wsgi_application()`` at module level); an ASGI app's lifespan
    startup is timed too, as some frameworks put work off until then.

    Returns:
        The import-and-build time and the import-build-and-start time, in
        milliseconds, or why the run failed.
    """
    command = [
        str(venv_python()),
        "-c",
        _IMPORT_PROBE,
        str(HELLO_DIR),
        framework.module.replace("_app", "_hello"),
        framework.attribute,
        "asgi" if framework.server == "uvicorn" else "wsgi",
    ]
    # Bytecode is written (and read back): pip compiled the peers' modules at
    # install, and an editable carboy must not pay for compiling its own.
    environment = {
        name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"
    }
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=IMPORT_TIMEOUT,
            check=False,
            cwd=APPS_DIR,
            env=environment,
        )
    except subprocess.TimeoutExpired:
        return f"import did not finish within {IMPORT_TIMEOUT:.0f} s"
    if completed.returncode != 0:
        return f"import failed:\n{last_lines(completed.stderr, 6)}"
    build_ms, start_ms = completed.stdout.strip().splitlines()[-1].split()
    return float(build_ms), float(start_ms)
