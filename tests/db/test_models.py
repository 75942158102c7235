"""Model: table names, constraint names, mixins, and the lazy-load guard."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    UniqueConstraint,
    create_engine,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from carboy import Carboy
from carboy.db import NAMING_CONVENTION, Database, Model, UTCDateTime, VersionMixin
from carboy.db._urls import resolve_urls
from carboy.db.models import table_name, utcnow
from carboy.testing import TestClient

Make = Callable[..., tuple[Carboy, Database]]


@pytest.mark.parametrize(
    ("class_name", "table"),
    [
        ("Post", "post"),
        ("BlogPost", "blog_post"),
        ("HTTPLog", "http_log"),
        ("APITokenUse", "api_token_use"),
        ("Tag2", "tag2"),
    ],
)
def test_table_names_come_from_class_names(class_name: str, table: str) -> None:
    assert table_name(class_name) == table


def test_naming_convention_names_constraints() -> None:
    class Base(DeclarativeBase):
        metadata = MetaData(naming_convention=NAMING_CONVENTION)

    class Owner(Base):
        __tablename__ = "owner"
        id: Mapped[int] = mapped_column(primary_key=True)

    class Pet(Base):
        __tablename__ = "pet"
        __table_args__ = (UniqueConstraint("name", "owner_id"),)
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(index=True)
        owner_id: Mapped[int] = mapped_column(ForeignKey("owner.id"))

    table = Pet.__table__
    names = {constraint.name for constraint in table.constraints}  # type: ignore[attr-defined]
    assert names == {"pk_pet", "uq_pet_name_owner_id", "fk_pet_owner_id_owner"}
    assert {index.name for index in table.indexes} == {"ix_pet_name"}  # type: ignore[attr-defined]


def test_model_uses_the_naming_convention_and_names_tables() -> None:
    assert Model.metadata.naming_convention == NAMING_CONVENTION

    class ReadingList(Model):
        id: Mapped[int] = mapped_column(primary_key=True)

    class StarredList(ReadingList):
        starred: Mapped[bool | None]

    try:
        assert ReadingList.__table__.name == "reading_list"
        # No primary key of its own: single-table inheritance.
        assert StarredList.__table__ is ReadingList.__table__
        assert repr(ReadingList(id=3)) == "<ReadingList id=3>"
    finally:
        Model.metadata.remove(ReadingList.__table__)  # type: ignore[arg-type]


def test_version_mixin_sets_the_version_column() -> None:
    class Base(DeclarativeBase):
        pass

    class Account(Base, VersionMixin):
        __tablename__ = "account"
        id: Mapped[int] = mapped_column(primary_key=True)

    assert Account.__mapper__.version_id_col is Account.__table__.c.version


def test_utc_datetime_round_trips_aware_values(url: str) -> None:
    metadata = MetaData()
    moments = Table(
        "moment", metadata, Column("id", Integer, primary_key=True), Column("at", UTCDateTime())
    )
    engine = create_engine(resolve_urls(url, "test").sync)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    paris = timezone(timedelta(hours=1))
    try:
        with engine.begin() as connection:
            connection.execute(
                moments.insert(),
                [
                    {"id": 1, "at": datetime(2026, 1, 2, 13, 4, 5, 123456, tzinfo=paris)},
                    {"id": 2, "at": datetime(2026, 1, 2, 12, 4, 5)},
                    {"id": 3, "at": None},
                ],
            )
            rows = connection.execute(select(moments.c.at).order_by(moments.c.id)).scalars()
            assert list(rows) == [
                datetime(2026, 1, 2, 12, 4, 5, 123456, tzinfo=UTC),
                datetime(2026, 1, 2, 12, 4, 5, tzinfo=UTC),
                None,
            ]
    finally:
        metadata.drop_all(engine)
        engine.dispose()


class Reminder(Model):
    """A plain ``Mapped[datetime]``, as a newcomer writes it, with carboy's ``utcnow``."""

    id: Mapped[int] = mapped_column(primary_key=True)
    due: Mapped[datetime]
    made: Mapped[datetime] = mapped_column(default=utcnow)


def test_a_plain_mapped_datetime_is_stored_and_read_back_aware(url: str) -> None:
    engine = create_engine(resolve_urls(url, "test").sync)
    table = Reminder.__table__
    Model.metadata.drop_all(engine, tables=[table])
    Model.metadata.create_all(engine, tables=[table])
    paris = timezone(timedelta(hours=1))
    try:
        with Session(engine) as session:
            session.add(Reminder(id=1, due=datetime(2026, 1, 2, 13, 4, 5, 123456, tzinfo=paris)))
            session.commit()
        with Session(engine) as session:
            reminder = session.get_one(Reminder, 1)
            overdue = session.scalars(select(Reminder.id).where(Reminder.due < utcnow())).all()

            assert isinstance(table.c.due.type, UTCDateTime)
            assert reminder.due == datetime(2026, 1, 2, 12, 4, 5, 123456, tzinfo=UTC)
            assert reminder.due.tzinfo is not None and reminder.made.tzinfo is not None
            assert timedelta(0) <= utcnow() - reminder.made < timedelta(minutes=1)
            assert overdue == [1]
    finally:
        Model.metadata.drop_all(engine, tables=[table])
        engine.dispose()


def test_lazy_loads_raise_when_the_guard_is_on(make: Make) -> None:
    app, _ = make(raise_on_lazy_load=True)
    with TestClient(app, raise_server_exceptions=False) as client:
        shelf_id = client.post("/sync/shelves", json={"name": "A"}).json()["id"]
        client.post(f"/sync/shelves/{shelf_id}/volumes", json={"title": "Emma"})
        assert client.get(f"/sync/shelves/{shelf_id}/lazy?eager=true").json() == ["Emma"]
    guard = r"'Shelf.volumes' is not available due to lazy='raise"
    with pytest.raises(Exception, match=guard), TestClient(app) as client:
        client.get(f"/sync/shelves/{shelf_id}/lazy")


def test_lazy_loads_work_when_the_guard_is_off(make: Make) -> None:
    app, _ = make()
    with TestClient(app) as client:
        shelf_id = client.post("/sync/shelves", json={"name": "A"}).json()["id"]
        client.post(f"/sync/shelves/{shelf_id}/volumes", json={"title": "Emma"})
        assert client.get(f"/sync/shelves/{shelf_id}/lazy").json() == ["Emma"]


# A class name an app shares with a battery's model ------------------------------------------

SRC = str(Path(__file__).resolve().parents[2] / "src")

SHARED_NAME_SCRIPT = """
import sys

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, configure_mappers, mapped_column, relationship

from carboy.db import Model

if sys.argv[1] == "battery-first":
    from carboy.auth import Group as AuthGroup


class Group(Model):
    __tablename__ = "team_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    members: Mapped[list["Member"]] = relationship(back_populates="group")


class Member(Model):
    __tablename__ = "team_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("team_group.id"))
    group: Mapped["Group"] = relationship(back_populates="members")


if sys.argv[1] == "app-first":
    from carboy.auth import Group as AuthGroup
from carboy.auth.user import User

configure_mappers()
print(
    Member.group.property.mapper.class_ is Group,
    User.groups.property.mapper.class_ is AuthGroup,
    Group.__table__ is not AuthGroup.__table__,
)
"""


@pytest.mark.parametrize("order", ["battery-first", "app-first"])
def test_an_app_model_may_share_its_class_name_with_a_battery_model(
    tmp_path: Path, order: str
) -> None:
    # carboy.auth has a Group; an app's own Group, named by string in a
    # relationship, must resolve to the app's, in either import order.
    script = tmp_path / "shared_name.py"
    script.write_text(SHARED_NAME_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), order],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "True"]
