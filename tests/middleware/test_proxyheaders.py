from __future__ import annotations

from typing import Any

import httpx
import pytest

from carboy import Carboy, Request
from carboy.config import Settings
from carboy.exceptions import ImproperlyConfigured
from carboy.middleware.proxyheaders import ProxyHeadersMiddleware
from carboy.ratelimit import RateLimits, limit

KEY = "k" * 50


def proxied_app(trusted: list[str]) -> Carboy:
    app = Carboy(
        settings=Settings(
            secret_key=KEY, allowed_hosts=["testserver", "shop.example"], trusted_proxies=trusted
        ),
        extensions=[RateLimits()],
    )

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, Any]:
        client = request.client
        return {
            "client": client.host if client else None,
            "scheme": request.url.scheme,
            "url": str(request.url_for("whoami")),
        }

    @app.post("/vote", name="vote")
    @limit("2/minute")
    async def vote() -> dict[str, bool]:
        return {"ok": True}

    return app


async def request(
    app: Carboy, peer: str, headers: dict[str, str], method: str = "GET", path: str = "/whoami"
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(peer, 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.request(method, path, headers=headers)


FORWARDED = {
    "x-forwarded-for": "203.0.113.9",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "shop.example",
}


@pytest.mark.anyio
async def test_forwarded_headers_are_ignored_when_no_proxy_is_trusted() -> None:
    response = await request(proxied_app([]), "127.0.0.1", FORWARDED)

    assert response.status_code == 200
    assert response.json() == {
        "client": "127.0.0.1",
        "scheme": "http",
        "url": "http://testserver/whoami",
    }


@pytest.mark.anyio
async def test_a_trusted_proxys_headers_give_the_client_scheme_and_host() -> None:
    response = await request(proxied_app(["10.0.0.0/8"]), "10.1.2.3", FORWARDED)

    assert response.json() == {
        "client": "203.0.113.9",
        "scheme": "https",
        "url": "https://shop.example/whoami",
    }


@pytest.mark.anyio
async def test_a_peer_outside_the_trusted_proxies_is_not_believed() -> None:
    response = await request(proxied_app(["10.0.0.5"]), "192.0.2.1", FORWARDED)

    assert response.json()["client"] == "192.0.2.1"
    assert response.json()["scheme"] == "http"


@pytest.mark.anyio
async def test_the_client_is_the_nearest_address_that_is_not_a_trusted_proxy() -> None:
    # The client wrote "1.1.1.1" itself; the outer proxy 10.0.0.7 saw
    # 198.51.100.4, and the inner proxy (the peer) saw 10.0.0.7.
    headers = {"x-forwarded-for": "1.1.1.1, 198.51.100.4, 10.0.0.7"}

    response = await request(proxied_app(["10.0.0.0/8"]), "10.0.0.1", headers)

    assert response.json()["client"] == "198.51.100.4"


@pytest.mark.anyio
async def test_trusting_any_peer_still_reads_only_the_address_the_peer_added() -> None:
    headers = {"x-forwarded-for": "1.1.1.1, 198.51.100.4"}

    response = await request(proxied_app(["*"]), "192.0.2.50", headers)

    assert response.json()["client"] == "198.51.100.4"


@pytest.mark.anyio
async def test_a_hop_that_is_not_an_address_stops_the_walk() -> None:
    headers = {"x-forwarded-for": "1.1.1.1, <script>, 198.51.100.4, 10.0.0.7"}

    response = await request(proxied_app(["10.0.0.0/8"]), "10.0.0.1", headers)

    assert response.json()["client"] == "198.51.100.4"


@pytest.mark.anyio
async def test_a_forwarded_host_is_still_checked_against_the_allowed_hosts() -> None:
    headers = {"x-forwarded-host": "evil.example"}

    response = await request(proxied_app(["10.0.0.0/8"]), "10.0.0.1", headers)

    assert response.status_code == 400
    assert response.text == "Bad Request: the Host header is not one this site serves."


@pytest.mark.anyio
async def test_rotating_x_forwarded_for_does_not_escape_a_throttle() -> None:
    app = proxied_app([])

    statuses = [
        (
            await request(app, "127.0.0.1", {"x-forwarded-for": f"198.51.100.{n}"}, "POST", "/vote")
        ).status_code
        for n in range(4)
    ]

    assert statuses == [200, 200, 429, 429]


@pytest.mark.anyio
async def test_behind_a_trusted_proxy_each_client_is_throttled_on_its_own() -> None:
    app = proxied_app(["127.0.0.1"])

    def sent_by(client: str) -> dict[str, str]:
        return {"x-forwarded-for": client}

    statuses = [
        (await request(app, "127.0.0.1", sent_by(client), "POST", "/vote")).status_code
        for client in ["198.51.100.1", "198.51.100.1", "198.51.100.2", "198.51.100.1"]
    ]

    assert statuses == [200, 200, 200, 429]


def test_an_entry_that_is_not_an_address_is_refused_at_startup() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        ProxyHeadersMiddleware(proxied_app([]), trusted_proxies=["proxy.internal"])

    assert str(caught.value) == (
        "trusted_proxies holds 'proxy.internal', which is not an IP address or network. "
        "List addresses such as '10.0.0.5', networks such as '10.0.0.0/8', or '*'."
    )
