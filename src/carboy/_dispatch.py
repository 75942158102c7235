"""The app's innermost ASGI layer: route a request to its handler and send the response.

Built once, when the app starts: routers are flattened, paths compiled into
route tables, handlers' parameter plans made, and each route's chain of
function middleware, hooks and exception handling composed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from carboy._callables import is_async_callable, run_callable, type_hints
from carboy._plan import Dependant, PlanBuilder, call_plan, solve
from carboy._routetable import CompiledPath, RouteTable, compile_path
from carboy._serialize import make_converter
from carboy.csrf import UNSAFE_METHODS, check_csrf, is_exempt
from carboy.dependencies import run_success_callbacks
from carboy.exceptions import (
    ClientDisconnect,
    HTTPException,
    ImproperlyConfigured,
    RequestValidationError,
    WebSocketDisconnect,
    WebSocketException,
)
from carboy.middleware.security import SecurityHeaders
from carboy.problems import error_response
from carboy.requests import PRIVATE, HTTPConnection, Request
from carboy.responses import RedirectResponse, Response, to_response
from carboy.routing import Include, Mount, Route, Router, WebSocketRoute
from carboy.types import ASGIApp, Receive, Scope, Send
from carboy.websockets import WebSocket, WebSocketState

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.middleware import Middleware
    from carboy.types import HTTPMiddleware

Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class Entry:
    """A compiled route: what the table maps a (method, path) to."""

    route: Route | WebSocketRoute
    call: Callable[[Any], Awaitable[Any]]
    checks_csrf: bool = True


@dataclass
class _Flat:
    item: Route | WebSocketRoute | Mount
    path: str
    name: str | None
    routers: tuple[Router, ...]


class Dispatcher:
    """Match, call, convert, send: the end of the middleware stack."""

    def __init__(self, app: Carboy) -> None:
        self.app = app
        self.http: RouteTable[Entry] = RouteTable()
        self.websocket: RouteTable[Entry] = RouteTable()
        self.mounts: list[tuple[str, ASGIApp]] = []
        self.names: dict[str, CompiledPath] = {}
        self.routers: list[Router] = []
        self._handlers = _ExceptionHandlers(app)
        self.settings = app.settings
        self.security = SecurityHeaders(self.settings)
        self.sessions = app.session_backend
        self.session_cookie = self.settings.session_cookie_name
        self.builder = PlanBuilder(app.providers)
        self.plans: dict[Route | WebSocketRoute, Dependant] = {}
        flat = list(_flatten(app, "", None, ()))
        for router in _routers(app):
            self.routers.append(router)
        for item in flat:
            self._add(item)
        # Longest prefix first, so that /static/admin wins over /static.
        self.mounts.sort(key=lambda mount: len(mount[0]), reverse=True)
        self._route_chain = self._handlers.guard(self._compose(self._route, [app]))

    # Building -------------------------------------------------------------

    def _add(self, flat: _Flat) -> None:
        item = flat.item
        if isinstance(item, Mount):
            self.mounts.append((flat.path, item.app))
            if flat.name:
                self._name(flat.name, compile_path(flat.path + "/{path:path}", self.app.converters))
            return
        hints = type_hints(item.endpoint, item.localns)
        compiled = compile_path(flat.path, self.app.converters, hints)
        dependencies = [d for router in flat.routers for d in router.dependencies]
        plan = self.builder.build(
            item.endpoint,
            flat.path,
            compiled.param_names,
            [*dependencies, *item.dependencies],
            item.localns,
        )
        if plan.kind in ("asyncgen", "gen"):
            raise ImproperlyConfigured(
                f"The handler {plan.name} of {flat.path!r} is a generator. Return a "
                "StreamingResponse (or EventSourceResponse) of the generator instead."
            )
        self.plans[item] = plan
        run = self._runner(plan)
        name = flat.name or item.name or ""
        entry = Entry(item, run, self.settings.csrf_enabled and not is_exempt(item.endpoint))
        self._name(name, compiled)
        if isinstance(item, WebSocketRoute):
            self.websocket.add(compiled, frozenset({"WEBSOCKET"}), entry)
            return
        convert = make_converter(item, hints.get("return"))
        routers = flat.routers[1:]  # the app's own chain wraps routing as a whole

        async def call_route(request: Request) -> Response:
            return convert(await run(request))

        handler = self._compose(call_route, routers)
        asgi_middleware = [m for router in routers for m in router.asgi_middleware]
        if asgi_middleware:
            # The response is sent inside the middleware, past the app's own
            # guard, so exceptions become responses before it.
            handler = _behind_asgi_middleware(self._handlers.guard(handler), asgi_middleware)
        entry.call = handler
        self.http.add(compiled, item.methods, entry)

    def _runner(self, plan: Dependant) -> Callable[[Any], Awaitable[Any]]:
        """Make the function that runs ``plan`` for a request and returns the handler's result."""
        call = plan.call
        if plan.is_trivial and not plan.connection_args and plan.kind == "async":
            # The common, simplest handlers: no plan to run at all.
            if not plan.path_args:
                return lambda connection: call()
            return lambda connection: call(**connection.scope["path_params"])
        builder = self.builder
        overrides = self.app.dependency_overrides
        needs_stack = plan.needs_exit_stack

        async def run(connection: HTTPConnection) -> Any:
            stack = None
            if needs_stack:
                stack = contextlib.AsyncExitStack()
                connection.scope["carboy.exit_stack"] = stack
            try:
                kwargs = await solve(plan, connection, stack, overrides, builder)
                result = await call_plan(plan, kwargs, None)
                if "carboy.on_success" in connection.scope:
                    await run_success_callbacks(connection.scope)
                return result
            except BaseException as exc:
                if stack is not None:
                    # Cleanup sees the error (a transaction rolls back), then it
                    # goes on to become the error response.
                    connection.scope.pop("carboy.exit_stack", None)
                    await stack.__aexit__(type(exc), exc, exc.__traceback__)
                raise

        return run

    def _name(self, name: str, compiled: CompiledPath) -> None:
        if name in self.names and self.names[name].pattern != compiled.pattern:
            raise ImproperlyConfigured(
                f"Two routes are named {name!r}: {self.names[name].pattern!r} and "
                f"{compiled.pattern!r}. Give one of them another name=."
            )
        self.names[name] = compiled

    def _compose(self, handler: Handler, routers: Sequence[Router]) -> Handler:
        """Wrap ``handler`` in the routers' hooks and function middleware, innermost last.

        Each layer's inner call is guarded, so that a middleware or an
        after-request hook sees the response an exception was turned into.
        The outermost layer is guarded by the caller.
        """
        guard = self._handlers.guard
        for router in reversed(list(routers)):
            if router.before_request_hooks or router.after_request_hooks:
                handler = _with_hooks(guard(handler), router)
            for function in reversed(router.http_middleware):
                handler = _with_middleware(guard(handler), function)
        return handler

    # Serving --------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive, send)
            try:
                if _has_cookies(scope) and self.session_cookie in request.cookies:
                    scope["carboy.session"] = await self.sessions.load(request, self.settings)
                response = await self._route_chain(request)
                session = scope.get("carboy.session")
                if session is not None and session.modified:
                    await self.sessions.save(session, response, request, self.settings)
                if type(response) is _ASGIResponse:
                    response.app = self.security.wrap(response.app)
                else:
                    self.security.apply(response, scope)
                    if PRIVATE in scope:
                        _no_store(response)
                await response(scope, receive, send)
            except ClientDisconnect:
                # The client left mid-body: nobody is there to answer.
                return
            finally:
                if request._form is not None:
                    await request.close()
                if "carboy.exit_stack" in scope or "carboy.background" in scope:
                    await _after_response(scope)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)

    async def _route(self, request: Request) -> Response:
        scope = request.scope
        path = _route_path(scope)
        method = scope["method"]
        if "\ufffd" in path:
            # The server decoded invalid UTF-8 into replacement characters.
            _check_utf8(scope)
        if "\x00" in path:
            # No database column stores a NUL, and C libraries cut text at it.
            raise HTTPException(
                400, "The request path contains a NUL character (%00), which no page has."
            )
        entry, params, allowed = self.http.match(method, path)
        if entry is not None:
            scope["path_params"] = params
            scope["route"] = entry.route
            if entry.checks_csrf and method in UNSAFE_METHODS:
                await check_csrf(request, self.settings)
            response: Response = await entry.call(request)
            return response
        for prefix, mounted in self.mounts:
            if path == prefix or path.startswith(prefix + "/"):
                return _ASGIResponse(mounted, prefix)
        if allowed:
            allow = _allow_header(allowed)
            if method == "OPTIONS":
                return Response(None, 204, {"allow": allow})
            raise HTTPException(
                405,
                f"The method {method} is not allowed here. Allowed: {allow}.",
                headers={"Allow": allow},
            )
        if self.app.redirect_slashes and path != "/":
            other = path[:-1] if path.endswith("/") else path + "/"
            if self.http.has_path(other):
                # RFC 9110 15.4.9: 308 keeps the method and body, unlike 301/302.
                url = request.url
                return RedirectResponse(url.replace(path=url.path[: -len(path)] + other), 308)
        raise HTTPException(404, f"Nothing is served at {path!r}." if len(path) < 200 else None)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = _route_path(scope)
        entry, params, _ = self.websocket.match("WEBSOCKET", path)
        if entry is None:
            for prefix, mounted in self.mounts:
                if path == prefix or path.startswith(prefix + "/"):
                    await mounted(_mounted_scope(scope, prefix), receive, send)
                    return
            await send({"type": "websocket.close", "code": 1000, "reason": ""})
            return
        scope["path_params"] = params
        scope["route"] = entry.route
        websocket = WebSocket(scope, receive, send)
        try:
            await entry.call(websocket)
        except WebSocketException as exc:
            if websocket.application_state is not WebSocketState.DISCONNECTED:
                await websocket.close(exc.code, exc.reason)
        except WebSocketDisconnect:
            pass
        except RequestValidationError as exc:
            if websocket.application_state is not WebSocketState.DISCONNECTED:
                # RFC 6455 7.4.1: 1008, the message (here the handshake) breaks policy.
                await websocket.close(1008, exc.detail)
        except Exception:
            if websocket.application_state is not WebSocketState.DISCONNECTED:
                # RFC 6455 7.4.1: 1011, the server hit an unexpected condition.
                await websocket.close(1011)
            raise
        finally:
            if "carboy.exit_stack" in scope or "carboy.background" in scope:
                await _after_response(scope)


async def _after_response(scope: Scope) -> None:
    """Run generator dependencies' cleanup, then background tasks."""
    stack = scope.pop("carboy.exit_stack", None)
    tasks = scope.pop("carboy.background", None)
    try:
        if stack is not None:
            await stack.aclose()
    finally:
        if tasks is not None:
            await tasks.run()


def _no_store(response: Response) -> None:
    # RFC 9111 5.2.2.5: no-store keeps it out of every cache, shared or the
    # browser's own; a handler that chose its own Cache-Control keeps it.
    for name, _ in response.raw_headers:
        if name == b"cache-control":
            return
    response.raw_headers.append((b"cache-control", b"no-store"))


def _has_cookies(scope: Scope) -> bool:
    # A plain loop: this runs for every request, and a generator costs more.
    for name, _ in scope["headers"]:  # noqa: SIM110
        if name == b"cookie":
            return True
    return False


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root = scope.get("root_path")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :] or "/"
    return path


def _check_utf8(scope: Scope) -> None:
    raw = scope.get("raw_path")
    if raw is None:
        return
    from urllib.parse import unquote_to_bytes

    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(400, "The request path is not valid UTF-8.") from None


def _allow_header(allowed: set[str]) -> str:
    methods = set(allowed)
    if "GET" in methods:
        methods.add("HEAD")
    methods.add("OPTIONS")
    return ", ".join(sorted(methods))


def _mounted_scope(scope: Scope, prefix: str) -> Scope:
    child = dict(scope)
    child["root_path"] = scope.get("root_path", "") + prefix
    return child


class _ASGIResponse(Response):
    """An ASGI app in the place of a response: it answers by itself.

    A mounted app (given its mount ``prefix``) or a router's middleware stack.
    """

    def __init__(self, app: ASGIApp, prefix: str | None = None) -> None:
        self.app = app
        self.prefix = prefix
        self.status_code = 0
        self.raw_headers = []
        self._cookies = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.prefix is not None:
            scope = _mounted_scope(scope, self.prefix)
        await self.app(scope, receive, send)


def _behind_asgi_middleware(handler: Handler, middleware: list[Middleware]) -> Handler:
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        request: Request = scope["carboy.request"]
        response = await handler(request)
        await response(scope, receive, send)

    app: ASGIApp = inner
    for item in reversed(middleware):
        app = item.wrap(app)
    stack = app

    async def call(request: Request) -> Response:
        request.scope["carboy.request"] = request
        return _ASGIResponse(stack)

    return call


def _with_middleware(handler: Handler, function: HTTPMiddleware) -> Handler:
    async def call(request: Request) -> Response:
        return await function(request, handler)

    return call


def _with_hooks(handler: Handler, router: Router) -> Handler:
    before = [(hook, is_async_callable(hook)) for hook in router.before_request_hooks]
    after = [(hook, is_async_callable(hook)) for hook in router.after_request_hooks]

    async def call(request: Request) -> Response:
        response: Response | None = None
        for hook, is_async in before:
            result = await run_callable(hook, request, is_async=is_async)
            if result is not None:
                response = to_response(result)
                break
        if response is None:
            response = await handler(request)
        for hook, is_async in after:
            result = await run_callable(hook, request, response, is_async=is_async)
            if result is not None:
                response = to_response(result)
        return response

    return call


class _ExceptionHandlers:
    """Find the handler of an exception: by status code, then by class."""

    def __init__(self, app: Carboy) -> None:
        self.by_status: dict[int, Callable[..., Any]] = {}
        self.by_class: dict[type[Exception], Callable[..., Any]] = {
            HTTPException: _http_exception_response,
        }
        for key, handler in app.exception_handlers.items():
            if isinstance(key, int):
                self.by_status[key] = handler
            elif isinstance(key, type) and issubclass(key, Exception):
                self.by_class[key] = handler
            else:
                raise ImproperlyConfigured(
                    f"Exception handlers are keyed by status code or exception class, not {key!r}."
                )

    def lookup(self, exc: Exception) -> Callable[..., Any] | None:
        if isinstance(exc, HTTPException) and exc.status_code in self.by_status:
            return self.by_status[exc.status_code]
        for cls in type(exc).__mro__:
            handler = self.by_class.get(cls)
            if handler is not None:
                return handler
        return None

    def guard(self, handler: Handler) -> Handler:
        lookup = self.lookup

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except ClientDisconnect:
                raise
            except Exception as exc:
                exception_handler = lookup(exc)
                if exception_handler is None:
                    raise
                response = to_response(await run_callable(exception_handler, request, exc))
                if isinstance(exc, HTTPException) and exc.headers:
                    _keep_protocol_headers(response, exc.headers)
                return response

        return guarded


def _keep_protocol_headers(response: Response, headers: dict[str, str]) -> None:
    """Add the exception's headers that a custom handler's response left out.

    They are the ones HTTP asks of the status (``Allow`` on a 405,
    ``WWW-Authenticate`` on a 401, ``Retry-After`` on a 503), and a handler
    that reshapes the body for its API easily forgets them.
    """
    present = {name for name, _ in response.raw_headers}
    for name, value in headers.items():
        if name.lower().encode("latin-1") not in present:
            response.raw_headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))


def _http_exception_response(request: HTTPConnection, exc: HTTPException) -> Response:
    errors = getattr(exc, "errors", None)
    extensions = {"errors": errors} if errors is not None else None
    return error_response(
        request.headers, exc.status_code, exc.title, exc.detail, exc.headers, extensions
    )


def _flatten(
    router: Router, prefix: str, namespace: str | None, parents: tuple[Router, ...]
) -> Iterator[_Flat]:
    chain = (*parents, router)
    base = prefix + router.prefix
    for item in router.routes:
        if isinstance(item, Include):
            child = item.router
            child_namespace = child.namespace
            if namespace and child_namespace:
                child_namespace = f"{namespace}:{child_namespace}"
            elif namespace:
                child_namespace = namespace
            yield from _flatten(child, base + item.prefix, child_namespace, chain)
            continue
        name = item.name
        if name and namespace:
            name = f"{namespace}:{name}"
        path = base + item.path
        if isinstance(item, Route) and item.path == "/" and base:
            # A router's "/" is the prefix itself: /api, not /api/.
            path = base
        yield _Flat(item, path, name, chain)


def _routers(router: Router) -> Iterator[Router]:
    yield router
    for item in router.routes:
        if isinstance(item, Include):
            yield from _routers(item.router)


def iter_routes(app: Router) -> Iterator[tuple[tuple[str, ...], str, str, str, str]]:
    """Yield ``(methods, path, name, handler, kind)`` for every route of ``app``.

    Included routers are flattened: paths are full and names namespaced
    (``api:users``). ``kind`` is ``"http"``, ``"websocket"`` or ``"mount"``.
    ``methods`` is sorted, leaves out ``HEAD`` where ``GET`` answers it, and
    is empty for WebSocket routes and mounts. ``handler`` is the endpoint's
    ``module.qualname``; for a mount, the mounted app's class (or function).
    """

    def qualified_name(obj: object) -> str:
        # Functions, methods and classes have a qualname; other callables
        # (instances) are named after their class.
        target = obj if hasattr(obj, "__qualname__") else type(obj)
        module = getattr(target, "__module__", None)
        qualname: str = getattr(target, "__qualname__", repr(target))
        return f"{module}.{qualname}" if module else qualname

    for flat in _flatten(app, "", None, ()):
        item = flat.item
        if isinstance(item, Mount):
            yield (), flat.path, flat.name or "", qualified_name(item.app), "mount"
        elif isinstance(item, WebSocketRoute):
            name: str = flat.name or item.name or ""
            yield (), flat.path, name, qualified_name(item.endpoint), "websocket"
        else:
            methods = set(item.methods)
            if "GET" in methods:
                methods.discard("HEAD")
            name = flat.name or item.name or ""
            handler = qualified_name(item.endpoint)
            yield tuple(sorted(methods)), flat.path, name, handler, "http"
