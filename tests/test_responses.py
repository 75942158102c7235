from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import anyio
import pydantic
import pytest

from carboy import (
    URL,
    Carboy,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Request,
    Response,
    StreamingResponse,
)
from carboy.responses import dump_json, to_response
from carboy.testing import TestClient
from carboy.types import Message


async def never_disconnects() -> Message:
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


async def sent_by(response: Response, method: str = "GET", scheme: str = "http") -> list[Message]:
    """Send ``response`` as to a server; return the ASGI messages, in order."""
    messages: list[Message] = []

    async def send(message: Message) -> None:
        messages.append(message)

    scope = {"type": "http", "method": method, "scheme": scheme, "headers": []}
    await response(scope, never_disconnects, send)
    return messages


async def headers_of(response: Response, method: str = "GET", scheme: str = "http") -> Any:
    messages = await sent_by(response, method, scheme)
    return messages[0]["headers"]


async def body_of(response: Response, method: str = "GET") -> bytes:
    messages = await sent_by(response, method)
    return b"".join(message.get("body", b"") for message in messages[1:])


class Pet(pydantic.BaseModel):
    name: str
    born: date


@dataclasses.dataclass
class Point:
    x: int
    y: int


# Response classes


@pytest.mark.anyio
async def test_response_sends_status_headers_and_body() -> None:
    response = Response(b"%PDF-1.7", 201, {"X-Id": "7"}, media_type="application/pdf")

    messages = await sent_by(response)

    assert messages == [
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [
                (b"x-id", b"7"),
                (b"content-length", b"8"),
                (b"content-type", b"application/pdf"),
            ],
        },
        {"type": "http.response.body", "body": b"%PDF-1.7"},
    ]


@pytest.mark.anyio
async def test_response_without_media_type_has_no_content_type() -> None:
    response = Response(b"raw")

    assert await headers_of(response) == [(b"content-length", b"3")]


@pytest.mark.anyio
async def test_response_keeps_a_content_type_given_in_headers() -> None:
    response = PlainTextResponse("a,b", headers={"Content-Type": "text/csv"})

    assert await headers_of(response) == [
        (b"content-type", b"text/csv"),
        (b"content-length", b"3"),
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("status", [204, 304, 101])
async def test_response_without_body_status_has_no_content_length(status: int) -> None:
    response = Response(None, status)

    assert await headers_of(response) == []


@pytest.mark.anyio
async def test_plain_text_response_is_utf8_text() -> None:
    response = PlainTextResponse("héllo")

    messages = await sent_by(response)

    assert messages[0]["headers"] == [
        (b"content-length", b"6"),
        (b"content-type", b"text/plain; charset=utf-8"),
    ]
    assert messages[1]["body"] == "héllo".encode()


@pytest.mark.anyio
async def test_html_response_is_utf8_html() -> None:
    response = HTMLResponse("<h1>Hi</h1>", 404)

    messages = await sent_by(response)

    assert messages[0]["status"] == 404
    assert messages[0]["headers"] == [
        (b"content-length", b"11"),
        (b"content-type", b"text/html; charset=utf-8"),
    ]
    assert messages[1]["body"] == b"<h1>Hi</h1>"


def test_response_headers_can_be_changed_after_creation() -> None:
    response = PlainTextResponse("ok")

    response.headers["Cache-Control"] = "no-store"
    response.headers.append("Link", "</a>; rel=preload")

    assert response.raw_headers == [
        (b"content-length", b"2"),
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"cache-control", b"no-store"),
        (b"link", b"</a>; rel=preload"),
    ]


def test_response_with_cr_lf_in_a_header_value_raises_value_error() -> None:
    with pytest.raises(ValueError) as info:
        Response("ok", headers={"X-Next": "/a\r\nSet-Cookie: admin=1"})

    assert str(info.value) == (
        "The header 'X-Next' holds a CR, LF or NUL character, which would let it split the "
        "response. Remove them, or percent-encode the value."
    )


def test_setting_a_header_with_lf_raises_value_error() -> None:
    response = Response("ok")

    with pytest.raises(ValueError) as info:
        response.headers["Location"] = "/a\nb"

    assert str(info.value) == (
        "The header 'Location' holds a CR, LF or NUL character, which would let it split the "
        "response. Remove them, or percent-encode the value."
    )


@pytest.mark.anyio
async def test_head_request_gets_the_headers_without_the_body() -> None:
    response = PlainTextResponse("hello")

    messages = await sent_by(response, method="HEAD")

    assert messages[0]["headers"] == [
        (b"content-length", b"5"),
        (b"content-type", b"text/plain; charset=utf-8"),
    ]
    assert messages[1] == {"type": "http.response.body", "body": b""}


def test_response_repr_names_the_class_and_status() -> None:
    assert repr(JSONResponse({}, 201)) == "<JSONResponse 201>"


# JSON


@pytest.mark.anyio
async def test_json_response_is_compact_utf8_json() -> None:
    response = JSONResponse({"name": "Zoë", "tags": ["a", "b"], "n": None, "ok": True})

    messages = await sent_by(response)

    assert messages[0]["headers"] == [
        (b"content-length", b"51"),
        (b"content-type", b"application/json"),
    ]
    assert messages[1]["body"] == '{"name":"Zoë","tags":["a","b"],"n":null,"ok":true}'.encode()


def test_json_encodes_models_dataclasses_datetimes_uuids_sets_and_urls() -> None:
    value = {
        "pet": Pet(name="Rex", born=date(2020, 5, 17)),
        "point": Point(1, 2),
        "at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "local": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "set": {1},
        "url": URL("https://example.com/a"),
        1: "int key",
    }

    body = dump_json(value)

    assert body == (
        b'{"pet":{"name":"Rex","born":"2020-05-17"},"point":{"x":1,"y":2},'
        b'"at":"2024-01-02T03:04:05+00:00","local":"2024-01-02T03:04:05+02:00",'
        b'"id":"12345678-1234-5678-1234-567812345678","set":[1],'
        b'"url":"https://example.com/a","1":"int key"}'
    )


def test_json_of_an_unknown_type_raises_type_error() -> None:
    with pytest.raises(TypeError) as info:
        dump_json({"a": object()})

    assert str(info.value) == "Type is not JSON serializable: object"


def test_json_with_html_keeps_it_inside_strings_of_a_json_response() -> None:
    response = JSONResponse({"comment": "</script><script>alert(1)</script>"})

    assert response.body == b'{"comment":"</script><script>alert(1)</script>"}'
    assert response.headers["content-type"] == "application/json"


# Redirects


def test_redirect_defaults_to_302_with_the_location() -> None:
    response = RedirectResponse("/next?page=2")

    assert response.status_code == 302
    assert response.raw_headers == [(b"content-length", b"0"), (b"location", b"/next?page=2")]


def test_redirect_takes_a_status_and_a_url_object() -> None:
    response = RedirectResponse(URL("https://example.com/done"), 303)

    assert response.status_code == 303
    assert response.headers["location"] == "https://example.com/done"


def test_redirect_percent_encodes_cr_lf_so_no_header_is_injected() -> None:
    response = RedirectResponse("/next\r\nSet-Cookie: x=1")

    assert response.headers.getlist("location") == ["/next%0D%0ASet-Cookie:%20x=1"]
    assert "set-cookie" not in response.headers


def test_redirect_percent_encodes_non_ascii_and_keeps_existing_escapes() -> None:
    response = RedirectResponse("/café?q=a%20b#top")

    assert response.headers["location"] == "/caf%C3%A9?q=a%20b#top"


def test_redirect_through_the_client_sends_no_injected_header() -> None:
    app = Carboy()

    @app.get("/go")
    async def go() -> RedirectResponse:
        return RedirectResponse("/next\r\nSet-Cookie: x=1")

    with TestClient(app) as client:
        response = client.get("/go")

    assert response.status_code == 302
    assert response.headers["location"] == "/next%0D%0ASet-Cookie:%20x=1"
    assert "set-cookie" not in response.headers
    assert client.cookies.get("x") is None


# Streaming


@pytest.mark.anyio
async def test_streaming_response_sends_each_chunk_of_an_async_generator() -> None:
    async def numbers() -> AsyncIterator[str]:
        for number in range(3):
            yield f"{number},"

    response = StreamingResponse(numbers(), media_type="text/csv")

    messages = await sent_by(response)

    assert messages == [
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/csv; charset=utf-8")],
        },
        {"type": "http.response.body", "body": b"0,", "more_body": True},
        {"type": "http.response.body", "body": b"1,", "more_body": True},
        {"type": "http.response.body", "body": b"2,", "more_body": True},
        {"type": "http.response.body", "body": b""},
    ]


@pytest.mark.anyio
async def test_streaming_response_runs_a_sync_generator_in_a_worker_thread() -> None:
    threads: list[int] = []
    closed: list[bool] = []

    def lines() -> Iterator[bytes]:
        try:
            for line in (b"a\n", b"b\n"):
                threads.append(threading.get_ident())
                yield line
        finally:
            closed.append(True)

    response = StreamingResponse(lines())

    body = await body_of(response)

    assert body == b"a\nb\n"
    assert len(threads) == 2
    assert threading.get_ident() not in threads
    assert closed == [True]


@pytest.mark.anyio
async def test_streaming_response_keeps_a_content_length_given_in_headers() -> None:
    async def data() -> AsyncIterator[bytes]:
        yield b"abcd"

    response = StreamingResponse(data(), headers={"Content-Length": "4"})

    assert await headers_of(response) == [(b"content-length", b"4")]


@pytest.mark.anyio
async def test_streaming_response_to_head_sends_no_body_and_never_starts_the_iterator() -> None:
    started: list[bool] = []

    def data() -> Iterator[bytes]:
        started.append(True)
        yield b"never"

    response = StreamingResponse(data(), media_type="text/plain")

    messages = await sent_by(response, method="HEAD")

    assert messages[1:] == [{"type": "http.response.body", "body": b""}]
    assert started == []


@pytest.mark.anyio
async def test_streaming_response_stops_and_closes_the_iterator_when_the_client_leaves() -> None:
    closed = anyio.Event()
    sent: list[Message] = []

    async def forever() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"tick"
                await anyio.sleep(0.01)
        finally:
            closed.set()

    async def receive() -> Message:
        await anyio.sleep(0.05)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    response = StreamingResponse(forever())

    with anyio.fail_after(2):
        await response({"type": "http", "method": "GET", "headers": []}, receive, send)

    assert closed.is_set()
    assert sent[0]["type"] == "http.response.start"
    assert sent[1] == {"type": "http.response.body", "body": b"tick", "more_body": True}


def test_streaming_response_through_the_client() -> None:
    app = Carboy()

    @app.get("/async")
    async def from_async() -> StreamingResponse:
        async def parts() -> AsyncIterator[str]:
            yield "one "
            yield "two"

        return StreamingResponse(parts(), media_type="text/plain")

    @app.get("/sync")
    def from_sync() -> StreamingResponse:
        return StreamingResponse(iter([b"three ", b"four"]), media_type="text/plain")

    with TestClient(app) as client:
        first = client.get("/async")
        second = client.get("/sync")

    assert first.status_code == 200
    assert first.text == "one two"
    assert "content-length" not in first.headers
    assert first.headers["content-type"] == "text/plain; charset=utf-8"
    assert second.text == "three four"
    assert "content-length" not in second.headers


def test_an_error_in_a_stream_is_raised_as_itself_not_as_a_group() -> None:
    app = Carboy()

    @app.get("/")
    async def broken() -> StreamingResponse:
        async def parts() -> AsyncIterator[str]:
            yield "start"
            raise ValueError("the source failed")

        return StreamingResponse(parts())

    with TestClient(app) as client, pytest.raises(ValueError) as info:
        client.get("/")

    assert str(info.value) == "the source failed"


# Cookies


@pytest.mark.anyio
async def test_set_cookie_defaults_to_httponly_samesite_lax_path_root_and_not_secure() -> None:
    response = Response()

    response.set_cookie("session", "abc123")

    assert await headers_of(response) == [
        (b"content-length", b"0"),
        (b"set-cookie", b"session=abc123; HttpOnly; Path=/; SameSite=Lax"),
    ]


@pytest.mark.anyio
async def test_set_cookie_is_secure_by_default_over_https() -> None:
    response = Response()

    response.set_cookie("session", "abc123")

    headers = await headers_of(response, scheme="https")
    assert headers[1] == (b"set-cookie", b"session=abc123; HttpOnly; Path=/; SameSite=Lax; Secure")


@pytest.mark.anyio
async def test_set_cookie_secure_can_be_forced_either_way() -> None:
    response = Response()

    response.set_cookie("a", "1", secure=True)
    response.set_cookie("b", "2", secure=False)

    http = await headers_of(response, scheme="http")
    https = await headers_of(response, scheme="https")
    assert http[1:] == [
        (b"set-cookie", b"a=1; HttpOnly; Path=/; SameSite=Lax; Secure"),
        (b"set-cookie", b"b=2; HttpOnly; Path=/; SameSite=Lax"),
    ]
    assert https[1:] == http[1:]


def test_set_cookie_writes_every_attribute() -> None:
    response = Response()

    response.set_cookie(
        "prefs",
        "dark",
        max_age=3600,
        expires=datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=1))),
        path="/app",
        domain="example.com",
        httponly=False,
        samesite="strict",
    )

    assert response._cookies is not None
    assert [cookie.value for cookie in response._cookies] == [
        "prefs=dark; Domain=example.com; expires=Wed, 02 Jan 2030 02:04:05 GMT; "
        "Max-Age=3600; Path=/app; SameSite=Strict"
    ]


@pytest.mark.anyio
async def test_set_cookie_with_samesite_none_and_partitioned() -> None:
    response = Response()

    response.set_cookie("embed", "1", samesite="none", partitioned=True, secure=True)

    headers = await headers_of(response)
    assert headers[1] == (
        b"set-cookie",
        b"embed=1; HttpOnly; Path=/; SameSite=None; Partitioned; Secure",
    )


@pytest.mark.anyio
async def test_set_cookie_without_samesite_leaves_the_attribute_out() -> None:
    response = Response()

    response.set_cookie("a", "1", samesite=None)

    assert (await headers_of(response))[1] == (b"set-cookie", b"a=1; HttpOnly; Path=/")


def test_set_cookie_refuses_an_unknown_samesite() -> None:
    response = Response()

    with pytest.raises(ValueError) as info:
        response.set_cookie("a", "1", samesite="loose")  # type: ignore[arg-type]

    assert str(info.value) == "samesite must be 'lax', 'strict', 'none' or None, not 'loose'."


@pytest.mark.anyio
async def test_delete_cookie_expires_it_with_the_same_path_and_domain() -> None:
    response = Response()

    response.delete_cookie("session", path="/app", domain="example.com")

    assert (await headers_of(response))[1] == (
        b"set-cookie",
        b'session=""; Domain=example.com; expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; '
        b"Max-Age=0; Path=/app; SameSite=Lax",
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("value", "coded"),
    [
        ("x\r\nSet-Cookie: admin=1", b'"x\\015\\012Set-Cookie: admin=1"'),
        ("a;b", b'"a\\073b"'),
        ('say "hi"', b'"say \\"hi\\""'),
        ("caf\u00e9", b'"caf\\351"'),
    ],
)
async def test_set_cookie_quotes_and_escapes_a_value_so_it_cannot_split_the_header(
    value: str, coded: bytes
) -> None:
    response = Response()

    response.set_cookie("c", value)

    headers = await headers_of(response)
    cookies = [header for name, header in headers if name == b"set-cookie"]
    assert cookies == [b"c=" + coded + b"; HttpOnly; Path=/; SameSite=Lax"]
    assert b"\r" not in cookies[0]
    assert b"\n" not in cookies[0]


@pytest.mark.parametrize("name", ["a\r\nb", "a b", "a;b", "", "expires"])
def test_set_cookie_refuses_a_name_that_is_not_a_token(name: str) -> None:
    response = Response()

    with pytest.raises(ValueError) as info:
        response.set_cookie(name, "1")

    assert str(info.value) == (
        f"{name!r} is not a valid cookie name: use letters, digits and !#$%&'*+-.^_`|~ only."
    )
    assert response._cookies is None


def test_set_cookie_refuses_a_value_outside_latin1_without_echoing_it() -> None:
    response = Response()

    with pytest.raises(ValueError) as info:
        response.set_cookie("price", "5\u20ac")

    assert str(info.value) == (
        "The value of the cookie 'price' holds characters outside Latin-1, which a Set-Cookie "
        "header cannot carry. Encode it first, for example with urllib.parse.quote()."
    )


def test_cookie_value_round_trips_through_the_client() -> None:
    app = Carboy()

    @app.get("/set")
    async def set_value() -> Response:
        response = PlainTextResponse("set")
        response.set_cookie("note", 'a;b "c"\r\nd')
        return response

    @app.get("/read")
    async def read(request: Request) -> dict[str, str]:
        return request.cookies

    with TestClient(app) as client:
        set_response = client.get("/set")
        read_response = client.get("/read")

    assert set_response.headers.get_list("set-cookie") == [
        'note="a\\073b \\"c\\"\\015\\012d"; HttpOnly; Path=/; SameSite=Lax'
    ]
    assert read_response.json() == {"note": 'a;b "c"\r\nd'}


# Return values


def served(value: Any, **route_options: Any) -> Any:
    """Return the client's response to a handler that returns ``value``."""
    app = Carboy()

    @app.get("/", **route_options)
    async def handler() -> Any:
        return value

    with TestClient(app) as client:
        return client.get("/")


def test_dict_return_value_becomes_json() -> None:
    response = served({"a": 1})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == b'{"a":1}'


def test_list_return_value_becomes_json() -> None:
    response = served([1, "two"])

    assert response.headers["content-type"] == "application/json"
    assert response.content == b'[1,"two"]'


def test_pydantic_model_return_value_becomes_json() -> None:
    response = served(Pet(name="Rex", born=date(2020, 5, 17)))

    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"name": "Rex", "born": "2020-05-17"}


def test_dataclass_return_value_becomes_json() -> None:
    response = served(Point(3, 4))

    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"x": 3, "y": 4}


def test_str_return_value_becomes_plain_text() -> None:
    response = served("<b>hi</b>")

    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "<b>hi</b>"


def test_str_return_value_becomes_html_with_an_html_response_class() -> None:
    response = served("<b>hi</b>", response_class=HTMLResponse)

    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == "<b>hi</b>"


def test_bytes_return_value_becomes_octet_stream() -> None:
    response = served(b"\x00\x01")

    assert response.headers["content-type"] == "application/octet-stream"
    assert response.content == b"\x00\x01"


def test_none_return_value_becomes_204_without_body_or_content_type() -> None:
    response = served(None)

    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers
    assert "content-length" not in response.headers


def test_body_and_status_tuple_sets_the_status() -> None:
    response = served(({"id": 1}, 201))

    assert response.status_code == 201
    assert response.json() == {"id": 1}


def test_body_status_and_headers_tuple_sets_the_headers() -> None:
    response = served(("created", 201, {"Location": "/items/1"}))

    assert response.status_code == 201
    assert response.headers["location"] == "/items/1"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "created"


def test_none_and_status_tuple_keeps_the_status_without_a_body() -> None:
    response = served((None, 202))

    assert response.status_code == 202
    assert response.content == b""


def test_response_and_status_tuple_changes_the_response_status() -> None:
    response = served((HTMLResponse("<p>gone</p>"), 410, {"X-Why": "moved"}))

    assert response.status_code == 410
    assert response.headers["x-why"] == "moved"
    assert response.text == "<p>gone</p>"


def test_response_return_value_is_sent_as_is() -> None:
    response = served(Response(b"<svg/>", 203, {"X-A": "1"}, media_type="image/svg+xml"))

    assert response.status_code == 203
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["x-a"] == "1"
    assert response.content == b"<svg/>"


def test_head_request_to_a_get_route_gets_its_headers_and_no_body() -> None:
    app = Carboy()

    @app.get("/")
    async def home() -> dict[str, str]:
        return {"message": "hello"}

    with TestClient(app) as client:
        response = client.head("/")

    assert response.status_code == 200
    assert response.headers["content-length"] == "19"
    assert response.headers["content-type"] == "application/json"
    assert response.content == b""


def test_unconvertible_return_value_raises_type_error() -> None:
    app = Carboy()

    @app.get("/")
    async def handler() -> Any:
        return 42

    with TestClient(app) as client, pytest.raises(TypeError) as info:
        client.get("/")

    assert str(info.value) == (
        "A handler returned a value of type int, which carboy cannot turn into a response. "
        "Return a Response, a dict, list, pydantic model or dataclass (JSON), a str, bytes, "
        "None, or a (body, status[, headers]) tuple."
    )


def test_unconvertible_return_value_gives_500_problem_without_traceback() -> None:
    app = Carboy()

    @app.get("/")
    async def handler() -> Any:
        return {1, 2}

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "The server failed to answer this request. The error has been logged. "
        f"Reference: {response.headers['x-request-id']}",
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            ("a", "b"),
            "A handler returned a tuple that is not (body, status) or (body, status, headers): "
            "a value of type tuple. Return one of those, or a Response.",
        ),
        (
            ("a", 200, {}, 1),
            "A handler returned a tuple that is not (body, status) or (body, status, headers): "
            "a value of type tuple. Return one of those, or a Response.",
        ),
        (
            ("a", 200, [("x", "1")]),
            "The headers of a (body, status, headers) return value must be a mapping, not list.",
        ),
        (
            (object(), 200),
            "A handler returned a value of type object, which carboy cannot turn into a "
            "response. Return a Response, a dict, list, pydantic model or dataclass (JSON), a "
            "str, bytes, None, or a (body, status[, headers]) tuple.",
        ),
    ],
)
def test_to_response_refuses_malformed_tuples(value: Any, message: str) -> None:
    with pytest.raises(TypeError) as info:
        to_response(value)

    assert str(info.value) == message
