"""Class-based views: a controller groups the handlers of one resource.

::

    class Articles(Controller):
        prefix = "/articles"
        tags = ["articles"]
        dependencies = [Depends(require_login)]

        @get("/")
        async def index(self, limit: int = 20) -> list[Article]: ...

        @get("/{slug}")
        async def show(self, slug: str) -> Article: ...

        @post("/", status_code=201)
        async def create(self, article: NewArticle) -> Article: ...

    app.include_controller(Articles)

The controller is instantiated once, when included, so its instance holds
what its handlers share (a client, a configuration), never per-request state.
Its routes are named after the methods, in the controller's namespace
(``articles:show``, from ``name`` or the class name).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from carboy.dependencies import Depends
    from carboy.routing import Router

__all__ = ["Controller", "delete", "get", "patch", "post", "put", "route"]

F = TypeVar("F", bound=Callable[..., Any])

_ROUTES = "__carboy_routes__"


class Controller:
    """The base class of controllers; see the module docstring.

    Class attributes:
        prefix: The path prefix of its routes.
        name: The name namespace of its routes; the class name in snake case
            by default (``ArticleAdmin`` -> ``article_admin``).
        tags: API documentation tags of its routes.
        dependencies: Dependencies run before each of its handlers.
    """

    prefix: ClassVar[str] = ""
    name: ClassVar[str | None] = None
    tags: ClassVar[Sequence[str]] = ()
    dependencies: ClassVar[Sequence[Depends]] = ()

    @classmethod
    def as_router(cls, *args: Any, **kwargs: Any) -> Router:
        """Instantiate the controller with ``args`` and return a router of its routes."""
        from carboy.routing import Router

        instance = cls(*args, **kwargs)
        router = Router(
            prefix=cls.prefix,
            name=cls.name or _snake(cls.__name__),
            dependencies=list(cls.dependencies),
            tags=list(cls.tags),
        )
        # Definition order, base classes first; a subclass's method replaces
        # its base's in place.
        members: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            members.update(vars(klass))
        for attribute, function in members.items():
            for path, methods, options in getattr(function, _ROUTES, ()):
                options = {"name": attribute, **options}
                router.add_route(path, getattr(instance, attribute), methods=methods, **options)
        return router


def route(path: str, *, methods: Iterable[str] | None = None, **options: Any) -> Callable[[F], F]:
    """Mark a controller method as the handler of ``path``; options as for ``Route``."""

    def decorator(function: F) -> F:
        routes = list(getattr(function, _ROUTES, ()))
        routes.append((path, tuple(methods or ("GET",)), options))
        setattr(function, _ROUTES, routes)
        return function

    return decorator


def get(path: str, **options: Any) -> Callable[[F], F]:
    """Mark a controller method as a ``GET`` handler."""
    return route(path, methods=("GET",), **options)


def post(path: str, **options: Any) -> Callable[[F], F]:
    """Mark a controller method as a ``POST`` handler."""
    return route(path, methods=("POST",), **options)


def put(path: str, **options: Any) -> Callable[[F], F]:
    """Mark a controller method as a ``PUT`` handler."""
    return route(path, methods=("PUT",), **options)


def patch(path: str, **options: Any) -> Callable[[F], F]:
    """Mark a controller method as a ``PATCH`` handler."""
    return route(path, methods=("PATCH",), **options)


def delete(path: str, **options: Any) -> Callable[[F], F]:
    """Mark a controller method as a ``DELETE`` handler."""
    return route(path, methods=("DELETE",), **options)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
