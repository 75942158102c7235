from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pydantic
import pytest

from carboy import Carboy
from carboy.sse import EventSourceResponse, ServerSentEvent
from carboy.testing import TestClient
from carboy.types import Message


class Tick(pydantic.BaseModel):
    n: int
    at: datetime.date


async def body_chunks(response: EventSourceResponse) -> list[bytes]:
    """Send ``response`` as to a server; return the body chunks it sent."""
    messages: list[Message] = []

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        messages.append(message)

    with anyio.fail_after(5):
        await response({"type": "http", "method": "GET", "headers": []}, receive, send)
    assert messages[-1] == {"type": "http.response.body", "body": b""}
    return [message["body"] for message in messages[1:-1]]


# The wire format


def test_event_with_every_field_is_encoded_in_order() -> None:
    event = ServerSentEvent("hello", event="greeting", id="7", retry=3000, comment="first")

    assert event.encode() == (b": first\nevent: greeting\nid: 7\nretry: 3000\ndata: hello\n\n")


def test_multi_line_data_becomes_one_data_field_per_line() -> None:
    event = ServerSentEvent("one\ntwo\r\nthree\rfour")

    assert event.encode() == b"data: one\ndata: two\ndata: three\ndata: four\n\n"


def test_empty_string_data_is_sent_as_an_empty_data_field() -> None:
    assert ServerSentEvent("").encode() == b"data: \n\n"


def test_dict_data_is_sent_as_compact_json() -> None:
    event = ServerSentEvent({"user": "Zoë", "ids": [1, 2]}, event="update")

    assert event.encode() == 'event: update\ndata: {"user":"Zoë","ids":[1,2]}\n\n'.encode()


def test_pydantic_model_data_is_sent_as_json() -> None:
    event = ServerSentEvent(Tick(n=1, at=datetime.date(2024, 5, 1)))

    assert event.encode() == b'data: {"n":1,"at":"2024-05-01"}\n\n'


def test_comment_alone_is_a_comment_line_per_line() -> None:
    event = ServerSentEvent(comment="keep\nalive")

    assert event.encode() == b": keep\n: alive\n\n"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("event", "a\nb", "The SSE event field cannot hold a line break: 'a\\nb'."),
        ("event", "a\rb", "The SSE event field cannot hold a line break: 'a\\rb'."),
        ("id", "1\r\nevent: x", "The SSE id field cannot hold a line break: '1\\r\\nevent: x'."),
        ("id", "1\x002", "The SSE id field cannot hold a NUL character: '1\\x002'."),
    ],
)
def test_line_break_in_event_or_id_raises_value_error(field: str, value: str, message: str) -> None:
    event = ServerSentEvent("data", **{field: value})

    with pytest.raises(ValueError) as info:
        event.encode()

    assert str(info.value) == message


# The response


def test_event_source_response_headers() -> None:
    response = EventSourceResponse(iter([]))

    assert response.raw_headers == [
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),
    ]


def test_event_source_response_keeps_headers_given() -> None:
    response = EventSourceResponse(
        iter([]), headers={"Cache-Control": "no-store", "X-Room": "1"}, status_code=201
    )

    assert response.status_code == 201
    assert response.raw_headers == [
        (b"cache-control", b"no-store"),
        (b"x-room", b"1"),
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"x-accel-buffering", b"no"),
    ]


@pytest.mark.anyio
async def test_each_item_is_sent_as_one_event_as_it_comes() -> None:
    async def events() -> AsyncIterator[Any]:
        yield ServerSentEvent("first", id="1")
        yield "plain text"
        yield {"n": 2}
        yield b": raw bytes are sent as they are\n\n"

    chunks = await body_chunks(EventSourceResponse(events()))

    assert chunks == [
        b"id: 1\ndata: first\n\n",
        b"data: plain text\n\n",
        b'data: {"n":2}\n\n',
        b": raw bytes are sent as they are\n\n",
    ]


@pytest.mark.anyio
async def test_a_sync_generator_of_events_is_streamed() -> None:
    def events() -> Iterator[ServerSentEvent]:
        yield ServerSentEvent("a", event="letter")
        yield ServerSentEvent("b", event="letter")

    chunks = await body_chunks(EventSourceResponse(events()))

    assert chunks == [b"event: letter\ndata: a\n\n", b"event: letter\ndata: b\n\n"]


@pytest.mark.anyio
async def test_a_ping_comment_is_sent_while_the_generator_is_idle() -> None:
    async def slow() -> AsyncIterator[str]:
        await anyio.sleep(0.12)
        yield "late"

    chunks = await body_chunks(EventSourceResponse(slow(), ping=0.05))

    assert chunks[-1] == b"data: late\n\n"
    assert len(chunks) >= 2
    assert set(chunks[:-1]) == {b": ping\n\n"}


@pytest.mark.anyio
async def test_no_ping_is_sent_when_ping_is_none() -> None:
    async def slow() -> AsyncIterator[str]:
        await anyio.sleep(0.05)
        yield "late"

    chunks = await body_chunks(EventSourceResponse(slow(), ping=None))

    assert chunks == [b"data: late\n\n"]


@pytest.mark.anyio
async def test_the_stream_stops_and_closes_the_generator_when_the_client_leaves() -> None:
    closed = anyio.Event()

    async def forever() -> AsyncIterator[str]:
        try:
            while True:
                yield "tick"
                await anyio.sleep(0.01)
        finally:
            closed.set()

    async def receive() -> Message:
        await anyio.sleep(0.05)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        pass

    response = EventSourceResponse(forever())

    with anyio.fail_after(2):
        await response({"type": "http", "method": "GET", "headers": []}, receive, send)

    assert closed.is_set()


def test_events_through_the_client_end_when_the_generator_ends() -> None:
    app = Carboy()

    @app.get("/events")
    async def events() -> EventSourceResponse:
        async def stream() -> AsyncIterator[ServerSentEvent]:
            await anyio.sleep(0.12)
            for n in range(2):
                yield ServerSentEvent({"n": n}, event="count", id=str(n))

        return EventSourceResponse(stream(), ping=0.05)

    with TestClient(app) as client:
        response = client.get("/events")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert "content-length" not in response.headers
    pings, first_event = response.text.split("event: count", 1)
    assert pings.startswith(": ping\n\n")
    assert set(pings.split("\n\n")) == {": ping", ""}
    assert "event: count" + first_event == (
        'event: count\nid: 0\ndata: {"n":0}\n\nevent: count\nid: 1\ndata: {"n":1}\n\n'
    )


def test_an_error_in_the_event_generator_is_raised_as_itself() -> None:
    app = Carboy()

    @app.get("/events")
    async def events() -> EventSourceResponse:
        async def stream() -> AsyncIterator[str]:
            yield "one"
            raise ValueError("the feed failed")

        return EventSourceResponse(stream())

    with TestClient(app) as client, pytest.raises(ValueError) as info:
        client.get("/events")

    assert str(info.value) == "the feed failed"


def test_event_source_response_is_importable_from_carboy() -> None:
    import carboy

    assert carboy.EventSourceResponse is EventSourceResponse
    assert carboy.ServerSentEvent is ServerSentEvent
