from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from typing import Any

import pytest

from carboy import Carboy, HTMLResponse, Mount, Request, Route, Router
from carboy.exceptions import ImproperlyConfigured, NoRouteFound
from carboy.middleware import Middleware
from carboy.responses import PlainTextResponse, Response
from carboy.testing import TestClient
from carboy.types import ASGIApp, CallNext, Receive, Scope, Send


def make_app() -> Carboy:
    app = Carboy()

    @app.get("/")
    async def home() -> str:
        return "home"

    @app.get("/users/{id:int}")
    async def user(id: int) -> dict[str, Any]:
        return {"id": id, "type": type(id).__name__}

    @app.get("/prices/{amount:float}")
    async def price(amount: float) -> dict[str, Any]:
        return {"amount": amount, "type": type(amount).__name__}

    @app.get("/things/{key:uuid}")
    async def thing(key: uuid.UUID) -> dict[str, Any]:
        return {"key": str(key), "type": type(key).__name__}

    @app.get("/files/{rest:path}")
    async def files(rest: str) -> dict[str, str]:
        return {"rest": rest}

    @app.get("/articles/{slug:slug}")
    async def article(slug: str) -> dict[str, str]:
        return {"slug": slug}

    @app.get("/names/{name}")
    async def by_name(name: str) -> dict[str, str]:
        return {"name": name}

    @app.get("/typed/{number}")
    async def typed(number: int) -> dict[str, Any]:
        return {"number": number, "type": type(number).__name__}

    @app.get("/docs/{name}.{ext}")
    async def doc(name: str, ext: str) -> dict[str, str]:
        return {"name": name, "ext": ext}

    @app.route("/items/", methods=["GET", "POST"])
    async def items(request: Request) -> str:
        return request.method

    @app.get("/items/new")
    async def new_item() -> str:
        return "static wins"

    @app.get("/items/{id:int}")
    async def item(id: int) -> str:
        return f"item {id}"

    return app


@pytest.fixture
def client() -> TestClient:
    return TestClient(make_app())


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/users/42", {"id": 42, "type": "int"}),
        ("/prices/2.5", {"amount": 2.5, "type": "float"}),
        ("/prices/3", {"amount": 3.0, "type": "float"}),
        (
            "/things/12345678-1234-5678-1234-567812345678",
            {"key": "12345678-1234-5678-1234-567812345678", "type": "UUID"},
        ),
        ("/files/a/b/c.txt", {"rest": "a/b/c.txt"}),
        ("/files/", {"rest": ""}),
        ("/articles/hello-world_2", {"slug": "hello-world_2"}),
        ("/names/caf%C3%A9", {"name": "café"}),
        ("/typed/7", {"number": 7, "type": "int"}),
        ("/docs/readme.md", {"name": "readme", "ext": "md"}),
    ],
)
def test_path_parameters_are_converted_to_their_declared_types(
    client: TestClient, path: str, expected: dict[str, Any]
) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert response.json() == expected


@pytest.mark.parametrize(
    "path",
    [
        "/users/abc",
        "/users/-1",
        "/users/1.5",
        "/prices/abc",
        "/things/not-a-uuid",
        "/articles/no spaces",
        "/articles/caf%C3%A9",
        "/typed/seven",
        "/users/٣",
    ],
)
def test_a_converter_that_does_not_match_gives_404_not_500(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Not Found"


def test_unknown_path_gives_404_problem_details(client: TestClient) -> None:
    response = client.get("/nowhere")

    assert response.status_code == 404
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Nothing is served at '/nowhere'.",
    }


def test_unknown_path_gives_an_html_page_to_a_browser(client: TestClient) -> None:
    response = client.get("/<script>", headers={"accept": "text/html,application/xhtml+xml"})

    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>404 Not Found</h1>" in response.text
    assert "<script>" not in response.text
    assert "&lt;script&gt;" in response.text


def test_wrong_method_gives_405_with_allow_header(client: TestClient) -> None:
    response = client.delete("/users/1")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert response.json()["detail"] == (
        "The method DELETE is not allowed here. Allowed: GET, HEAD, OPTIONS."
    )


def test_unknown_method_gives_405_not_500(client: TestClient) -> None:
    response = client.request("BREW", "/")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"


def test_head_is_answered_by_the_get_handler_without_a_body(client: TestClient) -> None:
    response = client.head("/users/5")

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(b'{"id":5,"type":"int"}'))
    assert response.headers["content-type"] == "application/json"


def test_options_is_answered_automatically_with_allow(client: TestClient) -> None:
    response = client.options("/items/")

    assert response.status_code == 204
    assert response.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    assert response.content == b""


def test_static_segment_wins_over_a_parameter(client: TestClient) -> None:
    assert client.get("/items/new").text == "static wins"
    assert client.get("/items/7").text == "item 7"


def test_a_method_missing_on_the_static_route_falls_back_to_a_matching_dynamic_one() -> None:
    app = Carboy()

    @app.post("/items/new")
    async def create() -> str:
        return "created"

    @app.get("/items/{name}")
    async def show(name: str) -> str:
        return f"show {name}"

    client = TestClient(app)

    assert client.get("/items/new").text == "show new"
    assert client.post("/items/new").text == "created"
    assert client.put("/items/new").headers["allow"] == "GET, HEAD, OPTIONS, POST"


def test_missing_trailing_slash_redirects_with_308(client: TestClient) -> None:
    response = client.post("/items?x=1")

    assert response.status_code == 308
    assert response.headers["location"] == "http://testserver/items/?x=1"


def test_extra_trailing_slash_redirects_with_308(client: TestClient) -> None:
    response = client.get("/users/3/")

    assert response.status_code == 308
    assert response.headers["location"] == "http://testserver/users/3"


def test_trailing_slash_redirect_can_be_turned_off() -> None:
    app = Carboy(redirect_slashes=False)

    @app.get("/a")
    async def a() -> str:
        return "a"

    assert TestClient(app).get("/a/").status_code == 404


def test_non_utf8_bytes_in_the_path_give_400() -> None:
    app = make_app()
    client = TestClient(app)

    response = client.get("/names/%ff%fe")
    unmatched = client.get("/nowhere/%ff")
    replacement_char = client.get("/names/%EF%BF%BD")

    assert response.status_code == 400
    assert response.json()["detail"] == "The request path is not valid UTF-8."
    assert unmatched.status_code == 400
    assert replacement_char.json() == {"name": "\ufffd"}


def test_url_path_for_builds_paths_with_converters() -> None:
    app = make_app()

    assert app.url_path_for("home") == "/"
    assert app.url_path_for("user", id=42) == "/users/42"
    assert app.url_path_for("price", amount=2.5) == "/prices/2.5"
    assert app.url_path_for("files", rest="a b/c") == "/files/a%20b/c"
    assert app.url_path_for("by_name", name="a b?") == "/names/a%20b%3F"
    assert app.url_path_for("doc", name="readme", ext="md") == "/docs/readme.md"


def test_url_path_for_reports_missing_names_and_params() -> None:
    app = make_app()

    with pytest.raises(NoRouteFound) as missing:
        app.url_path_for("nope")
    with pytest.raises(NoRouteFound) as params:
        app.url_path_for("user", uid=1)
    with pytest.raises(NoRouteFound) as negative:
        app.url_path_for("user", id=-1)
    with pytest.raises(NoRouteFound) as slash:
        app.url_path_for("by_name", name="a/b")

    assert str(missing.value) == "No route is named 'nope'. Check the name and its namespace."
    assert str(params.value) == (
        "The route 'user' (/users/{id:int}) cannot be built from the parameters given: "
        "missing ['id'], unexpected ['uid']."
    )
    assert str(negative.value) == (
        "The route 'user' (/users/{id:int}): An int path parameter must not be negative: -1."
    )
    assert str(slash.value) == (
        "The route 'by_name' (/names/{name}): A str path parameter must be non-empty and hold "
        "no '/': 'a/b'."
    )


def test_request_url_for_gives_an_absolute_url() -> None:
    app = Carboy()

    @app.get("/users/{id:int}")
    async def user(request: Request, id: int) -> str:
        return str(request.url_for("user", id=id + 1))

    assert TestClient(app).get("/users/1").text == "http://testserver/users/2"


def test_custom_converter_is_used_for_matching_and_building() -> None:
    class YearConverter:
        regex = "[0-9]{4}"

        def convert(self, value: str) -> int:
            return int(value)

        def to_string(self, value: Any) -> str:
            return f"{int(value):04d}"

    app = Carboy(converters={"year": YearConverter()})

    @app.get("/archive/{year:year}")
    async def archive(year: int) -> dict[str, int]:
        return {"year": year}

    client = TestClient(app)

    assert client.get("/archive/2024").json() == {"year": 2024}
    assert client.get("/archive/24").status_code == 404
    assert app.url_path_for("archive", year=999) == "/archive/0999"


def test_unknown_converter_is_refused_at_startup_with_the_fix() -> None:
    app = Carboy()

    @app.get("/archive/{year:year}")
    async def archive(year: int) -> str:
        return ""

    with pytest.raises(ImproperlyConfigured) as info:
        app.url_path_for("archive", year=1)

    assert str(info.value) == (
        "The route path '/archive/{year:year}' uses the converter 'year', which is not "
        "registered. Known converters: float, int, path, slug, str, uuid. Register yours with "
        "app.add_converter('year', ...) before adding the route."
    )


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("users", "The route path 'users' must start with '/'."),
        ("/a/{x}/{x}", "The route path '/a/{x}/{x}' uses the parameter name 'x' twice."),
        (
            "/a/{1x}",
            "The route path '/a/{1x}' has a parameter '1x' whose name is not a Python identifier.",
        ),
        ("/a/{x", "The route path '/a/{x' has an unbalanced brace in '{x'."),
        (
            "/a/{p:path}/b",
            "The route path '/a/{p:path}/b' has the path parameter 'p' before its end; a path "
            "parameter takes the rest of the path, so it must come last.",
        ),
    ],
)
def test_bad_route_paths_are_refused_with_a_clear_message(path: str, message: str) -> None:
    app = Carboy()

    with pytest.raises(ImproperlyConfigured) as info:
        app.add_route(path, lambda: "x", name="x")
        app.url_path_for("x")

    assert str(info.value) == message


def test_a_parameter_that_is_not_in_the_path_is_a_required_query_parameter() -> None:
    app = Carboy()

    @app.get("/a/{x}")
    async def a(x: str, q: str) -> str:
        return x + q

    client = TestClient(app)

    assert client.get("/a/1?q=2").text == "12"
    assert client.get("/a/1").json()["errors"] == [
        {"location": "query.q", "message": "Field required", "type": "missing"}
    ]


def test_two_routes_with_one_name_are_refused() -> None:
    app = Carboy()
    app.add_route("/a", lambda: "a", name="same")
    app.add_route("/b", lambda: "b", name="same")

    with pytest.raises(ImproperlyConfigured) as info:
        app.url_path_for("same")

    assert str(info.value) == (
        "Two routes are named 'same': '/a' and '/b'. Give one of them another name=."
    )


def test_routes_can_be_given_to_the_constructor() -> None:
    async def hello() -> str:
        return "hi"

    app = Carboy(routes=[Route("/hello", hello, methods=["GET", "POST"])])
    client = TestClient(app)

    assert client.get("/hello").text == "hi"
    assert client.post("/hello").text == "hi"


def test_str_is_html_when_the_route_declares_it() -> None:
    app = Carboy()

    @app.get("/page", response_class=HTMLResponse)
    async def page() -> str:
        return "<p>hi</p>"

    response = TestClient(app).get("/page")

    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == "<p>hi</p>"


# Routers -------------------------------------------------------------------


def test_router_prefix_and_namespace() -> None:
    api = Router(prefix="/api", name="api")

    @api.get("/")
    async def index() -> str:
        return "api index"

    @api.get("/users/{id:int}")
    async def user(id: int) -> dict[str, int]:
        return {"id": id}

    app = Carboy()
    app.include_router(api)
    client = TestClient(app)

    assert client.get("/api").text == "api index"
    assert client.get("/api/users/3").json() == {"id": 3}
    assert app.url_path_for("api:user", id=3) == "/api/users/3"
    assert app.url_path_for("api:index") == "/api"


def test_nested_routers_join_prefixes_and_namespaces() -> None:
    v1 = Router(prefix="/v1", name="v1")
    users = Router(prefix="/users", name="users")

    @users.get("/{id:int}")
    async def detail(id: int) -> dict[str, int]:
        return {"id": id}

    v1.include_router(users)
    app = Carboy()
    app.include_router(v1, prefix="/api")

    assert TestClient(app).get("/api/v1/users/9").json() == {"id": 9}
    assert app.url_path_for("v1:users:detail", id=9) == "/api/v1/users/9"


def test_router_function_middleware_and_hooks_run_only_for_its_routes() -> None:
    calls: list[str] = []
    admin = Router(prefix="/admin")

    @admin.middleware
    async def tag(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        response.headers["x-area"] = "admin"
        return response

    @admin.before_request
    def before(request: Request) -> None:
        calls.append(f"before {request.url.path}")

    @admin.after_request
    async def after(request: Request, response: Response) -> None:
        calls.append(f"after {response.status_code}")

    @admin.get("/panel")
    async def panel() -> str:
        return "panel"

    app = Carboy()

    @app.get("/public")
    async def public() -> str:
        return "public"

    app.include_router(admin)
    client = TestClient(app)

    inside = client.get("/admin/panel")
    outside = client.get("/public")

    assert inside.headers["x-area"] == "admin"
    assert "x-area" not in outside.headers
    assert calls == ["before /admin/panel", "after 200"]


def test_before_request_hook_returning_a_value_short_circuits() -> None:
    app = Carboy()

    @app.before_request
    async def gate(request: Request) -> tuple[str, int] | None:
        if request.headers.get("x-key") != "secret":
            return "forbidden", 403
        return None

    @app.get("/")
    async def home() -> str:
        return "home"

    client = TestClient(app)

    assert client.get("/").status_code == 403
    assert client.get("/").text == "forbidden"
    assert client.get("/", headers={"x-key": "secret"}).text == "home"


def test_app_hooks_and_middleware_also_see_404_responses() -> None:
    seen: list[int] = []
    app = Carboy()

    @app.after_request
    def record(request: Request, response: Response) -> None:
        seen.append(response.status_code)

    TestClient(app).get("/missing")

    assert seen == [404]


def test_function_middleware_runs_in_registration_order_outermost_first() -> None:
    order: list[str] = []
    app = Carboy()

    @app.middleware
    async def first(request: Request, call_next: CallNext) -> Response:
        order.append("first in")
        response = await call_next(request)
        order.append("first out")
        return response

    @app.middleware
    async def second(request: Request, call_next: CallNext) -> Response:
        order.append("second in")
        response = await call_next(request)
        order.append("second out")
        return response

    @app.get("/")
    async def home() -> str:
        order.append("handler")
        return "ok"

    TestClient(app).get("/")

    assert order == ["first in", "second in", "handler", "second out", "first out"]


def test_function_middleware_sees_handled_exceptions_as_responses() -> None:
    statuses: list[int] = []
    app = Carboy()

    @app.middleware
    async def observe(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        statuses.append(response.status_code)
        return response

    @app.get("/boom")
    async def boom() -> str:
        from carboy import HTTPException

        raise HTTPException(418, "I'm a teapot, not a coffee machine.")

    response = TestClient(app).get("/boom")

    assert response.status_code == 418
    assert statuses == [418]


class HeaderMiddleware:
    def __init__(self, app: ASGIApp, *, value: str) -> None:
        self.app = app
        self.value = value

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_header(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"x-router", self.value.encode())]
            await send(message)

        await self.app(scope, receive, send_with_header)


def test_router_asgi_middleware_wraps_only_its_routes_and_keeps_error_handling() -> None:
    api = Router(prefix="/api", middleware=[Middleware(HeaderMiddleware, value="api")])

    @api.get("/ok")
    async def ok() -> str:
        return "ok"

    @api.get("/missing")
    async def missing() -> str:
        from carboy import HTTPException

        raise HTTPException(404, "No such thing.")

    app = Carboy()

    @app.get("/plain")
    async def plain() -> str:
        return "plain"

    app.include_router(api)
    client = TestClient(app)

    assert client.get("/api/ok").headers["x-router"] == "api"
    assert client.get("/api/missing").status_code == 404
    assert client.get("/api/missing").headers["x-router"] == "api"
    assert "x-router" not in client.get("/plain").headers


def test_router_prefix_must_be_well_formed() -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        Router(prefix="api/")

    assert str(info.value) == (
        "The router prefix 'api/' must start with '/' and not end with one, such as '/api'."
    )


# Mounts --------------------------------------------------------------------


async def echo_scope_app(scope: Scope, receive: Receive, send: Send) -> None:
    body = f"{scope['root_path']}|{scope['path']}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def test_mounted_asgi_app_gets_root_path_and_full_path() -> None:
    app = Carboy(routes=[Mount("/sub", echo_scope_app, name="sub")])
    client = TestClient(app)

    assert client.get("/sub/a/b").text == "/sub|/sub/a/b"
    assert client.get("/sub").text == "/sub|/sub"
    assert client.get("/subway").status_code == 404
    assert app.url_path_for("sub", path="x/y") == "/sub/x/y"
    assert app.url_path_for("sub", path="/x/y") == "/sub/x/y"


def test_mounted_carboy_app_routes_within_its_prefix() -> None:
    child = Carboy()

    @child.get("/hello")
    async def hello(request: Request) -> dict[str, str]:
        return {"url": str(request.url), "for": str(request.url_for("hello"))}

    parent = Carboy()
    parent.mount("/child", child)

    response = TestClient(parent).get("/child/hello")

    assert response.json() == {
        "url": "http://testserver/child/hello",
        "for": "http://testserver/child/hello",
    }


def test_mount_path_must_be_well_formed() -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        Mount("/static/", echo_scope_app)

    assert str(info.value) == (
        "The mount path '/static/' must start with '/', not end with one, and hold no "
        "parameters, such as '/static'."
    )


def test_routes_take_precedence_over_mounts() -> None:
    app = Carboy()
    app.mount("/area", echo_scope_app)

    @app.get("/area/special")
    async def special() -> PlainTextResponse:
        return PlainTextResponse("route")

    client = TestClient(app)

    assert client.get("/area/special").text == "route"
    assert client.get("/area/other").text == "/area|/area/other"


def test_root_path_is_stripped_only_at_a_segment_boundary() -> None:
    app = Carboy()

    @app.get("/apiary")
    async def apiary() -> str:
        return "bees"

    with TestClient(app, root_path="/api") as client:
        response = client.get("/apiary")

    assert response.status_code == 200
    assert response.text == "bees"


def test_router_keeps_its_template_and_static_folders_as_given_paths() -> None:
    router = Router(template_folder=PurePosixPath("blog/templates"), static_folder="blog/static")

    assert (router.template_folder, router.static_folder) == ("blog/templates", "blog/static")
    assert (Router().template_folder, Router().static_folder) == (None, None)


def test_a_constrained_path_parameter_keeps_the_converter_of_its_type() -> None:
    from typing import Annotated

    from carboy import Path

    app = Carboy()

    @app.get("/books/{book_id}")
    def book(book_id: Annotated[int, Path(ge=1)]) -> dict[str, int]:
        return {"id": book_id}

    with TestClient(app) as client:
        found = client.get("/books/7")
        not_a_number = client.get("/books/abc")
        too_small = client.get("/books/0")

    assert (found.status_code, found.json()) == (200, {"id": 7})
    assert not_a_number.status_code == 404
    assert too_small.status_code == 422
    assert [error["location"] for error in too_small.json()["errors"]] == ["path.book_id"]
