"""The database endpoints' tables, ``world`` and ``fortune``: their rows, and filling them.

The tables are TechEmpower's: ``world`` holds 10,000 rows, ids 1 to 10,000,
each with a ``randomnumber`` from 1 to 10,000, and ``fortune`` the 12 standard
fortunes. The world rows come from a generator with a fixed seed, so that the
runner and the tests know every row without asking the database, and can
check that each answer is a real row.

This module imports only the standard library, so that the runner (which has
no other) and the tests can use its rows. Filling the tables needs psycopg,
which only ``fill`` imports; the runner calls it in the benchmark venv as::

    benchmarks/.venv/bin/python benchmarks/_database.py postgresql://postgres@127.0.0.1:5432/test

which prints the server's version once both tables hold exactly these rows,
or the reason on stderr and exit status 1.
"""

from __future__ import annotations

import functools
import os
import random
import subprocess
import sys
import urllib.parse
from pathlib import Path

URL_VARIABLE = "BENCH_DATABASE_URL"
"""The environment variable that gives the database apps, and the tests, their database."""

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"

POOL_SIZE_VARIABLE = "BENCH_DB_POOL_SIZE"
"""The environment variable that gives the async apps (carboy, FastAPI) their pool size."""

DEFAULT_POOL_SIZE = 16

WORLD_SIZE = 10_000
WORLD_SEED = 1_000_003
CONNECT_TIMEOUT = 5
# Connecting, and on the first run creating and filling 10,000 rows.
PREPARE_TIMEOUT = 120.0
# Serializes two fills of the same database (a run and the tests, say), so
# that neither sees the other's half-written table.
_LOCK_KEY = "carboy-benchmark-tables"

FORTUNES: tuple[tuple[int, str], ...] = (
    (1, "fortune: No such file or directory"),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (3, "After enough decimal places, nobody gives a damn."),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen"),
    (7, "Any program that runs right is obsolete."),
    (8, "A list is only as strong as its weakest link. — Donald Knuth"),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
    (12, "フレームワークのベンチマーク"),
)
"""TechEmpower's fortunes: an HTML-unsafe one, a non-ASCII one, and the rest."""

ADDITIONAL_FORTUNE = (0, "Additional fortune added at request time.")
"""The fortune each app adds to the rows it reads, before sorting them."""

_CREATE_TABLES = (
    "CREATE TABLE IF NOT EXISTS world ("
    " id integer PRIMARY KEY, randomnumber integer NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS fortune (id integer PRIMARY KEY, message varchar(2048) NOT NULL)",
)


@functools.cache
def world_rows() -> dict[int, int]:
    """Return the world table's rows, ``randomnumber`` by ``id``, the same on every call."""
    generator = random.Random(WORLD_SEED)
    return {id_: generator.randint(1, WORLD_SIZE) for id_ in range(1, WORLD_SIZE + 1)}


def fortunes_page() -> list[tuple[int, str]]:
    """Return the rows of the fortunes page, in its order: all fortunes, sorted by message.

    Python's sort compares code points, as TechEmpower's rules ask, so the
    ``<script>`` fortune comes first and the Japanese one last.
    """
    return sorted([*FORTUNES, ADDITIONAL_FORTUNE], key=lambda fortune: fortune[1])


def database_url() -> str:
    """Return the database URL: ``BENCH_DATABASE_URL``, else the local default."""
    return os.environ.get(URL_VARIABLE) or DEFAULT_URL


def pool_size() -> int:
    """Return the pool size of the async apps: ``BENCH_DB_POOL_SIZE``, else the default."""
    return int(os.environ.get(POOL_SIZE_VARIABLE) or DEFAULT_POOL_SIZE)


def safe_url(url: str) -> str:
    """Return ``url`` without its password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class DatabaseUnavailable(Exception):
    """The database could not be reached or filled; the message says why."""


def prepare(url: str, python: Path) -> str:
    """Fill the tables in a child interpreter, ``python``, which must have psycopg.

    The runner itself has only the standard library, so it runs this file
    with the benchmark venv's interpreter.

    Returns:
        The server's version, such as ``15.4``.

    Raises:
        DatabaseUnavailable: The database could not be reached or filled.
    """
    try:
        completed = subprocess.run(
            [str(python), __file__, url],
            capture_output=True,
            text=True,
            timeout=PREPARE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DatabaseUnavailable(
            f"filling the tables did not finish within {PREPARE_TIMEOUT:.0f} s"
        ) from None
    if completed.returncode != 0:
        lines = completed.stderr.strip().splitlines()
        raise DatabaseUnavailable(lines[-1] if lines else f"exit status {completed.returncode}")
    return completed.stdout.strip()


def fill(url: str) -> str:
    """Create the two tables if needed, and make them hold exactly the standard rows.

    Tables that already hold them are left alone, so that filling is cheap
    after the first time; any other content is replaced. Nothing else in the
    database is touched.

    Returns:
        The server's version, such as ``15.4``.

    Raises:
        psycopg.Error: The database is not reachable, or a table exists with
            other columns.
    """
    import psycopg

    with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT) as connection:
        # One transaction: another connection sees the old rows or the new, never half.
        connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_LOCK_KEY,))
        for statement in _CREATE_TABLES:
            connection.execute(statement)
        world = connection.execute("SELECT id, randomnumber FROM world ORDER BY id").fetchall()
        if dict(world) != world_rows():
            connection.execute("DELETE FROM world")
            with connection.cursor().copy("COPY world (id, randomnumber) FROM STDIN") as copy:
                for row in world_rows().items():
                    copy.write_row(row)
        fortunes = connection.execute("SELECT id, message FROM fortune ORDER BY id").fetchall()
        if tuple(fortunes) != FORTUNES:
            connection.execute("DELETE FROM fortune")
            with connection.cursor() as cursor:
                cursor.executemany("INSERT INTO fortune (id, message) VALUES (%s, %s)", FORTUNES)
        version = connection.execute("SHOW server_version").fetchone()
    return str(version[0]).split()[0] if version else "unknown"


def main(argv: list[str]) -> int:
    """Fill the tables of the database at ``argv[0]``; print the server's version."""
    if len(argv) != 1:
        print("usage: python _database.py DATABASE_URL", file=sys.stderr)
        return 2
    import psycopg

    try:
        print(fill(argv[0]))
    except psycopg.Error as error:
        # psycopg's messages name the host and user, never the password.
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"{type(error).__name__}: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
