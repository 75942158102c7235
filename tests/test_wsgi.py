from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server
from wsgiref.util import setup_testing_defaults

import httpx
import pytest

from carboy import Carboy, JSONResponse, Request
from carboy.exceptions import ImproperlyConfigured
from carboy.types import Receive, Scope, Send
from carboy.wsgi import WSGIApp, to_wsgi

Answer = tuple[str, list[tuple[str, str]], bytes]


@pytest.fixture
def wsgi_apps() -> Iterator[list[WSGIApp]]:
    """WSGI apps a test made, closed after it: their shutdown runs, their loop stops."""
    made: list[WSGIApp] = []
    yield made
    for wsgi_app in made:
        wsgi_app.close()  # type: ignore[attr-defined]


def call(
    wsgi_app: WSGIApp,
    method: str = "GET",
    path: str = "/",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> Answer:
    """Call ``wsgi_app`` as a WSGI server would, and return its status, headers and body."""
    path, _, query = path.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    setup_testing_defaults(environ)
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(
        status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        started.append((status, response_headers))
        return lambda data: None

    chunks = wsgi_app(environ, start_response)
    try:
        content = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    status, response_headers = started[-1]
    return status, response_headers, content


def make_app() -> Carboy:
    app = Carboy()

    @app.get("/")
    def hello(request: Request) -> JSONResponse:
        return JSONResponse(
            {"token": request.headers.get("x-token"), "query": request.url.query},
            headers={"x-served-by": "carboy"},
        )

    @app.post("/echo")
    async def echo(request: Request) -> tuple[bytes, int, dict[str, str]]:
        return await request.body(), 201, {"x-content-type": request.headers["content-type"]}

    return app


def test_to_wsgi_answers_a_get_from_a_sync_handler_with_its_status_headers_and_body(
    wsgi_apps: list[WSGIApp],
) -> None:
    wsgi_app = to_wsgi(make_app())
    wsgi_apps.append(wsgi_app)

    status, headers, body = call(wsgi_app, "GET", "/?page=2", headers={"x-token": "abc"})

    assert status == "200 OK"
    assert headers == [
        ("x-served-by", "carboy"),
        ("content-length", "32"),
        ("content-type", "application/json"),
        ("x-content-type-options", "nosniff"),
        ("cross-origin-resource-policy", "same-origin"),
    ]
    assert body == b'{"token":"abc","query":"page=2"}'


def test_to_wsgi_passes_a_post_body_and_its_headers_to_the_handler(
    wsgi_apps: list[WSGIApp],
) -> None:
    wsgi_app = to_wsgi(make_app())
    wsgi_apps.append(wsgi_app)

    status, headers, body = call(
        wsgi_app,
        "POST",
        "/echo",
        body=b'{"name": "carboy"}',
        headers={"content-type": "application/json"},
    )

    assert status == "201 Created"
    assert headers == [
        ("x-content-type", "application/json"),
        ("content-length", "18"),
        ("content-type", "application/octet-stream"),
        ("x-content-type-options", "nosniff"),
        ("cross-origin-resource-policy", "same-origin"),
    ]
    assert body == b'{"name": "carboy"}'


def test_to_wsgi_answers_an_unknown_path_with_404(wsgi_apps: list[WSGIApp]) -> None:
    wsgi_app = to_wsgi(make_app())
    wsgi_apps.append(wsgi_app)

    status, _, _ = call(wsgi_app, "GET", "/missing")

    assert status == "404 Not Found"


def test_to_wsgi_runs_startup_once_before_the_first_request_and_not_before(
    wsgi_apps: list[WSGIApp],
) -> None:
    events: list[str] = []
    app = Carboy()
    app.on_startup(lambda: events.append("startup"))

    @app.get("/")
    def events_so_far() -> list[str]:
        return events

    wsgi_app = to_wsgi(app)
    wsgi_apps.append(wsgi_app)
    before = list(events)

    first = call(wsgi_app)
    second = call(wsgi_app)

    assert before == []
    assert first[2] == b'["startup"]'
    assert second[2] == b'["startup"]'


def test_to_wsgi_runs_the_lifespan_on_the_loop_that_serves_requests(
    wsgi_apps: list[WSGIApp],
) -> None:
    import asyncio

    @contextlib.asynccontextmanager
    async def lifespan(app: Carboy) -> AsyncIterator[dict[str, Any]]:
        yield {"loop": asyncio.get_running_loop()}

    app = Carboy(lifespan=lifespan)

    @app.get("/")
    async def same_loop(request: Request) -> dict[str, bool]:
        return {"same": request.app.state.loop is asyncio.get_running_loop()}

    wsgi_app = to_wsgi(app)
    wsgi_apps.append(wsgi_app)

    _, _, body = call(wsgi_app)

    assert body == b'{"same":true}'


def test_to_wsgi_close_runs_the_shutdown(wsgi_apps: list[WSGIApp]) -> None:
    events: list[str] = []
    app = Carboy()
    app.on_shutdown(lambda: events.append("shutdown"))
    wsgi_app = to_wsgi(app)
    call(wsgi_app)

    wsgi_app.close()  # type: ignore[attr-defined]

    assert events == ["shutdown"]


def test_a_failed_startup_fails_the_request_and_the_next_request_tries_again(
    wsgi_apps: list[WSGIApp],
) -> None:
    attempts: list[str] = []
    app = Carboy()

    @app.on_startup
    def connect() -> None:
        attempts.append("connect")
        if len(attempts) == 1:
            raise ConnectionError("The database is not up yet.")

    @app.get("/")
    def attempts_so_far() -> list[str]:
        return attempts

    wsgi_app = to_wsgi(app)
    wsgi_apps.append(wsgi_app)

    with pytest.raises(ConnectionError) as failure:
        call(wsgi_app)
    status, _, body = call(wsgi_app)

    assert str(failure.value) == "The database is not up yet."
    assert status == "200 OK"
    assert body == b'["connect","connect"]'


def test_to_wsgi_serves_an_asgi_app_without_lifespan_support(wsgi_apps: list[WSGIApp]) -> None:
    async def plain(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("Only HTTP is supported.")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain"})

    wsgi_app = to_wsgi(plain)
    wsgi_apps.append(wsgi_app)

    status, _, body = call(wsgi_app)

    assert status == "200 OK"
    assert body == b"plain"


def test_to_wsgi_gives_each_request_a_copy_of_the_lifespan_state(
    wsgi_apps: list[WSGIApp],
) -> None:
    async def stateful(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["greeting"] = "hello"
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = scope["state"]["greeting"].encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    wsgi_app = to_wsgi(stateful)
    wsgi_apps.append(wsgi_app)

    _, _, body = call(wsgi_app)

    assert body == b"hello"


def test_to_wsgi_without_a2wsgi_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "a2wsgi", None)

    with pytest.raises(ImproperlyConfigured) as error:
        to_wsgi(make_app())

    assert str(error.value) == (
        "Serving carboy over WSGI needs the a2wsgi package: pip install 'carboy[wsgi]'."
    )


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_wsgiref_server_serves_the_app_over_http(wsgi_apps: list[WSGIApp]) -> None:
    wsgi_app = to_wsgi(make_app())
    wsgi_apps.append(wsgi_app)
    server = make_server("127.0.0.1", 0, wsgi_app, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.server_port}"

    try:
        got = httpx.get(f"{base_url}/?abc", headers={"x-token": "t"}, timeout=10)
        posted = httpx.post(f"{base_url}/echo", content=b"ping", timeout=10)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

    assert got.status_code == 200
    assert got.headers["x-served-by"] == "carboy"
    assert got.json() == {"token": "t", "query": "abc"}
    assert posted.status_code == 201
    assert posted.content == b"ping"


def test_shutdown_runs_when_the_process_exits(tmp_path: Path) -> None:
    script = tmp_path / "serve_once.py"
    script.write_text(
        textwrap.dedent(
            """
            from wsgiref.util import setup_testing_defaults

            from carboy import Carboy
            from carboy.wsgi import to_wsgi

            app = Carboy()
            app.on_startup(lambda: print("startup", flush=True))
            app.on_shutdown(lambda: print("shutdown", flush=True))

            @app.get("/")
            def hello() -> str:
                return "hello"

            environ = {}
            setup_testing_defaults(environ)
            body = b"".join(to_wsgi(app)(environ, lambda status, headers, exc_info=None: None))
            print(body.decode(), flush=True)
            """
        )
    )

    finished = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=30, check=False
    )

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout == "startup\nhello\nshutdown\n"
    assert finished.stderr == ""
