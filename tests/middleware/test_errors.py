from __future__ import annotations

import logging
import re

import pytest

from carboy import Carboy
from carboy.config import Settings
from carboy.middleware.errors import ServerErrorMiddleware
from carboy.testing import TestClient
from carboy.types import Message, Receive, Scope, Send

# Built at run time, so that no source line shown anywhere holds it.
SECRET = "hun" + "ter2"
NEW_ID = re.compile(r"[0-9a-f]{32}")
DETAIL = "The server failed to answer this request. The error has been logged. Reference: "


def failing_app(*, debug: bool = False) -> Carboy:
    app = Carboy(settings=Settings(debug=debug))

    @app.get("/boom")
    def boom() -> str:
        password = SECRET
        raise ValueError(f"internal state {len(password)}")  # the failing line

    return app


def client(*, debug: bool = False) -> TestClient:
    return TestClient(failing_app(debug=debug), raise_server_exceptions=False)


async def raising_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise ValueError("boom")


async def call(
    headers: list[tuple[bytes, bytes]], *, path: str = "/boom", debug: bool = False
) -> tuple[list[Message], BaseException | None]:
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    try:
        await ServerErrorMiddleware(raising_app, debug=debug)(scope, receive, send)
    except ValueError as exc:
        return sent, exc
    return sent, None


def response_headers(sent: list[Message]) -> dict[bytes, bytes]:
    return dict(sent[0]["headers"])


# Debug off ----------------------------------------------------------------------


def test_an_api_client_gets_problem_details_with_a_reference() -> None:
    response = client().get("/boom")

    request_id = response.headers["x-request-id"]
    assert NEW_ID.fullmatch(request_id)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": DETAIL + request_id,
    }


def test_a_browser_gets_a_plain_page_with_a_reference() -> None:
    response = client().get("/boom", headers={"accept": "text/html"})

    request_id = response.headers["x-request-id"]
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>500 Internal Server Error</title>\n</head>\n<body>\n"
        "<h1>500 Internal Server Error</h1>\n"
        f"<p>{DETAIL}{request_id}</p>\n"
        "</body>\n</html>\n"
    )


@pytest.mark.parametrize("accept", ["text/html", "application/json", "*/*"])
def test_with_debug_off_nothing_of_the_error_reaches_the_client(accept: str) -> None:
    response = client().get("/boom", headers={"accept": accept})

    for revealing in (
        "Traceback",
        "ValueError",
        "internal state",
        "password",
        SECRET,
        "the failing line",
        "test_errors.py",
        "Local variables",
    ):
        assert revealing not in response.text


def test_the_error_is_logged_with_the_request_id_and_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="carboy.error"):
        response = client().get("/boom")

    request_id = response.headers["x-request-id"]
    (record,) = caplog.records
    assert record.name == "carboy.error"
    assert record.levelno == logging.ERROR
    assert record.getMessage() == f"Unhandled error in GET /boom (request id {request_id})"
    assert record.exc_info is not None
    assert record.exc_info[0] is ValueError
    assert str(record.exc_info[1]) == "internal state 7"


def test_the_error_is_still_raised_for_the_server() -> None:
    with pytest.raises(ValueError, match="internal state 7"):
        TestClient(failing_app()).get("/boom")


def test_each_request_gets_its_own_id() -> None:
    http = client()

    first = http.get("/boom").headers["x-request-id"]
    second = http.get("/boom").headers["x-request-id"]

    assert first != second


# The incoming X-Request-ID --------------------------------------------------------


@pytest.mark.parametrize("incoming", ["abc-123", "req_1.2-X", "a" * 64])
def test_a_sane_incoming_request_id_is_reused(
    incoming: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="carboy.error"):
        response = client().get("/boom", headers={"x-request-id": incoming})

    assert response.headers["x-request-id"] == incoming
    assert response.json()["detail"] == DETAIL + incoming
    assert [record.getMessage() for record in caplog.records] == [
        f"Unhandled error in GET /boom (request id {incoming})"
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "incoming",
    [
        b"abc\r\nSet-Cookie: session=forged",
        b"abc\nforged log line",
        b"a" * 65,
        b"",
        b"two words",
        b"a/b",
        b"caf\xe9",
        b"<script>",
    ],
)
async def test_a_hostile_incoming_request_id_is_replaced(
    incoming: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="carboy.error"):
        sent, raised = await call([(b"x-request-id", incoming), (b"accept", b"text/html")])

    request_id = response_headers(sent)[b"x-request-id"].decode()
    assert NEW_ID.fullmatch(request_id)
    assert isinstance(raised, ValueError)
    assert sent[0]["status"] == 500
    assert f"Reference: {request_id}</p>".encode() in sent[1]["body"]
    assert not incoming or incoming not in sent[1]["body"]
    assert [record.getMessage() for record in caplog.records] == [
        f"Unhandled error in GET /boom (request id {request_id})"
    ]


@pytest.mark.anyio
async def test_a_line_break_in_the_path_is_escaped_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="carboy.error"):
        await call([(b"x-request-id", b"r-1")], path="/a\r\nforged line\x1b[31m")

    assert [record.getMessage() for record in caplog.records] == [
        "Unhandled error in GET /a\\r\\nforged line\\x1b[31m (request id r-1)"
    ]


# After the response started ------------------------------------------------------


@pytest.mark.anyio
async def test_an_error_after_the_response_started_is_logged_and_raised_without_a_second_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def half_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise ValueError("mid-stream")

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "GET", "path": "/stream", "headers": []}

    with (
        caplog.at_level(logging.ERROR, logger="carboy.error"),
        pytest.raises(ValueError, match="mid-stream"),
    ):
        await ServerErrorMiddleware(half_app)(scope, receive, send)

    assert sent == [{"type": "http.response.start", "status": 200, "headers": []}]
    (record,) = caplog.records
    assert re.fullmatch(
        r"Unhandled error in GET /stream \(request id [0-9a-f]{32}\)", record.getMessage()
    )


# Debug on -------------------------------------------------------------------------


def test_with_debug_on_a_browser_gets_the_debug_page_with_the_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="carboy.error"):
        response = client(debug=True).get(
            "/boom", headers={"accept": "text/html", "x-request-id": "dev-1"}
        )

    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["x-request-id"] == "dev-1"
    assert "<h1>ValueError</h1>" in response.text
    assert "<tr><th>password</th><td>********************</td></tr>" in response.text
    assert SECRET not in response.text
    assert [record.getMessage() for record in caplog.records] == [
        "Unhandled error in GET /boom (request id dev-1)"
    ]


def test_with_debug_on_an_api_client_gets_the_plain_traceback() -> None:
    response = client(debug=True).get("/boom")

    assert response.status_code == 500
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text.startswith("Traceback (most recent call last):\n")
    assert response.text.endswith("ValueError: internal state 7\n")
    assert SECRET not in response.text


def test_debug_is_asked_only_when_an_error_happens() -> None:
    asked: list[bool] = []

    def debug() -> bool:
        asked.append(True)
        return False

    async def ok_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    response = TestClient(ServerErrorMiddleware(ok_app, debug=debug)).get("/")

    assert response.status_code == 204
    assert asked == []


def test_a_500_says_connection_close_and_a_keep_alive_client_goes_on() -> None:
    import http.client
    from urllib.parse import urlsplit

    from tests._live import live_server

    app = failing_app()

    @app.get("/ok")
    def ok() -> str:
        return "fine"

    with live_server(app) as url:
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port)
        statuses = []
        closes = []
        for path in ["/ok", "/boom", "/ok", "/boom", "/ok"]:
            # http.client opens a new connection by itself when the last
            # answer said Connection: close; a silent close would fail here.
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
            closes.append(response.getheader("connection"))
        connection.close()

    assert statuses == [200, 500, 200, 500, 200]
    assert closes == [None, "close", None, "close", None]
