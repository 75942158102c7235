from __future__ import annotations

import httpx
import pytest

from carboy import Carboy
from carboy.config import Settings
from carboy.exceptions import ImproperlyConfigured
from carboy.middleware.headerlimits import HeaderLimitsMiddleware


def limited_app(**limits: int) -> Carboy:
    app = Carboy(settings=Settings(**limits))

    @app.get("/")
    async def home() -> dict[str, bool]:
        return {"ok": True}

    return app


async def get(app: Carboy, headers: list[tuple[str, str]]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get("/", headers=headers)


@pytest.mark.anyio
async def test_headers_within_the_limits_are_served() -> None:
    headers = [(f"x-n{n}", "v" * 100) for n in range(90)]

    response = await get(limited_app(), headers)

    assert response.status_code == 200


@pytest.mark.anyio
async def test_one_header_over_its_size_gets_431_and_the_connection_closes() -> None:
    response = await get(limited_app(), [("x-huge", "a" * 1_000_000)])

    assert response.status_code == 431
    assert response.headers["connection"] == "close"
    assert response.text == (
        "Request Header Fields Too Large: the 'x-huge' header has 1000006 bytes, "
        "and this site accepts at most 8190 in one header."
    )


@pytest.mark.anyio
async def test_too_many_headers_get_431() -> None:
    response = await get(limited_app(), [("x-n", str(n)) for n in range(10_000)])

    assert response.status_code == 431
    # httpx adds host, accept, accept-encoding, connection and user-agent.
    assert response.text == (
        "Request Header Fields Too Large: the request has 10005 header lines, and this "
        "site accepts at most 100."
    )


@pytest.mark.anyio
async def test_headers_too_large_together_get_431() -> None:
    headers = [(f"x-n{n}", "v" * 8000) for n in range(5)]

    response = await get(limited_app(), headers)

    assert response.status_code == 431
    assert response.text.startswith("Request Header Fields Too Large: the headers have ")
    assert response.text.endswith(" bytes in all, and this site accepts at most 32768.")


@pytest.mark.anyio
async def test_the_limits_are_settings() -> None:
    app = limited_app(max_header_count=200, max_header_size=2_000_000, max_headers_total=3_000_000)

    response = await get(app, [("x-huge", "a" * 1_000_000)])

    assert response.status_code == 200


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        HeaderLimitsMiddleware(limited_app(), max_count=0, max_size=1, max_total=1)

    assert str(caught.value) == (
        "max_header_count is 0, so every request would be refused. Set it to a positive number."
    )
