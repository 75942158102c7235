"""Compress response bodies with gzip for clients that accept it."""

from __future__ import annotations

import re
import zlib

from carboy.datastructures import Headers, MutableHeaders
from carboy.exceptions import ImproperlyConfigured
from carboy.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["GZipMiddleware"]

# RFC 9110 12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ).
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")

# zlib writes the gzip container (RFC 1952) when its window bits are 16 + 9..15.
_GZIP_WBITS = 16 + zlib.MAX_WBITS


class GZipMiddleware:
    """Compress HTTP responses with gzip when the client's Accept-Encoding allows it.

    A response is left as it is when it is smaller than ``minimum_size``,
    already has a Content-Encoding, is a ``text/event-stream`` (each event
    must reach the client at once), is a partial (206) response, or has no
    body by its status (204, 304) or its method (HEAD).

    A body sent in one message gets an exact Content-Length, and is sent
    uncompressed if gzip would not make it smaller. A streamed body (ASGI
    ``more_body=True``) is compressed chunk by chunk and flushed after each
    chunk, so the client sees each part as soon as the app sends it; its
    Content-Length is dropped, as its compressed length is not known up
    front.

    Every response that would be compressed for a client accepting gzip
    gets ``Vary: Accept-Encoding``, compressed or not, so that a cache does
    not serve one client's encoding to another. A strong ETag becomes weak
    on a compressed response, since the bytes are no longer those it names
    (RFC 9110 8.8.3).

    Args:
        app: The ASGI app whose responses to compress.
        minimum_size: The size in bytes under which a body is not worth
            compressing.
        compresslevel: The zlib level, from 1 (fastest) to 9 (smallest).

    Raises:
        ImproperlyConfigured: if ``minimum_size`` is negative or
            ``compresslevel`` is not between 1 and 9.

    Example::

        app = GZipMiddleware(app, minimum_size=1000)
    """

    def __init__(self, app: ASGIApp, *, minimum_size: int = 500, compresslevel: int = 6) -> None:
        if minimum_size < 0:
            raise ImproperlyConfigured(
                f"minimum_size is {minimum_size}, but a size cannot be negative. "
                "Pass 0 to compress every body, or a size in bytes."
            )
        if not 1 <= compresslevel <= 9:
            raise ImproperlyConfigured(
                f"compresslevel is {compresslevel}, but zlib levels go from 1 (fastest) "
                "to 9 (smallest). Pass a level in that range; 6 is the usual balance."
            )
        self.app = app
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, compressing its response on the way out."""
        if scope["type"] != "http" or scope["method"] == "HEAD":
            await self.app(scope, receive, send)
            return
        accepts_gzip = _accepts_gzip(Headers(scope=scope).getlist("accept-encoding"))
        responder = _GZipResponder(self, send, accepts_gzip=accepts_gzip)
        await self.app(scope, receive, responder.send)


class _GZipResponder:
    """The ``send`` of one response: holds back its start until the first body
    message shows whether, and how, to compress it."""

    def __init__(self, middleware: GZipMiddleware, send: Send, *, accepts_gzip: bool) -> None:
        self.middleware = middleware
        self.downstream = send
        self.accepts_gzip = accepts_gzip
        self.start: Message | None = None
        self.compressor: zlib._Compress | None = None
        self.is_passing_through = False

    async def send(self, message: Message) -> None:
        if self.is_passing_through:
            await self.downstream(message)
        elif message["type"] == "http.response.start":
            self.start = message
        elif message["type"] != "http.response.body":
            # Trailers, or an extension such as http.response.pathsend whose
            # body never passes through here: nothing to compress.
            await self._pass_through(message)
        elif self.compressor is not None:
            await self._send_compressed_chunk(message, self.compressor)
        else:
            await self._send_first_body(message)

    async def _pass_through(self, message: Message) -> None:
        self.is_passing_through = True
        if self.start is not None:
            await self.downstream(self.start)
        await self.downstream(message)

    async def _send_first_body(self, message: Message) -> None:
        if self.start is None:
            raise RuntimeError(
                "The app sent a response body before http.response.start. Send the "
                "start message, with the status and headers, first (ASGI HTTP spec)."
            )
        body: bytes = message.get("body", b"")
        is_streamed: bool = message.get("more_body", False)
        headers = MutableHeaders(raw=list(self.start.get("headers", [])))
        if not _is_compressible(self.start["status"], headers) or (
            not is_streamed and len(body) < self.middleware.minimum_size
        ):
            await self._pass_through(message)
            return

        headers.add_vary_header("Accept-Encoding")
        if not self.accepts_gzip:
            self.start = {**self.start, "headers": headers.raw}
            await self._pass_through(message)
            return

        compressor = zlib.compressobj(self.middleware.compresslevel, zlib.DEFLATED, _GZIP_WBITS)
        if is_streamed:
            del headers["content-length"]
            _mark_gzipped(headers)
            self.compressor = compressor
            await self.downstream({**self.start, "headers": headers.raw})
            await self._send_compressed_chunk(message, compressor)
            return

        compressed = compressor.compress(body) + compressor.flush(zlib.Z_FINISH)
        if len(compressed) >= len(body):
            self.start = {**self.start, "headers": headers.raw}
            await self._pass_through(message)
            return
        _mark_gzipped(headers)
        headers["content-length"] = str(len(compressed))
        self.start = {**self.start, "headers": headers.raw}
        await self._pass_through({"type": "http.response.body", "body": compressed})

    async def _send_compressed_chunk(self, message: Message, compressor: zlib._Compress) -> None:
        chunk: bytes = message.get("body", b"")
        more_body: bool = message.get("more_body", False)
        if not more_body:
            data = compressor.compress(chunk) + compressor.flush(zlib.Z_FINISH)
        elif chunk:
            # A sync flush ends the deflate block so that the client can
            # decode everything sent so far, at the cost of a few bytes.
            data = compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)
        else:
            data = b""
        await self.downstream({"type": "http.response.body", "body": data, "more_body": more_body})


def _accepts_gzip(values: list[str]) -> bool:
    # RFC 9110 12.5.3 reads a missing Accept-Encoding as "anything goes", but
    # clients that send none (curl, many libraries) often cannot decode gzip,
    # so only an explicit gzip, x-gzip or "*" with a non-zero weight counts.
    gzip_weight: float | None = None
    any_weight: float | None = None
    for element in ",".join(values).split(","):
        coding, *parameters = element.split(";")
        coding = coding.strip().lower()
        weight = _weight(parameters)
        if not coding or weight is None:
            continue
        # RFC 9110 8.4.1.3: x-gzip is to be treated as gzip.
        if coding in ("gzip", "x-gzip"):
            gzip_weight = weight if gzip_weight is None else max(gzip_weight, weight)
        elif coding == "*":
            any_weight = weight
    # RFC 9110 12.5.3: "*" only speaks for codings the field does not name.
    weight = gzip_weight if gzip_weight is not None else any_weight
    return weight is not None and weight > 0


def _weight(parameters: list[str]) -> float | None:
    weight = 1.0
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "q":
            continue
        value = value.strip()
        if not _QVALUE.fullmatch(value):
            # A weight that does not parse cannot be honoured either way;
            # ignoring the coding never sends a client what it cannot read.
            return None
        weight = float(value)
    return weight


def _is_compressible(status: int, headers: Headers) -> bool:
    # RFC 9110 15.3.5 and 15.4.5: 204 and 304 have no content. A 206's
    # Content-Range counts bytes of the uncompressed body (RFC 9110 14.4).
    if status < 200 or status in (204, 206, 304) or "content-range" in headers:
        return False
    if "content-encoding" in headers:
        return False
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type != "text/event-stream"


def _mark_gzipped(headers: MutableHeaders) -> None:
    headers["content-encoding"] = "gzip"
    etag = headers.get("etag")
    if etag is not None and not etag.startswith("W/"):
        headers["etag"] = "W/" + etag
