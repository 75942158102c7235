"""The application: an ASGI 3 callable that is also the root router."""

from __future__ import annotations

import contextlib
import secrets
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from carboy._dispatch import Dispatcher
from carboy.converters import Converter, default_converters
from carboy.datastructures import State
from carboy.dependencies import Depends
from carboy.exceptions import ImproperlyConfigured, NoRouteFound
from carboy.middleware import Middleware
from carboy.openapi_config import OpenAPIConfig
from carboy.requests import Limits
from carboy.routing import RouteLike, Router
from carboy.sessions import CookieSessions, SessionBackend
from carboy.types import ASGIApp, Extension, Lifespan, Receive, Scope, Send

if TYPE_CHECKING:
    from carboy.config import Settings
    from carboy.templating import Templates

__all__ = ["Carboy"]

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "[::1]", "testserver")
"""The hosts served when ``allowed_hosts`` is empty: this machine, and the test client."""

ExceptionHandler = Callable[..., Any]


class Carboy(Router):
    """A carboy application.

    Args:
        routes: Routes, mounts and included routers to start with.
        extensions: Batteries and other extensions, set up in list order; each
            one's ``requires`` must come before it.
        middleware: ASGI middleware around the whole app, outermost first.
        lifespan: An async context manager factory run around the app's life;
            a mapping it yields is merged into ``app.state``.
        exception_handlers: Handlers by status code or exception class.
        settings: The app's settings; read from ``CARBOY_*`` variables and
            ``.env`` on first use when not given.
        converters: Custom path converters by name, besides the built-in ones.
        limits: Bounds on request bodies and forms.
        redirect_slashes: Answer a path that only misses (or has an extra)
            trailing slash with a 308 redirect to the route's path.
        dependencies: Dependencies run before every handler.
        sessions: Where sessions live; a signed cookie by default, or
            ``ServerSideSessions(store)``.
        openapi: The API documentation's title, version, paths and more;
            ``OpenAPIConfig(openapi_url=None)`` turns it off.

    Example::

        app = Carboy()

        @app.get("/")
        def hello() -> dict[str, str]:
            return {"message": "Hello, World!"}
    """

    def __init__(
        self,
        *,
        routes: Sequence[RouteLike] = (),
        extensions: Sequence[Extension] = (),
        middleware: Sequence[Middleware] = (),
        lifespan: Lifespan | None = None,
        exception_handlers: Mapping[int | type[Exception], ExceptionHandler] | None = None,
        settings: Settings | None = None,
        converters: Mapping[str, Converter] | None = None,
        limits: Limits | None = None,
        redirect_slashes: bool = True,
        dependencies: Sequence[Depends] = (),
        openapi: OpenAPIConfig | None = None,
        sessions: SessionBackend | None = None,
    ) -> None:
        super().__init__(routes=routes, dependencies=dependencies)
        self.state = State()
        self.limits = limits or Limits()
        self.converters: dict[str, Converter] = default_converters()
        self.converters.update(converters or {})
        self.redirect_slashes = redirect_slashes
        self.user_middleware: list[Middleware] = list(middleware)
        self.exception_handlers: dict[int | type[Exception], ExceptionHandler] = dict(
            exception_handlers or {}
        )
        self.startup_hooks: list[Callable[[], Any]] = []
        self.shutdown_hooks: list[Callable[[], Any]] = []
        self.lifespan_context = lifespan
        self.extensions: dict[str, Extension] = {}
        self.providers: dict[Any, Callable[..., Any]] = {}
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        """Replacements of dependencies, for tests: ``{get_db: get_test_db}``."""
        self.openapi_config = openapi if openapi is not None else OpenAPIConfig()
        self._openapi_document: dict[str, Any] | None = None
        self._settings = settings
        self.session_backend: SessionBackend = sessions or CookieSessions()
        self._dispatcher: Dispatcher | None = None
        self._stack: ASGIApp | None = None
        self._exit_stack: contextlib.AsyncExitStack | None = None
        self._install_extensions(extensions)
        self.openapi_config.install(self)

    # Configuration ------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The app's typed settings (read from the environment on first use)."""
        if self._settings is None:
            from carboy.config import Settings

            self._settings = Settings()
        return self._settings

    @property
    def templates(self) -> Templates:
        """The app's Jinja2 templates (``carboy.templating``), made on first use."""
        from carboy.templating import templates_for

        return templates_for(self)

    @property
    def debug(self) -> bool:
        """Whether the app runs in debug mode (``settings.debug``)."""
        return self.settings.debug

    @property
    def is_started(self) -> bool:
        """Whether the app has started: its routes and middleware are then fixed."""
        return self._stack is not None

    def _install_extensions(self, extensions: Sequence[Extension]) -> None:
        listed = [getattr(extension, "name", None) for extension in extensions]
        for extension in extensions:
            missing = [
                attribute
                for attribute in ("name", "requires", "init_app")
                if not hasattr(extension, attribute)
            ]
            if missing:
                raise ImproperlyConfigured(
                    f"{extension!r} is not an extension: it lacks {', '.join(missing)}. An "
                    "extension has a name, the names it requires, and init_app(app)."
                )
            name = extension.name
            if name in self.extensions:
                raise ImproperlyConfigured(
                    f"The extension {name!r} is listed twice in Carboy(extensions=[...]). "
                    "List each extension once."
                )
            for required in extension.requires:
                if required in self.extensions:
                    continue
                if required in listed:
                    raise ImproperlyConfigured(
                        f"The extension {name!r} requires {required!r}, which is listed after "
                        f"it. Move {required!r} before {name!r} in Carboy(extensions=[...])."
                    )
                raise ImproperlyConfigured(
                    f"The extension {name!r} requires {required!r}, which is not installed. "
                    f"Add it to Carboy(extensions=[...]) before {name!r}."
                )
            self.extensions[name] = extension
            extension.init_app(self)

    def register_check(
        self, function: Callable[[Carboy], Any], *, deploy: bool = False
    ) -> Callable[[Carboy], Any]:
        """Register a check of ``carboy check``; ``deploy`` ones run with ``--deploy`` only."""
        from carboy.checks import register_check

        return register_check(self, function, deploy=deploy)

    def add_converter(self, name: str, converter: Converter) -> None:
        """Register a path converter, usable as ``{param:name}`` in routes."""
        self._check_open(f"add the converter {name!r}")
        self.converters[name] = converter

    def add_middleware(self, middleware_class: Callable[..., ASGIApp], **options: Any) -> None:
        """Wrap the whole app in an ASGI middleware; the first added is outermost."""
        self._check_open(f"add the middleware {getattr(middleware_class, '__name__', '')}")
        self.user_middleware.append(Middleware(middleware_class, **options))

    def add_exception_handler(self, key: int | type[Exception], handler: ExceptionHandler) -> None:
        """Answer an exception class, or an HTTP status code, with ``handler(request, exc)``."""
        self._check_open(f"add an exception handler for {key!r}")
        self.exception_handlers[key] = handler

    def exception_handler(
        self, key: int | type[Exception]
    ) -> Callable[[ExceptionHandler], ExceptionHandler]:
        """Register the decorated function as the handler of an exception class or status.

        Example::

            @app.exception_handler(404)
            async def not_found(request: Request, exc: HTTPException) -> Response:
                return HTMLResponse("<h1>Nothing here</h1>", 404)
        """

        def decorator(handler: ExceptionHandler) -> ExceptionHandler:
            self.add_exception_handler(key, handler)
            return handler

        return decorator

    def on_startup(self, function: Callable[[], Any]) -> Callable[[], Any]:
        """Run ``function`` (sync or async) when the app starts, after extensions."""
        self._check_open(f"add the startup hook {getattr(function, '__name__', '')}")
        self.startup_hooks.append(function)
        return function

    def on_shutdown(self, function: Callable[[], Any]) -> Callable[[], Any]:
        """Run ``function`` (sync or async) when the app shuts down."""
        self._check_open(f"add the shutdown hook {getattr(function, '__name__', '')}")
        self.shutdown_hooks.append(function)
        return function

    def provide(self, annotation: Any, provider: Callable[..., Any]) -> None:
        """Give every parameter annotated ``annotation`` the value of ``provider``.

        The seam through which batteries hand out typed values by annotation
        alone: after ``app.provide(Session, get_session)``, a handler that
        declares ``session: Session`` gets ``get_session()``'s value, as if it
        said ``Annotated[Session, Depends(get_session)]``. ``provider`` is a
        dependency like any other: it may take parameters, and be a generator.
        """
        self._check_open(f"provide {getattr(annotation, '__name__', annotation)!r}")
        self.providers[annotation] = provider

    def resolve(self, dependency: Callable[..., Any]) -> AbstractAsyncContextManager[Any]:
        """Run a dependency outside any request: in a CLI command, a task, at startup.

        Its own dependencies and providers are resolved as in a request;
        generator cleanup runs when the ``async with`` block ends.

        Example::

            async with app.resolve(get_session) as session:
                ...

        Raises:
            ImproperlyConfigured: when the dependency needs something only a
                request has (the request, parameters, a body).
        """
        # Hints that name the caller's local functions resolve there.
        return self._resolve(dependency, dict(sys._getframe(1).f_locals))

    @contextlib.asynccontextmanager
    async def _resolve(
        self, dependency: Callable[..., Any], localns: dict[str, Any]
    ) -> AsyncIterator[Any]:
        from carboy._plan import PlanBuilder, solve_without_request

        builder = PlanBuilder(self.providers)
        plan = builder.build(dependency, "(outside a request)", localns=localns)
        from carboy.dependencies import run_success_callbacks

        async with contextlib.AsyncExitStack() as stack:
            scope: dict[str, Any] = {}
            yield await solve_without_request(
                plan, stack, self.dependency_overrides, builder, scope
            )
            await run_success_callbacks(scope)

    def openapi(self) -> dict[str, Any]:
        """Return the app's OpenAPI 3.1 document (built once, after startup)."""
        if self._openapi_document is None or self._stack is None:
            from carboy.openapi import build_document

            dispatcher = self._dispatcher or Dispatcher(self)
            document = build_document(self, dispatcher)
            if self._stack is None:
                return document
            self._openapi_document = document
        return self._openapi_document

    # Routes --------------------------------------------------------------

    def url_path_for(self, name: str, /, **params: Any) -> str:
        """Return the path of the route called ``name`` (``"api:user"`` in a router).

        Raises:
            NoRouteFound: when no route has that name, or the parameters do
                not fit its path.
        """
        dispatcher = self._dispatcher or Dispatcher(self)
        compiled = dispatcher.names.get(name)
        if compiled is None:
            raise NoRouteFound(f"No route is named {name!r}. Check the name and its namespace.")
        try:
            return compiled.build(params)
        except KeyError as exc:
            missing, extra = exc.args
            raise NoRouteFound(
                f"The route {name!r} ({compiled.pattern}) cannot be built from the parameters "
                f"given: missing {missing}, unexpected {extra}."
            ) from None
        except ValueError as exc:
            raise NoRouteFound(f"The route {name!r} ({compiled.pattern}): {exc}") from None

    # Lifecycle -------------------------------------------------------------

    def _build(self) -> ASGIApp:
        from carboy.checks import raise_for_errors, run_checks
        from carboy.middleware.errors import ServerErrorMiddleware
        from carboy.middleware.headerlimits import HeaderLimitsMiddleware
        from carboy.middleware.httpsredirect import HTTPSRedirectMiddleware
        from carboy.middleware.proxyheaders import ProxyHeadersMiddleware
        from carboy.middleware.trustedhost import TrustedHostMiddleware

        # Setup mistakes are found now, all of them together.
        raise_for_errors(run_checks(self))
        settings = self.settings
        if settings.secret_key is None and settings.debug:
            # Development: a key of this process, so sessions work at once.
            # `carboy check --deploy` says a production site must set one.
            from pydantic import SecretStr

            settings.secret_key = SecretStr(secrets.token_urlsafe(50))
        from carboy.static import mount_static

        mount_static(self)
        dispatcher = Dispatcher(self)
        app: ASGIApp = dispatcher
        for middleware in reversed(self.user_middleware):
            app = middleware.wrap(app)
        # Host header check, on by default: only the listed hosts, or the
        # localhost names and the test client's when none is listed.
        app = TrustedHostMiddleware(app, allowed_hosts=settings.allowed_hosts or DEFAULT_HOSTS)
        if settings.https_redirect:
            app = HTTPSRedirectMiddleware(app)
        if settings.trusted_proxies:
            # Outside the host check and the HTTPS redirect, which then see
            # the host and scheme the client used, not the proxy's.
            app = ProxyHeadersMiddleware(app, trusted_proxies=settings.trusted_proxies)
        app = HeaderLimitsMiddleware(
            app,
            max_count=settings.max_header_count,
            max_size=settings.max_header_size,
            max_total=settings.max_headers_total,
        )
        # Settings are read when an error needs them: an app that never
        # touches them starts without loading pydantic-settings.
        app = ServerErrorMiddleware(app, debug=lambda: self.debug, security=dispatcher.security)
        self._dispatcher = dispatcher
        self._stack = app
        for router in dispatcher.routers:
            router._started_by = "the app"
        return app

    async def startup(self) -> None:
        """Fix routes and middleware, then run startup hooks and the lifespan.

        Servers call this through the ASGI lifespan protocol; the test client
        does too. Calling it again after a shutdown starts the app anew.
        """
        from carboy._callables import run_callable

        if self._stack is None:
            self._build()
        self._exit_stack = contextlib.AsyncExitStack()
        for hook in self.startup_hooks:
            await run_callable(hook)
        if self.lifespan_context is not None:
            state = await self._exit_stack.enter_async_context(self.lifespan_context(self))
            if isinstance(state, Mapping):
                self.state.update(state)

    async def shutdown(self) -> None:
        """Leave the lifespan, then run shutdown hooks."""
        from carboy._callables import run_callable

        exit_stack, self._exit_stack = self._exit_stack, None
        if exit_stack is not None:
            await exit_stack.aclose()
        for hook in self.shutdown_hooks:
            await run_callable(hook)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        import traceback

        await receive()
        try:
            await self.startup()
        except BaseException:
            await send({"type": "lifespan.startup.failed", "message": traceback.format_exc()})
            raise
        await send({"type": "lifespan.startup.complete"})
        await receive()
        try:
            await self.shutdown()
        except BaseException:
            await send({"type": "lifespan.shutdown.failed", "message": traceback.format_exc()})
            raise
        await send({"type": "lifespan.shutdown.complete"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection: HTTP, WebSocket or lifespan."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        stack = self._stack or self._build()
        scope["app"] = self
        await stack(scope, receive, send)
