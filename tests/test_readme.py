"""The README's two set-up commands: the test command is what CI runs; the
serve command really serves the demo."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def command_after(marker: str) -> str:
    found = re.search(rf"<!-- {marker} -->\n```sh\n(.+)\n```", README)
    assert found is not None, f"README.md has no command after <!-- {marker} -->"
    return found.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_readme_gives_an_install_then_serve_command_and_an_install_then_test_command() -> None:
    assert (
        command_after("serve-command") == "pip install -e . && carboy run --app examples.hello:app"
    )
    assert command_after("test-command") == "pip install -e '.[dev]' && python -m pytest -n auto"


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")

    assert "<!-- test-command -->" in ci
    assert 'bash -c "$test_command"' in ci


def test_ci_builds_the_site_as_the_readme_says() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    build = command_after("docs-command").split(" && ")[1]

    assert build == "python docs/build.py"
    assert f"\n{build}\n" in ci


def test_the_serve_command_serves_the_demo_home_page() -> None:
    serve = command_after("serve-command").split(" && ")[1]
    port = free_port()
    carboy = Path(sys.executable).parent / "carboy"
    argv = [str(carboy), *shlex.split(serve)[1:], "--port", str(port), "--no-reload"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("CARBOY_")}
    server = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 15
        response = None
        while time.monotonic() < deadline and response is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            except httpx.TransportError:
                time.sleep(0.1)
        assert response is not None, "carboy run did not answer within 15 seconds"
        api = httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=2)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()

    assert response.status_code == 200
    assert "<h1>carboy is running</h1>" in response.text
    # carboy run is the development server: debug is on.
    assert api.json() == {"ok": True, "debug": True}


def test_the_readme_python_snippets_run() -> None:
    from carboy.testing import TestClient

    snippets = re.findall(r"```python\n(.*?)```", README, re.S)
    hello: dict[str, object] = {}
    typed: dict[str, object] = {}
    exec(compile(snippets[0], "README.md", "exec"), hello)
    exec(compile(snippets[1], "README.md", "exec"), typed)

    hello_client = TestClient(hello["app"])  # type: ignore[arg-type]
    typed_client = TestClient(typed["app"], headers={"x-api-key": "k"})  # type: ignore[arg-type]

    assert hello_client.get("/").json() == {"message": "Hello, World!"}
    assert hello_client.get("/users/abc").status_code == 404
    assert typed_client.post("/items/3", json={"name": "a", "price": 2}).json() == {
        "name": "a",
        "price": 2.0,
        "id": 1,
    }
    invalid = typed_client.post("/items/3?notify=perhaps", json={"name": "a", "price": 0})
    assert [error["location"] for error in invalid.json()["errors"]] == [
        "query.notify",
        "body.price",
    ]


def test_the_readme_database_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from carboy.db import Model
    from carboy.testing import TestClient

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CARBOY_DATABASE_URL", raising=False)
    snippet = re.findall(r"```python\n(.*?)```", README, re.S)[2]
    namespace: dict[str, object] = {}
    # Not inheriting this module's `from __future__ import annotations`: the
    # snippet runs as a user's file would.
    exec(compile(snippet, "README.md", "exec", dont_inherit=True), namespace)
    note_table = Model.metadata.tables["note"]
    try:
        db = namespace["app"].extensions["db"]  # type: ignore[attr-defined]
        note_table.create(db.engine)
        with TestClient(namespace["app"]) as client:  # type: ignore[arg-type]
            created = client.post("/notes", json={"text": "first"})
            assert created.status_code == 201
            assert created.json() == {"id": 1, "text": "first"}
            client.post("/notes", json={"text": "second"})
            page = client.get("/notes?per_page=1&page=2").json()
            assert (page["items"], page["total"], page["pages"]) == (["second"], 2, 2)
            assert client.get("/notes/1").json() == {"id": 1, "text": "first"}
            assert client.get("/notes/3").status_code == 404
        assert (tmp_path / "db.sqlite3").exists()
    finally:
        Model.metadata.remove(note_table)


def test_the_readme_auth_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from carboy.testing import TestClient

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CARBOY_DATABASE_URL", raising=False)
    monkeypatch.setenv("CARBOY_SECRET_KEY", "readme-test-key")
    snippet = re.findall(r"```python\n(.*?)```", README, re.S)[3]
    namespace: dict[str, object] = {}
    exec(compile(snippet, "README.md", "exec", dont_inherit=True), namespace)
    app = namespace["app"]
    db = app.extensions["db"]  # type: ignore[attr-defined]
    from carboy.db import Model

    auth_tables = [t for name, t in Model.metadata.tables.items() if name.startswith("auth_")]
    Model.metadata.create_all(db.engine, tables=auth_tables)
    with TestClient(app) as client:  # type: ignore[arg-type]
        assert client.get("/me").status_code == 401
        page = client.get("/me", headers={"accept": "text/html"}, follow_redirects=False)
        assert (page.status_code, page.headers["location"]) == (303, "/auth/login?next=/me")
        assert client.post("/posts/1/publish").status_code == 401


def test_the_readme_admin_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from carboy.auth.hashers import make_password
    from carboy.db import Model
    from carboy.testing import TestClient

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CARBOY_DATABASE_URL", raising=False)
    monkeypatch.setenv("CARBOY_SECRET_KEY", "readme-test-key")
    snippet = re.findall(r"```python\n(.*?)```", README, re.S)[4]
    namespace: dict[str, object] = {}
    exec(compile(snippet, "README.md", "exec", dont_inherit=True), namespace)
    app = namespace["app"]
    db = app.extensions["db"]  # type: ignore[attr-defined]
    tables = [Model.metadata.tables[name] for name in ("book", "review")]
    try:
        Model.metadata.create_all(db.engine)
        with db.session() as session:
            user = namespace["User"](  # type: ignore[operator]
                email="root@example.com",
                password=make_password("a long password"),
                is_staff=True,
                is_superuser=True,
            )
            session.add_all([user, namespace["Book"](title="Dune")])  # type: ignore[operator]
            session.commit()
        html = {"accept": "text/html"}
        with TestClient(app) as client:  # type: ignore[arg-type]
            login = client.get("/admin/login", headers=html).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)  # type: ignore[union-attr]
            signed_in = client.post(
                "/admin/login",
                data={
                    "email": "root@example.com",
                    "password": "a long password",
                    "csrf_token": token,
                },
            )
            assert signed_in.status_code == 303
            listing = client.get("/admin/book/?q=dune", headers=html).text
            assert ">Dune</a>" in listing
            assert '<option value="out_of_print">Mark out of print</option>' in listing
            edit = client.get("/admin/book/1/", headers=html).text
            assert 'name="review-0-text"' in edit
            assert client.get("/admin/auth_user/", headers=html).status_code == 200
    finally:
        Model.metadata.drop_all(db.engine)
        for table in tables:
            Model.metadata.remove(table)


BLOG_COMMAND = (
    "pip install -e '.[sqlite,auth]' && cd examples/blog && carboy db migrate && "
    "carboy db load seed.json && CARBOY_SUPERUSER_PASSWORD=blog-admin-password "
    "carboy createsuperuser --email admin@example.com --no-input && carboy run"
)


def test_the_readme_and_the_blog_example_give_the_command_the_blog_test_runs() -> None:
    from tests.examples.test_blog import blog_command

    example_readme = ROOT / "examples" / "blog" / "README.md"

    assert command_after("blog-command") == BLOG_COMMAND
    # The example's test runs the command it reads from README.md, this one.
    assert blog_command() == BLOG_COMMAND
    assert blog_command(example_readme) == BLOG_COMMAND
