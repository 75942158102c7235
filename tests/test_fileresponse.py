from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from carboy._fileresponse import FileResponse
from carboy.types import Message, Receive, Scope, Send

CONTENT = bytes(range(48, 58)) * 10  # b"0123456789" ten times: 100 bytes
MTIME_NS = 1_700_000_000_123_456_789
ETAG = '"17979cfe3d85cd15-64"'
LAST_MODIFIED = "Tue, 14 Nov 2023 22:13:20 GMT"
EARLIER = "Tue, 14 Nov 2023 22:13:19 GMT"
LATER = "Tue, 14 Nov 2023 22:13:21 GMT"

pytestmark = pytest.mark.anyio


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_bytes(CONTENT)
    os.utime(path, ns=(MTIME_NS, MTIME_NS))
    return path


async def fetch(
    path: Path,
    method: str = "GET",
    request_headers: Mapping[str, str] | None = None,
    **options: Any,
) -> httpx.Response:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await FileResponse(path, **options)(scope, receive, send)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.request(method, "/", headers=request_headers)


async def call(response: FileResponse, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "scheme": "http",
        "server": ("testserver", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await response(scope, receive, send)
    return sent


def byteranges(response: httpx.Response) -> list[tuple[str, str, bytes]]:
    """Split a multipart/byteranges body into (Content-Type, Content-Range, data)."""
    boundary = response.headers["content-type"].split("; boundary=")[1]
    closing = f"--{boundary}--\r\n".encode()
    assert response.content.endswith(closing)
    chunks = response.content[: -len(closing)].split(f"--{boundary}\r\n".encode())
    assert chunks[0] == b""
    parts = []
    for chunk in chunks[1:]:
        head, data = chunk.split(b"\r\n\r\n", 1)
        assert data.endswith(b"\r\n")
        fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        assert list(fields) == ["Content-Type", "Content-Range"]
        parts.append((fields["Content-Type"], fields["Content-Range"], data[:-2]))
    return parts


async def test_get_sends_the_file_with_length_type_validators_and_accept_ranges(
    text_file: Path,
) -> None:
    response = await fetch(text_file)

    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["content-length"] == "100"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["last-modified"] == LAST_MODIFIED
    assert response.headers["etag"] == ETAG
    assert response.headers["accept-ranges"] == "bytes"
    assert "content-disposition" not in response.headers


async def test_head_sends_the_headers_of_a_get_and_no_body(text_file: Path) -> None:
    response = await fetch(text_file, "HEAD")

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "100"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["etag"] == ETAG


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("data.json", "application/json"),
        ("site.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("font.woff2", "font/woff2"),
        ("archive.tar.gz", "application/gzip"),
        ("blob.unknownext", "application/octet-stream"),
        ("no_extension", "application/octet-stream"),
    ],
)
async def test_media_type_is_guessed_from_the_file_name(
    tmp_path: Path, name: str, content_type: str
) -> None:
    path = tmp_path / name
    path.write_bytes(b"x")

    response = await fetch(path)

    assert response.headers["content-type"] == content_type


async def test_media_type_is_guessed_from_filename_before_path(text_file: Path) -> None:
    response = await fetch(text_file, filename="notes.json")

    assert response.headers["content-type"] == "application/json"


async def test_explicit_media_type_wins_over_the_guess(text_file: Path) -> None:
    response = await fetch(text_file, media_type="application/pdf")

    assert response.headers["content-type"] == "application/pdf"


def test_given_stat_result_is_used_without_statting_again(text_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_bytes(CONTENT)
    os.utime(other, ns=(0, 0))

    response = FileResponse(text_file, stat_result=os.stat(other))

    assert response.headers["etag"] == '"0-64"'
    assert response.headers["last-modified"] == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert response.headers["content-length"] == "100"


async def test_file_is_sent_in_chunks_of_chunk_size(text_file: Path) -> None:
    response = FileResponse(text_file, chunk_size=40)

    sent = await call(response, [])

    assert sent[0]["status"] == 200
    assert [(m["body"], m["more_body"]) for m in sent[1:]] == [
        (CONTENT[:40], True),
        (CONTENT[40:80], True),
        (CONTENT[80:], False),
    ]


async def test_send_failing_mid_body_propagates_and_closes_the_file(
    text_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[anyio.AsyncFile[bytes]] = []
    open_file = anyio.open_file

    async def recording_open_file(*args: Any, **kwargs: Any) -> anyio.AsyncFile[bytes]:
        file: anyio.AsyncFile[bytes] = await open_file(*args, **kwargs)
        opened.append(file)
        return file

    monkeypatch.setattr(anyio, "open_file", recording_open_file)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if len(sent) == 2:
            raise OSError("The client went away.")
        sent.append(message)

    scope: Scope = {"type": "http", "method": "GET", "headers": []}

    with pytest.raises(OSError) as caught:
        await FileResponse(text_file, chunk_size=10)(scope, receive, send)

    assert str(caught.value) == "The client went away."
    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]
    assert len(opened) == 1
    assert opened[0].wrapped.closed


async def test_missing_file_gets_a_plain_404(tmp_path: Path) -> None:
    response = await fetch(tmp_path / "gone.txt")

    assert response.status_code == 404
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "File not found."


async def test_file_removed_after_its_stat_gets_a_plain_404(text_file: Path) -> None:
    response = FileResponse(text_file, stat_result=os.stat(text_file))
    text_file.unlink()

    sent = await call(response, [])

    assert sent[0]["status"] == 404
    assert sent[1]["body"] == b"File not found."


async def test_directory_is_refused_with_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as caught:
        await call(FileResponse(tmp_path), [])

    assert str(caught.value) == (
        f"FileResponse cannot send {str(tmp_path)!r}: it is not a regular file "
        "(a directory, device or pipe). Pass the path of a regular file."
    )


async def test_empty_file_is_sent_with_zero_length(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")

    response = await fetch(path, request_headers={"range": "bytes=-5"})

    assert response.status_code == 200
    assert response.headers["content-length"] == "0"
    assert response.content == b""


async def test_cookies_set_on_the_response_are_sent(text_file: Path) -> None:
    response = FileResponse(text_file)
    response.set_cookie("seen", "1")

    sent = await call(response, [])

    assert (b"set-cookie", b"seen=1; HttpOnly; Path=/; SameSite=Lax") in sent[0]["headers"]


# Conditional requests (RFC 9110 13)


@pytest.mark.parametrize(
    "if_none_match",
    [ETAG, f"W/{ETAG}", f'"other", {ETAG}', "*"],
)
async def test_if_none_match_that_matches_gets_304_with_validators_and_no_body(
    text_file: Path, if_none_match: str
) -> None:
    response = await fetch(
        text_file,
        request_headers={"if-none-match": if_none_match},
        headers={"cache-control": "max-age=60"},
    )

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == ETAG
    assert response.headers["last-modified"] == LAST_MODIFIED
    assert response.headers["cache-control"] == "max-age=60"
    assert "content-length" not in response.headers
    assert "content-type" not in response.headers


async def test_if_none_match_that_differs_gets_the_file(text_file: Path) -> None:
    response = await fetch(text_file, request_headers={"if-none-match": '"other"'})

    assert response.status_code == 200
    assert response.content == CONTENT


async def test_if_none_match_that_matches_on_head_gets_304(text_file: Path) -> None:
    response = await fetch(text_file, "HEAD", request_headers={"if-none-match": ETAG})

    assert response.status_code == 304


async def test_if_none_match_that_matches_on_post_gets_412(text_file: Path) -> None:
    response = await fetch(text_file, "POST", request_headers={"if-none-match": ETAG})

    assert response.status_code == 412
    assert response.text == (
        "The file matches If-None-Match, so the request's condition does not hold. "
        "Remove If-None-Match to act on the current file."
    )


@pytest.mark.parametrize("if_modified_since", [LAST_MODIFIED, LATER])
async def test_if_modified_since_not_older_than_the_file_gets_304(
    text_file: Path, if_modified_since: str
) -> None:
    response = await fetch(text_file, request_headers={"if-modified-since": if_modified_since})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == ETAG
    assert "content-length" not in response.headers


@pytest.mark.parametrize("if_modified_since", [EARLIER, "not a date"])
async def test_if_modified_since_older_or_invalid_gets_the_file(
    text_file: Path, if_modified_since: str
) -> None:
    response = await fetch(text_file, request_headers={"if-modified-since": if_modified_since})

    assert response.status_code == 200
    assert response.content == CONTENT


async def test_if_modified_since_is_ignored_when_if_none_match_is_present(
    text_file: Path,
) -> None:
    response = await fetch(
        text_file, request_headers={"if-none-match": '"other"', "if-modified-since": LATER}
    )

    assert response.status_code == 200
    assert response.content == CONTENT


@pytest.mark.parametrize("if_match", ['"other"', f"W/{ETAG}"])
async def test_if_match_that_fails_gets_412(text_file: Path, if_match: str) -> None:
    response = await fetch(text_file, request_headers={"if-match": if_match})

    assert response.status_code == 412
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == (
        "The file does not match If-Match: it has changed since that ETag was issued. "
        "Fetch it again to get its current ETag."
    )


@pytest.mark.parametrize("if_match", [ETAG, f'"other", {ETAG}', "*"])
async def test_if_match_that_holds_gets_the_file(text_file: Path, if_match: str) -> None:
    response = await fetch(text_file, request_headers={"if-match": if_match})

    assert response.status_code == 200
    assert response.content == CONTENT


async def test_if_unmodified_since_before_the_change_gets_412(text_file: Path) -> None:
    response = await fetch(text_file, request_headers={"if-unmodified-since": EARLIER})

    assert response.status_code == 412
    assert response.text == (
        "The file has changed since the If-Unmodified-Since date. "
        "Fetch it again to get its current version."
    )


async def test_if_unmodified_since_after_the_change_gets_the_file(text_file: Path) -> None:
    response = await fetch(text_file, request_headers={"if-unmodified-since": LATER})

    assert response.status_code == 200


async def test_conditions_are_ignored_when_the_status_is_not_200(text_file: Path) -> None:
    response = await fetch(text_file, request_headers={"if-none-match": ETAG}, status_code=404)

    assert response.status_code == 404
    assert response.content == CONTENT
    assert "accept-ranges" not in response.headers


# Range requests (RFC 9110 14)


@pytest.mark.parametrize(
    ("range_", "content_range", "start", "end"),
    [
        ("bytes=0-4", "bytes 0-4/100", 0, 5),
        ("bytes=-5", "bytes 95-99/100", 95, 100),
        ("bytes=95-", "bytes 95-99/100", 95, 100),
        ("bytes=90-1000", "bytes 90-99/100", 90, 100),
        ("bytes=-1000", "bytes 0-99/100", 0, 100),
        ("BYTES = 10-19", "bytes 10-19/100", 10, 20),
    ],
)
async def test_single_range_gets_206_with_that_part(
    text_file: Path, range_: str, content_range: str, start: int, end: int
) -> None:
    response = await fetch(text_file, request_headers={"range": range_})

    assert response.status_code == 206
    assert response.headers["content-range"] == content_range
    assert response.headers["content-length"] == str(end - start)
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["etag"] == ETAG
    assert response.content == CONTENT[start:end]


async def test_single_range_is_read_in_chunks(text_file: Path) -> None:
    response = FileResponse(text_file, chunk_size=4)

    sent = await call(response, [(b"range", b"bytes=3-12")])

    assert sent[0]["status"] == 206
    assert [m["body"] for m in sent[1:]] == [b"3456", b"7890", b"12"]


async def test_several_ranges_get_206_multipart_byteranges(text_file: Path) -> None:
    response = await fetch(text_file, request_headers={"range": "bytes=0-1, 50-54,-3"})

    assert response.status_code == 206
    assert response.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert response.headers["content-length"] == str(len(response.content))
    assert "content-range" not in response.headers
    assert byteranges(response) == [
        ("text/plain; charset=utf-8", "bytes 0-1/100", b"01"),
        ("text/plain; charset=utf-8", "bytes 50-54/100", b"01234"),
        ("text/plain; charset=utf-8", "bytes 97-99/100", b"789"),
    ]


async def test_multipart_body_is_framed_exactly(text_file: Path) -> None:
    response = await fetch(text_file, request_headers={"range": "bytes=0-1,5-6"})

    boundary = response.headers["content-type"].split("boundary=")[1]
    assert (
        response.content
        == (
            f"--{boundary}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Range: bytes 0-1/100\r\n"
            "\r\n"
            "01\r\n"
            f"--{boundary}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Range: bytes 5-6/100\r\n"
            "\r\n"
            "56\r\n"
            f"--{boundary}--\r\n"
        ).encode()
    )


async def test_overlapping_ranges_are_merged_in_order(text_file: Path) -> None:
    response = await fetch(text_file, request_headers={"range": "bytes=60-69,0-5,3-9"})

    assert response.status_code == 206
    assert byteranges(response) == [
        ("text/plain; charset=utf-8", "bytes 0-9/100", CONTENT[0:10]),
        ("text/plain; charset=utf-8", "bytes 60-69/100", CONTENT[60:70]),
    ]


async def test_ranges_repeating_the_whole_file_are_merged_into_one(text_file: Path) -> None:
    response = await fetch(text_file, request_headers={"range": "bytes=0-,0-,0-,-100"})

    assert response.status_code == 206
    assert response.headers["content-range"] == "bytes 0-99/100"
    assert response.headers["content-length"] == "100"
    assert response.content == CONTENT


async def test_unsatisfiable_ranges_are_dropped_from_the_set(text_file: Path) -> None:
    response = await fetch(text_file, request_headers={"range": "bytes=200-300,5-6"})

    assert response.status_code == 206
    assert response.headers["content-range"] == "bytes 5-6/100"
    assert response.content == b"56"


@pytest.mark.parametrize("range_", ["bytes=100-", "bytes=100-200", "bytes=-0", "bytes=100-,-0"])
async def test_unsatisfiable_range_gets_416_with_the_length(text_file: Path, range_: str) -> None:
    response = await fetch(text_file, request_headers={"range": range_})

    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */100"
    assert response.text == "The requested range is not satisfiable: the file is 100 bytes long."


@pytest.mark.parametrize(
    "range_",
    [
        "bytes=abc",
        "items=0-1",
        "bytes=5-2",
        "bytes=",
        "bytes=-",
        "bytes=1-2-3",
        "bytes=0x1-2",
        "0-1",
        "bytes=,,",
        "bytes=" + ",".join(f"{n}-{n}" for n in range(17)),
    ],
)
async def test_malformed_or_excessive_range_is_ignored(text_file: Path, range_: str) -> None:
    response = await fetch(text_file, request_headers={"range": range_})

    assert response.status_code == 200
    assert response.headers["content-length"] == "100"
    assert "content-range" not in response.headers
    assert response.content == CONTENT


async def test_offset_with_very_many_digits_counts_as_past_the_end(text_file: Path) -> None:
    response = await fetch(text_file, request_headers={"range": "bytes=90-" + "9" * 5000})

    assert response.status_code == 206
    assert response.headers["content-range"] == "bytes 90-99/100"


@pytest.mark.parametrize("if_range", [ETAG, LAST_MODIFIED])
async def test_if_range_that_matches_gets_the_range(text_file: Path, if_range: str) -> None:
    response = await fetch(text_file, request_headers={"range": "bytes=0-4", "if-range": if_range})

    assert response.status_code == 206
    assert response.content == b"01234"


@pytest.mark.parametrize("if_range", ['"other"', f"W/{ETAG}", EARLIER, "garbage"])
async def test_if_range_that_differs_gets_the_whole_file(text_file: Path, if_range: str) -> None:
    response = await fetch(text_file, request_headers={"range": "bytes=0-4", "if-range": if_range})

    assert response.status_code == 200
    assert response.content == CONTENT


async def test_range_on_head_gets_the_headers_of_the_whole_file(text_file: Path) -> None:
    response = await fetch(text_file, "HEAD", request_headers={"range": "bytes=0-4"})

    assert response.status_code == 200
    assert response.headers["content-length"] == "100"
    assert response.content == b""


async def test_range_on_post_is_ignored(text_file: Path) -> None:
    response = await fetch(text_file, "POST", request_headers={"range": "bytes=0-4"})

    assert response.status_code == 200
    assert response.content == CONTENT


async def test_if_none_match_is_checked_before_range(text_file: Path) -> None:
    response = await fetch(text_file, request_headers={"range": "bytes=0-4", "if-none-match": ETAG})

    assert response.status_code == 304


# Content-Disposition (RFC 6266)


async def test_filename_sets_an_attachment_content_disposition(text_file: Path) -> None:
    response = await fetch(text_file, filename="report 2024.txt")

    assert response.headers["content-disposition"] == 'attachment; filename="report 2024.txt"'


async def test_inline_disposition_type_is_used_when_asked(text_file: Path) -> None:
    response = await fetch(text_file, filename="a.txt", content_disposition_type="inline")

    assert response.headers["content-disposition"] == 'inline; filename="a.txt"'


async def test_non_ascii_filename_is_sent_in_filename_star_with_an_ascii_fallback(
    text_file: Path,
) -> None:
    response = await fetch(text_file, filename="résumé €.pdf")

    assert response.headers["content-disposition"] == (
        "attachment; filename=\"r_sum_ _.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%82%AC.pdf"
    )
    assert response.headers["content-type"] == "application/pdf"


async def test_hostile_filename_cannot_break_the_header(text_file: Path) -> None:
    response = await fetch(text_file, filename='a"; x=\\"y\r\nSet-Cookie: s=1%41.txt')

    assert response.headers["content-disposition"] == (
        'attachment; filename="a_; x=__ySet-Cookie: s=1_41.txt"; '
        "filename*=UTF-8''a%22%3B%20x%3D%5C%22ySet-Cookie%3A%20s%3D1%2541.txt"
    )
    assert "set-cookie" not in response.headers


def test_disposition_type_that_is_not_a_token_is_refused(text_file: Path) -> None:
    with pytest.raises(ValueError) as caught:
        FileResponse(text_file, filename="a.txt", content_disposition_type="inline; x=1")

    assert str(caught.value) == (
        "content_disposition_type 'inline; x=1' is not an HTTP token, so it cannot head "
        "a Content-Disposition header. Use 'attachment' or 'inline'."
    )
