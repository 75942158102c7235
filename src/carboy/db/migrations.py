"""Migrations: carboy's glue to Alembic, which writes and runs them.

carboy builds Alembic's configuration in memory from the app's ``Database``,
so a project needs no ``alembic.ini``: the migrations folder is
``Database(migrations=...)``, the engine is the database's sync engine, and
the models compared against the database are ``Database(metadata=...)``.
The ``env.py`` that ``carboy db init`` writes reads all of it from here::

    carboy db init                              # migrations/ with env.py
    carboy db makemigrations -m "add posts"     # autogenerate a migration
    carboy db migrate                           # upgrade to the latest

Each function here backs one ``carboy db`` command and raises
``MigrationError`` with a message for the user when it cannot do its work.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy.exc import CompileError, DBAPIError

from carboy.db._changes import Drop, describe, drops
from carboy.db._timeouts import lift_statement_timeout
from carboy.db._urls import scrub
from carboy.db.batteries import BatteryMigrations, installed_migrations
from carboy.db.exceptions import MigrationError
from carboy.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from alembic.autogenerate.api import AutogenContext
    from alembic.operations.ops import MigrationScript
    from alembic.runtime.migration import MigrationInfo
    from alembic.script import Script
    from sqlalchemy.engine import Connection

    from carboy.db._renames import Renames
    from carboy.db.extension import Database

__all__ = [
    "alembic_config",
    "batteries",
    "battery_folder",
    "configure_options",
    "connect",
    "current",
    "database_from",
    "differences",
    "downgrade",
    "folder",
    "history",
    "init",
    "make",
    "sql",
    "upgrade",
]

DATABASE_KEY = "carboy.database"
"""The key of ``Config.attributes`` that holds the app's ``Database``."""

_DIRECTIVES_KEY = "carboy.process_revision_directives"
_ON_APPLY_KEY = "carboy.on_version_apply"

# The date first, so that a folder listing shows migrations by the day they were written.
_FILE_TEMPLATE = "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s"

OnApply = Callable[[str], None]


# Configuration ----------------------------------------------------------------


def folder(database: Database) -> Path:
    """Return the migrations folder of ``database``, as an absolute path."""
    return Path.cwd() / database.migrations


def batteries(database: Database) -> list[BatteryMigrations]:
    """Return the migrations of the batteries installed beside ``database``, in app order."""
    try:
        app = database.app
    except ImproperlyConfigured:
        return []
    return list(installed_migrations(app.extensions.values()))


def battery_folder(battery: BatteryMigrations) -> Path:
    """Return the folder of ``battery``'s migrations, as a path on disk.

    Raises:
        MigrationError: when the battery's package or its folder cannot be found.
    """
    try:
        root = resources.files(battery.package)
    except ModuleNotFoundError:
        root = None
    path = Path(str(root / battery.folder)) if root is not None else None
    if path is None or not path.is_dir():
        raise MigrationError(
            f"The migrations of the battery {battery.branch!r} are not in the folder "
            f"{battery.folder!r} of the package {battery.package}. Reinstall the package "
            "that holds the battery; its migrations ship inside it."
        )
    return path


def alembic_config(
    database: Database, *, stdout: TextIO | None = None, quiet: bool = False
) -> Config:
    """Build Alembic's configuration for ``database``, in memory.

    Args:
        database: The app's database; ``env.py`` gets it back from the
            configuration's attributes.
        stdout: Where Alembic's commands print; a new buffer by default.
        quiet: Keep Alembic from printing its progress to the terminal.
    """
    config = Config(
        stdout=stdout or io.StringIO(),
        output_buffer=stdout or io.StringIO(),
        cmd_opts=argparse.Namespace(quiet=quiet),
    )
    # set_main_option interpolates %-signs, which a path may hold.
    config.set_main_option("script_location", _escape(folder(database)))
    # One folder a line: a path may hold the separator of the other choices.
    config.set_main_option("path_separator", "newline")
    locations = [folder(database) / "versions"]
    locations += [battery_folder(battery) for battery in batteries(database)]
    config.set_main_option("version_locations", "\n".join(map(_escape, locations)))
    config.set_main_option("file_template", _FILE_TEMPLATE)
    config.attributes[DATABASE_KEY] = database
    return config


def _escape(path: Path) -> str:
    return str(path).replace("%", "%%")


def database_from(config: Config) -> Database:
    """Return the ``Database`` that ``carboy db`` put in Alembic's ``config``.

    Raises:
        MigrationError: when Alembic runs ``env.py`` without carboy, as
            the ``alembic`` command does.
    """
    from carboy.db.extension import Database

    database = config.attributes.get(DATABASE_KEY)
    if not isinstance(database, Database):
        raise MigrationError(
            "This env.py gets the app's database from carboy, and was run without it. "
            "Run the migrations with 'carboy db ...' instead of 'alembic ...'."
        )
    return database


def configure_options(config: Config, database: Database) -> dict[str, Any]:
    """Return the options ``env.py`` passes to Alembic's ``context.configure``.

    The models compared against the database are ``database.metadata``,
    less the tables of the installed batteries, which their own migrations
    create and change; column types are compared; SQLite gets batch
    operations, which copy a table to change it since SQLite cannot alter
    most of a table in place.
    """
    options: dict[str, Any] = {
        "target_metadata": database.metadata,
        "compare_type": True,
        "render_as_batch": database.urls.backend == "sqlite",
        "render_item": _render_item,
    }
    owned = frozenset().union(*(battery.tables for battery in batteries(database)))
    if owned:
        options["include_object"] = _leave_out(owned)
    for key, option in (
        (_DIRECTIVES_KEY, "process_revision_directives"),
        (_ON_APPLY_KEY, "on_version_apply"),
    ):
        if key in config.attributes:
            options[option] = config.attributes[key]
    return options


def _leave_out(tables: frozenset[str]) -> Callable[..., bool]:
    def include_object(
        item: Any, name: str | None, kind: str, reflected: bool, compare_to: Any
    ) -> bool:
        # A table left out takes its columns, indexes and constraints with it.
        return not (kind == "table" and name in tables)

    return include_object


def _render_item(kind: str, item: Any, context: AutogenContext) -> Literal[False]:
    # Alembic writes a column type of another module as `module.Type(...)`
    # without importing the module; add the import (carboy.db.types for
    # UTCDateTime), then let Alembic render the item as it would.
    if kind == "type":
        module = type(item).__module__
        if not module.startswith("sqlalchemy."):
            context.imports.add(f"import {module}")
    return False


@contextmanager
def connect(database: Database) -> Iterator[Connection]:
    """Open the connection that migrations run on.

    On SQLite, foreign keys are not enforced while migrations run: a batch
    operation rebuilds a table by dropping it, and with foreign keys on,
    dropping a table deletes the rows that refer to it (and cascades).

    Raises:
        MigrationError: when the database does not answer; the message
            never shows its password.
    """
    try:
        connection = database.engine.connect()
    except ImproperlyConfigured as exc:
        raise MigrationError(str(exc)) from None
    except CompileError as exc:
        raise MigrationError(
            f"A migration cannot be written as SQL for {database.urls.backend}: {exc}. Fix the "
            "model (and the migration made from it), then run it again."
        ) from None
    except DBAPIError as exc:
        raise _unreachable(database, exc) from None
    is_sqlite = database.urls.backend == "sqlite"
    is_lifted = False
    try:
        if is_sqlite:
            _sqlite_foreign_keys(connection, on=False)
        elif database.statement_timeout > 0:
            # A migration may rightly run longer than a request's statement.
            is_lifted = lift_statement_timeout(connection)
        yield connection
    finally:
        try:
            if is_sqlite:
                # Outside any transaction, or the pragma would do nothing and
                # the pooled connection would go back without foreign keys.
                if connection.in_transaction():
                    connection.rollback()
                _sqlite_foreign_keys(connection, on=True)
            elif is_lifted:
                # Not back to the pool without its statement timeout.
                connection.invalidate()
        finally:
            connection.close()


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    # Straight to the driver: the pragma does nothing inside a transaction,
    # and SQLAlchemy would begin one for a statement.
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


def _unreachable(database: Database, exc: DBAPIError) -> MigrationError:
    urls = database.urls
    original = exc.orig if exc.orig is not None else exc
    reason = scrub(str(original), urls.sync).strip().rstrip(".")
    return MigrationError(
        f"Could not connect to the database at {urls.safe()} ({urls.source}): "
        f"{type(original).__name__}: {reason}. Check the setting, and that the server runs "
        "and accepts these credentials."
    )


# Commands ---------------------------------------------------------------------


def init(database: Database) -> Path:
    """Create the migrations folder, with carboy's ``env.py`` and migration template.

    Returns:
        The folder created.

    Raises:
        MigrationError: when the folder exists already.
    """
    target = folder(database)
    if target.exists():
        raise MigrationError(
            f"The migrations folder {target} exists already. Keep using it, or point "
            "Database(migrations=...) at a folder that does not exist yet."
        )
    template = resources.files("carboy.db") / "templates" / "migrations"
    (target / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako", "README"):
        with resources.as_file(template / name) as source:
            shutil.copyfile(source, target / name)
    return target


def make(
    database: Database,
    message: str,
    *,
    renames: Renames | None = None,
    empty: bool = False,
    on_drops: Callable[[list[Drop]], None] | None = None,
) -> Path | None:
    """Write a migration from the differences between the models and the database.

    Args:
        database: The app's database, migrated to the latest migration.
        message: What the migration does; its file is named after it.
        renames: Decides which dropped-and-added columns and tables are
            renames; by default none is.
        empty: Write a migration with no operations, to fill by hand,
            without comparing anything.
        on_drops: Called with the columns and tables the migration drops,
            and so the data it would destroy, before the file is written.

    Returns:
        The migration's file, or ``None`` when nothing changed.

    Raises:
        MigrationError: when there is no migrations folder, the database is
            not at the latest migration or cannot be reached, or a rename
            given does not match the changes.
    """
    config = _config(database, quiet=True)
    placed = _run(database, _on_app_branch, config, database)
    if empty:
        script = _run(database, command.revision, config, message=message, **placed)
        return _formatted(_path(script))
    from carboy.db._renames import Renames

    hook = renames if renames is not None else Renames()

    def directives(
        context: MigrationContext, revision: Any, scripts: list[MigrationScript]
    ) -> None:
        hook(context, revision, scripts)
        if all(script.upgrade_ops is None or script.upgrade_ops.is_empty() for script in scripts):
            scripts[:] = []
        dropped = [
            drop for script in scripts for each in script.upgrade_ops_list for drop in drops(each)
        ]
        if dropped and on_drops is not None:
            on_drops(dropped)

    config.attributes[_DIRECTIVES_KEY] = directives
    script = _run(database, command.revision, config, message=message, autogenerate=True, **placed)
    return _formatted(_path(script))


def differences(database: Database) -> list[str]:
    """Compare the models with the database, which must be at the latest migration.

    Returns:
        A line for each change a new migration would hold, such as
        ``add column post.content``; empty when the migrations match the
        models. Nothing is written.

    Raises:
        MigrationError: as ``make`` does.
    """
    config = _config(database, quiet=True)
    placed = _run(database, _on_app_branch, config, database)
    found: list[str] = []

    def directives(
        context: MigrationContext, revision: Any, scripts: list[MigrationScript]
    ) -> None:
        found.extend(
            line
            for script in scripts
            for each in script.upgrade_ops_list
            for line in describe(each)
        )
        scripts[:] = []

    config.attributes[_DIRECTIVES_KEY] = directives
    _run(database, command.revision, config, message="check", autogenerate=True, **placed)
    return found


def _formatted(path: Path | None) -> Path | None:
    """Run ruff over a migration Alembic wrote, when ruff is installed; return its path.

    Autogenerated code has long lines and unsorted imports that a project's
    linter would flag: ruff sorts the imports and formats
    the file with the project's own settings. Without ruff the file is left
    as Alembic writes it. (Alembic's own post-write hooks would announce
    themselves on stdout, in the middle of carboy's output.)
    """
    import subprocess
    import sys
    from importlib.util import find_spec

    if path is None or find_spec("ruff") is None:
        return path
    for options in (["check", "--fix", "--select", "I"], ["format"]):
        subprocess.run(
            [sys.executable, "-m", "ruff", *options, "--quiet", str(path)],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return path


def upgrade(database: Database, revision: str = "head", *, on_apply: OnApply | None = None) -> int:
    """Apply the migrations up to ``revision``; return how many were applied.

    ``head`` is the latest of every branch: the app's and each battery's.
    """
    return _step(database, command.upgrade, _every_head(revision), on_apply)


def downgrade(database: Database, revision: str = "-1", *, on_apply: OnApply | None = None) -> int:
    """Revert the migrations down to ``revision``; return how many were reverted.

    A relative ``revision`` (``-1``, ``-2``) counts the app's own
    migrations, never a battery's; ``auth@-1`` or ``auth@base`` reverts
    those of a battery (and the app's that depend on them).
    """
    if re.fullmatch(r"-\d+", revision):
        revision = _run(database, _on_app_branch_from, database, revision)
    return _step(database, command.downgrade, revision, on_apply)


def history(database: Database, *, verbose: bool = False) -> str:
    """Return the list of migrations, newest first, as Alembic prints it."""
    output = io.StringIO()
    config = _config(database, stdout=output)
    _run(database, command.history, config, verbose=verbose)
    return output.getvalue()


def current(database: Database) -> str:
    """Return the migration the database is at, as Alembic prints it; empty for none."""
    output = io.StringIO()
    config = _config(database, stdout=output)
    _run(database, command.current, config)
    return output.getvalue()


def sql(database: Database, revision_range: str = "head") -> str:
    """Return the SQL of the upgrade ``revision_range`` (``base:head``), without running it."""
    output = io.StringIO()
    config = _config(database, stdout=output)
    start, colon, end = revision_range.rpartition(":")
    _run(database, command.upgrade, config, f"{start}{colon}{_every_head(end)}", sql=True)
    return output.getvalue()


def _step(
    database: Database,
    step: Callable[..., None],
    revision: str,
    on_apply: OnApply | None,
) -> int:
    config = _config(database)
    applied: list[str] = []

    def record(*, step: MigrationInfo, **_: Any) -> None:
        # A Script at run time, whose doc is the migration's message.
        doc = getattr(step.up_revision, "doc", None)
        name = f"{step.up_revision_id} ({doc})" if doc else str(step.up_revision_id)
        applied.append(name)
        if on_apply is not None:
            on_apply(name)

    config.attributes[_ON_APPLY_KEY] = record
    _run(database, step, config, revision)
    return len(applied)


# Branches ---------------------------------------------------------------------
#
# The app's migrations and each battery's are branches of one history, each
# with a base of its own; a battery's first migration carries its branch
# label. A migration is the app's when its file is in the app's versions
# folder, so that apps whose migrations predate the batteries need no label.


def _every_head(revision: str) -> str:
    # "head" is ambiguous once there are several branches; "heads" is the
    # latest of each, and the same as "head" when there is one.
    return "heads" if revision == "head" else revision


def _app_revisions(
    scripts: ScriptDirectory, database: Database, revisions: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Split ``revisions`` into the app's, and the batteries'."""
    versions = (folder(database) / "versions").resolve()
    app: list[str] = []
    others: list[str] = []
    for revision in revisions:
        script = scripts.get_revision(revision)
        is_app = script is not None and Path(script.path).parent.resolve() == versions
        (app if is_app else others).append(revision)
    return app, others


def _ancestors(scripts: ScriptDirectory, revision: str) -> set[str]:
    """``revision`` and every migration it follows or depends on, directly or not."""
    seen: set[str] = set()
    waiting = [revision]
    while waiting:
        current = waiting.pop()
        script = scripts.get_revision(current)
        if script is None or script.revision in seen:
            continue
        seen.add(script.revision)
        waiting.extend(_tuple(script.down_revision))
        # A dependency may be a branch label: get_revision resolves it.
        waiting.extend(
            found.revision
            for name in _tuple(script.dependencies)
            if (found := scripts.get_revision(name)) is not None
        )
    return seen


def _tuple(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _on_app_branch(config: Config, database: Database) -> dict[str, Any]:
    """The arguments of Alembic's ``revision`` that put a new migration on the app's branch.

    The migration follows the app's head, or starts the app's branch; goes
    to the app's versions folder; and depends on the batteries' heads that
    the app's branch does not depend on yet, so that a table of the app may
    refer to a battery's table: the battery's migration runs first.
    """
    scripts = ScriptDirectory.from_config(config)
    app_heads, battery_heads = _app_revisions(scripts, database, scripts.get_heads())
    if len(app_heads) > 1:
        raise MigrationError(
            f"The app's migrations have {len(app_heads)} heads ({', '.join(app_heads)}), so a "
            "new migration has no single one to follow. Merge them: write a migration whose "
            "down_revision is the tuple of those heads."
        )
    reached = _ancestors(scripts, app_heads[0]) if app_heads else set()
    depends_on = [head for head in battery_heads if head not in reached]
    return {
        "head": app_heads[0] if app_heads else "base",
        "version_path": str(folder(database) / "versions"),
        "depends_on": depends_on or None,
    }


def _on_app_branch_from(database: Database, steps: str) -> str:
    """Turn ``-N`` into the downgrade of the app's branch by N, batteries left alone."""
    if not batteries(database):
        return steps
    scripts = ScriptDirectory.from_config(_config(database))
    with connect(database) as connection:
        applied = MigrationContext.configure(connection).get_current_heads()
    on_app, _ = _app_revisions(scripts, database, applied)
    if not on_app:
        raise MigrationError(
            _command_message(f"Relative revision {steps} didn't produce {steps[1:]} migrations")
        )
    if len(on_app) > 1:
        # The app's own branches, unmerged: Alembic's rules, and its warning.
        return steps
    return f"{on_app[0]}@{steps}"


def _config(
    database: Database, *, stdout: io.StringIO | None = None, quiet: bool = False
) -> Config:
    target = folder(database)
    if not (target / "env.py").is_file():
        raise MigrationError(
            f"The migrations folder {target} does not exist. Create it with "
            "'carboy db init', or point Database(migrations=...) at the folder that holds "
            "the migrations."
        )
    return alembic_config(database, stdout=stdout, quiet=quiet)


def _run(database: Database, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, **kwargs)
    except (CommandError, RevisionError) as exc:
        raise MigrationError(_command_message(str(exc))) from None
    except ImproperlyConfigured as exc:
        raise MigrationError(str(exc)) from None
    except CompileError as exc:
        raise MigrationError(
            f"A migration cannot be written as SQL for {database.urls.backend}: {exc}. Fix the "
            "model (and the migration made from it), then run it again."
        ) from None
    except DBAPIError as exc:
        urls = database.urls
        original = exc.orig if exc.orig is not None else exc
        reason = scrub(str(original), urls.sync).strip().rstrip(".")
        raise MigrationError(
            f"The database at {urls.safe()} refused a statement of the migrations: "
            f"{type(original).__name__}: {reason}. Fix the migration, or the rows it trips "
            "on, and run it again; 'carboy db current' shows the last migration applied."
        ) from None


def _command_message(message: str) -> str:
    """Alembic's message, with the carboy command that fixes the problem."""
    if message == "Target database is not up to date.":
        return (
            "The database is not at the latest migration, so the models cannot be compared "
            "with it. Run 'carboy db migrate' first."
        )
    relative = re.fullmatch(r"Relative revision (\S+) didn't produce \d+ migrations", message)
    if relative is not None:
        return (
            f"The revision {relative[1]} goes past the first or the last migration, counted "
            "from the one the database is at. 'carboy db current' shows that one; "
            "'carboy db history' lists them all."
        )
    if message.startswith("Can't locate revision identified by"):
        return f"{message}. 'carboy db history' lists the migrations."
    return message


def _path(script: Script | Sequence[Script | None] | None) -> Path | None:
    if isinstance(script, Sequence):
        script = script[0] if script else None
    return Path(script.path) if script is not None else None
