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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Depends"]


class Depends:
    """Declare a dependency; see the module docstring.

    Args:
        dependency: The callable that provides the value. ``None`` means the
            parameter's annotation, which must then be callable (a class).
        use_cache: Share one value per request (the default), or call the
            dependency again for each parameter that declares it.
    """

    __slots__ = ("dependency", "use_cache")

    def __init__(
        self, dependency: Callable[..., Any] | None = None, *, use_cache: bool = True
    ) -> None:
        self.dependency = dependency
        self.use_cache = use_cache

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__qualname__", repr(self.dependency))
        return f"Depends({name})"
