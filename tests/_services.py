"""The real database servers the tests use, and what to do when one is missing.

A developer's machine without PostgreSQL or MariaDB skips those tests with the
reason; CI sets ``CARBOY_REQUIRE_SERVICES=1``, which turns a missing server
into a failure, so that a stopped service never passes as a skipped test.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

POSTGRES_URL = os.environ.get(
    "CARBOY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
MYSQL_URL = os.environ.get("CARBOY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("CARBOY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require(name: str, host: str, port: int) -> None:
    """Skip the test when ``name`` does not listen at ``host:port``; fail under CI."""
    if _reachable(host, port):
        return
    reason = f"{name} is not reachable at {host}:{port}"
    if os.environ.get("CARBOY_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and CARBOY_REQUIRE_SERVICES=1 requires it.", pytrace=False)
    pytest.skip(f"{reason}; start it to run this test.")


def postgres_url() -> str:
    """Return a PostgreSQL database of this test process's own, or skip (fail under CI).

    It is made on first use and dropped when the session ends, so test
    processes (xdist workers, or two runs on one machine) never share one.
    Tests in one process share it and take turns: each creates its tables
    and drops them afterwards.
    """
    require("PostgreSQL", "127.0.0.1", 5432)
    return _own_database("postgresql", POSTGRES_URL)


def mysql_url() -> str:
    """Return a MariaDB database of this test process's own, or skip (fail under CI)."""
    require("MariaDB", "127.0.0.1", 3306)
    return _own_database("mysql", MYSQL_URL)


# backend -> (the server's URL, the name of this process's database)
_OWN_DATABASES: dict[str, tuple[str, str]] = {}


def _own_database(backend: str, server: str) -> str:
    from sqlalchemy.engine import make_url

    if backend not in _OWN_DATABASES:
        name = f"carboy_run_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with _admin(backend, server) as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {_quoted(backend, name)}")
        _OWN_DATABASES[backend] = (server, name)
    _, name = _OWN_DATABASES[backend]
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def drop_own_databases() -> None:
    """Drop the databases ``postgres_url()`` and ``mysql_url()`` made; run at the session's end."""
    while _OWN_DATABASES:
        backend, (server, name) = _OWN_DATABASES.popitem()
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        with _admin(backend, server) as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {_quoted(backend, name)}{force}")


def _quoted(backend: str, name: str) -> str:
    return f'"{name}"' if backend == "postgresql" else f"`{name}`"


@contextmanager
def _admin(backend: str, server: str) -> Iterator[Any]:
    """Connect to ``server`` in autocommit, as CREATE and DROP DATABASE need."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    driver = "postgresql+psycopg" if backend == "postgresql" else "mysql+pymysql"
    engine = create_engine(make_url(server).set(drivername=driver), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def redis_url() -> str:
    """Return the test Redis URL, or skip (fail under CI) when it is down."""
    require("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@contextmanager
def fresh_database(backend: str, prefix: str = "carboy_t") -> Iterator[str]:
    """Create a new, empty database of its own on ``backend``'s server; drop it afterwards.

    ``backend`` is ``"postgresql"`` or ``"mysql"``. The name is unique to
    this process and call, so two test runs on one machine never share a
    database. Skips (fails under CI) when the server is down.
    """
    from sqlalchemy.engine import make_url

    if backend == "postgresql":
        require("PostgreSQL", "127.0.0.1", 5432)
    else:
        require("MariaDB", "127.0.0.1", 3306)
    server = POSTGRES_URL if backend == "postgresql" else MYSQL_URL
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    quoted = _quoted(backend, name)
    with _admin(backend, server) as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {quoted}")
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        with _admin(backend, server) as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}{force}")
