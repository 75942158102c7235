"""Database URLs: the sync and async driver for each, and safe ways to show them."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from carboy.exceptions import ImproperlyConfigured

__all__ = ["DatabaseURLs", "check_driver", "resolve_urls", "scrub"]


@dataclass(frozen=True)
class _Backend:
    extra: str
    sync_driver: str
    async_driver: str
    sync_drivers: frozenset[str]
    async_drivers: frozenset[str]


_BACKENDS = {
    "sqlite": _Backend(
        "sqlite", "pysqlite", "aiosqlite", frozenset({"pysqlite"}), frozenset({"aiosqlite"})
    ),
    "postgresql": _Backend(
        "postgres",
        "psycopg",
        "asyncpg",
        frozenset({"psycopg", "psycopg2", "pg8000"}),
        frozenset({"asyncpg", "psycopg"}),
    ),
    "mysql": _Backend(
        "mysql",
        "pymysql",
        "asyncmy",
        frozenset({"pymysql", "mysqldb", "mysqlconnector"}),
        frozenset({"asyncmy", "aiomysql"}),
    ),
}
_BACKENDS["mariadb"] = _BACKENDS["mysql"]

# The module each driver imports, to name the missing extra before
# SQLAlchemy fails on an ImportError.
_DRIVER_MODULES = {
    "pysqlite": "sqlite3",
    "aiosqlite": "aiosqlite",
    "psycopg": "psycopg",
    "psycopg2": "psycopg2",
    "pg8000": "pg8000",
    "asyncpg": "asyncpg",
    "pymysql": "pymysql",
    "mysqldb": "MySQLdb",
    "mysqlconnector": "mysql.connector",
    "asyncmy": "asyncmy",
    "aiomysql": "aiomysql",
}


@dataclass(frozen=True)
class DatabaseURLs:
    """One database, as SQLAlchemy URLs for its sync and its async driver."""

    sync: URL
    async_: URL
    source: str
    """Where the URL came from, to name in messages: a setting or an argument."""

    @property
    def backend(self) -> str:
        """The database: ``sqlite``, ``postgresql``, ``mysql`` or ``mariadb``."""
        return self.sync.get_backend_name()

    @property
    def is_sqlite_memory(self) -> bool:
        """Whether this is an in-memory SQLite database."""
        return self.backend == "sqlite" and self.sync.database in (None, "", ":memory:")

    def safe(self) -> str:
        """The URL without its password, for messages and logs."""
        return self.sync.render_as_string(hide_password=True)


def resolve_urls(url: str | URL, source: str) -> DatabaseURLs:
    """Return the sync and async URLs of ``url``, with the drivers carboy uses.

    A URL with no driver (``postgresql://...``) gets carboy's choice for each
    side (psycopg and asyncpg, pymysql and asyncmy, sqlite3 and aiosqlite); a
    URL that names a driver keeps it on the side that driver serves.

    Raises:
        ImproperlyConfigured: for a URL that is not one, or names a database
            carboy does not support; the message never shows the URL's
            password.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        # SQLAlchemy's message repeats the whole string, password included.
        raise ImproperlyConfigured(
            f"The database URL ({source}) is not a URL SQLAlchemy can read. Give one such "
            "as postgresql://user:password@host:5432/name, "
            "mysql://user:password@host:3306/name or sqlite:///path/to/file.db."
        ) from None
    backend_name = parsed.get_backend_name()
    if backend_name == "postgres":
        # The scheme Heroku and others still hand out.
        parsed = parsed.set(drivername="postgresql")
        backend_name = "postgresql"
    backend = _BACKENDS.get(backend_name)
    if backend is None:
        raise ImproperlyConfigured(
            f"The database URL ({source}) names the database {backend_name!r}, which carboy "
            "does not support. Use sqlite, postgresql, mysql or mariadb."
        )
    driver = parsed.drivername.partition("+")[2]
    if driver and driver not in backend.sync_drivers | backend.async_drivers:
        raise ImproperlyConfigured(
            f"The database URL ({source}) names the driver {driver!r}, which carboy does not "
            f"know for {backend_name}. Leave the driver out ({backend_name}://...) to use "
            "carboy's choice."
        )
    sync_driver = driver if driver in backend.sync_drivers else backend.sync_driver
    async_driver = driver if driver in backend.async_drivers else backend.async_driver
    return DatabaseURLs(
        sync=parsed.set(drivername=f"{backend_name}+{sync_driver}"),
        async_=parsed.set(drivername=f"{backend_name}+{async_driver}"),
        source=source,
    )


def check_driver(url: URL, source: str) -> None:
    """Raise a clear error when ``url``'s driver is not installed, naming the extra."""
    backend = url.get_backend_name()
    driver = url.get_driver_name()
    module = _DRIVER_MODULES.get(driver)
    if module is None or importlib.util.find_spec(module.partition(".")[0]) is not None:
        return
    extra = _BACKENDS[backend].extra if backend in _BACKENDS else backend
    raise ImproperlyConfigured(
        f"The database URL ({source}) needs the driver {driver}, which is not installed. "
        f"Install it with: pip install 'carboy[{extra}]'"
    )


def scrub(message: str, url: URL) -> str:
    """Remove ``url``'s password from a driver's message, should it quote it."""
    password = url.password
    if password:
        message = message.replace(str(password), "***")
    # Drivers that quote a whole DSN: hide any password= parameter in it.
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", message, flags=re.IGNORECASE)
