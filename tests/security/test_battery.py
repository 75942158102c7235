"""The security battery against served apps: a new project, Conduit, and drHEADer's view.

Each app is served as in production, by ``carboy serve`` in a process of its
own, with debug off, a secret key and the allowed hosts set. The battery
runs against it signed in (an admin's session cookie, or Conduit's API
token), and every row of the database is read before and after: a request a
hole let through shows as a changed row.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from drheader.core import Drheader
from drheader.report import Finding
from pydantic import SecretStr
from sqlalchemy import MetaData, create_engine, make_url, select

from carboy import Carboy
from carboy.config import Settings
from carboy.testing import csrf_token_in
from carboy.types import Receive, Scope, Send
from tests._live import live_server
from tests._services import fresh_database
from tests.security.battery import Battery, Config, config_from, main

WORKTREE = Path(__file__).resolve().parents[2]
SECRET_KEY = "security-battery-" + "0123456789abcdef" * 3
PASSWORD = "a long enough password 123"
ADMIN_EMAIL = "admin@example.com"
CARBOY = ["-c", "import sys; from carboy.cli import main; sys.exit(main())"]
STARTUP_TIMEOUT = 30.0
# Columns that record use by design, at most once a minute, whatever the
# request: an API token's last use.
RECORDS_OF_USE = frozenset({("auth_token", "last_used_at")})

Rows = dict[str, list[tuple[str, ...]]]


@dataclass(frozen=True)
class Served:
    """An app served on loopback, its database, and the credentials of a signed-in user."""

    base_url: str
    database_url: str
    pages: tuple[str, ...]
    cookies: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def _environment(**settings: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("CARBOY_")}
    env.update(
        CARBOY_DEBUG="false",
        CARBOY_SECRET_KEY=SECRET_KEY,
        CARBOY_ALLOWED_HOSTS='["127.0.0.1"]',
        **settings,
    )
    return env


def _carboy(*args: str, cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, *CARBOY, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"carboy {' '.join(args)}\n{done.stdout}\n{done.stderr}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _serving(app_args: list[str], cwd: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    """Run ``carboy serve`` (one worker) and yield its base URL once it answers."""
    port = _free_port()
    command = [sys.executable, *CARBOY, "serve", "--port", str(port), "--workers", "1"]
    command += ["--log-level", "warning", "--no-access-log", *app_args]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                httpx.get(base + "/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, f"carboy serve exited:\n{log.read_text()}"
                assert time.monotonic() < deadline, (
                    f"carboy serve did not answer:\n{log.read_text()}"
                )
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _sync_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def rows(database_url: str) -> Rows:
    """Read every row of every table, as sorted tuples of reprs."""
    engine = create_engine(_sync_url(database_url))
    try:
        with engine.connect() as connection:
            metadata = MetaData()
            metadata.reflect(connection)
            found: Rows = {}
            for name, table in sorted(metadata.tables.items()):
                kept = [
                    column for column in table.columns if (name, column.name) not in RECORDS_OF_USE
                ]
                found[name] = sorted(
                    tuple(repr(value) for value in row) for row in connection.execute(select(*kept))
                )
            return found
    finally:
        engine.dispose()


def changed(before: Rows, after: Rows) -> dict[str, dict[str, list[tuple[str, ...]]]]:
    """Name each table whose rows differ, with the rows that went and came."""
    tables = sorted(set(before) | set(after))
    return {
        name: {
            "gone": [row for row in before.get(name, []) if row not in after.get(name, [])],
            "new": [row for row in after.get(name, []) if row not in before.get(name, [])],
        }
        for name in tables
        if before.get(name) != after.get(name)
    }


# A new project ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def new_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``carboy new mysite``, migrated, with a superuser signed in and one note, served."""
    root = tmp_path_factory.mktemp("security")
    env = _environment(CARBOY_SUPERUSER_PASSWORD=PASSWORD)
    _carboy("new", "mysite", cwd=root, env=env)
    site = root / "mysite"
    _carboy("db", "migrate", cwd=site, env=env)
    _carboy("createsuperuser", "--no-input", "--email", ADMIN_EMAIL, cwd=site, env=env)
    database_url = f"sqlite:///{site / 'db.sqlite3'}"
    with _serving([], site, env, root / "server.log") as base:
        with httpx.Client(base_url=base) as client:
            signed_in = client.post(
                "/auth/login", json={"email": ADMIN_EMAIL, "password": PASSWORD}
            )
            assert signed_in.status_code == 200, signed_in.text
            form = client.get("/admin/mysite_note/add/")
            added = client.post(
                "/admin/mysite_note/add/",
                data={
                    "csrf_token": csrf_token_in(form.text),
                    "title": "A note",
                    "body": "Its body.",
                    "_save": "1",
                },
                headers={"Origin": base},
            )
            assert added.status_code == 303, added.text
            cookies = dict(client.cookies)
        (note,) = rows(database_url)["mysite_note"]
        note_id = note[0]
        pages = (
            "/admin/",
            "/admin/mysite_note/add/",
            f"/admin/mysite_note/{note_id}/",
            "/auth/login",
            "/docs",
        )
        yield Served(base, database_url, pages, cookies=cookies)


def test_the_battery_finds_no_hole_in_a_new_project_and_changes_no_row(
    new_project: Served,
) -> None:
    before = rows(new_project.database_url)

    battery = Battery(
        Config(new_project.base_url, cookies=new_project.cookies, pages=new_project.pages)
    )
    failures = [str(failure) for failure in battery.run()]
    after = rows(new_project.database_url)

    assert (failures, changed(before, after)) == ([], {}), "\n".join(failures)


# drHEADer's opinion of the pages' headers -------------------------------------------------------


def _contradicts_guidance(finding: Finding, url: str) -> bool:
    """Tell the default drHEADer rules that go against current guidance, each in its exact form.

    Any other finding fails the test.
    """
    plain_http = url.startswith("http://")
    if finding.rule == "X-XSS-Protection" and finding.message == "Header not included in response":
        # OWASP's HTTP Headers Cheat Sheet and MDN: browsers removed the XSS
        # filter, which itself opened leaks; send "0" or nothing. A header of
        # any other value still fails.
        return True
    if (
        plain_http
        and finding.rule == "Strict-Transport-Security"
        and finding.message == "Header not included in response"
    ):
        # RFC 6797 7.2: a host MUST NOT send HSTS over plain HTTP, where it
        # is ignored; carboy sends it on HTTPS, and check --deploy asks for it.
        return True
    if plain_http and finding.rule.startswith("Set-Cookie - ") and finding.anomalies == ["Secure"]:
        # RFC 6265bis 5.7: a browser drops a Secure cookie set over plain
        # HTTP, so the session would never stick; carboy marks cookies Secure
        # on HTTPS. A cookie without HttpOnly or SameSite still fails.
        return True
    if (
        finding.rule == "Cache-Control"
        and finding.message == "Value does not match security policy"
        and finding.value == "no-store"
    ):
        # RFC 9111 5.2.2.5: no-store alone forbids every cache, shared or the
        # browser's, to keep the response; max-age=0 only asks to revalidate
        # what may be kept, and adds nothing once nothing is kept.
        return True
    if (
        url.endswith("/docs")
        and finding.rule == "Cache-Control"
        and finding.message == "Header not included in response"
    ):
        # RFC 9111 and the battery's own check: a page that is the same for
        # every visitor, signed in or not, may be cached; every answer that
        # depends on the credentials is no-store, and the battery fails any
        # that is not.
        return True
    if (
        url.endswith("/docs")
        and finding.rule == "Content-Security-Policy - img-src"
        and finding.anomalies == ["data:"]
    ):
        # Swagger UI's stylesheet draws its icons from data: URLs, so the docs
        # page alone allows them as images (never as scripts, styles or
        # frames); an image cannot run code. Every other page fails on data:.
        return True
    # MDN and the W3C Referrer Policy: same-origin sends no referrer to any
    # other origin, stricter than strict-origin-when-cross-origin, which the
    # rule accepts and OWASP's cheat sheet recommends.
    return finding.rule == "Referrer-Policy" and finding.value == "same-origin"


def _analysed(response: httpx.Response) -> list[Finding]:
    headers: dict[str, str | list[str]] = {}
    for name, value in response.headers.multi_items():
        if name == "set-cookie":
            cookies = headers.setdefault(name, [])
            assert isinstance(cookies, list)
            cookies.append(value)
        else:
            previous = headers.get(name)
            headers[name] = value if previous is None else f"{previous}, {value}"
    findings: list[Finding] = Drheader(headers=headers).analyze()
    return findings


def test_drheader_finds_nothing_against_current_guidance_in_the_admin_sign_in_and_docs(
    new_project: Served,
) -> None:
    pages = {
        "/admin/": new_project.cookies,  # signed in
        "/auth/login": {},  # as one who signs in sees it
        "/docs": {},
    }

    found: list[str] = []
    for path, cookies in pages.items():
        url = new_project.base_url + path
        cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
        response = httpx.get(url, headers={"Cookie": cookie} if cookie else {})
        assert response.status_code == 200, (path, response.status_code)
        found.extend(
            f"{path}: {finding.to_dict()}"
            for finding in _analysed(response)
            if not _contradicts_guidance(finding, url)
        )

    assert found == [], "\n".join(found)


# Conduit ----------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def conduit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    """examples/conduit, migrated on a database of its own, with a user's token, served."""
    with _conduit_database(request.param, tmp_path) as database_url:
        env = _environment(CARBOY_DATABASE_URL=database_url)
        app = ["--app", "examples.conduit.app:app"]
        _carboy("db", "migrate", *app, cwd=WORKTREE, env=env)
        with _serving(app, WORKTREE, env, tmp_path / "server.log") as base:
            registered = httpx.post(
                base + "/api/users",
                json={
                    "user": {
                        "username": "probe",
                        "email": "probe@example.com",
                        "password": PASSWORD,
                    }
                },
            )
            assert registered.status_code == 201, registered.text
            token = registered.json()["user"]["token"]
            yield Served(
                base,
                database_url,
                ("/docs", "/openapi.json"),
                headers={"Authorization": f"Token {token}"},
            )


@contextmanager
def _conduit_database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'conduit.sqlite3'}"
        return
    with fresh_database("postgresql", prefix="carboy_security") as url:
        yield url


def test_the_battery_command_finds_no_hole_in_conduit_and_changes_no_row(
    conduit: Served,
) -> None:
    before = rows(conduit.database_url)
    arguments = [conduit.base_url]
    arguments += [part for page in conduit.pages for part in ("--page", page)]
    for name, value in conduit.headers.items():
        arguments += ["--header", f"{name}: {value}"]

    done = subprocess.run(
        [sys.executable, "-m", "tests.security.battery", *arguments],
        cwd=WORKTREE,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    after = rows(conduit.database_url)

    failures = done.stdout.splitlines()
    assert (failures, done.returncode, changed(before, after)) == ([], 0, {}), "\n".join(
        [*failures, done.stderr]
    )


# The battery's own power: a careless app fails each check ----------------------------------------

CARELESS_OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Careless", "version": "1"},
    "paths": {
        "/api/items": {
            "post": {
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"name": {"type": "string"}},
                                "required": ["name"],
                            }
                        }
                    }
                },
                "responses": {"201": {"description": "Made", "content": {"application/json": {}}}},
            }
        },
        "/api/items/{item_id}": {
            "get": {
                "parameters": [
                    {
                        "name": "item_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "responses": {"200": {"description": "Found", "content": {"application/json": {}}}},
            }
        },
    },
}
CARELESS_FORM = (
    b'<!doctype html><form method="post" action="/">'
    b'<input type="hidden" name="csrf_token" value="' + b"ab" * 32 + b'">'
    b'<input type="text" name="title"></form>'
)


async def careless_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Every hole the battery looks for: no headers, HEAD run as POST, no checks of any input."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    method, path = scope["method"], scope["path"]
    status, content_type, content = 404, b"text/plain", b"Not found"
    if path == "/openapi.json":
        status, content_type, content = (
            200,
            b"application/json",
            json.dumps(CARELESS_OPENAPI).encode(),
        )
    elif path == "/" and (method == "POST" or (method == "HEAD" and body)):
        status, content = 303, b""
    elif path == "/":
        status, content_type, content = 200, b"text/html", CARELESS_FORM
    elif path == "/api/items" and method == "POST":
        name = json.loads(body.decode())["name"]
        status, content_type, content = (
            201,
            b"application/json",
            json.dumps({"name": name}).encode(),
        )
    elif path.startswith("/api/items/"):
        item_id = int(path.removeprefix("/api/items/"))
        status, content_type, content = (
            200,
            b"application/json",
            json.dumps({"id": item_id}).encode(),
        )
    headers = [(b"content-type", content_type), (b"content-length", str(len(content)).encode())]
    if status == 303:
        headers.append((b"location", b"/"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else content})


def test_the_battery_reports_each_hole_of_a_careless_app() -> None:
    with live_server(careless_app) as base:
        failures = [str(failure) for failure in Battery(Config(base, pages=("/",))).run()]

    assert {line.split()[1] for line in failures} == {
        "headers",
        "head",
        "origin-null",
        "bad-bytes",
        "header-limits",
    }
    for line in [
        "FAIL headers GET {base}/api/items/1: Server: 'uvicorn' names the software",
        "FAIL headers GET {base}/: HTML without a Content-Security-Policy",
        "FAIL headers GET {base}/: HTML without X-Content-Type-Options: nosniff",
        "FAIL headers GET {base}/: a page with a CSRF token has Cache-Control None, not no-store",
        "FAIL headers GET {base}/api/items/1: JSON without X-Content-Type-Options: nosniff",
        "FAIL head HEAD {base}/: answered 303, and GET answered 200",
        "FAIL head HEAD {base}/api/items: answered 404 (expected 405)",
        "FAIL origin-null POST {base}/: answered 303 to Origin: null with the session's cookies "
        "and the form's CSRF token (expected 403)",
        "FAIL bad-bytes POST {base}/: answered 303 to NUL in the form field 'title' "
        "with the CSRF token (expected a 4xx)",
        "FAIL bad-bytes GET {base}/api/items/%00: answered 500 to NUL in the path parameter "
        "'item_id'",
        "FAIL bad-bytes POST {base}/api/items: answered 201 to \\u0000 in the JSON string name "
        "(expected a 4xx)",
        "FAIL bad-bytes POST {base}/api/items: answered 500 to raw \\xff in the JSON string name",
        "FAIL header-limits GET {base}/api/items/1: answered 200 to a 1 MB header value "
        "(expected 431 or 400)",
        "FAIL header-limits GET {base}/api/items/1: answered 200 to 10,000 headers "
        "(expected 431 or 400)",
        "FAIL header-limits GET {base}/api/items/1: answered 200 to 200 KB of headers "
        "(expected 431 or 400)",
    ]:
        assert line.format(base=base) in failures, "\n".join(failures)


# The checks that the apps above cannot reach, and the command line ------------------------------


def test_a_failing_route_answers_500_and_says_so_before_closing_a_kept_alive_connection() -> None:
    app = Carboy(settings=Settings(secret_key=SecretStr(SECRET_KEY), allowed_hosts=["127.0.0.1"]))

    @app.get("/")
    def home() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/fails")
    def fails() -> dict[str, str]:
        raise RuntimeError("This route fails on purpose, for the security battery.")

    with live_server(app) as base:
        battery = Battery(
            Config(base, error_pages=("/fails",), checks=frozenset({"error-keep-alive"}))
        )
        failures = [str(failure) for failure in battery.run()]

    assert failures == []


def test_the_command_line_reads_cookies_headers_pages_and_checks() -> None:
    config = config_from(
        [
            "http://127.0.0.1:8000",
            "--cookie",
            "session=abc=def",
            "--header",
            "Authorization: Token t:1",
            "--page",
            "/admin/",
            "--page",
            "/auth/login",
            "--error-page",
            "/fails",
            "--check",
            "head",
            "--check",
            "headers",
        ]
    )

    assert config == Config(
        base_url="http://127.0.0.1:8000",
        cookies={"session": "abc=def"},
        headers=(("Authorization", "Token t:1"),),
        pages=("/admin/", "/auth/login"),
        error_pages=("/fails",),
        checks=frozenset({"head", "headers"}),
    )


def test_the_command_exits_2_when_the_app_does_not_answer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = _free_port()

    status = main([f"http://127.0.0.1:{port}"])

    assert status == 2
    assert capsys.readouterr().err.startswith(f"error: http://127.0.0.1:{port} did not answer: ")
