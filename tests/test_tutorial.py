"""The tutorial in docs/tutorial, built for real, chapter by chapter.

A project is made in a tmp folder by the tutorial's own ``carboy new``
command, then every chapter is applied in order as docs/tutorial/README.md
describes: a code block whose first line names a file writes that file, a
``diff`` block edits one, an ``sh`` block's commands run (each ``carboy``
command as a fresh process of this interpreter), and an ``http`` request
block is sent to the app and its answer compared with the ``http`` response
block after it. After each chapter the project is checked from the inside
(tests/_tutorial_driver.py): pages, rows, the API, the admin, and at the end
the project's own tests. Another test proves that no block is left out.

The chapters build on each other, so the project is built once per module
and each test first brings it up to its chapter.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorial"
DRIVER = Path(__file__).resolve().parent / "_tutorial_driver.py"
PROJECT = "mysite"
SUPERUSER_PASSWORD = "tutorial-admin-password-1"
# A command is one fresh interpreter; on a loaded CI machine one takes a few seconds.
STEP_TIMEOUT = 120

# Commands the tutorial shows that the test does not run, and why.
NOT_RUN = {
    # carboy is installed in the interpreter that runs the tests already.
    "pip install -e '.[dev]'": "installed",
    # A server that never returns; the pages are requested through TestClient instead.
    "carboy run": "server",
}

BLOCK = re.compile(
    r"(?P<marker><!-- (?P<mark>[a-z-]+) -->\n)?^```(?P<info>[^\n]*)\n(?P<body>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
# The first line of a block that is a whole file: a comment naming it.
FILE_COMMENT = re.compile(r"^(?:#|\{#|<!--)\s*(?P<path>mysite/[\w./-]+)\s*(?:#\}|-->)?$")


@dataclass
class Block:
    """One fenced block of a chapter."""

    chapter: str
    language: str
    body: str
    mark: str | None
    line: int

    @property
    def where(self) -> str:
        return f"{self.chapter}:{self.line}"


def blocks_of(chapter: Path) -> list[Block]:
    """Return the fenced blocks of a chapter, in order, with the mark before each."""
    text = chapter.read_text(encoding="utf-8")
    return [
        Block(
            chapter=chapter.name,
            language=found.group("info").strip().split(" ")[0],
            body=found.group("body"),
            mark=found.group("mark"),
            line=text.count("\n", 0, found.start("info")) + 1,
        )
        for found in BLOCK.finditer(text)
    ]


def chapters() -> list[Path]:
    return sorted(TUTORIAL.glob("[0-9][0-9]-*.md"))


def file_path_of(block: Block) -> str | None:
    """Return the ``mysite/...`` path a block's first line names, if it names one."""
    first = block.body.split("\n", 1)[0].strip()
    found = FILE_COMMENT.match(first)
    return found.group("path") if found else None


def apply_diff(target: Path, block: Block) -> None:
    """Apply a ``diff`` block: each hunk's old lines must occur exactly once in the file.

    A hunk of added lines only is added at the end of the file.
    """
    lines = block.body.rstrip("\n").split("\n")
    assert lines[0].startswith("--- "), f"{block.where}: a diff starts with '--- mysite/...'"
    text = target.read_text(encoding="utf-8")
    hunks: list[list[str]] = [[]]
    for line in lines[1:]:
        if line.startswith("@@"):
            hunks.append([])
        else:
            hunks[-1].append(line)
    for hunk in (hunk for hunk in hunks if hunk):
        old = [line[1:] for line in hunk if line[:1] in (" ", "-") or line == ""]
        new = [line[1:] for line in hunk if line[:1] in (" ", "+") or line == ""]
        bad = [line for line in hunk if line and line[0] not in " +-"]
        assert not bad, f"{block.where}: diff lines must start with ' ', '+' or '-': {bad}"
        if all(line.startswith("+") for line in hunk if line):
            text = text.rstrip("\n") + "\n" + "\n".join(new).rstrip("\n") + "\n"
            continue
        before, after = "\n".join(old) + "\n", "\n".join(new) + "\n"
        count = text.count(before)
        assert count == 1, (
            f"{block.where}: the lines to change occur {count} times in {target.name}, "
            f"not once:\n{before}"
        )
        text = text.replace(before, after)
    target.write_text(text, encoding="utf-8")


def is_response(block: Block) -> bool:
    return block.language == "http" and block.body.startswith("HTTP/")


def parse_request(block: Block) -> dict[str, Any]:
    """Return the driver step of an ``http`` request block: ``METHOD /path``, headers, body."""
    head, _, body = block.body.partition("\n\n")
    request_line, *header_lines = head.strip("\n").split("\n")
    method, path, *_ = request_line.split(" ")
    headers = dict(line.split(": ", 1) for line in header_lines)
    step: dict[str, Any] = {"method": method, "path": path, "headers": headers}
    if body.strip():
        step["json"] = json.loads(body)
        headers.pop("Content-Type", None)
    return step


def compare_response(block: Block, seen: dict[str, Any]) -> None:
    """Assert that the app answered what an ``http`` response block shows."""
    head, _, body = block.body.partition("\n\n")
    status_line, *header_lines = head.strip("\n").split("\n")
    # The reason phrase is for the reader; the code is what the app answers.
    _, status, _ = status_line.split(" ", 2)
    assert seen["status"] == int(status), f"{block.where}\n{seen['text']}"
    for line in header_lines:
        name, value = line.split(": ", 1)
        assert seen["headers"].get(name.lower()) == value, f"{block.where}: {name}"
    # A block that shows no body (an HTML page) is compared by its status and headers.
    if body.strip():
        assert json.loads(seen["text"]) == json.loads(body), f"{block.where}\n{seen['text']}"


def carboy_env() -> dict[str, str]:
    """Return the environment of the project's processes: this carboy, no CARBOY_* of ours."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CARBOY_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    # The plugin is found by its pytest11 entry point once carboy is installed
    # from this tree; an older installed copy of carboy does not declare it.
    plugins = {point.value for point in entry_points(group="pytest11")}
    if "carboy.pytest_plugin" not in plugins:
        env["PYTEST_PLUGINS"] = "carboy.pytest_plugin"
    return env


@dataclass
class Tutorial:
    """The project of the tutorial, in a tmp folder, and how far it has been built."""

    base: Path
    cwd: Path
    done: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def project(self) -> Path:
        return self.base / PROJECT

    def run(self, command: str) -> str:
        """Run one shell command of the tutorial; return its output."""
        if command in NOT_RUN:
            return ""
        variables: dict[str, str] = {}
        words = shlex.split(command)
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
            name, _, value = words.pop(0).partition("=")
            variables[name] = value
        if words[0] == "cd":
            self.cwd = (self.cwd / words[1]).resolve()
            return ""
        if words[0] == "carboy":
            argv = [sys.executable, "-c", "from carboy.cli import main; main(prog_name='carboy')"]
            argv += words[1:]
        elif words[:3] == ["python", "-m", "pytest"]:
            argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *words[3:]]
        else:
            raise AssertionError(f"The tutorial runs a command the test does not know: {command}")
        done = subprocess.run(
            argv,
            cwd=self.cwd,
            env={**carboy_env(), **variables},
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{command} failed in {self.cwd}:\n{output}"
        self.outputs[command] = output
        return output

    def drive(self, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run driver steps in the project folder; return what each saw."""
        done = subprocess.run(
            [sys.executable, str(DRIVER)],
            cwd=self.project,
            env=carboy_env(),
            input=json.dumps(steps),
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        results: list[dict[str, Any]] = json.loads(done.stdout)
        return results

    def apply(self, chapter: Path) -> None:
        """Apply a chapter's blocks in order."""
        blocks = blocks_of(chapter)
        last_output = ""
        for index, block in enumerate(blocks):
            if block.mark == "illustration":
                continue
            if block.language == "sh":
                for command in block.body.strip().split("\n"):
                    last_output = self.run(command.strip())
            elif block.mark == "output":
                # Each line shown is a line of the output; revision ids are random.
                for line in block.body.strip().split("\n"):
                    pattern = re.sub(r"[0-9a-f]{12}", "[0-9a-f]{12}", re.escape(line))
                    assert re.search(f"^{pattern}$", last_output, re.MULTILINE), (
                        f"{block.where}: {line!r} is not in the output:\n{last_output}"
                    )
            elif block.language == "diff":
                path = block.body.split("\n", 1)[0].removeprefix("--- ").strip()
                apply_diff(self.base / path, block)
            elif block.language == "http" and not is_response(block):
                follower = blocks[index + 1] if index + 1 < len(blocks) else None
                assert follower is not None and is_response(follower), (
                    f"{block.where}: a request block is followed by its response block"
                )
                (seen,) = self.drive([parse_request(block)])
                compare_response(follower, seen)
            elif block.language == "http":
                continue
            else:
                path = file_path_of(block)
                assert path is not None, f"{block.where}: the block names no file"
                target = self.base / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block.body, encoding="utf-8")
        self.done.append(chapter.name)

    def through(self, prefix: str) -> None:
        """Apply every chapter not applied yet, up to the one named ``prefix-*.md``."""
        for chapter in chapters():
            if chapter.name not in self.done:
                self.apply(chapter)
            if chapter.name.startswith(prefix):
                return
        raise AssertionError(f"There is no chapter {prefix}-*.md")


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tutorial]:
    base = tmp_path_factory.mktemp("tutorial")
    yield Tutorial(base=base, cwd=base)


def get(path: str, **options: Any) -> dict[str, Any]:
    return {"method": "GET", "path": path, **options}


def post(path: str, data: dict[str, str], **options: Any) -> dict[str, Any]:
    return {"method": "POST", "path": path, "data": data, "csrf": True, **options}


def sql(statement: str, **params: Any) -> dict[str, Any]:
    return {"sql": statement, "params": params}


def test_every_block_of_the_tutorial_is_applied_or_marked_as_an_illustration() -> None:
    unchecked = []
    for chapter in chapters():
        for block in blocks_of(chapter):
            if block.mark in ("illustration", "output") or block.language in ("sh", "http"):
                continue
            if block.language == "diff":
                if not block.body.startswith(f"--- {PROJECT}/"):
                    unchecked.append(block.where)
            elif file_path_of(block) is None:
                unchecked.append(block.where)

    assert [chapter.name for chapter in chapters()] == [
        "01-start.md",
        "02-model.md",
        "03-page.md",
        "04-form.md",
        "05-api.md",
        "06-admin.md",
        "07-tests.md",
    ]
    assert unchecked == []


def test_the_top_level_readme_links_to_the_tutorial() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    assert "(docs/tutorial/README.md)" in readme


def test_01_start_makes_a_project_that_serves_its_home_page_and_admin(tutorial: Tutorial) -> None:
    tutorial.through("01")

    home, admin, users = tutorial.drive(
        [get("/"), get("/admin/"), sql("SELECT email, is_superuser FROM auth_user")]
    )

    assert home["status"] == 200
    assert "<h1>Welcome to mysite</h1>" in home["text"]
    assert admin["status"] == 303
    assert admin["headers"]["location"] == "/admin/login?next=/admin/"
    assert users["rows"] == [["admin@example.com", True]]
    assert " passed" in tutorial.outputs["python -m pytest"]


def test_02_model_writes_and_applies_a_migration_adding_a_column(tutorial: Tutorial) -> None:
    tutorial.through("01")
    tutorial.drive(
        [sql("INSERT INTO mysite_note (title, body, created_at) VALUES ('Kept', '', '2026-01-01')")]
    )
    tutorial.through("02")

    (kept,) = tutorial.drive(
        [sql("SELECT title, pinned FROM mysite_note"), sql("DELETE FROM mysite_note")]
    )[:1]
    migrations = list((tutorial.project / "migrations" / "versions").glob("*_pin_notes.py"))
    (columns,) = tutorial.drive(
        [sql("SELECT name FROM pragma_table_info('mysite_note') ORDER BY cid")]
    )

    assert len(migrations) == 1
    assert "op.add_column(" in migrations[0].read_text(encoding="utf-8")
    assert [row[0] for row in columns["rows"]] == ["id", "title", "body", "created_at", "pinned"]
    assert kept["rows"] == [["Kept", False]]  # a row from before the migration, filled in


def test_03_page_lists_the_notes_and_shows_one_or_a_404(tutorial: Tutorial) -> None:
    tutorial.through("03")

    _, _, listing, detail, missing, not_a_number = tutorial.drive(
        [
            sql(
                "INSERT INTO mysite_note (title, body, pinned, created_at) "
                "VALUES ('Old', 'first', 0, '2026-01-01')"
            ),
            sql(
                "INSERT INTO mysite_note (title, body, pinned, created_at) "
                "VALUES ('<script>x</script>', 'a & b', 1, '2026-01-02')"
            ),
            get("/notes"),
            get("/notes/2"),
            get("/notes/999"),
            get("/notes/abc"),
        ]
    )
    tutorial.drive([sql("DELETE FROM mysite_note")])

    assert listing["status"] == 200
    assert re.findall(r'<a href="[^"]*/notes/(\d+)">([^<]*)</a>', listing["text"]) == [
        ("2", "&lt;script&gt;x&lt;/script&gt;"),
        ("1", "Old"),
    ]
    assert "<title>Notes" in listing["text"]
    assert detail["status"] == 200
    assert '<p class="note-body">a &amp; b</p>' in detail["text"]
    assert missing["status"] == 404
    assert "There is no such note." in unescape(missing["text"])
    assert not_a_number["status"] == 404


def test_04_form_refuses_bad_input_and_saves_a_good_note(tutorial: Tutorial) -> None:
    tutorial.through("04")

    blank, no_token, invalid, saved, shown, rows = tutorial.drive(
        [
            get("/notes/new"),
            post("/notes/new", {"title": "Buy milk"}, csrf=False),
            post("/notes/new", {"title": "", "body": "two litres"}),
            post("/notes/new", {"title": "Buy milk", "body": "two litres", "pinned": "on"}),
            get("/notes/1"),
            sql("SELECT id, title, body, pinned FROM mysite_note"),
        ]
    )

    assert blank["status"] == 200
    assert 'name="csrf_token"' in blank["text"]
    assert '<label for="id_title">Title</label>' in blank["text"]
    assert no_token["status"] == 403
    assert invalid["status"] == 422
    assert (
        'aria-describedby="id_title-error"><p class="field-error" id="id_title-error">'
        "This field is required.</p>" in invalid["text"]
    )
    assert ">\ntwo litres</textarea>" in invalid["text"]
    assert saved["status"] == 303
    assert saved["headers"]["location"] == "/notes/1"
    assert shown["status"] == 200
    assert "Saved the note &#39;Buy milk&#39;." in shown["text"]
    assert rows["rows"] == [[1, "Buy milk", "two litres", True]]


def test_05_api_answers_what_the_chapter_shows(tutorial: Tutorial) -> None:
    tutorial.through("05")  # the chapter's requests are sent and compared as it is applied

    listing, document, bad_id = tutorial.drive(
        [get("/api/notes"), get("/openapi.json"), get("/api/notes/abc")]
    )

    assert listing["status"] == 200
    assert json.loads(listing["text"]) == [
        {"title": "Call the plumber", "body": "Before Friday.", "pinned": True, "id": 2},
        {"title": "Buy milk", "body": "two litres", "pinned": True, "id": 1},
    ]
    paths = json.loads(document["text"])["paths"]
    assert set(paths["/api/notes"]) == {"get", "post"}
    assert "/api/notes/{note_id}" in paths
    assert bad_id["status"] == 404  # an int path parameter that is no number matches no route


def test_06_admin_lists_searches_and_filters_the_notes(tutorial: Tutorial) -> None:
    tutorial.through("06")

    _, signed_in, index, found, pinned = tutorial.drive(
        [
            get("/admin/login?next=/admin/"),
            post(
                "/admin/login?next=/admin/",
                {"email": "admin@example.com", "password": SUPERUSER_PASSWORD},
            ),
            get("/admin/"),
            get("/admin/mysite_note/?q=friday"),
            get("/admin/mysite_note/?pinned=0"),
        ]
    )
    headers = re.findall(r'<th scope="col"><a href="\?[^"]*?o=-?(\w+)[^"]*">', found["text"])

    assert signed_in["status"] == 303
    assert signed_in["headers"]["location"] == "/admin/"
    assert ">Notes</a>" in index["text"]
    assert found["status"] == 200
    assert "Call the plumber" in found["text"]
    assert "Buy milk" not in found["text"]
    assert "1 note" in unescape(found["text"])
    assert headers == ["title", "pinned", "created_at"]
    assert "pinned=1" in found["text"]  # the filter's link
    assert pinned["status"] == 200
    assert "Buy milk" not in pinned["text"]
    assert "Call the plumber" not in pinned["text"]
    assert "0 notes" in unescape(pinned["text"])


def test_07_tests_the_project_s_own_tests_pass(tutorial: Tutorial) -> None:
    tutorial.through("07")

    output = tutorial.outputs["python -m pytest"]

    # run() asserted that pytest exited with 0; the chapter's five tests were among those run.
    assert re.search(r"^tests/test_notes\.py \.\.\.\.\. ", output, re.MULTILINE), output
    assert re.search(r"\b\d+ passed\b", output), output


def test_the_project_the_tutorial_builds_passes_ruff(tutorial: Tutorial) -> None:
    tutorial.through("07")

    # The project's own ruff settings, from its pyproject.toml.
    linted = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=tutorial.project,
        capture_output=True,
        text=True,
        check=False,
    )
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."],
        cwd=tutorial.project,
        capture_output=True,
        text=True,
        check=False,
    )

    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_a_diff_whose_lines_are_not_in_the_file_fails(tmp_path: Path) -> None:
    target = tmp_path / "app.py"
    target.write_text("import notes\nfrom routes import router\n", encoding="utf-8")
    block = Block(
        "03-page.md", "diff", "--- mysite/app.py\n-import pages\n+import notes\n", None, 7
    )

    with pytest.raises(AssertionError) as raised:
        apply_diff(target, block)

    assert str(raised.value).startswith(
        "03-page.md:7: the lines to change occur 0 times in app.py, not once:"
    )
    assert target.read_text(encoding="utf-8") == "import notes\nfrom routes import router\n"


def test_a_diff_replaces_its_lines_and_appends_a_part_of_added_lines(tmp_path: Path) -> None:
    target = tmp_path / "app.py"
    target.write_text("import a\nimport b\n\napp = 1\n", encoding="utf-8")
    body = "--- mysite/app.py\n import a\n-import b\n+import c\n@@\n+app.x = 2\n"

    apply_diff(target, Block("05-api.md", "diff", body, None, 1))

    assert target.read_text(encoding="utf-8") == "import a\nimport c\n\napp = 1\napp.x = 2\n"


def test_a_response_that_differs_from_the_page_fails() -> None:
    shown = Block(
        "05-api.md",
        "http",
        'HTTP/1.1 201 Created\ncontent-type: application/json\n\n{"id": 2}\n',
        None,
        9,
    )
    seen = {"status": 201, "headers": {"content-type": "application/json"}, "text": '{"id":3}'}

    with pytest.raises(AssertionError) as raised:
        compare_response(shown, seen)

    assert str(raised.value).startswith("05-api.md:9\n")
    assert "{'id': 3} != {'id': 2}" in str(raised.value)
