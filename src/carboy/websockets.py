"""WebSocket connections (RFC 6455) over ASGI."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Iterable
from typing import Any

import orjson

from carboy.exceptions import WebSocketDisconnect
from carboy.requests import HTTPConnection
from carboy.types import Message, Receive, Scope, Send

__all__ = ["WebSocket", "WebSocketState"]


class WebSocketState(enum.Enum):
    """Where one side of a WebSocket stands."""

    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2


class WebSocket(HTTPConnection):
    """A WebSocket connection: accept it, then send and receive messages.

    Example::

        @app.websocket("/echo")
        async def echo(websocket: WebSocket) -> None:
            await websocket.accept()
            async for text in websocket.iter_text():
                await websocket.send_text(text)

    Receiving after the peer closed raises ``WebSocketDisconnect``, which ends
    the handler quietly.
    """

    __slots__ = ("application_state", "client_state")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        super().__init__(scope, receive, send)
        self.client_state = WebSocketState.CONNECTING
        self.application_state = WebSocketState.CONNECTING

    async def _receive(self) -> Message:
        if self.client_state is WebSocketState.CONNECTING:
            message = await self.receive()
            if message["type"] != "websocket.connect":
                raise RuntimeError(f"Expected websocket.connect, got {message['type']!r}.")
            self.client_state = WebSocketState.CONNECTED
            return message
        if self.client_state is WebSocketState.DISCONNECTED:
            raise RuntimeError("Cannot receive: the WebSocket peer already closed the connection.")
        message = await self.receive()
        if message["type"] == "websocket.disconnect":
            self.client_state = WebSocketState.DISCONNECTED
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        return message

    async def _send(self, message: Message) -> None:
        if self.application_state is WebSocketState.DISCONNECTED:
            raise RuntimeError("Cannot send: this WebSocket was already closed.")
        if message["type"] == "websocket.close":
            self.application_state = WebSocketState.DISCONNECTED
        elif message["type"] == "websocket.accept":
            self.application_state = WebSocketState.CONNECTED
        elif self.application_state is WebSocketState.CONNECTING:
            raise RuntimeError("Cannot send before the WebSocket is accepted: call accept() first.")
        await self.send(message)

    async def accept(
        self,
        subprotocol: str | None = None,
        headers: Iterable[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """Accept the connection, optionally choosing a subprotocol.

        Raises:
            RuntimeError: if the connection was already accepted or closed.
        """
        if self.application_state is not WebSocketState.CONNECTING:
            raise RuntimeError(
                "Cannot accept: this WebSocket was already accepted or closed. "
                "Call accept() once, before sending."
            )
        if self.client_state is WebSocketState.CONNECTING:
            await self._receive()
        await self._send(
            {"type": "websocket.accept", "subprotocol": subprotocol, "headers": list(headers or [])}
        )

    async def receive_text(self) -> str:
        """Wait for a text message.

        Raises:
            WebSocketDisconnect: when the peer closes.
            TypeError: when the peer sent bytes instead.
        """
        message = await self._receive()
        text = message.get("text")
        if text is None:
            raise TypeError("Expected a text WebSocket message, received bytes.")
        return str(text)

    async def receive_bytes(self) -> bytes:
        """Wait for a binary message."""
        message = await self._receive()
        data = message.get("bytes")
        if data is None:
            raise TypeError("Expected a binary WebSocket message, received text.")
        return bytes(data)

    async def receive_json(self) -> Any:
        """Wait for a text or binary message holding JSON, and parse it.

        Raises:
            WebSocketDisconnect: when the peer closes.
            ValueError: when the message is not valid JSON.
        """
        message = await self._receive()
        data = message.get("text")
        if data is None:
            data = message.get("bytes", b"")
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"The WebSocket message is not valid JSON: {exc.msg}.") from None

    async def iter_text(self) -> AsyncIterator[str]:
        """Yield text messages until the peer closes."""
        try:
            while True:
                yield await self.receive_text()
        except WebSocketDisconnect:
            return

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """Yield binary messages until the peer closes."""
        try:
            while True:
                yield await self.receive_bytes()
        except WebSocketDisconnect:
            return

    async def iter_json(self) -> AsyncIterator[Any]:
        """Yield JSON messages until the peer closes."""
        try:
            while True:
                yield await self.receive_json()
        except WebSocketDisconnect:
            return

    async def send_text(self, data: str) -> None:
        """Send a text message."""
        await self._send({"type": "websocket.send", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        await self._send({"type": "websocket.send", "bytes": data})

    async def send_json(self, data: Any, *, binary: bool = False) -> None:
        """Send ``data`` as JSON, in a text message unless ``binary``."""
        encoded = orjson.dumps(data)
        if binary:
            await self.send_bytes(encoded)
        else:
            await self.send_text(encoded.decode())

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection with a code (RFC 6455 7.4.1) and an optional reason."""
        await self._send({"type": "websocket.close", "code": code, "reason": reason or ""})
