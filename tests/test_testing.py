from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from carboy import Carboy, PlainTextResponse, Request, Response, WebSocket, WebSocketDisconnect
from carboy.config import Settings
from carboy.csrf import csrf_exempt, csrf_token
from carboy.responses import HTMLResponse
from carboy.testing import TestClient, csrf_token_in
from carboy.types import Receive, Scope, Send


def cookie_app() -> Carboy:
    app = Carboy()

    @app.post("/login")
    async def login() -> Response:
        response = PlainTextResponse("logged in")
        response.set_cookie("session", "abc123")
        return response

    # The cookie mechanics under test, not CSRF: logging out is a POST that
    # carries the cookie, which the CSRF check would otherwise refuse.
    @app.post("/logout")
    @csrf_exempt
    async def logout() -> Response:
        response = PlainTextResponse("logged out")
        response.delete_cookie("session")
        return response

    @app.get("/me")
    async def me(request: Request) -> dict[str, str]:
        return request.cookies

    return app


def lifespan_app(events: list[str]) -> Carboy:
    @contextlib.asynccontextmanager
    async def lifespan(app: Carboy) -> AsyncIterator[dict[str, Any]]:
        events.append("lifespan enter")
        yield {"db": "connected"}
        events.append("lifespan exit")

    app = Carboy(lifespan=lifespan)

    @app.on_startup
    def started() -> None:
        events.append("startup hook")

    @app.on_shutdown
    async def stopped() -> None:
        events.append("shutdown hook")

    @app.get("/db")
    async def db(request: Request) -> str:
        events.append("request")
        return str(request.app.state.db)

    return app


# Cookies, headers, base URL


def test_cookies_set_by_the_app_are_sent_with_later_requests() -> None:
    with TestClient(cookie_app()) as client:
        before = client.get("/me")
        client.post("/login")
        logged_in = client.get("/me")
        client.post("/logout")
        logged_out = client.get("/me")

    assert before.json() == {}
    assert logged_in.json() == {"session": "abc123"}
    assert logged_out.json() == {}


def test_cookies_given_to_the_client_are_sent() -> None:
    with TestClient(cookie_app(), cookies={"theme": "dark"}) as client:
        response = client.get("/me")

    assert response.json() == {"theme": "dark"}


def test_headers_given_to_the_client_are_sent_with_every_request() -> None:
    app = Carboy()

    @app.get("/")
    async def home(request: Request) -> dict[str, str | None]:
        return {"token": request.headers.get("x-token"), "host": request.headers.get("host")}

    with TestClient(app, headers={"X-Token": "t1"}) as client:
        response = client.get("/")

    assert response.json() == {"token": "t1", "host": "testserver"}


def test_root_path_is_passed_to_the_app_with_the_full_path() -> None:
    app = Carboy()

    @app.get("/page")
    async def page(request: Request) -> dict[str, str]:
        return {
            "root_path": request.scope["root_path"],
            "url": str(request.url),
            "base_url": str(request.base_url),
            "url_for": str(request.url_for("page")),
        }

    with TestClient(app, root_path="/api") as client:
        response = client.get("/api/page")

    assert response.json() == {
        "root_path": "/api",
        "url": "http://testserver/api/page",
        "base_url": "http://testserver/api/",
        "url_for": "http://testserver/api/page",
    }


def test_redirects_are_not_followed_unless_asked() -> None:
    app = Carboy()

    @app.get("/old")
    async def old() -> Response:
        from carboy import RedirectResponse

        return RedirectResponse("/new")

    @app.get("/new")
    async def new() -> str:
        return "new"

    with TestClient(app) as client:
        not_followed = client.get("/old")
    with TestClient(app, follow_redirects=True) as client:
        followed = client.get("/old")

    assert not_followed.status_code == 302
    assert followed.status_code == 200
    assert followed.text == "new"


def test_the_app_sees_exactly_the_response_headers_it_sent() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
        await send({"type": "http.response.body", "body": b"body", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    client = TestClient(app)

    response = client.get("/")

    assert response.headers.raw == [(b"x-a", b"1")]
    assert response.content == b"body"


def test_a_body_from_an_iterator_reaches_the_app_chunked_without_content_length() -> None:
    seen: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        seen.append(headers.get(b"content-length"))
        seen.append(headers.get(b"transfer-encoding"))
        while True:
            message = await receive()
            seen.append(message.get("body"))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    client = TestClient(app)

    client.post("/", content=iter([b"ab", b"cd"]))

    assert seen == [None, b"chunked", b"ab", b"cd", b""]


# Lifespan


def test_sync_with_runs_startup_and_shutdown_around_the_requests() -> None:
    events: list[str] = []
    app = lifespan_app(events)

    with TestClient(app) as client:
        response = client.get("/db")
        events.append("before exit")

    assert response.text == "connected"
    assert events == [
        "startup hook",
        "lifespan enter",
        "request",
        "before exit",
        "lifespan exit",
        "shutdown hook",
    ]


@pytest.mark.anyio
async def test_async_with_runs_startup_and_shutdown_and_gives_an_async_client() -> None:
    events: list[str] = []
    app = lifespan_app(events)

    async with TestClient(app) as client:
        response = await client.get("/db")
        events.append("before exit")
        is_async = isinstance(client, httpx.AsyncClient)

    assert is_async
    assert response.text == "connected"
    assert events == [
        "startup hook",
        "lifespan enter",
        "request",
        "before exit",
        "lifespan exit",
        "shutdown hook",
    ]


@pytest.mark.anyio
async def test_async_client_keeps_cookies_between_requests() -> None:
    async with TestClient(cookie_app()) as client:
        await client.post("/login")
        response = await client.get("/me")

    assert response.json() == {"session": "abc123"}


def test_without_with_requests_work_and_no_lifespan_runs() -> None:
    events: list[str] = []
    app = lifespan_app(events)
    client = TestClient(app)

    app.state.db = "set by the test"
    response = client.get("/db")

    assert response.status_code == 200
    assert response.text == "set by the test"
    assert events == ["request"]


def test_a_failing_startup_raises_its_error_from_with() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Carboy) -> AsyncIterator[None]:
        raise ConnectionError("the database is down")
        yield

    app = Carboy(lifespan=lifespan)

    with pytest.raises(ConnectionError) as info, TestClient(app):
        pass

    assert str(info.value) == "the database is down"


@pytest.mark.anyio
async def test_a_failing_startup_raises_its_error_from_async_with() -> None:
    app = Carboy()

    @app.on_startup
    async def fail() -> None:
        raise ConnectionError("the cache is down")

    with pytest.raises(ConnectionError) as info:
        async with TestClient(app):
            pass

    assert str(info.value) == "the cache is down"


def test_a_failing_shutdown_raises_its_error_from_with() -> None:
    app = Carboy()

    @app.on_shutdown
    def fail() -> None:
        raise RuntimeError("could not flush")

    with pytest.raises(RuntimeError) as info, TestClient(app):
        pass

    assert str(info.value) == "could not flush"


def test_an_app_that_ignores_the_lifespan_protocol_still_works_in_with() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"raw"})

    with TestClient(app) as client:
        response = client.get("/")

    assert response.text == "raw"


@pytest.mark.anyio
async def test_an_app_that_ignores_the_lifespan_protocol_still_works_in_async_with() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"raw"})

    async with TestClient(app) as client:
        response = await client.get("/")

    assert response.text == "raw"


# Server errors


def error_app() -> Carboy:
    app = Carboy()

    @app.get("/boom")
    async def boom() -> str:
        raise KeyError("missing")

    return app


def test_raise_server_exceptions_re_raises_the_app_error() -> None:
    with TestClient(error_app()) as client, pytest.raises(KeyError) as info:
        client.get("/boom")

    assert info.value.args == ("missing",)


def test_without_raise_server_exceptions_the_client_gets_the_500() -> None:
    with TestClient(error_app(), raise_server_exceptions=False) as client:
        response = client.get("/boom")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "The server failed to answer this request. The error has been logged. "
        f"Reference: {response.headers['x-request-id']}",
    }


@pytest.mark.anyio
async def test_async_client_without_raise_server_exceptions_gets_the_500() -> None:
    async with TestClient(error_app(), raise_server_exceptions=False) as client:
        response = await client.get("/boom")

    assert response.status_code == 500


# WebSockets


def ws_app() -> Carboy:
    app = Carboy()

    @app.websocket("/ws")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(text.upper())

    @app.websocket("/broken")
    async def broken(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()
        raise KeyError("gone")

    return app


def test_websocket_session_inside_with() -> None:
    with TestClient(ws_app()) as client, client.websocket_connect("/ws") as session:
        session.send_text("hi")
        received = session.receive_text()

    assert received == "HI"


def test_websocket_session_without_with() -> None:
    client = TestClient(ws_app())

    with client.websocket_connect("/ws") as session:
        session.send_text("hi")
        received = session.receive_text()

    assert received == "HI"


def test_websocket_app_error_is_raised_when_the_session_ends() -> None:
    with (
        TestClient(ws_app()) as client,
        pytest.raises(KeyError) as info,
        client.websocket_connect("/broken") as session,
    ):
        session.send_text("go")
        with pytest.raises(WebSocketDisconnect) as closed:
            session.receive_text()

    assert closed.value.code == 1011
    assert info.value.args == ("gone",)


def test_websocket_app_error_is_not_raised_without_raise_server_exceptions() -> None:
    client = TestClient(ws_app(), raise_server_exceptions=False)

    with client.websocket_connect("/broken") as session:
        session.send_text("go")
        with pytest.raises(WebSocketDisconnect) as closed:
            session.receive_text()

    assert closed.value.code == 1011


def test_websocket_receive_outside_with_raises_runtime_error() -> None:
    session = TestClient(ws_app()).websocket_connect("/ws")

    with pytest.raises(RuntimeError) as info:
        session.receive()

    assert str(info.value) == "The WebSocket session is not open: use it in a with block."


def test_an_app_ending_without_closing_gives_1006_to_the_client() -> None:
    app = Carboy()

    @app.websocket("/ws")
    async def rude(websocket: WebSocket) -> None:
        await websocket.accept()

    with (
        TestClient(app) as client,
        client.websocket_connect("/ws") as session,
        pytest.raises(WebSocketDisconnect) as info,
    ):
        session.receive_text()

    assert (info.value.code, info.value.reason) == (
        1006,
        "The app ended without closing the WebSocket.",
    )


def test_an_app_error_before_accept_is_raised_from_connect() -> None:
    app = Carboy()

    @app.websocket("/ws")
    async def broken(websocket: WebSocket) -> None:
        raise KeyError("early")

    with TestClient(app) as client, pytest.raises(KeyError) as info:
        client.websocket_connect("/ws").__enter__()

    assert info.value.args == ("early",)


# csrf_token_in ---------------------------------------------------------------------------------


def test_csrf_token_in_reads_the_token_a_form_page_carries_and_the_post_is_accepted() -> None:
    app = Carboy(settings=Settings(secret_key="testing-csrf-token-in"))  # type: ignore[arg-type]

    @app.get("/form")
    async def form(request: Request) -> HTMLResponse:
        token = csrf_token(request)
        return HTMLResponse(
            '<form method="post"><input name="title">'
            f'<input type="hidden" name="csrf_token" value="{token}"></form>'
        )

    @app.post("/form")
    async def take(request: Request) -> dict[str, str]:
        data = await request.form()
        return {"title": str(data["title"])}

    with TestClient(app) as client:
        page = client.get("/form")
        refused = client.post("/form", data={"title": "no token"})
        accepted = client.post(
            "/form", data={"title": "with token", "csrf_token": csrf_token_in(page.text)}
        )

    assert refused.status_code == 403
    assert accepted.status_code == 200
    assert accepted.json() == {"title": "with token"}


def test_csrf_token_in_says_when_a_page_has_no_token() -> None:
    with pytest.raises(AssertionError) as caught:
        csrf_token_in('<form><input name="csrf_token"><input name="title" value="x"></form>')

    assert str(caught.value) == (
        "The page has no csrf_token field: is it the page of a form, and does the template "
        "draw the form with form.render(), or a hidden input named csrf_token holding "
        "csrf_token()?"
    )
