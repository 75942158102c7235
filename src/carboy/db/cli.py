"""``carboy db``: write and run migrations, and dump and load rows.

The commands work on the ``Database`` of the app that ``--app``,
``CARBOY_APP`` or ``app.py`` names, and its migrations folder
(``Database(migrations=...)``, ``migrations`` in the current folder by
default)::

    carboy db init                                  # once: migrations/ with env.py
    carboy db makemigrations -m "add posts"         # after changing the models
    carboy db makemigrations --check                # in CI: exit 1 if one is missing
    carboy db migrate                               # apply what is not applied yet
    carboy db downgrade                             # revert the last one
    carboy db dump Author Post -o seed.json         # rows as JSON
    carboy db load seed.json                        # and back, idempotently

The ``carboy`` command finds this group through the ``carboy.commands``
entry point.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import click

from carboy._discovery import find_app

if TYPE_CHECKING:
    from carboy.db._changes import Drop
    from carboy.db._renames import Unconfirmed
    from carboy.db.extension import Database

__all__ = ["db"]

F = TypeVar("F", bound=Callable[..., Any])


def _app_option(function: F) -> F:
    return click.option(
        "--app",
        "app_spec",
        metavar="MODULE:ATTR",
        help=(
            "The app whose database to use, as module:attribute, or module:factory(). "
            "Default: $CARBOY_APP, else app.py in the current folder."
        ),
    )(function)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def db() -> None:
    """Migrate the database, and dump and load its rows.

    Migrations are Alembic's, configured by carboy from the app's Database:
    'carboy db init' once, then 'carboy db makemigrations -m MESSAGE' after
    each change of the models and 'carboy db migrate' to apply it.
    """


# Migrations -------------------------------------------------------------------


@db.command()
@_app_option
@click.pass_context
def init(ctx: click.Context, app_spec: str | None) -> None:
    """Create the migrations folder.

    The folder (Database(migrations=...), migrations in the current folder
    by default) gets carboy's env.py, which runs Alembic on the app's
    database, the template of new migrations, and an empty versions folder.
    """
    from carboy.db import migrations

    database = _database(ctx, app_spec)
    with _clean_errors():
        created = migrations.init(database)
    installed = migrations.batteries(database)
    if installed:
        # Autogenerate compares the models with a database at the latest
        # migration, so the batteries' own tables must be there first.
        names = ", ".join(battery.branch for battery in installed)
        click.echo(
            f"Created the migrations folder {_show(created)}. Apply the migrations of the "
            f"batteries ({names}) with 'carboy db migrate', then write the first migration "
            "of your models with 'carboy db makemigrations -m \"initial\"'."
        )
        return
    click.echo(
        f"Created the migrations folder {_show(created)}. Write the first migration with "
        "'carboy db makemigrations -m \"initial\"'."
    )


@db.command()
@click.option(
    "-m",
    "--message",
    help="What the migration does, such as 'add posts'; its file is named after it.",
)
@click.option(
    "--rename",
    "column_renames",
    multiple=True,
    metavar="TABLE.OLD:NEW",
    callback=lambda _ctx, _param, values: _parse(values, "column"),
    help=(
        "A column that was renamed, not dropped and added, such as post.body:content "
        "(or body:content when only one table has that pair). Repeat for several."
    ),
)
@click.option(
    "--rename-table",
    "table_renames",
    multiple=True,
    metavar="OLD:NEW",
    callback=lambda _ctx, _param, values: _parse(values, "table"),
    help="A table that was renamed, not dropped and created, such as post:article.",
)
@click.option(
    "--empty",
    is_flag=True,
    help="Write a migration with no operations, to fill by hand, without comparing.",
)
@click.option(
    "--check",
    is_flag=True,
    help=(
        "Write nothing; exit 1 and list the changes when the models differ from the "
        "migrations (the database must be at the latest migration), 0 when they match. For CI."
    ),
)
@click.option(
    "--interactive/--no-interactive",
    default=None,
    help=(
        "Ask whether a column (or table) dropped while another of the same type is added "
        "was renamed. Default: ask when the input is a terminal."
    ),
)
@_app_option
@click.pass_context
def makemigrations(
    ctx: click.Context,
    message: str | None,
    column_renames: tuple[str, ...],
    table_renames: tuple[str, ...],
    empty: bool,
    check: bool,
    interactive: bool | None,
    app_spec: str | None,
) -> None:
    """Write a migration from the models' changes.

    The models are compared with the database, which must be at the latest
    migration. A column dropped while another of the same type is added to
    the same table may be a rename, which autogenerate cannot tell: carboy
    asks, or takes the answer from --rename; a rename keeps the column's
    data, a drop loses it. Tables likewise, with --rename-table. Every
    column or table the migration drops is reported before it is written.
    Read the migration before applying it.
    """
    from carboy.db import migrations
    from carboy.db._renames import Renames

    database = _database(ctx, app_spec)
    if check:
        _check(database)
        return
    if message is None:
        raise click.UsageError(
            "Missing option '-m' / '--message': say what the migration does, such as "
            '-m "add posts"; its file is named after it.'
        )
    if interactive is None:
        interactive = sys.stdin is not None and sys.stdin.isatty()
    renames = Renames(column_renames, table_renames, ask=_confirm if interactive else None)

    def warn(dropped: list[Drop]) -> None:
        for line in _loss_warnings(dropped, renames.unconfirmed):
            click.echo(line, err=True)

    with _clean_errors():
        written = migrations.make(database, message, renames=renames, empty=empty, on_drops=warn)
    if written is None:
        click.echo("No changes detected: the database matches the models.")
        return
    click.echo(f"Created {_show(written)}.")


def _check(database: Database) -> None:
    from carboy.db import migrations

    with _clean_errors():
        changes = migrations.differences(database)
    if not changes:
        click.echo("No changes detected: the migrations match the models.")
        return
    listed = "".join(f"\n  {change}" for change in changes)
    click.echo(
        f"The models differ from the migrations; a new migration would:{listed}\nWrite it "
        "with 'carboy db makemigrations -m \"...\"', read it, and commit it.",
        err=True,
    )
    ctx = click.get_current_context()
    ctx.exit(1)


def _loss_warnings(dropped: list[Drop], unconfirmed: list[Unconfirmed]) -> list[str]:
    """A warning for each column or table whose data the migration would destroy."""
    lines = []
    paired = {pair.old: pair for pair in unconfirmed}
    for drop in dropped:
        pair = paired.get(drop.name)
        if pair is not None:
            if pair.is_table:
                what = f"the table {pair.old} is dropped and {pair.new} created"
                lost = f"the rows of {pair.old}"
            else:
                what = f"{pair.old} is dropped and {pair.new} added"
                lost = f"the data in {pair.old}"
            lines.append(
                f"Warning: {what}, so {lost} will be lost. If it was renamed, delete the "
                f"migration created below and run this command again with {pair.option}."
            )
        elif drop.is_table:
            lines.append(
                f"Warning: the table {drop.name} is dropped, so its rows will be lost when "
                "the migration is applied."
            )
        else:
            lines.append(
                f"Warning: the column {drop.name} is dropped, so its data will be lost when "
                "the migration is applied."
            )
    return lines


@db.command()
@click.argument("revision", default="head")
@_app_option
@click.pass_context
def migrate(ctx: click.Context, revision: str, app_spec: str | None) -> None:
    """Apply the migrations not applied yet.

    They are applied up to REVISION: head, the latest, by default; with
    batteries that ship migrations (Auth), the latest of the app's and of
    each battery's.
    """
    from carboy.db import migrations

    database = _database(ctx, app_spec)
    with _clean_errors():
        count = migrations.upgrade(
            database, revision, on_apply=lambda name: click.echo(f"Applied {name}.")
        )
    if count == 0:
        click.echo("No migration to apply: the database is up to date.")


# -2 is a revision, not an option.
@db.command(context_settings={"ignore_unknown_options": True})
@click.argument("revision", default="-1")
@_app_option
@click.pass_context
def downgrade(ctx: click.Context, revision: str, app_spec: str | None) -> None:
    """Revert the last migration, or down to REVISION.

    REVISION is -1 (the last one applied) by default; -2 reverts two, base
    reverts them all, and a revision id reverts those applied after it.
    -1 and -2 count the app's own migrations; a battery's are reverted by
    its name: auth@-1, or auth@base for all of them (and first the app's
    migrations that depend on them).
    """
    from carboy.db import migrations

    database = _database(ctx, app_spec)
    with _clean_errors():
        count = migrations.downgrade(
            database, revision, on_apply=lambda name: click.echo(f"Reverted {name}.")
        )
    if count == 0:
        click.echo("No migration to revert.")


@db.command()
@click.option("-v", "--verbose", is_flag=True, help="Show each migration's full details.")
@_app_option
@click.pass_context
def history(ctx: click.Context, verbose: bool, app_spec: str | None) -> None:
    """List the migrations, the latest first."""
    from carboy.db import migrations

    database = _database(ctx, app_spec)
    with _clean_errors():
        listing = migrations.history(database, verbose=verbose)
    if not listing:
        click.echo("No migrations yet. Write the first with 'carboy db makemigrations -m MESSAGE'.")
        return
    click.echo(listing, nl=False)


@db.command()
@_app_option
@click.pass_context
def current(ctx: click.Context, app_spec: str | None) -> None:
    """Show the migration the database is at."""
    from carboy.db import migrations

    database = _database(ctx, app_spec)
    with _clean_errors():
        listing = migrations.current(database)
    if not listing:
        click.echo("No migration is applied to the database yet.")
        return
    click.echo(listing, nl=False)


@db.command()
@click.argument("revision_range", metavar="[RANGE]", default="head")
@_app_option
@click.pass_context
def sql(ctx: click.Context, revision_range: str, app_spec: str | None) -> None:
    """Print the SQL of migrations, not running it.

    RANGE is head (the default) or another revision, to reach from the
    first migration, or FROM:TO, such as base:head or ae10:head. For a
    database administrator to review and run.
    """
    from carboy.db import migrations

    database = _database(ctx, app_spec)
    with _clean_errors():
        script = migrations.sql(database, revision_range)
    click.echo(script, nl=False)


# Fixtures ---------------------------------------------------------------------


@db.command()
@click.argument("models", nargs=-1)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The file to write. Default: the standard output.",
)
@_app_option
@click.pass_context
def dump(
    ctx: click.Context, models: tuple[str, ...], output: Path | None, app_spec: str | None
) -> None:
    """Write rows as JSON, parents first.

    The rows are those of MODELS, model class names or table names, or of
    every table by default. 'carboy db load' reads the file back: use it to
    seed a database or to set up tests.
    """
    from carboy.db import fixtures

    database = _database(ctx, app_spec)
    with (
        _clean_errors(),
        _database_errors(database, "Dumping the rows failed"),
        database.session() as session,
    ):
        rows = fixtures.dump(session, models or None, metadata=database.metadata)
    text = json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {_rows(len(rows))} to {_show(output)}.")


@db.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_app_option
@click.pass_context
def load(ctx: click.Context, file: Path, app_spec: str | None) -> None:
    """Write the rows of a JSON fixture.

    Rows of FILE whose primary key exists are updated, the others
    inserted. Loading the same file again changes nothing, and the rows are written in
    one transaction: on an error, none is.
    """
    from carboy.db import fixtures

    database = _database(ctx, app_spec)
    try:
        rows = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        reason = (
            f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else "it is not UTF-8 text"
        )
        raise click.ClickException(
            f"{_show(file)} is not a JSON fixture: {reason}. A fixture is a list of "
            '{"model": ..., "pk": ..., "fields": {...}} objects, as \'carboy db dump\' writes.'
        ) from None
    failed = f"Loading {_show(file)} failed, and no row was written"
    with (
        _clean_errors(),
        _database_errors(database, failed),
        database.session() as session,
        session.begin(),
    ):
        count = fixtures.load(session, rows, metadata=database.metadata)
    click.echo(f"Loaded {_rows(count)} from {_show(file)}.")


# Helpers ----------------------------------------------------------------------


def _database(ctx: click.Context, app_spec: str | None) -> Database:
    """Find the app, and the Database installed in it."""
    from carboy.app import Carboy
    from carboy.db.extension import Database

    try:
        found = find_app(app_spec or ctx.find_root().params.get("app_spec"))
    except click.UsageError as exc:
        raise click.ClickException(exc.message) from None
    app = found.app
    if not isinstance(app, Carboy):
        name = type(app).__qualname__
        article = "an" if name[:1].lower() in "aeiou" else "a"
        raise click.ClickException(
            f"{found.label!r} is {article} {name}, not a carboy app, so it has no database."
        )
    database = app.extensions.get("db")
    if not isinstance(database, Database):
        raise click.ClickException(
            f"The app {found.label!r} has no database: Database is not among its extensions. "
            "Add it: Carboy(extensions=[Database()])."
        )
    # Close the pooled connections when the command ends, not when the
    # process does: a server counts a dropped connection as an error.
    ctx.call_on_close(lambda: anyio.run(database.disconnect))
    return database


@contextmanager
def _clean_errors() -> Iterator[None]:
    """Turn the errors a user can fix into a message, without a traceback."""
    from carboy.db.exceptions import FixtureError, MigrationError
    from carboy.exceptions import ImproperlyConfigured

    try:
        yield
    except (FixtureError, MigrationError, ImproperlyConfigured) as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def _database_errors(database: Database, doing: str) -> Iterator[None]:
    from sqlalchemy.exc import DBAPIError

    from carboy.db._urls import scrub

    try:
        yield
    except DBAPIError as exc:
        urls = database.urls
        original = exc.orig if exc.orig is not None else exc
        reason = scrub(str(original), urls.sync).strip()
        raise click.ClickException(
            f"{doing}, on the database at {urls.safe()} ({urls.source}): "
            f"{type(original).__name__}: {reason}"
        ) from None


def _parse(values: Sequence[str], kind: str) -> tuple[str, ...]:
    from carboy.db._renames import parse_column_rename, parse_table_rename

    for value in values:
        try:
            if kind == "column":
                parse_column_rename(value)
            else:
                parse_table_rename(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return tuple(values)


def _confirm(question: str) -> bool:
    return click.confirm(question, default=False)


def _show(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it, else absolute."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return os.fspath(path)


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"
