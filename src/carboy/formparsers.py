"""Form bodies: ``application/x-www-form-urlencoded`` and ``multipart/form-data``.

``parse_form`` reads a request body chunk by chunk with python-multipart and
returns a ``FormData`` whose values are ``str`` (text fields) or ``UploadFile``
(files). Text fields are kept in memory; files are spooled, in memory up to
``FormLimits.spool_max_size`` and in a temporary file on disk past it.

A body the client got wrong ends in an ``HTTPException``, never a 500:

=======  =====================================================================
status   when
=======  =====================================================================
415      the Content-Type is neither of the two form types
400      multipart without a boundary, or with one longer than python-multipart
         accepts
400      a malformed multipart body, or one that ends before its closing
         boundary
400      a part without a Content-Disposition header, or without a ``name``
400      more text fields than ``max_fields``, or more files than ``max_files``
400      a text field that is not valid in its charset (UTF-8 unless the part
         says otherwise), or whose charset is unknown
413      a text field larger than ``max_part_size``
413      a file larger than ``max_file_size``
=======  =====================================================================

A count past its limit is 400, since what is refused is the form's shape;
a size past its limit is 413, which RFC 9110 15.5.14 defines for content
larger than the server will process. The body's overall size limit is the
caller's: it bounds ``stream`` and raises its own 413.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, fields
from tempfile import SpooledTemporaryFile
from typing import Any
from urllib.parse import unquote_to_bytes

import anyio
import anyio.to_thread
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import (
    MAX_BOUNDARY_LENGTH,
    MultipartParser,
    QuerystringParser,
    parse_options_header,
)

from carboy.datastructures import Headers, ImmutableMultiDict
from carboy.exceptions import HTTPException

__all__ = ["FormData", "FormLimits", "UploadFile", "parse_form"]

_URLENCODED = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
_FORM_TYPES = f"{_URLENCODED} or {_MULTIPART}"


@dataclass(frozen=True, slots=True)
class FormLimits:
    """The limits a form body must stay within.

    Args:
        max_fields: The most text fields a form may have (400 past it).
        max_files: The most files a multipart form may have (400 past it).
        max_part_size: The most bytes one text field may have, as sent (still
            percent-encoded in a urlencoded body), since it is kept in memory
            (413 past it). In a urlencoded body it bounds the name too.
        max_file_size: The most bytes one file may have (413 past it); ``None``
            leaves files bounded only by the body size limit.
        spool_max_size: The most bytes of one file kept in memory; past it the
            file is moved to a temporary file on disk.

    Raises:
        ValueError: if a limit is negative, or ``spool_max_size`` is 0.

    Example:
        ``FormLimits(max_files=5, max_file_size=10 * 1024 * 1024)``
    """

    max_fields: int = 1000
    max_files: int = 100
    max_part_size: int = 1024 * 1024
    max_file_size: int | None = None
    spool_max_size: int = 1024 * 1024

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if value is not None and value < 0:
                raise ValueError(
                    f"FormLimits.{field.name} is {value}, but a limit cannot be negative. "
                    "Pass 0 or more."
                )
        if self.spool_max_size == 0:
            # SpooledTemporaryFile reads max_size=0 as "never roll to disk",
            # which would keep every upload in memory whatever its size.
            raise ValueError(
                "FormLimits.spool_max_size is 0, which would keep every upload in memory. "
                "Pass 1 or more."
            )


class UploadFile:
    """A file uploaded in a multipart form.

    Its content lives in ``file``, a ``SpooledTemporaryFile`` kept in memory
    up to ``spool_max_size`` bytes and moved to disk past it. The async
    methods run the file's I/O in a worker thread once it is on disk, so that
    they never block the event loop; in memory they run directly.

    Args:
        filename: The name the client gave the file. It is not checked: never
            use it as a path without cleaning it.
        headers: The part's headers.
        spool_max_size: The most bytes kept in memory before the file moves
            to disk.

    Example:
        ``data = await form["avatar"].read()``
    """

    __slots__ = ("_spool_max_size", "file", "filename", "headers", "size")

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        # Lets a handler or form model declare `avatar: UploadFile`: the value
        # is checked to be an upload, and documented as binary.
        from pydantic_core import core_schema

        return core_schema.is_instance_schema(cls)

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, str]:
        return {"type": "string", "format": "binary"}

    def __init__(
        self,
        filename: str | None = None,
        *,
        headers: Headers | None = None,
        spool_max_size: int = 1024 * 1024,
    ) -> None:
        self.filename = filename
        self.headers = Headers() if headers is None else headers
        self.size = 0
        # The file outlives this call, so no context manager: close() ends it.
        self.file: SpooledTemporaryFile[bytes] = SpooledTemporaryFile(  # noqa: SIM115
            max_size=spool_max_size
        )
        self._spool_max_size = spool_max_size

    @property
    def content_type(self) -> str | None:
        """The part's Content-Type, such as ``image/png``; ``None`` if it had none."""
        return self.headers.get("content-type")

    @property
    def is_on_disk(self) -> bool:
        """Whether the content has moved from memory to a temporary file on disk."""
        # ``_rolled`` is CPython's private flag, absent from typeshed; reading
        # it through getattr keeps mypy strict, and a missing flag counts as
        # on disk so that I/O goes to a thread rather than risk blocking.
        rolled: bool = getattr(self.file, "_rolled", True)
        return rolled

    async def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes from the current position; all of them if -1."""
        if self.is_on_disk:
            return await anyio.to_thread.run_sync(self.file.read, size)
        return self.file.read(size)

    async def write(self, data: bytes) -> None:
        """Write ``data`` at the current position and add its length to ``size``."""
        # The write that crosses spool_max_size copies everything to a new
        # disk file, so it goes to a thread as well as those that follow.
        if self.is_on_disk or self.file.tell() + len(data) > self._spool_max_size:
            await anyio.to_thread.run_sync(self.file.write, data)
        else:
            self.file.write(data)
        self.size += len(data)

    async def seek(self, offset: int) -> None:
        """Move to byte ``offset`` from the start of the file."""
        if self.is_on_disk:
            await anyio.to_thread.run_sync(self.file.seek, offset)
        else:
            self.file.seek(offset)

    async def close(self) -> None:
        """Close the file, deleting its temporary file if it has one."""
        if self.is_on_disk:
            await anyio.to_thread.run_sync(self.file.close)
        else:
            self.file.close()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(filename={self.filename!r}, "
            f"content_type={self.content_type!r}, size={self.size!r})"
        )


class FormData(ImmutableMultiDict):
    """A parsed form: each value is a ``str`` or, for a file, an ``UploadFile``.

    ``form["name"]`` gives the last value of a name, ``form.getlist("name")``
    all of them. Close it (``await form.close()``) to delete the temporary
    files of its uploads.
    """

    __slots__ = ()

    async def close(self) -> None:
        """Close every ``UploadFile`` of the form."""
        for _, value in self.multi_items():
            if isinstance(value, UploadFile):
                await value.close()


async def parse_form(
    content_type: str, stream: AsyncIterator[bytes], limits: FormLimits
) -> FormData:
    """Parse a form body, reading ``stream`` one chunk at a time.

    Args:
        content_type: The request's Content-Type header value, parameters
            included; ``""`` if it has none.
        stream: The request body, already bounded in size by the caller.
        limits: The counts and sizes the form must stay within.

    Returns:
        The form's fields and files, in the order they were sent. The caller
        owns the files and closes them with ``await form.close()``.

    Raises:
        HTTPException: 415, 400 or 413 for a body the client got wrong; the
            module docstring lists each case. Every ``UploadFile`` created
            before the error is closed first.

    Example:
        ``form = await parse_form(content_type, request.stream(), FormLimits())``
    """
    media_type, params = parse_options_header(content_type)
    if media_type == b"application/x-www-form-urlencoded":
        return await _parse_urlencoded(stream, limits)
    if media_type == b"multipart/form-data":
        boundary = params.get(b"boundary", b"")
        if not boundary:
            raise HTTPException(
                400,
                "The multipart/form-data Content-Type has no boundary parameter, so the "
                "body cannot be split into parts. Send it as "
                "'multipart/form-data; boundary=...' with the boundary the body uses.",
            )
        return await _parse_multipart(boundary, stream, limits)
    if not media_type:
        raise HTTPException(
            415,
            "The request has no Content-Type, so its body cannot be read as a form. "
            f"Send the form as {_FORM_TYPES}.",
        )
    raise HTTPException(
        415,
        f"The content type {media_type.decode('latin-1')!r} cannot be read as a form. "
        f"Send the form as {_FORM_TYPES}.",
    )


def _too_many_fields(limits: FormLimits) -> HTTPException:
    return HTTPException(400, f"Too many form fields: the limit is {limits.max_fields}.")


def _field_too_large(limits: FormLimits) -> HTTPException:
    return HTTPException(
        413, f"A form field is larger than the limit of {limits.max_part_size} bytes."
    )


async def _parse_urlencoded(stream: AsyncIterator[bytes], limits: FormLimits) -> FormData:
    reader = _URLEncodedReader(limits)
    async for chunk in stream:
        reader.parser.write(chunk)
    reader.parser.finalize()
    return FormData(reader.items)


class _URLEncodedReader:
    """Collect the fields of a urlencoded body from QuerystringParser's callbacks."""

    def __init__(self, limits: FormLimits) -> None:
        self.items: list[tuple[str, str]] = []
        self._limits = limits
        self._name = bytearray()
        self._value = bytearray()
        # Without strict parsing QuerystringParser never raises: a lone
        # "name" is a blank field and "&&" is skipped, as browsers expect.
        self.parser = QuerystringParser(
            callbacks={
                "on_field_start": self._on_field_start,
                "on_field_name": self._on_field_name,
                "on_field_data": self._on_field_data,
                "on_field_end": self._on_field_end,
            }
        )

    def _on_field_start(self) -> None:
        if len(self.items) >= self._limits.max_fields:
            raise _too_many_fields(self._limits)
        self._name.clear()
        self._value.clear()

    def _on_field_name(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]
        if len(self._name) > self._limits.max_part_size:
            raise _field_too_large(self._limits)

    def _on_field_data(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]
        if len(self._value) > self._limits.max_part_size:
            raise _field_too_large(self._limits)

    def _on_field_end(self) -> None:
        position = len(self.items) + 1
        try:
            name = _unquote_plus(self._name)
        except UnicodeDecodeError:
            raise HTTPException(
                400,
                f"The name of form field {position} is not valid UTF-8 once percent-decoded. "
                "Encode the form as UTF-8.",
            ) from None
        try:
            value = _unquote_plus(self._value)
        except UnicodeDecodeError:
            raise HTTPException(
                400,
                f"The form field {name!r} is not valid UTF-8 once percent-decoded. "
                "Encode the form as UTF-8.",
            ) from None
        _refuse_nul(name, value)
        self.items.append((name, value))


def _refuse_nul(name: str, value: str) -> None:
    # No database column stores a NUL, and C libraries cut text at it: a text
    # field holding one is refused here, before any code can pass it on.
    # Uploaded files are bytes, and may hold anything.
    if "\x00" in value or "\x00" in name:
        shown = name.replace("\x00", "%00")[:100]
        raise HTTPException(
            400,
            f"The form field {shown!r} contains a NUL character, which this site does not accept.",
        )


def _unquote_plus(raw: bytearray) -> str:
    # HTML's urlencoded serializer writes a space as "+", and percent-encodes
    # a literal "+", so replacing before unquoting is exact.
    return unquote_to_bytes(bytes(raw).replace(b"+", b" ")).decode("utf-8")


async def _parse_multipart(
    boundary: bytes, stream: AsyncIterator[bytes], limits: FormLimits
) -> FormData:
    reader = _MultipartReader(boundary, limits)
    try:
        async for chunk in stream:
            try:
                reader.parser.write(chunk)
            except FormParserError as exc:
                raise HTTPException(
                    400,
                    "The multipart body is malformed: it does not start with the boundary "
                    "of the Content-Type header, or a part's headers are invalid.",
                ) from exc
            # The parser's callbacks are synchronous, so file data waits here
            # to be written with the async UploadFile.write.
            for upload, data in reader.writes:
                await upload.write(data)
            reader.writes.clear()
        reader.parser.finalize()
        # MultipartParser.finalize does not check that the closing boundary
        # was seen, so a cut-off body would otherwise pass as a shorter form.
        if not reader.is_complete:
            raise HTTPException(
                400, "The multipart body is malformed: it ends before the closing boundary."
            )
        for upload in reader.uploads:
            await upload.seek(0)
    except BaseException:
        # Shielded, so that a cancelled request still deletes its temporary files.
        with anyio.CancelScope(shield=True):
            for upload in reader.uploads:
                await upload.close()
        raise
    return FormData(reader.items)


class _MultipartReader:
    """Collect the parts of a multipart body from MultipartParser's callbacks.

    Raises:
        HTTPException: from ``parser.write``, for a part that breaks a rule or
            a limit.
    """

    def __init__(self, boundary: bytes, limits: FormLimits) -> None:
        self.items: list[tuple[str, str | UploadFile]] = []
        self.uploads: list[UploadFile] = []
        self.writes: list[tuple[UploadFile, bytes]] = []
        self.is_complete = False
        self._limits = limits
        self._field_count = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._name = ""
        self._charset = "UTF-8"
        self._upload: UploadFile | None = None
        self._data = bytearray()
        self._size = 0
        try:
            self.parser = MultipartParser(
                boundary,
                callbacks={
                    "on_part_begin": self._on_part_begin,
                    "on_header_field": self._on_header_field,
                    "on_header_value": self._on_header_value,
                    "on_header_end": self._on_header_end,
                    "on_headers_finished": self._on_headers_finished,
                    "on_part_data": self._on_part_data,
                    "on_part_end": self._on_part_end,
                    "on_end": self._on_end,
                },
            )
        except FormParserError:
            raise HTTPException(
                400,
                f"The multipart boundary is {len(boundary)} bytes long, more than the "
                f"{MAX_BOUNDARY_LENGTH} allowed. Use a boundary of 1 to 70 characters, "
                "as RFC 2046 5.1.1 asks.",
            ) from None

    def _on_part_begin(self) -> None:
        self._headers = []
        self._header_name.clear()
        self._header_value.clear()
        self._upload = None
        self._data = bytearray()
        self._size = 0

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        name = bytes(self._header_name).lower()
        value = bytes(self._header_value).strip(b" \t")
        self._headers.append((name, value))
        self._header_name.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        headers = Headers(raw=self._headers)
        disposition = headers.get("content-disposition")
        if disposition is None:
            raise HTTPException(
                400,
                "A part of the multipart body has no Content-Disposition header. "
                "Give every part one, such as 'form-data; name=\"field\"'.",
            )
        _, params = parse_options_header(disposition)
        if b"name" not in params:
            raise HTTPException(
                400,
                "A part of the multipart body has no name in its Content-Disposition "
                "header. Give every part one, such as 'form-data; name=\"field\"'.",
            )
        self._name = _decode_param(params[b"name"])
        # RFC 7578 4.2: a part is a file when it has a filename, even an empty
        # one (a file input left blank). python-multipart drops "filename*",
        # which RFC 7578 4.2 forbids, so only the plain parameter counts.
        if b"filename" in params:
            if len(self.uploads) >= self._limits.max_files:
                raise HTTPException(
                    400, f"Too many files in the form: the limit is {self._limits.max_files}."
                )
            self._upload = UploadFile(
                _decode_param(params[b"filename"]),
                headers=headers,
                spool_max_size=self._limits.spool_max_size,
            )
            self.uploads.append(self._upload)
        else:
            if self._field_count >= self._limits.max_fields:
                raise _too_many_fields(self._limits)
            self._field_count += 1
            _, type_params = parse_options_header(headers.get("content-type"))
            charset = type_params.get(b"charset")
            # RFC 7578 4.4: without a charset, UTF-8 is what browsers send.
            self._charset = "UTF-8" if charset is None else charset.decode("latin-1")

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._upload is None:
            self._data += data[start:end]
            if len(self._data) > self._limits.max_part_size:
                raise _field_too_large(self._limits)
            return
        self._size += end - start
        max_file_size = self._limits.max_file_size
        if max_file_size is not None and self._size > max_file_size:
            raise HTTPException(
                413, f"An uploaded file is larger than the limit of {max_file_size} bytes."
            )
        self.writes.append((self._upload, data[start:end]))

    def _on_part_end(self) -> None:
        if self._upload is not None:
            self.items.append((self._name, self._upload))
            return
        try:
            value = self._data.decode(self._charset)
        except LookupError:
            raise HTTPException(
                400,
                f"The form field {self._name!r} declares the charset {self._charset!r}, "
                "which is unknown. Send it as UTF-8.",
            ) from None
        except ValueError:
            # UnicodeDecodeError, or the UnicodeError of codecs such as idna
            # that check more than byte sequences.
            raise HTTPException(
                400,
                f"The form field {self._name!r} is not valid {self._charset}. "
                "Send it as UTF-8, or declare its charset in the part's Content-Type.",
            ) from None
        _refuse_nul(self._name, value)
        self.items.append((self._name, value))

    def _on_end(self) -> None:
        self.is_complete = True


def _decode_param(raw: bytes) -> str:
    # Browsers send names and filenames as raw UTF-8 (HTML's multipart
    # encoding); a part from an older client that is not UTF-8 is read as
    # Latin-1 rather than refused, since every byte string is valid Latin-1.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
