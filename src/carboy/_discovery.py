"""Find the app a command serves: ``--app``, else ``CARBOY_APP``, else ``app.py``.

An app is named by an import string, ``module:attribute``: the attribute may
be dotted (``mysite.web:holder.app``), ``module`` alone means its attribute
``app``, and ``module:create_app()`` calls a factory with no arguments. The
current working directory comes first on ``sys.path``, as under
``python -m``, so that a module next to the user is found.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import click

from carboy.types import ASGIApp

__all__ = ["FoundApp", "find_app"]

_DOTTED_NAME = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_IMPORT_STRING = re.compile(
    rf"(?P<module>{_DOTTED_NAME})(?::(?P<attribute>{_DOTTED_NAME})(?P<call>\(\))?)?"
)

NO_APP_FOUND = (
    "No app found: pass --app module:attribute, set CARBOY_APP, or create app.py in the "
    "current folder."
)


@dataclass(frozen=True)
class FoundApp:
    """An app found for the command line.

    Attributes:
        app: The ASGI app; for a factory, the app it made.
        import_string: ``module:attribute``, for a server to import the app
            again in a reloader or worker process.
        is_factory: Whether ``import_string`` names a factory, to call with
            no arguments.
        label: The app as the user named it, such as ``mysite:create_app()``.
    """

    app: ASGIApp
    import_string: str
    is_factory: bool
    label: str


def find_app(option: str | None, environ: Mapping[str, str] | None = None) -> FoundApp:
    """Find and load the app: from ``option`` (``--app``), ``CARBOY_APP``, or ``app.py``.

    Args:
        option: The value of ``--app``, if given; it wins over the rest.
        environ: The environment to read ``CARBOY_APP`` from; ``os.environ``
            by default.

    Raises:
        click.UsageError: when no app is named and there is no ``app.py``, or
            the name is not an import string.
        click.ClickException: when the module cannot be imported, or fails
            while importing, or the attribute is missing or not an ASGI app.
    """
    environ = os.environ if environ is None else environ
    _put_cwd_on_path()
    if option:
        return _load(option, flag="--app", origin=f"--app {option}")
    from_environment = environ.get("CARBOY_APP")
    if from_environment:
        return _load(from_environment, flag="CARBOY_APP", origin=f"CARBOY_APP={from_environment}")
    if Path("app.py").is_file():
        return _load("app:app", flag="", origin="app.py in the current folder")
    raise click.UsageError(NO_APP_FOUND)


def _put_cwd_on_path() -> None:
    cwd = os.getcwd()
    if sys.path[:1] != [cwd]:
        sys.path.insert(0, cwd)


def _load(spec: str, *, flag: str, origin: str) -> FoundApp:
    spec = spec.strip()
    module_part, colon, rest = spec.partition(":")
    if module_part.endswith(".py"):
        module_name = module_part[:-3].replace("/", ".").replace("\\", ".")
        raise click.UsageError(
            f"The {flag} value {spec!r} names a file: write its module instead, such as "
            f"{module_name + colon + rest!r}."
        )
    match = _IMPORT_STRING.fullmatch(spec)
    if match is None:
        raise click.UsageError(
            f"The {flag} value {spec!r} is not an import string: write module:attribute, "
            "such as 'app:app' or 'mysite.web:app', or module:factory() to call a factory "
            "with no arguments."
        )
    module_name = match["module"]
    attribute = match["attribute"] or "app"
    is_factory = match["call"] is not None
    module = _import(module_name, origin)
    target = _attribute(module, module_name, attribute)
    label = f"{module_name}:{attribute}"
    if is_factory:
        target = _call_factory(target, label)
        label += "()"
    if not _is_asgi_app(target):
        raise click.ClickException(_not_an_app(label, target))
    return FoundApp(target, f"{module_name}:{attribute}", is_factory, label)


def _import(module_name: str, origin: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise click.ClickException(
                f"Could not import {module_name!r} (from {origin}): {exc}."
            ) from None
        failure: Exception = exc
    except Exception as exc:
        failure = exc
    # The module exists, and something inside it failed: show that, not "not found".
    raise click.ClickException(
        f"The module {module_name!r} (from {origin}) was found, but importing it raised "
        f"an error:\n\n{_format_from_user_code(failure)}"
    ) from None


def _format_from_user_code(exc: Exception) -> str:
    """Format ``exc`` with its traceback, leaving out this module's and importlib's frames."""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module != __name__ and not module.startswith("importlib"):
            break
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()


def _attribute(module: ModuleType, module_name: str, attribute: str) -> Any:
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise click.ClickException(
                f"The module {module_name!r} has no attribute {attribute!r}."
            ) from None
    return target


def _call_factory(factory: Any, label: str) -> Any:
    if not callable(factory):
        raise click.ClickException(
            f"{label!r} is not a factory: it is {_describe(factory)}, which cannot be called."
        )
    try:
        inspect.signature(factory).bind()
    except TypeError:
        raise click.ClickException(
            f"The factory {label!r} needs arguments, but {label + '()'!r} calls it with "
            "none. Give its parameters defaults."
        ) from None
    except ValueError:
        pass  # no signature to check (a builtin): let the call tell
    return factory()


def _is_asgi_app(target: Any) -> bool:
    # ASGI 3: an async callable, a function or an object with an async __call__.
    if inspect.isclass(target):
        return False
    return inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(
        getattr(target, "__call__", None)  # noqa: B004 - the async-ness of __call__ is the test
    )


def _not_an_app(label: str, target: Any) -> str:
    message = f"{label!r} is not an ASGI app: it is {_describe(target)}."
    if label.endswith("()"):
        return message
    if inspect.isclass(target):
        return f"{message} Name an instance of it, or write '{label}()' to call it as a factory."
    if inspect.isfunction(target) or inspect.ismethod(target):
        return f"{message} If it makes the app, write '{label}()' to call it as a factory."
    return message


def _describe(target: Any) -> str:
    if target is None:
        return "None"
    if inspect.isclass(target):
        return "a class"
    if inspect.isfunction(target) or inspect.ismethod(target):
        return "a function that is not async"
    name = type(target).__qualname__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"{article} {name}"
