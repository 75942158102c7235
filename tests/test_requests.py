from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from carboy import Carboy, Request
from carboy.config import Settings
from carboy.formparsers import FormLimits, UploadFile
from carboy.requests import Limits
from carboy.testing import TestClient
from carboy.types import Message

# The phrase of 413 is "Content Too Large" from Python 3.13 (RFC 9110), and
# "Request Entity Too Large" before.
TOO_LARGE = "Content Too Large"


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": title, "status": status, "detail": detail}


def chunks(*parts: bytes) -> Iterator[bytes]:
    yield from parts


def echo_app(limits: Limits | None = None) -> Carboy:
    """An app whose /json, /body, /form and /stream routes echo what they read."""
    app = Carboy(limits=limits)

    @app.post("/json")
    async def read_json(request: Request) -> Any:
        return {"json": await request.json()}

    @app.post("/body")
    async def read_body(request: Request) -> dict[str, Any]:
        return {"body": (await request.body()).decode()}

    @app.post("/stream")
    async def read_stream(request: Request) -> dict[str, Any]:
        return {"chunks": [chunk.decode() async for chunk in request.stream()]}

    @app.post("/form")
    async def read_form(request: Request) -> dict[str, Any]:
        form = await request.form()
        fields: dict[str, Any] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                fields.setdefault(name, []).append(
                    [value.filename, value.content_type, (await value.read()).decode()]
                )
            else:
                fields.setdefault(name, []).append(value)
        return fields

    return app


# Method, URL, parameters, headers, cookies, client


def test_method_and_url_parts_come_from_the_request() -> None:
    app = Carboy(settings=Settings(allowed_hosts=["example.com"]))

    @app.route("/items/{id}", methods=["PUT"])
    async def item(request: Request) -> dict[str, Any]:
        url = request.url
        return {
            "method": request.method,
            "url": str(url),
            "scheme": url.scheme,
            "host": url.hostname,
            "port": url.port,
            "path": url.path,
            "query": url.query,
            "request_path": request.path,
            "base_url": str(request.base_url),
        }

    with TestClient(app) as client:
        response = client.put("http://example.com:8080/items/7?sort=name&page=2")

    assert response.status_code == 200
    assert response.json() == {
        "method": "PUT",
        "url": "http://example.com:8080/items/7?sort=name&page=2",
        "scheme": "http",
        "host": "example.com",
        "port": 8080,
        "path": "/items/7",
        "query": "sort=name&page=2",
        "request_path": "/items/7",
        "base_url": "http://example.com:8080/",
    }


def test_https_base_url_gives_an_https_request_url() -> None:
    app = Carboy()

    @app.get("/")
    async def home(request: Request) -> dict[str, Any]:
        return {"url": str(request.url), "is_secure": request.url.is_secure}

    with TestClient(app, base_url="https://testserver") as client:
        response = client.get("/")

    assert response.json() == {"url": "https://testserver/", "is_secure": True}


def test_path_params_are_converted_to_their_types() -> None:
    app = Carboy()

    @app.get("/users/{id:int}/files/{name}")
    async def user_file(request: Request) -> dict[str, Any]:
        return {"params": request.path_params, "type": type(request.path_params["id"]).__name__}

    with TestClient(app) as client:
        response = client.get("/users/42/files/report.pdf")

    assert response.json() == {"params": {"id": 42, "name": "report.pdf"}, "type": "int"}


def test_query_params_keep_repeated_keys_and_blank_values() -> None:
    app = Carboy()

    @app.get("/search")
    async def search(request: Request) -> dict[str, Any]:
        query = request.query_params
        return {
            "tag": query["tag"],
            "tags": query.getlist("tag"),
            "empty": query["empty"],
            "flag": query.get("flag"),
            "missing": query.get("missing"),
            "items": query.multi_items(),
        }

    with TestClient(app) as client:
        response = client.get("/search?tag=a&empty=&tag=b&flag&q=caf%C3%A9+au+lait")

    assert response.json() == {
        "tag": "b",
        "tags": ["a", "b"],
        "empty": "",
        "flag": "",
        "missing": None,
        "items": [
            ["tag", "a"],
            ["empty", ""],
            ["tag", "b"],
            ["flag", ""],
            ["q", "café au lait"],
        ],
    }


def test_non_utf8_query_string_gives_400_when_the_handler_reads_it() -> None:
    app = Carboy()

    @app.get("/search")
    async def search(request: Request) -> dict[str, Any]:
        return dict(request.query_params)

    with TestClient(app) as client:
        response = client.get("/search?q=%ff")

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == problem(400, "Bad Request", "The query string is not valid UTF-8.")


def test_non_utf8_query_string_is_ignored_by_a_handler_that_does_not_read_it() -> None:
    app = Carboy()

    @app.get("/search")
    async def search() -> str:
        return "ok"

    with TestClient(app) as client:
        response = client.get("/search?q=%ff")

    assert response.status_code == 200
    assert response.text == "ok"


@pytest.mark.anyio
async def test_raw_utf8_bytes_in_the_query_string_are_decoded_as_utf8() -> None:
    # Clients such as curl send non-ASCII query characters unencoded.
    app = Carboy()

    @app.get("/search")
    async def search(request: Request) -> dict[str, Any]:
        return {"q": request.query_params["q"]}

    scope = http_scope("GET", "/search", query_string="q=café".encode())

    messages = await call(app, scope, [{"type": "http.request", "body": b""}])

    assert messages[1]["body"] == '{"q":"café"}'.encode()


def test_headers_are_case_insensitive_and_multi_valued() -> None:
    app = Carboy()

    @app.get("/")
    async def home(request: Request) -> dict[str, Any]:
        headers = request.headers
        return {
            "upper": headers["X-TOKEN"],
            "lower": headers["x-token"],
            "accepts": headers.getlist("Accept-Language"),
            "first": headers["accept-language"],
            "has": "X-Token" in headers,
            "missing": headers.get("x-missing"),
        }

    with TestClient(app) as client:
        response = client.get(
            "/",
            headers=[
                ("X-Token", "secret"),
                ("Accept-Language", "fr"),
                ("accept-language", "en;q=0.5"),
            ],
        )

    assert response.json() == {
        "upper": "secret",
        "lower": "secret",
        "accepts": ["fr", "en;q=0.5"],
        "first": "fr",
        "has": True,
        "missing": None,
    }


def test_cookies_are_parsed_with_quoted_values_and_malformed_parts_ignored() -> None:
    app = Carboy()

    @app.get("/")
    async def home(request: Request) -> dict[str, str]:
        return request.cookies

    with TestClient(app) as client:
        response = client.get(
            "/",
            headers={
                "cookie": 'session=abc123; garbage; =nameless; quoted="a\\073b c"; '
                'spaced = padded ; broken="\\"; empty='
            },
        )

    assert response.json() == {
        "session": "abc123",
        "quoted": "a;b c",
        "spaced": "padded",
        "empty": "",
    }


def test_cookies_from_several_cookie_headers_are_merged() -> None:
    app = Carboy()

    @app.get("/")
    async def home(request: Request) -> dict[str, str]:
        return request.cookies

    with TestClient(app) as client:
        response = client.get("/", headers=[("cookie", "a=1"), ("cookie", "b=2; a=3")])

    assert response.json() == {"a": "3", "b": "2"}


def test_client_is_the_address_of_the_peer() -> None:
    app = Carboy()

    @app.get("/")
    async def home(request: Request) -> dict[str, Any]:
        client = request.client
        assert client is not None
        return {"host": client.host, "port": client.port}

    with TestClient(app) as client:
        response = client.get("/")

    assert response.json() == {"host": "testclient", "port": 50000}


@pytest.mark.anyio
async def test_client_is_none_when_the_server_does_not_give_it() -> None:
    app = Carboy()

    @app.get("/")
    async def home(request: Request) -> str:
        return repr(request.client)

    scope = http_scope("GET", "/")
    del scope["client"]

    messages = await call(app, scope, [{"type": "http.request", "body": b""}])

    assert messages[1]["body"] == b"None"


# State, app, url_for


def test_request_state_is_per_request_and_shared_with_middleware() -> None:
    app = Carboy()

    @app.middleware
    async def tag(request: Request, call_next: Any) -> Any:
        request.state.user = "ann"
        return await call_next(request)

    @app.get("/")
    async def home(request: Request) -> dict[str, Any]:
        seen = request.state.user
        request.state.visits = 1
        return {"user": seen, "visits": request.state.visits, "has_other": "other" in request.state}

    with TestClient(app) as client:
        first = client.get("/")
        second = client.get("/")

    assert first.json() == {"user": "ann", "visits": 1, "has_other": False}
    assert second.json() == first.json()


def test_request_app_is_the_app_serving_it() -> None:
    app = Carboy()
    app.state.greeting = "hello"

    @app.get("/")
    async def home(request: Request) -> dict[str, Any]:
        return {"same": request.app is app, "greeting": request.app.state.greeting}

    with TestClient(app) as client:
        response = client.get("/")

    assert response.json() == {"same": True, "greeting": "hello"}


def test_url_for_builds_the_absolute_url_of_a_named_route() -> None:
    app = Carboy(settings=Settings(allowed_hosts=["example.com"]))

    @app.get("/articles/{slug}", name="article")
    async def article(slug: str) -> str:
        return slug

    @app.get("/")
    async def home(request: Request) -> str:
        return str(request.url_for("article", slug="hello-world"))

    with TestClient(app, base_url="https://example.com") as client:
        response = client.get("/")

    assert response.text == "https://example.com/articles/hello-world"


def test_url_for_in_a_mounted_app_keeps_the_mount_prefix() -> None:
    app = Carboy()
    blog = Carboy()

    @blog.get("/posts/{id:int}", name="post")
    async def post(request: Request, id: int) -> dict[str, str]:
        return {"url": str(request.url), "link": str(request.url_for("post", id=id + 1))}

    app.mount("/blog", blog)

    with TestClient(app) as client:
        response = client.get("/blog/posts/1")

    assert response.json() == {
        "url": "http://testserver/blog/posts/1",
        "link": "http://testserver/blog/posts/2",
    }


# Body, stream


def test_body_read_twice_gives_the_same_bytes() -> None:
    app = Carboy()

    @app.post("/")
    async def twice(request: Request) -> dict[str, Any]:
        first = await request.body()
        second = await request.body()
        return {"first": first.decode(), "same": first is second}

    with TestClient(app) as client:
        response = client.post("/", content=b"hello body")

    assert response.json() == {"first": "hello body", "same": True}


def test_stream_yields_the_body_in_the_chunks_it_came_in() -> None:
    app = echo_app()

    with TestClient(app) as client:
        response = client.post("/stream", content=chunks(b"one,", b"two,", b"three"))

    assert response.status_code == 200
    assert response.json() == {"chunks": ["one,", "two,", "three"]}


def test_stream_after_body_yields_the_kept_body() -> None:
    app = Carboy()

    @app.post("/")
    async def both(request: Request) -> dict[str, Any]:
        body = await request.body()
        return {"body": body.decode(), "streamed": [c.decode() async for c in request.stream()]}

    with TestClient(app) as client:
        response = client.post("/", content=chunks(b"a", b"b"))

    assert response.json() == {"body": "ab", "streamed": ["ab"]}


def test_stream_read_twice_raises_runtime_error() -> None:
    app = Carboy()
    errors: list[str] = []

    @app.post("/")
    async def twice(request: Request) -> str:
        async for _ in request.stream():
            pass
        try:
            await request.body()
        except RuntimeError as exc:
            errors.append(str(exc))
        return "done"

    with TestClient(app) as client:
        response = client.post("/", content=b"data")

    assert response.text == "done"
    assert errors == [
        "The request body was already read by request.stream(), which does not keep it. "
        "Read it with await request.body() instead, which keeps it for later reads."
    ]


def test_body_larger_than_the_limit_by_content_length_gives_413() -> None:
    app = echo_app(Limits(max_body_size=10))

    with TestClient(app) as client:
        response = client.post("/body", content=b"x" * 11)

    assert response.status_code == 413
    assert response.json() == problem(
        413, TOO_LARGE, "The request body is larger than the limit of 10 bytes."
    )


def test_body_at_the_limit_is_read() -> None:
    app = echo_app(Limits(max_body_size=10))

    with TestClient(app) as client:
        response = client.post("/body", content=b"x" * 10)

    assert response.status_code == 200
    assert response.json() == {"body": "xxxxxxxxxx"}


def test_chunked_body_without_content_length_past_the_limit_gives_413() -> None:
    app = echo_app(Limits(max_body_size=10))

    with TestClient(app) as client:
        response = client.post("/stream", content=chunks(b"x" * 6, b"x" * 6))

    assert response.status_code == 413
    assert response.json() == problem(
        413, TOO_LARGE, "The request body is larger than the limit of 10 bytes."
    )


def test_limit_set_on_the_app_after_creation_applies() -> None:
    app = echo_app()
    app.limits.max_body_size = 4

    with TestClient(app) as client:
        response = client.post("/body", content=chunks(b"abc", b"de"))

    assert response.status_code == 413
    assert response.json()["detail"] == "The request body is larger than the limit of 4 bytes."


# JSON


def test_json_body_is_parsed() -> None:
    app = echo_app()

    with TestClient(app) as client:
        response = client.post("/json", json={"name": "Ann", "tags": ["a", "b"], "age": 3})

    assert response.status_code == 200
    assert response.json() == {"json": {"name": "Ann", "tags": ["a", "b"], "age": 3}}


def test_json_with_plus_json_media_type_and_parameters_is_accepted() -> None:
    app = echo_app()

    with TestClient(app) as client:
        response = client.post(
            "/json",
            content=b'{"op": "add"}',
            headers={"content-type": "Application/Merge-Patch+JSON; charset=utf-8"},
        )

    assert response.status_code == 200
    assert response.json() == {"json": {"op": "add"}}


def test_json_with_malformed_body_gives_400_with_position() -> None:
    app = echo_app()

    with TestClient(app) as client:
        response = client.post(
            "/json",
            content=b'{\n  "name": "Ann",\n  oops\n}',
            headers={"content-type": "application/json"},
        )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == problem(
        400,
        "Bad Request",
        "The request body is not valid JSON: unexpected character, expected a string key "
        "at line 3, column 3.",
    )


def test_json_with_empty_body_gives_400() -> None:
    app = echo_app()

    with TestClient(app) as client:
        response = client.post("/json", headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert response.json() == problem(
        400,
        "Bad Request",
        "The request body is not valid JSON: Input is a zero-length, empty document "
        "at line 1, column 1.",
    )


def test_json_with_wrong_content_type_gives_415() -> None:
    app = echo_app()

    with TestClient(app) as client:
        response = client.post("/json", content=b'{"a": 1}', headers={"content-type": "text/plain"})

    assert response.status_code == 415
    assert response.json() == problem(
        415,
        "Unsupported Media Type",
        "The request body must be JSON: send it with 'Content-Type: application/json'.",
    )


def test_json_without_content_type_gives_415() -> None:
    app = echo_app()

    with TestClient(app) as client:
        response = client.post("/json", content=b'{"a": 1}')

    assert response.status_code == 415


# Forms


def test_urlencoded_form_is_parsed() -> None:
    app = echo_app()

    with TestClient(app) as client:
        response = client.post("/form", data={"name": "Ann Lee", "tag": ["a", "b"], "note": ""})

    assert response.status_code == 200
    assert response.json() == {"name": ["Ann Lee"], "tag": ["a", "b"], "note": [""]}


def test_multipart_form_with_files_is_parsed() -> None:
    app = echo_app()

    with TestClient(app) as client:
        response = client.post(
            "/form",
            data={"title": "Holiday"},
            files=[
                ("photos", ("a.txt", b"first file", "text/plain")),
                ("photos", ("b.csv", b"x,y\n1,2", "text/csv")),
            ],
        )

    assert response.status_code == 200
    assert response.json() == {
        "title": ["Holiday"],
        "photos": [["a.txt", "text/plain", "first file"], ["b.csv", "text/csv", "x,y\n1,2"]],
    }


def test_uploaded_files_are_closed_after_the_response() -> None:
    app = Carboy()
    uploads: list[UploadFile] = []

    @app.post("/")
    async def upload(request: Request) -> str:
        form = await request.form()
        uploads.append(form["file"])
        return "ok"

    with TestClient(app) as client:
        response = client.post("/", files={"file": ("a.txt", b"data", "text/plain")})

    assert response.text == "ok"
    assert uploads[0].file.closed


def test_broken_multipart_body_gives_400() -> None:
    app = echo_app()

    with TestClient(app) as client:
        response = client.post(
            "/form",
            content=b'--other\r\nContent-Disposition: form-data; name="a"\r\n\r\n'
            b"1\r\n--other--\r\n",
            headers={"content-type": "multipart/form-data; boundary=expected"},
        )

    assert response.status_code == 400
    assert response.json() == problem(
        400,
        "Bad Request",
        "The multipart body is malformed: it does not start with the boundary of the "
        "Content-Type header, or a part's headers are invalid.",
    )


def test_truncated_multipart_body_gives_400() -> None:
    app = echo_app()

    with TestClient(app) as client:
        response = client.post(
            "/form",
            content=b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1',
            headers={"content-type": "multipart/form-data; boundary=b"},
        )

    assert response.status_code == 400
    assert response.json() == problem(
        400,
        "Bad Request",
        "The multipart body is malformed: it ends before the closing boundary.",
    )


def test_form_with_too_many_fields_gives_400() -> None:
    app = echo_app(Limits(form=FormLimits(max_fields=2)))

    with TestClient(app) as client:
        response = client.post("/form", data={"a": "1", "b": "2", "c": "3"})

    assert response.status_code == 400
    assert response.json() == problem(400, "Bad Request", "Too many form fields: the limit is 2.")


def test_form_upload_past_the_body_limit_gives_413() -> None:
    app = echo_app(Limits(max_body_size=100))

    with TestClient(app) as client:
        response = client.post("/form", files={"file": ("big.bin", b"x" * 200)})

    assert response.status_code == 413
    assert response.json() == problem(
        413, TOO_LARGE, "The request body is larger than the limit of 100 bytes."
    )


def test_form_with_a_json_body_gives_415() -> None:
    app = echo_app()

    with TestClient(app) as client:
        response = client.post("/form", json={"a": 1})

    assert response.status_code == 415
    assert response.json() == problem(
        415,
        "Unsupported Media Type",
        "The content type 'application/json' cannot be read as a form. Send the form as "
        "application/x-www-form-urlencoded or multipart/form-data.",
    )


# Client disconnect


def http_scope(method: str, path: str, query_string: bytes = b"") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query_string,
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }


async def call(app: Carboy, scope: dict[str, Any], incoming: list[Message]) -> list[Message]:
    """Call ``app`` as a server would; return what it sent."""
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.mark.anyio
async def test_client_disconnect_mid_body_ends_the_request_without_a_response() -> None:
    app = Carboy()
    reached: list[str] = []

    @app.post("/upload")
    async def upload(request: Request) -> str:
        reached.append("handler")
        await request.body()
        reached.append("after body")
        return "read"

    scope = http_scope("POST", "/upload")
    scope["headers"].append((b"content-length", b"100"))

    sent = await call(
        app,
        scope,
        [
            {"type": "http.request", "body": b"partial", "more_body": True},
            {"type": "http.disconnect"},
        ],
    )

    assert sent == []
    assert reached == ["handler"]


@pytest.mark.anyio
async def test_client_disconnect_while_parsing_a_form_closes_nothing_and_sends_nothing() -> None:
    app = Carboy()

    @app.post("/upload")
    async def upload(request: Request) -> str:
        await request.form()
        return "read"

    scope = http_scope("POST", "/upload")
    scope["headers"].append((b"content-type", b"multipart/form-data; boundary=b"))

    sent = await call(
        app,
        scope,
        [
            {
                "type": "http.request",
                "body": b'--b\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\nab',
                "more_body": True,
            },
            {"type": "http.disconnect"},
        ],
    )

    assert sent == []


def test_a_head_request_has_no_body_even_when_one_is_sent() -> None:
    # RFC 9110 9.3.2: content on HEAD has no meaning, so a form sent with a
    # HEAD can never act like a POST's.
    app = Carboy()
    seen: list[Any] = []

    @app.get("/page")
    async def page(request: Request) -> dict[str, Any]:
        form = await request.form()
        seen.append((await request.body(), dict(form)))
        return {"ok": True}

    response = TestClient(app).request(
        "HEAD",
        "/page",
        content=b"title=planted",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 200
    assert response.content == b""
    assert seen == [(b"", {})]
