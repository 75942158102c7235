"""Routes and routers: what the app matches a request against.

A ``Router`` groups routes under a path prefix and a name namespace, with its
own middleware and hooks, like a Flask blueprint; routers nest. The app is
itself the root router. Routes are collected here and compiled into a route
table once, when the app starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from carboy.dependencies import DEPENDENCIES_ATTRIBUTE
from carboy.exceptions import ImproperlyConfigured
from carboy.middleware import Middleware

if TYPE_CHECKING:
    from carboy.controllers import Controller
    from carboy.dependencies import Depends
    from carboy.responses import Response
    from carboy.types import ASGIApp, HTTPMiddleware

__all__ = ["Mount", "Route", "Router", "WebSocketRoute"]

F = TypeVar("F", bound=Callable[..., Any])

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})


class Route:
    """An HTTP route: a path pattern, the methods it answers and its handler.

    Args:
        path: The pattern, such as ``/users/{id:int}``.
        endpoint: The handler, ``def`` or ``async def``.
        methods: The methods it answers; ``GET`` by default. ``HEAD`` is
            answered by the ``GET`` handler unless declared.
        name: The name for reverse URLs; the handler's name by default.
        response_class: The class a ``str`` return value becomes
            (``PlainTextResponse`` unless given, e.g. ``HTMLResponse``).
        status_code: The status of a converted return value (200, or 204
            for ``None``, unless given).
        response_model: Validate and serialize return values with this type,
            instead of the return annotation.
        dependencies: Dependencies run before the handler, values unused.
        include_in_schema: Whether the route appears in API documentation.
        tags, summary, description, deprecated, operation_id, responses:
            What the API documentation says of it; the summary and
            description default to the handler's docstring, ``responses``
            documents more statuses: ``{404: {"description": "...",
            "model": Problem}}``.
    """

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Iterable[str] | None = None,
        name: str | None = None,
        response_class: type[Response] | None = None,
        status_code: int | None = None,
        response_model: Any = None,
        dependencies: Sequence[Depends] = (),
        include_in_schema: bool = True,
        tags: Sequence[str] = (),
        summary: str | None = None,
        description: str | None = None,
        deprecated: bool = False,
        operation_id: str | None = None,
        responses: Mapping[int | str, Mapping[str, Any]] | None = None,
    ) -> None:
        if not path.startswith("/"):
            raise ImproperlyConfigured(f"The route path {path!r} must start with '/'.")
        if not callable(endpoint):
            raise ImproperlyConfigured(f"The handler of {path!r} is not callable: {endpoint!r}.")
        self.path = path
        self.endpoint = endpoint
        upper = frozenset(method.upper() for method in (methods or ("GET",)))
        unknown = upper - HTTP_METHODS
        if unknown:
            raise ImproperlyConfigured(
                f"The route {path!r} names unknown HTTP methods: {', '.join(sorted(unknown))}."
            )
        self.methods = upper
        self.name = name or getattr(endpoint, "__name__", type(endpoint).__name__)
        self.response_class = response_class
        self.status_code = status_code
        self.response_model = response_model
        # Decorators such as login_required attach dependencies to the handler.
        self.dependencies = [*getattr(endpoint, DEPENDENCIES_ATTRIBUTE, ()), *dependencies]
        self.include_in_schema = include_in_schema
        self.tags = list(tags)
        self.summary = summary
        self.description = description
        self.deprecated = deprecated
        self.operation_id = operation_id
        self.responses = dict(responses or {})
        self.localns: dict[str, Any] | None = None

    def __repr__(self) -> str:
        methods = ", ".join(sorted(self.methods))
        return f"Route({self.path!r}, methods=[{methods}], name={self.name!r})"


class WebSocketRoute:
    """A WebSocket route: a path pattern and a handler taking a ``WebSocket``."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        name: str | None = None,
        dependencies: Sequence[Depends] = (),
    ) -> None:
        if not path.startswith("/"):
            raise ImproperlyConfigured(f"The route path {path!r} must start with '/'.")
        self.path = path
        self.endpoint = endpoint
        self.name = name or getattr(endpoint, "__name__", type(endpoint).__name__)
        self.dependencies = list(dependencies)
        self.localns: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"WebSocketRoute({self.path!r}, name={self.name!r})"


class Mount:
    """Any ASGI app, served under a path prefix.

    The mounted app sees ``root_path`` extended by the prefix, and the full
    ``path``, as ASGI servers send them.

    Example:
        ``Mount("/static", StaticFiles(directory="static"), name="static")``
    """

    def __init__(self, path: str, app: ASGIApp, *, name: str | None = None) -> None:
        if not path.startswith("/") or path.endswith("/") or "{" in path:
            raise ImproperlyConfigured(
                f"The mount path {path!r} must start with '/', not end with one, and hold "
                "no parameters, such as '/static'."
            )
        self.path = path
        self.app = app
        self.name = name

    def __repr__(self) -> str:
        return f"Mount({self.path!r}, name={self.name!r})"


class Include:
    """A router included in another under a prefix."""

    def __init__(self, router: Router, prefix: str) -> None:
        self.router = router
        self.prefix = prefix


RouteLike = Route | WebSocketRoute | Mount | Include


class Router:
    """A group of routes sharing a path prefix, a name namespace, middleware and hooks.

    Args:
        prefix: The path prefix of every route in it, such as ``/api``.
        name: A namespace for its route names: ``url_path_for("api:users")``.
        routes: Routes to start with.
        middleware: ASGI middleware around this router's routes only.
        dependencies: Dependencies run before each of its handlers.
        tags: API documentation tags of its routes.
        template_folder: A folder of templates this router brings, searched
            after the app's own folders (``settings.template_dirs``), in the
            order routers were included. Relative to the working folder, as
            the settings' folders are; a router shipped in a package passes
            ``Path(__file__).parent / "templates"``.
        static_folder: A folder of static files this router brings, served
            under the app's ``static_url`` after the app's own
            ``static_dirs``, and collected by ``carboy collectstatic``.
            Relative to the working folder, like ``template_folder``.

    Example::

        api = Router(prefix="/api", name="api")

        @api.get("/users/{id}")
        async def user(id: int) -> dict[str, int]:
            return {"id": id}

        app.include_router(api)
    """

    def __init__(
        self,
        prefix: str = "",
        *,
        name: str | None = None,
        routes: Sequence[RouteLike] = (),
        middleware: Sequence[Middleware] = (),
        dependencies: Sequence[Depends] = (),
        tags: Sequence[str] = (),
        template_folder: str | os.PathLike[str] | None = None,
        static_folder: str | os.PathLike[str] | None = None,
    ) -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ImproperlyConfigured(
                f"The router prefix {prefix!r} must start with '/' and not end with one, "
                "such as '/api'."
            )
        self.prefix = prefix
        self.namespace = name
        self.routes: list[RouteLike] = list(routes)
        self.asgi_middleware: list[Middleware] = list(middleware)
        self.dependencies: list[Depends] = list(dependencies)
        self.tags: list[str] = list(tags)
        self.template_folder = None if template_folder is None else os.fspath(template_folder)
        self.static_folder = None if static_folder is None else os.fspath(static_folder)
        self.http_middleware: list[HTTPMiddleware] = []
        self.before_request_hooks: list[Callable[..., Any]] = []
        self.after_request_hooks: list[Callable[..., Any]] = []
        self._started_by: str | None = None

    def _check_open(self, what: str) -> None:
        if self._started_by is not None:
            raise ImproperlyConfigured(
                f"Cannot {what}: {self._started_by} has started serving, and its routes, "
                "middleware and hooks were fixed at startup. Register it before the app "
                "starts: at import time, or in an extension's init_app()."
            )

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Iterable[str] | None = None,
        **options: Any,
    ) -> Route:
        """Add an HTTP route; see ``Route`` for the options."""
        self._check_open(f"add the route {path!r}")
        route = Route(path, endpoint, methods=methods, **options)
        self.routes.append(route)
        return route

    def route(
        self,
        path: str,
        *,
        methods: Iterable[str] | None = None,
        **options: Any,
    ) -> Callable[[F], F]:
        """Register the decorated function as the handler of ``path``; options as for ``Route``.

        Example::

            @app.route("/items", methods=["GET", "POST"])
            async def items(request: Request) -> dict[str, str]: ...
        """

        def decorator(endpoint: F) -> F:
            route = self.add_route(path, endpoint, methods=methods, **options)
            # Hints that name local functions (an app factory's) resolve there.
            route.localns = dict(sys._getframe(1).f_locals)
            return endpoint

        return decorator

    def get(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a ``GET`` (and ``HEAD``) handler; options as for ``route``."""
        return self.route(path, methods=("GET",), **options)

    def post(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a ``POST`` handler; options as for ``route``."""
        return self.route(path, methods=("POST",), **options)

    def put(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a ``PUT`` handler; options as for ``route``."""
        return self.route(path, methods=("PUT",), **options)

    def patch(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a ``PATCH`` handler; options as for ``route``."""
        return self.route(path, methods=("PATCH",), **options)

    def delete(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register a ``DELETE`` handler; options as for ``route``."""
        return self.route(path, methods=("DELETE",), **options)

    def add_websocket_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        name: str | None = None,
        dependencies: Sequence[Depends] = (),
    ) -> WebSocketRoute:
        """Add a WebSocket route."""
        self._check_open(f"add the WebSocket route {path!r}")
        route = WebSocketRoute(path, endpoint, name=name, dependencies=dependencies)
        self.routes.append(route)
        return route

    def websocket(self, path: str, *, name: str | None = None) -> Callable[[F], F]:
        """Register the decorated function as the WebSocket handler of ``path``.

        Example::

            @app.websocket("/ws/{room}")
            async def chat(websocket: WebSocket, room: str) -> None:
                await websocket.accept()
        """

        def decorator(endpoint: F) -> F:
            route = self.add_websocket_route(path, endpoint, name=name)
            route.localns = dict(sys._getframe(1).f_locals)
            return endpoint

        return decorator

    def mount(self, path: str, app: ASGIApp, *, name: str | None = None) -> None:
        """Serve any ASGI app under ``path``, e.g. static files or a WSGI app."""
        self._check_open(f"mount an app at {path!r}")
        self.routes.append(Mount(path, app, name=name))

    def include_router(self, router: Router, *, prefix: str = "") -> None:
        """Add a router's routes under this one, its prefix after ``prefix``."""
        self._check_open("include a router")
        if router is self:
            raise ImproperlyConfigured("A router cannot include itself.")
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ImproperlyConfigured(
                f"The include prefix {prefix!r} must start with '/' and not end with one."
            )
        self.routes.append(Include(router, prefix))

    def include_controller(self, controller: type[Controller], *args: Any, **kwargs: Any) -> None:
        """Add a controller's routes; ``args`` and ``kwargs`` go to its constructor."""
        self.include_router(controller.as_router(*args, **kwargs))

    def add_middleware(self, middleware_class: Callable[..., ASGIApp], **options: Any) -> None:
        """Wrap this router's routes in an ASGI middleware; the first added is outermost."""
        self._check_open(f"add the middleware {getattr(middleware_class, '__name__', '')}")
        self.asgi_middleware.append(Middleware(middleware_class, **options))

    def middleware(self, function: HTTPMiddleware) -> HTTPMiddleware:
        """Register a function middleware around this router's handlers.

        The function gets the request and ``call_next``, which runs the rest
        of the chain and returns its response; the first registered is
        outermost. Exceptions the app handles arrive as their responses.

        Example::

            @app.middleware
            async def timing(request: Request, call_next: CallNext) -> Response:
                response = await call_next(request)
                response.headers["x-handled-by"] = "carboy"
                return response
        """
        self._check_open(f"add the middleware {getattr(function, '__name__', '')}")
        self.http_middleware.append(function)
        return function

    def before_request(self, function: F) -> F:
        """Run ``function(request)`` before each handler; a returned value becomes the response."""
        self._check_open(f"add the before_request hook {getattr(function, '__name__', '')}")
        self.before_request_hooks.append(function)
        return function

    def after_request(self, function: F) -> F:
        """Run ``function(request, response)`` after each handler; a returned value replaces it."""
        self._check_open(f"add the after_request hook {getattr(function, '__name__', '')}")
        self.after_request_hooks.append(function)
        return function
