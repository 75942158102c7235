"""The blog example, served by the README's own command in a copy of its folder.

The command's steps run for real, as separate processes, in a copy of
``examples/blog`` under ``tmp_path`` (so that the run leaves no database in
the working tree): ``cd``, ``carboy db migrate``, ``carboy db load``,
``carboy createsuperuser`` with the password from the environment, and
``carboy run`` on a free port. Only the ``pip install`` step is left out:
the tests run where carboy is installed already. Then a client reads the
public pages, comments, signs in to the admin and publishes a draft there.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE = ROOT / "examples" / "blog"
CARBOY = Path(sys.executable).parent / "carboy"
INSTALL = "pip install -e '.[sqlite,auth]'"
SUPERUSER = "admin@example.com"
CSRF_INPUT = re.compile(r'<input type="hidden" name="csrf_token" value="([0-9a-f]+)">')
# Each step is a fresh Python process; on a loaded CI machine one takes a few seconds.
STEP_TIMEOUT = 60
START_TIMEOUT = 20


def blog_command(readme: Path = ROOT / "README.md") -> str:
    """Return the command after ``<!-- blog-command -->`` in a README."""
    text = readme.read_text(encoding="utf-8")
    found = re.search(r"<!-- blog-command -->\n```sh\n(.+)\n```", text)
    assert found is not None, f"{readme} has no command after <!-- blog-command -->"
    return found.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def csrf_of(html: str) -> str:
    found = CSRF_INPUT.search(html)
    assert found is not None, html
    return found.group(1)


def split_step(step: str) -> tuple[dict[str, str], list[str]]:
    """Split ``NAME=value carboy ...`` into the variables it sets and the argv."""
    words = shlex.split(step)
    variables: dict[str, str] = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        name, _, value = words.pop(0).partition("=")
        variables[name] = value
    return variables, words


def serve_blog(workdir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """Run the README command's steps in ``workdir``; return the ``carboy run`` process."""
    install, *steps = blog_command().split(" && ")
    assert install == INSTALL
    cwd = workdir
    env = {key: value for key, value in os.environ.items() if not key.startswith("CARBOY_")}
    for step in steps:
        variables, argv = split_step(step)
        if argv[0] == "cd":
            (folder,) = argv[1:]
            cwd = cwd / folder
            continue
        assert argv[0] == "carboy", step
        command = [str(CARBOY), *argv[1:]]
        if argv[1:] == ["run"]:
            with log.open("wb") as output:
                return subprocess.Popen(
                    [*command, "--port", str(port), "--no-reload"],
                    cwd=cwd,
                    env={**env, **variables},
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        done = subprocess.run(
            command,
            cwd=cwd,
            env={**env, **variables},
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, f"{step}\n{done.stdout}{done.stderr}"
    raise AssertionError("The README command does not end with 'carboy run'.")


@pytest.fixture
def blog(tmp_path: Path) -> Iterator[httpx.Client]:
    """Serve a copy of the example by the README command; yield a client of it."""
    workdir = tmp_path / "clone"
    shutil.copytree(
        EXAMPLE,
        workdir / "examples" / "blog",
        ignore=shutil.ignore_patterns("__pycache__", "blog.sqlite3*"),
    )
    port = free_port()
    log = tmp_path / "server.log"
    server = serve_blog(workdir, port, log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                httpx.get(f"{base_url}/", timeout=2)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"carboy run did not answer within {START_TIMEOUT} seconds:\n"
                        + log.read_text(errors="replace")
                    ) from None
                time.sleep(0.1)
        with httpx.Client(base_url=base_url, timeout=10) as client:
            yield client
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
    assert (workdir / "examples" / "blog" / "blog.sqlite3").exists()
    assert not (EXAMPLE / "blog.sqlite3").exists()


def test_the_readme_command_serves_the_blog_and_its_admin_to_the_superuser(
    blog: httpx.Client,
) -> None:
    home = blog.get("/")
    post = blog.get("/posts/notes-on-the-analytical-engine")
    tag = blog.get("/tags/mathematics")
    draft = blog.get("/posts/bernoulli-numbers")
    admin_anonymous = blog.get("/admin/")

    assert home.status_code == 200
    assert home.headers["content-type"] == "text/html; charset=utf-8"
    titles = re.findall(r'<h2><a href="[^"]+">([^<]+)</a></h2>', home.text)
    assert titles == [
        "On computable numbers",
        "Computing machinery and intelligence",
        "Notes on the Analytical Engine",
    ]
    assert post.status_code == 200
    assert '<p class="comment-body">The engine would be proud.</p>' in post.text
    assert re.findall(r'<h2><a href="[^"]+">([^<]+)</a></h2>', tag.text) == [
        "On computable numbers"
    ]
    assert draft.status_code == 404
    assert admin_anonymous.status_code == 303
    assert admin_anonymous.headers["location"] == "/admin/login?next=/admin/"

    # A reader comments: the form needs its CSRF token, and a bad one comes back with errors.
    refused = blog.post(
        "/posts/notes-on-the-analytical-engine", data={"name": "Bo", "body": "Great."}
    )
    token = csrf_of(post.text)
    invalid = blog.post(
        "/posts/notes-on-the-analytical-engine",
        data={"name": "B", "body": "<b>x</b>", "csrf_token": token},
    )
    commented = blog.post(
        "/posts/notes-on-the-analytical-engine",
        data={"name": "Mary Somerville", "body": "<b>Bravo</b>, Ada!", "csrf_token": token},
    )
    reread = blog.get("/posts/notes-on-the-analytical-engine")

    assert refused.status_code == 403
    assert invalid.status_code == 422
    assert '<p class="field-error" id="id_name-error">Enter at least 2 characters.</p>' in (
        invalid.text
    )
    assert commented.status_code == 303
    assert commented.headers["location"] == "/posts/notes-on-the-analytical-engine"
    assert "Thanks, Mary Somerville! Your comment is published." in reread.text
    assert '<p class="comment-body">&lt;b&gt;Bravo&lt;/b&gt;, Ada!</p>' in reread.text

    # The superuser the command created signs in to the admin.
    login = blog.get("/admin/login?next=/admin/")
    signed_in = blog.post(
        "/admin/login?next=/admin/",
        data={
            "email": SUPERUSER,
            "password": "blog-admin-password",
            "csrf_token": csrf_of(login.text),
        },
    )
    dashboard = blog.get("/admin/")
    posts = blog.get("/admin/blog_post/?q=bernoulli")

    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/admin/"
    assert dashboard.status_code == 200
    assert SUPERUSER in dashboard.text
    for name in ("Authors", "Posts", "Tags", "Comments"):
        assert f">{name}</a>" in dashboard.text, name
    assert posts.status_code == 200
    assert "1 post" in unescape(posts.text)
    assert '<option value="publish_selected">Publish selected</option>' in posts.text

    # The admin's "Publish selected" action puts the draft on the home page.
    published = blog.post(
        "/admin/blog_post/actions",
        data={
            "action": "publish_selected",
            "selected": "4",
            "query": "q=bernoulli",
            "csrf_token": csrf_of(posts.text),
        },
    )
    now_public = blog.get("/posts/bernoulli-numbers")

    assert published.status_code == 303
    assert published.headers["location"] == "/admin/blog_post/?q=bernoulli"
    assert now_public.status_code == 200
    assert "<h2>Bernoulli numbers, a draft</h2>" in now_public.text
