"""Small models for the admin tests, on tables of their own (``adm_*``)."""

from __future__ import annotations

import enum
from datetime import date

from sqlalchemy import Column, Enum, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carboy.db import Model


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
