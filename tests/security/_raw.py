"""HTTP/1.1 spoken over a bare socket, for the requests that httpx refuses or rewrites.

httpx (through h11) will not send a NUL byte or a non-ASCII byte in the
request line or a header, nor a megabyte-long header, and it never shows
bytes that a server sends after the headers of a HEAD response. The battery
needs all of these, so it writes such requests byte for byte here and reads
the answer as it comes, telling an answer from a connection that the server
closed or reset.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

# How long to keep reading after the headers of an answer to HEAD on a
# connection the server should close: long enough for a stray body to arrive.
STRAY_BODY_WAIT = 1.0
MAX_READ = 4 * 1024 * 1024

Header = tuple[str, bytes]


@dataclass(frozen=True)
class RawResponse:
    """What came back on one connection: an answer, or how the connection ended.

    ``status`` is ``None`` when no status line came back. ``ending`` tells
    how reading stopped: ``"complete"`` (the answer's framing said it was
    whole), ``"eof"`` (the server closed the connection), ``"reset"`` (the
    server reset it, possibly while the request was being sent) or
    ``"timeout"`` (nothing more came, and the connection stayed open).
    """

    status: int | None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    ending: str = "eof"
    sent_all: bool = True

    def header(self, name: str) -> str | None:
        """Return the first value of the header ``name`` (any case), or ``None``."""
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None

    def describe(self) -> str:
        """Say in a few words what the server did, for a failure line."""
        if self.status is not None:
            return f"answered {self.status}"
        if self.ending == "reset":
            return "reset the connection without an answer"
        if self.ending == "timeout":
            return "sent no answer and kept the connection open"
        return "closed the connection without an answer"


def request_bytes(
    method: str,
    target: bytes,
    host: str,
    headers: Sequence[Header] = (),
    body: bytes = b"",
    *,
    keep_alive: bool = False,
) -> bytes:
    """Write one HTTP/1.1 request, byte for byte, with ``Host`` and framing added.

    Args:
        method: The method, such as ``"HEAD"``.
        target: The request target as sent, such as ``b"/docs/\\xff"``.
        host: The ``Host`` header's value, unless ``headers`` has one.
        headers: ``(name, value)`` pairs; values are bytes, sent unchanged.
        body: The body; a ``Content-Length`` is added when it is not empty.
        keep_alive: Leave the connection open for a next request instead of
            asking the server to close it.
    """
    names = {name.lower() for name, _ in headers}
    lines = [method.encode("ascii") + b" " + target + b" HTTP/1.1"]
    if "host" not in names:
        lines.append(b"Host: " + host.encode("ascii"))
    lines.extend(name.encode("ascii") + b": " + value for name, value in headers)
    if body and "content-length" not in names:
        lines.append(b"Content-Length: " + str(len(body)).encode("ascii"))
    if not keep_alive and "connection" not in names:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def send(address: tuple[str, int], data: bytes, method: str, timeout: float) -> RawResponse:
    """Send ``data`` on a new connection and read the one answer to it.

    A server may close or reset the connection before it has read the whole
    request (a refused megabyte header, for one): sending stops there, and
    whatever answer it sent first is still read.
    """
    try:
        sock = socket.create_connection(address, timeout=timeout)
    except OSError:
        return RawResponse(None, ending="reset", sent_all=False)
    with sock:
        sent_all = _send_all(sock, data)
        response = read_response(sock, method, timeout)
    if not sent_all:
        return RawResponse(
            response.status, response.headers, response.body, response.ending, sent_all=False
        )
    return response


def exchange(sock: socket.socket, data: bytes, method: str, timeout: float) -> RawResponse:
    """Send ``data`` on an open, kept-alive connection and read the answer."""
    sock.settimeout(timeout)
    if not _send_all(sock, data):
        return RawResponse(None, ending="reset", sent_all=False)
    return read_response(sock, method, timeout)


def _send_all(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        return False
    return True


def read_response(sock: socket.socket, method: str, timeout: float) -> RawResponse:
    """Read one answer: the headers, then the body its framing announces.

    For HEAD, the body should be empty whatever the headers say; anything
    the server sends after the headers before it closes the connection is
    returned as ``body``, so that a stray body shows.
    """
    buffer = b""
    deadline = time.monotonic() + timeout
    ending = "eof"
    while b"\r\n\r\n" not in buffer:
        chunk, ending = _recv(sock, deadline)
        if not chunk:
            break
        buffer += chunk
    head, separator, rest = buffer.partition(b"\r\n\r\n")
    status, headers = _parse_head(head)
    if status is None or not separator:
        return RawResponse(status, headers, b"", ending)
    response = RawResponse(status, headers)
    if method == "HEAD":
        # Wait for the server to close (it was asked to), and keep what it sent.
        stray_deadline = min(deadline, time.monotonic() + STRAY_BODY_WAIT)
        ending = "complete"
        while len(rest) < MAX_READ:
            chunk, how = _recv(sock, stray_deadline)
            if not chunk:
                ending = "complete" if how == "timeout" else how
                break
            rest += chunk
        return RawResponse(status, headers, rest, ending)
    if status < 200 or status in (204, 304):
        return RawResponse(status, headers, rest, "complete")
    length = response.header("content-length")
    if length is not None and length.strip().isdigit():
        wanted = int(length)
        while len(rest) < wanted:
            chunk, ending = _recv(sock, deadline)
            if not chunk:
                return RawResponse(status, headers, rest, ending)
            rest += chunk
        return RawResponse(status, headers, rest[:wanted], "complete")
    if "chunked" in (response.header("transfer-encoding") or "").lower():
        return _read_chunked(sock, status, headers, rest, deadline)
    while len(rest) < MAX_READ:
        chunk, ending = _recv(sock, deadline)
        if not chunk:
            break
        rest += chunk
    return RawResponse(status, headers, rest, ending)


def _read_chunked(
    sock: socket.socket,
    status: int,
    headers: list[tuple[str, str]],
    rest: bytes,
    deadline: float,
) -> RawResponse:
    body = b""
    ending = "eof"
    while True:
        while b"\r\n" not in rest:
            chunk, ending = _recv(sock, deadline)
            if not chunk:
                return RawResponse(status, headers, body, ending)
            rest += chunk
        size_line, _, rest = rest.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
        except ValueError:
            return RawResponse(status, headers, body, "malformed")
        if size == 0:
            # The last chunk; the trailer section ends with an empty line.
            while not (rest.startswith(b"\r\n") or b"\r\n\r\n" in rest):
                chunk, ending = _recv(sock, deadline)
                if not chunk:
                    return RawResponse(status, headers, body, ending)
                rest += chunk
            return RawResponse(status, headers, body, "complete")
        while len(rest) < size + 2:
            chunk, ending = _recv(sock, deadline)
            if not chunk:
                return RawResponse(status, headers, body + rest, ending)
            rest += chunk
        body += rest[:size]
        rest = rest[size + 2 :]


def _recv(sock: socket.socket, deadline: float) -> tuple[bytes, str]:
    """Read what is there; ``b""`` with ``"eof"``, ``"reset"`` or ``"timeout"`` at the end."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return b"", "timeout"
    sock.settimeout(remaining)
    try:
        chunk = sock.recv(65536)
    except TimeoutError:
        return b"", "timeout"
    except (ConnectionResetError, BrokenPipeError):
        return b"", "reset"
    return chunk, "data" if chunk else "eof"


def _parse_head(head: bytes) -> tuple[int | None, list[tuple[str, str]]]:
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return None, []
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if colon:
            headers.append(
                (name.strip().lower().decode("latin-1"), value.strip().decode("latin-1"))
            )
    return int(parts[1]), headers
