from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from carboy import formparsers
from carboy.datastructures import Headers
from carboy.exceptions import HTTPException
from carboy.formparsers import FormData, FormLimits, UploadFile, parse_form

URLENCODED = "application/x-www-form-urlencoded"
BOUNDARY = "carboy-boundary-7MA4YWxkTrZu0gW"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
END = f"--{BOUNDARY}--\r\n".encode()


async def stream(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def byte_by_byte(body: bytes) -> AsyncIterator[bytes]:
    return stream(*(body[i : i + 1] for i in range(len(body))))


def part(*headers: str, content: bytes) -> bytes:
    head = "".join(f"{header}\r\n" for header in headers)
    return f"--{BOUNDARY}\r\n{head}\r\n".encode() + content + b"\r\n"


def field(name: str, value: bytes) -> bytes:
    return part(f'Content-Disposition: form-data; name="{name}"', content=value)


def file_part(name: str, filename: str, content: bytes, content_type: str = "text/plain") -> bytes:
    return part(
        f'Content-Disposition: form-data; name="{name}"; filename="{filename}"',
        f"Content-Type: {content_type}",
        content=content,
    )


@pytest.fixture
def recorded_uploads(monkeypatch: pytest.MonkeyPatch) -> list[UploadFile]:
    """Record every UploadFile parse_form creates, to inspect after an error."""
    created: list[UploadFile] = []

    class RecordedUploadFile(UploadFile):
        __slots__ = ()

        def __init__(
            self,
            filename: str | None = None,
            *,
            headers: Headers | None = None,
            spool_max_size: int = 1024 * 1024,
        ) -> None:
            super().__init__(filename, headers=headers, spool_max_size=spool_max_size)
            created.append(self)

    monkeypatch.setattr(formparsers, "UploadFile", RecordedUploadFile)
    return created


async def parse_error(
    content_type: str, chunks: AsyncIterator[bytes], limits: FormLimits | None = None
) -> HTTPException:
    with pytest.raises(HTTPException) as info:
        await parse_form(content_type, chunks, limits or FormLimits())
    return info.value


# application/x-www-form-urlencoded


@pytest.mark.anyio
async def test_urlencoded_form_keeps_repeated_keys_in_order() -> None:
    body = b"tag=a&name=Ann&tag=b&tag=c"

    form = await parse_form(URLENCODED, stream(body), FormLimits())

    assert form.getlist("tag") == ["a", "b", "c"]
    assert form["tag"] == "c"
    assert form.multi_items() == [("tag", "a"), ("name", "Ann"), ("tag", "b"), ("tag", "c")]


@pytest.mark.anyio
async def test_urlencoded_form_keeps_blank_values_and_names_without_equals_sign() -> None:
    body = b"a=&b&c=1&&d="

    form = await parse_form(URLENCODED, stream(body), FormLimits())

    assert form.multi_items() == [("a", ""), ("b", ""), ("c", "1"), ("d", "")]


@pytest.mark.anyio
async def test_urlencoded_form_decodes_plus_and_percent_escapes() -> None:
    body = b"full+name=Jane+Q%20Doe&sum=1%2B1&city=M%C3%BCnchen"

    form = await parse_form(URLENCODED, stream(body), FormLimits())

    assert form.multi_items() == [
        ("full name", "Jane Q Doe"),
        ("sum", "1+1"),
        ("city", "München"),
    ]


@pytest.mark.anyio
async def test_urlencoded_form_fed_byte_by_byte_parses_the_same() -> None:
    body = b"full+name=Jane+Q%20Doe&tag=a&tag=&city=M%C3%BCnchen"

    form = await parse_form(URLENCODED, byte_by_byte(body), FormLimits())

    assert form.multi_items() == [
        ("full name", "Jane Q Doe"),
        ("tag", "a"),
        ("tag", ""),
        ("city", "München"),
    ]


@pytest.mark.anyio
async def test_urlencoded_form_with_empty_body_is_empty() -> None:
    form = await parse_form(URLENCODED, stream(), FormLimits())

    assert form.multi_items() == []


@pytest.mark.anyio
async def test_urlencoded_content_type_matches_case_insensitively_and_with_parameters() -> None:
    content_type = "Application/X-WWW-Form-URLEncoded; charset=UTF-8"

    form = await parse_form(content_type, stream(b"a=1"), FormLimits())

    assert form.multi_items() == [("a", "1")]


@pytest.mark.anyio
async def test_urlencoded_value_that_is_not_utf8_gives_400_naming_the_field() -> None:
    body = b"ok=1&city=M%FCnchen"

    error = await parse_error(URLENCODED, stream(body))

    assert error.status_code == 400
    assert error.detail == (
        "The form field 'city' is not valid UTF-8 once percent-decoded. Encode the form as UTF-8."
    )


@pytest.mark.anyio
async def test_urlencoded_name_that_is_not_utf8_gives_400_naming_its_position() -> None:
    body = b"ok=1&also=2&%FF=3"

    error = await parse_error(URLENCODED, stream(body))

    assert error.status_code == 400
    assert error.detail == (
        "The name of form field 3 is not valid UTF-8 once percent-decoded. "
        "Encode the form as UTF-8."
    )


@pytest.mark.anyio
async def test_urlencoded_form_with_exactly_max_fields_is_accepted() -> None:
    body = b"a=1&b=2&c=3"

    form = await parse_form(URLENCODED, stream(body), FormLimits(max_fields=3))

    assert len(form) == 3


@pytest.mark.anyio
async def test_urlencoded_form_with_more_fields_than_max_fields_gives_400() -> None:
    body = b"a=1&b=2&c=3&d=4"

    error = await parse_error(URLENCODED, stream(body), FormLimits(max_fields=3))

    assert error.status_code == 400
    assert error.detail == "Too many form fields: the limit is 3."


@pytest.mark.anyio
async def test_urlencoded_value_larger_than_max_part_size_gives_413() -> None:
    body = b"short=12345&long=123456"

    error = await parse_error(URLENCODED, byte_by_byte(body), FormLimits(max_part_size=5))

    assert error.status_code == 413
    assert error.detail == "A form field is larger than the limit of 5 bytes."


@pytest.mark.anyio
async def test_urlencoded_name_larger_than_max_part_size_gives_413() -> None:
    body = b"abcdef=1"

    error = await parse_error(URLENCODED, stream(body), FormLimits(max_part_size=5))

    assert error.status_code == 413
    assert error.detail == "A form field is larger than the limit of 5 bytes."


# Content types


@pytest.mark.anyio
async def test_content_type_that_is_not_a_form_gives_415() -> None:
    error = await parse_error("application/json", stream(b"{}"))

    assert error.status_code == 415
    assert error.detail == (
        "The content type 'application/json' cannot be read as a form. Send the form as "
        "application/x-www-form-urlencoded or multipart/form-data."
    )


@pytest.mark.anyio
async def test_multipart_subtype_other_than_form_data_gives_415() -> None:
    error = await parse_error(f"multipart/mixed; boundary={BOUNDARY}", stream(END))

    assert error.status_code == 415
    assert error.detail == (
        "The content type 'multipart/mixed' cannot be read as a form. Send the form as "
        "application/x-www-form-urlencoded or multipart/form-data."
    )


@pytest.mark.anyio
async def test_missing_content_type_gives_415() -> None:
    error = await parse_error("", stream(b"a=1"))

    assert error.status_code == 415
    assert error.detail == (
        "The request has no Content-Type, so its body cannot be read as a form. Send the form "
        "as application/x-www-form-urlencoded or multipart/form-data."
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; charset=utf-8"],
)
async def test_multipart_without_boundary_gives_400(content_type: str) -> None:
    error = await parse_error(content_type, stream(END))

    assert error.status_code == 400
    assert error.detail == (
        "The multipart/form-data Content-Type has no boundary parameter, so the body cannot be "
        "split into parts. Send it as 'multipart/form-data; boundary=...' with the boundary "
        "the body uses."
    )


@pytest.mark.anyio
async def test_multipart_with_boundary_longer_than_256_bytes_gives_400() -> None:
    content_type = "multipart/form-data; boundary=" + "b" * 257

    error = await parse_error(content_type, stream(END))

    assert error.status_code == 400
    assert error.detail == (
        "The multipart boundary is 257 bytes long, more than the 256 allowed. "
        "Use a boundary of 1 to 70 characters, as RFC 2046 5.1.1 asks."
    )


# multipart/form-data


@pytest.mark.anyio
async def test_multipart_form_reads_text_fields_and_files() -> None:
    body = (
        field("title", b"Holiday")
        + file_part("photo", "beach.png", b"\x89PNG\r\n\x1a\n", "image/png")
        + field("tag", "été".encode())
        + field("tag", b"")
        + END
    )

    form = await parse_form(MULTIPART, stream(body), FormLimits())

    photo = form["photo"]
    assert form["title"] == "Holiday"
    assert form.getlist("tag") == ["été", ""]
    assert isinstance(photo, UploadFile)
    assert photo.filename == "beach.png"
    assert photo.content_type == "image/png"
    assert photo.headers["content-disposition"] == ('form-data; name="photo"; filename="beach.png"')
    assert photo.size == 8
    assert await photo.read() == b"\x89PNG\r\n\x1a\n"
    assert [name for name, _ in form.multi_items()] == ["title", "photo", "tag", "tag"]
    await form.close()


@pytest.mark.anyio
async def test_multipart_form_with_only_the_closing_boundary_is_empty() -> None:
    form = await parse_form(MULTIPART, stream(END), FormLimits())

    assert form.multi_items() == []


@pytest.mark.anyio
async def test_multipart_closing_boundary_needs_no_final_crlf() -> None:
    body = field("a", b"1") + END.rstrip(b"\r\n")

    form = await parse_form(MULTIPART, stream(body), FormLimits())

    assert form.multi_items() == [("a", "1")]


@pytest.mark.anyio
async def test_multipart_boundary_may_be_quoted() -> None:
    content_type = f'multipart/form-data; boundary="{BOUNDARY}"'

    form = await parse_form(content_type, stream(field("a", b"1") + END), FormLimits())

    assert form.multi_items() == [("a", "1")]


@pytest.mark.anyio
async def test_multipart_form_fed_byte_by_byte_parses_the_same() -> None:
    body = (
        field("title", b"Holiday\r\n--not-a-boundary") + file_part("doc", "a.txt", b"x\r\ny") + END
    )

    form = await parse_form(MULTIPART, byte_by_byte(body), FormLimits())

    doc = form["doc"]
    assert form["title"] == "Holiday\r\n--not-a-boundary"
    assert isinstance(doc, UploadFile)
    assert await doc.read() == b"x\r\ny"
    await form.close()


@pytest.mark.anyio
async def test_multipart_form_split_into_two_chunks_anywhere_parses_the_same() -> None:
    body = field("title", b"Hi\r\n-") + file_part("doc", "a.txt", b"--\r\n") + END

    for split in range(len(body) + 1):
        form = await parse_form(MULTIPART, stream(body[:split], body[split:]), FormLimits())

        doc = form["doc"]
        assert form["title"] == "Hi\r\n-", split
        assert isinstance(doc, UploadFile)
        assert await doc.read() == b"--\r\n", split
        await form.close()


@pytest.mark.anyio
async def test_multipart_file_past_spool_max_size_rolls_to_disk() -> None:
    content = bytes(range(256)) * 40
    body = file_part("blob", "blob.bin", content, "application/octet-stream") + END

    form = await parse_form(MULTIPART, stream(body), FormLimits(spool_max_size=1000))

    blob = form["blob"]
    assert isinstance(blob, UploadFile)
    assert blob.file._rolled is True  # type: ignore[attr-defined]
    assert blob.is_on_disk is True
    assert blob.size == 10240
    assert await blob.read() == content
    await form.close()
    assert blob.file.closed is True


@pytest.mark.anyio
async def test_multipart_file_within_spool_max_size_stays_in_memory() -> None:
    body = file_part("blob", "blob.bin", b"x" * 1000) + END

    form = await parse_form(MULTIPART, stream(body), FormLimits(spool_max_size=1000))

    blob = form["blob"]
    assert isinstance(blob, UploadFile)
    assert blob.is_on_disk is False
    assert await blob.read() == b"x" * 1000
    await form.close()


@pytest.mark.anyio
async def test_multipart_file_input_left_blank_is_an_empty_upload_without_filename() -> None:
    body = file_part("avatar", "", b"", "application/octet-stream") + END

    form = await parse_form(MULTIPART, stream(body), FormLimits())

    avatar = form["avatar"]
    assert isinstance(avatar, UploadFile)
    assert avatar.filename == ""
    assert avatar.size == 0
    await form.close()


@pytest.mark.anyio
async def test_multipart_filename_may_be_a_token_or_quoted_with_escapes() -> None:
    body = (
        part("Content-Disposition: form-data; name=a; filename=plain.txt", content=b"1")
        + part(
            r'Content-Disposition: form-data; name="b"; filename="my \"best\" notes.txt"',
            content=b"2",
        )
        + part('Content-Disposition: form-data; name="c"; filename="résumé.pdf"', content=b"3")
        + END
    )

    form = await parse_form(MULTIPART, stream(body), FormLimits())

    assert [upload.filename for _, upload in form.multi_items()] == [
        "plain.txt",
        'my "best" notes.txt',
        "résumé.pdf",
    ]
    await form.close()


@pytest.mark.anyio
async def test_multipart_extended_filename_parameter_is_ignored_as_rfc_7578_asks() -> None:
    body = (
        part(
            'Content-Disposition: form-data; name="doc"; filename="plain.txt"; '
            "filename*=UTF-8''r%C3%A9sum%C3%A9.txt",
            content=b"1",
        )
        + END
    )

    form = await parse_form(MULTIPART, stream(body), FormLimits())

    doc = form["doc"]
    assert isinstance(doc, UploadFile)
    assert doc.filename == "plain.txt"
    await form.close()


@pytest.mark.anyio
async def test_multipart_text_field_is_decoded_with_the_part_charset() -> None:
    body = (
        part(
            'Content-Disposition: form-data; name="city"',
            "Content-Type: text/plain; charset=iso-8859-1",
            content=b"M\xfcnchen",
        )
        + END
    )

    form = await parse_form(MULTIPART, stream(body), FormLimits())

    assert form["city"] == "München"


@pytest.mark.anyio
async def test_multipart_text_field_that_is_not_utf8_gives_400() -> None:
    body = field("city", b"M\xfcnchen") + END

    error = await parse_error(MULTIPART, stream(body))

    assert error.status_code == 400
    assert error.detail == (
        "The form field 'city' is not valid UTF-8. "
        "Send it as UTF-8, or declare its charset in the part's Content-Type."
    )


@pytest.mark.anyio
async def test_multipart_text_field_with_unknown_charset_gives_400() -> None:
    body = (
        part(
            'Content-Disposition: form-data; name="city"',
            "Content-Type: text/plain; charset=klingon",
            content=b"x",
        )
        + END
    )

    error = await parse_error(MULTIPART, stream(body))

    assert error.status_code == 400
    assert error.detail == (
        "The form field 'city' declares the charset 'klingon', which is unknown. Send it as UTF-8."
    )


@pytest.mark.anyio
async def test_multipart_body_with_another_boundary_gives_400() -> None:
    body = (
        b"--other-boundary\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
        b"--other-boundary--\r\n"
    )

    error = await parse_error(MULTIPART, stream(body))

    assert error.status_code == 400
    assert error.detail == (
        "The multipart body is malformed: it does not start with the boundary of the "
        "Content-Type header, or a part's headers are invalid."
    )


@pytest.mark.anyio
async def test_multipart_part_with_invalid_header_gives_400() -> None:
    body = part("Content Disposition: form-data; name=a", content=b"1") + END

    error = await parse_error(MULTIPART, stream(body))

    assert error.status_code == 400
    assert error.detail == (
        "The multipart body is malformed: it does not start with the boundary of the "
        "Content-Type header, or a part's headers are invalid."
    )


@pytest.mark.anyio
@pytest.mark.parametrize("cut", [0, 10, 60, -10, -3])
async def test_multipart_body_that_ends_before_closing_boundary_gives_400(cut: int) -> None:
    body = field("a", b"1") + file_part("doc", "a.txt", b"content") + END

    error = await parse_error(MULTIPART, stream(body[:cut]))

    assert error.status_code == 400
    assert error.detail == "The multipart body is malformed: it ends before the closing boundary."


@pytest.mark.anyio
async def test_multipart_part_without_content_disposition_gives_400() -> None:
    body = part("Content-Type: text/plain", content=b"1") + END

    error = await parse_error(MULTIPART, stream(body))

    assert error.status_code == 400
    assert error.detail == (
        "A part of the multipart body has no Content-Disposition header. "
        "Give every part one, such as 'form-data; name=\"field\"'."
    )


@pytest.mark.anyio
async def test_multipart_part_without_name_gives_400() -> None:
    body = part('Content-Disposition: form-data; filename="a.txt"', content=b"1") + END

    error = await parse_error(MULTIPART, stream(body))

    assert error.status_code == 400
    assert error.detail == (
        "A part of the multipart body has no name in its Content-Disposition header. "
        "Give every part one, such as 'form-data; name=\"field\"'."
    )


@pytest.mark.anyio
async def test_multipart_form_with_more_fields_than_max_fields_gives_400() -> None:
    body = field("a", b"1") + file_part("f", "f.txt", b"") + field("b", b"2") + field("c", b"3")

    error = await parse_error(MULTIPART, stream(body + END), FormLimits(max_fields=2))

    assert error.status_code == 400
    assert error.detail == "Too many form fields: the limit is 2."


@pytest.mark.anyio
async def test_multipart_form_with_more_files_than_max_files_gives_400() -> None:
    body = file_part("f", "1.txt", b"") + field("a", b"1") + file_part("f", "2.txt", b"")

    error = await parse_error(MULTIPART, stream(body + END), FormLimits(max_files=1))

    assert error.status_code == 400
    assert error.detail == "Too many files in the form: the limit is 1."


@pytest.mark.anyio
async def test_multipart_form_with_exactly_max_fields_and_max_files_is_accepted() -> None:
    body = field("a", b"1") + file_part("f", "1.txt", b"") + field("b", b"2") + END

    form = await parse_form(MULTIPART, stream(body), FormLimits(max_fields=2, max_files=1))

    assert len(form.multi_items()) == 3
    await form.close()


@pytest.mark.anyio
async def test_multipart_text_field_larger_than_max_part_size_gives_413() -> None:
    body = field("a", b"12345") + field("b", b"123456") + END

    error = await parse_error(MULTIPART, byte_by_byte(body), FormLimits(max_part_size=5))

    assert error.status_code == 413
    assert error.detail == "A form field is larger than the limit of 5 bytes."


@pytest.mark.anyio
async def test_multipart_file_larger_than_max_file_size_gives_413() -> None:
    body = file_part("a", "a.txt", b"12345") + file_part("b", "b.txt", b"123456") + END

    error = await parse_error(MULTIPART, stream(body), FormLimits(max_file_size=5))

    assert error.status_code == 413
    assert error.detail == "An uploaded file is larger than the limit of 5 bytes."


@pytest.mark.anyio
async def test_multipart_file_size_is_not_bounded_by_max_part_size() -> None:
    body = file_part("a", "a.txt", b"123456") + END

    form = await parse_form(MULTIPART, stream(body), FormLimits(max_part_size=5))

    upload = form["a"]
    assert isinstance(upload, UploadFile)
    assert upload.size == 6
    await form.close()


# Cleaning up after an error


@pytest.mark.anyio
async def test_uploads_are_closed_when_a_later_part_breaks_a_limit(
    recorded_uploads: list[UploadFile],
) -> None:
    body = (
        file_part("small", "s.txt", b"x")
        + file_part("big", "b.bin", b"y" * 5000)
        + field("note", b"z" * 10)
        + END
    )
    limits = FormLimits(max_part_size=5, spool_max_size=1000)

    error = await parse_error(MULTIPART, byte_by_byte(body), limits)

    assert error.status_code == 413
    assert [upload.filename for upload in recorded_uploads] == ["s.txt", "b.bin"]
    assert recorded_uploads[1].is_on_disk is True
    assert all(upload.file.closed for upload in recorded_uploads)


@pytest.mark.anyio
async def test_uploads_are_closed_when_the_body_is_cut_off_inside_a_file(
    recorded_uploads: list[UploadFile],
) -> None:
    body = file_part("big", "b.bin", b"y" * 5000)

    error = await parse_error(MULTIPART, stream(body[:3000]), FormLimits(spool_max_size=1000))

    assert error.status_code == 400
    assert len(recorded_uploads) == 1
    assert recorded_uploads[0].file.closed is True


@pytest.mark.anyio
async def test_uploads_are_closed_and_the_error_kept_when_the_stream_fails(
    recorded_uploads: list[UploadFile],
) -> None:
    async def too_large() -> AsyncIterator[bytes]:
        yield file_part("doc", "a.txt", b"content")
        raise HTTPException(413, "The request body is too large.")

    error = await parse_error(MULTIPART, too_large())

    assert error.status_code == 413
    assert error.detail == "The request body is too large."
    assert recorded_uploads[0].file.closed is True


@pytest.mark.anyio
async def test_uploads_on_disk_are_closed_when_the_parse_is_cancelled(
    recorded_uploads: list[UploadFile],
) -> None:
    async def stalled() -> AsyncIterator[bytes]:
        yield file_part("big", "b.bin", b"y" * 5000)
        await anyio.sleep_forever()

    with anyio.move_on_after(0.05) as scope:
        await parse_form(MULTIPART, stalled(), FormLimits(spool_max_size=1000))

    assert scope.cancelled_caught is True
    assert recorded_uploads[0].is_on_disk is True
    assert recorded_uploads[0].file.closed is True


# FormData, UploadFile and FormLimits


@pytest.mark.anyio
async def test_form_data_close_closes_every_upload() -> None:
    first, second = UploadFile("a.txt"), UploadFile("b.txt")
    form = FormData([("doc", first), ("title", "x"), ("doc", second)])

    await form.close()

    assert first.file.closed is True
    assert second.file.closed is True


@pytest.mark.anyio
async def test_upload_file_writes_reads_and_seeks_in_memory() -> None:
    upload = UploadFile("a.txt", headers=Headers(raw=[(b"content-type", b"text/plain")]))

    await upload.write(b"hello ")
    await upload.write(b"world")
    await upload.seek(6)
    tail = await upload.read()
    await upload.seek(0)
    head = await upload.read(5)

    assert (head, tail, upload.size) == (b"hello", b"world", 11)
    assert upload.is_on_disk is False
    assert repr(upload) == "UploadFile(filename='a.txt', content_type='text/plain', size=11)"
    await upload.close()


@pytest.mark.anyio
async def test_upload_file_writes_reads_and_seeks_on_disk() -> None:
    upload = UploadFile(spool_max_size=4)

    await upload.write(b"hello")
    await upload.write(b" world")
    await upload.seek(0)
    content = await upload.read()

    assert content == b"hello world"
    assert upload.is_on_disk is True
    assert upload.size == 11
    await upload.close()
    assert upload.file.closed is True


def test_upload_file_without_content_type_header_has_none() -> None:
    upload = UploadFile("a.txt")

    content_type = upload.content_type

    assert content_type is None
    assert repr(upload) == "UploadFile(filename='a.txt', content_type=None, size=0)"
    upload.file.close()


def test_form_limits_refuse_a_negative_limit() -> None:
    with pytest.raises(ValueError) as info:
        FormLimits(max_files=-1)

    assert (
        str(info.value)
        == "FormLimits.max_files is -1, but a limit cannot be negative. Pass 0 or more."
    )


def test_form_limits_refuse_a_spool_max_size_of_zero() -> None:
    with pytest.raises(ValueError) as info:
        FormLimits(spool_max_size=0)

    assert str(info.value) == (
        "FormLimits.spool_max_size is 0, which would keep every upload in memory. Pass 1 or more."
    )
