"""The ``carboy`` command: serve an app, list its routes, collect its static files, check it.

Every command finds the app the same way: ``--app module:attribute`` (on the
command or before it), else the ``CARBOY_APP`` environment variable, else
``app.py`` in the current folder. ``module:factory()`` calls a factory.

::

    carboy run                         # develop: 127.0.0.1:8000, debug and reload
    carboy serve --host 0.0.0.0        # production: one worker per CPU
    carboy --app mysite.web:app routes
    carboy collectstatic               # before deploying: hashed copies in static_root
    carboy check --deploy              # audit a production setup; exit status 1 on errors
    carboy shell                       # Python with the app and its extensions' names

Batteries and other packages add commands without the core importing them:
a package declares a click command in the ``carboy.commands`` entry-point
group, which is read only when the commands are listed or one of them is
run::

    [project.entry-points."carboy.commands"]
    db = "carboy.db.cli:db"
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, TypeVar

import click

from carboy.__about__ import __version__
from carboy._discovery import FoundApp, find_app

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")

COMMANDS_GROUP = "carboy.commands"
"""The entry-point group where packages register commands of ``carboy``."""


def _app_option(function: F) -> F:
    return click.option(
        "--app",
        "app_spec",
        metavar="MODULE:ATTR",
        help=(
            "The app to use, as module:attribute (such as mysite.web:app), or "
            "module:factory() to call a factory. Default: $CARBOY_APP, else app.py in "
            "the current folder."
        ),
    )(function)


def _find(ctx: click.Context, app_spec: str | None) -> FoundApp:
    """Find the app from the command's ``--app``, else the group's, else the defaults."""
    return find_app(app_spec or ctx.find_root().params.get("app_spec"))


class _Commands(click.Group):
    """The carboy group: its own commands, then the ones packages register as entry points.

    A package's command is imported only when the commands are listed
    (``carboy --help``) or it is the one run; the core's commands win over
    a package's command of the same name.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        entry_point = _plugins().get(cmd_name)
        return _load_plugin(entry_point) if entry_point is not None else None


def _plugins() -> dict[str, EntryPoint]:
    plugins: dict[str, EntryPoint] = {}
    for entry_point in entry_points(group=COMMANDS_GROUP):
        # The same distribution can be seen twice on sys.path; the first one wins.
        plugins.setdefault(entry_point.name, entry_point)
    return plugins


def _load_plugin(entry_point: EntryPoint) -> click.Command:
    origin = f"the entry point {entry_point.name} = {entry_point.value!r} ({COMMANDS_GROUP})"
    try:
        command = entry_point.load()
    except Exception as exc:
        return _unavailable(entry_point.name, f"{origin} failed to load: {exc}")
    if not isinstance(command, click.Command):
        return _unavailable(
            entry_point.name,
            f"{origin} is {_article(type(command).__qualname__)}, not a click command. "
            "Point it at a click command or group.",
        )
    return command


def _unavailable(name: str, reason: str) -> click.Command:
    """A stand-in for a command that cannot load: listed, and saying why when run."""

    def fail() -> None:
        raise click.ClickException(f"The command {name!r} is not available: {reason}")

    return click.Command(
        name,
        callback=fail,
        help=f"Not available: {reason}",
        short_help="Not available: run it to see why.",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )


@click.group(name="carboy", cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="carboy", message="%(prog)s %(version)s")
@_app_option
def main(app_spec: str | None) -> None:
    """Run, serve and inspect a carboy app."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The interface to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="The port to listen on.",
)
@click.option(
    "--debug/--no-debug",
    default=None,
    help=(
        "Run the app in debug mode (tracebacks in error pages). Default: on, unless "
        "CARBOY_DEBUG says otherwise."
    ),
)
@click.option(
    "--reload/--no-reload",
    default=None,
    help=(
        "Restart the server when a file in the current folder changes. Default: on when "
        "the app's settings.debug is true."
    ),
)
@_app_option
@click.pass_context
def run(
    ctx: click.Context,
    host: str,
    port: int,
    debug: bool | None,
    reload: bool | None,
    app_spec: str | None,
) -> None:
    """Serve the app for development, in one process on 127.0.0.1:8000.

    'carboy run' is for development: debug mode is on unless --no-debug or
    CARBOY_DEBUG=0 turns it off, and the server restarts on code changes while
    debug is on. For production, use 'carboy serve'.
    """
    import uvicorn

    # Set before the app is imported, so that its settings read it, and
    # inherited by the reloader's worker process.
    if debug is not None:
        os.environ["CARBOY_DEBUG"] = "1" if debug else "0"
    else:
        os.environ.setdefault("CARBOY_DEBUG", "1")
    found = _find(ctx, app_spec)
    if reload is None:
        reload = _is_debug(found.app)
    uvicorn.run(
        found.import_string,
        host=host,
        port=port,
        factory=found.is_factory,
        reload=reload,
        reload_dirs=[os.getcwd()] if reload else None,
        **_UVICORN_OPTIONS,
    )


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help=(
        "The interface to listen on. Use 0.0.0.0 to accept connections from other "
        "machines, as in a container or behind a load balancer on another host."
    ),
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="The port to listen on.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="The number of worker processes. Default: the number of CPUs available.",
)
@click.option(
    "--server",
    type=click.Choice(["uvicorn", "granian"]),
    default="uvicorn",
    show_default=True,
    help="The ASGI server; granian needs pip install 'carboy[granian]'.",
)
@click.option(
    "--trusted-proxies",
    metavar="IPS",
    default=None,
    help=(
        "Comma-separated addresses or networks of the reverse proxies whose "
        "X-Forwarded-For, -Proto and -Host headers are believed, or '*' for any peer. "
        "Default: the app's trusted_proxies setting ($CARBOY_TRUSTED_PROXIES), empty."
    ),
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS),
    default="info",
    show_default=True,
    help="The server's log level.",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="Log one line per request.",
)
@_app_option
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    workers: int | None,
    server: str,
    trusted_proxies: str | None,
    log_level: str,
    access_log: bool,
    app_spec: str | None,
) -> None:
    """Serve the app in production: worker processes, no reload.

    It listens on 127.0.0.1:8000 unless told otherwise: pass --host 0.0.0.0
    to accept connections from other machines. Run it behind a reverse proxy
    or load balancer, and name that proxy in --trusted-proxies (or the
    trusted_proxies setting) so that the client's address and scheme come
    through.
    """
    if trusted_proxies is not None:
        # Set before the app is imported, so that its settings read it, and
        # inherited by the worker processes.
        proxies = [entry.strip() for entry in trusted_proxies.split(",") if entry.strip()]
        os.environ["CARBOY_TRUSTED_PROXIES"] = json.dumps(proxies)
    found = _find(ctx, app_spec)
    workers = workers or _available_cpus()
    if server == "granian":
        _serve_with_granian(found, host, port, workers, log_level, access_log)
        return
    import uvicorn

    uvicorn.run(
        found.import_string,
        host=host,
        port=port,
        workers=workers,
        factory=found.is_factory,
        log_level=log_level,
        access_log=access_log,
        **_UVICORN_OPTIONS,
    )


# What carboy itself decides, whichever command starts uvicorn: the app reads
# forwarded headers from its trusted_proxies setting alone (uvicorn's own
# reading would believe any client that reaches it through 127.0.0.1), and no
# Server header names the software to an attacker.
_UVICORN_OPTIONS: dict[str, Any] = {"proxy_headers": False, "server_header": False}


def _serve_with_granian(
    found: FoundApp, host: str, port: int, workers: int, log_level: str, access_log: bool
) -> None:
    try:
        granian = importlib.import_module("granian")
        constants = importlib.import_module("granian.constants")
        log = importlib.import_module("granian.log")
    except ImportError:
        raise click.ClickException(
            "The granian server is not installed. Install it with "
            "pip install 'carboy[granian]', or serve with --server uvicorn."
        ) from None
    server = granian.Granian(
        found.import_string,
        address=host,
        port=port,
        interface=constants.Interfaces.ASGI,
        workers=workers,
        factory=found.is_factory,
        log_level=log.LogLevels(log_level),
        log_access=access_log,
    )
    server.serve()


@main.command()
@_app_option
@click.pass_context
def routes(ctx: click.Context, app_spec: str | None) -> None:
    """List the app's routes, sorted by path.

    Each row shows the methods, the path, the name and the handler. Routes of
    included routers are listed with their full path and namespaced name.
    WebSocket routes show WS as their method, mounted apps MOUNT; GET routes
    answer HEAD too, which is not listed apart.
    """
    from carboy._dispatch import iter_routes
    from carboy.routing import Router

    found = _find(ctx, app_spec)
    if not isinstance(found.app, Router):
        raise click.ClickException(
            f"{found.label!r} is {_article(type(found.app).__qualname__)}, not a carboy app, "
            "so it has no routes to list."
        )
    kinds = {"websocket": "WS", "mount": "MOUNT"}
    rows = sorted(
        (path, kinds.get(kind) or ", ".join(methods), name, handler)
        for methods, path, name, handler, kind in iter_routes(found.app)
    )
    if not rows:
        click.echo("The app has no routes.")
        return
    table = [("Methods", "Path", "Name", "Handler")]
    table += [(methods, path, name, handler) for path, methods, name, handler in rows]
    widths = [max(len(row[column]) for row in table) for column in range(4)]
    table.insert(1, tuple("-" * width for width in widths))
    for row in table:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


@main.command()
@_app_option
@click.pass_context
def collectstatic(ctx: click.Context, app_spec: str | None) -> None:
    """Copy the app's static files into static_root, with content-hashed names.

    The files come from the app's static folders, then its routers', then its
    batteries' (the first holding a path wins). Each is copied as it is and
    under a name holding a hash of its content (css/site.3f2a9c1b04de.css),
    and staticfiles.json maps one to the other. With that manifest in
    static_root, and debug off, the app serves the hashed files with a
    one-year cache. Set CARBOY_STATIC_ROOT first.
    """
    from carboy.app import Carboy
    from carboy.exceptions import ImproperlyConfigured
    from carboy.static import collect_static

    found = _find(ctx, app_spec)
    if not isinstance(found.app, Carboy):
        raise click.ClickException(
            f"{found.label!r} is {_article(type(found.app).__qualname__)}, not a carboy app, "
            "so it has no static files to collect."
        )
    try:
        count = collect_static(found.app)
    except ImproperlyConfigured as exc:
        raise click.ClickException(str(exc)) from None
    root = os.path.abspath(found.app.settings.static_root or "")
    noun = "file" if count == 1 else "files"
    click.echo(f"Copied {count} {noun} to {root}; manifest written.")


@main.command()
@click.option(
    "--deploy",
    is_flag=True,
    help=(
        "Also audit the setup of a production site: debug, the secret key, allowed hosts, "
        "HTTPS, cookies and security headers."
    ),
)
@_app_option
@click.pass_context
def check(ctx: click.Context, deploy: bool, app_spec: str | None) -> None:
    """Run the app's checks and list every problem found, errors first.

    The same checks run when the app starts, which it refuses to do while
    any reports an error. Exits with status 1 when there is an error, 0
    otherwise, so that a deployment script can stop on it.
    """
    from carboy.app import Carboy
    from carboy.checks import run_checks

    found = _find(ctx, app_spec)
    if not isinstance(found.app, Carboy):
        raise click.ClickException(
            f"{found.label!r} is {_article(type(found.app).__qualname__)}, not a carboy app, "
            "so it has no checks to run."
        )
    messages = run_checks(found.app, deploy=deploy)
    errors = [message for message in messages if message.is_error]
    warnings = [message for message in messages if not message.is_error]
    for message in errors + warnings:
        click.echo(str(message))
    counts = [
        f"{len(group)} {noun}{'' if len(group) == 1 else 's'}"
        for group, noun in ((errors, "error"), (warnings, "warning"))
        if group
    ]
    click.echo(f"System check found {' and '.join(counts) or 'no problems'}.")
    if errors:
        ctx.exit(1)


@main.command()
@click.option(
    "-c",
    "--command",
    "code",
    metavar="CODE",
    help="Run this Python code with the shell's names, then exit, instead of a prompt.",
)
@click.option(
    "--plain",
    is_flag=True,
    help="Use Python's own interactive shell even when IPython is installed.",
)
@_app_option
@click.pass_context
def shell(ctx: click.Context, code: str | None, plain: bool, app_spec: str | None) -> None:
    """Start Python with the app and its extensions' names.

    The interactive shell starts with app, the app, and the names each
    installed extension offers through its shell_context() method, such as
    db, session, select and every model with the database battery. It is
    IPython when installed, else Python's own.
    """
    found = _find(ctx, app_spec)
    names = _shell_names(found.app)
    if code is not None:
        exec(compile(code, "<carboy shell -c>", "exec"), names)
        return
    python = ".".join(str(part) for part in sys.version_info[:3])
    banner = f"carboy {__version__} shell, Python {python}. Names: {', '.join(names)}."
    if not plain:
        try:
            ipython = importlib.import_module("IPython")
        except ImportError:
            pass
        else:
            click.echo(banner)
            ipython.start_ipython(argv=[], user_ns=names, display_banner=False)
            return
    import code as interactive

    interactive.interact(banner=banner, local=names, exitmsg="")


def _shell_names(app: object) -> dict[str, Any]:
    """``app``, then what each extension's optional ``shell_context()`` returns."""
    names: dict[str, Any] = {"app": app}
    extensions = getattr(app, "extensions", None)
    if not isinstance(extensions, dict):
        return names
    for name, extension in extensions.items():
        offer = getattr(extension, "shell_context", None)
        if not callable(offer):
            continue
        try:
            offered = offer()
        except Exception as exc:
            raise click.ClickException(
                f"The extension {name!r} failed to give the shell its names: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        for key, value in offered.items():
            names.setdefault(key, value)
    return names


@main.command()
@click.argument("name")
@click.option(
    "--minimal",
    is_flag=True,
    help="A one-file app (app.py, a README and tests) with no database.",
)
def new(name: str, minimal: bool) -> None:
    """Create the project NAME in a new folder NAME of the current folder.

    By default the project has a database, sign-in and the admin, an example
    model with its first migration, templates, static files and tests.
    """
    from carboy.project_templates import ProjectError, create_project

    target = Path(name)
    try:
        create_project(name, target, minimal=minimal)
    except ProjectError as exc:
        raise click.ClickException(str(exc)) from None
    if minimal:
        steps = "pip install -e '.[dev]'\n  carboy run"
    else:
        steps = (
            "pip install -e '.[dev]'\n  carboy db migrate\n  carboy createsuperuser\n  carboy run"
        )
    click.echo(f"Created the project {name} in {target.resolve()}. Next:\n\n  cd {name}\n  {steps}")


def _is_debug(app: object) -> bool:
    from carboy.app import Carboy

    return isinstance(app, Carboy) and app.debug


def _available_cpus() -> int:
    # The CPUs this process may run on, which a container or taskset can limit.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _article(name: str) -> str:
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


if __name__ == "__main__":
    main()
