"""Sphinx configuration of carboy's documentation site.

Build it with ``python docs/build.py`` (screenshots, the benchmark chart,
then Sphinx with warnings as errors); ``sphinx-build -W -b html docs
docs/_build/html`` builds the pages alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import importlib  # noqa: E402
import pkgutil  # noqa: E402
import warnings  # noqa: E402

from sqlalchemy.exc import SAWarning  # noqa: E402

import carboy  # noqa: E402
from carboy.__about__ import __version__  # noqa: E402

# Reading the attributes of the abstract user and mixin classes, as autodoc
# does, makes SQLAlchemy warn that they are not mapped, which they are not meant to be.
warnings.filterwarnings("ignore", message="Unmanaged access of declarative", category=SAWarning)
# Every public module is imported before autodoc looks at any class: autodoc
# reads the attributes of carboy.db.Model, and a model class declared after
# that (the auth battery's) would no longer map.
for _module in pkgutil.walk_packages(carboy.__path__, "carboy."):
    if not any(part.startswith("_") or part == "migrations" for part in _module.name.split(".")):
        importlib.import_module(_module.name)

project = "carboy"
author = "the carboy team"
copyright = "2026, the carboy team"
release = version = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "carboy_docs",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "README.md", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

# Markdown: headings get anchors for links such as page.md#a-heading, and
# fenced blocks marked {directive} are Sphinx directives.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist", "fieldlist"]

# The API reference: Google-style docstrings, in the order of the source.
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# A reference to a name the site does not document is a warning (and so a
# failed build), but for the libraries carboy builds on, whose own sites the
# build cannot reach offline.
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(starlette|sqlalchemy|alembic|pydantic|pydantic_settings|jinja2|markupsafe"
        r"|httpx|anyio|click|redis|uvicorn|argon2|email|collections|typing|typing_extensions"
        r"|datetime|pathlib|os|enum|asyncio|logging|uuid|decimal|ipaddress|re|types|abc"
        r"|contextlib|concurrent|http|json|builtins|_typeshed|pytest|_pytest|itsdangerous"
        r"|multipart|a2wsgi|importlib|io|smtplib|ssl|socket)(\..*)?",
    ),
    (
        r"py:class",
        r"(Any|Callable|Awaitable|Iterable|Iterator|AsyncIterator|Mapping"
        r"|MutableMapping|Sequence|Coroutine|AsyncGenerator|Generator|Literal|TypeVar|P|T|R"
        r"|Self|NoneType|Path|Enum|datetime|date|time|timedelta|Decimal|UUID|Pattern|Match"
        r"|ParamSpec|Concatenate|TypeAlias|Protocol|Generic|Optional|Union|Never|Awaitable\[.*\])",
    ),
]

# The tutorial's request blocks are HTTP without a version, which Pygments'
# lexer accepts only in its relaxed mode; they are highlighted all the same.
suppress_warnings = ["misc.highlighting_failure"]

html_theme = "furo"
html_title = f"carboy {release}"
html_static_path = ["_static"]
html_show_sourcelink = False
# The search index is a static file beside the pages: search works offline.
html_copy_source = False
