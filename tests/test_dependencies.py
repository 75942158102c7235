"""Dependencies: sync, async and generator; nested, cached, overridden, provided, resolved."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest

from carboy import BackgroundTasks, Carboy, Depends, Header, HTTPException, Query, Request, Router
from carboy.dependencies import on_success
from carboy.exceptions import ImproperlyConfigured
from carboy.requests import HTTPConnection
from carboy.testing import TestClient


def test_sync_and_async_dependencies_provide_values() -> None:
    app = Carboy()
    loop_thread = threading.get_ident()

    def sync_value() -> dict[str, bool]:
        return {"in_loop_thread": threading.get_ident() == loop_thread}

    async def async_value() -> str:
        return "async"

    @app.get("/")
    async def home(
        sync: Annotated[dict[str, bool], Depends(sync_value)],
        value: str = Depends(async_value),
    ) -> dict[str, Any]:
        return {"sync": sync, "async": value}

    with TestClient(app) as client:
        response = client.get("/")

    assert response.json() == {"sync": {"in_loop_thread": False}, "async": "async"}


def test_dependencies_take_their_own_parameters_and_nest() -> None:
    app = Carboy()

    def pagination(
        page: Annotated[int, Query(ge=1)] = 1, size: Annotated[int, Query(le=50)] = 10
    ) -> tuple[int, int]:
        return (page - 1) * size, size

    async def listing(window: Annotated[tuple[int, int], Depends(pagination)]) -> dict[str, int]:
        offset, limit = window
        return {"offset": offset, "limit": limit}

    @app.get("/items")
    async def items(listing: Annotated[dict[str, int], Depends(listing)]) -> dict[str, int]:
        return listing

    client = TestClient(app)

    assert client.get("/items?page=3&size=20").json() == {"offset": 40, "limit": 20}
    assert client.get("/items?page=0&size=99").json()["errors"] == [
        {
            "location": "query.page",
            "message": "Input should be greater than or equal to 1",
            "type": "greater_than_equal",
        },
        {
            "location": "query.size",
            "message": "Input should be less than or equal to 50",
            "type": "less_than_equal",
        },
    ]


def test_a_dependency_runs_once_per_request_unless_told_otherwise() -> None:
    app = Carboy()
    calls: list[str] = []

    async def counter() -> int:
        calls.append("call")
        return len(calls)

    async def first(value: Annotated[int, Depends(counter)]) -> int:
        return value

    async def second(value: Annotated[int, Depends(counter)]) -> int:
        return value

    @app.get("/cached")
    async def cached(
        a: Annotated[int, Depends(first)], b: Annotated[int, Depends(second)]
    ) -> list[int]:
        return [a, b]

    @app.get("/uncached")
    async def uncached(
        a: Annotated[int, Depends(counter, use_cache=False)],
        b: Annotated[int, Depends(counter, use_cache=False)],
    ) -> list[int]:
        return [a, b]

    client = TestClient(app)

    assert client.get("/cached").json() == [1, 1]
    assert client.get("/cached").json() == [2, 2]
    assert client.get("/uncached").json() == [3, 4]


def test_a_class_is_a_dependency_of_its_own_annotation() -> None:
    app = Carboy()

    class Paging:
        def __init__(self, page: int = 1) -> None:
            self.page = page

    @app.get("/")
    async def home(paging: Annotated[Paging, Depends()]) -> dict[str, int]:
        return {"page": paging.page}

    assert TestClient(app).get("/?page=4").json() == {"page": 4}


def test_a_dependency_may_end_the_request_with_an_http_error() -> None:
    app = Carboy()

    async def require_token(x_token: Annotated[str | None, Header()] = None) -> str:
        if x_token != "secret":
            raise HTTPException(401, "A valid X-Token header is required.")
        return x_token

    @app.get("/private")
    async def private(token: Annotated[str, Depends(require_token)]) -> str:
        return "ok"

    client = TestClient(app)

    assert client.get("/private", headers={"x-token": "secret"}).text == "ok"
    refused = client.get("/private")
    assert refused.status_code == 401
    assert refused.json()["detail"] == "A valid X-Token header is required."


# Generators and cleanup ---------------------------------------------------------------


def test_generator_cleanup_runs_after_the_response_on_success() -> None:
    app = Carboy()
    events: list[str] = []

    async def session() -> AsyncIterator[str]:
        events.append("open")
        try:
            yield "session"
        except Exception as exc:
            events.append(f"rollback {type(exc).__name__}")
            raise
        else:
            events.append("commit")
        finally:
            events.append("close")

    def sync_resource() -> Iterator[str]:
        events.append("acquire")
        yield "resource"
        events.append("release")

    @app.get("/ok")
    async def ok(
        db: Annotated[str, Depends(session)], res: Annotated[str, Depends(sync_resource)]
    ) -> str:
        events.append("handler")
        return f"{db} {res}"

    @app.middleware
    async def record(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        events.append("response built")
        return response

    response = TestClient(app).get("/ok")

    assert response.text == "session resource"
    assert events == [
        "open",
        "acquire",
        "handler",
        "response built",
        "release",
        "commit",
        "close",
    ]


def test_generator_cleanup_sees_the_handlers_error_and_runs_before_the_error_response() -> None:
    app = Carboy()
    events: list[str] = []

    async def session() -> AsyncIterator[str]:
        events.append("open")
        try:
            yield "session"
        except HTTPException as exc:
            events.append(f"rollback {exc.status_code}")
            raise
        finally:
            events.append("close")

    @app.get("/fail")
    async def fail(db: Annotated[str, Depends(session)]) -> str:
        raise HTTPException(409, "Conflict with the current state.")

    response = TestClient(app).get("/fail")

    assert response.status_code == 409
    assert events == ["open", "rollback 409", "close"]


def test_generator_cleanup_runs_when_the_handler_crashes() -> None:
    app = Carboy()
    events: list[str] = []

    def resource() -> Iterator[str]:
        try:
            yield "r"
        finally:
            events.append("released")

    @app.get("/crash")
    async def crash(res: Annotated[str, Depends(resource)]) -> str:
        raise RuntimeError("boom")

    response = TestClient(app, raise_server_exceptions=False).get("/crash")

    assert response.status_code == 500
    assert events == ["released"]


def test_background_tasks_run_after_the_response() -> None:
    app = Carboy()
    events: list[str] = []

    def send_mail(to: str, *, subject: str) -> None:
        events.append(f"mail to {to}: {subject}")

    async def audit(what: str) -> None:
        events.append(f"audit {what}")

    @app.post("/signup")
    async def signup(tasks: BackgroundTasks) -> dict[str, str]:
        tasks.add_task(send_mail, "ada@example.com", subject="Welcome")
        tasks.add_task(audit, "signup")
        events.append("handler")
        return {"status": "ok"}

    response = TestClient(app).post("/signup")

    assert response.json() == {"status": "ok"}
    assert events == ["handler", "mail to ada@example.com: Welcome", "audit signup"]


# App and router level ------------------------------------------------------------------


def test_app_router_and_route_dependencies_run_before_the_handler_in_that_order() -> None:
    events: list[str] = []

    def mark(name: str) -> Any:
        async def dependency() -> None:
            events.append(name)

        dependency.__name__ = f"mark_{name}"
        return dependency

    app = Carboy(dependencies=[Depends(mark("app"))])
    api = Router(prefix="/api", dependencies=[Depends(mark("router"))])

    @api.get("/x", dependencies=[Depends(mark("route"))])
    async def x() -> str:
        events.append("handler")
        return "x"

    app.include_router(api)

    TestClient(app).get("/api/x")

    assert events == ["app", "router", "route", "handler"]


# Overrides, providers, resolve ------------------------------------------------------------


async def real_database() -> str:
    return "production"


def test_dependency_overrides_replace_a_dependency_in_tests() -> None:
    app = Carboy()

    @app.get("/")
    async def home(db: Annotated[str, Depends(real_database)]) -> str:
        return db

    def fake_database(name: str = "fake") -> str:
        return name

    with TestClient(app) as client:
        before = client.get("/").text
        app.dependency_overrides[real_database] = fake_database
        during = client.get("/?name=test").text
        app.dependency_overrides.clear()
        after = client.get("/").text

    assert [before, during, after] == ["production", "test", "production"]


class Session:
    def __init__(self, label: str) -> None:
        self.label = label
        self.closed = False


def test_a_provided_type_is_filled_by_annotation_alone() -> None:
    app = Carboy()
    sessions: list[Session] = []

    async def get_session(request: Request) -> AsyncIterator[Session]:
        session = Session(request.url.path)
        sessions.append(session)
        yield session
        session.closed = True

    app.provide(Session, get_session)

    @app.get("/where")
    async def where(session: Session) -> str:
        return session.label

    response = TestClient(app).get("/where")

    assert response.text == "/where"
    assert sessions[0].closed is True


@pytest.mark.anyio
async def test_resolve_runs_a_dependency_outside_a_request() -> None:
    app = Carboy()
    events: list[str] = []

    async def settings_value() -> str:
        return "dsn"

    async def get_session(dsn: Annotated[str, Depends(settings_value)]) -> AsyncIterator[Session]:
        events.append("open")
        yield Session(dsn)
        events.append("close")

    async with app.resolve(get_session) as session:
        events.append(f"using {session.label}")

    assert events == ["open", "using dsn", "close"]


@pytest.mark.anyio
async def test_resolve_refuses_a_dependency_that_needs_a_request() -> None:
    app = Carboy()

    async def needs_query(page: int = 1) -> int:
        return page

    with pytest.raises(ImproperlyConfigured) as info:
        async with app.resolve(needs_query):
            pass

    assert str(info.value) == (
        "test_resolve_refuses_a_dependency_that_needs_a_request.<locals>.needs_query needs a "
        "request (its parameters, body or the request itself), so it cannot be resolved outside "
        "one. Give it only dependencies and provided types, or resolve it inside a handler."
    )


def test_depends_without_a_callable_needs_a_class_annotation() -> None:
    app = Carboy()

    @app.get("/")
    async def home(value: Annotated[Any, Depends()]) -> None:
        return None

    with pytest.raises(ImproperlyConfigured) as info:
        app.url_path_for("home")

    assert str(info.value) == (
        "Depends() without a function needs a callable annotation, such as a class; got "
        "typing.Any. Pass the function: Depends(get_value)."
    )


def _unit_of_work(log: list[str]) -> Any:
    async def unit(connection: HTTPConnection) -> AsyncIterator[str]:
        async def commit() -> None:
            log.append("commit")
            if connection.scope.get("type") == "http" and "fail" in connection.url.query:
                raise RuntimeError("the commit failed")

        on_success(connection, commit)
        try:
            yield "unit"
        except Exception as exc:
            log.append(f"rollback: {exc}")
            raise
        finally:
            log.append("closed")

    return unit


def test_on_success_runs_after_the_handler_and_before_the_response() -> None:
    log: list[str] = []
    app = Carboy()
    unit = _unit_of_work(log)

    @app.get("/")
    async def home(work: Annotated[str, Depends(unit)]) -> str:
        log.append("handler")
        return work

    async def record_send(scope: Any, receive: Any, send: Any) -> None:
        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                log.append("response")
            await send(message)

        await app_stack(scope, receive, sending)

    with TestClient(app) as client:
        app_stack = app._stack
        app._stack = record_send  # type: ignore[assignment]
        assert client.get("/").text == "unit"
    assert log == ["handler", "commit", "response", "closed"]


def test_a_failing_on_success_callback_fails_the_request() -> None:
    log: list[str] = []
    app = Carboy()
    unit = _unit_of_work(log)

    @app.get("/")
    async def home(work: Annotated[str, Depends(unit)]) -> str:
        return work

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/?fail")
    assert response.status_code == 500
    assert log == ["commit", "rollback: the commit failed", "closed"]


def test_on_success_callbacks_do_not_run_when_the_handler_raises() -> None:
    log: list[str] = []
    app = Carboy()
    unit = _unit_of_work(log)

    @app.get("/")
    async def home(work: Annotated[str, Depends(unit)]) -> str:
        raise HTTPException(400, "no")

    with TestClient(app) as client:
        assert client.get("/").status_code == 400
    assert log == ["rollback: 400: no", "closed"]


@pytest.mark.anyio
async def test_resolve_runs_on_success_callbacks_when_the_block_ends() -> None:
    log: list[str] = []
    app = Carboy()
    unit = _unit_of_work(log)
    async with app.resolve(unit) as value:
        assert value == "unit"
        assert log == []
    assert log == ["commit", "closed"]
    log.clear()
    with pytest.raises(ValueError, match="inside"):
        async with app.resolve(unit):
            raise ValueError("inside")
    assert log == ["rollback: inside", "closed"]
