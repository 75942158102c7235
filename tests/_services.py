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
    """Return the test PostgreSQL URL, or skip (fail under CI) when it is down."""
    require("PostgreSQL", "127.0.0.1", 5432)
    return POSTGRES_URL


def mysql_url() -> str:
    """Return the test MariaDB URL, or skip (fail under CI) when it is down."""
    require("MariaDB", "127.0.0.1", 3306)
    return MYSQL_URL


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
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    server = postgres_url() if backend == "postgresql" else mysql_url()
    driver = "postgresql+psycopg" if backend == "postgresql" else "mysql+pymysql"
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    quoted = f'"{name}"' if backend == "postgresql" else f"`{name}`"
    admin = create_engine(make_url(server).set(drivername=driver), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {quoted}")
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}{force}")
        admin.dispose()
