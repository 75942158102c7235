"""FileResponse: send a file from disk, with validators, 304s and byte ranges.

Re-exported as ``carboy.responses.FileResponse``. The file is read in chunks
in worker threads, so a large file neither blocks the event loop nor sits
whole in memory.
"""

from __future__ import annotations

import mimetypes
import os
import re
import secrets
import stat
from collections.abc import Mapping
from email.utils import formatdate, mktime_tz, parsedate_tz
from itertools import pairwise
from typing import Literal, NamedTuple
from urllib.parse import quote

import anyio

from carboy.datastructures import Headers, MutableHeaders
from carboy.responses import PlainTextResponse, Response, _content_type
from carboy.types import Receive, Scope, Send

__all__ = ["FileResponse"]

# Types this module states itself, consulted before ``mimetypes``: the
# platform's registry differs between machines (a Windows registry entry can
# map .js to text/plain), and browsers refuse scripts, styles and
# WebAssembly served under a wrong type once nosniff is on.
_MEDIA_TYPES = {
    ".css": "text/css",
    # RFC 9239: text/javascript is the one JavaScript media type.
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".wasm": "application/wasm",
    # RFC 8081 registers the font/ types.
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
}

# mimetypes reads "x.tar.gz" as a tar archive with a gzip encoding. Sent
# without Content-Encoding, the bytes are the compressed file, so they are
# labelled as the compressed format.
_ENCODED_MEDIA_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}

_DEFAULT_MEDIA_TYPE = "application/octet-stream"

# RFC 9110 14.2 lets a server ignore a Range header asking for many ranges,
# a common denial-of-service pattern; past this count the whole file is sent.
_MAX_RANGES = 16

# Offsets longer than this many digits are beyond any file, and parsing
# them is skipped (Python refuses int() of very long digit strings).
_MAX_OFFSET_DIGITS = 18
_HUGE_OFFSET = 10**_MAX_OFFSET_DIGITS

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_ENTITY_TAG = re.compile(r'(W/)?"([^"]*)"')
_RANGE_SPEC = re.compile(r"([0-9]*)-([0-9]*)")
_CONTROL_CHARACTERS = dict.fromkeys([*range(0x20), 0x7F])

# The headers a 304 drops: RFC 9110 15.4.5 keeps ETag, Cache-Control,
# Expires, Vary and the like, and advises against representation metadata.
_NOT_IN_304 = frozenset(
    {
        b"content-length",
        b"content-type",
        b"content-disposition",
        b"content-encoding",
        b"content-language",
        b"content-range",
    }
)


class FileResponse(Response):
    """Send a file, answering conditional and range requests.

    The response carries Content-Length, Content-Type, Last-Modified, a strong
    ETag (from the file's modification time and size) and, for a 200,
    ``Accept-Ranges: bytes``. When sent, it answers ``If-None-Match`` and
    ``If-Modified-Since`` with 304, failed ``If-Match`` and
    ``If-Unmodified-Since`` with 412, and ``Range`` on a GET with 206 (one
    range, or ``multipart/byteranges`` for several) or 416.

    Args:
        path: The file to send. It is read when the response is sent.
        status_code: The HTTP status. Conditions and ranges apply only to a
            200; any other status sends the whole file as it is.
        headers: Extra headers. A Content-Length among them is replaced by
            the file's size.
        media_type: The Content-Type; guessed from ``filename``, else from
            ``path``, by default (``application/octet-stream`` when unknown).
        filename: Sets ``Content-Disposition`` with this name (RFC 6266).
            Non-ASCII names are sent in ``filename*`` as well.
        content_disposition_type: ``"attachment"`` (download) or
            ``"inline"`` (show in the browser); used with ``filename`` only.
        stat_result: The file's ``os.stat`` result, if already known; the
            file is not stat'ed again.
        chunk_size: How many bytes are read and sent at a time.

    Raises:
        ValueError: if ``content_disposition_type`` is not an HTTP token.

    Example:
        ``FileResponse("reports/2024.pdf", filename="report.pdf")``
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        filename: str | None = None,
        content_disposition_type: str = "attachment",
        stat_result: os.stat_result | None = None,
        chunk_size: int = 64 * 1024,
    ) -> None:
        # The base __init__ renders a body and counts it; a file's length is
        # known only from its stat, so the headers are built here instead.
        self.path = path
        self.status_code = status_code
        self.filename = filename
        self.stat_result = stat_result
        self.chunk_size = chunk_size
        self.media_type = media_type or _guess_media_type(filename or os.fspath(path))
        self.body = b""
        self._cookies = None
        self.raw_headers = []
        extra = MutableHeaders(raw=self.raw_headers)
        if headers:
            for key, value in headers.items():
                extra.append(key, value)
        del extra["content-length"]
        extra.setdefault(
            "content-type", _content_type(self.media_type, self.charset).decode("latin-1")
        )
        if filename is not None:
            if _TOKEN.fullmatch(content_disposition_type) is None:
                raise ValueError(
                    f"content_disposition_type {content_disposition_type!r} is not an HTTP "
                    "token, so it cannot head a Content-Disposition header. "
                    "Use 'attachment' or 'inline'."
                )
            extra["content-disposition"] = _content_disposition(content_disposition_type, filename)
        if stat_result is not None:
            self.raw_headers.extend(self._stat_headers(self.raw_headers, stat_result))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the file, or the 304, 206, 412 or 416 the request calls for (ASGI)."""
        file_stat = self.stat_result
        headers = list(self._headers_for(scope))
        if file_stat is None:
            try:
                file_stat = await anyio.to_thread.run_sync(os.stat, self.path)
            except (FileNotFoundError, NotADirectoryError):
                await self._send_plain(scope, receive, send, 404, "File not found.")
                return
            headers.extend(self._stat_headers(headers, file_stat))
        if not stat.S_ISREG(file_stat.st_mode):
            raise RuntimeError(
                f"FileResponse cannot send {os.fspath(self.path)!r}: it is not a regular file "
                "(a directory, device or pipe). Pass the path of a regular file."
            )
        size = file_stat.st_size
        method = scope.get("method", "GET")
        headers = [pair for pair in headers if pair[0] != b"content-length"]

        if self.status_code != 200:
            # RFC 9110 13.2.1 and 14.2: preconditions and ranges are for
            # what would otherwise be a 200.
            headers.append((b"content-length", str(size).encode()))
            await self._send_file(scope, receive, send, self.status_code, headers, [])
            return

        request = Headers(scope=scope)
        etag = _header(headers, b"etag")
        last_modified = _parse_http_date(_header(headers, b"last-modified"))
        failure = _failed_precondition(request, method, etag, last_modified)
        if isinstance(failure, str):
            await self._send_plain(scope, receive, send, 412, failure)
            return
        if failure == 304:
            kept = [pair for pair in headers if pair[0] not in _NOT_IN_304]
            await send({"type": "http.response.start", "status": 304, "headers": kept})
            await send({"type": "http.response.body", "body": b""})
            return

        ranges = None
        range_header = request.get("range")
        # RFC 9110 14.2: GET is the one method range handling is defined for.
        if method == "GET" and range_header is not None and size > 0:
            if_range = request.get("if-range")
            if if_range is None or _if_range_holds(if_range, etag, last_modified):
                ranges = _parse_ranges(range_header, size)
        if ranges is None:
            headers.append((b"content-length", str(size).encode()))
            await self._send_file(scope, receive, send, 200, headers, [])
            return
        if not ranges:
            # RFC 9110 15.5.17: a 416 names the current length.
            await self._send_plain(
                scope,
                receive,
                send,
                416,
                f"The requested range is not satisfiable: the file is {size} bytes long.",
                {"content-range": f"bytes */{size}"},
            )
            return
        if len(ranges) == 1:
            start, end = ranges[0]
            headers.append((b"content-length", str(end - start + 1).encode()))
            headers.append((b"content-range", f"bytes {start}-{end}/{size}".encode()))
            await self._send_file(scope, receive, send, 206, headers, ranges)
            return
        await self._send_multipart(scope, receive, send, headers, ranges, size)

    def _stat_headers(
        self, headers: list[tuple[bytes, bytes]], file_stat: os.stat_result
    ) -> list[tuple[bytes, bytes]]:
        # Headers given by the caller win: an ETag or Last-Modified set by
        # hand is the one conditions are checked against.
        names = {name for name, _ in headers}
        added = [(b"content-length", str(file_stat.st_size).encode())]
        if b"last-modified" not in names:
            # RFC 9110 8.8.2, in the IMF-fixdate form of 5.6.7.
            added.append((b"last-modified", formatdate(file_stat.st_mtime, usegmt=True).encode()))
        if b"etag" not in names:
            etag = f'"{file_stat.st_mtime_ns:x}-{file_stat.st_size:x}"'
            added.append((b"etag", etag.encode()))
        if self.status_code == 200 and b"accept-ranges" not in names:
            added.append((b"accept-ranges", b"bytes"))
        return added

    async def _send_plain(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status_code: int,
        text: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        response = PlainTextResponse(text, status_code, headers)
        response.raw_headers.extend(
            pair for pair in self._headers_for(scope) if pair[0] == b"set-cookie"
        )
        await response(scope, receive, send)

    async def _send_file(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status_code: int,
        headers: list[tuple[bytes, bytes]],
        ranges: list[tuple[int, int]],
    ) -> None:
        if scope.get("method") == "HEAD":
            await send({"type": "http.response.start", "status": status_code, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        file = await self._open(scope, receive, send)
        if file is None:
            return
        async with file:
            await send({"type": "http.response.start", "status": status_code, "headers": headers})
            body = _Body(send)
            if ranges:
                start, end = ranges[0]
                await self._copy(file, start, end - start + 1, body)
            else:
                await self._copy(file, 0, None, body)
            await body.end()

    async def _send_multipart(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: list[tuple[bytes, bytes]],
        ranges: list[tuple[int, int]],
        size: int,
    ) -> None:
        # RFC 9110 14.6: each part has its own Content-Type and Content-Range;
        # the boundary is random, so no file content can contain it by chance.
        boundary = secrets.token_hex(16)
        content_type = _header(headers, b"content-type")
        type_line = "" if content_type is None else f"Content-Type: {content_type}\r\n"
        part_heads = [
            f"--{boundary}\r\n{type_line}Content-Range: bytes {start}-{end}/{size}\r\n\r\n".encode(
                "latin-1"
            )
            for start, end in ranges
        ]
        closing = f"--{boundary}--\r\n".encode()
        length = len(closing) + sum(
            len(head) + (end - start + 1) + 2
            for head, (start, end) in zip(part_heads, ranges, strict=True)
        )
        headers = [pair for pair in headers if pair[0] != b"content-type"]
        headers.append((b"content-type", f"multipart/byteranges; boundary={boundary}".encode()))
        headers.append((b"content-length", str(length).encode()))
        file = await self._open(scope, receive, send)
        if file is None:
            return
        async with file:
            await send({"type": "http.response.start", "status": 206, "headers": headers})
            body = _Body(send)
            for head, (start, end) in zip(part_heads, ranges, strict=True):
                await body.add(head)
                await self._copy(file, start, end - start + 1, body)
                await body.add(b"\r\n")
            await body.add(closing)
            await body.end()

    async def _open(
        self, scope: Scope, receive: Receive, send: Send
    ) -> anyio.AsyncFile[bytes] | None:
        # Opened before the response starts, so a file removed since its stat
        # still gets a clean 404 rather than a broken 200.
        try:
            return await anyio.open_file(self.path, "rb")
        except (FileNotFoundError, NotADirectoryError):
            await self._send_plain(scope, receive, send, 404, "File not found.")
            return None

    async def _copy(
        self, file: anyio.AsyncFile[bytes], start: int, length: int | None, body: _Body
    ) -> None:
        # length None: to the end of the file.
        if start:
            await file.seek(start)
        while length is None or length > 0:
            size = self.chunk_size if length is None else min(self.chunk_size, length)
            chunk = await file.read(size)
            if not chunk:
                # The file shrank since its stat; the server sees the short
                # body against Content-Length and ends the connection.
                return
            if length is not None:
                length -= len(chunk)
            await body.add(chunk)


class _Body:
    """Send a body piece by piece, holding back one piece.

    The held piece goes out when the next one arrives, so the last carries
    ``more_body=False`` without an extra empty message.
    """

    __slots__ = ("_pending", "_send")

    def __init__(self, send: Send) -> None:
        self._send = send
        self._pending: bytes | None = None

    async def add(self, piece: bytes) -> None:
        if self._pending is not None:
            await self._send(
                {"type": "http.response.body", "body": self._pending, "more_body": True}
            )
        self._pending = piece

    async def end(self) -> None:
        body = self._pending or b""
        await self._send({"type": "http.response.body", "body": body, "more_body": False})


def _guess_media_type(name: str) -> str:
    suffix = os.path.splitext(name)[1].lower()
    known = _MEDIA_TYPES.get(suffix)
    if known is not None:
        return known
    media_type, encoding = mimetypes.guess_type(name, strict=False)
    if encoding is not None:
        return _ENCODED_MEDIA_TYPES.get(encoding, _DEFAULT_MEDIA_TYPE)
    return media_type or _DEFAULT_MEDIA_TYPE


def _content_disposition(disposition_type: str, filename: str) -> str:
    # Control characters never belong in a file name, and CR or LF would
    # split the header, so they are dropped.
    name = filename.translate(_CONTROL_CHARACTERS)
    # RFC 6266 appendix D: the quoted fallback is plain ASCII without '"',
    # '\' or '%', which user agents escape or decode inconsistently.
    fallback = "".join(char if " " <= char <= "~" and char not in '"\\%' else "_" for char in name)
    value = f'{disposition_type}; filename="{fallback}"'
    if fallback != name:
        # RFC 8187: the exact name, UTF-8 and percent-encoded, for user agents
        # that read filename* (all current ones do).
        value += f"; filename*=UTF-8''{quote(name, safe='!#$&+^`|')}"
    return value


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


class _EntityTag(NamedTuple):
    is_weak: bool
    opaque: str


def _entity_tags(value: str) -> list[_EntityTag]:
    return [_EntityTag(bool(weak), opaque) for weak, opaque in _ENTITY_TAG.findall(value)]


def _strong_match(tags: list[_EntityTag], etag: str | None) -> bool:
    # RFC 9110 8.8.3.2: strong comparison needs both tags strong and equal.
    if etag is None:
        return False
    current = _entity_tags(etag)
    if len(current) != 1 or current[0].is_weak:
        return False
    return any(not tag.is_weak and tag.opaque == current[0].opaque for tag in tags)


def _weak_match(tags: list[_EntityTag], etag: str | None) -> bool:
    # RFC 9110 8.8.3.2: weak comparison ignores the W/ marks.
    if etag is None:
        return False
    current = _entity_tags(etag)
    if len(current) != 1:
        return False
    return any(tag.opaque == current[0].opaque for tag in tags)


def _parse_http_date(value: str | None) -> int | None:
    # RFC 9110 5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms,
    # all of which parsedate_tz reads. Anything else is not a date.
    if value is None:
        return None
    try:
        parsed = parsedate_tz(value)
        if parsed is None:
            return None
        # HTTP dates are always GMT; asctime carries no zone.
        return mktime_tz((*parsed[:9], parsed[9] or 0))
    except (ValueError, OverflowError, IndexError, TypeError):
        return None


def _single_date(request: Headers, name: str) -> int | None:
    # RFC 9110 13.1.3, 13.1.4: a date header with more than one member is
    # ignored, as is one that is not a valid date.
    values = request.getlist(name)
    return _parse_http_date(values[0]) if len(values) == 1 else None


def _failed_precondition(
    request: Headers, method: str, etag: str | None, last_modified: int | None
) -> Literal[304] | str | None:
    """Return 304, a 412 message, or None when every precondition holds.

    RFC 9110 13.2.2 fixes the order: If-Match, else If-Unmodified-Since; then
    If-None-Match, else If-Modified-Since.
    """
    if_match = request.getlist("if-match")
    if if_match:
        value = ", ".join(if_match)
        if value.strip() != "*" and not _strong_match(_entity_tags(value), etag):
            return (
                "The file does not match If-Match: it has changed since that ETag was "
                "issued. Fetch it again to get its current ETag."
            )
    else:
        since = _single_date(request, "if-unmodified-since")
        if since is not None and last_modified is not None and last_modified > since:
            return (
                "The file has changed since the If-Unmodified-Since date. "
                "Fetch it again to get its current version."
            )
    is_safe = method in ("GET", "HEAD")
    if_none_match = request.getlist("if-none-match")
    if if_none_match:
        value = ", ".join(if_none_match)
        if value.strip() == "*" or _weak_match(_entity_tags(value), etag):
            if is_safe:
                return 304
            return (
                "The file matches If-None-Match, so the request's condition does not hold. "
                "Remove If-None-Match to act on the current file."
            )
    elif is_safe:
        since = _single_date(request, "if-modified-since")
        if since is not None and last_modified is not None and last_modified <= since:
            return 304
    return None


def _if_range_holds(value: str, etag: str | None, last_modified: int | None) -> bool:
    # RFC 9110 13.1.5: an entity tag must match strongly, a date exactly;
    # anything else means the client's copy is stale and gets the whole file.
    value = value.strip()
    if value.startswith(('"', "W/")):
        tags = _entity_tags(value)
        return len(tags) == 1 and _strong_match(tags, etag)
    date = _parse_http_date(value)
    return date is not None and last_modified is not None and date == last_modified


def _parse_ranges(value: str, size: int) -> list[tuple[int, int]] | None:
    """Return the ranges to send, [] when none is satisfiable, or None to ignore.

    RFC 9110 14.1.1 and 14.2: a header with another unit or a syntax error is
    ignored, as is one with more than ``_MAX_RANGES`` ranges. Overlapping
    ranges are sorted and merged, so the parts never add up to more than the
    file.
    """
    unit, equals, specs = value.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    # RFC 9110 5.6.1: empty list elements are allowed and skipped.
    elements = [element.strip() for element in specs.split(",")]
    elements = [element for element in elements if element]
    if not elements or len(elements) > _MAX_RANGES:
        return None
    ranges: list[tuple[int, int]] = []
    for element in elements:
        match = _RANGE_SPEC.fullmatch(element)
        if match is None:
            return None
        first, last = match.groups()
        if first:
            start = _offset(first)
            end = _offset(last) if last else size - 1
            if last and end < start:
                return None
            if start >= size:
                continue
            ranges.append((start, min(end, size - 1)))
        elif last:
            suffix = _offset(last)
            if suffix:
                ranges.append((max(0, size - suffix), size - 1))
        else:
            return None
    ordered = sorted(ranges)
    if any(later[0] <= earlier[1] for earlier, later in pairwise(ordered)):
        merged = [ordered[0]]
        for start, end in ordered[1:]:
            last_start, last_end = merged[-1]
            if start <= last_end + 1:
                merged[-1] = (last_start, max(last_end, end))
            else:
                merged.append((start, end))
        return merged
    return ranges


def _offset(digits: str) -> int:
    return int(digits) if len(digits) <= _MAX_OFFSET_DIGITS else _HUGE_OFFSET
