"""Calling user functions the same way everywhere: await async, thread sync."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

import anyio.to_thread


def is_async_callable(function: Any) -> bool:
    """Tell whether calling ``function`` returns an awaitable (``async def``, even wrapped)."""
    while isinstance(function, functools.partial):
        function = function.func
    if inspect.iscoroutinefunction(function):
        return True
    if inspect.isfunction(function) or not callable(function):
        return False
    # An instance with an async __call__ method.
    return inspect.iscoroutinefunction(type(function).__call__)


async def run_callable(
    function: Callable[..., Any], *args: Any, is_async: bool | None = None
) -> Any:
    """Await ``function(*args)``, or run it in a worker thread if it is a plain ``def``."""
    if is_async if is_async is not None else is_async_callable(function):
        return await function(*args)
    return await anyio.to_thread.run_sync(functools.partial(function, *args))


def type_hints(
    function: Callable[..., Any], localns: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return the resolved type hints of ``function``'s parameters, less unresolvable ones.

    ``localns`` holds the names of the scope the function was registered in,
    so that hints naming local functions and classes resolve, as they do for
    handlers defined inside an app factory.
    """
    target: Any = function
    while isinstance(target, functools.partial):
        target = target.func
    if not (inspect.isfunction(target) or inspect.ismethod(target) or isinstance(target, type)):
        # An instance with a __call__ method: its hints are the method's.
        target = type(target).__call__
    elif isinstance(target, type):
        # A class used as a dependency: its parameters are its constructor's.
        target = getattr(target, "__init__")  # noqa: B009
    local = dict(localns) if localns else None
    try:
        return typing.get_type_hints(target, localns=local, include_extras=True)
    except Exception:
        # One hint names something only importable under TYPE_CHECKING: keep
        # the others, never fail registration for it.
        hints: dict[str, Any] = {}
        namespace = getattr(inspect.unwrap(target), "__globals__", {})
        for name, hint in getattr(target, "__annotations__", {}).items():
            try:
                hints[name] = eval(hint, namespace, local) if isinstance(hint, str) else hint
            except Exception:
                continue
        return hints


def qualname(function: Any) -> str:
    """Return a readable name for ``function``, for messages."""
    return getattr(function, "__qualname__", None) or repr(function)
