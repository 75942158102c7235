"""Dependencies: values a handler declares and carboy provides.

``Depends(function)`` makes carboy call ``function`` (filling its own
parameters the same way as a handler's) and pass the result::

    async def current_user(token: Annotated[str, Header(alias="x-token")]) -> User: ...

    @app.get("/me")
    async def me(user: Annotated[User, Depends(current_user)]) -> User:
        return user

A dependency may be ``def`` (run in a worker thread), ``async def``, or a
generator of either kind: the code after ``yield`` runs once the response is
sent, and sees the handler's exception if it raised. Within one request each
dependency runs once and its value is shared, unless ``use_cache=False``.

Tests replace a dependency with ``app.dependency_overrides[original] =
replacement``. Batteries provide a type by annotation alone with
``app.provide(Session, get_session)``: any parameter annotated ``Session``
then gets ``get_session()``'s value. Outside a request (a CLI command, a task,
start-up), ``async with app.resolve(get_session) as session:`` runs one.

A dependency that holds a unit of work (a database transaction) finishes it
with ``on_success(connection, commit)``: ``commit`` runs once the handler has
returned, before the response is sent, so that a failed commit fails the
request instead of following a response that already said it worked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from carboy.requests import HTTPConnection

__all__ = ["DEPENDENCIES_ATTRIBUTE", "Depends", "add_dependency", "on_success"]

DEPENDENCIES_ATTRIBUTE = "__carboy_dependencies__"
"""Where ``add_dependency`` keeps a handler's dependencies, for its route to read."""

F = TypeVar("F", bound=Callable[..., Any])


class Depends:
    """Declare a dependency; see the module docstring.

    Args:
        dependency: The callable that provides the value. ``None`` means the
            parameter's annotation, which must then be callable (a class).
            An object with a ``__carboy_dependency__`` attribute stands for
            the callable that attribute holds.
        use_cache: Share one value per request (the default), or call the
            dependency again for each parameter that declares it.
    """

    __slots__ = ("dependency", "use_cache")

    def __init__(
        self, dependency: Callable[..., Any] | None = None, *, use_cache: bool = True
    ) -> None:
        # An object that is not itself the dependency (a decorator that also
        # guards as a dependency, such as login_required) names the callable.
        self.dependency = getattr(dependency, "__carboy_dependency__", dependency)
        self.use_cache = use_cache

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__qualname__", repr(self.dependency))
        return f"Depends({name})"


def on_success(connection: HTTPConnection, callback: Callable[[], Awaitable[Any]]) -> None:
    """Run ``callback`` when the handler returns, before its response is sent.

    Callbacks run in the order they were added. One that raises fails the
    request as if the handler had raised: generator dependencies see that
    error in their cleanup, and the client gets the error response. Outside a
    request (``app.resolve()``), callbacks run when the ``async with`` block
    ends without an error.

    Args:
        connection: The request (a dependency declares ``connection:
            HTTPConnection`` to get it, which ``app.resolve()`` also fills).
        callback: An async function of no arguments, such as a commit.

    Example::

        async def get_session(connection: HTTPConnection) -> AsyncIterator[AsyncSession]:
            async with make_session() as session:
                on_success(connection, session.commit)
                yield session
    """
    callbacks: list[Callable[[], Awaitable[Any]]] | None = connection.scope.get("carboy.on_success")
    if callbacks is None:
        connection.scope["carboy.on_success"] = [callback]
    else:
        callbacks.append(callback)


async def run_success_callbacks(scope: MutableMapping[str, Any]) -> None:
    """Run and forget the callbacks ``on_success`` registered in ``scope``."""
    callbacks = scope.pop("carboy.on_success", None)
    if callbacks is not None:
        for callback in callbacks:
            await callback()


def add_dependency(handler: F, dependency: Depends) -> F:
    """Attach ``dependency`` to ``handler``, to run before it wherever it is routed.

    The seam of decorators that guard a handler, such as ``login_required``:
    the route made from ``handler`` runs the dependency first, and documents
    what it declares. Apply such decorators below the route decorator.

    Example::

        def audited(handler):
            return add_dependency(handler, Depends(record_access))
    """
    attached = [*getattr(handler, DEPENDENCIES_ATTRIBUTE, ()), dependency]
    setattr(handler, DEPENDENCIES_ATTRIBUTE, attached)
    return handler
