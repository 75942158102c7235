from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from carboy import Carboy, Depends, Request, Router
from carboy.ratelimit import (
    MemoryBackend,
    RateLimited,
    RateLimits,
    Usage,
    by_ip,
    by_user,
    forget_counts,
    hit,
    limit,
    limiter_of,
)
from carboy.ratelimit.rates import parse_rate
from carboy.requests import HTTPConnection
from carboy.testing import TestClient
from tests.ratelimit.conftest import FakeClock

PROBLEM = "application/problem+json"


def limited_app(backend: MemoryBackend) -> Carboy:
    app = Carboy(extensions=[RateLimits(backend)])

    @app.get("/items")
    @limit("2/minute")
    async def items() -> dict[str, str]:
        return {"items": "all"}

    @app.get("/other")
    @limit("2/minute")
    async def other() -> dict[str, str]:
        return {"other": "yes"}

    return app


def rate_headers(response: httpx.Response) -> dict[str, str]:
    return {
        name: value
        for name, value in response.headers.items()
        if name.startswith("ratelimit") or name == "retry-after"
    }


def test_the_request_past_the_limit_gets_429_with_retry_after_and_ratelimit_headers(
    backend: MemoryBackend, clock: FakeClock
) -> None:
    with TestClient(limited_app(backend)) as client:
        first = client.get("/items")
        clock.advance(20)
        second = client.get("/items")
        clock.advance(0.5)
        third = client.get("/items")

    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
    assert rate_headers(first) == {
        "ratelimit-limit": "2",
        "ratelimit-remaining": "1",
        "ratelimit-reset": "60",
        "ratelimit-policy": "2;w=60",
    }
    assert rate_headers(second) == {
        "ratelimit-limit": "2",
        "ratelimit-remaining": "0",
        "ratelimit-reset": "40",
        "ratelimit-policy": "2;w=60",
    }
    assert rate_headers(third) == {
        "retry-after": "40",
        "ratelimit-limit": "2",
        "ratelimit-remaining": "0",
        "ratelimit-reset": "40",
        "ratelimit-policy": "2;w=60",
    }
    assert third.headers["content-type"] == PROBLEM
    assert third.json() == {
        "type": "about:blank",
        "title": "Too Many Requests",
        "status": 429,
        "detail": "Too many requests: the limit here is 2 per minute. Try again in 40 seconds.",
    }


def test_a_browser_gets_the_html_error_page(backend: MemoryBackend) -> None:
    with TestClient(limited_app(backend), headers={"accept": "text/html"}) as client:
        client.get("/items")
        client.get("/items")
        refused = client.get("/items")

    assert refused.status_code == 429
    assert refused.headers["content-type"] == "text/html; charset=utf-8"
    assert refused.headers["retry-after"] == "60"
    assert "<h1>429 Too Many Requests</h1>" in refused.text
    assert (
        "<p>Too many requests: the limit here is 2 per minute. Try again in 60 seconds.</p>"
        in refused.text
    )


def test_the_count_starts_again_when_the_window_ends(
    backend: MemoryBackend, clock: FakeClock
) -> None:
    with TestClient(limited_app(backend)) as client:
        statuses = [client.get("/items").status_code for _ in range(3)]
        clock.advance(60)
        again = client.get("/items")

    assert statuses == [200, 200, 429]
    assert again.status_code == 200
    assert again.headers["ratelimit-remaining"] == "1"


def test_two_routes_count_apart(backend: MemoryBackend) -> None:
    with TestClient(limited_app(backend)) as client:
        items = [client.get("/items").status_code for _ in range(3)]
        other = [client.get("/other").status_code for _ in range(3)]

    assert items == other == [200, 200, 429]


def test_routes_that_name_one_scope_share_its_count(backend: MemoryBackend) -> None:
    app = Carboy(extensions=[RateLimits(backend)])

    @app.get("/a")
    @limit("3/minute", scope="search")
    async def a() -> str:
        return "a"

    @app.get("/b")
    @limit("3/minute", scope="search")
    def b() -> str:
        return "b"

    with TestClient(app) as client:
        statuses = [client.get(path).status_code for path in ("/a", "/b", "/a", "/b")]

    assert statuses == [200, 200, 200, 429]


def test_a_limited_sync_handler(backend: MemoryBackend) -> None:
    app = Carboy(extensions=[RateLimits(backend)])

    @app.post("/sync")
    @limit("1/second")
    def sync_handler() -> dict[str, bool]:
        return {"ran": True}

    with TestClient(app) as client:
        first = client.post("/sync")
        second = client.post("/sync")

    assert (first.status_code, first.json()) == (200, {"ran": True})
    assert second.status_code == 429
    assert second.json()["detail"] == (
        "Too many requests: the limit here is 1 per second. Try again in 1 second."
    )


def test_a_limit_as_a_route_dependency(backend: MemoryBackend) -> None:
    app = Carboy(extensions=[RateLimits(backend)])

    @app.get("/dep", dependencies=[Depends(limit("1/minute"))])
    async def dep() -> str:
        return "ok"

    with TestClient(app) as client:
        statuses = [client.get("/dep").status_code for _ in range(2)]

    assert statuses == [200, 429]


def test_a_router_limit_counts_each_route_apart_unless_scoped(backend: MemoryBackend) -> None:
    each = Router(prefix="/each", name="each", dependencies=[Depends(limit("1/minute"))])
    shared = Router(
        prefix="/shared", name="shared", dependencies=[Depends(limit("1/minute", scope="shared"))]
    )

    @each.get("/one")
    async def each_one() -> str:
        return "one"

    @each.get("/two")
    async def each_two() -> str:
        return "two"

    @shared.get("/one")
    async def shared_one() -> str:
        return "one"

    @shared.get("/two")
    async def shared_two() -> str:
        return "two"

    app = Carboy(extensions=[RateLimits(backend)])
    app.include_router(each)
    app.include_router(shared)

    with TestClient(app) as client:
        each_statuses = [client.get(f"/each/{p}").status_code for p in ("one", "two", "one")]
        shared_statuses = [client.get(f"/shared/{p}").status_code for p in ("one", "two")]

    assert each_statuses == [200, 200, 429]
    assert shared_statuses == [200, 429]


def test_a_router_and_a_route_limit_both_apply_and_the_tightest_is_reported(
    backend: MemoryBackend,
) -> None:
    api = Router(prefix="/api", dependencies=[Depends(limit("10/minute", scope="api"))])

    @api.get("/search")
    @limit("2/10 seconds")
    async def search() -> str:
        return "found"

    app = Carboy(extensions=[RateLimits(backend)])
    app.include_router(api)

    with TestClient(app) as client:
        first = client.get("/api/search")
        client.get("/api/search")
        refused = client.get("/api/search")

    assert rate_headers(first) == {
        "ratelimit-limit": "2",
        "ratelimit-remaining": "1",
        "ratelimit-reset": "10",
        "ratelimit-policy": "2;w=10",
    }
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "10"


def test_two_limits_on_one_handler_count_apart(backend: MemoryBackend, clock: FakeClock) -> None:
    app = Carboy(extensions=[RateLimits(backend)])

    @app.get("/burst")
    @limit("5/minute")
    @limit("2/second")
    async def burst() -> str:
        return "ok"

    with TestClient(app) as client:
        statuses = [client.get("/burst").status_code for _ in range(3)]
        clock.advance(1)
        statuses += [client.get("/burst").status_code for _ in range(3)]

    # The third request of each second is refused by 2/second; the six
    # requests also count against 5/minute, so the last one is refused by both.
    assert statuses == [200, 200, 429, 200, 200, 429]


def test_without_the_battery_limits_still_hold_and_only_429s_carry_headers() -> None:
    app = Carboy()

    @app.get("/plain")
    @limit("1/minute")
    async def plain() -> str:
        return "ok"

    with TestClient(app) as client:
        allowed = client.get("/plain")
        refused = client.get("/plain")

    assert allowed.status_code == 200
    assert rate_headers(allowed) == {}
    assert refused.status_code == 429
    assert rate_headers(refused) == {
        "retry-after": "60",
        "ratelimit-limit": "1",
        "ratelimit-remaining": "0",
        "ratelimit-reset": "60",
        "ratelimit-policy": "1;w=60",
    }


def test_limiter_of_is_the_batterys_limiter(backend: MemoryBackend) -> None:
    extension = RateLimits(backend)
    app = Carboy(extensions=[extension])

    assert limiter_of(app) is extension.limiter
    assert limiter_of(app).backend is backend


def test_limiter_of_an_app_without_the_battery_is_one_in_memory_kept_on_its_state() -> None:
    app = Carboy()

    limiter = limiter_of(app)

    assert isinstance(limiter.backend, MemoryBackend)
    assert limiter_of(app) is limiter
    assert app.state.carboy_ratelimit is limiter
    assert limiter_of(Carboy()) is not limiter


def test_forget_counts_starts_the_batterys_memory_counts_afresh(backend: MemoryBackend) -> None:
    app = limited_app(backend)
    with TestClient(app) as client:
        assert [client.get("/items").status_code for _ in range(3)] == [200, 200, 429]

        forget_counts(app)

        assert len(backend) == 0
        assert [client.get("/items").status_code for _ in range(3)] == [200, 200, 429]


def test_forget_counts_starts_the_default_limiter_afresh_and_makes_none() -> None:
    app = Carboy()

    @app.get("/items")
    @limit("1/minute")
    async def items() -> dict[str, str]:
        return {"items": "all"}

    forget_counts(app)
    assert "carboy_ratelimit" not in app.state

    with TestClient(app) as client:
        assert [client.get("/items").status_code for _ in range(2)] == [200, 429]
        forget_counts(app)
        assert client.get("/items").status_code == 200


def test_forget_counts_leaves_a_battery_with_no_limiter_yet_without_one() -> None:
    extension = RateLimits()
    app = Carboy(extensions=[extension])

    forget_counts(app)

    assert extension._limiter is None


class FakeUser:
    def __init__(self, user_id: int | None, is_authenticated: bool = True) -> None:
        self.id = user_id
        self.is_authenticated = is_authenticated


async def sign_in_from_header(connection: HTTPConnection) -> None:
    # Stands in for the auth battery, which sets scope["user"] the same way.
    user_id = connection.headers.get("x-user")
    connection.scope["user"] = FakeUser(int(user_id)) if user_id else FakeUser(None, False)


def keyed_app(backend: MemoryBackend) -> Carboy:
    app = Carboy(extensions=[RateLimits(backend)], dependencies=[Depends(sign_in_from_header)])

    @app.get("/per-user")
    @limit("1/minute", key=by_user)
    async def per_user() -> str:
        return "ok"

    @app.get("/per-ip")
    @limit("1/minute")
    async def per_ip() -> str:
        return "ok"

    return app


def test_by_user_counts_each_signed_in_user_apart_on_one_address(backend: MemoryBackend) -> None:
    with TestClient(keyed_app(backend)) as client:
        alice = [client.get("/per-user", headers={"x-user": "1"}).status_code for _ in range(2)]
        bob = client.get("/per-user", headers={"x-user": "2"}).status_code
        anonymous = [client.get("/per-user").status_code for _ in range(2)]

    assert alice == [200, 429]
    assert bob == 200
    assert anonymous == [200, 429]
    assert sorted(backend._counters) == [
        "tests.ratelimit.test_limiter.keyed_app.<locals>.per_user:1/60:testclient",
        "tests.ratelimit.test_limiter.keyed_app.<locals>.per_user:1/60:user:1",
        "tests.ratelimit.test_limiter.keyed_app.<locals>.per_user:1/60:user:2",
    ]


def test_by_ip_counts_users_on_one_address_together(backend: MemoryBackend) -> None:
    with TestClient(keyed_app(backend)) as client:
        alice = client.get("/per-ip", headers={"x-user": "1"}).status_code
        bob = client.get("/per-ip", headers={"x-user": "2"}).status_code

    assert (alice, bob) == (200, 429)


def test_by_ip_ignores_x_forwarded_for(backend: MemoryBackend) -> None:
    with TestClient(keyed_app(backend)) as client:
        first = client.get("/per-ip", headers={"x-forwarded-for": "10.0.0.1"})
        second = client.get("/per-ip", headers={"x-forwarded-for": "10.0.0.2"})

    assert (first.status_code, second.status_code) == (200, 429)


@pytest.mark.anyio
async def test_clients_at_different_addresses_count_apart(backend: MemoryBackend) -> None:
    app = limited_app(backend)

    async def from_address(host: str) -> AsyncIterator[int]:
        transport = httpx.ASGITransport(app=app, client=(host, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            for _ in range(3):
                yield (await c.get("/items")).status_code

    async with TestClient(app):
        first = [status async for status in from_address("192.0.2.1")]
        second = [status async for status in from_address("2001:db8::1")]

    assert first == second == [200, 200, 429]


def test_key_functions_may_be_sync_or_async(backend: MemoryBackend) -> None:
    def by_team(connection: HTTPConnection) -> str:
        return connection.headers.get("x-team", "none")

    async def by_team_async(connection: HTTPConnection) -> str:
        return connection.headers.get("x-team", "none")

    app = Carboy(extensions=[RateLimits(backend)])

    @app.get("/sync-key")
    @limit("1/minute", key=by_team)
    async def sync_key() -> str:
        return "ok"

    @app.get("/async-key")
    @limit("1/minute", key=by_team_async)
    async def async_key() -> str:
        return "ok"

    with TestClient(app) as client:
        statuses = [
            client.get(path, headers={"x-team": team}).status_code
            for path in ("/sync-key", "/async-key")
            for team in ("red", "blue", "red")
        ]

    assert statuses == [200, 200, 429, 200, 200, 429]


def test_a_key_function_that_returns_no_string_is_a_programming_error(
    backend: MemoryBackend,
) -> None:
    def broken(connection: HTTPConnection) -> Any:
        return 42

    app = Carboy(extensions=[RateLimits(backend)])

    @app.get("/broken")
    @limit("1/minute", key=broken)
    async def handler() -> str:
        return "ok"

    with TestClient(app) as client, pytest.raises(TypeError) as caught:
        client.get("/broken")

    assert str(caught.value) == (
        "The rate limit key function "
        "test_a_key_function_that_returns_no_string_is_a_programming_error.<locals>.broken "
        "returned int, not str. Return a string, such as the client's address or the user's id."
    )


@pytest.mark.parametrize(
    "hostile",
    [
        "x" * 100_000,
        "🙂" * 50,
        "a b\tc",
        "carboy:ratelimit:*",
        "",
        "\udcff",
        "sha256-" + "0" * 64,
    ],
)
def test_hostile_keys_are_hashed_and_never_break_a_request(
    backend: MemoryBackend, hostile: str
) -> None:
    app = Carboy(extensions=[RateLimits(backend)])

    @app.get("/hostile")
    @limit("1/minute", key=lambda connection: hostile)
    async def handler() -> str:
        return "ok"

    with TestClient(app) as client:
        statuses = [client.get("/hostile").status_code for _ in range(2)]

    assert statuses == [200, 429]
    (stored,) = backend._counters
    key = stored.rpartition(":")[2]
    assert key.startswith("sha256-")
    assert len(key) == len("sha256-") + 64


def login_app(backend: MemoryBackend) -> Carboy:
    app = Carboy(extensions=[RateLimits(backend)])

    @app.post("/login")
    async def login(request: Request) -> dict[str, int]:
        email = request.query_params["email"]
        usage = await hit(request, "auth.login", "2/minute", f"{by_ip(request)}:{email}")
        if request.query_params.get("good"):
            await limiter_of(request.app).reset("auth.login", f"testclient:{email}", "2/minute")
        return {"remaining": usage.remaining}

    return app


def test_hit_counts_in_code_and_raises_rate_limited(backend: MemoryBackend) -> None:
    with TestClient(login_app(backend)) as client:
        responses = [client.post("/login?email=a@example.com") for _ in range(3)]
        other = client.post("/login?email=b@example.com")

    assert [r.status_code for r in responses] == [200, 200, 429]
    assert [r.json() for r in responses[:2]] == [{"remaining": 1}, {"remaining": 0}]
    assert responses[2].json()["detail"] == (
        "Too many requests: the limit here is 2 per minute. Try again in 60 seconds."
    )
    assert rate_headers(responses[1])["ratelimit-remaining"] == "0"
    assert other.status_code == 200


def test_a_limiter_reset_forgets_a_count(backend: MemoryBackend) -> None:
    with TestClient(login_app(backend)) as client:
        client.post("/login?email=a@example.com")
        client.post("/login?email=a@example.com&good=1")
        after = client.post("/login?email=a@example.com")

    assert after.json() == {"remaining": 1}


@pytest.mark.anyio
async def test_hit_returns_the_usage_and_rate_limited_carries_it() -> None:
    app = Carboy()
    scope: dict[str, Any] = {"type": "http", "app": app, "client": ("192.0.2.7", 1)}
    connection = HTTPConnection(scope, _never, _never)

    usage = await hit(connection, "export", "1/hour")
    with pytest.raises(RateLimited) as caught:
        await hit(connection, "export", "1/hour")

    assert (usage.count, usage.limit, usage.window, usage.allowed) == (1, 1, 3600, True)
    assert 3599 < usage.reset_after <= 3600
    assert (caught.value.status_code, caught.value.usage.count) == (429, 2)
    assert caught.value.rate == parse_rate("1/hour")
    assert isinstance(caught.value.usage, Usage)
    assert caught.value.headers == {
        "Retry-After": "3600",
        "RateLimit-Limit": "1",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "3600",
        "RateLimit-Policy": "1;w=3600",
    }


async def _never(*_: Any) -> Any:
    raise AssertionError("not called")


def test_a_limit_says_what_it_is() -> None:
    assert repr(limit("5/minute")) == "limit('5/minute')"
    assert repr(limit("5/minute", scope="api")) == "limit('5/minute', scope='api')"
