"""Small models for the admin tests, on tables of their own (``adm_*``)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Enum,
    Float,
    ForeignKey,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carboy.db import Model, UTCDateTime
from carboy.db.models import utcnow


class Status(enum.Enum):
    DRAFT = "draft"
    PUBLISHED = "published"


post_tags = Table(
    "adm_post_tag",
    Model.metadata,
    Column("post_id", ForeignKey("adm_post.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("adm_tag.id", ondelete="CASCADE"), primary_key=True),
)


class AdmAuthor(Model):
    __tablename__ = "adm_author"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200), default="")

    def __str__(self) -> str:
        return self.name


class AdmTag(Model):
    __tablename__ = "adm_tag"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))

    def __str__(self) -> str:
        return self.name


class AdmPost(Model):
    __tablename__ = "adm_post"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(2000), default="")
    is_published: Mapped[bool] = mapped_column(default=False)
    status: Mapped[Status] = mapped_column(Enum(Status, name="adm_status"), default=Status.DRAFT)
    published_on: Mapped[date | None] = mapped_column(default=None)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("adm_author.id"), default=None)
    author: Mapped[AdmAuthor | None] = relationship()
    tags: Mapped[list[AdmTag]] = relationship(secondary=post_tags)

    def __str__(self) -> str:
        return self.title


TABLES = ("adm_author", "adm_tag", "adm_post", "adm_post_tag")


# The add, edit and delete pages' models ------------------------------------------------


class Kind(enum.Enum):
    NEWS = "news"
    LONG_READ = "long"


class AdmWriter(Model):
    __tablename__ = "adm_writer"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)

    def __str__(self) -> str:
        return self.name


article_tags = Table(
    "adm_article_tag",
    Model.metadata,
    Column("article_id", ForeignKey("adm_article.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("adm_tag.id", ondelete="CASCADE"), primary_key=True),
)


class AdmArticle(Model):
    """A model with a column of each kind the add and edit pages draw."""

    __tablename__ = "adm_article"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str | None] = mapped_column(Text, default=None)
    views: Mapped[int] = mapped_column(default=0)
    rating: Mapped[float | None] = mapped_column(Float, default=None)
    price: Mapped[Decimal | None] = mapped_column(Numeric(6, 2), default=None)
    published_on: Mapped[date | None] = mapped_column(default=None)
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    is_featured: Mapped[bool] = mapped_column(default=False)
    kind: Mapped[Kind] = mapped_column(Enum(Kind, name="adm_kind"), default=Kind.NEWS)
    size: Mapped[str | None] = mapped_column(
        String(1), default=None, info={"choices": [("s", "Small"), ("l", "Large")]}
    )
    extra: Mapped[Any] = mapped_column(JSON, nullable=True, default=None)
    cover: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    writer_id: Mapped[int] = mapped_column(ForeignKey("adm_writer.id"))
    writer: Mapped[AdmWriter] = relationship(foreign_keys=[writer_id])
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("adm_writer.id"), default=None)
    reviewer: Mapped[AdmWriter | None] = relationship(foreign_keys=[reviewer_id])
    tags: Mapped[list[AdmTag]] = relationship(secondary=article_tags, order_by=AdmTag.id)
    notes: Mapped[list[AdmNote]] = relationship(
        back_populates="article", cascade="all, delete-orphan", order_by="AdmNote.id"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __str__(self) -> str:
        return self.title


class AdmNote(Model):
    """Deleted with its article (an ORM cascade)."""

    __tablename__ = "adm_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("adm_article.id"))
    article: Mapped[AdmArticle] = relationship(back_populates="notes")
    text: Mapped[str] = mapped_column(String(200))

    def __str__(self) -> str:
        return self.text


class AdmCitation(Model):
    """Stops its article's deletion: a NOT NULL key with no cascade."""

    __tablename__ = "adm_citation"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("adm_article.id"))
    source: Mapped[str] = mapped_column(String(200))

    def __str__(self) -> str:
        return self.source


class AdmChapter(Model):
    """An inline row with a value that must be unique across the table."""

    __tablename__ = "adm_chapter"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("adm_article.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(20), unique=True)

    def __str__(self) -> str:
        return self.slug


FORM_TABLES = (
    "adm_writer",
    "adm_article",
    "adm_article_tag",
    "adm_note",
    "adm_citation",
    "adm_chapter",
)
"""The tables of the add, edit and delete pages' models."""
