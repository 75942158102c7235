from __future__ import annotations

import httpx
import pytest

from carboy.middleware.httpsredirect import HTTPSRedirectMiddleware
from carboy.types import Message, Receive, Scope, Send


async def hello_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.accept"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


def client(base_url: str = "http://testserver") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=HTTPSRedirectMiddleware(hello_app))
    return httpx.AsyncClient(transport=transport, base_url=base_url)


async def call(scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await HTTPSRedirectMiddleware(hello_app)(scope, receive, send)
    return sent


@pytest.mark.anyio
async def test_a_plain_http_request_is_redirected_to_https_with_path_and_query() -> None:
    async with client() as http:
        response = await http.get("/articles/1?page=2&sort=new")

    assert response.status_code == 308
    assert response.headers["location"] == "https://testserver/articles/1?page=2&sort=new"
    assert response.headers["content-length"] == "0"
    assert "content-type" not in response.headers
    assert response.content == b""


@pytest.mark.anyio
async def test_a_post_is_redirected_with_308_so_the_method_is_kept() -> None:
    async with client() as http:
        response = await http.post("/login", data={"user": "ada"})

    assert response.status_code == 308
    assert response.headers["location"] == "https://testserver/login"


@pytest.mark.anyio
async def test_a_https_request_reaches_the_app() -> None:
    async with client("https://testserver") as http:
        response = await http.get("/")

    assert response.status_code == 200
    assert response.content == b"hello"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("host", "location"),
    [
        ("example.com", "https://example.com/"),
        ("example.com:80", "https://example.com/"),
        ("example.com:443", "https://example.com/"),
        ("example.com:8080", "https://example.com:8080/"),
        ("EXAMPLE.com", "https://example.com/"),
        ("[::1]:8000", "https://[::1]:8000/"),
        ("[::1]:80", "https://[::1]/"),
    ],
)
async def test_the_port_is_kept_unless_it_is_80_or_443(host: str, location: str) -> None:
    async with client() as http:
        response = await http.get("/", headers={"host": host})

    assert response.status_code == 308
    assert response.headers["location"] == location


@pytest.mark.anyio
async def test_encoded_cr_lf_in_the_path_stays_encoded_in_the_location() -> None:
    async with client() as http:
        response = await http.get("/a%0D%0ASet-Cookie:%20session=stolen")

    assert response.status_code == 308
    assert response.headers["location"] == "https://testserver/a%0D%0ASet-Cookie:%20session=stolen"
    assert "set-cookie" not in response.headers


@pytest.mark.anyio
@pytest.mark.parametrize("raw_path", [b"//evil.com/x", b"/\\evil.com", b"/@evil.com"])
async def test_a_path_that_looks_like_another_host_stays_a_path_on_this_host(
    raw_path: bytes,
) -> None:
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": raw_path.decode(),
        "raw_path": raw_path,
        "query_string": b"",
        "headers": [(b"host", b"example.com")],
    }

    sent = await call(scope)

    assert dict(sent[0]["headers"])[b"location"] == b"https://example.com" + raw_path


@pytest.mark.anyio
async def test_encoded_cr_lf_in_the_query_stays_encoded_in_the_location() -> None:
    async with client() as http:
        response = await http.get("/?next=%0d%0aSet-Cookie:%20a=b")

    assert response.headers["location"] == "https://testserver/?next=%0d%0aSet-Cookie:%20a=b"
    assert "set-cookie" not in response.headers


@pytest.mark.anyio
async def test_raw_control_bytes_space_and_non_ascii_in_raw_path_and_query_are_encoded() -> None:
    scope: Scope = {
        "type": "http",
        "scheme": "http",
        "method": "GET",
        "path": "/a\r\nb c/é#",
        "raw_path": "/a\r\nb c/é#".encode(),
        "query_string": b"x=\r\n\x00 1",
        "headers": [(b"host", b"example.com")],
    }

    sent = await call(scope)

    assert sent[0]["status"] == 308
    assert sent[0]["headers"] == [
        (b"content-length", b"0"),
        (b"location", b"https://example.com/a%0D%0Ab%20c/%C3%A9%23?x=%0D%0A%00%201"),
    ]


@pytest.mark.anyio
async def test_without_raw_path_the_decoded_path_is_percent_encoded() -> None:
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/a\r\nb/100%/é",
        "query_string": b"",
        "headers": [(b"host", b"example.com")],
    }

    sent = await call(scope)

    assert sent[0]["headers"] == [
        (b"content-length", b"0"),
        (b"location", b"https://example.com/a%0D%0Ab/100%25/%C3%A9"),
    ]


@pytest.mark.anyio
async def test_without_a_host_header_the_server_address_is_used() -> None:
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [],
        "server": ("::1", 8000),
    }

    sent = await call(scope)

    assert sent[0]["headers"] == [
        (b"content-length", b"0"),
        (b"location", b"https://[::1]:8000/"),
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "host", ["evil.com\r\nSet-Cookie: a=b", "user@evil.com", "evil.com/path", "", "a b"]
)
async def test_a_malformed_host_gets_400_instead_of_a_redirect(host: str) -> None:
    async with client() as http:
        response = await http.get("/", headers={"host": host})

    assert response.status_code == 400
    assert "location" not in response.headers
    assert "set-cookie" not in response.headers
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == (
        "Bad Request: the Host header is missing, repeated or malformed, so there is no "
        "HTTPS address to redirect to."
    )


@pytest.mark.anyio
async def test_a_unix_socket_server_without_a_host_header_gets_400() -> None:
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [],
        "server": ("/run/app.sock", None),
    }

    sent = await call(scope)

    assert sent[0]["status"] == 400


@pytest.mark.anyio
async def test_a_ws_websocket_is_closed_with_1008() -> None:
    scope: Scope = {
        "type": "websocket",
        "scheme": "ws",
        "path": "/",
        "headers": [(b"host", b"example.com")],
    }

    sent = await call(scope)

    assert sent == [{"type": "websocket.close", "code": 1008}]


@pytest.mark.anyio
async def test_a_wss_websocket_reaches_the_app() -> None:
    scope: Scope = {
        "type": "websocket",
        "scheme": "wss",
        "path": "/",
        "headers": [(b"host", b"example.com")],
    }

    sent = await call(scope)

    assert sent == [{"type": "websocket.accept"}]


@pytest.mark.anyio
async def test_a_lifespan_scope_reaches_the_app() -> None:
    seen: list[Scope] = []

    async def lifespan_app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        pass

    scope: Scope = {"type": "lifespan"}

    await HTTPSRedirectMiddleware(lifespan_app)(scope, receive, send)

    assert seen == [scope]
