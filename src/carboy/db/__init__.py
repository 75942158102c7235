"""carboy's database battery: SQLAlchemy 2 models and sessions, Alembic migrations.

::

    from sqlalchemy.orm import Mapped, mapped_column
    from carboy import Carboy
    from carboy.db import AsyncSession, Database, Model

    class Note(Model):
        id: Mapped[int] = mapped_column(primary_key=True)
        text: Mapped[str]

    app = Carboy(extensions=[Database()])

    @app.get("/notes/{note_id}")
    async def note(note_id: int, session: AsyncSession) -> dict[str, object]:
        row = await get_or_404(session, Note, note_id)
        return {"id": row.id, "text": row.text}

Install a driver with the extra of the database: ``pip install
'carboy[sqlite]'``, ``'carboy[postgres]'`` or ``'carboy[mysql]'``.
"""

from __future__ import annotations

try:
    import sqlalchemy  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "carboy.db needs SQLAlchemy and Alembic, which are not installed. Install them with "
        "the extra of your database: pip install 'carboy[sqlite]' (or postgres, or mysql)."
    ) from exc

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from carboy.db.batteries import BatteryMigrations
from carboy.db.exceptions import FixtureError, MigrationError
from carboy.db.extension import Database, Pool
from carboy.db.fixtures import dump, load
from carboy.db.models import NAMING_CONVENTION, Model, TimestampMixin, VersionMixin
from carboy.db.queries import (
    MAX_PER_PAGE,
    Page,
    PageRequest,
    atomic,
    first_or_404,
    get_or_404,
    get_or_create,
    paginate,
)
from carboy.db.types import UTCDateTime

__all__ = [
    "MAX_PER_PAGE",
    "NAMING_CONVENTION",
    "AsyncSession",
    "BatteryMigrations",
    "Database",
    "FixtureError",
    "MigrationError",
    "Model",
    "Page",
    "PageRequest",
    "Pool",
    "Session",
    "TimestampMixin",
    "UTCDateTime",
    "VersionMixin",
    "atomic",
    "dump",
    "first_or_404",
    "get_or_404",
    "get_or_create",
    "load",
    "paginate",
]
