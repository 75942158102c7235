"""The declarative base of carboy's models, and mixins for common columns.

Models are plain SQLAlchemy 2 typed models: ``Mapped``, ``mapped_column`` and
``relationship`` work as SQLAlchemy documents them. ``Model`` adds what makes
migrations stable and names predictable::

    class BlogPost(Model, TimestampMixin):          # table "blog_post"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(String(200))
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from carboy.db.types import UTCDateTime

__all__ = ["NAMING_CONVENTION", "Model", "TimestampMixin", "VersionMixin", "table_name", "utcnow"]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names derived from tables and columns.

Without them, databases invent names of their own, and a migration that must
drop a constraint cannot name it the same way on every database.
"""

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def table_name(class_name: str) -> str:
    """Return the table name of a model class: ``BlogPost`` -> ``blog_post``.

    Acronyms stay one word: ``HTTPLog`` -> ``http_log``.
    """
    return _WORD_BOUNDARY.sub("_", class_name).lower()


def utcnow() -> datetime:
    """Return the current time in UTC, timezone-aware: the default for datetime columns."""
    return datetime.now(UTC)


class Model(DeclarativeBase):
    """The base class of an app's models.

    A model's table is named after its class in snake case unless it sets
    ``__tablename__``; a subclass of a mapped model that declares no primary
    key of its own shares its parent's table (single-table inheritance).
    Constraints are named by ``NAMING_CONVENTION``. A ``Mapped[datetime]``
    column is a ``UTCDateTime``: stored in UTC and read back timezone-aware
    on every database, so that it compares with ``utcnow()`` everywhere.
    """

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}

    @declared_attr.directive
    @classmethod
    def __tablename__(cls) -> str | None:
        for base in cls.__mro__[1:]:
            if getattr(base, "__table__", None) is not None and not _declares_primary_key(cls):
                return None
        return table_name(cls.__name__)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _give_the_name_to_the_app(cls)

    def __repr__(self) -> str:
        mapper = self.__mapper__
        identity = mapper.primary_key_from_instance(self)
        keys = ", ".join(
            f"{column.key}={value!r}"
            for column, value in zip(mapper.primary_key, identity, strict=True)
        )
        return f"<{type(self).__name__} {keys}>"


def _give_the_name_to_the_app(cls: type[Model]) -> None:
    """Let an app's model own a class name that a battery's model has too.

    SQLAlchemy finds a relationship target written as a name (``"Group"``,
    or ``Mapped["Group"]`` under postponed annotations) in the class registry
    that every ``Model`` shares; two classes of one name make it ambiguous,
    and mapping fails. carboy's batteries name their own models by class,
    never by string, so the app's class takes the short name, whichever was
    declared first; the battery's stays reachable by its full path, such as
    ``"carboy.auth.models.Group"``. Two app classes of one name stay
    ambiguous, as SQLAlchemy makes them.
    """
    names = cls.registry._class_registry
    marker = names.get(cls.__name__)
    refs = getattr(marker, "contents", None)
    if not refs:
        return
    classes = [ref() for ref in refs]
    apps = [found for found in classes if found is not None and not _is_battery(found)]
    if len(apps) == 1 and len(classes) > 1:
        names[cls.__name__] = apps[0]


def _is_battery(cls: type) -> bool:
    return cls.__module__.startswith("carboy.")


def _declares_primary_key(cls: type) -> bool:
    for value in vars(cls).values():
        column = getattr(value, "column", None)
        if column is not None and getattr(column, "primary_key", False):
            return True
    return False


class TimestampMixin:
    """Add ``created_at`` and ``updated_at``, timezone-aware, set by carboy in UTC.

    The values are made in Python, not by the database, so that they are
    known without reading the row back; ``UTCDateTime`` makes them the same
    kind of value on SQLite, PostgreSQL and MariaDB.
    """

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )


class VersionMixin:
    """Add a ``version`` column that guards against lost updates.

    Every UPDATE checks that the row still has the version it was read with
    and increments it. When another transaction changed the row in between,
    the update matches no row, SQLAlchemy raises ``StaleDataError``, and
    carboy answers 409 Conflict: the second writer must reload, instead of
    silently overwriting the first.
    """

    @declared_attr
    @classmethod
    def version(cls) -> Mapped[int]:
        return mapped_column(nullable=False)

    @declared_attr.directive
    @classmethod
    def __mapper_args__(cls) -> dict[str, Any]:
        # Only the base-most mapped class names the column; subclasses inherit it.
        if any(getattr(base, "__table__", None) is not None for base in cls.__mro__[1:]):
            return {}
        return {"version_id_col": cls.version}
