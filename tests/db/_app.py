"""The app the database tests drive: the same routes as sync and as async handlers.

``/sync/...`` routes take a ``Session`` and run in worker threads;
``/async/...`` routes take an ``AsyncSession``. Each pair does the same work,
so that every behaviour is checked both ways on every database.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from pydantic import BaseModel
from sqlalchemy import Column, ForeignKey, String, Table, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from carboy import Carboy, HTTPException, Query
from carboy.config import Settings
from carboy.db import (
    AsyncSession,
    Database,
    Model,
    PageRequest,
    Session,
    TimestampMixin,
    VersionMixin,
    atomic,
    first_or_404,
    get_or_404,
    paginate,
)

volume_label = Table(
    "volume_label",
    Model.metadata,
    Column("volume_id", ForeignKey("volume.id", ondelete="CASCADE"), primary_key=True),
    Column("label_id", ForeignKey("label.id", ondelete="CASCADE"), primary_key=True),
)


class Shelf(Model, TimestampMixin):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    volumes: Mapped[list[Volume]] = relationship(
        back_populates="shelf", cascade="all, delete-orphan", order_by="Volume.id"
    )


class Volume(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    shelf_id: Mapped[int] = mapped_column(ForeignKey("shelf.id"))
    shelf: Mapped[Shelf] = relationship(back_populates="volumes")
    labels: Mapped[list[Label]] = relationship(secondary=volume_label, order_by="Label.name")


class Label(Model):
    __table_args__ = (UniqueConstraint("name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class LedgerEntry(Model, VersionMixin):
    id: Mapped[int] = mapped_column(primary_key=True)
    balance: Mapped[int]


TABLES = [Shelf.__table__, Volume.__table__, Label.__table__, volume_label, LedgerEntry.__table__]


class ShelfIn(BaseModel):
    name: str


class VolumeIn(BaseModel):
    title: str
    labels: list[str] = []


def shelf_data(shelf: Shelf) -> dict[str, Any]:
    return {"id": shelf.id, "name": shelf.name}


def volume_data(volume: Volume) -> dict[str, Any]:
    return {
        "id": volume.id,
        "title": volume.title,
        "shelf_id": volume.shelf_id,
        "labels": [label.name for label in volume.labels],
    }


class Gate:
    """Hold the first ``parties`` requests until all have read, then let them write."""

    def __init__(self, parties: int) -> None:
        self.parties = parties
        self.arrived = 0
        self.event: anyio.Event | None = None

    async def wait(self) -> None:
        if self.event is None:
            self.event = anyio.Event()
        self.arrived += 1
        if self.arrived >= self.parties:
            self.event.set()
        with anyio.move_on_after(5):
            await self.event.wait()


def make_app(url: str, *, raise_on_lazy_load: bool = False) -> tuple[Carboy, Database]:
    """Return an app on the database at ``url``, with its ``Database``."""
    db = Database(url)
    settings = Settings(database_raise_on_lazy_load=raise_on_lazy_load)
    app = Carboy(extensions=[db], settings=settings)
    app.state.gate = Gate(2)

    # CRUD ------------------------------------------------------------------

    @app.post("/async/shelves", status_code=201)
    async def add_shelf(data: ShelfIn, session: AsyncSession) -> dict[str, Any]:
        shelf = Shelf(name=data.name)
        session.add(shelf)
        await session.flush()
        return shelf_data(shelf)

    @app.post("/sync/shelves", status_code=201)
    def add_shelf_sync(data: ShelfIn, session: Session) -> dict[str, Any]:
        shelf = Shelf(name=data.name)
        session.add(shelf)
        session.flush()
        return shelf_data(shelf)

    @app.get("/async/shelves/{shelf_id}")
    async def get_shelf(shelf_id: int, session: AsyncSession) -> dict[str, Any]:
        statement = (
            select(Shelf)
            .where(Shelf.id == shelf_id)
            .options(selectinload(Shelf.volumes).selectinload(Volume.labels))
        )
        shelf = await first_or_404(session, statement, detail="No such shelf.")
        return {**shelf_data(shelf), "volumes": [volume_data(v) for v in shelf.volumes]}

    @app.get("/sync/shelves/{shelf_id}")
    def get_shelf_sync(shelf_id: int, session: Session) -> dict[str, Any]:
        statement = (
            select(Shelf)
            .where(Shelf.id == shelf_id)
            .options(selectinload(Shelf.volumes).selectinload(Volume.labels))
        )
        shelf = first_or_404(session, statement, detail="No such shelf.")
        return {**shelf_data(shelf), "volumes": [volume_data(v) for v in shelf.volumes]}

    @app.put("/async/shelves/{shelf_id}")
    async def rename_shelf(shelf_id: int, data: ShelfIn, session: AsyncSession) -> dict[str, Any]:
        shelf = await get_or_404(session, Shelf, shelf_id)
        shelf.name = data.name
        return shelf_data(shelf)

    @app.put("/sync/shelves/{shelf_id}")
    def rename_shelf_sync(shelf_id: int, data: ShelfIn, session: Session) -> dict[str, Any]:
        shelf = get_or_404(session, Shelf, shelf_id)
        shelf.name = data.name
        return shelf_data(shelf)

    @app.delete("/async/shelves/{shelf_id}", status_code=204)
    async def delete_shelf(shelf_id: int, session: AsyncSession) -> None:
        shelf = await get_or_404(session, Shelf, shelf_id)
        await session.delete(shelf)

    @app.delete("/sync/shelves/{shelf_id}", status_code=204)
    def delete_shelf_sync(shelf_id: int, session: Session) -> None:
        session.delete(get_or_404(session, Shelf, shelf_id))

    # One-to-many and many-to-many -------------------------------------------

    @app.post("/async/shelves/{shelf_id}/volumes", status_code=201)
    async def add_volume(shelf_id: int, data: VolumeIn, session: AsyncSession) -> dict[str, Any]:
        shelf = await get_or_404(session, Shelf, shelf_id)
        labels = []
        for name in data.labels:
            label = await session.scalar(select(Label).where(Label.name == name))
            labels.append(label or Label(name=name))
        volume = Volume(title=data.title, shelf=shelf, labels=labels)
        session.add(volume)
        await session.flush()
        return volume_data(volume)

    @app.post("/sync/shelves/{shelf_id}/volumes", status_code=201)
    def add_volume_sync(shelf_id: int, data: VolumeIn, session: Session) -> dict[str, Any]:
        shelf = get_or_404(session, Shelf, shelf_id)
        labels = []
        for name in data.labels:
            label = session.scalar(select(Label).where(Label.name == name))
            labels.append(label or Label(name=name))
        volume = Volume(title=data.title, shelf=shelf, labels=labels)
        session.add(volume)
        session.flush()
        return volume_data(volume)

    @app.get("/async/labels/{name}/volumes")
    async def labelled(name: str, session: AsyncSession) -> list[str]:
        statement = (
            select(Volume.title).join(Volume.labels).where(Label.name == name).order_by(Volume.id)
        )
        return list(await session.scalars(statement))

    @app.get("/sync/labels/{name}/volumes")
    def labelled_sync(name: str, session: Session) -> list[str]:
        statement = (
            select(Volume.title).join(Volume.labels).where(Label.name == name).order_by(Volume.id)
        )
        return list(session.scalars(statement))

    # Rollback and savepoints -------------------------------------------------

    @app.post("/async/fail")
    async def fail(data: ShelfIn, how: str, session: AsyncSession) -> None:
        session.add(Shelf(name=data.name))
        await session.flush()
        if how == "http":
            raise HTTPException(409, "Refused after writing.")
        raise RuntimeError("boom after writing")

    @app.post("/sync/fail")
    def fail_sync(data: ShelfIn, how: str, session: Session) -> None:
        session.add(Shelf(name=data.name))
        session.flush()
        if how == "http":
            raise HTTPException(409, "Refused after writing.")
        raise RuntimeError("boom after writing")

    @app.post("/async/nested")
    async def nested(session: AsyncSession) -> dict[str, str]:
        session.add(Shelf(name="before"))
        try:
            async with atomic(session):
                session.add(Shelf(name="inside"))
                await session.flush()
                raise ValueError("undo the inside only")
        except ValueError:
            pass
        session.add(Label(name="taken"))
        await session.flush()
        try:
            async with atomic(session):
                session.add(Label(name="taken"))
        except IntegrityError:
            outcome = "duplicate refused"
        session.add(Shelf(name="after"))
        return {"outcome": outcome}

    @app.post("/sync/nested")
    def nested_sync(session: Session) -> dict[str, str]:
        session.add(Shelf(name="before"))
        try:
            with atomic(session):
                session.add(Shelf(name="inside"))
                session.flush()
                raise ValueError("undo the inside only")
        except ValueError:
            pass
        session.add(Label(name="taken"))
        session.flush()
        try:
            with atomic(session):
                session.add(Label(name="taken"))
        except IntegrityError:
            outcome = "duplicate refused"
        session.add(Shelf(name="after"))
        return {"outcome": outcome}

    @app.post("/async/late-conflict")
    async def late_conflict(session: AsyncSession) -> dict[str, str]:
        # Not flushed: the unique violation surfaces at the commit.
        session.add(Label(name="taken"))
        return {"said": "ok"}

    @app.post("/sync/late-conflict")
    def late_conflict_sync(session: Session) -> dict[str, str]:
        session.add(Label(name="taken"))
        return {"said": "ok"}

    # Concurrent updates ------------------------------------------------------

    @app.post("/async/ledger/{entry_id}")
    async def set_balance(entry_id: int, balance: int, session: AsyncSession) -> dict[str, int]:
        entry = await get_or_404(session, LedgerEntry, entry_id)
        await app.state.gate.wait()
        entry.balance = balance
        await session.flush()
        return {"balance": entry.balance, "version": entry.version}

    @app.post("/sync/ledger/{entry_id}")
    def set_balance_sync(entry_id: int, balance: int, session: Session) -> dict[str, int]:
        entry = get_or_404(session, LedgerEntry, entry_id)
        anyio.from_thread.run(app.state.gate.wait)
        entry.balance = balance
        session.flush()
        return {"balance": entry.balance, "version": entry.version}

    @app.post("/async/ledger/{entry_id}/add")
    async def add_to(entry_id: int, amount: int, session: AsyncSession) -> dict[str, int]:
        statement = select(LedgerEntry).where(LedgerEntry.id == entry_id).with_for_update()
        entry = (await session.scalars(statement)).one()
        await anyio.sleep(0.05)
        entry.balance += amount
        return {"balance": entry.balance}

    @app.post("/sync/ledger/{entry_id}/add")
    def add_to_sync(entry_id: int, amount: int, session: Session) -> dict[str, int]:
        statement = select(LedgerEntry).where(LedgerEntry.id == entry_id).with_for_update()
        entry = session.scalars(statement).one()
        anyio.from_thread.run(anyio.sleep, 0.05)
        entry.balance += amount
        return {"balance": entry.balance}

    # Pagination ----------------------------------------------------------------

    @app.get("/async/labels")
    async def labels(pages: PageRequest, session: AsyncSession) -> dict[str, Any]:
        page = await paginate(session, select(Label).order_by(Label.name), pages)
        return page.map(lambda label: label.name).to_dict()

    @app.get("/sync/labels")
    def labels_sync(pages: PageRequest, session: Session) -> dict[str, Any]:
        page = paginate(session, select(Label).order_by(Label.name), pages)
        return page.map(lambda label: label.name).to_dict()

    # Lazy loads --------------------------------------------------------------------

    @app.get("/sync/shelves/{shelf_id}/lazy")
    def lazy_sync(
        shelf_id: int, session: Session, eager: Annotated[bool, Query()] = False
    ) -> list[str]:
        statement = select(Shelf).where(Shelf.id == shelf_id)
        if eager:
            statement = statement.options(selectinload(Shelf.volumes))
        shelf = session.scalars(statement).one()
        return [volume.title for volume in shelf.volumes]

    return app, db
