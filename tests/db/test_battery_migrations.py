from __future__ import annotations

import importlib
import shutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from carboy import Carboy
from carboy.auth import Auth
from carboy.db import BatteryMigrations, Database, Model
from carboy.db._urls import resolve_urls
from carboy.db.batteries import installed_migrations
from carboy.db.migrations import alembic_config, battery_folder, configure_options
from tests.db.test_migrations import (  # noqa: F401 - project: the clean folder of each test
    BACKENDS,
    db,
    execute,
    migration,
    ok,
    project,
    query,
    revision,
    schema,
    scratch_database,
)

AUTH = "d13845aff82c"
"""The first migration of the auth battery."""
AUTH_EPOCH = "ea6d8c7623c6"
"""The auth battery's second migration, its head: the users' session epoch."""
APPLIED_AUTH = (
    f"Applied {AUTH} (create the auth tables).\n"
    f"Applied {AUTH_EPOCH} (add the users' session epoch).\n"
)

AUTH_TABLES = [
    "auth_group",
    "auth_group_permission",
    "auth_permission",
    "auth_token",
    "auth_user",
    "auth_user_group",
    "auth_user_permission",
]

APP = """
from sqlalchemy import ForeignKey, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import carboy.auth.user
from carboy import Carboy
from carboy.auth import Auth
from carboy.db import NAMING_CONVENTION, Database, Model


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# A project's Model.metadata holds the auth battery's tables beside its own.
if {with_auth}:
    for table in list(Model.metadata.tables.values()):
        if table.name in Auth.migrations.tables:
            table.to_metadata(Base.metadata)

{models}

extensions = [Database({url!r}, metadata=Base.metadata)]
if {with_auth}:
    extensions.append(Auth())
app = Carboy(extensions=extensions)
"""

POST = """
class Post(Base):
    __tablename__ = "bat_post"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(100))
"""

POST_WITH_VIEWS = POST + "    views: Mapped[int | None]\n"

NOTE = """
class Note(Base):
    __tablename__ = "bat_note"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200))
"""


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


def use_app(url: str, *models: str, auth: bool = True) -> None:
    """Write the app module, with Auth unless ``auth`` is false, and forget the one before."""
    source = APP.format(
        models="\n".join(textwrap.dedent(model) for model in models),
        url=url,
        with_auth=auth,
    )
    Path("migapp.py").write_text(source)
    shutil.rmtree("__pycache__", ignore_errors=True)
    sys.modules.pop("migapp", None)
    importlib.invalidate_caches()


def tables(url: str) -> list[str]:
    return list(schema(url))


def auth_differences(url: str) -> list[Any]:
    """What autogenerate finds between the auth models and the auth tables of the database."""
    engine = create_engine(resolve_urls(url, "test").sync)
    owned = Auth.migrations.tables

    def only_auth(item: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
        return kind != "table" or name in owned

    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": only_auth}
            )
            return list(compare_metadata(context, Model.metadata))
    finally:
        engine.dispose()


# The auth battery's migrations ----------------------------------------------------


def test_migrate_creates_the_auth_tables(url: str) -> None:
    use_app(url)
    ok("init")

    result = ok("migrate")

    assert result.output == APPLIED_AUTH
    assert tables(url) == ["alembic_version", *AUTH_TABLES]
    assert ok("current").output == f"{AUTH_EPOCH} (head)\n"


def test_the_auth_migration_matches_the_auth_models(url: str) -> None:
    use_app(url)
    ok("init")
    ok("migrate")

    result = ok("makemigrations", "-m", "nothing")

    assert result.output == "No changes detected: the database matches the models.\n"
    assert list(Path("migrations/versions").iterdir()) == []
    assert auth_differences(url) == []


def test_the_auth_tables_have_the_constraints_of_the_models(url: str) -> None:
    use_app(url)
    ok("init")
    ok("migrate")

    found = schema(url)

    assert found["auth_user"]["columns"] == [
        "id",
        "email",
        "username",
        "password",
        "is_active",
        "is_staff",
        "is_superuser",
        "last_login",
        "date_joined",
        "session_epoch",
    ]
    assert sorted(found["auth_user_group"]["references"]) == ["auth_group", "auth_user"]
    assert found["auth_token"]["references"] == ["auth_user"]


def test_deleting_a_user_cascades_to_the_auth_rows_that_refer_to_it(url: str) -> None:
    use_app(url)
    ok("init")
    ok("migrate")
    execute(
        url,
        "INSERT INTO auth_user (id, email, password, is_active, is_staff, is_superuser, "
        "date_joined) VALUES (1, 'a@example.com', 'x', TRUE, FALSE, FALSE, "
        "'2024-01-02 03:04:05')",
        "INSERT INTO auth_group (id, name) VALUES (1, 'Editors')",
        "INSERT INTO auth_user_group (user_id, group_id) VALUES (1, 1)",
        "INSERT INTO auth_token (id, user_id, name, digest, prefix, created_at) VALUES "
        "(1, 1, '', 'd1', 'p1', '2024-01-02 03:04:05')",
    )
    # carboy's engine: SQLite enforces foreign keys only when asked to, as carboy does.
    database = Database(url)

    try:
        with database.engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM auth_user WHERE id = 1")
    finally:
        database.engine.dispose()

    assert query(url, "SELECT COUNT(*) FROM auth_user_group") == [(0,)]
    assert query(url, "SELECT COUNT(*) FROM auth_token") == [(0,)]
    assert query(url, "SELECT id, name FROM auth_group") == [(1, "Editors")]


# The app's migrations beside the auth battery's ---------------------------------


def test_the_hint_of_init_beside_a_battery_is_the_commands_that_work_next(
    sqlite_url: str,
) -> None:
    use_app(sqlite_url, POST)

    hint = ok("init").output
    applied = ok("migrate")
    made = ok("makemigrations", "-m", "initial")

    assert hint == (
        "Created the migrations folder migrations. Apply the migrations of the batteries "
        "(auth) with 'carboy db migrate', then write the first migration of your models "
        "with 'carboy db makemigrations -m \"initial\"'.\n"
    )
    assert applied.output == APPLIED_AUTH
    assert made.output == f"Created {migration('initial')}.\n"


def test_the_apps_first_migration_depends_on_auth_and_migrates_after_it(url: str) -> None:
    use_app(url, POST)
    ok("init")
    ok("migrate")

    made = ok("makemigrations", "-m", "create posts")
    ok("downgrade", "base")
    applied = ok("migrate")

    source = migration("create_posts").read_text()
    first = revision("create_posts")
    assert made.output == f"Created {migration('create_posts')}.\n"
    assert "down_revision = None\n" in source
    assert f'depends_on = "{AUTH_EPOCH}"\n' in source
    assert applied.output == f"{APPLIED_AUTH}Applied {first} (create posts).\n"
    assert schema(url)["bat_post"]["references"] == ["auth_user"]
    assert ok("makemigrations", "-m", "nothing").output == (
        "No changes detected: the database matches the models.\n"
    )


def test_a_later_app_migration_follows_the_apps_head_without_a_new_dependency(
    sqlite_url: str,
) -> None:
    use_app(sqlite_url, POST)
    ok("init")
    ok("migrate")
    ok("makemigrations", "-m", "create posts")
    ok("migrate")
    use_app(sqlite_url, POST_WITH_VIEWS)

    ok("makemigrations", "-m", "add views")
    applied = ok("migrate")

    source = migration("add_views").read_text()
    assert f'down_revision = "{revision("create_posts")}"\n' in source
    assert "depends_on = None\n" in source
    assert applied.output == f"Applied {revision('add_views')} (add views).\n"


def test_downgrade_reverts_the_apps_migrations_and_leaves_the_auth_tables(url: str) -> None:
    use_app(url, POST)
    ok("init")
    ok("migrate")
    ok("makemigrations", "-m", "create posts")
    ok("migrate")

    reverted = ok("downgrade")
    past_the_first = db("downgrade")

    assert reverted.output == f"Reverted {revision('create_posts')} (create posts).\n"
    assert tables(url) == ["alembic_version", *AUTH_TABLES]
    assert past_the_first.exit_code == 1
    assert past_the_first.output == (
        "Error: The revision -1 goes past the first or the last migration, counted from the "
        "one the database is at. 'carboy db current' shows that one; 'carboy db history' "
        "lists them all.\n"
    )
    assert tables(url) == ["alembic_version", *AUTH_TABLES]


def test_downgrade_by_two_counts_only_the_apps_migrations(sqlite_url: str) -> None:
    use_app(sqlite_url, POST)
    ok("init")
    ok("migrate")
    ok("makemigrations", "-m", "create posts")
    ok("migrate")
    use_app(sqlite_url, POST_WITH_VIEWS)
    ok("makemigrations", "-m", "add views")
    ok("migrate")

    result = ok("downgrade", "-2")

    assert result.output == (
        f"Reverted {revision('add_views')} (add views).\n"
        f"Reverted {revision('create_posts')} (create posts).\n"
    )
    assert tables(sqlite_url) == ["alembic_version", *AUTH_TABLES]


def test_downgrade_auth_to_base_reverts_the_app_migrations_that_depend_on_it_first(
    sqlite_url: str,
) -> None:
    use_app(sqlite_url, POST)
    ok("init")
    ok("migrate")
    ok("makemigrations", "-m", "create posts")
    ok("migrate")

    result = ok("downgrade", "auth@base")

    assert result.output == (
        f"Reverted {revision('create_posts')} (create posts).\n"
        f"Reverted {AUTH_EPOCH} (add the users' session epoch).\n"
        f"Reverted {AUTH} (create the auth tables).\n"
    )
    assert tables(sqlite_url) == ["alembic_version"]


def test_history_and_current_show_the_app_and_the_auth_branch(sqlite_url: str) -> None:
    use_app(sqlite_url, POST)
    ok("init")
    ok("migrate")
    ok("makemigrations", "-m", "create posts")
    ok("migrate")

    listed = ok("history")
    at = ok("current")

    first = revision("create_posts")
    assert listed.output == (
        f"<base> ({AUTH_EPOCH}) -> {first} (head), create posts\n"
        f"{AUTH} -> {AUTH_EPOCH} (auth) (effective head), add the users' session epoch\n"
        f"<base> -> {AUTH} (auth), create the auth tables\n"
    )
    assert sorted(at.output.splitlines()) == sorted(
        [f"{first} (head)", f"{AUTH_EPOCH} (effective head)"]
    )


def test_sql_prints_the_auth_and_the_app_migrations(sqlite_url: str) -> None:
    use_app(sqlite_url, POST)
    ok("init")
    ok("migrate")
    ok("makemigrations", "-m", "create posts")

    result = ok("sql", "base:head")

    lines = result.output.splitlines()
    first = revision("create_posts")
    assert lines.index(f"-- Running upgrade  -> {AUTH}") < lines.index(
        f"-- Running upgrade  -> {first}"
    )
    assert "CREATE TABLE auth_user (" in lines
    assert "CREATE TABLE bat_post (" in lines


def test_the_apps_makemigrations_never_touches_the_auth_tables(url: str) -> None:
    use_app(url, POST)
    ok("init")
    ok("migrate")
    # A column the auth models do not have: the app's migrations leave it alone.
    execute(url, "ALTER TABLE auth_user ADD COLUMN nickname VARCHAR(20)")

    ok("makemigrations", "-m", "create posts")
    ok("migrate")
    again = ok("makemigrations", "-m", "nothing")

    source = migration("create_posts").read_text()
    assert [line.strip() for line in source.splitlines() if "auth_" in line] == [
        '["auth_user.id"],',
        'name=op.f("fk_bat_post_author_id_auth_user"),',
    ]
    assert again.output == "No changes detected: the database matches the models.\n"
    assert "nickname" in schema(url)["auth_user"]["columns"]


def test_adding_auth_to_an_app_with_migrations_creates_its_tables_on_migrate(url: str) -> None:
    use_app(url, NOTE, auth=False)
    ok("init")
    ok("makemigrations", "-m", "initial")
    ok("migrate")
    use_app(url, NOTE)

    applied = ok("migrate")
    nothing = ok("makemigrations", "-m", "nothing")
    use_app(url, NOTE, POST)
    ok("makemigrations", "-m", "create posts")
    then = ok("migrate")

    source = migration("create_posts").read_text()
    assert applied.output == APPLIED_AUTH
    assert nothing.output == "No changes detected: the database matches the models.\n"
    assert f'down_revision = "{revision("initial")}"\n' in source
    assert f'depends_on = "{AUTH_EPOCH}"\n' in source
    assert then.output == f"Applied {revision('create_posts')} (create posts).\n"
    assert tables(url) == ["alembic_version", *AUTH_TABLES, "bat_note", "bat_post"]


# The declaration ---------------------------------------------------------------


def test_installed_migrations_are_the_batteries_declarations_only() -> None:
    database = Database("sqlite://")
    app = Carboy(extensions=[database, Auth()])

    found = list(installed_migrations(app.extensions.values()))

    assert found == [Auth.migrations]
    assert Auth.migrations == BatteryMigrations(
        package="carboy.auth",
        folder="migrations",
        branch="auth",
        tables=frozenset(AUTH_TABLES),
    )


def test_the_alembic_configuration_lists_the_apps_folder_and_the_batteries(
    tmp_path: Path,
) -> None:
    database = Database("sqlite://")
    Carboy(extensions=[database, Auth()])

    config = alembic_config(database)
    options = configure_options(config, database)

    assert config.get_version_locations_list() == [
        str(tmp_path / "migrations" / "versions"),
        str(battery_folder(Auth.migrations)),
    ]
    assert battery_folder(Auth.migrations).name == "migrations"
    assert options["include_object"](None, "auth_user", "table", False, None) is False
    assert options["include_object"](None, "bat_post", "table", False, None) is True


def test_a_battery_whose_folder_is_missing_is_an_error() -> None:
    from carboy.db.exceptions import MigrationError

    battery = BatteryMigrations(
        package="carboy.auth", folder="nowhere", branch="auth", tables=frozenset()
    )

    with pytest.raises(MigrationError) as caught:
        battery_folder(battery)

    assert str(caught.value) == (
        "The migrations of the battery 'auth' are not in the folder 'nowhere' of the package "
        "carboy.auth. Reinstall the package that holds the battery; its migrations ship "
        "inside it."
    )
