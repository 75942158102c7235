"""The parameter plan: how a handler's arguments are filled from a request.

The plan is made once, when the app starts, from the handler's signature and
type hints; a request only runs it.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio.to_thread

from carboy.exceptions import ImproperlyConfigured
from carboy.requests import HTTPConnection

__all__ = ["Plan", "build_plan", "is_async_callable", "run_callable", "type_hints"]

Plan = Callable[[HTTPConnection], Awaitable[Any]]


def is_async_callable(function: Any) -> bool:
    """Tell whether calling ``function`` returns an awaitable (``async def``, even wrapped)."""
    while isinstance(function, functools.partial):
        function = function.func
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(function, "__call__", None)  # noqa: B004 - async __call__ on instances
    )


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
    if not (inspect.isfunction(function) or inspect.ismethod(function)):
        # An instance with a __call__ method: its hints are the method's.
        target = type(function).__call__ if not isinstance(function, type) else function
    try:
        return typing.get_type_hints(target)
    except Exception:
        # A hint naming something only importable under TYPE_CHECKING: keep
        # the hints that are real classes, never fail registration for it.
        raw = getattr(target, "__annotations__", {})
        return {name: hint for name, hint in raw.items() if isinstance(hint, type)}


def build_plan(
    endpoint: Callable[..., Any],
    path: str,
    param_names: tuple[str, ...],
    hints: Mapping[str, Any],
) -> Plan:
    """Make the plan that calls ``endpoint`` for a request or WebSocket.

    A parameter is filled by, in order: its annotation being ``Request``,
    ``WebSocket`` or ``HTTPConnection`` (or its name being ``request`` or
    ``websocket`` with no annotation); its name being a path parameter. A
    parameter with a default that is neither is left to its default.

    Raises:
        ImproperlyConfigured: for a parameter the plan cannot fill.
    """
    signature = inspect.signature(endpoint)
    connection_args: list[str] = []
    path_args: list[str] = []
    for name, parameter in signature.parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        hint = hints.get(name)
        if _is_connection(hint) or (hint is None and name in ("request", "websocket")):
            connection_args.append(name)
        elif name in param_names:
            path_args.append(name)
        elif parameter.default is inspect.Parameter.empty:
            raise ImproperlyConfigured(
                f"The handler {_qualname(endpoint)} of {path!r} takes a parameter {name!r} "
                f"that carboy cannot fill: it is not a path parameter of {path!r}, nor "
                "annotated as the Request. Add it to the path as {" + name + "}, give it a "
                "default, or remove it."
            )
    is_async = is_async_callable(endpoint)
    takes_all_path_params = not connection_args and set(path_args) == set(param_names)

    if is_async:
        if takes_all_path_params:
            if not path_args:
                return lambda connection: endpoint()
            return lambda connection: endpoint(**connection.scope["path_params"])

        def call_async(connection: HTTPConnection) -> Awaitable[Any]:
            return endpoint(**_kwargs(connection, connection_args, path_args))  # type: ignore[no-any-return]

        return call_async

    def call_sync(connection: HTTPConnection) -> Awaitable[Any]:
        kwargs = _kwargs(connection, connection_args, path_args)
        return anyio.to_thread.run_sync(functools.partial(endpoint, **kwargs))

    return call_sync


def _kwargs(
    connection: HTTPConnection, connection_args: list[str], path_args: list[str]
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {name: connection for name in connection_args}
    if path_args:
        params = connection.scope["path_params"]
        for name in path_args:
            kwargs[name] = params[name]
    return kwargs


def _is_connection(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, HTTPConnection)


def _qualname(function: Callable[..., Any]) -> str:
    return getattr(function, "__qualname__", repr(function))
