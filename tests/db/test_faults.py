"""A database that fails: 503 with Retry-After while it is out, logged once, and back alone.

The served app reaches PostgreSQL through a TCP proxy the tests control:
``cut`` closes every connection and refuses new ones, as a stopped server
does; ``stall`` takes connections and bytes and answers nothing, as a hung
server or a black-holed network does; ``restore`` forwards again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import String, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Mapped, mapped_column

from carboy import Carboy, Depends, Request
from carboy.config import Settings
from carboy.db import AsyncSession, Database, Model, Pool, Session
from carboy.db._timeouts import connect_args
from carboy.db.migrations import connect
from carboy.testing import TestClient
from tests._live import live_server
from tests._services import fresh_database

pytestmark = pytest.mark.anyio

STATEMENT_TIMEOUT = 1.0
CONNECT_TIMEOUT = 1.0
# The driver gives the server one second more than the statement timeout to
# cancel a statement itself; a stall is seen at the later of the two.
STALL_SEEN_WITHIN = STATEMENT_TIMEOUT + 1.0 + 1.5

UNAVAILABLE = (
    "The database is unavailable, so this request could not be completed. "
    "Try again in a few seconds."
)
TIMED_OUT = (
    "The database did not answer in time, so this request could not be completed. "
    "Try again in a few seconds."
)
PROBLEM = "application/problem+json"


class FaultNote(Model):
    __tablename__ = "fault_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(20))


class NoteIn(BaseModel):
    text: str


# The proxy ------------------------------------------------------------------------------


@dataclass
class _Link:
    writers: list[asyncio.StreamWriter]
    lost_bytes: bool = False


class Proxy:
    """Forward 127.0.0.1:<port> to a server; ``cut``, ``stall`` and ``restore`` it."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.mode = "forward"
        self._links: list[_Link] = []
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> Proxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def __exit__(self, *_exc: object) -> None:
        self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def cut(self) -> None:
        """Close every connection, and refuse new ones."""
        self._call(self._cut())

    def stall(self) -> None:
        """Take connections and bytes, and forward nothing either way."""
        self.mode = "stall"

    def restore(self) -> None:
        """Forward again; connections that lost bytes while stalled are closed."""
        self._call(self._restore())

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self) -> None:
        self.mode = "cut"
        if self._server is not None:
            self._server.close()
            self._server = None
        await self._close_all()

    async def _restore(self) -> None:
        if self._server is None:
            await self._listen()
        for link in [link for link in self._links if link.lost_bytes]:
            self._drop(link)
        self.mode = "forward"

    async def _close_all(self) -> None:
        for link in list(self._links):
            self._drop(link)

    def _drop(self, link: _Link) -> None:
        for writer in link.writers:
            writer.transport.abort()
        if link in self._links:
            self._links.remove(link)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link([writer])
        self._links.append(link)
        if self.mode == "stall":
            await self._pipe(reader, None, link)
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            self._drop(link)
            return
        link.writers.append(upstream_writer)
        await asyncio.gather(
            self._pipe(reader, upstream_writer, link),
            self._pipe(upstream_reader, writer, link),
        )
        self._drop(link)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None, link: _Link
    ) -> None:
        try:
            while data := await reader.read(65536):
                if self.mode == "stall" or writer is None:
                    link.lost_bytes = True
                    continue
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            if writer is not None:
                writer.transport.abort()


# The served app ---------------------------------------------------------------------------


def make_app(url: str, **settings: Any) -> Carboy:
    options: dict[str, Any] = {
        "database_statement_timeout": STATEMENT_TIMEOUT,
        "database_connect_timeout": CONNECT_TIMEOUT,
        **settings,
    }
    app = Carboy(extensions=[Database(url)], settings=Settings(**options))

    @app.get("/notes")
    async def notes(session: AsyncSession) -> dict[str, int]:
        return {"count": await session.scalar(select(func.count()).select_from(FaultNote)) or 0}

    @app.get("/sync/notes")
    def notes_sync(session: Session) -> dict[str, int]:
        return {"count": session.scalar(select(func.count()).select_from(FaultNote)) or 0}

    @app.post("/notes", status_code=201)
    async def add_note(note: NoteIn, session: AsyncSession) -> dict[str, str]:
        session.add(FaultNote(text=note.text))
        await session.flush()
        return {"text": note.text}

    @app.post("/sync/notes", status_code=201)
    def add_note_sync(note: NoteIn, session: Session) -> dict[str, str]:
        session.add(FaultNote(text=note.text))
        session.flush()
        return {"text": note.text}

    # carboy refuses a NUL in JSON, forms and query strings before a handler
    # runs; a plain text body is taken as it comes, and so reaches the database.
    @app.post("/text-notes", status_code=201)
    async def add_text(text: PlainText, session: AsyncSession) -> None:
        session.add(FaultNote(text=text))
        await session.flush()

    @app.post("/sync/text-notes", status_code=201)
    def add_text_sync(text: PlainText, session: Session) -> None:
        session.add(FaultNote(text=text))
        session.flush()

    return app


async def plain_text(request: Request) -> str:
    return (await request.body()).decode()


PlainText = Annotated[str, Depends(plain_text)]


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database with the notes table."""
    with fresh_database("postgresql", prefix="carboy_faults") as url:
        engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
        Model.metadata.create_all(engine, tables=[Model.metadata.tables["fault_note"]])
        engine.dispose()
        yield url


@dataclass
class Served:
    client: httpx.Client
    proxy: Proxy


@pytest.fixture
def served(database: str) -> Iterator[Served]:
    """The app, served by uvicorn, on the database behind a proxy."""
    target = make_url(database)
    with Proxy(target.port or 5432) as proxy:
        through = target.set(port=proxy.port).render_as_string(hide_password=False)
        with (
            live_server(make_app(through)) as base_url,
            httpx.Client(base_url=base_url, timeout=30) as client,
        ):
            yield Served(client, proxy)


def timed(client: httpx.Client, path: str, **headers: str) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    response = client.get(path, headers=headers)
    return response, time.monotonic() - start


def db_records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "carboy.db" and r.levelno == level]


def problem(detail: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": "Service Unavailable", "status": 503, "detail": detail}


# Outages ----------------------------------------------------------------------------------


def test_a_cut_database_is_a_503_with_retry_after_until_it_returns(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = served.client
    assert client.get("/notes").json() == {"count": 0}
    assert client.get("/sync/notes").json() == {"count": 0}

    served.proxy.cut()
    answers = [timed(client, "/notes"), timed(client, "/sync/notes"), timed(client, "/notes")]

    for response, seconds in answers:
        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["retry-after"] == "5"
        assert response.json() == problem(UNAVAILABLE)
        assert seconds < 5
    served.proxy.restore()
    back = client.get("/notes")
    back_sync = client.get("/sync/notes")

    assert (back.status_code, back.json()) == (200, {"count": 0})
    assert (back_sync.status_code, back_sync.json()) == (200, {"count": 0})
    warnings = db_records(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert warnings[0].startswith(
        f"The database at postgresql+psycopg://postgres@127.0.0.1:{served.proxy.port}/"
    )
    assert warnings[0].endswith(
        "Requests that need it are answered 503 until it answers again; this is logged once "
        "per outage."
    )
    infos = db_records(caplog, logging.INFO)
    assert len(infos) == 1
    assert infos[0].endswith("s unavailable; 3 requests were answered 503.")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_browser_gets_the_503_as_a_page(served: Served) -> None:
    served.proxy.cut()

    response = served.client.get("/notes", headers={"Accept": "text/html,*/*;q=0.8"})

    assert response.status_code == 503
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["retry-after"] == "5"
    assert "<h1>503 Service Unavailable</h1>" in response.text
    assert f"<p>{UNAVAILABLE}</p>" in response.text


def test_a_stalled_database_is_a_503_within_the_statement_timeout(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = served.client
    assert client.get("/notes").json() == {"count": 0}

    served.proxy.stall()
    # The pooled connection's pre-ping waits for the statement timeout; the
    # new connection then tried waits for the connect timeout.
    answers = [timed(client, "/notes"), timed(client, "/notes"), timed(client, "/notes")]

    for response, seconds in answers:
        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["retry-after"] == "5"
        assert response.json() == problem(TIMED_OUT)
        assert seconds < STALL_SEEN_WITHIN
    served.proxy.restore()
    back = client.get("/notes")

    assert (back.status_code, back.json()) == (200, {"count": 0})
    assert len(db_records(caplog, logging.WARNING)) == 1
    assert len(db_records(caplog, logging.INFO)) == 1
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_two_outages_are_logged_as_two(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    client = served.client

    for _ in range(2):
        assert client.get("/notes").status_code == 200
        served.proxy.cut()
        assert client.get("/notes").status_code == 503
        assert client.get("/notes").status_code == 503
        served.proxy.restore()
    last = client.get("/notes")

    assert last.status_code == 200
    assert len(db_records(caplog, logging.WARNING)) == 2
    assert len(db_records(caplog, logging.INFO)) == 2


async def test_a_pool_with_no_free_connection_is_a_503(database: str) -> None:
    app = make_app(database)
    db: Any = app.extensions["db"]
    db.pool = Pool(size=1, max_overflow=0, timeout=0.3)

    @app.get("/hold")
    async def hold(session: AsyncSession) -> dict[str, str]:
        await session.execute(select(1))
        await anyio.sleep(1.5)
        return {"held": "yes"}

    async with TestClient(app) as client:
        held, refused = await asyncio.gather(client.get("/hold"), _later(client.get("/notes")))
        await db.disconnect()

    assert held.status_code == 200
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "5"
    assert refused.json()["detail"] == (
        "Every database connection is in use, so this request could not be completed. "
        "Try again in a few seconds."
    )


async def _later(awaitable: Any) -> Any:
    await anyio.sleep(0.3)
    return await awaitable


def test_an_os_error_that_is_not_the_database_s_is_still_a_500(database: str) -> None:
    app = make_app(database)

    @app.get("/disk")
    def disk() -> None:
        raise FileNotFoundError("no such file: /nowhere")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/disk")

    assert response.status_code == 500


# Statement timeouts -----------------------------------------------------------------------


def test_a_statement_past_the_timeout_is_cancelled_but_a_migration_s_is_not(
    database: str,
) -> None:
    db = Database(database)
    Carboy(extensions=[db], settings=Settings(database_statement_timeout=0.3))

    with db.engine.connect() as connection, pytest.raises(OperationalError) as cancelled:
        connection.exec_driver_sql("SELECT pg_sleep(1)")
    with connect(db) as connection:
        slept = connection.exec_driver_sql("SELECT pg_sleep(0.6)").scalar()
    db.engine.dispose()

    assert "canceling statement due to statement timeout" in str(cancelled.value)
    assert slept == ""


def test_a_slow_statement_in_a_request_is_a_503(database: str) -> None:
    app = make_app(database, database_statement_timeout=0.3)

    @app.get("/slow")
    async def slow(session: AsyncSession) -> None:
        await session.execute(select(func.pg_sleep(2)))

    with TestClient(app) as client:
        start = time.monotonic()
        response = client.get("/slow")
        seconds = time.monotonic() - start
        after = client.get("/notes")

    assert response.status_code == 503
    assert response.json() == problem(TIMED_OUT)
    assert seconds < 1.3
    assert after.json() == {"count": 0}


# Values the database refuses --------------------------------------------------------------


@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (
            "nul\x00byte",
            "A text value of this request holds a NUL (0x00) character, which the database "
            "cannot store. Remove it and try again.",
        ),
        (
            "x" * 21,
            "A value of this request is longer than its database column allows. Shorten it "
            "and try again.",
        ),
    ],
)
def test_a_value_the_database_refuses_is_a_400(
    database: str, mode: str, value: str, detail: str
) -> None:
    app = make_app(database)
    path = "/text-notes" if mode == "async" else "/sync/text-notes"

    with TestClient(app) as client:
        refused = client.post(path, content=value.encode())
        stored = client.post(path, content=b"fine")
        count = client.get("/notes").json()

    assert refused.status_code == 400
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json() == {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": detail,
    }
    assert stored.status_code == 201
    assert count == {"count": 1}


def test_on_mariadb_a_value_too_long_is_a_400_and_a_slow_statement_a_503() -> None:
    with fresh_database("mysql", prefix="carboy_faults") as url:
        engine = create_engine(make_url(url).set(drivername="mysql+pymysql"))
        Model.metadata.create_all(engine, tables=[Model.metadata.tables["fault_note"]])
        engine.dispose()
        app = make_app(url, database_statement_timeout=0.3)

        @app.get("/slow")
        async def slow(session: AsyncSession) -> None:
            await session.execute(text("SELECT SLEEP(2) FROM (SELECT 1 AS one) AS t"))

        @app.get("/sync/slow")
        def slow_sync(session: Session) -> None:
            session.execute(text("SELECT SLEEP(2) FROM (SELECT 1 AS one) AS t"))

        with TestClient(app) as client:
            refused = client.post("/notes", json={"text": "x" * 21})
            refused_sync = client.post("/sync/notes", json={"text": "x" * 21})
            start = time.monotonic()
            slow_answers = [client.get("/slow"), client.get("/sync/slow")]
            seconds = time.monotonic() - start
            count = client.get("/notes").json()

    assert (refused.status_code, refused_sync.status_code) == (400, 400)
    assert refused.json()["detail"] == (
        "A value of this request is longer than its database column allows. Shorten it and "
        "try again."
    )
    assert [answer.json() for answer in slow_answers] == [problem(TIMED_OUT)] * 2
    assert seconds < 2
    assert count == {"count": 0}


# What each driver is told -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql+asyncpg://h/db",
            {
                "timeout": 2.5,
                "command_timeout": 16.0,
                "server_settings": {"statement_timeout": "15000"},
            },
        ),
        (
            "postgresql+psycopg://h/db?options=-csearch_path%3Dapp",
            {
                "connect_timeout": 3,
                "options": "-csearch_path=app -c statement_timeout=15000",
                "tcp_user_timeout": 16000,
            },
        ),
        (
            "mysql+pymysql://h/db",
            {
                "connect_timeout": 2.5,
                "read_timeout": 16.0,
                "write_timeout": 16.0,
            },
        ),
        ("mysql+asyncmy://h/db?read_timeout=60", {"connect_timeout": 2.5}),
        ("sqlite+aiosqlite:///db.sqlite3", {}),
    ],
)
def test_each_driver_gets_the_timeouts_in_its_own_words(url: str, expected: Any) -> None:
    assert connect_args(make_url(url), 2.5, 15.0) == expected


def test_no_statement_timeout_leaves_only_the_connect_timeout() -> None:
    assert connect_args(make_url("postgresql+asyncpg://h/db"), 5.0, 0) == {"timeout": 5.0}
    assert connect_args(make_url("mysql+asyncmy://h/db"), 5.0, 0) == {"connect_timeout": 5.0}


def test_the_timeout_settings_and_their_defaults() -> None:
    settings = Settings()
    db = Database("sqlite:///db.sqlite3")
    Carboy(extensions=[db], settings=Settings(database_connect_timeout=3))

    assert (
        settings.database_connect_timeout,
        settings.database_pool_timeout,
        settings.database_statement_timeout,
    ) == (5.0, 10.0, 15.0)
    assert (db.connect_timeout, db.statement_timeout) == (3.0, 15.0)
    assert Pool().pre_ping is True
