"""``Database``: everything the database battery adds to an app, in one place."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from sqlalchemy import MetaData, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine, create_engine
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session, raiseload, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import StaticPool
from sqlalchemy.util import greenlet_spawn

from carboy.config import Settings
from carboy.db import _timeouts
from carboy.db._faults import Faults, classify
from carboy.db._urls import DatabaseURLs, check_driver, resolve_urls, scrub
from carboy.db.models import Model
from carboy.db.queries import PageRequest, page_request
from carboy.dependencies import on_success
from carboy.exceptions import ImproperlyConfigured
from carboy.problems import error_response
from carboy.requests import HTTPConnection, Request
from carboy.responses import Response

if TYPE_CHECKING:
    from carboy.app import Carboy

__all__ = ["Database", "Pool"]

SQLITE_DEFAULT = "db.sqlite3"


@dataclass(frozen=True)
class Pool:
    """How many connections an engine keeps, and for how long.

    Args:
        size: Connections kept open.
        max_overflow: Extra connections opened under load, closed when returned.
        timeout: Seconds a request waits for a free connection before it gets
            a 503; ``None``: the setting ``database_pool_timeout``
            (``CARBOY_DATABASE_POOL_TIMEOUT``, 10 s by default).
        recycle: Seconds after which a connection is replaced, before a server
            or a firewall drops it; -1: never.
        pre_ping: Test each connection as it is taken from the pool, at the
            cost of a round trip, so that connections a database restart or
            an outage closed are replaced instead of failing requests.
    """

    size: int = 10
    max_overflow: int = 10
    timeout: float | None = None
    recycle: int = 1800
    pre_ping: bool = True


class Database:
    """The database battery: engines, sessions, transactions and migrations.

    Handlers get a session by annotation: ``session: AsyncSession`` in an
    async handler, ``session: Session`` in a sync one. Each request has one
    transaction, committed when the handler returns and rolled back when it
    raises; the commit happens before the response is sent, so a failed
    commit is an error response, never a success that did not happen.

    A database that is unreachable, or does not answer within the
    timeouts (settings ``database_connect_timeout``,
    ``database_pool_timeout`` and ``database_statement_timeout``), gets its
    requests a 503 with ``Retry-After``, logged once per outage (logger
    ``carboy.db``); the pool replaces the dead connections, and requests
    succeed again as soon as the database answers. A value the database
    refuses to store, such as a NUL character or a string longer than its
    column, is a 400.

    Args:
        url: The database URL. ``None``: the ``database_url`` setting
            (``CARBOY_DATABASE_URL``), else a SQLite file ``db.sqlite3`` in the
            working folder.
        metadata: The tables the app's migrations manage; ``Model.metadata``
            by default, which holds every ``Model`` subclass, the batteries'
            included.
        pool: Connection pool sizes and timeouts.
        migrations: The migrations folder, relative to the working folder.
        connect_timeout: Seconds to wait for a new connection, at startup and
            while serving; ``None``: the setting ``database_connect_timeout``
            (``CARBOY_DATABASE_CONNECT_TIMEOUT``, 5 s by default).

    Example::

        db = Database()
        app = Carboy(extensions=[db])

        @app.post("/notes")
        async def add_note(note: NoteIn, session: AsyncSession) -> NoteOut:
            row = Note(text=note.text)
            session.add(row)
            await session.flush()
            return NoteOut(id=row.id, text=row.text)
    """

    name = "db"
    requires: Sequence[str] = ()

    def __init__(
        self,
        url: str | URL | None = None,
        *,
        metadata: MetaData | None = None,
        pool: Pool | None = None,
        migrations: str | os.PathLike[str] = "migrations",
        connect_timeout: float | None = None,
    ) -> None:
        self._url = url
        self.metadata = metadata if metadata is not None else Model.metadata
        self.pool = pool or Pool()
        self.migrations = Path(migrations)
        self._connect_timeout = connect_timeout
        self._faults = Faults(lambda: self.urls)
        self._app: Carboy | None = None
        self._urls: DatabaseURLs | None = None
        self._engine: Engine | None = None
        self._async_engine: AsyncEngine | None = None
        self._sessionmaker: sessionmaker[Session] | None = None
        self._async_sessionmaker: async_sessionmaker[AsyncSession] | None = None

    # Extension ------------------------------------------------------------

    def init_app(self, app: Carboy) -> None:
        """Provide sessions to handlers, connect at startup, and answer database failures.

        Conflicting updates get 409; an unreachable, silent or busy database
        503 with ``Retry-After``; a value the database refuses 400.
        """
        from carboy.db.checks import register_checks

        self._app = app
        app.provide(Session, self._request_session)
        app.provide(AsyncSession, self._request_async_session)
        app.provide(PageRequest, page_request)
        app.on_startup(self.connect)
        app.on_shutdown(self.disconnect)
        app.add_exception_handler(StaleDataError, _conflict)
        app.add_exception_handler(sa_exc.DBAPIError, self._faults.handle)
        app.add_exception_handler(sa_exc.TimeoutError, self._faults.handle)
        if OSError not in app.exception_handlers:
            # asyncpg's refused connections and timeouts arrive unwrapped;
            # the handler answers those, and re-raises any other OSError.
            app.add_exception_handler(OSError, self._faults.handle)
        register_checks(app, self)

    @property
    def app(self) -> Carboy:
        """The app this database belongs to."""
        if self._app is None:
            raise ImproperlyConfigured(
                "This Database is not installed in an app. Add it to Carboy(extensions=[...])."
            )
        return self._app

    # URLs and engines -----------------------------------------------------

    @property
    def urls(self) -> DatabaseURLs:
        """The database's sync and async URLs, from the argument, the setting or the default."""
        if self._urls is None:
            self._urls = self._resolve()
        return self._urls

    def _resolve(self) -> DatabaseURLs:
        if self._url is not None:
            return resolve_urls(self._url, "the url given to Database()")
        setting = self._app.settings.database_url if self._app is not None else None
        if setting is not None:
            return resolve_urls(setting.get_secret_value(), "the setting CARBOY_DATABASE_URL")
        path = Path.cwd() / SQLITE_DEFAULT
        return resolve_urls(
            URL.create("sqlite", database=str(path)), f"the default, {SQLITE_DEFAULT}"
        )

    @property
    def engine(self) -> Engine:
        """The sync engine, made on first use."""
        if self._engine is None:
            urls = self.urls
            check_driver(urls.sync, urls.source)
            engine = create_engine(urls.sync, **self._engine_options(urls.sync))
            self._configure(engine)
            self._engine = engine
        return self._engine

    @property
    def async_engine(self) -> AsyncEngine:
        """The async engine, made on first use."""
        if self._async_engine is None:
            urls = self.urls
            check_driver(urls.async_, urls.source)
            engine = create_async_engine(urls.async_, **self._engine_options(urls.async_))
            self._configure(engine.sync_engine)
            self._async_engine = engine
        return self._async_engine

    @property
    def connect_timeout(self) -> float:
        """Seconds to wait for a new connection: the argument, else the setting."""
        if self._connect_timeout is not None:
            return self._connect_timeout
        return self._number("database_connect_timeout")

    @property
    def statement_timeout(self) -> float:
        """Seconds a statement may run: the setting ``database_statement_timeout``; 0: no limit."""
        return self._number("database_statement_timeout")

    def _engine_options(self, url: URL) -> dict[str, Any]:
        options: dict[str, Any] = {"echo": self._setting("database_echo")}
        if self.urls.is_sqlite_memory:
            # One connection, shared by every session: each new connection
            # to ":memory:" would be a new, empty database.
            options["poolclass"] = StaticPool
            options["connect_args"] = {"check_same_thread": False}
            return options
        pool = self.pool
        options.update(
            pool_size=pool.size,
            max_overflow=pool.max_overflow,
            pool_timeout=pool.timeout
            if pool.timeout is not None
            else self._number("database_pool_timeout"),
            pool_recycle=pool.recycle,
            pool_pre_ping=pool.pre_ping,
        )
        connect_args = _timeouts.connect_args(url, self.connect_timeout, self.statement_timeout)
        if connect_args:
            options["connect_args"] = connect_args
        return options

    def _configure(self, engine: Engine) -> None:
        if self.urls.backend == "sqlite":
            busy_timeout = _timeouts.sqlite_busy_timeout_ms(self.statement_timeout)
            _configure_sqlite(engine, self.urls, busy_timeout)
        else:
            _timeouts.set_server_timeout(engine, self.statement_timeout)
        # A connection taken from the pool (past its pre-ping) or newly
        # made: the database answers, and an outage, if any, is over.
        event.listen(engine, "checkout", self._faults.answered)
        event.listen(engine, "invalidate", _terminate)

    def _setting(self, name: str) -> bool:
        return bool(getattr(self._app.settings, name)) if self._app is not None else False

    def _number(self, name: str) -> float:
        settings = self._app.settings if self._app is not None else Settings.model_construct()
        return float(getattr(settings, name))

    # Sessions ---------------------------------------------------------------

    @property
    def sessionmaker(self) -> sessionmaker[Session]:
        """The factory of sync sessions: ``with db.sessionmaker.begin() as session:``."""
        if self._sessionmaker is None:
            self._sessionmaker = sessionmaker(
                self.engine, class_=self._session_class(), expire_on_commit=False
            )
        return self._sessionmaker

    @property
    def async_sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """The factory of async sessions: ``async with db.async_sessionmaker.begin() as s:``."""
        if self._async_sessionmaker is None:
            self._async_sessionmaker = async_sessionmaker(
                self.async_engine,
                sync_session_class=self._session_class(),
                expire_on_commit=False,
            )
        return self._async_sessionmaker

    def session(self) -> Session:
        """Open a sync session outside a request; use it as ``with db.session() as s:``."""
        return self.sessionmaker()

    def async_session(self) -> AsyncSession:
        """Open an async session outside a request: ``async with db.async_session() as s:``."""
        return self.async_sessionmaker()

    def _session_class(self) -> type[Session]:
        # Objects stay readable after commit: a handler returns them, and
        # they are serialized after the transaction has ended.
        class CarboySession(Session):
            pass

        if self._setting("database_raise_on_lazy_load"):
            event.listen(CarboySession, "do_orm_execute", _raise_on_lazy_load)
        return CarboySession

    async def _request_session(self, connection: HTTPConnection) -> AsyncIterator[Session]:
        session = self.sessionmaker()

        async def commit() -> None:
            await anyio.to_thread.run_sync(session.commit)

        on_success(connection, commit)
        try:
            yield session
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_end_for(session, exc))
            raise
        finally:
            if session.in_transaction():
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(session.close)
            else:
                # Committed or never used: no connection to give back, no I/O.
                session.close()

    async def _request_async_session(
        self, connection: HTTPConnection
    ) -> AsyncIterator[AsyncSession]:
        session = self.async_sessionmaker()
        on_success(connection, session.commit)
        try:
            yield session
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                if _is_outage(exc):
                    await session.invalidate()
                else:
                    await session.rollback()
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await session.close()

    # Lifecycle --------------------------------------------------------------

    async def connect(self) -> None:
        """Make the engines and check that the database answers.

        Raises:
            ImproperlyConfigured: when the URL is wrong, its driver is
                missing, or the database does not answer in
                ``connect_timeout`` seconds. The message names the setting
                and never shows the password.
        """
        urls = self.urls
        check_driver(urls.sync, urls.source)
        engine = self.async_engine
        try:
            with anyio.fail_after(self.connect_timeout):
                async with engine.connect() as connection:
                    await connection.exec_driver_sql("SELECT 1")
        except TimeoutError:
            raise ImproperlyConfigured(
                f"The database at {urls.safe()} ({urls.source}) did not answer within "
                f"{self.connect_timeout:g} s. Check the host and port, and that the server runs."
            ) from None
        except Exception as exc:
            cause = getattr(exc, "orig", None) or exc
            reason = scrub(str(cause), urls.async_).strip().rstrip(".")
            raise ImproperlyConfigured(
                f"Could not connect to the database at {urls.safe()} ({urls.source}): "
                f"{type(cause).__name__}: {reason}. Check the setting, and that the server "
                "runs and accepts these credentials."
            ) from None

    async def disconnect(self) -> None:
        """Close every pooled connection."""
        if self._async_engine is not None:
            await self._async_engine.dispose()
        if self._engine is not None:
            self._engine.dispose()

    def create_all(self) -> None:
        """Create the tables of ``metadata`` that do not exist yet; for tests and scripts.

        A real project creates its tables with migrations: ``carboy db migrate``.
        """
        self.metadata.create_all(self.engine)

    def drop_all(self) -> None:
        """Drop the tables of ``metadata``; for tests."""
        self.metadata.drop_all(self.engine)

    def create_database(self, *, replace: bool = False) -> None:
        """Create the database itself on its server; for the tests of a project.

        With ``replace``, a database of that name is dropped first, with every
        row in it. A SQLite file is made when it is first connected to.
        """
        from carboy.db._provision import create_database

        self.engine.dispose()
        create_database(self.urls, replace=replace)

    def drop_database(self) -> None:
        """Drop the database itself, with every row in it; for the tests of a project."""
        from carboy.db._provision import drop_database

        self.engine.dispose()
        if self._async_engine is not None:
            # Its pool belongs to an event loop that may be gone; forget it unclosed.
            self._async_engine.sync_engine.dispose(close=False)
        drop_database(self.urls)

    def prepare_for_tests(self) -> None:
        """Apply the migrations, or create the tables when there is no migrations folder."""
        from carboy.db import migrations

        if Path(migrations.folder(self)).is_dir():
            migrations.upgrade(self)
        else:
            self.create_all()

    @contextmanager
    def rolled_back_session(self) -> Iterator[Session]:
        """Yield a session in a transaction that is rolled back at the end; for tests.

        While it is open, every session this database hands out joins the
        same transaction on the same connection: the sync sessions of sync
        handlers, and the async sessions of async handlers, of the admin and
        of auth. Each works in a savepoint, so its commit releases the
        savepoint, its rollback undoes only its own work, and the final
        rollback undoes everything. The async sessions run on the sync
        driver's connection, blocking the event loop while the database
        answers: fine for a test, never for serving. As every session shares
        the one connection, a test sends its requests one at a time; requests
        run concurrently would interleave their savepoints.
        """
        connection = self.engine.connect()
        transaction = connection.begin()
        session_class = self._session_class()
        factory = sessionmaker(
            bind=connection,
            class_=session_class,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint",
        )
        async_factory: async_sessionmaker[Any] = async_sessionmaker(
            bind=_JoinedAsyncConnection(self.async_engine, connection),
            class_=_JoinedAsyncSession,
            sync_session_class=session_class,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint",
        )
        previous = self._sessionmaker, self._async_sessionmaker
        self._sessionmaker, self._async_sessionmaker = factory, async_factory
        session = factory()
        try:
            yield session
        finally:
            self._sessionmaker, self._async_sessionmaker = previous
            session.close()
            transaction.rollback()
            connection.close()

    def shell_context(self) -> dict[str, Any]:
        """The names ``carboy shell`` starts with: ``db``, a ``session`` and the models.

        The models are the subclasses of ``Model`` whose tables are in ``metadata``.
        """
        from sqlalchemy import delete, func, insert, select, update

        names: dict[str, Any] = {
            "db": self,
            "session": self.session(),
            "select": select,
            "insert": insert,
            "update": update,
            "delete": delete,
            "func": func,
        }
        tables = set(self.metadata.tables.values())
        for mapper in Model.registry.mappers:
            if mapper.local_table in tables:
                names.setdefault(mapper.class_.__name__, mapper.class_)
        return names


def _is_outage(exc: BaseException) -> bool:
    fault = classify(exc)
    return fault is not None and fault.is_outage


def _end_for(session: Session, exc: BaseException) -> Callable[[], None]:
    # A connection the database failed may be dead, or still waiting on a
    # silent server: rolling it back could wait as long again. Invalidating
    # closes it at once, and the pool makes a new one.
    return session.invalidate if _is_outage(exc) else session.rollback


def _terminate(_dbapi_connection: Any, record: Any, _exc: BaseException | None) -> None:
    # SQLAlchemy closes an invalidated asyncpg connection politely, waiting
    # up to 2 s for a server that, in an outage, never answers; each request
    # would wait that much longer. The connection is done with: dropping its
    # socket, which the server notices at once, is enough.
    terminate = getattr(record.driver_connection, "terminate", None)
    if callable(terminate):
        terminate()


def _configure_sqlite(engine: Engine, urls: DatabaseURLs, busy_timeout_ms: int) -> None:
    # sqlite3's own transaction handling starts transactions late and breaks
    # SAVEPOINT; SQLAlchemy's documented fix: turn it off and emit BEGIN at
    # the start of every transaction. Foreign keys are off in SQLite unless
    # asked for, and WAL lets readers run beside a writer.
    is_file = not urls.is_sqlite_memory

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms:d}")
        if is_file:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")


class _JoinedAsyncSession(AsyncSession):
    """An async session over a sync driver's connection: the tests' joined transaction.

    Its ORM work runs through SQLAlchemy's greenlet bridge as in any async
    session; the driver underneath simply never waits. Only ``execute``
    differs: the stock one finishes a result with a step that only the
    async drivers' cursors have, and a buffered result needs none.
    """

    async def execute(
        self,
        statement: Any,
        params: Any = None,
        *,
        execution_options: Mapping[str, Any] | None = None,
        bind_arguments: dict[str, Any] | None = None,
        **kw: Any,
    ) -> Any:
        options = {**(execution_options or {}), "prebuffer_rows": True}
        return await greenlet_spawn(
            self.sync_session.execute,
            statement,
            params=params,
            execution_options=options,
            bind_arguments=bind_arguments,
            **kw,
        )


class _JoinedAsyncConnection(AsyncConnection):
    """The async face of the tests' connection, for ``await session.connection()``.

    As with ``_JoinedAsyncSession``, only the two ways of running a statement
    differ from the stock ones, which expect an async driver underneath.
    """

    async def execute(
        self,
        statement: Any,
        parameters: Any = None,
        *,
        execution_options: Mapping[str, Any] | None = None,
    ) -> Any:
        return await greenlet_spawn(
            self.sync_connection.execute,  # type: ignore[union-attr]
            statement,
            parameters,
            execution_options=execution_options,
        )

    async def exec_driver_sql(
        self,
        statement: str,
        parameters: Any = None,
        execution_options: Mapping[str, Any] | None = None,
    ) -> Any:
        return await greenlet_spawn(
            self.sync_connection.exec_driver_sql,  # type: ignore[union-attr]
            statement,
            parameters,
            execution_options,
        )


def _raise_on_lazy_load(state: ORMExecuteState) -> None:
    if state.is_select and not state.is_relationship_load and not state.is_column_load:
        state.statement = state.statement.options(raiseload("*", sql_only=True))


async def _conflict(request: Request, _exc: StaleDataError) -> Response:
    return error_response(
        request.headers,
        409,
        "Conflict",
        "The row was changed by another request while this one was working on it. "
        "Reload it and try again.",
    )
