"""The core's shape: it imports no battery, and its modules stay small."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import carboy

SOURCE = Path(carboy.__file__).parent
BATTERIES = {"db", "auth", "admin", "forms", "cache", "ratelimit", "tasks", "mail"}


def core_modules() -> list[Path]:
    return [
        path
        for path in sorted(SOURCE.rglob("*.py"))
        if path.relative_to(SOURCE).parts[0] not in BATTERIES
    ]


def imported_names(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_the_walk_sees_the_core_modules() -> None:
    names = {path.relative_to(SOURCE).as_posix() for path in core_modules()}

    assert {"app.py", "routing.py", "requests.py", "responses.py", "middleware/errors.py"} <= names


def test_the_core_imports_no_battery() -> None:
    offenders = [
        f"{path.relative_to(SOURCE)} imports {name}"
        for path in core_modules()
        for name in imported_names(path)
        if name.split(".")[0] == "carboy"
        and len(name.split(".")) > 1
        and name.split(".")[1] in BATTERIES
    ]

    assert offenders == []


def test_no_module_is_past_800_lines() -> None:
    long_modules = {
        str(path.relative_to(SOURCE)): length
        for path in SOURCE.rglob("*.py")
        if (length := len(path.read_text(encoding="utf-8").splitlines())) > 800
    }

    assert long_modules == {}


def test_library_code_uses_no_assert() -> None:
    asserts = [
        f"{path.relative_to(SOURCE)}:{node.lineno}"
        for path in SOURCE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]

    assert asserts == []


def test_importing_carboy_loads_no_heavy_optional_module() -> None:
    code = (
        "import sys, carboy\n"
        "heavy = ['pydantic', 'pydantic_settings', 'jinja2', 'sqlalchemy', 'click', 'httpx']\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
