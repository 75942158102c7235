"""get_or_create on SQLite, PostgreSQL and MariaDB: one row per key, however many callers race."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from sqlalchemy import ForeignKey, String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from carboy.db import Database, Model, VersionMixin, get_or_create
from tests._services import fresh_database

pytestmark = pytest.mark.anyio


class GocColor(Model):
    __tablename__ = "goc_color"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    shade: Mapped[str] = mapped_column(String(20), default="plain")


class GocPalette(Model, VersionMixin):
    __tablename__ = "goc_palette"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


class GocSwatch(Model):
    """A composite primary key, and no auto-increment: the row's key is the lookup."""

    __tablename__ = "goc_swatch"

    palette_id: Mapped[int] = mapped_column(ForeignKey("goc_palette.id"), primary_key=True)
    color_id: Mapped[int] = mapped_column(ForeignKey("goc_color.id"), primary_key=True)
    note: Mapped[str] = mapped_column(String(50), default="")


TABLES = [Model.metadata.tables[name] for name in ("goc_color", "goc_palette", "goc_swatch")]


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'goc.db'}"
        return
    with fresh_database(str(request.param)) as found:
        yield found


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = Database(url)
    Model.metadata.create_all(database.engine, tables=TABLES)
    yield database
    anyio.run(database.disconnect)


def count(db: Database, model: type[Model]) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_missing_row_is_inserted_with_its_defaults_then_found(db: Database) -> None:
    with db.session() as session, session.begin():
        made, created = get_or_create(session, GocColor, name="teal", defaults={"shade": "dark"})
        made_id = made.id

    with db.session() as session, session.begin():
        found, found_created = get_or_create(
            session, GocColor, name="teal", defaults={"shade": "light"}
        )

    assert (created, found_created) == (True, False)
    assert (found.id, found.name, found.shade) == (made_id, "teal", "dark")
    assert count(db, GocColor) == 1


async def test_the_async_session_inserts_then_finds(db: Database) -> None:
    async with db.async_session() as session, session.begin():
        made, created = await get_or_create(session, GocColor, name="teal")
        made_id, made_shade = made.id, made.shade

    async with db.async_session() as session, session.begin():
        found, found_created = await get_or_create(session, GocColor, name="teal")
    # In the test's own event loop, where the async connections live.
    await db.disconnect()

    assert (created, found_created) == (True, False)
    assert found.id == made_id
    assert made_shade == "plain"
    assert count(db, GocColor) == 1


def test_the_inserted_row_is_in_the_session_and_rolls_back_with_it(db: Database) -> None:
    with db.session() as session, session.begin():
        made, _ = get_or_create(session, GocColor, name="teal")
        assert session.get(GocColor, made.id) is made
        session.rollback()

    assert count(db, GocColor) == 0


def test_a_versioned_model_starts_at_version_1(db: Database) -> None:
    with db.session() as session, session.begin():
        palette, created = get_or_create(session, GocPalette, name="autumn")

    assert created is True
    assert palette.version == 1
    with db.session() as session, session.begin():
        row = session.get(GocPalette, palette.id)
        assert row is not None
        row.name = "fall"
    with db.session() as session:
        assert session.scalar(select(GocPalette.version)) == 2


def test_a_composite_key_without_auto_increment_tells_made_from_found(db: Database) -> None:
    with db.session() as session, session.begin():
        palette, _ = get_or_create(session, GocPalette, name="autumn")
        color, _ = get_or_create(session, GocColor, name="rust")
        ids = {"palette_id": palette.id, "color_id": color.id}
        first = get_or_create(session, GocSwatch, **ids, defaults={"note": "first"})
        second = get_or_create(session, GocSwatch, **ids, defaults={"note": "second"})

    assert (first[1], second[1]) == (True, False)
    assert second[0].note == "first"
    assert count(db, GocSwatch) == 1


def test_a_key_taken_by_a_row_the_rest_of_the_lookup_misses_is_an_integrity_error(
    db: Database,
) -> None:
    with db.session() as session, session.begin():
        get_or_create(session, GocColor, name="teal", defaults={"shade": "dark"})

    with db.session() as session, session.begin(), pytest.raises(IntegrityError):
        get_or_create(session, GocColor, name="teal", shade="light")

    assert count(db, GocColor) == 1


def test_a_lookup_must_cover_a_unique_key(db: Database) -> None:
    with db.session() as session, pytest.raises(ValueError) as raised:
        get_or_create(session, GocColor, shade="dark")

    assert str(raised.value) == (
        "get_or_create(GocColor) looks up shade, which cover no primary key or unique "
        "constraint of the table goc_color, so two requests could each insert a row. Look up "
        "by the columns of one, or make them unique (mapped_column(unique=True), or a "
        "UniqueConstraint)."
    )


def test_a_lookup_names_columns_and_is_not_empty(db: Database) -> None:
    with db.session() as session:
        with pytest.raises(ValueError) as unknown:
            get_or_create(session, GocColor, title="teal")
        with pytest.raises(ValueError) as empty:
            get_or_create(session, GocColor)

    assert str(unknown.value) == (
        "get_or_create(GocColor) looks up 'title', which is not a column of GocColor. "
        "Look up by column attributes."
    )
    assert str(empty.value) == (
        "get_or_create(GocColor) needs lookup values that find the row, such as "
        "get_or_create(session, GocColor, name=...)."
    )


CALLERS = 12


def test_threads_racing_for_one_key_make_one_row_and_no_error(db: Database) -> None:
    barrier = threading.Barrier(CALLERS)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            with db.session() as session, session.begin():
                # Connected before the start, so that the calls overlap.
                session.connection()
                barrier.wait(timeout=10)
                color, created = get_or_create(session, GocColor, name="contested")
                results.append((color.id, created))
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert len(results) == CALLERS
    assert len({color_id for color_id, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1
    assert count(db, GocColor) == 1


async def test_tasks_racing_for_one_key_make_one_row_and_no_error(db: Database) -> None:
    async def call() -> tuple[int, bool]:
        async with db.async_session() as session, session.begin():
            color, created = await get_or_create(session, GocColor, name="contested")
            return color.id, created

    results = await asyncio.gather(*(call() for _ in range(CALLERS)))
    await db.disconnect()

    assert len({color_id for color_id, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1
    assert count(db, GocColor) == 1
