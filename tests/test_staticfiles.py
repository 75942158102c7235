from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from carboy import Carboy
from carboy.exceptions import ImproperlyConfigured
from carboy.staticfiles import StaticFiles
from carboy.types import Message, Scope

pytestmark = pytest.mark.anyio

SECRET = b"the secret outside the static directory"


@pytest.fixture
def static(tmp_path: Path) -> Path:
    (tmp_path / "secret.txt").write_bytes(SECRET)
    root = tmp_path / "static"
    (root / "css").mkdir(parents=True)
    (root / "css" / "site.css").write_bytes(b"body { margin: 0 }")
    (root / "app.js").write_bytes(b"export {};")
    (root / "logo.svg").write_bytes(b"<svg/>")
    (root / "data.json").write_bytes(b"{}")
    (root / "font.woff2").write_bytes(b"wOF2")
    (root / "module.mjs").write_bytes(b"export {};")
    (root / "page.html").write_bytes(b"<p>page</p>")
    (root / "docs").mkdir()
    (root / "docs" / "index.html").write_bytes(b"<h1>docs</h1>")
    (root / "index.html").write_bytes(b"<h1>home</h1>")
    (root / "empty").mkdir()
    return root


def client_for(app: StaticFiles, root_path: str = "") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def call(
    app: StaticFiles, path: str, method: str = "GET", root_path: str = ""
) -> tuple[int, dict[str, str], bytes]:
    """Send a hand-made scope, so the path arrives exactly as a server could pass it."""
    scope: Scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "root_path": root_path,
        "query_string": b"",
        "headers": [],
        "scheme": "http",
        "server": ("testserver", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start, *bodies = sent
    headers = {name.decode(): value.decode() for name, value in start["headers"]}
    return start["status"], headers, b"".join(message["body"] for message in bodies)


def test_missing_directory_is_reported_at_construction(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    with pytest.raises(ImproperlyConfigured) as caught:
        StaticFiles(directory=missing)

    assert str(caught.value) == (
        f"The static directory {str(missing)!r} does not exist. Create it, or pass check_dir=False."
    )


def test_file_given_as_directory_is_reported_at_construction(tmp_path: Path) -> None:
    file = tmp_path / "static"
    file.write_bytes(b"")

    with pytest.raises(ImproperlyConfigured) as caught:
        StaticFiles(directory=file)

    assert str(caught.value) == (
        f"The static directory {str(file)!r} is a file, not a directory. "
        "Pass the path of a directory."
    )


async def test_missing_directory_with_check_dir_off_answers_404(tmp_path: Path) -> None:
    app = StaticFiles(directory=tmp_path / "later", check_dir=False)

    status, _, body = await call(app, "/site.css")

    assert status == 404
    assert body == b"Not Found"


async def test_directory_created_after_construction_is_served(tmp_path: Path) -> None:
    app = StaticFiles(directory=tmp_path / "later", check_dir=False)
    (tmp_path / "later").mkdir()
    (tmp_path / "later" / "a.txt").write_bytes(b"a")

    status, _, body = await call(app, "/a.txt")

    assert status == 200
    assert body == b"a"


async def test_file_is_served_with_length_validators_and_type(static: Path) -> None:
    async with client_for(StaticFiles(directory=static)) as client:
        response = await client.get("/css/site.css")

    stat = os.stat(static / "css" / "site.css")
    assert response.status_code == 200
    assert response.content == b"body { margin: 0 }"
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert response.headers["content-length"] == "18"
    assert response.headers["etag"] == f'"{stat.st_mtime_ns:x}-12"'
    assert response.headers["accept-ranges"] == "bytes"
    assert "last-modified" in response.headers


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/css/site.css", "text/css; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/module.mjs", "text/javascript; charset=utf-8"),
        ("/logo.svg", "image/svg+xml"),
        ("/data.json", "application/json"),
        ("/font.woff2", "font/woff2"),
        ("/page.html", "text/html; charset=utf-8"),
    ],
)
async def test_content_type_follows_the_extension(
    static: Path, path: str, content_type: str
) -> None:
    async with client_for(StaticFiles(directory=static)) as client:
        response = await client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"] == content_type


async def test_content_type_follows_the_requested_name_not_the_symlink_target(
    static: Path,
) -> None:
    (static / "site.v2").write_bytes(b"body {}")
    (static / "latest.css").symlink_to(static / "site.v2")

    async with client_for(StaticFiles(directory=static)) as client:
        response = await client.get("/latest.css")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/css; charset=utf-8"


async def test_head_sends_headers_and_no_body(static: Path) -> None:
    async with client_for(StaticFiles(directory=static)) as client:
        response = await client.head("/app.js")

    assert response.status_code == 200
    assert response.headers["content-length"] == "10"
    assert response.content == b""


async def test_missing_file_gets_a_plain_404(static: Path) -> None:
    async with client_for(StaticFiles(directory=static)) as client:
        response = await client.get("/nope.css")

    assert response.status_code == 404
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "Not Found"


async def test_file_with_a_trailing_slash_gets_404(static: Path) -> None:
    async with client_for(StaticFiles(directory=static)) as client:
        response = await client.get("/app.js/")

    assert response.status_code == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
async def test_methods_other_than_get_and_head_get_405_with_allow(
    static: Path, method: str
) -> None:
    async with client_for(StaticFiles(directory=static)) as client:
        response = await client.request(method, "/app.js")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.text == "Method Not Allowed: static files answer GET and HEAD only."


async def test_if_none_match_gets_304(static: Path) -> None:
    async with client_for(StaticFiles(directory=static)) as client:
        first = await client.get("/app.js")
        second = await client.get("/app.js", headers={"if-none-match": first.headers["etag"]})

    assert second.status_code == 304
    assert second.content == b""
    assert second.headers["etag"] == first.headers["etag"]
    assert "content-length" not in second.headers


async def test_if_modified_since_gets_304(static: Path) -> None:
    async with client_for(StaticFiles(directory=static)) as client:
        first = await client.get("/app.js")
        second = await client.get(
            "/app.js", headers={"if-modified-since": first.headers["last-modified"]}
        )

    assert second.status_code == 304


async def test_range_gets_206(static: Path) -> None:
    async with client_for(StaticFiles(directory=static)) as client:
        response = await client.get("/css/site.css", headers={"range": "bytes=0-3"})

    assert response.status_code == 206
    assert response.headers["content-range"] == "bytes 0-3/18"
    assert response.content == b"body"


async def test_full_path_under_the_root_path_is_served(static: Path) -> None:
    async with client_for(StaticFiles(directory=static), root_path="/static") as client:
        response = await client.get("/static/css/site.css")

    assert response.status_code == 200
    assert response.content == b"body { margin: 0 }"


async def test_path_already_stripped_of_the_root_path_is_served(static: Path) -> None:
    app = StaticFiles(directory=static)

    status, _, body = await call(app, "/css/site.css", root_path="/static")

    assert status == 200
    assert body == b"body { margin: 0 }"


async def test_files_are_served_through_an_app_mount(static: Path) -> None:
    app = Carboy()
    app.mount("/static", StaticFiles(directory=static, html=True), name="static")
    transport = httpx.ASGITransport(app=app)

    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        css = await client.get("/static/css/site.css")
        docs = await client.get("/static/docs")
        missing = await client.get("/static/nope.css")

    assert css.status_code == 200
    assert css.content == b"body { margin: 0 }"
    assert docs.status_code == 308
    assert docs.headers["location"] == "/static/docs/"
    assert missing.status_code == 404
    assert missing.text == "Not Found"


# Paths that try to leave the directory. Each is sent as a server could pass
# it, decoded or not, so no client normalises it first.


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/./../secret.txt",
        "/css/../../secret.txt",
        "/..\\secret.txt",
        "\\..\\secret.txt",
        "/css\\..\\..\\secret.txt",
        "..",
        "/..",
        "//etc/passwd",
        "/../../../../../../../../etc/passwd",
    ],
)
async def test_path_climbing_out_of_the_directory_gets_404(static: Path, path: str) -> None:
    app = StaticFiles(directory=static)

    status, headers, body = await call(app, path)

    assert status == 404
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert body == b"Not Found"


async def test_absolute_path_to_a_file_outside_gets_404(static: Path) -> None:
    app = StaticFiles(directory=static)
    outside = str(static.parent / "secret.txt")

    status, _, body = await call(app, "/" + outside)

    assert status == 404
    assert body == b"Not Found"


@pytest.mark.parametrize("path", ["/app.js\x00", "/\x00../secret.txt", "/app.js\x00.png"])
async def test_path_with_a_nul_byte_gets_400(static: Path, path: str) -> None:
    app = StaticFiles(directory=static)

    status, _, body = await call(app, path)

    assert status == 400
    assert body == b"The path holds a NUL byte, which no file name can."


async def test_percent_encoded_traversal_through_http_gets_404(static: Path) -> None:
    async with client_for(StaticFiles(directory=static)) as client:
        response = await client.get("/..%2fsecret.txt")

    assert response.status_code == 404
    assert response.content == b"Not Found"


async def test_symlink_pointing_outside_gets_404(static: Path) -> None:
    (static / "leak.txt").symlink_to(static.parent / "secret.txt")
    app = StaticFiles(directory=static)

    status, _, body = await call(app, "/leak.txt")

    assert status == 404
    assert body == b"Not Found"


async def test_symlinked_directory_pointing_outside_gets_404(static: Path) -> None:
    (static / "up").symlink_to(static.parent, target_is_directory=True)
    app = StaticFiles(directory=static)

    status, _, body = await call(app, "/up/secret.txt")

    assert status == 404
    assert body == b"Not Found"


async def test_symlink_pointing_outside_is_served_with_follow_symlinks(static: Path) -> None:
    (static / "shared.txt").symlink_to(static.parent / "secret.txt")
    app = StaticFiles(directory=static, follow_symlinks=True)

    status, _, body = await call(app, "/shared.txt")

    assert status == 200
    assert body == SECRET


async def test_follow_symlinks_still_refuses_dot_dot(static: Path) -> None:
    app = StaticFiles(directory=static, follow_symlinks=True)

    status, _, body = await call(app, "/../secret.txt")

    assert status == 404
    assert body == b"Not Found"


async def test_symlink_pointing_inside_is_served(static: Path) -> None:
    (static / "alias.js").symlink_to(static / "app.js")
    app = StaticFiles(directory=static)

    status, _, body = await call(app, "/alias.js")

    assert status == 200
    assert body == b"export {};"


async def test_static_directory_reached_through_a_symlink_is_served(
    static: Path, tmp_path: Path
) -> None:
    (tmp_path / "current").symlink_to(static, target_is_directory=True)
    app = StaticFiles(directory=tmp_path / "current")

    status, _, body = await call(app, "/app.js")

    assert status == 200
    assert body == b"export {};"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX only")
async def test_named_pipe_gets_404(static: Path) -> None:
    os.mkfifo(static / "pipe")
    app = StaticFiles(directory=static)

    status, _, body = await call(app, "/pipe")

    assert status == 404
    assert body == b"Not Found"


# Directories


@pytest.mark.parametrize("path", ["/", "/docs", "/docs/", "/css/"])
async def test_directory_gets_404_without_html(static: Path, path: str) -> None:
    app = StaticFiles(directory=static)

    status, _, body = await call(app, path)

    assert status == 404
    assert body == b"Not Found"


@pytest.mark.parametrize(("path", "body"), [("/", b"<h1>home</h1>"), ("/docs/", b"<h1>docs</h1>")])
async def test_directory_with_a_slash_serves_its_index_with_html(
    static: Path, path: str, body: bytes
) -> None:
    async with client_for(StaticFiles(directory=static, html=True)) as client:
        response = await client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.content == body


async def test_directory_without_a_slash_redirects_to_it_with_308(static: Path) -> None:
    app = StaticFiles(directory=static, html=True)

    status, headers, body = await call(app, "/docs", root_path="/static")

    assert status == 308
    assert headers["location"] == "/static/docs/"
    assert body == b""


async def test_mount_root_without_a_slash_redirects_to_it_with_html(static: Path) -> None:
    async with client_for(StaticFiles(directory=static, html=True), root_path="/static") as client:
        response = await client.get("/static")

    assert response.status_code == 308
    assert response.headers["location"] == "/static/"


async def test_directory_redirect_keeps_the_query_string(static: Path) -> None:
    async with client_for(StaticFiles(directory=static, html=True)) as client:
        response = await client.get("/docs?v=2")

    assert response.status_code == 308
    assert response.headers["location"] == "/docs/?v=2"


async def test_directory_redirect_cannot_point_to_another_host(static: Path) -> None:
    app = StaticFiles(directory=static, html=True)

    status, headers, _ = await call(app, "//docs")

    assert status == 308
    assert headers["location"] == "/docs/"


async def test_directory_redirect_percent_encodes_the_name(static: Path) -> None:
    (static / "a b%").mkdir()
    (static / "a b%" / "index.html").write_bytes(b"")
    app = StaticFiles(directory=static, html=True)

    status, headers, _ = await call(app, "/a b%")

    assert status == 308
    assert headers["location"] == "/a%20b%25/"


async def test_directory_without_index_gets_404_with_html(static: Path) -> None:
    app = StaticFiles(directory=static, html=True)

    status, _, body = await call(app, "/empty/")

    assert status == 404
    assert body == b"Not Found"


async def test_index_gets_304_when_unchanged(static: Path) -> None:
    async with client_for(StaticFiles(directory=static, html=True)) as client:
        first = await client.get("/docs/")
        second = await client.get("/docs/", headers={"if-none-match": first.headers["etag"]})

    assert second.status_code == 304


async def test_websocket_is_refused(static: Path) -> None:
    app = StaticFiles(directory=static)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "websocket", "path": "/app.js", "headers": []}, receive, send)

    assert sent == [{"type": "websocket.close", "code": 1000}]


# Several directories, and Cache-Control ---------------------------------------


@pytest.fixture
def layers(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "css").mkdir(parents=True)
    (second / "css").mkdir(parents=True)
    (first / "css" / "site.css").write_bytes(b"first")
    (second / "css" / "site.css").write_bytes(b"second")
    (second / "css" / "extra.css").write_bytes(b"extra")
    (second / "docs").mkdir()
    (second / "docs" / "index.html").write_bytes(b"second docs")
    return first, second


async def test_several_directories_serve_a_path_from_the_first_that_has_it(
    layers: tuple[Path, Path],
) -> None:
    app = StaticFiles(directories=layers)

    shadowed = await call(app, "/css/site.css")
    only_second = await call(app, "/css/extra.css")
    nowhere = await call(app, "/css/none.css")

    assert (shadowed[0], shadowed[2]) == (200, b"first")
    assert (only_second[0], only_second[2]) == (200, b"extra")
    assert (nowhere[0], nowhere[2]) == (404, b"Not Found")


async def test_several_directories_serve_an_index_from_a_later_one(
    layers: tuple[Path, Path],
) -> None:
    app = StaticFiles(directories=layers, html=True)

    status, _, body = await call(app, "/docs/")

    assert (status, body) == (200, b"second docs")


async def test_several_directories_keep_each_one_closed_to_climbing_out(
    layers: tuple[Path, Path],
) -> None:
    app = StaticFiles(directories=layers)

    status, _, _ = await call(app, "/../second/css/extra.css")

    assert status == 404


def test_a_missing_one_of_several_directories_is_reported_at_construction(
    layers: tuple[Path, Path],
) -> None:
    missing = layers[0].parent / "nowhere"

    with pytest.raises(ImproperlyConfigured) as caught:
        StaticFiles(directories=[*layers, missing])

    assert str(caught.value) == (
        f"The static directory {str(missing)!r} does not exist. Create it, or pass check_dir=False."
    )


@pytest.mark.parametrize(
    "arguments",
    [{}, {"directory": "static", "directories": ["static"]}],
    ids=["neither", "both"],
)
def test_static_files_needs_directory_or_directories(arguments: dict[str, object]) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        StaticFiles(**arguments)  # type: ignore[arg-type]

    assert str(caught.value) == (
        "StaticFiles takes the folder to serve as directory=, or several as directories=. "
        "Pass one of the two."
    )


def test_static_files_refuses_an_empty_list_of_directories() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        StaticFiles(directories=[])

    assert str(caught.value) == (
        "StaticFiles(directories=[]) has no folder to serve. Pass at least one."
    )


async def test_cache_control_given_as_a_value_is_sent_with_every_file(static: Path) -> None:
    app = StaticFiles(directory=static, cache_control="no-cache")

    _, headers, _ = await call(app, "/css/site.css")

    assert headers["cache-control"] == "no-cache"


async def test_cache_control_given_as_a_function_gets_the_path_below_the_mount(
    static: Path,
) -> None:
    asked: list[str] = []

    def cache_control(path: str) -> str | None:
        asked.append(path)
        return "public, max-age=60" if path.endswith(".css") else None

    app = StaticFiles(directory=static, html=True, cache_control=cache_control)

    _, css, _ = await call(app, "/static/css/site.css", root_path="/static")
    _, script, _ = await call(app, "/static/app.js", root_path="/static")
    _, index, _ = await call(app, "/static/docs/", root_path="/static")

    assert css["cache-control"] == "public, max-age=60"
    assert "cache-control" not in script
    assert "cache-control" not in index
    assert asked == ["css/site.css", "app.js", "docs/index.html"]


async def test_cache_control_is_kept_on_a_304(static: Path) -> None:
    app = StaticFiles(directory=static, cache_control="no-cache")
    async with client_for(app) as client:
        first = await client.get("/app.js")
        second = await client.get("/app.js", headers={"if-none-match": first.headers["etag"]})

    assert second.status_code == 304
    assert second.headers["cache-control"] == "no-cache"
