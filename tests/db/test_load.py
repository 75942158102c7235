"""Conduit under load: `carboy serve` with two workers on PostgreSQL, fifty writers at once.

Every answer is a 201, no connection is reset, and the database holds
exactly one article per 201. The writers share a few tags that are new
when the run starts, so several requests race to make each of them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from carboy.config import Settings
from carboy.db.migrations import upgrade
from examples.conduit.app import ConduitArticle, create_app
from tests._services import fresh_database

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 50
SECONDS = 10.0
SHARED_TAGS = 5
SECRET = "conduit-load-test-secret-key-not-for-production"


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database with Conduit's tables."""
    with fresh_database("postgresql", prefix="carboy_load") as url:
        app = create_app(url, Settings(secret_key=SECRET))  # type: ignore[arg-type]
        db = app.extensions["db"]
        upgrade(db)  # type: ignore[arg-type]
        db.engine.dispose()  # type: ignore[attr-defined]
        yield url


@pytest.fixture
def served(database: str, tmp_path: Path) -> Iterator[str]:
    """Conduit, served by `carboy serve --workers 2`; yields its base URL."""
    port = _free_port()
    log_path = tmp_path / "serve.log"
    environment = {
        **os.environ,
        "CARBOY_DATABASE_URL": database,
        "CARBOY_SECRET_KEY": SECRET,
        "CARBOY_DEBUG": "0",
    }
    command = [
        str(Path(sys.executable).with_name("carboy")),
        "serve",
        "--app",
        "examples.conduit.app:app",
        "--workers",
        "2",
        "--port",
        str(port),
        "--log-level",
        "info",
        "--no-access-log",
    ]
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_for(f"{base_url}/api/tags", server, log_path)
            yield base_url
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(5)
    output = log_path.read_text()
    assert "Traceback" not in output, output
    assert "ERROR" not in output, output
    # No worker was killed and started again while the writers ran.
    assert output.count("Application startup complete") == 2, output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for(url: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"carboy serve did not answer {url}:\n{log_path.read_text()}")
        time.sleep(0.1)


async def test_fifty_writers_for_ten_seconds_get_only_201s_and_every_article_is_stored(
    served: str, database: str
) -> None:
    # The client lets go of an idle connection well before the server's 5 s
    # keep-alive timeout, as a client (or proxy) in front of carboy must: with
    # equal timeouts, a request sent on a connection as the server closes it
    # is reset, whatever the server. httpx reuses the first idle connection,
    # so the last ones can sit idle that long under load.
    limits = httpx.Limits(
        max_connections=WRITERS, max_keepalive_connections=WRITERS, keepalive_expiry=1.0
    )
    async with httpx.AsyncClient(base_url=served, limits=limits, timeout=30) as client:
        registered = await client.post(
            "/api/users",
            json={"user": {"username": "loader", "email": "l@example.com", "password": "x"}},
        )
        token = registered.json()["user"]["token"]
        statuses: Counter[int] = Counter()
        errors: Counter[str] = Counter()
        deadline = time.monotonic() + SECONDS

        async def write(writer: int) -> None:
            number = 0
            while time.monotonic() < deadline:
                number += 1
                article = {
                    "title": f"Writer {writer} article {number}",
                    "description": "Load",
                    "body": "Written under load.",
                    "tagList": ["load", f"shared-{number % SHARED_TAGS}", f"writer-{writer}"],
                }
                try:
                    response = await client.post(
                        "/api/articles",
                        json={"article": article},
                        headers={"Authorization": f"Token {token}"},
                    )
                except httpx.TransportError as exc:
                    errors[type(exc).__name__] += 1
                    continue
                statuses[response.status_code] += 1

        await asyncio.gather(*(write(writer) for writer in range(WRITERS)))
        tags = (await client.get("/api/tags")).json()["tags"]

    stored = await anyio.to_thread.run_sync(_count_articles, database)
    assert registered.status_code == 201
    assert errors == Counter()
    assert set(statuses) == {201}
    assert stored == statuses[201]
    assert statuses[201] >= WRITERS
    assert tags == sorted(
        ["load", *(f"shared-{n}" for n in range(SHARED_TAGS)), *(f"writer-{n}" for n in range(50))]
    )


def _count_articles(database: str) -> int:
    engine = create_engine(make_url(database).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(ConduitArticle)) or 0
    finally:
        engine.dispose()
