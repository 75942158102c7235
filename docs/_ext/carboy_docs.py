"""Sphinx directives that write the settings and checks references from the code.

``{carboy-settings}`` is a table of every field of ``carboy.Settings``: its
``CARBOY_`` variable, type, default and the field's docstring.
``{carboy-checks}`` lists every check id with its level and what it means,
from the ``CHECK_IDS`` of carboy's check modules. ``tests/test_site.py``
fails when a setting or a check has no description.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

CHECK_MODULES = (
    "carboy.checks",
    "carboy.db.checks",
    "carboy.admin.checks",
    "carboy.mail.checks",
    "carboy.ratelimit.checks",
)
"""The modules whose ``CHECK_IDS`` describe carboy's checks."""

NOT_IN_REFERENCE = frozenset(
    {
        # Command-line groups: documented by `carboy --help` and the guides.
        "carboy.cli",
        "carboy.db.cli",
        "carboy.auth.cli",
    }
)
"""Public modules the API reference leaves out, each with its reason above."""


@dataclass(frozen=True)
class SettingRow:
    variable: str
    type: str
    default: str
    description: str


@dataclass(frozen=True)
class CheckRow:
    id: str
    level: str
    description: str
    module: str


def settings_rows() -> list[SettingRow]:
    """Every setting of ``carboy.Settings``, in the order of the class."""
    from carboy.config import Settings

    prefix = str(Settings.model_config.get("env_prefix") or "")
    rows = []
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:
            default = repr(field.default_factory())  # type: ignore[call-arg]
        else:
            default = repr(field.default)
        rows.append(
            SettingRow(
                variable=f"{prefix}{name}".upper(),
                type=_type_name(field.annotation),
                default=default,
                description=(field.description or "").strip(),
            )
        )
    return rows


def check_rows() -> list[CheckRow]:
    """Every check id carboy can report, sorted by id."""
    rows = []
    for module_name in CHECK_MODULES:
        module = importlib.import_module(module_name)
        for check_id, description in module.CHECK_IDS.items():
            level = "error" if re.fullmatch(r"[a-z]+\.E\d{3}", check_id) else "warning"
            rows.append(CheckRow(check_id, level, description.strip(), module_name))
    return sorted(rows, key=lambda row: row.id)


def public_modules() -> list[str]:
    """The names of carboy's public modules: none of their parts starts with ``_``."""
    import carboy

    names = ["carboy"]
    for found in pkgutil.walk_packages(carboy.__path__, "carboy."):
        parts = found.name.split(".")[1:]
        if any(
            part.startswith("_") or part in {"migrations", "project_templates"} for part in parts
        ):
            continue
        names.append(found.name)
    return names


def undocumented_names() -> list[str]:
    """The public modules, and the public names in their ``__all__``, that have no docstring.

    A class's public methods count too; a method that overrides a documented
    one inherits its docstring.
    """
    missing = []
    for name in public_modules():
        module = importlib.import_module(name)
        if not (module.__doc__ or "").strip():
            missing.append(name)
        for attribute in getattr(module, "__all__", []):
            value = getattr(module, attribute)
            if not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            if not inspect.getdoc(value):
                missing.append(f"{name}.{attribute}")
            if inspect.isclass(value):
                for member, function in vars(value).items():
                    if member.startswith("_") or not inspect.isfunction(function):
                        continue
                    if not inspect.getdoc(getattr(value, member)):
                        missing.append(f"{name}.{attribute}.{member}")
    return missing


def _warn_about_undocumented_names(app: Sphinx) -> None:
    for name in undocumented_names():
        logger.warning(
            "%s is public but has no docstring", name, type="carboy", subtype="docstring"
        )


def _type_name(annotation: Any) -> str:
    name = repr(annotation) if not isinstance(annotation, type) else annotation.__name__
    name = re.sub(r"\b(?:typing|pydantic\.types|pydantic)\.", "", name)
    return name.replace("NoneType", "None")


class SettingsDirective(SphinxDirective):
    """The list of settings, written as MyST Markdown (the pages are Markdown)."""

    def run(self) -> list[nodes.Node]:
        lines = []
        for row in settings_rows():
            lines += [
                f"``{row.variable}``",
                f": Type ``{row.type}``, default ``{row.default}``.",
                "",
                f"  {' '.join(row.description.split())}",
                "",
            ]
        return self._parse(lines)

    def _parse(self, lines: list[str]) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="carboy_docs"), 0, container)
        return container.children


class ChecksDirective(SettingsDirective):
    """The list of check ids, each with its level, meaning and fix."""

    def run(self) -> list[nodes.Node]:
        lines = []
        for row in check_rows():
            lines += [f"``{row.id}`` ({row.level})", f": {' '.join(row.description.split())}", ""]
        return self._parse(lines)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("carboy-settings", SettingsDirective)
    app.add_directive("carboy-checks", ChecksDirective)
    app.connect("builder-inited", _warn_about_undocumented_names)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
