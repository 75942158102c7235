"""The database battery's startup checks: ``db.E001`` and on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from carboy.checks import CheckMessage
from carboy.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.db.extension import Database

__all__ = ["CHECK_IDS", "register_checks"]

CHECK_IDS: dict[str, str] = {
    "db.E001": (
        "The database URL (``Database(url=...)`` or ``CARBOY_DATABASE_URL``) cannot be used: "
        "it cannot be read, names a database or driver carboy does not support, or needs a "
        "driver that is not installed (the message says which). Fix the URL, or install the "
        "driver's extra, such as ``pip install 'carboy[postgres]'``."
    ),
    "db.E002": (
        "A ``String`` column has no length, which MySQL and MariaDB cannot store. Give it one, "
        "as ``mapped_column(String(200))``, or make it a ``Text`` column."
    ),
    "db.W001": (
        "``database_raise_on_lazy_load`` is on in a deployment, so a page that lazily loads a "
        "relationship fails instead of querying. Keep it for tests and development, and set "
        "``CARBOY_DATABASE_RAISE_ON_LAZY_LOAD=0`` in production."
    ),
    "db.W002": (
        "The migrations folder does not exist, so the production database's tables cannot be "
        "created or upgraded. Run ``carboy db init``, then ``carboy db makemigrations``."
    ),
}
"""What each check id of this module means and how to fix it: the checks reference."""


def register_checks(app: Carboy, database: Database) -> None:
    """Register the database's checks with ``app``."""

    def check_url(_app: Carboy) -> list[CheckMessage]:
        from carboy.db._urls import check_driver

        try:
            urls = database.urls
            check_driver(urls.sync, urls.source)
            check_driver(urls.async_, urls.source)
        except ImproperlyConfigured as exc:
            return [
                CheckMessage(
                    "db.E001",
                    "error",
                    str(exc),
                    "Set CARBOY_DATABASE_URL (or Database(url=...)) to a database URL "
                    "whose driver is installed.",
                )
            ]
        return []

    def check_string_lengths(_app: Carboy) -> list[CheckMessage]:
        # MySQL and MariaDB have no VARCHAR without a length: the table could
        # not be created, and the migration would fail halfway.
        try:
            backend = database.urls.backend
        except ImproperlyConfigured:
            return []
        if backend not in ("mysql", "mariadb"):
            return []
        from sqlalchemy import String, Text

        return [
            CheckMessage(
                "db.E002",
                "error",
                f"The column {table.name}.{column.name} is a String with no length, which "
                f"{backend} cannot store.",
                "Give it one, as mapped_column(String(200)), or make it a Text column.",
            )
            for table in database.metadata.sorted_tables
            for column in table.columns
            if isinstance(column.type, String)
            and not isinstance(column.type, Text)
            and column.type.length is None
        ]

    def check_deploy(_app: Carboy) -> list[CheckMessage]:
        messages = []
        if app.settings.database_raise_on_lazy_load:
            messages.append(
                CheckMessage(
                    "db.W001",
                    "warning",
                    "database_raise_on_lazy_load is on: a page that lazily loads a "
                    "relationship fails instead of running a query.",
                    "Keep it for tests and development; set CARBOY_DATABASE_RAISE_ON_LAZY_LOAD=0 "
                    "in production.",
                )
            )
        if not database.migrations.is_dir():
            messages.append(
                CheckMessage(
                    "db.W002",
                    "warning",
                    f"The migrations folder {str(database.migrations)!r} does not exist, so "
                    "the production database's tables cannot be created or upgraded.",
                    "Run 'carboy db init', then 'carboy db makemigrations -m \"initial\"'.",
                )
            )
        return messages

    app.register_check(check_url)
    app.register_check(check_string_lengths)
    app.register_check(check_deploy, deploy=True)
