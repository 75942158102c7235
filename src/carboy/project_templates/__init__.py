"""The files of the projects ``carboy new`` creates, and the function that writes them.

Each template folder (``full``, ``minimal``) mirrors the project: a file
named ``x-tpl`` becomes ``x`` (``gitignore-tpl`` becomes ``.gitignore``,
``env.example-tpl`` ``.env.example``), with ``carboy_project_name``
replaced by the project's name. The ``-tpl`` suffix keeps the templates'
Python out of carboy's own linting and imports. The full project also gets
the migrations folder that ``carboy db init`` makes, holding the first
migration of its example model, and a ``.env`` with a new secret key.
"""

from __future__ import annotations

import json
import keyword
import re
import secrets
import textwrap
from importlib import metadata, resources
from importlib.abc import Traversable
from pathlib import Path

PLACEHOLDER = "carboy_project_name"

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_DOTFILES = {"gitignore": ".gitignore", "env.example": ".env.example"}
# Names a project's flat modules would shadow on import.
_RESERVED = {"carboy", "app", "models", "routes", "tests", "test", "site", "sqlalchemy", "pytest"}


class ProjectError(Exception):
    """The project cannot be created; the message says why, for the command line."""


def check_name(name: str) -> None:
    """Raise ``ProjectError`` unless ``name`` is a usable project name.

    A name is a Python identifier (letters, digits and underscores, a letter
    first), not a keyword, and not a module the project would shadow.
    """
    if not _NAME.fullmatch(name) or not name.isascii():
        raise ProjectError(
            f"{name!r} is not a valid project name: use letters, digits and underscores, "
            "starting with a letter, such as 'mysite'."
        )
    if keyword.iskeyword(name) or name.lower() in _RESERVED:
        raise ProjectError(
            f"{name!r} cannot be a project name: it is a Python keyword or the name of a "
            "module the project imports. Choose another, such as 'mysite'."
        )


def create_project(name: str, target: Path, *, minimal: bool = False) -> list[Path]:
    """Write the project ``name`` into the folder ``target``, which must be empty or missing.

    Returns:
        The files written, relative to ``target``, sorted.

    Raises:
        ProjectError: when the name is not usable or ``target`` holds files.
    """
    check_name(name)
    if target.exists():
        if not target.is_dir():
            raise ProjectError(f"{target} exists and is not a folder.")
        if any(target.iterdir()):
            raise ProjectError(
                f"The folder {target} exists and is not empty: choose another name, or "
                "remove the folder first."
            )
    root = resources.files(__name__) / ("minimal" if minimal else "full")
    written: list[Path] = []
    target.mkdir(parents=True, exist_ok=True)
    _copy(root, target, Path(), name, written)
    location = carboy_location()
    if location is not None:
        _require_from(target, location)
    if not minimal:
        migrations = resources.files("carboy.db") / "templates" / "migrations"
        for file in ("env.py", "script.py.mako", "README"):
            _write(target, Path("migrations", file), (migrations / file).read_bytes(), written)
        env = (
            "# Development settings of this machine; never commit this file.\n"
            f"CARBOY_SECRET_KEY={secrets.token_urlsafe(50)}\n"
            "CARBOY_DEBUG=true\n"
        )
        _write(target, Path(".env"), env.encode(), written)
    return sorted(written)


def _copy(
    source: Traversable, target: Path, relative: Path, name: str, written: list[Path]
) -> None:
    for entry in sorted(source.iterdir(), key=lambda entry: entry.name):
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            _copy(entry, target, relative / entry.name, name, written)
            continue
        file_name = entry.name.removesuffix("-tpl")
        file_name = _DOTFILES.get(file_name, file_name)
        content = entry.read_bytes().replace(PLACEHOLDER.encode(), name.encode())
        _write(target, relative / file_name, content, written)


def _write(target: Path, relative: Path, content: bytes, written: list[Path]) -> None:
    path = target / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    written.append(relative)


def carboy_location() -> str | None:
    """Return where the running carboy was installed from, when not from a package index.

    That is the ``file://`` URL of the folder or wheel pip installed it from
    (its ``direct_url.json``, PEP 610); ``None`` for a release from an index,
    which a new project can ask for by name.
    """
    try:
        recorded = metadata.distribution("carboy").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not recorded:
        return None
    url = json.loads(recorded).get("url")
    return url if isinstance(url, str) and url.startswith("file://") else None


def _require_from(target: Path, location: str) -> None:
    """Make the project ask for carboy at ``location``, and say so in its README.

    A project that named carboy alone would ask a package index for it, and
    an index would not have this carboy.
    """
    pyproject = target / "pyproject.toml"
    text = re.sub(r'"carboy(\[[a-z,]+\])?"', rf'"carboy\1 @ {location}"', pyproject.read_text())
    text = text.replace(
        "[tool.hatch.build.targets.wheel]",
        "# carboy comes from a folder or a wheel, not from a package index.\n"
        "[tool.hatch.metadata]\nallow-direct-references = true\n\n"
        "[tool.hatch.build.targets.wheel]",
        1,
    )
    pyproject.write_text(text)
    readme = target / "README.md"
    lead = "In a virtualenv (Python 3.11 or newer), from this folder:"
    note = textwrap.fill(
        f"The carboy that made this project was installed from {location}, not from a "
        "package index, so `pyproject.toml` asks for carboy there, and `pip install` "
        "takes it from that place. Once carboy is installed from an index, ask for "
        "`carboy` by name instead.",
        width=76,
        break_on_hyphens=False,
        break_long_words=False,
    )
    readme.write_text(readme.read_text().replace(lead, f"{note}\n\n{lead}", 1))
