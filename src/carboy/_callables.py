"""Calling user functions the same way everywhere: await async, thread sync."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

import anyio.to_thread


def is_async_callable(function: Any) -> bool:
    """Tell whether calling ``function`` returns an awaitable (``async def``, even wrapped)."""
    while isinstance(function, functools.partial):
        function = function.func
    if inspect.iscoroutinefunction(function):
        return True
    call = getattr(type(function), "__call__", None) if not inspect.isfunction(function) else None
    return call is not None and inspect.iscoroutinefunction(call)


async def run_callable(
    function: Callable[..., Any], *args: Any, is_async: bool | None = None
) -> Any:
    """Await ``function(*args)``, or run it in a worker thread if it is a plain ``def``."""
    if is_async if is_async is not None else is_async_callable(function):
        return await function(*args)
    return await anyio.to_thread.run_sync(functools.partial(function, *args))


def type_hints(function: Callable[..., Any]) -> dict[str, Any]:
    """Return the resolved type hints of ``function``'s parameters, less unresolvable ones."""
    target: Any = function
    while isinstance(target, functools.partial):
        target = target.func
    if not (inspect.isfunction(target) or inspect.ismethod(target) or isinstance(target, type)):
        # An instance with a __call__ method: its hints are the method's.
        target = type(target).__call__
    elif isinstance(target, type):
        # A class used as a dependency: its parameters are its constructor's.
        target = getattr(target, "__init__")  # noqa: B009
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:
        # A hint naming something only importable under TYPE_CHECKING: keep
        # the hints that are real classes, never fail registration for it.
        raw = getattr(target, "__annotations__", {})
        return {name: hint for name, hint in raw.items() if not isinstance(hint, str)}


def qualname(function: Any) -> str:
    """Return a readable name for ``function``, for messages."""
    return getattr(function, "__qualname__", None) or repr(function)
