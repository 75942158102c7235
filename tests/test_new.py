"""``carboy new``: the files it writes, what it refuses, and a new project that works.

The fast tests run the command in this process. ``test_a_new_project_in_a_fresh_venv``
does what a newcomer does: it installs this carboy into a new virtualenv,
creates ``mysite``, installs it and runs the test command its README gives,
then migrates and serves it, and requests the home page and the admin.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import venv
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, make_url

from carboy.cli import main
from carboy.project_templates import carboy_location
from tests._services import fresh_database as shared_fresh_database
from tests._services import mysql_url, postgres_url

WORKTREE = Path(__file__).resolve().parents[1]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _new(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["new", *args])
    return result.exit_code, result.output


def _files(root: Path) -> set[str]:
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_new_writes_the_full_project(in_tmp: Path) -> None:
    code, output = _new("mysite")
    assert code == 0, output
    assert "Created the project mysite in" in output
    assert "carboy db migrate" in output
    root = in_tmp / "mysite"
    assert _files(root) == {
        ".env",
        ".env.example",
        ".gitignore",
        "README.md",
        "app.py",
        "models.py",
        "routes.py",
        "pyproject.toml",
        "migrations/README",
        "migrations/env.py",
        "migrations/script.py.mako",
        "migrations/versions/20261121_c2767538b2b7_initial.py",
        "static/style.css",
        "templates/base.html",
        "templates/index.html",
        "tests/__init__.py",
        "tests/test_home.py",
    }
    assert '__tablename__ = "mysite_note"' in (root / "models.py").read_text()
    assert (
        'op.create_table(\n        "mysite_note"'
        in (root / "migrations/versions/20261121_c2767538b2b7_initial.py").read_text()
    )
    assert '{% extends "base.html" %}' in (root / "templates/index.html").read_text()
    assert "/static/style.css" in (root / "templates/base.html").read_text()
    pyproject = (root / "pyproject.toml").read_text()
    location = carboy_location()
    if location is None:  # carboy from a package index: asked for by name
        assert 'dependencies = ["carboy[sqlite,auth]"]' in pyproject
    else:  # this checkout, installed from a folder: asked for there
        assert f'dependencies = ["carboy[sqlite,auth] @ {location}"]' in pyproject
        assert "[tool.hatch.metadata]\nallow-direct-references = true\n" in pyproject
    example = (root / ".env.example").read_text()
    for setting in ("CARBOY_SECRET_KEY", "CARBOY_DEBUG", "CARBOY_DATABASE_URL"):
        assert setting in example
    env = (root / ".env").read_text()
    key = re.search(r"^CARBOY_SECRET_KEY=(\S+)$", env, re.MULTILINE)
    assert key is not None and len(key[1]) >= 50
    assert ".env\n" in (root / ".gitignore").read_text()
    assert "carboy_project_name" not in "".join(
        (root / name).read_text() for name in _files(root) if not name.endswith(".mako")
    )
    # A second project gets its own secret key.
    assert _new("othersite")[0] == 0
    assert (in_tmp / "othersite/.env").read_text() != env


def test_the_new_project_passes_ruff(in_tmp: Path) -> None:
    assert _new("mysite")[0] == 0
    assert _new("mini", "--minimal")[0] == 0
    for name in ("mysite", "mini"):
        for command in (["check", "."], ["format", "--check", "."]):
            done = subprocess.run(
                [sys.executable, "-m", "ruff", *command],
                cwd=in_tmp / name,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, done.stdout + done.stderr


def test_minimal_writes_a_one_file_app(in_tmp: Path) -> None:
    code, output = _new("mini", "--minimal")
    assert code == 0, output
    assert "carboy db" not in output
    root = in_tmp / "mini"
    assert _files(root) == {
        ".gitignore",
        "README.md",
        "app.py",
        "pyproject.toml",
        "tests/__init__.py",
        "tests/test_app.py",
    }
    assert "Hello from mini" in (root / "app.py").read_text()
    assert "carboy.db" not in (root / "app.py").read_text()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("my-site", "'my-site' is not a valid project name"),
        ("1site", "'1site' is not a valid project name"),
        ("my site", "'my site' is not a valid project name"),
        ("../escape", "'../escape' is not a valid project name"),
        ("<script>", "'<script>' is not a valid project name"),
        ("café", "'café' is not a valid project name"),
        ("class", "'class' cannot be a project name"),
        ("carboy", "'carboy' cannot be a project name"),
        ("models", "'models' cannot be a project name"),
    ],
)
def test_bad_names_are_refused(in_tmp: Path, name: str, message: str) -> None:
    code, output = _new(name)
    assert code == 1
    assert f"Error: {message}" in output
    assert list(in_tmp.iterdir()) == []


def test_a_non_empty_folder_is_refused_and_kept(in_tmp: Path) -> None:
    (in_tmp / "mysite").mkdir()
    (in_tmp / "mysite" / "notes.txt").write_text("mine")
    code, output = _new("mysite")
    assert code == 1
    assert "Error: The folder mysite exists and is not empty" in output
    assert _files(in_tmp / "mysite") == {"notes.txt"}
    assert (in_tmp / "mysite" / "notes.txt").read_text() == "mine"


def test_an_empty_folder_is_used(in_tmp: Path) -> None:
    (in_tmp / "mysite").mkdir()
    assert _new("mysite")[0] == 0
    assert (in_tmp / "mysite" / "app.py").is_file()


def test_a_file_of_that_name_is_refused(in_tmp: Path) -> None:
    (in_tmp / "mysite").write_text("a file")
    code, output = _new("mysite")
    assert code == 1
    assert "Error: mysite exists and is not a folder." in output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _block_after(readme: str, marker: str) -> list[str]:
    """The commands of the first ``sh`` block after ``marker`` in the README."""
    found = re.search(re.escape(marker) + r".*?```sh\n(.*?)```", readme, re.DOTALL)
    assert found is not None, f"no sh block after {marker!r} in the README"
    return [line for line in found[1].splitlines() if line.strip()]


@pytest.fixture
def fresh_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty database on the server of ``request.param``, dropped afterwards."""
    server = postgres_url() if request.param == "postgresql" else mysql_url()
    driver = "postgresql+psycopg" if request.param == "postgresql" else "mysql+pymysql"
    name = f"carboy_new_{os.getpid()}"
    engine = create_engine(make_url(server).set(drivername=driver), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        engine.dispose()


@pytest.mark.parametrize("fresh_database", ["postgresql", "mariadb"], indirect=True)
def test_the_new_projects_tests_pass_on_a_database_server(
    in_tmp: Path, fresh_database: str
) -> None:
    # The plugin migrates the server's database, and every test, the admin
    # and sign-in ones included, leaves it as it found it: two runs pass.
    assert _new("mysite")[0] == 0
    env = {name: value for name, value in os.environ.items() if not name.startswith("CARBOY_")}
    env["CARBOY_TEST_DATABASE_URL"] = fresh_database
    env["PYTHONPATH"] = str(WORKTREE / "src")
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            cwd=in_tmp / "mysite",
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert re.search(r"\b4 passed\b", done.stdout), done.stdout


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_new_project_in_a_fresh_venv(tmp_path: Path, backend: str) -> None:
    """A newcomer's first hour: `carboy new mysite` with the carboy at hand, then a
    fresh virtualenv with nothing in it, set up by the project's README alone.

    The project installs without asking an index for carboy, its tests pass,
    it migrates, `createsuperuser` runs twice as a setup script would, and
    `carboy run` serves the home page and the admin.
    """
    # The carboy at hand: this checkout's, which no package index has.
    done = subprocess.run(
        [str(Path(sys.executable).with_name("carboy")), "new", "mysite"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARBOY_")}
    env.pop("PYTHONPATH", None)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["VIRTUAL_ENV"] = str(env_dir)

    def sh(command: str, cwd: Path) -> str:
        done = subprocess.run(
            command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    site = tmp_path / "mysite"
    readme = (site / "README.md").read_text()
    run_block = _block_after(readme, "## Run it")
    install = [line for line in run_block if line.startswith("pip install")]
    assert install == ["pip install -e '.[dev]'"]
    # Wrapped at 76 columns, wherever the path's length puts the breaks.
    assert f"was installed from {WORKTREE.as_uri()}, not from a package index" in " ".join(
        readme.split()
    )
    sh(install[0], site)
    test_commands = _block_after(readme, "<!-- test-command -->")
    assert test_commands == ["python -m pytest"]
    output = sh(test_commands[0], site)
    assert re.search(r"\b4 passed\b", output), output

    with contextlib.ExitStack() as stack:
        if backend == "postgresql":
            sh("pip install -q 'psycopg[binary]>=3.1' 'asyncpg>=0.29'", site)
            env["CARBOY_DATABASE_URL"] = stack.enter_context(
                shared_fresh_database("postgresql", prefix="carboy_newsite")
            )
        _migrate_add_superuser_twice_and_serve(site, bin_dir, env, sh, run_block)


def _migrate_add_superuser_twice_and_serve(
    site: Path, bin_dir: Path, env: dict[str, str], sh: Callable[[str, Path], str],
    run_block: list[str],
) -> None:  # fmt: skip
    assert "carboy db migrate" in run_block and "carboy run" in run_block
    sh("carboy db migrate", site)
    env["CARBOY_SUPERUSER_PASSWORD"] = "a-long-enough-password"
    create = "carboy createsuperuser --email admin@example.com --no-input --if-exists skip"
    assert sh(create, site) == "Superuser admin@example.com created.\n"
    assert sh(create, site) == (
        "A user with the email address admin@example.com exists; nothing changed.\n"
    )
    port = _free_port()
    log_path = site / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(bin_dir / "carboy"), "run", "--port", str(port)],
            cwd=site,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                home = httpx.get(base + "/")
                break
            except httpx.TransportError:
                assert server.poll() is None, f"carboy run exited: {log_path.read_text()}"
                assert time.monotonic() < deadline, "carboy run did not answer in 30 s"
                time.sleep(0.2)
        assert home.status_code == 200
        assert "Welcome to mysite" in home.text
        assert home.headers["content-type"].startswith("text/html")
        css = httpx.get(base + "/static/style.css")
        assert css.status_code == 200
        assert "font-family" in css.text
        admin = httpx.get(base + "/admin/")
        assert admin.status_code in (302, 303)
        login = httpx.get(
            base + admin.headers["location"]
            if admin.headers["location"].startswith("/")
            else admin.headers["location"]
        )
        assert login.status_code == 200
        assert 'type="password"' in login.text
    finally:
        server.terminate()
        server.wait(timeout=15)


# The project's pages under a Content-Security-Policy ---------------------------------

STRICT_POLICY = (
    "default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
    "img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Run by the project's own pytest, with its fixtures: it records, for each page,
# the status, the policy with its nonce written {nonce}, whether two requests got
# different nonces, and the nonces of the page's elements that are not the policy's.
CSP_RECORDER = """
import json
import os
import re
from pathlib import Path

from carboy.testing import TestClient

NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]{22})'")


def test_record_the_pages_policies(client: TestClient) -> None:
    found = {}
    for path in ("/", "/admin/login", "/auth/login", "/docs", "/missing", "/openapi.json"):
        first, second = (client.get(path, headers={"accept": "text/html"}) for _ in range(2))
        policy = first.headers.get("content-security-policy")
        nonces = set(NONCE.findall(policy or ""))
        other = set(NONCE.findall(second.headers.get("content-security-policy") or ""))
        found[path] = [
            first.status_code,
            policy and NONCE.sub("'nonce-{nonce}'", policy),
            bool(nonces) and nonces.isdisjoint(other),
            sorted(set(re.findall(r'nonce="([^"]*)"', first.text)) - nonces),
        ]
    Path(os.environ["CSP_RECORD"]).write_text(json.dumps(found))
"""


def test_the_new_projects_pages_and_carboys_are_served_under_a_strict_policy(
    in_tmp: Path,
) -> None:
    assert _new("mysite")[0] == 0
    site = in_tmp / "mysite"
    (site / "tests" / "test_csp_record.py").write_text(CSP_RECORDER)
    record = in_tmp / "csp.json"
    env = {name: value for name, value in os.environ.items() if not name.startswith("CARBOY_")}
    env["PYTHONPATH"] = str(WORKTREE / "src")
    env["CSP_RECORD"] = str(record)

    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]

    done = subprocess.run(
        [*command, "tests/test_csp_record.py"],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(record.read_text()) == {
        "/": [200, STRICT_POLICY, True, []],
        "/admin/login": [200, STRICT_POLICY, True, []],
        "/auth/login": [200, STRICT_POLICY, True, []],
        # Swagger UI's stylesheet draws its icons from data: URLs.
        "/docs": [200, STRICT_POLICY.replace("img-src 'self';", "img-src 'self' data:;"), True, []],
        "/missing": [404, STRICT_POLICY, True, []],
        "/openapi.json": [200, None, False, []],
    }
    assert 'nonce="{{ csp_nonce() }}"' in (site / "templates" / "base.html").read_text()
