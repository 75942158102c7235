from __future__ import annotations

import httpx
import pytest

from carboy import Carboy
from carboy.exceptions import ImproperlyConfigured
from carboy.middleware import Middleware
from carboy.ratelimit import MemoryBackend, RateLimitMiddleware, RateLimits, limit
from carboy.testing import TestClient
from carboy.types import Receive, Scope, Send
from carboy.websockets import WebSocket
from tests.ratelimit.conftest import FakeClock


def site(backend: MemoryBackend, *, battery: bool = False, **options: object) -> Carboy:
    app = Carboy(
        extensions=[RateLimits(backend)] if battery else [],
        middleware=[Middleware(RateLimitMiddleware, backend=backend, **options)],
    )

    @app.get("/")
    async def home() -> str:
        return "home"

    @app.get("/about")
    def about() -> str:
        return "about"

    @app.get("/health")
    async def health() -> str:
        return "ok"

    @app.get("/healthy")
    async def healthy() -> str:
        return "ok"

    @app.get("/health/db")
    async def health_db() -> str:
        return "ok"

    @app.get("/search")
    @limit("1/minute")
    async def search() -> str:
        return "found"

    return app


def rate_headers(response: httpx.Response) -> dict[str, str]:
    return {
        name: value
        for name, value in response.headers.items()
        if name.startswith("ratelimit") or name == "retry-after"
    }


def test_every_route_shares_the_whole_app_limit(backend: MemoryBackend, clock: FakeClock) -> None:
    with TestClient(site(backend, rate="3/minute")) as client:
        home = client.get("/")
        clock.advance(30)
        about = client.get("/about")
        missing = client.get("/nothing-here")
        refused = client.get("/")

    assert [r.status_code for r in (home, about, missing, refused)] == [200, 200, 404, 429]
    assert rate_headers(home) == {
        "ratelimit-limit": "3",
        "ratelimit-remaining": "2",
        "ratelimit-reset": "60",
        "ratelimit-policy": "3;w=60",
    }
    assert rate_headers(missing)["ratelimit-remaining"] == "0"
    assert rate_headers(refused) == {
        "retry-after": "30",
        "ratelimit-limit": "3",
        "ratelimit-remaining": "0",
        "ratelimit-reset": "30",
        "ratelimit-policy": "3;w=60",
    }
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json() == {
        "type": "about:blank",
        "title": "Too Many Requests",
        "status": 429,
        "detail": "Too many requests: the limit here is 3 per minute. Try again in 30 seconds.",
    }


def test_a_browser_gets_the_html_error_page(backend: MemoryBackend) -> None:
    with TestClient(site(backend, rate="1/minute"), headers={"accept": "text/html"}) as client:
        client.get("/")
        refused = client.get("/")

    assert refused.status_code == 429
    assert refused.headers["content-type"] == "text/html; charset=utf-8"
    assert refused.headers["retry-after"] == "60"
    assert "<h1>429 Too Many Requests</h1>" in refused.text


def test_exempt_paths_and_what_lies_below_them_are_not_counted(backend: MemoryBackend) -> None:
    app = site(backend, rate="1/minute", exempt_paths=["/health/"])

    with TestClient(app) as client:
        exempt = [client.get(path) for path in ("/health", "/health/db", "/health", "/health/db")]
        counted = [client.get("/healthy").status_code, client.get("/").status_code]

    assert [r.status_code for r in exempt] == [200, 200, 200, 200]
    assert all(rate_headers(r) == {} for r in exempt)
    assert counted == [200, 429]


def test_an_exempt_path_must_start_with_a_slash() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        RateLimitMiddleware(lambda *a: None, "1/minute", exempt_paths=["health"])  # type: ignore[arg-type]

    assert str(caught.value) == (
        "The exempt path 'health' of RateLimitMiddleware does not start with '/'. Give paths "
        "as the app sees them, such as '/health'."
    )


def test_a_route_limit_under_the_middleware_reports_the_tightest_once(
    backend: MemoryBackend,
) -> None:
    with TestClient(site(backend, battery=True, rate="10/minute")) as client:
        found = client.get("/search")
        refused = client.get("/search")
        home = client.get("/")

    assert found.headers.get_list("ratelimit-limit") == ["1"]
    assert rate_headers(found) == {
        "ratelimit-limit": "1",
        "ratelimit-remaining": "0",
        "ratelimit-reset": "60",
        "ratelimit-policy": "1;w=60",
    }
    assert refused.status_code == 429
    assert refused.headers.get_list("ratelimit-remaining") == ["0"]
    assert refused.headers["retry-after"] == "60"
    assert rate_headers(home)["ratelimit-remaining"] == "7"


def test_without_the_battery_the_middleware_adds_the_headers_itself(
    backend: MemoryBackend,
) -> None:
    with TestClient(site(backend, rate="10/minute")) as client:
        found = client.get("/search")

    assert found.headers.get_list("ratelimit-limit") == ["1"]
    assert found.headers["ratelimit-remaining"] == "0"


def test_the_middleware_uses_the_apps_limiter_when_given_no_backend(
    backend: MemoryBackend,
) -> None:
    app = Carboy(
        extensions=[RateLimits(backend)],
        middleware=[Middleware(RateLimitMiddleware, rate="1/minute", scope="site")],
    )

    @app.get("/")
    async def home() -> str:
        return "home"

    with TestClient(app) as client:
        statuses = [client.get("/").status_code for _ in range(2)]

    assert statuses == [200, 429]
    assert list(backend._counters) == ["site:1/60:testclient"]


def test_the_middleware_limits_any_asgi_app() -> None:
    async def plain(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = RateLimitMiddleware(plain, "1/minute")

    with TestClient(app) as client:
        allowed = client.get("/")
        refused = client.get("/")

    assert allowed.status_code == 204
    assert allowed.headers["ratelimit-remaining"] == "0"
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"


def test_websockets_pass_unlimited(backend: MemoryBackend) -> None:
    app = site(backend, rate="1/minute")

    @app.websocket("/ws")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hi")
        await websocket.close()

    with TestClient(app) as client:
        for _ in range(3):
            with client.websocket_connect("/ws") as ws:
                assert ws.receive_text() == "hi"
