from __future__ import annotations

import gzip
import random
import zlib
from collections.abc import Sequence

import httpx
import pytest

from carboy.exceptions import ImproperlyConfigured
from carboy.middleware.gzip import GZipMiddleware
from carboy.types import ASGIApp, Message, Receive, Scope, Send

TEXT = b"carboy compresses this line. " * 40  # 1160 bytes


def app_sending(
    *chunks: bytes,
    status: int = 200,
    headers: Sequence[tuple[bytes, bytes]] = ((b"content-type", b"text/plain"),),
) -> ASGIApp:
    """Build an app that sends ``chunks`` as its body, streamed if there are several."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raw = list(headers)
        if len(chunks) == 1:
            raw.append((b"content-length", str(len(chunks[0])).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        for index, chunk in enumerate(chunks):
            more_body = index < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more_body})

    return app


async def fetch(
    app: ASGIApp,
    accept_encoding: str | None = "gzip",
    method: str = "GET",
    **options: int,
) -> tuple[httpx.Response, bytes]:
    """Request ``/`` through GZipMiddleware; return the response and its body as sent."""
    transport = httpx.ASGITransport(app=GZipMiddleware(app, **options))
    headers = {} if accept_encoding is None else {"accept-encoding": accept_encoding}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        if accept_encoding is None:
            # httpx sends its own Accept-Encoding unless the header is removed.
            client.headers.pop("accept-encoding")
        async with client.stream(method, "/", headers=headers) as response:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
    return response, raw


@pytest.mark.anyio
async def test_a_large_body_is_gzipped_with_exact_length_and_vary() -> None:
    response, raw = await fetch(app_sending(TEXT))

    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-length"] == str(len(raw))
    assert response.headers["content-type"] == "text/plain"
    assert len(raw) < len(TEXT)
    assert gzip.decompress(raw) == TEXT


@pytest.mark.anyio
@pytest.mark.parametrize(
    "accept_encoding",
    ["gzip, deflate, br", "br;q=1.0, gzip;q=0.5", "x-gzip", "*", "identity, *;q=0.1", "GZIP;Q=1"],
)
async def test_gzip_is_used_whenever_the_client_gives_it_a_non_zero_weight(
    accept_encoding: str,
) -> None:
    response, raw = await fetch(app_sending(TEXT), accept_encoding)

    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == TEXT


@pytest.mark.anyio
@pytest.mark.parametrize(
    "accept_encoding",
    [
        "gzip;q=0",
        "gzip; q=0.000",
        "br, gzip;q=0",
        "gzip;q=0, *",
        "*;q=0",
        "identity",
        "deflate, br",
        "",
        "gzip;q=2",
        "gzip;q=0.5.5",
        "gzip;q=nan",
    ],
)
async def test_gzip_is_not_used_when_the_client_refuses_it_yet_vary_is_added(
    accept_encoding: str,
) -> None:
    response, raw = await fetch(app_sending(TEXT), accept_encoding)

    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-length"] == str(len(TEXT))
    assert raw == TEXT


@pytest.mark.anyio
async def test_gzip_is_not_used_without_an_accept_encoding_header() -> None:
    response, raw = await fetch(app_sending(TEXT), accept_encoding=None)

    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"
    assert raw == TEXT


@pytest.mark.anyio
async def test_a_body_under_minimum_size_is_left_alone_without_vary() -> None:
    response, raw = await fetch(app_sending(b"x" * 499))

    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers
    assert response.headers["content-length"] == "499"
    assert raw == b"x" * 499


@pytest.mark.anyio
async def test_a_body_of_exactly_minimum_size_is_compressed() -> None:
    response, raw = await fetch(app_sending(b"x" * 100), minimum_size=100)

    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == b"x" * 100


@pytest.mark.anyio
async def test_a_body_gzip_would_not_shrink_is_sent_as_is_with_vary() -> None:
    noise = random.Random(0).randbytes(1000)

    response, raw = await fetch(app_sending(noise))

    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-length"] == "1000"
    assert raw == noise


@pytest.mark.anyio
async def test_a_response_that_already_has_a_content_encoding_is_left_alone() -> None:
    app = app_sending(
        TEXT, headers=[(b"content-type", b"text/plain"), (b"content-encoding", b"br")]
    )

    response, raw = await fetch(app)

    assert response.headers["content-encoding"] == "br"
    assert "vary" not in response.headers
    assert raw == TEXT


@pytest.mark.anyio
async def test_an_event_stream_is_never_compressed() -> None:
    events = [b"data: one\n\n" * 60, b"data: two\n\n" * 60, b""]
    app = app_sending(*events, headers=[(b"content-type", b"text/event-stream; charset=utf-8")])

    response, raw = await fetch(app)

    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers
    assert raw == b"".join(events)


@pytest.mark.anyio
@pytest.mark.parametrize("status", [204, 304])
async def test_a_bodiless_status_is_left_alone(status: int) -> None:
    response, raw = await fetch(app_sending(b"", status=status), minimum_size=0)

    assert response.status_code == status
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers
    assert raw == b""


@pytest.mark.anyio
async def test_a_partial_content_response_is_left_alone() -> None:
    app = app_sending(TEXT, status=206, headers=[(b"content-range", b"bytes 0-1159/5000")])

    response, raw = await fetch(app)

    assert "content-encoding" not in response.headers
    assert raw == TEXT


@pytest.mark.anyio
async def test_a_head_request_is_left_alone() -> None:
    async def head_app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", b"1160")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    response, raw = await fetch(head_app, method="HEAD", minimum_size=0)

    assert "content-encoding" not in response.headers
    assert response.headers["content-length"] == "1160"
    assert raw == b""


@pytest.mark.anyio
async def test_a_streamed_body_is_gzipped_and_decompresses_to_the_original() -> None:
    chunks = [b"first part. " * 10, b"", b"second part. " * 50, b"last part."]
    app = app_sending(*chunks)

    response, raw = await fetch(app)

    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert "content-length" not in response.headers
    assert gzip.decompress(raw) == b"".join(chunks)


@pytest.mark.anyio
async def test_each_streamed_chunk_can_be_decoded_as_soon_as_it_arrives() -> None:
    chunks = [b"tick 1\n", b"tick 2\n", b"tick 3\n"]
    middleware = GZipMiddleware(app_sending(*chunks))
    scope: Scope = {"type": "http", "method": "GET", "headers": [(b"accept-encoding", b"gzip")]}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(scope, receive, send)

    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    decoded = [decoder.decompress(message["body"]) for message in sent[1:]]
    assert decoded == chunks
    assert [message["more_body"] for message in sent[1:]] == [True, True, False]
    assert decoder.eof


@pytest.mark.anyio
async def test_a_strong_etag_becomes_weak_when_the_body_is_gzipped() -> None:
    headers = [(b"content-type", b"text/plain"), (b"etag", b'"v1"')]

    response, _ = await fetch(app_sending(TEXT, headers=headers))

    assert response.headers["etag"] == 'W/"v1"'


@pytest.mark.anyio
async def test_a_strong_etag_stays_strong_when_the_body_is_not_gzipped() -> None:
    headers = [(b"content-type", b"text/plain"), (b"etag", b'"v1"')]

    response, _ = await fetch(app_sending(TEXT, headers=headers), "identity")

    assert response.headers["etag"] == '"v1"'


@pytest.mark.anyio
async def test_accept_encoding_joins_an_existing_vary_header() -> None:
    headers = [(b"content-type", b"text/plain"), (b"vary", b"Cookie")]

    response, _ = await fetch(app_sending(TEXT, headers=headers))

    assert response.headers.get_list("vary") == ["Cookie, Accept-Encoding"]


@pytest.mark.anyio
async def test_a_non_http_scope_passes_through_untouched() -> None:
    seen: list[tuple[Scope, Receive, Send]] = []

    async def websocket_app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope, receive, send))

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        pass

    scope: Scope = {"type": "websocket", "headers": [(b"accept-encoding", b"gzip")]}

    await GZipMiddleware(websocket_app)(scope, receive, send)

    assert seen == [(scope, receive, send)]


def test_a_negative_minimum_size_is_refused_at_construction() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        GZipMiddleware(app_sending(TEXT), minimum_size=-1)

    assert str(caught.value) == (
        "minimum_size is -1, but a size cannot be negative. Pass 0 to compress every "
        "body, or a size in bytes."
    )


@pytest.mark.parametrize("level", [0, 10])
def test_a_compresslevel_outside_1_to_9_is_refused_at_construction(level: int) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        GZipMiddleware(app_sending(TEXT), compresslevel=level)

    assert str(caught.value) == (
        f"compresslevel is {level}, but zlib levels go from 1 (fastest) to 9 (smallest). "
        "Pass a level in that range; 6 is the usual balance."
    )
