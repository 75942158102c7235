from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
    delete,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from carboy.cli import main
from carboy.db import NAMING_CONVENTION, Database, UTCDateTime
from carboy.db.exceptions import FixtureError
from carboy.db.fixtures import dump, load
from tests._services import mysql_url, postgres_url


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Author(Base):
    __tablename__ = "mig_fx_author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Entry(Base):
    __tablename__ = "mig_fx_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("mig_fx_author.id"))
    title: Mapped[str] = mapped_column(String(200))
    written_at: Mapped[datetime] = mapped_column(DateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    day: Mapped[date]
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    token: Mapped[uuid.UUID] = mapped_column(Uuid)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    is_draft: Mapped[bool]
    note: Mapped[str | None] = mapped_column(Text)


# A table without a model of its own.
keyword = Table(
    "mig_fx_keyword",
    Base.metadata,
    *[Column(name, String(20), primary_key=True) for name in ("word", "language")],
)

TOKEN = uuid.UUID("6f1c2a4e-0b8d-4c57-9a3e-2d1f0c9b8a7e")

AUTHORS = [
    {"model": "Author", "pk": 1, "fields": {"name": "Ada"}},
    {"model": "Author", "pk": 2, "fields": {"name": "Grace"}},
]
ENTRY = {
    "model": "Entry",
    "pk": 10,
    "fields": {
        "author_id": 2,
        "title": "Compilers",
        "written_at": "2024-05-01T09:30:00",
        "published_at": None,
        "day": "2024-05-02",
        "price": "12.50",
        "token": "6f1c2a4e-0b8d-4c57-9a3e-2d1f0c9b8a7e",
        "data": "AAH/",
        "is_draft": False,
        "note": "Nothing is ever\n“simple”.",
    },
}
KEYWORD = {"model": "mig_fx_keyword", "pk": ["hello", "en"], "fields": {}}
ROWS = [*AUTHORS, KEYWORD, ENTRY]


# Fixtures and helpers -----------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    urls = {
        "sqlite": lambda: f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "postgresql": postgres_url,
        "mysql": mysql_url,
    }
    url = urls[request.param]()
    yield from tables_of(Database(url, metadata=Base.metadata))


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Database]:
    yield from tables_of(Database(f"sqlite:///{tmp_path / 'db.sqlite3'}", metadata=Base.metadata))


@pytest.fixture
def postgres() -> Iterator[Database]:
    yield from tables_of(Database(postgres_url(), metadata=Base.metadata))


def tables_of(database: Database) -> Iterator[Database]:
    """The tests' tables, created empty before the test and dropped after it."""
    database.drop_all()
    database.create_all()
    try:
        yield database
    finally:
        database.drop_all()
        database.engine.dispose()


def add_rows(database: Database) -> None:
    with database.session() as session, session.begin():
        session.add_all([Author(id=1, name="Ada"), Author(id=2, name="Grace")])
        session.flush()
        session.add(
            Entry(
                id=10,
                author_id=2,
                title="Compilers",
                written_at=datetime(2024, 5, 1, 9, 30),
                published_at=None,
                day=date(2024, 5, 2),
                price=Decimal("12.50"),
                token=TOKEN,
                data=b"\x00\x01\xff",
                is_draft=False,
                note="Nothing is ever\n“simple”.",
            )
        )
        session.execute(keyword.insert().values(word="hello", language="en"))


def contents(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the tests, by table, ordered by primary key."""
    with database.session() as session:
        return {
            table.name: [
                tuple(row)
                for row in session.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


def wipe(database: Database) -> None:
    with database.session() as session, session.begin():
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(delete(table))


# dump() and load() --------------------------------------------------------------


def test_dump_gives_every_row_parents_first_with_values_json_can_hold(
    database: Database,
) -> None:
    add_rows(database)

    with database.session() as session:
        rows = dump(session, metadata=Base.metadata)

    assert rows == ROWS


def test_dump_of_some_models_gives_only_their_rows(sqlite: Database) -> None:
    add_rows(sqlite)

    with sqlite.session() as session:
        by_class = dump(session, [Author])
        by_name = dump(session, ["Author", "mig_fx_keyword"], metadata=Base.metadata)

    assert by_class == AUTHORS
    assert by_name == [*AUTHORS, KEYWORD]


def test_load_writes_back_what_dump_gave_through_json(database: Database) -> None:
    add_rows(database)
    before = contents(database)
    with database.session() as session:
        text = json.dumps(dump(session, metadata=Base.metadata))
    wipe(database)

    with database.session() as session, session.begin():
        count = load(session, json.loads(text), metadata=Base.metadata)

    assert count == 4
    assert contents(database) == before


def test_load_keeps_the_moments_of_utc_datetimes(database: Database) -> None:
    published = datetime(2024, 5, 1, 9, 30, 15, 250000, tzinfo=UTC)
    add_rows(database)
    with database.session() as session, session.begin():
        session.execute(update(Entry).values(published_at=published))
    with database.session() as session:
        rows = dump(session, [Entry])
    wipe(database)

    with database.session() as session, session.begin():
        load(session, AUTHORS + rows, metadata=Base.metadata)

    assert rows[0]["fields"]["published_at"] == "2024-05-01T09:30:15.250000+00:00"
    with database.session() as session:
        assert session.scalar(select(Entry.published_at)) == published


def test_load_twice_leaves_the_same_rows_and_updates_those_that_changed(
    database: Database,
) -> None:
    add_rows(database)
    expected = contents(database)
    wipe(database)
    with database.session() as session, session.begin():
        load(session, ROWS, metadata=Base.metadata)
    with database.session() as session, session.begin():
        session.execute(update(Author).where(Author.id == 1).values(name="Changed"))
        session.execute(delete(Entry))

    with database.session() as session, session.begin():
        count = load(session, ROWS, metadata=Base.metadata)

    assert count == 4
    assert contents(database) == expected


def test_load_moves_postgresql_sequences_past_the_keys_it_wrote(postgres: Database) -> None:
    with postgres.session() as session, session.begin():
        load(session, AUTHORS, metadata=Base.metadata)

    with postgres.session() as session, session.begin():
        author = Author(name="Barbara")
        session.add(author)
        session.flush()
        new_id = author.id

    assert new_id == 3


def test_load_writes_parents_first_whatever_the_fixtures_order(sqlite: Database) -> None:
    with sqlite.session() as session, session.begin():
        count = load(session, list(reversed(ROWS)), metadata=Base.metadata)

    assert count == 4
    assert [row[0] for row in contents(sqlite)["mig_fx_entry"]] == [10]


def test_a_key_listed_twice_is_written_once_with_its_last_fields(sqlite: Database) -> None:
    data = [ROWS[0], {"model": "Author", "pk": 1, "fields": {"name": "Ada Lovelace"}}]

    with sqlite.session() as session, session.begin():
        count = load(session, data, metadata=Base.metadata)

    assert count == 1
    assert contents(sqlite)["mig_fx_author"] == [(1, "Ada Lovelace")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"model": "Author"},
            "A fixture is a list of rows, and this one is a dict. Give a list of "
            '{"model": ..., "pk": ..., "fields": {...}} objects, as dump() writes.',
        ),
        (
            [ROWS[0], ["Author", 2]],
            "Row 2 of the fixture is not a row: it is a list. Write each row as "
            '{"model": ..., "pk": ..., "fields": {...}}.',
        ),
        (
            [{"model": "Writer", "pk": 1, "fields": {}}],
            "Row 1 of the fixture names the model 'Writer', which is neither a model nor a "
            "table of the database. Name one of: Author, Entry, mig_fx_author, mig_fx_entry, "
            "mig_fx_keyword.",
        ),
        (
            [{"model": "Author", "pk": 1, "fields": {"name": "Ada", "age": 36}}],
            "Row 1 of the fixture (Author 1) has the field(s) age, which the table "
            "mig_fx_author does not have.",
        ),
        (
            [{"model": "Author", "pk": 1, "fields": ["Ada"]}],
            "The fields of row 1 (Author 1) are a list: write them as an object of column "
            "names and values.",
        ),
        (
            [{"model": "mig_fx_keyword", "pk": "hello", "fields": {}}],
            "Row 1 of the fixture (mig_fx_keyword 'hello') has 1 primary key value(s), and "
            "the table mig_fx_keyword has 2 primary key column(s). Give one value per column, "
            "in a list when there are several.",
        ),
        (
            [{**ENTRY, "fields": {**ENTRY["fields"], "day": "May 2nd"}}],
            "Row 1 of the fixture (Entry 10) gives day the value 'May 2nd', which its column, "
            "of type DATE, cannot take.",
        ),
    ],
)
def test_load_refuses_a_fixture_it_cannot_read_and_names_the_row(
    sqlite: Database, data: Any, message: str
) -> None:
    with sqlite.session() as session, pytest.raises(FixtureError) as caught:
        load(session, data, metadata=Base.metadata)

    assert str(caught.value) == message


def test_dump_of_an_unknown_name_says_which_there_are(sqlite: Database) -> None:
    with sqlite.session() as session, pytest.raises(FixtureError) as caught:
        dump(session, ["Writer"], metadata=Base.metadata)

    assert str(caught.value) == (
        "There is no model or table named 'Writer'. Name one of: Author, Entry, "
        "mig_fx_author, mig_fx_entry, mig_fx_keyword."
    )


def test_dump_of_a_table_without_a_primary_key_says_why_it_cannot(sqlite: Database) -> None:
    log = Table("mig_fx_log", MetaData(), Column("line", Text))
    log.create(sqlite.engine)

    with sqlite.session() as session, pytest.raises(FixtureError) as caught:
        dump(session, [log])

    assert str(caught.value) == (
        "The table mig_fx_log has no primary key, so its rows cannot be matched when loaded "
        "again. Give it a primary key, or leave it out of the fixture."
    )


# carboy db dump and carboy db load ------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CARBOY_APP", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    sys.modules.pop("fxapp", None)


def use_app(database: Database) -> None:
    url = database.urls.sync.render_as_string(hide_password=False)
    Path("fxapp.py").write_text(
        "from carboy import Carboy\n"
        "from carboy.db import Database\n"
        "from tests.db.test_fixtures import Base\n\n"
        f"app = Carboy(extensions=[Database({url!r}, metadata=Base.metadata)])\n"
    )


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["db", *args, "--app", "fxapp"])


@pytest.mark.usefixtures("project")
def test_dump_and_load_commands_write_and_read_a_json_file(database: Database) -> None:
    use_app(database)
    add_rows(database)
    expected = contents(database)

    dumped = run("dump", "-o", "seed.json")
    printed = run("dump", "Author")
    wipe(database)
    loaded = run("load", "seed.json")
    again = run("load", "seed.json")

    assert dumped.output == "Wrote 4 rows to seed.json.\n"
    assert json.loads(Path("seed.json").read_text(encoding="utf-8")) == ROWS
    assert json.loads(printed.output) == AUTHORS
    assert loaded.output == "Loaded 4 rows from seed.json.\n"
    assert again.output == "Loaded 4 rows from seed.json.\n"
    assert contents(database) == expected


@pytest.mark.usefixtures("project")
def test_load_command_of_a_file_that_is_not_json_says_what_a_fixture_is(
    sqlite: Database,
) -> None:
    use_app(sqlite)
    Path("seed.json").write_text('[{"model": "Author",\n', encoding="utf-8")

    result = run("load", "seed.json")

    assert result.exit_code == 1
    assert result.output == (
        "Error: seed.json is not a JSON fixture: Expecting property name enclosed in double "
        'quotes at line 2, column 1. A fixture is a list of {"model": ..., "pk": ..., '
        "\"fields\": {...}} objects, as 'carboy db dump' writes.\n"
    )


@pytest.mark.usefixtures("project")
def test_load_command_of_a_fixture_that_is_not_a_list_names_the_problem(
    sqlite: Database,
) -> None:
    use_app(sqlite)
    Path("seed.json").write_text('{"model": "Author"}', encoding="utf-8")

    result = run("load", "seed.json")

    assert result.exit_code == 1
    assert result.output == (
        "Error: A fixture is a list of rows, and this one is a dict. Give a list of "
        '{"model": ..., "pk": ..., "fields": {...}} objects, as dump() writes.\n'
    )


@pytest.mark.usefixtures("project")
def test_load_command_that_fails_half_way_writes_no_row(sqlite: Database) -> None:
    use_app(sqlite)
    orphan = {**ENTRY, "fields": {**ENTRY["fields"], "author_id": 99}}
    Path("seed.json").write_text(json.dumps([*AUTHORS, orphan]), encoding="utf-8")

    result = run("load", "seed.json")

    assert result.exit_code == 1
    assert result.output == (
        "Error: Loading seed.json failed, and no row was written, on the database at "
        f"{sqlite.urls.safe()} (the url given to Database()): IntegrityError: FOREIGN KEY "
        "constraint failed\n"
    )
    assert contents(sqlite)["mig_fx_author"] == []


@pytest.mark.usefixtures("project")
def test_dump_command_of_an_unknown_model_says_which_there_are(sqlite: Database) -> None:
    use_app(sqlite)

    result = run("dump", "Writer")

    assert result.exit_code == 1
    assert result.output == (
        "Error: There is no model or table named 'Writer'. Name one of: Author, Entry, "
        "mig_fx_author, mig_fx_entry, mig_fx_keyword.\n"
    )


@pytest.mark.usefixtures("project")
def test_dump_command_on_an_unreachable_database_hides_the_password() -> None:
    use_app(Database("postgresql://carboy:s3cret@127.0.0.1:1/nowhere"))

    result = run("dump")

    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: Dumping the rows failed, on the database at "
        "postgresql+psycopg://carboy:***@127.0.0.1:1/nowhere (the url given to Database()): "
        "OperationalError: "
    )
    assert "s3cret" not in result.output
