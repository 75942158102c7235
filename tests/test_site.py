"""The documentation site: its code blocks run, its references are complete.

The rules for the blocks of the topic and how-to pages are in
docs/README.md; the tutorial's are run by tests/test_tutorial.py. Building
the site itself (Sphinx, warnings as errors) is `python docs/build.py`,
which CI runs.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import click
import jinja2
import pytest

from carboy.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import carboy_docs  # noqa: E402

# Every page of the site but the tutorial's, which tests/test_tutorial.py runs.
PAGES = sorted(
    path
    for path in DOCS.rglob("*.md")
    if "tutorial" not in path.relative_to(DOCS).parts
    and path != DOCS / "README.md"
    and "_build" not in path.parts
)
FENCE = re.compile(
    r"(?:^<!-- no-run: (?P<reason>[^\n]+?) -->\n)?^(?P<fence>`{3,})(?P<info>[^\n`]*)\n"
    r"(?P<body>.*?)^(?P=fence)$",
    re.MULTILINE | re.DOTALL,
)
# The block runner, in a fresh interpreter: each block compiled with the
# page's own line numbers, so that a traceback names the page and line.
RUNNER = """
import json, sys
namespace = {"__name__": "__main__"}
for block in json.load(open(sys.argv[1])):
    code = compile("\\n" * (block["line"] - 1) + block["body"], block["page"], "exec")
    exec(code, namespace)
"""


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    language: str
    body: str
    no_run: str | None


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    found = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start("body")) + 1
        language = match["info"].strip().split(" ")[0]
        found.append(Block(page, line, language, match["body"], match["reason"]))
    return found


def _page_id(page: Path) -> str:
    return str(page.relative_to(DOCS))


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_the_python_blocks_of_the_page_run(page: Path, tmp_path: Path) -> None:
    python = [
        {"page": str(page.relative_to(ROOT)), "line": block.line, "body": block.body}
        for block in blocks(page)
        if block.language == "python" and block.no_run is None
    ]
    if not python:
        pytest.skip(f"{_page_id(page)} has no Python block to run")
    (tmp_path / "blocks.json").write_text(json.dumps(python))
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("CARBOY_")
    }
    environment["PYTHONPATH"] = str(ROOT)
    folder = tmp_path / "work"
    folder.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(tmp_path / "blocks.json")],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_the_other_blocks_of_the_page_are_valid(page: Path) -> None:
    environment = jinja2.Environment(extensions=["jinja2.ext.do"])
    for block in blocks(page):
        where = f"{_page_id(page)}:{block.line}"
        # A {directive} block is Sphinx's (a table of contents, an image), not code.
        if block.no_run is not None or block.language == "python" or block.language[:1] == "{":
            continue
        if block.language in {"sh", "bash", "console"}:
            for command in _carboy_commands(block.body):
                _check_command(command, where)
        elif block.language == "toml":
            tomllib.loads(block.body)
        elif block.language == "json":
            json.loads(block.body)
        elif block.language in {"jinja", "html+jinja"}:
            environment.parse(block.body)
        else:
            pytest.fail(
                f"{where}: a {block.language or 'plain'} block is not checked: mark it "
                "<!-- no-run: why --> or write it in a language docs/README.md lists"
            )


def test_every_block_marked_not_run_says_why() -> None:
    reasons = [
        f"{_page_id(block.page)}:{block.line}: {block.no_run}"
        for page in PAGES
        for block in blocks(page)
        if block.no_run is not None
    ]
    for reason in reasons:
        assert len(reason.partition(": ")[2]) >= 10, reason


def _carboy_commands(body: str) -> list[list[str]]:
    commands = []
    for line in body.replace("\\\n", " ").splitlines():
        line = line.split(" #", 1)[0].strip()
        for part in re.split(r"\s*(?:&&|\|\||;)\s*", line):
            words = shlex.split(part) if part else []
            if words and words[0] == "carboy":
                commands.append(words[1:])
    return commands


def _check_command(words: list[str], where: str) -> None:
    command: click.Command = main
    context = click.Context(main)
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        sub = command.get_command(context, words[0])
        assert sub is not None, f"{where}: carboy has no command {words[0]!r}"
        command, words = sub, words[1:]
    known = {opt for param in command.params for opt in getattr(param, "opts", [])}
    known |= {opt for param in command.params for opt in getattr(param, "secondary_opts", [])}
    known.add("--help")
    for word in words:
        if word.startswith("-") and not re.fullmatch(r"-\d+", word):
            option = word.split("=", 1)[0]
            assert option in known, f"{where}: carboy {command.name} has no option {option}"


# The generated references --------------------------------------------------------


def test_every_setting_has_a_description() -> None:
    settings = carboy_docs.settings_rows()

    assert [row.variable for row in settings][:2] == ["CARBOY_DEBUG", "CARBOY_SECRET_KEY"]
    undescribed = [row.variable for row in settings if len(row.description) < 15]
    assert undescribed == []


def test_every_check_id_in_the_code_has_a_description_and_none_is_stale() -> None:
    used = set()
    for path in (ROOT / "src" / "carboy").rglob("*.py"):
        used |= set(re.findall(r'"((?:core|security|db|admin|auth|mail|ratelimit)\.[EW]\d{3})"',
                               path.read_text()))  # fmt: skip
    described = {row.id: row for row in carboy_docs.check_rows()}

    assert sorted(used - described.keys()) == []
    assert sorted(described.keys() - used) == []
    assert [id_ for id_, row in described.items() if len(row.description) < 30] == []


def test_the_check_ids_of_a_battery_are_its_own() -> None:
    for row in carboy_docs.check_rows():
        area = row.id.partition(".")[0]
        assert row.module.startswith("carboy.checks") or f".{area}." in f"{row.module}.", row


# Docstrings ------------------------------------------------------------------------


def test_every_public_name_has_a_docstring() -> None:
    assert carboy_docs.undocumented_names() == []


def test_the_api_reference_documents_every_public_module() -> None:
    reference = "\n".join(path.read_text() for path in (DOCS / "reference").glob("*.md"))
    documented = set(re.findall(r"^```\{automodule\} (\S+)$", reference, re.MULTILINE))

    assert (
        sorted(set(carboy_docs.public_modules()) - documented - carboy_docs.NOT_IN_REFERENCE) == []
    )
