"""Apps with the auth battery on a real database, and users to sign in with.

The ``backend`` fixture is SQLite here; test modules that also run on
PostgreSQL override it with a parametrized one. Only the auth tables
(``auth_*``) are created and dropped, so that other tests' tables on a shared
server are left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import anyio
import argon2
import pytest
from sqlalchemy import Table, create_engine

from carboy import Carboy
from carboy.auth import Auth, hashers
from carboy.auth.user import User
from carboy.config import Settings
from carboy.db import Database, Model
from carboy.db._urls import resolve_urls
from carboy.sessions import SessionBackend
from tests._services import postgres_url

KEY = "auth-tests-secret-key-" + "k" * 40
PASSWORD = "correct horse battery staple"

MakeApp = Callable[..., Carboy]
AddUser = Callable[..., User]


def auth_tables() -> list[Table]:
    """Return the auth battery's tables, and only those."""
    return [table for name, table in Model.metadata.tables.items() if name.startswith("auth_")]


@pytest.fixture
def fast_hashing() -> Iterator[None]:
    """Hash and check passwords at argon2id's lowest cost during the test.

    The same format and code, in a millisecond instead of most of a second on
    a busy test machine; test_hashers.py checks the real parameters.
    """
    with hashers.cheap_hashing():
        yield


@cache
def password_hash(password: str) -> str:
    """Return a cheap argon2id hash of ``password``, made once per test run."""
    with hashers.cheap_hashing():
        return hashers.make_password(password)


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database with the auth tables created empty, dropped afterwards."""
    url = f"sqlite:///{tmp_path / 'auth.db'}" if backend == "sqlite" else postgres_url()
    engine = create_engine(resolve_urls(url, "test").sync)
    tables = auth_tables()
    Model.metadata.drop_all(engine, tables=tables)
    Model.metadata.create_all(engine, tables=tables)
    try:
        yield url
    finally:
        Model.metadata.drop_all(engine, tables=tables)
        engine.dispose()


@pytest.fixture
def make_app(database_url: str, fast_hashing: None) -> Iterator[MakeApp]:
    """Build apps with ``Database`` and ``Auth(prefix=None, **options)``; engines closed after."""
    built: list[Database] = []

    def build(
        *,
        settings: Settings | None = None,
        sessions: SessionBackend | None = None,
        **options: Any,
    ) -> Carboy:
        db = Database(database_url)
        built.append(db)
        options.setdefault("prefix", None)
        return Carboy(
            extensions=[db, Auth(**options)],
            settings=settings or Settings(secret_key=KEY),
            sessions=sessions,
        )

    yield build
    for db in built:
        anyio.run(db.disconnect)


@pytest.fixture
def app(make_app: MakeApp) -> Carboy:
    return make_app()


def database_of(app: Carboy) -> Database:
    """Return the app's ``Database``."""
    db = app.extensions["db"]
    assert isinstance(db, Database)
    return db


@pytest.fixture
def db(app: Carboy) -> Database:
    return database_of(app)


@pytest.fixture
def add_user(db: Database) -> AddUser:
    """Add a user to the database (committed) and return it, detached."""

    def add(email: str = "ada@example.com", password: str = PASSWORD, **fields: Any) -> User:
        with db.session() as session:
            user = User(email=email, password=password_hash(password), **fields)
            session.add(user)
            session.commit()
            return user

    return add


class CountingHasher:
    """Stand in for carboy's argon2 ``PasswordHasher``, recording the hashes verified."""

    def __init__(self, real: argon2.PasswordHasher) -> None:
        self.real = real
        self.verified: list[str] = []

    def hash(self, password: str) -> str:
        return self.real.hash(password)

    def verify(self, encoded: str, password: str) -> bool:
        self.verified.append(encoded)
        return self.real.verify(encoded, password)

    def check_needs_rehash(self, encoded: str) -> bool:
        return self.real.check_needs_rehash(encoded)


@pytest.fixture
def counting_hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    """Count the argon2 verifications carboy runs, through the real hasher."""
    hasher = CountingHasher(hashers._argon2())
    hashers._dummy_hash()  # made before counting starts
    monkeypatch.setattr(hashers, "_argon2", lambda: hasher)
    return hasher
