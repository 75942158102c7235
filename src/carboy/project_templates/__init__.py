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

import keyword
import re
import secrets
from importlib import resources
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
