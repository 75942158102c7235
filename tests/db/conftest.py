from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import create_engine

from carboy import Carboy
from carboy.db import Database
from tests._services import mysql_url, postgres_url

from ._app import TABLES, make_app

BACKENDS = ["sqlite", "postgresql", "mysql"]


def database_url(backend: str, tmp_path: Path) -> str:
    """Return the URL of a test database of ``backend``, or skip (fail under CI)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    if backend == "postgresql":
        return postgres_url()
    return mysql_url()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The database URL, with the test tables created empty, and dropped afterwards."""
    from carboy.db import Model
    from carboy.db._urls import resolve_urls

    url = database_url(backend, tmp_path)
    engine = create_engine(resolve_urls(url, "test").sync)
    Model.metadata.drop_all(engine, tables=TABLES)
    Model.metadata.create_all(engine, tables=TABLES)
    try:
        yield url
    finally:
        Model.metadata.drop_all(engine, tables=TABLES)
        engine.dispose()


@pytest.fixture
def make(url: str) -> Iterator[Callable[..., tuple[Carboy, Database]]]:
    """Build test apps on ``url``; their engines are closed when the test ends."""
    built: list[Database] = []

    def build(**options: Any) -> tuple[Carboy, Database]:
        app, db = make_app(url, **options)
        built.append(db)
        return app, db

    yield build
    for db in built:
        anyio.run(db.disconnect)
