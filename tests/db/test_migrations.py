from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic.config import Config
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, inspect, make_url, text

from carboy._discovery import NO_APP_FOUND
from carboy.cli import main
from carboy.db.exceptions import MigrationError
from carboy.db.migrations import database_from
from tests._services import mysql_url, postgres_url

APP = """
from sqlalchemy import ForeignKey, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from carboy import Carboy
from carboy.db import NAMING_CONVENTION, Database


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

{models}

app = Carboy(extensions=[Database({url!r}, metadata=Base.metadata)])
"""

POST = """
class Post(Base):
    __tablename__ = "mig_post"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    {column}: Mapped[str | None] = mapped_column(Text)
"""

VIEWS = """
class Post(Base):
    __tablename__ = "mig_post"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str | None] = mapped_column(Text)
    views: Mapped[int | None]
"""

NOTE = """
class Note(Base):
    __tablename__ = "{table}"
    id: Mapped[int] = mapped_column(primary_key=True)
    {column}: Mapped[str] = mapped_column(String(50), index=True)


class Tag(Base):
    __tablename__ = "mig_tag"
    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("{table}.id", ondelete="CASCADE"))
"""

ARTICLE = """
class Article(Base):
    __tablename__ = "mig_article"
    id: Mapped[int] = mapped_column(primary_key=True)
    {column}: Mapped[str | None] = mapped_column(Text)
"""

BACKENDS = ["sqlite", "postgresql", "mysql"]


# Fixtures and helpers -------------------------------------------------------------


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A clean current folder for the app module of a test, forgotten after it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CARBOY_APP", raising=False)
    monkeypatch.delenv("CARBOY_DATABASE_URL", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


@contextmanager
def scratch_database(backend: str) -> Iterator[str]:
    """A schema (PostgreSQL) or database (MariaDB) of its own, dropped after the test.

    Autogenerate compares the models with every table it sees, so the
    migrations of a test must not see the tables of any other test.
    """
    name = f"mig_{uuid.uuid4().hex[:12]}"
    if backend == "postgresql":
        base = make_url(postgres_url()).set(drivername="postgresql+psycopg")
        url = base.update_query_dict({"options": f"-csearch_path={name}"})
        create, drop = f'CREATE SCHEMA "{name}"', f'DROP SCHEMA IF EXISTS "{name}" CASCADE'
    else:
        base = make_url(mysql_url()).set(drivername="mysql+pymysql")
        url = base.set(database=name)
        create, drop = f"CREATE DATABASE `{name}`", f"DROP DATABASE IF EXISTS `{name}`"
    admin = create_engine(base)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(drop)
            connection.exec_driver_sql(create)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(drop)
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db.sqlite3'}"
        return
    with scratch_database(request.param) as scratch:
        yield scratch


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db.sqlite3'}"


def use_models(url: str, *models: str, database: str | None = None) -> None:
    """Write the app module with ``models``, and forget the one imported before."""
    source = APP.format(models="\n".join(textwrap.dedent(model) for model in models), url=url)
    if database is not None:
        source = source.replace(f"Database({url!r}, metadata=Base.metadata)", database)
    Path("migapp.py").write_text(source)
    shutil.rmtree("__pycache__", ignore_errors=True)
    sys.modules.pop("migapp", None)
    importlib.invalidate_caches()


def db(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, ["db", *args, "--app", "migapp"], input=input)


def ok(*args: str, input: str | None = None) -> Result:
    result = db(*args, input=input)
    assert result.exit_code == 0, result.output
    return result


def migration(slug: str) -> Path:
    (path,) = Path("migrations/versions").glob(f"*_{slug}.py")
    return path


def revision(slug: str) -> str:
    return migration(slug).name.split("_")[1]


def migration_files() -> list[str]:
    return sorted(path.name for path in Path("migrations/versions").glob("*.py"))


def execute(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def query(url: str, statement: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(statement))]
    finally:
        engine.dispose()


def schema(url: str) -> dict[str, Any]:
    """The tables, with their columns, indexes and foreign keys' targets."""
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        return {
            table: {
                "columns": [column["name"] for column in inspector.get_columns(table)],
                "indexes": sorted(index["name"] or "" for index in inspector.get_indexes(table)),
                "references": [key["referred_table"] for key in inspector.get_foreign_keys(table)],
            }
            for table in sorted(inspector.get_table_names())
        }
    finally:
        engine.dispose()


def start(url: str, *models: str) -> None:
    """Create the migrations folder and a first migration of ``models``, and apply it."""
    use_models(url, *models)
    ok("init")
    ok("makemigrations", "-m", "initial")
    ok("migrate")


# Writing and running migrations ---------------------------------------------------


def test_migrations_create_change_and_revert_the_tables(url: str) -> None:
    use_models(url, POST.format(column="body"))
    ok("init")

    created = ok("makemigrations", "-m", "create posts")
    applied = ok("migrate")
    use_models(url, VIEWS)
    changed = ok("makemigrations", "-m", "add views")
    upgraded = ok("migrate")
    at_head = ok("current")
    listed = ok("history")
    after_upgrade = schema(url)
    reverted = ok("downgrade")
    after_downgrade = schema(url)
    reverted_all = ok("downgrade", "base")

    first, second = revision("create_posts"), revision("add_views")
    assert created.output == f"Created {migration('create_posts')}.\n"
    assert applied.output == f"Applied {first} (create posts).\n"
    assert changed.output == f"Created {migration('add_views')}.\n"
    assert "add_column(" in migration("add_views").read_text()
    assert 'sa.Column("views", sa.Integer(), nullable=True)' in migration("add_views").read_text()
    assert upgraded.output == f"Applied {second} (add views).\n"
    assert at_head.output == f"{second} (head)\n"
    assert listed.output == (
        f"{first} -> {second} (head), add views\n<base> -> {first}, create posts\n"
    )
    assert after_upgrade["mig_post"]["columns"] == ["id", "title", "body", "views"]
    assert reverted.output == f"Reverted {second} (add views).\n"
    assert after_downgrade["mig_post"]["columns"] == ["id", "title", "body"]
    assert reverted_all.output == f"Reverted {first} (create posts).\n"
    assert list(schema(url)) == ["alembic_version"]


def test_init_creates_the_migrations_folder_with_carboys_env_and_template(
    sqlite_url: str,
) -> None:
    use_models(sqlite_url, POST.format(column="body"))

    result = db("init")

    assert result.exit_code == 0
    assert result.output == (
        "Created the migrations folder migrations. Write the first migration with "
        "'carboy db makemigrations -m \"initial\"'.\n"
    )
    assert sorted(path.name for path in Path("migrations").iterdir()) == [
        "README",
        "env.py",
        "script.py.mako",
        "versions",
    ]
    assert "from carboy.db.migrations import configure_options, connect, database_from" in (
        Path("migrations/env.py").read_text()
    )
    assert list(Path("migrations/versions").iterdir()) == []


def test_init_uses_the_folder_the_database_names(sqlite_url: str) -> None:
    use_models(
        sqlite_url,
        POST.format(column="body"),
        database=f"Database({sqlite_url!r}, metadata=Base.metadata, migrations='db/changes')",
    )

    result = db("init")
    ok("makemigrations", "-m", "initial")

    assert result.output.startswith("Created the migrations folder db/changes. ")
    assert len(list(Path("db/changes/versions").glob("*_initial.py"))) == 1


def test_init_refuses_a_folder_that_exists(sqlite_url: str, tmp_path: Path) -> None:
    use_models(sqlite_url, POST.format(column="body"))
    Path("migrations").mkdir()

    result = db("init")

    assert result.exit_code == 1
    assert result.output == (
        f"Error: The migrations folder {tmp_path / 'migrations'} exists already. Keep using "
        "it, or point Database(migrations=...) at a folder that does not exist yet.\n"
    )


@pytest.mark.parametrize(
    "args",
    [("migrate",), ("downgrade",), ("makemigrations", "-m", "x"), ("current",), ("sql",)],
)
def test_a_command_without_the_migrations_folder_says_to_run_init(
    sqlite_url: str, tmp_path: Path, args: tuple[str, ...]
) -> None:
    use_models(sqlite_url, POST.format(column="body"))

    result = db(*args)

    assert result.exit_code == 1
    assert result.output == (
        f"Error: The migrations folder {tmp_path / 'migrations'} does not exist. Create it "
        "with 'carboy db init', or point Database(migrations=...) at the folder that holds "
        "the migrations.\n"
    )


def test_a_command_on_an_app_without_a_database_says_to_add_one() -> None:
    Path("migapp.py").write_text("from carboy import Carboy\n\napp = Carboy()\n")

    result = db("migrate")

    assert result.exit_code == 1
    assert result.output == (
        "Error: The app 'migapp:app' has no database: Database is not among its extensions. "
        "Add it: Carboy(extensions=[Database()]).\n"
    )


def test_the_app_option_before_db_names_the_app(sqlite_url: str) -> None:
    use_models(sqlite_url, POST.format(column="body"))

    result = CliRunner().invoke(main, ["--app", "migapp", "db", "init"])

    assert result.exit_code == 0
    assert Path("migrations/env.py").is_file()


def test_a_command_without_an_app_is_an_error_with_exit_status_1() -> None:
    result = CliRunner().invoke(main, ["db", "migrate"])

    assert result.exit_code == 1
    assert result.output == f"Error: {NO_APP_FOUND}\n"


def test_an_unreachable_database_is_an_error_that_hides_the_password() -> None:
    use_models(
        "postgresql://carboy:s3cret@127.0.0.1:1/nowhere",
        POST.format(column="body"),
    )
    ok("init")

    result = db("migrate")

    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: Could not connect to the database at "
        "postgresql+psycopg://carboy:***@127.0.0.1:1/nowhere (the url given to Database()): "
        "OperationalError: "
    )
    assert result.output.endswith(
        " Check the setting, and that the server runs and accepts these credentials.\n"
    )
    assert "s3cret" not in result.output
    assert "Traceback" not in result.output


def test_a_migration_the_database_refuses_is_an_error_without_a_traceback(
    sqlite_url: str,
) -> None:
    start(sqlite_url, POST.format(column="body"))
    ok("makemigrations", "-m", "broken", "--empty")
    path = migration("broken")
    path.write_text(
        path.read_text().replace(
            "def upgrade() -> None:\n    pass",
            "def upgrade() -> None:\n    op.execute('UPDATE mig_nowhere SET x = 1')",
        )
    )

    result = db("migrate")

    assert result.exit_code == 1
    assert result.output == (
        f"Error: The database at {sqlite_url.replace('sqlite:', 'sqlite+pysqlite:')} refused a "
        "statement of the migrations: "
        "OperationalError: no such table: mig_nowhere. Fix the migration, or the rows it "
        "trips on, and run it again; 'carboy db current' shows the last migration applied.\n"
    )
    assert ok("current").output == f"{revision('initial')}\n"


def test_written_migrations_pass_ruff_check_and_format(sqlite_url: str) -> None:
    start(sqlite_url, POST.format(column="body"), NOTE.format(table="mig_note", column="title"))
    ok("makemigrations", "-m", "fill by hand", "--empty")
    written, to_fill = str(migration("initial")), str(migration("fill_by_hand"))

    def ruff(*options: str) -> tuple[int, str]:
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *options, "--isolated"], capture_output=True, text=True
        )
        return done.returncode, done.stdout

    assert ruff("check", "--select", "E,W,F,I", written) == (0, "All checks passed!\n")
    # The migration to fill by hand keeps its imports of sa and op, for the hand.
    rules = ["--select", "E,W,F,I", "--ignore", "F401"]
    assert ruff("check", *rules, to_fill) == (0, "All checks passed!\n")
    assert ruff("format", "--check", written, to_fill) == (0, "2 files already formatted\n")


def test_makemigrations_without_changes_writes_nothing(sqlite_url: str) -> None:
    start(sqlite_url, POST.format(column="body"))

    result = ok("makemigrations", "-m", "nothing")

    assert result.output == "No changes detected: the database matches the models.\n"
    assert migration_files() == [migration("initial").name]


def test_makemigrations_empty_writes_a_migration_to_fill_by_hand(sqlite_url: str) -> None:
    start(sqlite_url, POST.format(column="body"))

    result = ok("makemigrations", "-m", "fix data", "--empty")

    source = migration("fix_data").read_text()
    assert result.output == f"Created {migration('fix_data')}.\n"
    assert f'down_revision = "{revision("initial")}"' in source
    assert "def upgrade() -> None:\n    pass\n" in source
    assert "def downgrade() -> None:\n    pass\n" in source


def test_makemigrations_on_a_database_behind_the_migrations_says_to_migrate(
    sqlite_url: str,
) -> None:
    use_models(sqlite_url, POST.format(column="body"))
    ok("init")
    ok("makemigrations", "-m", "initial")

    result = db("makemigrations", "-m", "again")

    assert result.exit_code == 1
    assert result.output == (
        "Error: The database is not at the latest migration, so the models cannot be "
        "compared with it. Run 'carboy db migrate' first.\n"
    )


def test_migrate_with_nothing_to_apply_says_so(sqlite_url: str) -> None:
    start(sqlite_url, POST.format(column="body"))

    result = ok("migrate")

    assert result.output == "No migration to apply: the database is up to date.\n"


def test_downgrade_past_the_first_migration_says_where_the_database_is(
    sqlite_url: str,
) -> None:
    start(sqlite_url, POST.format(column="body"))
    ok("downgrade")

    result = db("downgrade")

    assert result.exit_code == 1
    assert result.output == (
        "Error: The revision -1 goes past the first or the last migration, counted from the "
        "one the database is at. 'carboy db current' shows that one; 'carboy db history' "
        "lists them all.\n"
    )


def test_migrate_to_an_unknown_revision_says_where_to_find_them(sqlite_url: str) -> None:
    start(sqlite_url, POST.format(column="body"))

    result = db("migrate", "abc")

    assert result.exit_code == 1
    assert result.output == (
        "Error: Can't locate revision identified by 'abc'. 'carboy db history' lists the "
        "migrations.\n"
    )


def test_current_and_history_before_any_migration_say_so(sqlite_url: str) -> None:
    use_models(sqlite_url, POST.format(column="body"))
    ok("init")

    current = ok("current")
    history = ok("history")

    assert current.output == "No migration is applied to the database yet.\n"
    assert history.output == (
        "No migrations yet. Write the first with 'carboy db makemigrations -m MESSAGE'.\n"
    )


def test_sql_prints_the_upgrade_without_running_it() -> None:
    with scratch_database("postgresql") as url:
        start(url, POST.format(column="body"))
        use_models(url, POST.format(column="content"))
        ok("makemigrations", "-m", "rename body", "--rename", "mig_post.body:content")

        result = ok("sql", "base:head")

        tables = list(schema(url))
    first, second = revision("initial"), revision("rename_body")
    lines = result.output.splitlines()
    assert lines[0] == "BEGIN;"
    assert "CREATE TABLE mig_post (" in lines
    assert f"-- Running upgrade {first} -> {second}" in lines
    assert "ALTER TABLE mig_post RENAME body TO content;" in lines
    assert (
        f"UPDATE alembic_version SET version_num='{second}' "
        f"WHERE alembic_version.version_num = '{first}';"
    ) in lines
    assert lines[-2:] == ["COMMIT;", ""]
    assert tables == ["alembic_version", "mig_post"]


def test_env_py_run_by_alembic_alone_says_to_use_carboy() -> None:
    with pytest.raises(MigrationError) as caught:
        database_from(Config())

    assert str(caught.value) == (
        "This env.py gets the app's database from carboy, and was run without it. Run the "
        "migrations with 'carboy db ...' instead of 'alembic ...'."
    )


# Renamed columns ----------------------------------------------------------------


def test_a_column_renamed_with_the_rename_option_keeps_its_rows(url: str) -> None:
    start(url, POST.format(column="body"))
    execute(
        url,
        "INSERT INTO mig_post (id, title, body) VALUES (1, 'First', 'Hello')",
        "INSERT INTO mig_post (id, title, body) VALUES (2, 'Second', NULL)",
    )
    use_models(url, POST.format(column="content"))

    made = ok("makemigrations", "-m", "rename body", "--rename", "mig_post.body:content")
    ok("migrate")
    renamed = query(url, "SELECT id, title, content FROM mig_post ORDER BY id")
    ok("downgrade")
    restored = query(url, "SELECT id, title, body FROM mig_post ORDER BY id")

    source = migration("rename_body").read_text()
    assert made.output == f"Created {migration('rename_body')}.\n"
    assert 'new_column_name="content"' in source
    assert 'new_column_name="body"' in source
    assert "drop_column" not in source
    assert "add_column" not in source
    assert renamed == [(1, "First", "Hello"), (2, "Second", None)]
    assert restored == [(1, "First", "Hello"), (2, "Second", None)]


def test_a_column_rename_confirmed_when_asked_keeps_its_rows(url: str) -> None:
    start(url, POST.format(column="body"))
    execute(url, "INSERT INTO mig_post (id, title, body) VALUES (1, 'First', 'Hello')")
    use_models(url, POST.format(column="content"))

    made = ok("makemigrations", "-m", "rename body", "--interactive", input="y\n")
    ok("migrate")

    assert made.output == (
        "Did you rename mig_post.body to mig_post.content (TEXT)? [y/N]: y\n"
        f"Created {migration('rename_body')}.\n"
    )
    assert query(url, "SELECT id, title, content FROM mig_post") == [(1, "First", "Hello")]


def test_a_rename_denied_when_asked_drops_the_column_and_adds_the_other(url: str) -> None:
    start(url, POST.format(column="body"))
    execute(url, "INSERT INTO mig_post (id, title, body) VALUES (1, 'First', 'Hello')")
    use_models(url, POST.format(column="content"))

    made = ok("makemigrations", "-m", "replace body", "--interactive", input="n\n")
    ok("migrate")

    source = migration("replace_body").read_text()
    assert made.output == (
        "Did you rename mig_post.body to mig_post.content (TEXT)? [y/N]: n\n"
        "Warning: the column mig_post.body is dropped, so its data will be lost when the "
        "migration is applied.\n"
        f"Created {migration('replace_body')}.\n"
    )
    if url.startswith("sqlite"):
        assert 'batch_op.drop_column("body")' in source
        assert 'batch_op.add_column(sa.Column("content", sa.Text(), nullable=True))' in source
    else:
        assert 'op.drop_column("mig_post", "body")' in source
        assert 'op.add_column("mig_post", sa.Column("content", sa.Text(), nullable=True))' in source
    assert query(url, "SELECT id, title, content FROM mig_post") == [(1, "First", None)]


def test_a_possible_rename_without_anyone_to_ask_is_kept_with_a_warning(
    sqlite_url: str,
) -> None:
    start(sqlite_url, POST.format(column="body"))
    use_models(sqlite_url, POST.format(column="content"))

    made = ok("makemigrations", "-m", "replace body")

    path = migration("replace_body")
    # Said before the file is written, so the warning comes first.
    assert made.output == (
        "Warning: mig_post.body is dropped and mig_post.content added, so the data in "
        "mig_post.body will be lost. If it was renamed, delete the migration created below "
        "and run this command again with --rename mig_post.body:content.\n"
        f"Created {path}.\n"
    )
    assert made.stdout == f"Created {path}.\n"
    assert 'batch_op.drop_column("body")' in path.read_text()


def test_a_dropped_table_and_column_are_reported_before_the_file_is_written(
    sqlite_url: str,
) -> None:
    start(sqlite_url, VIEWS, ARTICLE.format(column="body"))
    use_models(sqlite_url, POST.format(column="body"))

    made = ok("makemigrations", "-m", "drop views and articles")

    assert made.output == (
        "Warning: the table mig_article is dropped, so its rows will be lost when the "
        "migration is applied.\n"
        "Warning: the column mig_post.views is dropped, so its data will be lost when the "
        "migration is applied.\n"
        f"Created {migration('drop_views_and_articles')}.\n"
    )


def test_check_exits_1_and_lists_the_changes_when_a_migration_is_missing(url: str) -> None:
    start(url, POST.format(column="body"))
    before = migration_files()

    matching = db("makemigrations", "--check")
    use_models(url, VIEWS, ARTICLE.format(column="body"))
    differing = db("makemigrations", "--check")

    assert (matching.exit_code, matching.output) == (
        0,
        "No changes detected: the migrations match the models.\n",
    )
    assert (differing.exit_code, differing.output) == (
        1,
        "The models differ from the migrations; a new migration would:\n"
        "  create table mig_article\n"
        "  add column mig_post.views\n"
        "Write it with 'carboy db makemigrations -m \"...\"', read it, and commit it.\n",
    )
    assert migration_files() == before


def test_check_on_a_database_behind_the_migrations_says_to_migrate(sqlite_url: str) -> None:
    use_models(sqlite_url, POST.format(column="body"))
    ok("init")
    ok("makemigrations", "-m", "initial")

    result = db("makemigrations", "--check")

    assert (result.exit_code, result.output) == (
        1,
        "Error: The database is not at the latest migration, so the models cannot be compared "
        "with it. Run 'carboy db migrate' first.\n",
    )


def test_makemigrations_without_a_message_says_what_to_give(sqlite_url: str) -> None:
    start(sqlite_url, POST.format(column="body"))
    use_models(sqlite_url, VIEWS)

    result = db("makemigrations")

    assert result.exit_code == 2
    assert result.output.endswith(
        "Error: Missing option '-m' / '--message': say what the migration does, such as "
        '-m "add posts"; its file is named after it.\n'
    )
    assert migration_files() == [migration("initial").name]


def test_a_rename_option_without_the_table_finds_the_one_table(sqlite_url: str) -> None:
    start(sqlite_url, POST.format(column="body"))
    use_models(sqlite_url, POST.format(column="content"))

    ok("makemigrations", "-m", "rename body", "--rename", "body:content")

    assert 'new_column_name="content"' in migration("rename_body").read_text()


def test_a_rename_option_that_matches_no_change_is_refused(sqlite_url: str) -> None:
    start(sqlite_url, POST.format(column="body"))
    use_models(sqlite_url, POST.format(column="content"))

    result = db("makemigrations", "-m", "rename body", "--rename", "mig_post.body:text")

    assert result.exit_code == 1
    assert result.output == (
        "Error: --rename mig_post.body:text does not match the changes found: no column "
        "mig_post.body is dropped together with a column text added to the same table. "
        "Check the names against the models and the database.\n"
    )
    assert migration_files() == [migration("initial").name]


def test_a_rename_option_that_fits_two_tables_asks_for_the_table(sqlite_url: str) -> None:
    start(sqlite_url, POST.format(column="body"), ARTICLE.format(column="body"))
    use_models(sqlite_url, POST.format(column="content"), ARTICLE.format(column="content"))

    result = db("makemigrations", "-m", "rename body", "--rename", "body:content")

    assert result.exit_code == 1
    assert result.output == (
        "Error: --rename body:content is ambiguous: the tables mig_article and mig_post "
        "each drop a column body and add a column content. Name the table, such as "
        "--rename mig_article.body:content.\n"
    )


def test_a_rename_option_of_another_shape_is_a_usage_error(sqlite_url: str) -> None:
    use_models(sqlite_url, POST.format(column="body"))

    result = db("makemigrations", "-m", "x", "--rename", "body")

    assert result.exit_code == 2
    assert result.output.endswith(
        "Error: Invalid value for '--rename': 'body' is not a column rename: write "
        "table.old:new, such as post.body:content, or old:new when only one table has such "
        "a pair.\n"
    )


def test_a_column_rename_on_sqlite_keeps_the_rows_that_refer_to_the_table(
    sqlite_url: str,
) -> None:
    # SQLite rebuilds the table to rename the column; with foreign keys on,
    # dropping the old table would delete the tags, by ON DELETE CASCADE.
    start(sqlite_url, NOTE.format(table="mig_note", column="title"))
    execute(
        sqlite_url,
        "INSERT INTO mig_note (id, title) VALUES (1, 'Groceries')",
        "INSERT INTO mig_tag (id, note_id) VALUES (10, 1)",
    )
    use_models(sqlite_url, NOTE.format(table="mig_note", column="heading"))

    ok("makemigrations", "-m", "rename title", "--rename", "mig_note.title:heading")
    ok("migrate")

    assert query(sqlite_url, "SELECT id, heading FROM mig_note") == [(1, "Groceries")]
    assert query(sqlite_url, "SELECT id, note_id FROM mig_tag") == [(10, 1)]
    assert schema(sqlite_url)["mig_note"]["indexes"] == ["ix_mig_note_heading"]


# Renamed tables -----------------------------------------------------------------


def test_a_table_renamed_with_the_rename_table_option_keeps_its_rows(url: str) -> None:
    start(url, NOTE.format(table="mig_note", column="title"))
    execute(
        url,
        "INSERT INTO mig_note (id, title) VALUES (1, 'Groceries')",
        "INSERT INTO mig_tag (id, note_id) VALUES (10, 1)",
    )
    use_models(url, NOTE.format(table="mig_memo", column="title"))

    made = ok("makemigrations", "-m", "rename note", "--rename-table", "mig_note:mig_memo")
    ok("migrate")
    renamed = schema(url)
    rows = query(url, "SELECT id, title FROM mig_memo")
    ok("downgrade")
    restored = schema(url)

    source = migration("rename_note").read_text()
    assert made.output == f"Created {migration('rename_note')}.\n"
    assert 'op.rename_table("mig_note", "mig_memo")' in source
    assert 'op.rename_table("mig_memo", "mig_note")' in source
    assert "drop_table" not in source
    assert "create_table" not in source
    assert list(renamed) == ["alembic_version", "mig_memo", "mig_tag"]
    assert renamed["mig_memo"]["indexes"] == ["ix_mig_memo_title"]
    assert renamed["mig_tag"]["references"] == ["mig_memo"]
    assert rows == [(1, "Groceries")]
    assert list(restored) == ["alembic_version", "mig_note", "mig_tag"]
    assert restored["mig_note"]["indexes"] == ["ix_mig_note_title"]
    assert restored["mig_tag"]["references"] == ["mig_note"]
    assert query(url, "SELECT id, title FROM mig_note") == [(1, "Groceries")]
    assert query(url, "SELECT id, note_id FROM mig_tag") == [(10, 1)]


def test_a_table_rename_confirmed_when_asked_keeps_its_rows(sqlite_url: str) -> None:
    start(sqlite_url, NOTE.format(table="mig_note", column="title"))
    execute(sqlite_url, "INSERT INTO mig_note (id, title) VALUES (1, 'Groceries')")
    use_models(sqlite_url, NOTE.format(table="mig_memo", column="title"))

    made = ok("makemigrations", "-m", "rename note", "--interactive", input="y\n")
    ok("migrate")

    assert made.output == (
        "Did you rename the table mig_note to mig_memo? [y/N]: y\n"
        f"Created {migration('rename_note')}.\n"
    )
    assert query(sqlite_url, "SELECT id, title FROM mig_memo") == [(1, "Groceries")]


def test_a_possible_table_rename_without_anyone_to_ask_is_kept_with_a_warning(
    sqlite_url: str,
) -> None:
    start(sqlite_url, NOTE.format(table="mig_note", column="title"))
    use_models(sqlite_url, NOTE.format(table="mig_memo", column="title"))

    made = ok("makemigrations", "-m", "replace note")

    path = migration("replace_note")
    assert made.output == (
        "Warning: the table mig_note is dropped and mig_memo created, so the rows of mig_note "
        "will be lost. If it was renamed, delete the migration created below and run this "
        "command again with --rename-table mig_note:mig_memo.\n"
        f"Created {path}.\n"
    )
    assert 'op.drop_table("mig_note")' in path.read_text()


def test_a_rename_table_option_that_matches_no_change_is_refused(sqlite_url: str) -> None:
    start(sqlite_url, NOTE.format(table="mig_note", column="title"))
    use_models(sqlite_url, NOTE.format(table="mig_memo", column="title"))

    result = db("makemigrations", "-m", "rename", "--rename-table", "mig_notes:mig_memo")

    assert result.exit_code == 1
    assert result.output == (
        "Error: --rename-table mig_notes:mig_memo does not match the changes found: no table "
        "mig_notes is dropped together with a table mig_memo created. Check the table names "
        "against the models and the database.\n"
    )
