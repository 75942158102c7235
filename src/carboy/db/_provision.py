"""Create and drop a whole database on its server, as the tests of a project need.

The server is reached through the same driver and credentials, connected to
its maintenance database (``postgres`` on PostgreSQL, none on MariaDB and
MySQL) in autocommit, since CREATE and DROP DATABASE run outside a
transaction. A SQLite database is its file: made on first connect, removed
to drop it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import Connection, create_engine

from carboy.db._urls import DatabaseURLs

__all__ = ["create_database", "drop_database"]


def create_database(urls: DatabaseURLs, *, replace: bool = False) -> None:
    """Create the database ``urls`` names; with ``replace``, drop it first if it exists."""
    if urls.backend == "sqlite":
        if replace:
            drop_database(urls)
        return
    with _server(urls) as server:
        quoted = _quoted(server, urls)
        if replace:
            server.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}{_force(urls)}")
        server.exec_driver_sql(f"CREATE DATABASE {quoted}")


def drop_database(urls: DatabaseURLs) -> None:
    """Drop the database ``urls`` names, if it exists, with every row in it."""
    if urls.backend == "sqlite":
        if not urls.is_sqlite_memory and urls.sync.database:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{urls.sync.database}{suffix}").unlink(missing_ok=True)
        return
    with _server(urls) as server:
        quoted = _quoted(server, urls)
        server.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}{_force(urls)}")


def _quoted(server: Connection, urls: DatabaseURLs) -> str:
    name = urls.sync.database
    if not name:
        raise ValueError(f"The database URL {urls.safe()} names no database to create or drop.")
    return server.dialect.identifier_preparer.quote(name)


def _force(urls: DatabaseURLs) -> str:
    # Connections another process left open would block the drop on PostgreSQL.
    return " WITH (FORCE)" if urls.backend == "postgresql" else ""


@contextlib.contextmanager
def _server(urls: DatabaseURLs) -> Iterator[Connection]:
    maintenance = "postgres" if urls.backend == "postgresql" else None
    # URL.set leaves a field alone when given None; _replace clears it.
    engine = create_engine(urls.sync._replace(database=maintenance), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()
