"""What a request gets when the database fails it, and the log of each outage.

An unreachable, silent or overloaded database is no fault of the client's:
its requests get 503 with ``Retry-After``, and the outage is logged once,
as a warning when it starts and an info line when the database answers
again. A value the database refuses to store (a NUL byte PostgreSQL cannot
hold, a string longer than its column) is the client's: a 400 that says so.
Every other database error is left to the app, as before (a 500).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc as sa_exc

from carboy.db._urls import scrub
from carboy.problems import error_response

if TYPE_CHECKING:
    from carboy.db._urls import DatabaseURLs
    from carboy.requests import Request
    from carboy.responses import Response

__all__ = ["Fault", "Faults", "classify"]

logger = logging.getLogger("carboy.db")


@dataclass(frozen=True)
class Fault:
    """One way the database can fail a request, and the response it gets."""

    status_code: int
    title: str
    detail: str
    retry_after: int | None = None
    is_outage: bool = False
    """Whether it means the database is out of reach: logged once per outage."""


_AGAIN = "Try again in a few seconds."
UNAVAILABLE = Fault(
    503,
    "Service Unavailable",
    f"The database is unavailable, so this request could not be completed. {_AGAIN}",
    5,
    is_outage=True,
)
TIMED_OUT = Fault(
    503,
    "Service Unavailable",
    f"The database did not answer in time, so this request could not be completed. {_AGAIN}",
    5,
    is_outage=True,
)
EXHAUSTED = Fault(
    503,
    "Service Unavailable",
    f"Every database connection is in use, so this request could not be completed. {_AGAIN}",
    5,
    is_outage=True,
)
BUSY = Fault(
    503,
    "Service Unavailable",
    "The database is busy with another write. Try again in a moment.",
    1,
)
TOO_LONG = Fault(
    400,
    "Bad Request",
    "A value of this request is longer than its database column allows. Shorten it and try again.",
)
NUL_BYTE = Fault(
    400,
    "Bad Request",
    "A text value of this request holds a NUL (0x00) character, which the database cannot "
    "store. Remove it and try again.",
)
BAD_TEXT = Fault(
    400,
    "Bad Request",
    "A text value of this request holds characters the database cannot store. Remove them "
    "and try again.",
)
OUT_OF_RANGE = Fault(
    400,
    "Bad Request",
    "A number of this request is out of the range its database column holds. Send a smaller one.",
)
BAD_VALUE = Fault(
    400,
    "Bad Request",
    "The database refused a value of this request as not valid for its column. Check the "
    "values and try again.",
)

# SQLSTATE codes (PostgreSQL appendix A; MySQL and MariaDB send them too).
# Class 08 is "connection exception", class 22 "data exception".
_TIMEOUT_STATES = frozenset({"57014", "70100"})  # query_canceled; MySQL "query interrupted"
_BUSY_STATES = frozenset({"40001", "40P01", "55P03"})  # serialization, deadlock, lock timeout
_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03", "57P05", "08S01"})
_STATE_FAULTS = {"22001": TOO_LONG, "22003": OUT_OF_RANGE, "22021": BAD_TEXT}

# MySQL and MariaDB error numbers, for errors whose SQLSTATE is the generic HY000.
_MYSQL_UNAVAILABLE = frozenset(
    {1040, 1053, 1152, 1158, 1159, 1160, 1161, 1927, 2002, 2003, 2005, 2006, 2013, 2055, 4031}
)
_MYSQL_TIMEOUT = frozenset({1317, 1969, 3024})
_MYSQL_BUSY = frozenset({1205, 1213})
_MYSQL_DATA = {1264: OUT_OF_RANGE, 1265: BAD_VALUE, 1292: BAD_VALUE, 1366: BAD_TEXT, 1406: TOO_LONG}

# SQLite's primary result codes: SQLITE_BUSY, SQLITE_LOCKED; SQLITE_IOERR, SQLITE_CANTOPEN.
_SQLITE_BUSY = frozenset({5, 6})
_SQLITE_UNAVAILABLE = frozenset({10, 14})

# A raw OSError or TimeoutError is the database's when one of these raised it:
# asyncpg lets its socket errors and timeouts through, and SQLAlchemy does not
# wrap what is not a DBAPI error.
_DATABASE_MODULES = (
    "sqlalchemy.",
    "asyncpg",
    "asyncmy",
    "aiomysql",
    "aiosqlite",
    "psycopg",
    "pymysql",
    "pg8000",
    "MySQLdb",
)


def classify(exc: BaseException) -> Fault | None:
    """Return how the database failed, or ``None`` for an error that is not one of these."""
    if isinstance(exc, sa_exc.TimeoutError):
        return EXHAUSTED
    if isinstance(exc, sa_exc.DBAPIError):
        return _dbapi_fault(exc)
    if isinstance(exc, OSError) and _raised_by_database(exc):
        return TIMED_OUT if isinstance(exc, TimeoutError) else UNAVAILABLE
    return None


def _dbapi_fault(exc: sa_exc.DBAPIError) -> Fault | None:
    if exc.connection_invalidated:
        return UNAVAILABLE
    orig = exc.orig
    state = getattr(orig, "sqlstate", None)
    state = state if isinstance(state, str) else ""
    args = getattr(orig, "args", ())
    number = args[0] if args and isinstance(args[0], int) else None
    message = str(orig)
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        # Extended result codes keep the primary one in their low byte.
        primary = sqlite_code & 0xFF
        if primary in _SQLITE_BUSY:
            return BUSY
        return UNAVAILABLE if primary in _SQLITE_UNAVAILABLE else None
    if number in _MYSQL_DATA:
        return _MYSQL_DATA[number]
    if isinstance(exc, sa_exc.DataError) or state.startswith("22"):
        if "0x00" in message:
            return NUL_BYTE
        return _STATE_FAULTS.get(state, BAD_VALUE)
    if state in _TIMEOUT_STATES or number in _MYSQL_TIMEOUT:
        return TIMED_OUT
    if state in _BUSY_STATES or number in _MYSQL_BUSY or "database is locked" in message:
        return BUSY
    if state.startswith(("08", "53")) or state in _UNAVAILABLE_STATES:
        return UNAVAILABLE
    if number in _MYSQL_UNAVAILABLE or isinstance(exc, sa_exc.InterfaceError):
        return UNAVAILABLE
    if isinstance(exc, sa_exc.OperationalError) and not state and number is None:
        # psycopg's own errors, with no SQLSTATE: the connection failed,
        # timed out or was closed under it.
        return UNAVAILABLE
    return None


def _raised_by_database(exc: BaseException) -> bool:
    traceback = exc.__traceback__
    while traceback is not None:
        module = traceback.tb_frame.f_globals.get("__name__", "")
        if isinstance(module, str) and module.startswith(_DATABASE_MODULES):
            return True
        traceback = traceback.tb_next
    return False


class Faults:
    """Answer the requests the database fails, and log each outage once.

    An outage starts with the first request it fails, logged as a warning,
    and ends when a connection is next taken from the pool (after the
    pre-ping, when it is on) or newly made, logged at info with how long
    it lasted and how many requests got 503 meanwhile.
    """

    def __init__(self, urls: Callable[[], DatabaseURLs]) -> None:
        self._urls = urls
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._failed = 0

    @property
    def is_down(self) -> bool:
        """Whether an outage is going on: a request failed, and none has connected since."""
        return self._down_since is not None

    async def handle(self, request: Request, exc: Exception) -> Response:
        """Answer a request the database failed; re-raise any other error."""
        fault = classify(exc)
        if fault is None:
            raise exc
        if fault.is_outage:
            self.failed(exc)
        elif fault.status_code == 400:
            logger.debug("The database refused a value: %s", self._reason(exc))
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else None
        return error_response(
            request.headers, fault.status_code, fault.title, fault.detail, headers
        )

    def failed(self, exc: BaseException) -> None:
        """Count a request the database failed; log a warning if it starts an outage."""
        with self._lock:
            self._failed += 1
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
        logger.warning(
            "The database at %s is unavailable (%s). Requests that need it are answered "
            "503 until it answers again; this is logged once per outage.",
            self._urls().safe(),
            self._reason(exc),
        )

    def answered(self, *_args: Any) -> None:
        """Note that the database answered; log the end of an outage, if one was going on.

        It is a pool ``checkout`` listener, hence the arguments it ignores.
        """
        if self._down_since is None:
            return
        with self._lock:
            since, failed = self._down_since, self._failed
            if since is None:
                return
            self._down_since, self._failed = None, 0
        logger.info(
            "The database at %s answers again, after %.1f s unavailable; %d %s answered 503.",
            self._urls().safe(),
            time.monotonic() - since,
            failed,
            "request was" if failed == 1 else "requests were",
        )

    def _reason(self, exc: BaseException) -> str:
        cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
        if isinstance(exc, sa_exc.TimeoutError):
            # SQLAlchemy's message ends with a link to its FAQ.
            return "no connection of the pool was free in time"
        text = scrub(str(cause), self._urls().async_).strip().splitlines()
        first = text[0].rstrip(".") if text else ""
        return f"{type(cause).__name__}: {first}" if first else type(cause).__name__
