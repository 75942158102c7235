"""Connect and statement timeouts, in the words of each driver and database.

The statement timeout is enforced twice. The server cancels a statement
that runs too long and keeps the connection (PostgreSQL's
``statement_timeout``, MariaDB's ``max_statement_time``, MySQL's
``max_execution_time``, which covers SELECTs only). The drivers that can
(asyncpg, asyncmy, PyMySQL, mysqlclient) stop waiting ``DRIVER_GRACE``
seconds later, for a server or a network that went silent: the server's
cancel, which keeps the connection, comes first. psycopg has no such
timeout of its own: it gets libpq's ``tcp_user_timeout``, which drops a
connection to a host or network that went away, but a server that takes
the packets and never answers holds a sync handler on psycopg until the
server's own timeout, if ever. New connections are bounded everywhere by
the connect timeout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine

__all__ = ["DRIVER_GRACE", "connect_args", "lift_statement_timeout", "set_server_timeout"]

DRIVER_GRACE = 1.0
"""Seconds a driver waits past the statement timeout before it gives up on the server."""

SQLITE_NO_LIMIT_MS = 2**31 - 1


def connect_args(url: URL, connect_timeout: float, statement_timeout: float) -> dict[str, Any]:
    """Return the ``connect_args`` that give ``url``'s driver these timeouts.

    A timeout the URL sets itself (``?connect_timeout=3``) is left to it.

    Args:
        url: The database URL, with its driver.
        connect_timeout: Seconds to wait for a new connection.
        statement_timeout: Seconds a statement may run; 0: no limit.
    """
    driver = url.get_driver_name()
    client = statement_timeout + DRIVER_GRACE if statement_timeout > 0 else None
    args: dict[str, Any] = {}
    if driver in ("psycopg", "psycopg2"):
        # libpq counts whole seconds.
        args["connect_timeout"] = max(1, math.ceil(connect_timeout))
        if client is not None:
            args["options"] = _with_statement_timeout(url.query, statement_timeout)
            # Drops a connection whose packets go unacknowledged that long:
            # a server host or network gone, though not a server that hangs.
            args["tcp_user_timeout"] = _milliseconds(client)
    elif driver == "asyncpg":
        args["timeout"] = connect_timeout
        if statement_timeout > 0:
            args["command_timeout"] = client
            args["server_settings"] = {"statement_timeout": str(_milliseconds(statement_timeout))}
    elif driver in ("pymysql", "asyncmy", "aiomysql", "mysqldb"):
        whole = driver == "mysqldb"
        args["connect_timeout"] = math.ceil(connect_timeout) if whole else connect_timeout
        if client is not None and driver != "aiomysql":
            # Also bounds the wait for the server's greeting, which a
            # silent server never sends.
            args["read_timeout"] = math.ceil(client) if whole else client
            if driver == "pymysql":
                args["write_timeout"] = client
    return {key: value for key, value in args.items() if key not in url.query or key == "options"}


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _with_statement_timeout(query: Mapping[str, Any], seconds: float) -> str:
    given = query.get("options") or ""
    if isinstance(given, tuple):
        given = " ".join(given)
    if "statement_timeout" in given:
        return str(given)
    return f"{given} -c statement_timeout={_milliseconds(seconds)}".strip()


def set_server_timeout(engine: Engine, statement_timeout: float) -> None:
    """Set MySQL's or MariaDB's statement timeout on each new connection of ``engine``.

    PostgreSQL takes it at connect time, from ``connect_args``; MySQL and
    MariaDB only from a ``SET`` on the connection.
    """
    if statement_timeout <= 0 or engine.dialect.name not in ("mysql", "mariadb"):
        return
    dialect: Any = engine.dialect

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The dialect knows MariaDB from MySQL once it has met the server,
        # which it does before the first connection's "connect" event.
        if dialect.is_mariadb:
            statement = f"SET SESSION max_statement_time = {statement_timeout:g}"
        else:
            statement = f"SET SESSION max_execution_time = {_milliseconds(statement_timeout)}"
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()


def sqlite_busy_timeout_ms(statement_timeout: float) -> int:
    """Return SQLite's busy timeout: how long a write waits for another one to finish."""
    return _milliseconds(statement_timeout) if statement_timeout > 0 else SQLITE_NO_LIMIT_MS


def lift_statement_timeout(connection: Connection) -> bool:
    """Turn the statement timeout off on ``connection``, for migrations.

    Returns whether it did: the caller then invalidates the connection
    when done, rather than give it back to the pool without its timeout.
    """
    dialect: Any = connection.dialect
    if dialect.name == "postgresql":
        connection.exec_driver_sql("SET statement_timeout = 0")
    elif dialect.name in ("mysql", "mariadb"):
        variable = "max_statement_time" if dialect.is_mariadb else "max_execution_time"
        connection.exec_driver_sql(f"SET SESSION {variable} = 0")
        raw: Any = connection.connection.dbapi_connection
        if hasattr(raw, "_read_timeout"):
            # PyMySQL reads its read timeout from this attribute before each
            # read; an ALTER TABLE on a large table may take longer than it.
            raw._read_timeout = None
    else:
        return False
    connection.commit()
    return True
