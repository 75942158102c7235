from __future__ import annotations

from collections.abc import Sequence

import httpx
import pytest

from carboy.exceptions import ImproperlyConfigured
from carboy.middleware.trustedhost import TrustedHostMiddleware
from carboy.types import Message, Receive, Scope, Send

REFUSAL = b"Bad Request: the Host header is not one this site serves."


async def hello_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.accept"})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello"})


async def get(allowed_hosts: Sequence[str], host: str | bytes) -> httpx.Response:
    app = TrustedHostMiddleware(hello_app, allowed_hosts=allowed_hosts)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        raw_host = host if isinstance(host, bytes) else host.encode("latin-1")
        return await client.get("/", headers={b"host": raw_host})


async def call(app: TrustedHostMiddleware, scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["example.com", "example.com:8000", "EXAMPLE.com", "example.com."])
async def test_an_exact_entry_allows_its_host_with_any_port_and_case(host: str) -> None:
    response = await get(["example.com"], host)

    assert response.status_code == 200
    assert response.content == b"hello"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "host",
    ["evil.com", "example.com.evil.com", "evilexample.com", "www.example.com", "example.co"],
)
async def test_an_exact_entry_refuses_every_other_host(host: str) -> None:
    response = await get(["example.com"], host)

    assert response.status_code == 400
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == str(len(REFUSAL))
    assert response.content == REFUSAL


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["api.example.com", "a.b.example.com:443", "API.Example.COM"])
async def test_a_star_dot_entry_allows_subdomains(host: str) -> None:
    response = await get(["*.example.com"], host)

    assert response.status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["example.com", "evilexample.com", "example.com.evil.com"])
async def test_a_star_dot_entry_refuses_the_domain_itself_and_lookalikes(host: str) -> None:
    response = await get(["*.example.com"], host)

    assert response.status_code == 400
    assert response.content == REFUSAL


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["example.com", "www.example.com", "a.b.example.com:8000"])
async def test_a_leading_dot_entry_allows_the_domain_and_its_subdomains(host: str) -> None:
    response = await get([".example.com"], host)

    assert response.status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["evilexample.com", "example.com.evil.com"])
async def test_a_leading_dot_entry_refuses_lookalikes(host: str) -> None:
    response = await get([".example.com"], host)

    assert response.status_code == 400


@pytest.mark.anyio
async def test_a_star_entry_allows_any_well_formed_host() -> None:
    response = await get(["*"], "anything.example.net:1234")

    assert response.status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize("entry", ["[::1]", "::1", "[0:0::1]"])
@pytest.mark.parametrize("host", ["[::1]", "[::1]:8000", "[0:0:0:0:0:0:0:1]:8000"])
async def test_ipv6_literals_match_however_they_are_written(entry: str, host: str) -> None:
    response = await get([entry], host)

    assert response.status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    "host",
    [
        "",
        "example.com\r\nX-Injected: 1",
        "example.com\n",
        "user@example.com",
        "evil.com@example.com",
        "example.com/evil",
        "example.com evil",
        "example.com\\evil",
        "example.com:80:80",
        "example.com:",
        "example.com:http",
        "example.com:99999",
        "[::1",
        "[::1]x",
        "[::g]",
        "[fe80::1%25eth0]",
        "exämple.com".encode(),
        ":8000",
    ],
)
async def test_a_star_entry_still_refuses_malformed_hosts(host: str | bytes) -> None:
    response = await get(["*"], host)

    assert response.status_code == 400
    assert response.content == REFUSAL


@pytest.mark.anyio
async def test_a_request_without_a_host_header_is_refused() -> None:
    app = TrustedHostMiddleware(hello_app, allowed_hosts=["*"])
    scope: Scope = {"type": "http", "method": "GET", "path": "/", "headers": []}

    sent = await call(app, scope)

    assert sent[0]["status"] == 400
    assert sent[1]["body"] == REFUSAL


@pytest.mark.anyio
async def test_a_request_with_two_host_headers_is_refused() -> None:
    app = TrustedHostMiddleware(hello_app, allowed_hosts=["example.com"])
    transport = httpx.ASGITransport(app=app)

    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/", headers=[("host", "example.com"), ("host", "evil.com")])

    assert response.status_code == 400
    assert response.content == REFUSAL


@pytest.mark.anyio
async def test_a_websocket_to_a_refused_host_is_closed_with_1008() -> None:
    app = TrustedHostMiddleware(hello_app, allowed_hosts=["example.com"])
    scope: Scope = {"type": "websocket", "path": "/", "headers": [(b"host", b"evil.com")]}

    sent = await call(app, scope)

    assert sent == [{"type": "websocket.close", "code": 1008}]


@pytest.mark.anyio
async def test_a_websocket_to_an_allowed_host_reaches_the_app() -> None:
    app = TrustedHostMiddleware(hello_app, allowed_hosts=["example.com"])
    scope: Scope = {"type": "websocket", "path": "/", "headers": [(b"host", b"example.com")]}

    sent = await call(app, scope)

    assert sent == [{"type": "websocket.accept"}]


@pytest.mark.anyio
async def test_a_lifespan_scope_passes_through_untouched() -> None:
    seen: list[Scope] = []

    async def lifespan_app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    app = TrustedHostMiddleware(lifespan_app, allowed_hosts=["example.com"])
    scope: Scope = {"type": "lifespan"}

    await call(app, scope)

    assert seen == [scope]


def test_an_empty_allowed_hosts_is_refused_at_construction() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        TrustedHostMiddleware(hello_app, allowed_hosts=[])

    assert str(caught.value) == (
        "allowed_hosts is empty, so every request would be refused. List the hosts this "
        "site serves, such as allowed_hosts=['example.com'], or allowed_hosts=['*'] to "
        "accept any host."
    )


def test_a_string_for_allowed_hosts_is_refused_at_construction() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        TrustedHostMiddleware(hello_app, allowed_hosts="example.com")

    assert str(caught.value) == (
        "allowed_hosts is a string, so each of its characters would be read as a host. "
        "Pass a list: allowed_hosts=['example.com']."
    )


@pytest.mark.parametrize(
    "entry",
    ["example.com:8000", "https://example.com", "example.com/", "*example.com", "a.*.com", ""],
)
def test_an_entry_that_is_not_a_host_is_refused_at_construction(entry: str) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        TrustedHostMiddleware(hello_app, allowed_hosts=[entry])

    assert str(caught.value) == (
        f"allowed_hosts holds {entry!r}, which is not a host or host pattern. An entry is "
        "a name such as 'example.com', '*.example.com' or '.example.com', an address such "
        "as '127.0.0.1' or '[::1]', or '*'; it has no scheme, path or port."
    )
