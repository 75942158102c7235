from __future__ import annotations

import importlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import types
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
import uvicorn
from click.testing import CliRunner, Result

from carboy import cli
from carboy.__about__ import __version__
from carboy.cli import main

HELLO = """
    from carboy import Carboy

    app = Carboy()

    @app.get("/")
    def hello() -> dict[str, str]:
        return {"message": "Hello, World!"}
"""

Call = tuple[tuple[Any, ...], dict[str, Any]]


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A clean current folder for the app files of a test, forgotten after it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CARBOY_APP", raising=False)
    # Set, then removed: monkeypatch then restores "absent" after the test,
    # even though `carboy run` sets the variable itself.
    monkeypatch.setenv("CARBOY_DEBUG", "unset")
    monkeypatch.delenv("CARBOY_DEBUG")
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    calls: list[Call] = []

    def run(*args: Any, **kwargs: Any) -> None:
        calls.append((args, kwargs))

    monkeypatch.setattr(uvicorn, "run", run)
    return calls


def write(path: Path, source: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    importlib.invalidate_caches()


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def run_call(import_string: str, *, factory: bool = False, reload: bool = True) -> Call:
    """What ``carboy run`` passes to uvicorn.run; by default debug, so reload, is on."""
    return (
        (import_string,),
        {
            "host": "127.0.0.1",
            "port": 8000,
            "factory": factory,
            "reload": reload,
            "reload_dirs": [os.getcwd()] if reload else None,
            "proxy_headers": False,
            "server_header": False,
        },
    )


# --version ------------------------------------------------------------------


def test_version_option_prints_carboy_and_its_version() -> None:
    result = invoke("--version")

    assert result.exit_code == 0
    assert result.stdout == f"carboy {__version__}\n"


# Finding the app --------------------------------------------------------------


def test_app_option_names_the_module_and_attribute(
    project: Path, uvicorn_calls: list[Call]
) -> None:
    write(
        project / "hello.py",
        HELLO.replace("app = Carboy()", "site = Carboy()").replace("@app", "@site"),
    )

    result = invoke("run", "--app", "hello:site")

    assert result.exit_code == 0, result.output
    assert uvicorn_calls == [run_call("hello:site")]


def test_app_option_with_a_module_alone_uses_its_app_attribute(
    project: Path, uvicorn_calls: list[Call]
) -> None:
    write(project / "hello.py", HELLO)

    result = invoke("run", "--app", "hello")

    assert result.exit_code == 0, result.output
    assert uvicorn_calls == [run_call("hello:app")]


def test_app_option_reaches_a_dotted_attribute(project: Path, uvicorn_calls: list[Call]) -> None:
    write(project / "holding.py", textwrap.dedent(HELLO) + "\nclass holder:\n    app = app\n")

    result = invoke("run", "--app", "holding:holder.app")

    assert result.exit_code == 0, result.output
    assert uvicorn_calls == [run_call("holding:holder.app")]


def test_app_option_reaches_a_module_in_a_package(project: Path, uvicorn_calls: list[Call]) -> None:
    write(project / "mysite" / "__init__.py", "")
    write(project / "mysite" / "web.py", HELLO)

    result = invoke("run", "--app", "mysite.web:app")

    assert result.exit_code == 0, result.output
    assert uvicorn_calls == [run_call("mysite.web:app")]


def test_app_option_before_the_command_is_used_by_it(
    project: Path, uvicorn_calls: list[Call]
) -> None:
    write(project / "hello.py", HELLO)

    result = invoke("--app", "hello:app", "run")

    assert result.exit_code == 0, result.output
    assert uvicorn_calls == [run_call("hello:app")]


def test_app_option_after_the_command_wins_over_the_one_before_it(
    project: Path, uvicorn_calls: list[Call]
) -> None:
    write(project / "hello.py", HELLO)

    result = invoke("--app", "missing_module:app", "run", "--app", "hello:app")

    assert result.exit_code == 0, result.output
    assert uvicorn_calls == [run_call("hello:app")]


def test_carboy_app_variable_names_the_app(
    project: Path, uvicorn_calls: list[Call], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "hello.py", HELLO)
    monkeypatch.setenv("CARBOY_APP", "hello:app")

    result = invoke("run")

    assert result.exit_code == 0, result.output
    assert uvicorn_calls == [run_call("hello:app")]


def test_app_option_wins_over_the_carboy_app_variable(
    project: Path, uvicorn_calls: list[Call], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "hello.py", HELLO)
    monkeypatch.setenv("CARBOY_APP", "missing_module:app")

    result = invoke("run", "--app", "hello:app")

    assert result.exit_code == 0, result.output
    assert uvicorn_calls == [run_call("hello:app")]


def test_app_py_in_the_current_folder_is_the_default(
    project: Path, uvicorn_calls: list[Call]
) -> None:
    write(project / "app.py", HELLO)

    result = invoke("run")

    assert result.exit_code == 0, result.output
    assert uvicorn_calls == [run_call("app:app")]


def test_a_factory_is_called_once_and_named_to_the_server_as_a_factory(
    project: Path, uvicorn_calls: list[Call]
) -> None:
    write(
        project / "factory.py",
        """
        from carboy import Carboy

        calls = []

        def create_app() -> Carboy:
            calls.append("called")
            return Carboy()
        """,
    )

    result = invoke("run", "--app", "factory:create_app()")

    assert result.exit_code == 0, result.output
    assert uvicorn_calls == [run_call("factory:create_app", factory=True)]
    assert sys.modules["factory"].calls == ["called"]


def test_the_current_folder_comes_first_on_the_import_path(
    project: Path, uvicorn_calls: list[Call]
) -> None:
    write(project / "hello.py", HELLO)

    invoke("run", "--app", "hello:app")

    assert sys.path[0] == os.getcwd()


# Errors in finding the app ----------------------------------------------------


def test_no_app_option_variable_or_app_py_is_a_usage_error() -> None:
    result = invoke("run")

    assert result.exit_code == 2
    assert result.stderr == (
        "Usage: carboy run [OPTIONS]\n"
        "Try 'carboy run --help' for help.\n"
        "\n"
        "Error: No app found: pass --app module:attribute, set CARBOY_APP, or create app.py "
        "in the current folder.\n"
    )


@pytest.mark.parametrize("value", ["a:b:c", "mysite/web:app", "web:create_app(1)", "web:"])
def test_app_option_that_is_not_an_import_string_is_a_usage_error(value: str) -> None:
    result = invoke("routes", "--app", value)

    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"Error: The --app value {value!r} is not an import string: write module:attribute, "
        "such as 'app:app' or 'mysite.web:app', or module:factory() to call a factory with "
        "no arguments."
    )


@pytest.mark.parametrize(
    ("value", "module"),
    [("app.py", "app"), ("mysite/web.py", "mysite.web"), ("mysite/web.py:site", "mysite.web:site")],
)
def test_app_option_naming_a_file_asks_for_its_module(value: str, module: str) -> None:
    result = invoke("run", "--app", value)

    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"Error: The --app value {value!r} names a file: write its module instead, such as "
        f"{module!r}."
    )


def test_carboy_app_variable_that_is_not_an_import_string_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CARBOY_APP", "a:b:c")

    result = invoke("routes")

    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "Error: The CARBOY_APP value 'a:b:c' is not an import string: write module:attribute, "
        "such as 'app:app' or 'mysite.web:app', or module:factory() to call a factory with "
        "no arguments."
    )


def test_app_option_naming_a_missing_module_says_it_could_not_import_it() -> None:
    result = invoke("run", "--app", "missing_module:app")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Could not import 'missing_module' (from --app missing_module:app): "
        "No module named 'missing_module'.\n"
    )


def test_carboy_app_variable_naming_a_missing_module_says_where_the_name_came_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CARBOY_APP", "missing_module")

    result = invoke("run")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Could not import 'missing_module' (from CARBOY_APP=missing_module): "
        "No module named 'missing_module'.\n"
    )


def test_app_option_naming_a_module_in_a_missing_package_says_the_package_is_missing() -> None:
    result = invoke("run", "--app", "missing_package.web:app")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Could not import 'missing_package.web' (from --app missing_package.web:app): "
        "No module named 'missing_package'.\n"
    )


def test_an_import_error_inside_the_app_module_shows_its_own_traceback(project: Path) -> None:
    write(project / "helpers.py", "def present() -> None: ...\n")
    write(project / "broken.py", "import helpers\nfrom helpers import absent\n")

    result = invoke("run", "--app", "broken:app")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: The module 'broken' (from --app broken:app) was found, but importing it "
        "raised an error:\n"
        "\n"
        "Traceback (most recent call last):\n"
        f'  File "{project / "broken.py"}", line 2, in <module>\n'
        "    from helpers import absent\n"
        "ImportError: cannot import name 'absent' from 'helpers' "
        f"({project / 'helpers.py'})\n"
    )


def test_a_missing_dependency_of_the_app_module_is_not_taken_for_the_module_missing(
    project: Path,
) -> None:
    write(project / "needs_dependency.py", "import missing_dependency\n")

    result = invoke("run", "--app", "needs_dependency:app")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: The module 'needs_dependency' (from --app needs_dependency:app) was found, "
        "but importing it raised an error:\n"
        "\n"
        "Traceback (most recent call last):\n"
        f'  File "{project / "needs_dependency.py"}", line 1, in <module>\n'
        "    import missing_dependency\n"
        "ModuleNotFoundError: No module named 'missing_dependency'\n"
    )


def test_any_error_raised_while_importing_the_app_module_shows_its_traceback(
    project: Path,
) -> None:
    write(project / "failing.py", 'raise RuntimeError("The settings file is missing.")\n')

    result = invoke("run", "--app", "failing:app")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: The module 'failing' (from --app failing:app) was found, but importing it "
        "raised an error:\n"
        "\n"
        "Traceback (most recent call last):\n"
        f'  File "{project / "failing.py"}", line 1, in <module>\n'
        '    raise RuntimeError("The settings file is missing.")\n'
        "RuntimeError: The settings file is missing.\n"
    )


def test_app_option_naming_a_missing_attribute_says_the_module_lacks_it(project: Path) -> None:
    write(project / "hello.py", HELLO)

    result = invoke("run", "--app", "hello:application")

    assert result.exit_code == 1
    assert result.stderr == "Error: The module 'hello' has no attribute 'application'.\n"


def test_app_option_naming_a_missing_dotted_attribute_says_the_module_lacks_it(
    project: Path,
) -> None:
    write(project / "hello.py", HELLO)

    result = invoke("run", "--app", "hello:app.missing")

    assert result.exit_code == 1
    assert result.stderr == "Error: The module 'hello' has no attribute 'app.missing'.\n"


def test_app_py_without_an_app_attribute_says_the_module_lacks_it(project: Path) -> None:
    write(project / "app.py", "application = None\n")

    result = invoke("run")

    assert result.exit_code == 1
    assert result.stderr == "Error: The module 'app' has no attribute 'app'.\n"


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        ("text", "'things:text' is not an ASGI app: it is a str."),
        ("number", "'things:number' is not an ASGI app: it is an int."),
        ("nothing", "'things:nothing' is not an ASGI app: it is None."),
        (
            "make_app",
            "'things:make_app' is not an ASGI app: it is a function that is not async. If it "
            "makes the app, write 'things:make_app()' to call it as a factory.",
        ),
        (
            "App",
            "'things:App' is not an ASGI app: it is a class. Name an instance of it, or write "
            "'things:App()' to call it as a factory.",
        ),
        ("wsgi_app", "'things:wsgi_app' is not an ASGI app: it is a WSGIApp."),
    ],
)
def test_app_option_naming_something_else_than_an_asgi_app_says_what_it_is(
    project: Path, attribute: str, message: str
) -> None:
    write(
        project / "things.py",
        """
        from carboy import Carboy

        text = "app"
        number = 1
        nothing = None

        def make_app() -> Carboy:
            return Carboy()

        class App(Carboy):
            pass

        class WSGIApp:
            def __call__(self, environ: dict, start_response: object) -> list[bytes]:
                return []

        wsgi_app = WSGIApp()
        """,
    )

    result = invoke("run", "--app", f"things:{attribute}")

    assert result.exit_code == 1
    assert result.stderr == f"Error: {message}\n"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "factories:needs_arguments()",
            "The factory 'factories:needs_arguments' needs arguments, but "
            "'factories:needs_arguments()' calls it with none. Give its parameters defaults.",
        ),
        (
            "factories:makes_nothing()",
            "'factories:makes_nothing()' is not an ASGI app: it is None.",
        ),
        (
            "factories:number()",
            "'factories:number' is not a factory: it is an int, which cannot be called.",
        ),
    ],
)
def test_a_factory_that_cannot_make_the_app_says_why(
    project: Path, value: str, message: str
) -> None:
    write(
        project / "factories.py",
        """
        from carboy import Carboy

        number = 1

        def needs_arguments(debug: bool) -> Carboy:
            return Carboy()

        def makes_nothing() -> None:
            return None
        """,
    )

    result = invoke("run", "--app", value)

    assert result.exit_code == 1
    assert result.stderr == f"Error: {message}\n"


# run -------------------------------------------------------------------------


def test_run_serves_on_localhost_8000_without_reload_when_debug_is_off(
    project: Path, uvicorn_calls: list[Call], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "app.py", HELLO)
    monkeypatch.setenv("CARBOY_DEBUG", "0")

    result = invoke("run")

    assert result.exit_code == 0, result.output
    assert uvicorn_calls == [
        (
            ("app:app",),
            {
                "host": "127.0.0.1",
                "port": 8000,
                "factory": False,
                "reload": False,
                "reload_dirs": None,
                "proxy_headers": False,
                "server_header": False,
            },
        )
    ]


def test_run_reloads_on_changes_in_the_current_folder_when_debug_is_on(
    project: Path, uvicorn_calls: list[Call], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "app.py", HELLO)
    monkeypatch.setenv("CARBOY_DEBUG", "1")

    result = invoke("run")

    assert result.exit_code == 0, result.output
    assert uvicorn_calls == [
        (
            ("app:app",),
            {
                "host": "127.0.0.1",
                "port": 8000,
                "factory": False,
                "reload": True,
                "reload_dirs": [str(project)],
                "proxy_headers": False,
                "server_header": False,
            },
        )
    ]


def test_run_reloads_when_the_apps_own_settings_say_debug(
    project: Path, uvicorn_calls: list[Call]
) -> None:
    write(
        project / "app.py",
        """
        from carboy import Carboy
        from carboy.config import Settings

        app = Carboy(settings=Settings(debug=True))
        """,
    )

    result = invoke("run")

    assert result.exit_code == 0, result.output
    assert uvicorn_calls[0][1]["reload"] is True


def test_run_no_reload_option_turns_reload_off_in_debug(
    project: Path, uvicorn_calls: list[Call], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "app.py", HELLO)
    monkeypatch.setenv("CARBOY_DEBUG", "1")

    result = invoke("run", "--no-reload")

    assert result.exit_code == 0, result.output
    assert uvicorn_calls == [run_call("app:app", reload=False)]


def test_run_turns_debug_on_by_default_for_development(
    project: Path, uvicorn_calls: list[Call]
) -> None:
    write(project / "app.py", HELLO)

    result = invoke("run")

    assert result.exit_code == 0, result.output
    assert os.environ["CARBOY_DEBUG"] == "1"
    assert uvicorn_calls == [run_call("app:app")]


def test_run_no_debug_option_turns_debug_and_reload_off(
    project: Path, uvicorn_calls: list[Call]
) -> None:
    write(project / "app.py", HELLO)

    result = invoke("run", "--no-debug")

    assert result.exit_code == 0, result.output
    assert os.environ["CARBOY_DEBUG"] == "0"
    assert uvicorn_calls == [run_call("app:app", reload=False)]


def test_run_passes_host_port_and_reload_options_to_uvicorn(
    project: Path, uvicorn_calls: list[Call]
) -> None:
    write(project / "app.py", HELLO)

    result = invoke("run", "--host", "0.0.0.0", "--port", "5000", "--reload")

    assert result.exit_code == 0, result.output
    assert uvicorn_calls == [
        (
            ("app:app",),
            {
                "host": "0.0.0.0",
                "port": 5000,
                "factory": False,
                "reload": True,
                "reload_dirs": [str(project)],
                "proxy_headers": False,
                "server_header": False,
            },
        )
    ]


def test_run_serves_the_app_over_http_for_real(project: Path) -> None:
    write(project / "served.py", HELLO)
    port = free_port()
    script = Path(sys.executable).with_name("carboy")
    log_path = project / "server.log"

    with (
        log_path.open("wb") as log,
        subprocess.Popen(
            [str(script), "run", "--app", "served:app", "--port", str(port)],
            cwd=project,
            stdout=log,
            stderr=subprocess.STDOUT,
        ) as server,
    ):
        try:
            response = wait_for_answer(f"http://127.0.0.1:{port}/", server, log_path)
        finally:
            server.terminate()
            server.wait(timeout=10)

    assert response.status_code == 200
    assert response.json() == {"message": "Hello, World!"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_answer(url: str, server: subprocess.Popen[bytes], log_path: Path) -> httpx.Response:
    deadline = time.monotonic() + 15
    while True:
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"The server did not answer {url}:\n{log_path.read_text()}")
            time.sleep(0.1)


# serve -----------------------------------------------------------------------


def test_serve_runs_one_uvicorn_worker_per_cpu_on_localhost_by_default(
    project: Path, uvicorn_calls: list[Call], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "app.py", HELLO)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 3)

    result = invoke("serve")

    assert result.exit_code == 0, result.output
    assert uvicorn_calls == [
        (
            ("app:app",),
            {
                "host": "127.0.0.1",
                "port": 8000,
                "workers": 3,
                "factory": False,
                "log_level": "info",
                "access_log": True,
                "proxy_headers": False,
                "server_header": False,
            },
        )
    ]


def test_serve_passes_its_options_to_uvicorn(
    project: Path, uvicorn_calls: list[Call], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CARBOY_TRUSTED_PROXIES", raising=False)
    write(
        project / "factory.py",
        """
        from carboy import Carboy

        def create_app() -> Carboy:
            return Carboy()
        """,
    )

    result = invoke(
        "serve",
        "--app",
        "factory:create_app()",
        "--host",
        "0.0.0.0",
        "--port",
        "9000",
        "--workers",
        "4",
        "--trusted-proxies",
        "10.0.0.1, 10.0.0.0/8",
        "--log-level",
        "warning",
        "--no-access-log",
    )

    assert result.exit_code == 0, result.output
    assert uvicorn_calls == [
        (
            ("factory:create_app",),
            {
                "host": "0.0.0.0",
                "port": 9000,
                "workers": 4,
                "factory": True,
                "log_level": "warning",
                "access_log": False,
                "proxy_headers": False,
                "server_header": False,
            },
        )
    ]
    assert os.environ["CARBOY_TRUSTED_PROXIES"] == '["10.0.0.1", "10.0.0.0/8"]'


def test_serve_with_granian_when_it_is_not_installed_names_the_extra(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "app.py", HELLO)
    monkeypatch.setitem(sys.modules, "granian", None)

    result = invoke("serve", "--server", "granian")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: The granian server is not installed. Install it with "
        "pip install 'carboy[granian]', or serve with --server uvicorn.\n"
    )


def test_serve_with_granian_runs_granian_with_the_options(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "app.py", HELLO)
    servers = install_fake_granian(monkeypatch)

    result = invoke("serve", "--server", "granian", "--workers", "2", "--port", "9000")

    assert result.exit_code == 0, result.output
    assert servers == [
        (
            ("app:app",),
            {
                "address": "127.0.0.1",
                "port": 9000,
                "interface": "asgi",
                "workers": 2,
                "factory": False,
                "log_level": "level info",
                "log_access": True,
            },
            "served",
        )
    ]


def install_fake_granian(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Stand in for granian's modules; record each server made and whether it served."""
    servers: list[Any] = []

    class Granian:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.record = [args, kwargs, "made"]
            servers.append(self.record)

        def serve(self) -> None:
            self.record[2] = "served"
            servers[-1] = tuple(self.record)

    granian = types.ModuleType("granian")
    granian.Granian = Granian  # type: ignore[attr-defined]
    constants = types.ModuleType("granian.constants")
    constants.Interfaces = types.SimpleNamespace(ASGI="asgi")  # type: ignore[attr-defined]
    log = types.ModuleType("granian.log")
    log.LogLevels = lambda level: f"level {level}"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "granian", granian)
    monkeypatch.setitem(sys.modules, "granian.constants", constants)
    monkeypatch.setitem(sys.modules, "granian.log", log)
    return servers


# routes ----------------------------------------------------------------------


def test_routes_prints_every_route_sorted_by_path_in_aligned_columns(project: Path) -> None:
    write(
        project / "site_routes.py",
        """
        from carboy import Carboy, OpenAPIConfig, Router, WebSocket

        app = Carboy(openapi=OpenAPIConfig(openapi_url=None))
        api = Router(prefix="/api", name="api")
        v1 = Router(prefix="/v1", name="v1")

        @app.get("/")
        def home() -> str:
            return "home"

        @app.route("/items", methods=["GET", "POST"])
        async def items() -> list[str]:
            return []

        @app.route("/items", methods=["DELETE"], name="clear_items")
        async def clear() -> None:
            return None

        @app.route("/ping", methods=["HEAD"])
        async def ping() -> None:
            return None

        @app.websocket("/ws")
        async def chat(websocket: WebSocket) -> None:
            await websocket.accept()

        @api.get("/")
        async def index() -> str:
            return "api"

        @v1.get("/users/{id:int}")
        async def user(id: int) -> dict[str, int]:
            return {"id": id}

        async def legacy(scope: object, receive: object, send: object) -> None:
            return None

        api.include_router(v1)
        app.include_router(api)
        app.mount("/legacy", legacy, name="legacy")
        app.mount("/sub", Carboy())
        """,
    )

    result = invoke("routes", "--app", "site_routes:app")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Methods    Path                    Name         Handler",
        "---------  ----------------------  -----------  ------------------",
        "GET        /                       home         site_routes.home",
        "GET        /api                    api:index    site_routes.index",
        "GET        /api/v1/users/{id:int}  api:v1:user  site_routes.user",
        "DELETE     /items                  clear_items  site_routes.clear",
        "GET, POST  /items                  items        site_routes.items",
        "MOUNT      /legacy                 legacy       site_routes.legacy",
        "HEAD       /ping                   ping         site_routes.ping",
        "MOUNT      /sub                                 carboy.app.Carboy",
        "WS         /ws                     chat         site_routes.chat",
    ]


def test_routes_of_an_app_without_routes_says_so(project: Path) -> None:
    write(
        project / "app.py",
        "from carboy import Carboy, OpenAPIConfig\n\n"
        "app = Carboy(openapi=OpenAPIConfig(openapi_url=None))\n",
    )

    result = invoke("routes")

    assert result.exit_code == 0, result.output
    assert result.stdout == "The app has no routes.\n"


def test_routes_lists_the_api_document_and_docs_page_of_a_default_app(project: Path) -> None:
    write(project / "app.py", "from carboy import Carboy\n\napp = Carboy()\n")

    result = invoke("routes")

    assert result.exit_code == 0, result.output
    assert [line.split()[:3] for line in result.stdout.splitlines()[2:]] == [
        ["GET", "/docs", "docs"],
        ["GET", "/docs/assets/{name}", "docs_asset"],
        ["GET", "/openapi.json", "openapi"],
    ]


def test_routes_of_an_asgi_app_that_is_not_a_carboy_app_says_it_has_none(project: Path) -> None:
    write(
        project / "plain.py",
        """
        async def app(scope: object, receive: object, send: object) -> None:
            return None
        """,
    )

    result = invoke("routes", "--app", "plain:app")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: 'plain:app' is a function, not a carboy app, so it has no routes to list.\n"
    )


# collectstatic ------------------------------------------------------------------


def test_collectstatic_copies_the_static_files_and_says_where(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "app.py", HELLO)
    write(project / "static" / "css" / "site.css", "body {}")
    write(project / "static" / "app.js", "export {};")
    monkeypatch.setenv("CARBOY_STATIC_ROOT", "collected")

    result = invoke("collectstatic")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"Copied 2 files to {project / 'collected'}; manifest written.\n"
    manifest = json.loads((project / "collected" / "staticfiles.json").read_text())
    assert sorted(manifest["paths"]) == ["app.js", "css/site.css"]
    assert (project / "collected" / manifest["paths"]["css/site.css"]).read_text() == "body {}"


def test_collectstatic_of_one_file_says_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "app.py", HELLO)
    write(project / "static" / "site.css", "body {}")
    monkeypatch.setenv("CARBOY_STATIC_ROOT", str(project / "out"))

    result = invoke("collectstatic")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"Copied 1 file to {project / 'out'}; manifest written.\n"


def test_collectstatic_uses_the_settings_the_app_was_given(project: Path) -> None:
    write(
        project / "site_static.py",
        """
        from carboy import Carboy
        from carboy.config import Settings

        app = Carboy(settings=Settings(static_dirs=["assets"], static_root="public"))
        """,
    )
    write(project / "assets" / "logo.svg", "<svg/>")

    result = invoke("collectstatic", "--app", "site_static:app")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"Copied 1 file to {project / 'public'}; manifest written.\n"


def test_collectstatic_without_a_static_root_names_the_variable_to_set(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "app.py", HELLO)
    write(project / "static" / "site.css", "body {}")
    monkeypatch.delenv("CARBOY_STATIC_ROOT", raising=False)

    result = invoke("collectstatic")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: The static_root setting is not set, so there is no folder to collect static "
        "files into. Set CARBOY_STATIC_ROOT to one, such as "
        "CARBOY_STATIC_ROOT=/srv/site/static.\n"
    )


def test_collectstatic_of_an_asgi_app_that_is_not_a_carboy_app_says_it_has_none(
    project: Path,
) -> None:
    write(
        project / "plain.py",
        """
        async def app(scope: object, receive: object, send: object) -> None:
            return None
        """,
    )

    result = invoke("collectstatic", "--app", "plain:app")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: 'plain:app' is a function, not a carboy app, so it has no static files to "
        "collect.\n"
    )


# Commands of other packages -------------------------------------------------------

hello_command = click.Command(
    "hello", callback=lambda: click.echo("Hello from a package."), help="Say hello."
)
NOT_A_COMMAND = "hello"


def register(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    """Make ``name = value`` the one entry point of the carboy.commands group."""
    entry_point = EntryPoint(name=name, value=value, group="carboy.commands")
    monkeypatch.setattr(cli, "entry_points", lambda group: [entry_point])


def test_help_lists_the_db_command_of_the_database_battery() -> None:
    result = invoke("--help")

    assert result.exit_code == 0
    # The description column is as wide as the longest command name, which
    # other batteries' commands (createsuperuser) set.
    rows = [line.split(None, 1) for line in result.stdout.splitlines() if line.startswith("  db ")]
    assert rows == [["db", "Migrate the database, and dump and load its rows."]]


def test_a_command_registered_as_an_entry_point_is_listed_and_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    register(monkeypatch, "hello", "tests.test_cli:hello_command")

    listed = invoke("--help")
    ran = invoke("hello")

    assert "  hello          Say hello.\n" in listed.stdout
    assert ran.exit_code == 0
    assert ran.stdout == "Hello from a package.\n"


def test_a_core_command_wins_over_an_entry_point_of_the_same_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    register(monkeypatch, "routes", "tests.test_cli:hello_command")

    with click.Context(main) as ctx:
        command = main.get_command(ctx, "routes")

    assert command is cli.routes


def test_an_entry_point_that_cannot_be_imported_is_listed_and_says_why_when_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    register(monkeypatch, "broken", "tests.nowhere:command")

    listed = invoke("--help")
    ran = invoke("broken", "--any", "thing")

    assert "  broken         Not available: run it to see why.\n" in listed.stdout
    assert ran.exit_code == 1
    assert ran.stderr == (
        "Error: The command 'broken' is not available: the entry point broken = "
        "'tests.nowhere:command' (carboy.commands) failed to load: No module named "
        "'tests.nowhere'\n"
    )


def test_an_entry_point_that_is_not_a_click_command_says_so_when_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    register(monkeypatch, "hello", "tests.test_cli:NOT_A_COMMAND")

    result = invoke("hello")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: The command 'hello' is not available: the entry point hello = "
        "'tests.test_cli:NOT_A_COMMAND' (carboy.commands) is a str, not a click command. "
        "Point it at a click command or group.\n"
    )


def test_a_core_command_loads_no_battery() -> None:
    code = (
        "import sys\n"
        "from carboy.cli import main\n"
        "main(['routes', '--help'], standalone_mode=False)\n"
        "print(sorted(name for name in sys.modules if name.startswith('carboy.db')))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.splitlines()[-1] == "[]"


# shell ------------------------------------------------------------------------

GREETER = """
    from carboy import Carboy


    class Greeter:
        name = "greeter"
        requires = ()

        def __init__(self, fails: bool = False) -> None:
            self.fails = fails

        def init_app(self, app: Carboy) -> None:
            pass

        def shell_context(self) -> dict[str, object]:
            if self.fails:
                raise RuntimeError("the greeting is not ready")
            return {"greeting": "hello", "app": "not the app"}


    class Quiet:
        name = "quiet"
        requires = ()

        def init_app(self, app: Carboy) -> None:
            pass


    app = Carboy(extensions=[Quiet(), Greeter()])
    failing = Carboy(extensions=[Greeter(fails=True)])
"""


def test_shell_starts_python_with_the_app_and_the_names_extensions_offer(
    project: Path,
) -> None:
    write(project / "app.py", GREETER)
    python = ".".join(str(part) for part in sys.version_info[:3])

    result = CliRunner().invoke(
        main, ["shell", "--plain"], input="print(greeting, type(app).__name__)\n"
    )

    assert result.exit_code == 0
    # The banner, then the new line Python's shell writes at the end of the input.
    assert result.stderr == (
        f"carboy {__version__} shell, Python {python}. Names: app, greeting.\n\n"
    )
    assert result.stdout == ">>> hello Carboy\n>>> "


def test_shell_command_option_runs_the_code_and_exits(project: Path) -> None:
    write(project / "app.py", GREETER)

    result = invoke("shell", "-c", "print(sorted(app.extensions), greeting)")

    assert result.exit_code == 0
    assert result.stdout == "['greeter', 'quiet'] hello\n"


def test_shell_offers_the_database_session_and_models(project: Path) -> None:
    write(
        project / "app.py",
        """
        from carboy import Carboy
        from carboy.db import Database

        app = Carboy(extensions=[Database("sqlite://")])
        """,
    )
    code = (
        "print(type(db).__name__, type(session).__name__, select.__name__)\n"
        "print(session.scalar(select(1)))\n"
    )

    result = invoke("shell", "-c", code)

    assert result.exit_code == 0
    assert result.stdout == "Database CarboySession select\n1\n"


def test_shell_names_the_extension_whose_names_fail(project: Path) -> None:
    write(project / "app.py", GREETER)

    result = invoke("shell", "--app", "app:failing", "-c", "pass")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: The extension 'greeter' failed to give the shell its names: RuntimeError: the "
        "greeting is not ready\n"
    )
