from __future__ import annotations

from typing import Any

import pytest

from carboy import Carboy, WebSocket, WebSocketDisconnect
from carboy.exceptions import WebSocketException
from carboy.testing import TestClient
from carboy.types import Message
from carboy.websockets import WebSocketState


def test_text_messages_are_echoed_until_the_client_closes() -> None:
    app = Carboy()
    ended: list[str] = []

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(f"echo: {text}")
        ended.append("client closed")

    with TestClient(app) as client, client.websocket_connect("/echo") as session:
        session.send_text("hello")
        first = session.receive_text()
        session.send_text("again")
        second = session.receive_text()

    assert (first, second) == ("echo: hello", "echo: again")
    assert ended == ["client closed"]


def test_bytes_messages_are_sent_and_received() -> None:
    app = Carboy()

    @app.websocket("/bytes")
    async def reverse(websocket: WebSocket) -> None:
        await websocket.accept()
        async for data in websocket.iter_bytes():
            await websocket.send_bytes(data[::-1])

    with TestClient(app) as client, client.websocket_connect("/bytes") as session:
        session.send_bytes(b"\x00\x01\x02")
        received = session.receive_bytes()

    assert received == b"\x02\x01\x00"


def test_json_messages_are_sent_as_text_or_binary() -> None:
    app = Carboy()

    @app.websocket("/json")
    async def add(websocket: WebSocket) -> None:
        await websocket.accept()
        async for data in websocket.iter_json():
            await websocket.send_json({"sum": data["a"] + data["b"]})
            await websocket.send_json({"sum": data["a"] + data["b"]}, binary=True)

    with TestClient(app) as client, client.websocket_connect("/json") as session:
        session.send_json({"a": 1, "b": 2})
        as_text = session.receive()
        as_binary = session.receive()

    assert as_text == {"type": "websocket.send", "text": '{"sum":3}'}
    assert as_binary == {"type": "websocket.send", "bytes": b'{"sum":3}'}


def test_receive_json_parses_a_binary_message() -> None:
    app = Carboy()

    @app.websocket("/json")
    async def first(websocket: WebSocket) -> None:
        await websocket.accept()
        data = await websocket.receive_json()
        await websocket.send_json(data)

    with TestClient(app) as client, client.websocket_connect("/json") as session:
        session.send_bytes(b'{"a": [1, 2]}')
        received = session.receive_json()

    assert received == {"a": [1, 2]}


def test_invalid_json_from_the_client_raises_value_error_in_the_handler() -> None:
    app = Carboy()
    errors: list[str] = []

    @app.websocket("/json")
    async def read(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            await websocket.receive_json()
        except ValueError as exc:
            errors.append(str(exc))
        await websocket.close()

    with TestClient(app) as client, client.websocket_connect("/json") as session:
        session.send_text("{oops")
        with pytest.raises(WebSocketDisconnect):
            session.receive_text()

    assert errors == [
        "The WebSocket message is not valid JSON: unexpected character, expected a string key."
    ]


def test_receiving_the_wrong_kind_of_message_raises_type_error() -> None:
    app = Carboy()
    errors: list[str] = []

    @app.websocket("/ws")
    async def read(websocket: WebSocket) -> None:
        await websocket.accept()
        for receive in (websocket.receive_text, websocket.receive_bytes):
            try:
                await receive()
            except TypeError as exc:
                errors.append(str(exc))
        await websocket.close()

    with TestClient(app) as client, client.websocket_connect("/ws") as session:
        session.send_bytes(b"raw")
        session.send_text("text")
        with pytest.raises(WebSocketDisconnect):
            session.receive_text()

    assert errors == [
        "Expected a text WebSocket message, received bytes.",
        "Expected a binary WebSocket message, received text.",
    ]


def test_app_closing_with_a_code_and_reason_disconnects_the_client() -> None:
    app = Carboy()

    @app.websocket("/ws")
    async def refuse_later(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close(4001, "token expired")

    with (
        TestClient(app) as client,
        client.websocket_connect("/ws") as session,
        pytest.raises(WebSocketDisconnect) as info,
    ):
        session.receive_text()

    assert (info.value.code, info.value.reason) == (4001, "token expired")


def test_closing_before_accept_refuses_the_handshake() -> None:
    app = Carboy()

    @app.websocket("/ws")
    async def refuse(websocket: WebSocket) -> None:
        await websocket.close(4003, "forbidden")

    with TestClient(app) as client, pytest.raises(WebSocketDisconnect) as info:
        client.websocket_connect("/ws").__enter__()

    assert (info.value.code, info.value.reason) == (4003, "forbidden")


def test_websocket_exception_before_accept_refuses_the_handshake_with_its_code() -> None:
    app = Carboy()

    @app.websocket("/ws")
    async def guarded(websocket: WebSocket) -> None:
        raise WebSocketException(4003, "no token")

    with (
        TestClient(app) as client,
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect("/ws"),
    ):
        pass

    assert (info.value.code, info.value.reason) == (4003, "no token")


def test_websocket_exception_after_accept_closes_with_its_code() -> None:
    app = Carboy()

    @app.websocket("/ws")
    async def guarded(websocket: WebSocket) -> None:
        await websocket.accept()
        if await websocket.receive_text() != "secret":
            raise WebSocketException(4003)

    with TestClient(app) as client, client.websocket_connect("/ws") as session:
        session.send_text("guess")
        with pytest.raises(WebSocketDisconnect) as info:
            session.receive_text()

    assert (info.value.code, info.value.reason) == (4003, "")


def test_path_params_are_converted_and_passed_to_the_handler() -> None:
    app = Carboy()

    @app.websocket("/ws/{room:int}")
    async def chat(websocket: WebSocket, room: int) -> None:
        await websocket.accept()
        await websocket.send_json(
            {"room": room, "type": type(room).__name__, "params": websocket.path_params}
        )
        await websocket.close()

    with TestClient(app) as client, client.websocket_connect("/ws/42") as session:
        received = session.receive_json()

    assert received == {"room": 42, "type": "int", "params": {"room": 42}}


def test_a_path_param_that_does_not_convert_closes_the_connection() -> None:
    app = Carboy()

    @app.websocket("/ws/{room:int}")
    async def chat(websocket: WebSocket, room: int) -> None:
        await websocket.accept()

    with (
        TestClient(app) as client,
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect("/ws/lobby"),
    ):
        pass

    assert info.value.code == 1000


def test_unknown_websocket_path_is_closed() -> None:
    app = Carboy()

    with (
        TestClient(app) as client,
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect("/missing"),
    ):
        pass

    assert info.value.code == 1000


def test_sending_before_accept_raises_runtime_error() -> None:
    app = Carboy()
    errors: list[str] = []

    @app.websocket("/ws")
    async def eager(websocket: WebSocket) -> None:
        try:
            await websocket.send_text("too early")
        except RuntimeError as exc:
            errors.append(str(exc))
        await websocket.close(1008)

    with (
        TestClient(app) as client,
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/ws"),
    ):
        pass

    assert errors == ["Cannot send before the WebSocket is accepted: call accept() first."]


def test_accepting_twice_raises_runtime_error() -> None:
    app = Carboy()
    errors: list[str] = []

    @app.websocket("/ws")
    async def twice(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            await websocket.accept()
        except RuntimeError as exc:
            errors.append(str(exc))
        await websocket.close()

    with (
        TestClient(app) as client,
        client.websocket_connect("/ws") as session,
        pytest.raises(WebSocketDisconnect),
    ):
        session.receive_text()

    assert errors == [
        "Cannot accept: this WebSocket was already accepted or closed. "
        "Call accept() once, before sending."
    ]


def test_sending_after_close_raises_runtime_error() -> None:
    app = Carboy()
    errors: list[str] = []

    @app.websocket("/ws")
    async def late(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close()
        try:
            await websocket.send_text("too late")
        except RuntimeError as exc:
            errors.append(str(exc))

    with (
        TestClient(app) as client,
        client.websocket_connect("/ws") as session,
        pytest.raises(WebSocketDisconnect),
    ):
        session.receive_text()

    assert errors == ["Cannot send: this WebSocket was already closed."]


def test_receiving_after_the_client_closed_raises_runtime_error() -> None:
    app = Carboy()
    errors: list[str] = []

    @app.websocket("/ws")
    async def stubborn(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            await websocket.receive_text()
        except WebSocketDisconnect as exc:
            errors.append(f"disconnect {exc.code} {exc.reason}")
        try:
            await websocket.receive_text()
        except RuntimeError as exc:
            errors.append(str(exc))

    with TestClient(app) as client, client.websocket_connect("/ws") as session:
        session.close(4000, "bye")

    assert errors == [
        "disconnect 4000 bye",
        "Cannot receive: the WebSocket peer already closed the connection.",
    ]


def test_subprotocol_is_negotiated() -> None:
    app = Carboy()

    @app.websocket("/ws")
    async def negotiate(websocket: WebSocket) -> None:
        offered = websocket.scope["subprotocols"]
        chosen = "graphql-ws" if "graphql-ws" in offered else None
        await websocket.accept(subprotocol=chosen, headers=[(b"x-server", b"carboy")])
        await websocket.send_json(offered)
        await websocket.close()

    with (
        TestClient(app) as client,
        client.websocket_connect("/ws", subprotocols=["chat", "graphql-ws"]) as session,
    ):
        offered = session.receive_json()
        accepted = session.accepted_subprotocol
        headers = session.extra_headers

    assert offered == ["chat", "graphql-ws"]
    assert accepted == "graphql-ws"
    assert headers == [(b"x-server", b"carboy")]


def test_websocket_sees_the_url_query_headers_and_cookies() -> None:
    app = Carboy()

    @app.websocket("/ws")
    async def inspect(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(
            {
                "url": str(websocket.url),
                "token": websocket.query_params["token"],
                "header": websocket.headers["x-client"],
                "cookies": websocket.cookies,
            }
        )
        await websocket.close()

    with (
        TestClient(app, cookies={"session": "abc"}) as client,
        client.websocket_connect("/ws?token=t1", headers={"X-Client": "tests"}) as session,
    ):
        received = session.receive_json()

    assert received == {
        "url": "ws://testserver/ws?token=t1",
        "token": "t1",
        "header": "tests",
        "cookies": {"session": "abc"},
    }


def test_an_error_in_the_handler_closes_with_1011_and_is_raised_in_the_test() -> None:
    app = Carboy()

    @app.websocket("/ws")
    async def broken(websocket: WebSocket) -> None:
        await websocket.accept()
        raise LookupError("no such room")

    with (
        TestClient(app) as client,
        pytest.raises(LookupError) as error,
        client.websocket_connect("/ws") as session,
        pytest.raises(WebSocketDisconnect) as info,
    ):
        session.receive_text()

    assert info.value.code == 1011
    assert str(error.value) == "no such room"


def test_websocket_state_follows_accept_and_close() -> None:
    app = Carboy()
    states: list[tuple[str, str]] = []

    def record(websocket: WebSocket) -> None:
        states.append((websocket.client_state.name, websocket.application_state.name))

    @app.websocket("/ws")
    async def track(websocket: WebSocket) -> None:
        record(websocket)
        await websocket.accept()
        record(websocket)
        await websocket.receive_text()
        await websocket.close()
        record(websocket)

    with TestClient(app) as client, client.websocket_connect("/ws") as session:
        session.send_text("go")
        with pytest.raises(WebSocketDisconnect):
            session.receive_text()

    assert states == [
        ("CONNECTING", "CONNECTING"),
        ("CONNECTED", "CONNECTED"),
        ("CONNECTED", "DISCONNECTED"),
    ]
    assert WebSocketState.DISCONNECTED.value == 2


@pytest.mark.anyio
async def test_a_first_message_other_than_connect_raises_runtime_error() -> None:
    async def receive() -> Message:
        return {"type": "websocket.receive", "text": "hi"}

    async def send(message: Message) -> None:
        pass

    scope: dict[str, Any] = {"type": "websocket", "path": "/", "headers": []}
    websocket = WebSocket(scope, receive, send)

    with pytest.raises(RuntimeError) as info:
        await websocket.accept()

    assert str(info.value) == "Expected websocket.connect, got 'websocket.receive'."


def test_websocket_exception_after_the_handler_closed_ends_quietly() -> None:
    app = Carboy()

    @app.websocket("/ws")
    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close(1000)
        raise WebSocketException(4000, "after close")

    with (
        TestClient(app) as client,
        client.websocket_connect("/ws") as session,
        pytest.raises(WebSocketDisconnect) as info,
    ):
        session.receive_text()

    assert info.value.code == 1000


def test_websocket_handlers_take_typed_query_parameters_and_dependencies() -> None:
    from typing import Annotated

    from carboy import Depends

    app = Carboy()

    async def room_name(room: str) -> str:
        return room.upper()

    @app.websocket("/ws/{room}")
    async def chat(
        websocket: WebSocket, token: str, name: Annotated[str, Depends(room_name)]
    ) -> None:
        await websocket.accept()
        await websocket.send_json({"token": token, "room": name})
        await websocket.close()

    with TestClient(app) as client:
        with client.websocket_connect("/ws/lobby?token=t1") as session:
            first = session.receive_json()
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws/lobby"):
            pass

    assert first == {"token": "t1", "room": "LOBBY"}
    # RFC 6455 7.4.1: 1008, a policy violation; the reason says what was wrong.
    assert refused.value.code == 1008
    assert refused.value.reason == "The request is not valid: 1 error was found."
