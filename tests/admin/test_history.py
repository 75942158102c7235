"""The admin's history, on SQLite and PostgreSQL, with sync and async sessions.

Its migration is checked against the model on SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Enum, Numeric, String, Table, create_engine, select, text
from sqlalchemy.orm import Mapped, mapped_column

from carboy.admin.history import (
    MASK,
    MIGRATIONS,
    LogEntry,
    changes_between,
    history_of,
    json_safe,
    object_key,
    recent_actions,
    record,
    record_change,
    snapshot,
)
from carboy.auth import AnonymousUser
from carboy.auth.user import User
from carboy.db import BatteryMigrations, Database, Model, UTCDateTime
from carboy.db._urls import resolve_urls
from tests.db.test_migrations import (  # noqa: F401 - project: a clean folder for each test
    execute,
    ok,
    project,
    query,
    schema,
    scratch_database,
)

pytestmark = pytest.mark.anyio

AUTH = "d13845aff82c"
ADMIN = "327ac13c073a"
"""The first migrations of the auth and admin batteries."""
AUTH_EPOCH = "ea6d8c7623c6"
"""The auth battery's second migration: the users' session epoch."""

SEEN = datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class HistoryThing(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    count: Mapped[int | None] = mapped_column(default=None)
    price: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), default=None)
    born: Mapped[date | None] = mapped_column(default=None)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    is_active: Mapped[bool] = mapped_column(default=True)
    color: Mapped[Color | None] = mapped_column(Enum(Color, name="history_color"), default=None)
    password: Mapped[str] = mapped_column(String(255), default="")
    api_key_hash: Mapped[str] = mapped_column(String(64), default="")

    def __str__(self) -> str:
        return self.name


class HistoryPair(Model):
    left: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    right: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    label: Mapped[str] = mapped_column(String(50))

    def __str__(self) -> str:
        return self.label


def tables() -> list[Table]:
    auth = [table for name, table in Model.metadata.tables.items() if name.startswith("auth_")]
    return [
        *auth,
        LogEntry.__table__,  # type: ignore[list-item]
        HistoryThing.__table__,  # type: ignore[list-item]
        HistoryPair.__table__,  # type: ignore[list-item]
    ]


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database(backend: str, tmp_path: Path) -> Iterator[Database]:
    """A ``Database`` with the auth, history and test tables created empty.

    On PostgreSQL, in a schema of its own: tests running at the same time on
    the same server each create and drop their own ``auth_*`` tables.
    """
    with ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / 'history.db'}"
        else:
            url = stack.enter_context(scratch_database(backend))
        engine = create_engine(resolve_urls(url, "test").sync)
        stack.callback(engine.dispose)
        Model.metadata.create_all(engine, tables=tables())
        database = Database(url)
        stack.callback(database.engine.dispose)
        yield database


@asynccontextmanager
async def opened(database: Database, mode: str) -> AsyncIterator[Any]:
    """A sync or an async session of ``database``; use ``done`` on what it returns."""
    if mode == "sync":
        with database.session() as session:
            yield session
        return
    try:
        async with database.async_session() as session:
            yield session
    finally:
        await database.disconnect()


async def done(value: Any) -> Any:
    """Await ``value`` when an async session made it a coroutine; return it."""
    return await value if inspect.isawaitable(value) else value


def add_user(database: Database, email: str = "ada@example.com") -> User:
    with database.session() as session:
        user = User(email=email, password="not a real hash")
        session.add(user)
        session.commit()
        return user


def stored(database: Database) -> list[tuple[Any, ...]]:
    """The history's rows as the database holds them, oldest first."""
    with database.session() as session:
        entries = session.scalars(select(LogEntry).order_by(LogEntry.id))
        return [
            (
                e.user_id,
                e.user_repr,
                e.action,
                e.object_table,
                e.object_id,
                e.object_repr,
                e.changes,
                e.message,
            )
            for e in entries
        ]


def full_thing() -> HistoryThing:
    return HistoryThing(
        name="Anvil",
        count=1,
        price=Decimal("12.50"),
        born=date(1990, 5, 17),
        seen_at=SEEN,
        is_active=True,
        color=Color.RED,
        password="argon2id$secret-hash",
        api_key_hash="abc123",
    )


# Recording -----------------------------------------------------------------------


async def test_recording_an_addition_stores_every_initial_value(
    database: Database, mode: str
) -> None:
    user = add_user(database)

    async with opened(database, mode) as session:
        thing = full_thing()
        session.add(thing)
        entry = await done(record(session, user, "add", thing))
        await done(session.commit())

    assert isinstance(entry, LogEntry)
    assert entry.id is not None
    assert entry.action_time.tzinfo is UTC
    assert entry.is_addition
    assert stored(database) == [
        (
            user.id,
            "ada@example.com",
            "add",
            "history_thing",
            str(thing.id),
            "Anvil",
            [
                {"field": "id", "old": None, "new": thing.id},
                {"field": "name", "old": None, "new": "Anvil"},
                {"field": "count", "old": None, "new": 1},
                {"field": "price", "old": None, "new": "12.50"},
                {"field": "born", "old": None, "new": "1990-05-17"},
                {"field": "seen_at", "old": None, "new": "2024-01-02T03:04:05.123456+00:00"},
                {"field": "is_active", "old": None, "new": True},
                {"field": "color", "old": None, "new": "red"},
                {"field": "password", "old": None, "new": MASK},
                {"field": "api_key_hash", "old": None, "new": MASK},
            ],
            "",
        )
    ]


async def test_recording_a_change_lists_each_changed_field_with_its_old_and_new_value(
    database: Database, mode: str
) -> None:
    user = add_user(database)
    with database.session() as session:
        session.add(full_thing())
        session.commit()

    async with opened(database, mode) as session:
        thing = (await done(session.scalars(select(HistoryThing)))).one()
        before = snapshot(thing)
        thing.name = "Hammer"
        thing.count = None
        thing.price = Decimal("13.05")
        thing.born = date(2000, 1, 1)
        thing.seen_at = SEEN + timedelta(days=1, microseconds=1)
        thing.is_active = False
        thing.color = Color.BLUE
        entry = await done(record_change(session, user, thing, before, message="Renamed."))
        await done(session.commit())

    assert entry is not None
    assert entry.is_change
    assert stored(database) == [
        (
            user.id,
            "ada@example.com",
            "change",
            "history_thing",
            str(thing.id),
            "Hammer",
            [
                {"field": "name", "old": "Anvil", "new": "Hammer"},
                {"field": "count", "old": 1, "new": None},
                {"field": "price", "old": "12.50", "new": "13.05"},
                {"field": "born", "old": "1990-05-17", "new": "2000-01-01"},
                {
                    "field": "seen_at",
                    "old": "2024-01-02T03:04:05.123456+00:00",
                    "new": "2024-01-03T03:04:05.123457+00:00",
                },
                {"field": "is_active", "old": True, "new": False},
                {"field": "color", "old": "red", "new": "blue"},
            ],
            "Renamed.",
        )
    ]


async def test_record_change_records_nothing_when_nothing_changed(
    database: Database, mode: str
) -> None:
    user = add_user(database)
    with database.session() as session:
        session.add(full_thing())
        session.commit()

    async with opened(database, mode) as session:
        thing = (await done(session.scalars(select(HistoryThing)))).one()
        before = snapshot(thing)
        thing.name = "Anvil"
        thing.price = Decimal("12.50")
        entry = await done(record_change(session, user, thing, before))
        await done(session.commit())

    assert entry is None
    assert stored(database) == []


async def test_recording_a_deletion_keeps_the_last_values(database: Database, mode: str) -> None:
    user = add_user(database)
    with database.session() as session:
        session.add(HistoryThing(name="Old anvil", count=7))
        session.commit()

    async with opened(database, mode) as session:
        thing = (await done(session.scalars(select(HistoryThing)))).one()
        thing_id = thing.id
        await done(session.delete(thing))
        await done(session.flush())
        entry = await done(record(session, user, "delete", thing))
        await done(session.commit())

    assert entry.is_deletion
    assert stored(database) == [
        (
            user.id,
            "ada@example.com",
            "delete",
            "history_thing",
            str(thing_id),
            "Old anvil",
            [
                {"field": "id", "old": thing_id, "new": None},
                {"field": "name", "old": "Old anvil", "new": None},
                {"field": "count", "old": 7, "new": None},
                {"field": "price", "old": None, "new": None},
                {"field": "born", "old": None, "new": None},
                {"field": "seen_at", "old": None, "new": None},
                {"field": "is_active", "old": True, "new": None},
                {"field": "color", "old": None, "new": None},
                {"field": "password", "old": MASK, "new": None},
                {"field": "api_key_hash", "old": MASK, "new": None},
            ],
            "",
        )
    ]
    with database.session() as session:
        assert session.scalars(select(HistoryThing)).all() == []


async def test_secrets_are_masked_and_listed_only_when_they_changed(
    database: Database, mode: str
) -> None:
    user = add_user(database)
    with database.session() as session:
        session.add(full_thing())
        session.commit()

    async with opened(database, mode) as session:
        thing = (await done(session.scalars(select(HistoryThing)))).one()
        before = snapshot(thing)
        thing.password = "argon2id$another-secret-hash"
        thing.count = 2
        changed = await done(record_change(session, user, thing, before))
        before = snapshot(thing)
        thing.count = 3
        unchanged = await done(record_change(session, user, thing, before))
        await done(session.commit())

    assert changed.changes == [
        {"field": "count", "old": 1, "new": 2},
        {"field": "password", "old": MASK, "new": MASK},
    ]
    assert unchanged.changes == [{"field": "count", "old": 2, "new": 3}]
    assert before["password"] == MASK
    with database.engine.connect() as connection:
        raw = " ".join(
            str(value) for value in connection.scalars(text("SELECT changes FROM admin_log_entry"))
        )
    assert "secret" not in raw
    assert "abc123" not in raw


async def test_a_change_recorded_without_changes_lists_the_unflushed_ones(
    database: Database, mode: str
) -> None:
    user = add_user(database)
    with database.session() as session:
        session.add(full_thing())
        session.commit()

    async with opened(database, mode) as session:
        thing = (await done(session.scalars(select(HistoryThing)))).one()
        thing.count = 5
        thing.api_key_hash = "def456"
        entry = await done(record(session, user, "change", thing))
        await done(session.commit())

    assert entry.changes == [
        {"field": "count", "old": 1, "new": 5},
        {"field": "api_key_hash", "old": MASK, "new": MASK},
    ]


async def test_an_app_records_its_own_action_with_its_own_changes_and_message(
    database: Database, mode: str
) -> None:
    user = add_user(database)
    with database.session() as session:
        session.add(HistoryThing(name="Draft"))
        session.commit()

    async with opened(database, mode) as session:
        thing = (await done(session.scalars(select(HistoryThing)))).one()
        changes = [{"field": "status", "old": "draft", "new": date(2024, 5, 1)}]
        await done(record(session, user, "publish", thing, changes, message="Published."))
        await done(session.commit())

    assert stored(database) == [
        (
            user.id,
            "ada@example.com",
            "publish",
            "history_thing",
            str(thing.id),
            "Draft",
            [{"field": "status", "old": "draft", "new": "2024-05-01"}],
            "Published.",
        )
    ]


async def test_an_object_with_a_composite_key_is_named_by_its_values_joined(
    database: Database, mode: str
) -> None:
    async with opened(database, mode) as session:
        pair = HistoryPair(left=3, right=7, label="three and seven")
        session.add(pair)
        await done(record(session, None, "add", pair))
        await done(session.commit())
        found = await done(history_of(session, HistoryPair, (3, 7)))
        by_text = await done(history_of(session, HistoryPair, "3,7"))

    assert object_key(pair) == "3,7"
    assert [entry.object_id for entry in found] == ["3,7"]
    assert [entry.id for entry in by_text] == [entry.id for entry in found]


async def test_a_change_nobody_signed_in_made_has_no_user(database: Database, mode: str) -> None:
    async with opened(database, mode) as session:
        thing = HistoryThing(name="Anvil")
        session.add(thing)
        by_nobody = await done(record(session, None, "add", thing))
        by_anonymous = await done(record(session, AnonymousUser(), "change", thing, []))
        await done(session.commit())

    assert (by_nobody.user_id, by_nobody.user_repr) == (None, "")
    assert (by_anonymous.user_id, by_anonymous.user_repr) == (None, "")


async def test_a_long_object_name_is_cut_to_200_characters(database: Database, mode: str) -> None:
    async with opened(database, mode) as session:
        thing = HistoryThing(name="x" * 250)
        session.add(thing)
        entry = await done(record(session, None, "add", thing))
        await done(session.commit())

    assert entry.object_repr == "x" * 199 + "…"
    assert stored(database)[0][5] == "x" * 199 + "…"


async def test_an_action_must_be_a_short_word(database: Database, mode: str) -> None:
    async with opened(database, mode) as session:
        thing = HistoryThing(name="Anvil")
        session.add(thing)

        with pytest.raises(ValueError) as empty:
            record(session, None, "", thing)
        with pytest.raises(ValueError) as long:
            record(session, None, "a" * 33, thing)

    assert str(empty.value) == (
        "The action '' cannot be recorded: an action is a word of 1 to 32 characters, such "
        "as 'add', 'change', 'delete' or 'publish'."
    )
    assert str(long.value) == (
        f"The action '{'a' * 33}' cannot be recorded: an action is a word of 1 to 32 "
        "characters, such as 'add', 'change', 'delete' or 'publish'."
    )


async def test_an_object_outside_the_session_cannot_be_recorded(
    database: Database, mode: str
) -> None:
    async with opened(database, mode) as session:
        with pytest.raises(ValueError) as caught:
            await done(record(session, None, "add", HistoryThing(name="Anvil")))

    assert str(caught.value) == (
        "The HistoryThing has no primary key yet, so the history cannot name it. Add it to "
        "the session before recording it: record() flushes it to get one."
    )


# Reading ---------------------------------------------------------------------------


async def test_history_of_lists_one_objects_entries_newest_first(
    database: Database, mode: str
) -> None:
    user = add_user(database)

    async with opened(database, mode) as session:
        anvil, hammer = HistoryThing(name="Anvil"), HistoryThing(name="Hammer")
        session.add_all([anvil, hammer])
        first = await done(record(session, user, "add", anvil))
        await done(record(session, user, "add", hammer))
        second = await done(record(session, user, "change", anvil, [], message="second"))
        third = await done(record(session, user, "change", anvil, [], message="third"))
        await done(session.commit())
        of_anvil = await done(history_of(session, anvil))
        by_id = await done(history_of(session, HistoryThing, anvil.id))
        limited = await done(history_of(session, anvil, limit=2))
        of_model = await done(history_of(session, HistoryThing))
        of_nothing = await done(history_of(session, HistoryPair, (1, 2)))

    assert [entry.id for entry in of_anvil] == [third.id, second.id, first.id]
    assert [entry.id for entry in by_id] == [third.id, second.id, first.id]
    assert [entry.id for entry in limited] == [third.id, second.id]
    assert len(of_model) == 4
    assert of_nothing == []


async def test_recent_actions_lists_the_newest_entries_of_a_user_or_of_everyone(
    database: Database, mode: str
) -> None:
    ada, grace = add_user(database), add_user(database, "grace@example.com")

    async with opened(database, mode) as session:
        thing = HistoryThing(name="Anvil")
        session.add(thing)
        entries = [
            await done(record(session, who, "change", thing, [], message=str(number)))
            for number, who in enumerate([ada, grace, ada, ada, grace])
        ]
        await done(session.commit())
        of_ada = await done(recent_actions(session, ada))
        of_ada_by_id = await done(recent_actions(session, ada.id, limit=2))
        of_everyone = await done(recent_actions(session, limit=3))

    assert [entry.message for entry in of_ada] == ["3", "2", "0"]
    assert [entry.message for entry in of_ada_by_id] == ["3", "2"]
    assert [entry.message for entry in of_everyone] == ["4", "3", "2"]
    assert {entry.user_repr for entry in entries} == {"ada@example.com", "grace@example.com"}


async def test_deleting_a_user_keeps_their_entries_without_the_user(
    database: Database, mode: str
) -> None:
    ada = add_user(database)
    async with opened(database, mode) as session:
        thing = HistoryThing(name="Anvil")
        session.add(thing)
        await done(record(session, ada, "add", thing, []))
        await done(session.commit())

    with database.session() as session:
        session.delete(session.get_one(User, ada.id))
        session.commit()

    assert stored(database) == [
        (None, "ada@example.com", "add", "history_thing", str(thing.id), "Anvil", [], "")
    ]


# Values ------------------------------------------------------------------------------


def test_changes_between_lists_only_the_fields_that_differ() -> None:
    before = {"title": "Draft", "views": 3, "flag": 1, "gone": "x"}
    after = {"title": "Final", "views": 3, "flag": True, "new": Decimal("1.10")}

    changes = changes_between(before, after)

    assert changes == [
        {"field": "title", "old": "Draft", "new": "Final"},
        {"field": "flag", "old": 1, "new": True},
        {"field": "new", "old": None, "new": "1.10"},
        {"field": "gone", "old": "x", "new": None},
    ]


def test_changes_between_masks_secret_fields_by_their_names() -> None:
    before = {"password": "old", "token_digest": "d1", "pin_hash": "h", "passwords": "p1"}
    after = {"password": "new", "token_digest": "d1", "pin_hash": "h2", "passwords": "p2"}

    changes = changes_between(before, after)

    assert changes == [
        {"field": "password", "old": MASK, "new": MASK},
        {"field": "pin_hash", "old": MASK, "new": MASK},
        {"field": "passwords", "old": "p1", "new": "p2"},
    ]


def test_json_safe_makes_every_common_value_json_data() -> None:
    value = {
        "date": date(2024, 2, 29),
        "datetime": SEEN,
        "time": time(13, 30),
        "decimal": Decimal("0.10"),
        "duration": timedelta(minutes=1, milliseconds=500),
        "enum": Color.BLUE,
        "uuid": UUID("12345678-1234-5678-1234-567812345678"),
        "nan": float("nan"),
        "bytes": b"abc",
        "tuple": (1, "a", None),
        "set": {"b", "a"},
        "path": Path("/tmp/x"),
        1: "key made text",
    }

    result = json_safe(value)

    assert result == {
        "date": "2024-02-29",
        "datetime": "2024-01-02T03:04:05.123456+00:00",
        "time": "13:30:00",
        "decimal": "0.10",
        "duration": 60.5,
        "enum": "blue",
        "uuid": "12345678-1234-5678-1234-567812345678",
        "nan": "nan",
        "bytes": "<3 bytes, sha256 ba7816bf8f01cfea>",
        "tuple": [1, "a", None],
        "set": ["a", "b"],
        "path": "/tmp/x",
        "1": "key made text",
    }


def test_json_safe_stores_enums_and_subclasses_of_plain_types_as_the_plain_types() -> None:
    class Level(enum.IntEnum):
        HIGH = 2

    class Shade(enum.StrEnum):
        DARK = "dark"

    result = json_safe([Level.HIGH, Shade.DARK, True, 3])

    assert result == [2, "dark", True, 3]
    assert [type(item) for item in result] == [int, str, bool, int]


def test_a_snapshot_leaves_out_columns_not_loaded() -> None:
    thing = HistoryThing(name="Anvil", count=2)

    values = snapshot(thing)

    assert values == {"name": "Anvil", "count": 2}


# The migration ------------------------------------------------------------------------

HISTORY_APP = """
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

import carboy.auth.user
from carboy import Carboy
from carboy.admin.history import MIGRATIONS
from carboy.auth import Auth
from carboy.db import NAMING_CONVENTION, Database, Model


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


for table in list(Model.metadata.tables.values()):
    if table.name in Auth.migrations.tables | MIGRATIONS.tables:
        table.to_metadata(Base.metadata)


class HistoryOnly:
    name = "history"
    requires = ("db", "auth")
    migrations = MIGRATIONS

    def init_app(self, app):
        pass


app = Carboy(
    extensions=[Database({url!r}, metadata=Base.metadata), Auth(), HistoryOnly()]
)
"""


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own, migrated by the auth and admin batteries' migrations."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
        use_history_app(url)
        yield url
        return
    with scratch_database(request.param) as url:
        use_history_app(url)
        yield url


def use_history_app(url: str) -> None:
    Path("migapp.py").write_text(HISTORY_APP.format(url=url))
    shutil.rmtree("__pycache__", ignore_errors=True)
    sys.modules.pop("migapp", None)
    importlib.invalidate_caches()


def history_differences(url: str) -> list[Any]:
    """What autogenerate finds between ``LogEntry`` and the database's history table."""
    engine = create_engine(resolve_urls(url, "test").sync)

    def only_history(item: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
        if kind == "table":
            return name in MIGRATIONS.tables
        table = getattr(getattr(item, "table", None), "name", None)
        return table is None or table in MIGRATIONS.tables

    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": only_history}
            )
            return list(compare_metadata(context, Model.metadata))
    finally:
        engine.dispose()


def test_the_history_declares_its_migrations_for_the_admin_to_expose() -> None:
    expected = BatteryMigrations(
        package="carboy.admin",
        folder="migrations",
        branch="admin",
        tables=frozenset({"admin_log_entry"}),
    )

    assert expected == MIGRATIONS


def test_the_admin_migration_creates_the_table_of_the_model(migrated_url: str) -> None:
    ok("init")

    applied = ok("migrate")

    assert applied.output == (
        f"Applied {AUTH} (create the auth tables).\n"
        f"Applied {ADMIN} (create the admin's history table).\n"
        f"Applied {AUTH_EPOCH} (add the users' session epoch).\n"
    )
    assert history_differences(migrated_url) == []
    assert ok("makemigrations", "-m", "nothing").output == (
        "No changes detected: the database matches the models.\n"
    )
    found = schema(migrated_url)["admin_log_entry"]
    assert found["columns"] == [
        "id",
        "action_time",
        "user_id",
        "user_repr",
        "action",
        "object_table",
        "object_id",
        "object_repr",
        "changes",
        "message",
    ]
    assert found["references"] == ["auth_user"]
    assert {
        "ix_admin_log_entry_action_time",
        "ix_admin_log_entry_object",
        "ix_admin_log_entry_user_id",
    } <= set(found["indexes"])


def test_the_migrated_table_keeps_entries_when_their_user_is_deleted(migrated_url: str) -> None:
    ok("init")
    ok("migrate")
    execute(
        migrated_url,
        "INSERT INTO auth_user (id, email, password, is_active, is_staff, is_superuser, "
        "date_joined) VALUES (1, 'a@example.com', 'x', TRUE, FALSE, FALSE, "
        "'2024-01-02 03:04:05')",
        "INSERT INTO admin_log_entry (id, action_time, user_id, user_repr, action, "
        "object_table, object_id, object_repr, changes, message) VALUES (1, "
        "'2024-01-02 03:04:05', 1, 'a@example.com', 'add', 'post', '1', 'A post', '[]', '')",
    )
    # carboy's engine: SQLite enforces foreign keys only when asked to, as carboy does.
    database = Database(migrated_url)

    try:
        with database.engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM auth_user WHERE id = 1")
    finally:
        database.engine.dispose()

    assert query(migrated_url, "SELECT user_id, user_repr FROM admin_log_entry") == [
        (None, "a@example.com")
    ]


def test_downgrading_the_admin_branch_drops_the_history_table_only(migrated_url: str) -> None:
    ok("init")
    ok("migrate")

    reverted = ok("downgrade", "admin@base")

    assert reverted.output == f"Reverted {ADMIN} (create the admin's history table).\n"
    assert "admin_log_entry" not in schema(migrated_url)
    assert "auth_user" in schema(migrated_url)
