from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import pytest

from carboy import Carboy, HTTPException, Request, Response, Router
from carboy.exceptions import ImproperlyConfigured
from carboy.middleware import Middleware
from carboy.responses import JSONResponse, PlainTextResponse
from carboy.testing import TestClient
from carboy.types import ASGIApp, Message, Receive, Scope, Send


def test_hello_world_returns_json() -> None:
    app = Carboy()

    @app.get("/")
    def hello() -> dict[str, str]:
        return {"message": "Hello, World!"}

    response = TestClient(app).get("/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == b'{"message":"Hello, World!"}'


def test_each_method_decorator_registers_its_method() -> None:
    app = Carboy()

    @app.get("/r")
    async def get() -> str:
        return "GET"

    @app.post("/r")
    async def post() -> str:
        return "POST"

    @app.put("/r")
    async def put() -> str:
        return "PUT"

    @app.patch("/r")
    async def patch() -> str:
        return "PATCH"

    @app.delete("/r")
    async def delete() -> str:
        return "DELETE"

    client = TestClient(app)

    assert [client.request(m, "/r").text for m in ("GET", "POST", "PUT", "PATCH", "DELETE")] == [
        "GET",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
    ]


# Sync and async handlers ----------------------------------------------------


def test_sync_handlers_run_in_a_worker_thread() -> None:
    app = Carboy()
    loop_thread: list[int] = []

    @app.get("/sync")
    def sync_handler() -> dict[str, bool]:
        return {"in_loop_thread": threading.get_ident() in loop_thread}

    @app.get("/async")
    async def async_handler() -> dict[str, bool]:
        loop_thread.append(threading.get_ident())
        return {"in_loop_thread": True}

    client = TestClient(app)
    with client:
        client.get("/async")
        response = client.get("/sync")

    assert response.json() == {"in_loop_thread": False}


@pytest.mark.anyio
async def test_a_blocking_sync_handler_does_not_block_the_event_loop() -> None:
    app = Carboy()

    @app.get("/slow")
    def slow() -> str:
        time.sleep(0.3)
        return "slow"

    @app.get("/fast")
    async def fast() -> str:
        return "fast"

    finished: list[str] = []
    async with TestClient(app) as client:

        async def get(path: str) -> None:
            response = await client.get(path)
            finished.append(response.text)

        async with anyio.create_task_group() as group:
            group.start_soon(get, "/slow")
            await anyio.sleep(0.05)
            group.start_soon(get, "/fast")

    assert finished == ["fast", "slow"]


# Lifespan --------------------------------------------------------------------


def test_startup_and_shutdown_hooks_run_around_the_client_session() -> None:
    events: list[str] = []
    app = Carboy()

    @app.on_startup
    def sync_startup() -> None:
        events.append("sync startup")

    @app.on_startup
    async def async_startup() -> None:
        events.append("async startup")

    @app.on_shutdown
    async def shutdown() -> None:
        events.append("shutdown")

    with TestClient(app):
        events.append("serving")

    assert events == ["sync startup", "async startup", "serving", "shutdown"]


def test_lifespan_context_manager_state_is_on_app_state() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Carboy) -> AsyncIterator[dict[str, Any]]:
        events.append("enter")
        yield {"pool": "connected"}
        events.append("exit")

    app = Carboy(lifespan=lifespan)

    @app.get("/")
    async def home(request: Request) -> dict[str, str]:
        return {"pool": request.app.state.pool}

    with TestClient(app) as client:
        body = client.get("/").json()

    assert body == {"pool": "connected"}
    assert events == ["enter", "exit"]


def test_a_failing_startup_is_reported_to_the_server() -> None:
    app = Carboy()

    @app.on_startup
    def broken() -> None:
        raise RuntimeError("cannot reach the database")

    messages: list[Message] = []

    async def run() -> None:
        inbox = [{"type": "lifespan.startup"}]

        async def receive() -> Message:
            return inbox.pop(0)

        async def send(message: Message) -> None:
            messages.append(message)

        with pytest.raises(RuntimeError):
            await app({"type": "lifespan"}, receive, send)

    anyio.run(run)

    assert messages[0]["type"] == "lifespan.startup.failed"
    assert "RuntimeError: cannot reach the database" in messages[0]["message"]


# Registration after startup ---------------------------------------------------


def test_registration_after_startup_is_refused_with_the_reason() -> None:
    app = Carboy()
    router = Router(prefix="/r")
    app.include_router(router)

    with TestClient(app):
        with pytest.raises(ImproperlyConfigured) as route_error:
            app.add_route("/late", lambda: "late")
        with pytest.raises(ImproperlyConfigured) as router_error:
            router.add_route("/late", lambda: "late")
        with pytest.raises(ImproperlyConfigured) as middleware_error:
            app.add_middleware(HeaderMiddleware)

    assert str(route_error.value) == (
        "Cannot add the route '/late': the app has started serving, and its routes, "
        "middleware and hooks were fixed at startup. Register it before the app starts: at "
        "import time, or in an extension's init_app()."
    )
    assert str(router_error.value).startswith("Cannot add the route '/late': the app has")
    assert str(middleware_error.value).startswith(
        "Cannot add the middleware HeaderMiddleware: the app has"
    )


# Exception handlers -----------------------------------------------------------


class PaymentRequired(Exception):
    pass


class CardDeclined(PaymentRequired):
    pass


def test_exception_handlers_by_class_follow_the_class_hierarchy() -> None:
    app = Carboy()

    @app.exception_handler(PaymentRequired)
    async def payment(request: Request, exc: PaymentRequired) -> Response:
        return JSONResponse({"error": type(exc).__name__}, 402)

    @app.get("/pay")
    async def pay() -> str:
        raise CardDeclined()

    response = TestClient(app).get("/pay")

    assert response.status_code == 402
    assert response.json() == {"error": "CardDeclined"}


def test_exception_handlers_by_status_code_catch_http_exceptions_and_404() -> None:
    app = Carboy(
        exception_handlers={404: lambda request, exc: PlainTextResponse("nothing here", 404)}
    )

    @app.get("/gone")
    async def gone() -> str:
        raise HTTPException(404)

    client = TestClient(app)

    assert client.get("/gone").text == "nothing here"
    assert client.get("/never-was").text == "nothing here"


def test_a_custom_handler_keeps_the_headers_http_asks_of_the_status() -> None:
    def reshaped(request: Request, exc: HTTPException) -> Response:
        return JSONResponse({"error": exc.detail}, exc.status_code, {"x-shape": "mine"})

    app = Carboy(exception_handlers={HTTPException: reshaped})

    @app.post("/only-post")
    async def only_post() -> str:
        return "ok"

    @app.get("/busy")
    async def busy() -> str:
        raise HTTPException(503, "Busy.", headers={"Retry-After": "5", "X-Shape": "theirs"})

    client = TestClient(app)
    wrong_method = client.get("/only-post")
    unavailable = client.get("/busy")

    assert (wrong_method.status_code, wrong_method.headers["allow"]) == (405, "OPTIONS, POST")
    assert wrong_method.json() == {
        "error": "The method GET is not allowed here. Allowed: OPTIONS, POST."
    }
    assert (unavailable.status_code, unavailable.headers["retry-after"]) == (503, "5")
    assert unavailable.headers.get_list("x-shape") == ["mine"]


def test_http_exception_headers_and_detail_reach_the_client() -> None:
    app = Carboy()

    @app.get("/limited")
    async def limited() -> str:
        raise HTTPException(429, "Slow down.", headers={"Retry-After": "30"})

    response = TestClient(app).get("/limited")

    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"
    assert response.json() == {
        "type": "about:blank",
        "title": "Too Many Requests",
        "status": 429,
        "detail": "Slow down.",
    }


def test_unhandled_exception_gives_a_plain_500_without_traceback() -> None:
    app = Carboy()

    @app.get("/boom")
    async def boom() -> str:
        raise ValueError("secret internals")

    client = TestClient(app, raise_server_exceptions=False)

    api = client.get("/boom")
    browser = client.get("/boom", headers={"accept": "text/html"})

    assert api.status_code == 500
    assert api.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "The server failed to answer this request. The error has been logged. "
        f"Reference: {api.headers['x-request-id']}",
    }
    assert browser.status_code == 500
    assert browser.headers["content-type"] == "text/html; charset=utf-8"
    assert "secret internals" not in api.text + browser.text
    assert "Traceback" not in api.text + browser.text


def test_unhandled_exception_is_reraised_for_the_server_to_log() -> None:
    app = Carboy()

    @app.get("/boom")
    async def boom() -> str:
        raise ValueError("logged by the server")

    with pytest.raises(ValueError, match="logged by the server"):
        TestClient(app).get("/boom")


def test_debug_mode_shows_the_traceback() -> None:
    from carboy.config import Settings

    app = Carboy(settings=Settings(debug=True))

    @app.get("/boom")
    async def boom() -> str:
        raise ValueError("visible in debug")

    response = TestClient(app, raise_server_exceptions=False).get("/boom")

    assert response.status_code == 500
    assert "Traceback (most recent call last)" in response.text
    assert "ValueError: visible in debug" in response.text


# Extensions -------------------------------------------------------------------


class Greeter:
    name = "greeter"
    requires: Sequence[str] = ()

    def init_app(self, app: Carboy) -> None:
        app.state.greeting = "hello"

        @app.get("/greet")
        async def greet() -> str:
            return "hello from an extension"


class Loud:
    name = "loud"
    requires: Sequence[str] = ("greeter",)

    def init_app(self, app: Carboy) -> None:
        app.state.greeting = app.state.greeting.upper()


def test_extensions_run_init_app_in_order_and_add_routes() -> None:
    app = Carboy(extensions=[Greeter(), Loud()])

    assert app.state.greeting == "HELLO"
    assert list(app.extensions) == ["greeter", "loud"]
    assert TestClient(app).get("/greet").text == "hello from an extension"


def test_an_extension_listed_before_what_it_requires_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        Carboy(extensions=[Loud(), Greeter()])

    assert str(info.value) == (
        "The extension 'loud' requires 'greeter', which is listed after it. Move 'greeter' "
        "before 'loud' in Carboy(extensions=[...])."
    )


def test_an_extension_whose_requirement_is_missing_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        Carboy(extensions=[Loud()])

    assert str(info.value) == (
        "The extension 'loud' requires 'greeter', which is not installed. Add it to "
        "Carboy(extensions=[...]) before 'loud'."
    )


def test_an_extension_listed_twice_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        Carboy(extensions=[Greeter(), Greeter()])

    assert str(info.value) == (
        "The extension 'greeter' is listed twice in Carboy(extensions=[...]). List each "
        "extension once."
    )


def test_an_object_that_is_not_an_extension_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        Carboy(extensions=[object()])  # type: ignore[list-item]

    assert str(info.value).endswith(
        "is not an extension: it lacks name, requires, init_app. An extension has a name, "
        "the names it requires, and init_app(app)."
    )


# ASGI middleware ----------------------------------------------------------------


class HeaderMiddleware:
    def __init__(self, app: ASGIApp, name: str = "x-outer", value: str = "1") -> None:
        self.app = app
        self.name = name.encode()
        self.value = value.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def add_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (self.name, self.value)]
            await send(message)

        await self.app(scope, receive, add_header)


def test_asgi_middleware_wraps_the_app_first_added_outermost() -> None:
    app = Carboy(middleware=[Middleware(HeaderMiddleware, name="x-order", value="first")])
    app.add_middleware(HeaderMiddleware, name="x-order", value="second")

    @app.get("/")
    async def home() -> str:
        return "home"

    response = TestClient(app).get("/")

    # The inner middleware adds its header first; the outer one appends after it.
    assert response.headers.get_list("x-order") == ["second", "first"]


def test_app_state_keeps_values_and_names_missing_ones() -> None:
    app = Carboy()
    app.state.answer = 42

    with pytest.raises(AttributeError) as info:
        _ = app.state.question

    assert app.state.answer == 42
    assert str(info.value) == "The state has no attribute 'question'; set it first."


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARBOY_DEBUG", "true")
    monkeypatch.setenv("CARBOY_ALLOWED_HOSTS", '["example.com"]')
    monkeypatch.setenv("CARBOY_SECRET_KEY", "s3cret")

    app = Carboy()

    assert app.settings.debug is True
    assert app.debug is True
    assert app.settings.allowed_hosts == ["example.com"]
    assert app.settings.secret_key is not None
    assert app.settings.secret_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(app.settings)


# Client disconnects ---------------------------------------------------------------


@pytest.mark.anyio
async def test_a_client_that_disconnects_mid_body_crashes_nothing() -> None:
    app = Carboy()
    reached: list[str] = []

    @app.post("/upload")
    async def upload(request: Request) -> str:
        await request.body()
        reached.append("after body")
        return "never sent"

    messages = [
        {"type": "http.request", "body": b"part", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/upload",
        "raw_path": b"/upload",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "scheme": "http",
        "server": ("testserver", 80),
    }

    await app(scope, receive, send)

    assert reached == []
    assert sent == []


def test_settings_are_read_from_a_dotenv_file_in_the_working_folder(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text('CARBOY_DEBUG=true\nCARBOY_ALLOWED_HOSTS=["a.example"]\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CARBOY_DEBUG", raising=False)
    monkeypatch.delenv("CARBOY_ALLOWED_HOSTS", raising=False)

    app = Carboy()

    assert app.settings.debug is True
    assert app.settings.allowed_hosts == ["a.example"]
