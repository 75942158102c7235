"""Apps with the admin on a real database, signed-in clients, and rows to list.

The ``backend`` fixture is SQLite; a test module that also runs on PostgreSQL
overrides it with a parametrized one. Only the tables the tests use are made
and dropped (``auth_*``, ``admin_log_entry`` and the test models' ``adm_*``),
so that other tests' tables on a shared server are left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import Table, create_engine, event

from carboy import Carboy
from carboy.admin import Admin, ModelAdmin
from carboy.auth import Auth, grant
from carboy.auth.user import User
from carboy.config import Settings
from carboy.db import Database, Model
from carboy.db._urls import resolve_urls
from carboy.testing import TestClient
from tests._services import fresh_database, mysql_url, postgres_url
from tests.auth._pages_app import cheap_hashing, csrf_of, password_hash

from ._models import TABLES, AdmAuthor, AdmPost

KEY = "admin-tests-secret-key-" + "a" * 40
PASSWORD = "correct horse battery staple"
HTML = {"accept": "text/html"}
ROOT = "root@example.com"
STAFF = "staff@example.com"
MEMBER = "member@example.com"


def admin_tables(extra: tuple[str, ...] = ()) -> list[Table]:
    """Return the tables the admin tests use, and only those, with the ``extra`` ones."""
    names = {*TABLES, *extra, "admin_log_entry"}
    return [
        table
        for name, table in Model.metadata.tables.items()
        if name in names or name.startswith("auth_")
    ]


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def extra_tables() -> tuple[str, ...]:
    """More tables to make; the form and delete tests add those of their models."""
    return ()


@pytest.fixture
def database_url(backend: str, tmp_path: Path, extra_tables: tuple[str, ...]) -> Iterator[str]:
    """A database with the admin tests' tables created empty, dropped afterwards."""
    urls = {"postgresql": postgres_url, "mysql": mysql_url}
    url = f"sqlite:///{tmp_path / 'admin.db'}" if backend == "sqlite" else urls[backend]()
    engine = create_engine(resolve_urls(url, "test").sync)
    tables = admin_tables(extra_tables)
    Model.metadata.drop_all(engine, tables=tables)
    Model.metadata.create_all(engine, tables=tables)
    try:
        yield url
    finally:
        Model.metadata.drop_all(engine, tables=tables)
        engine.dispose()


@contextmanager
def own_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """Yield a SQLite file's URL, or a new PostgreSQL database's, with the admin tests' tables.

    The PostgreSQL database is the test's own, dropped afterwards, unlike the
    shared one of ``database_url``: a module overrides ``database_url`` with it.
    """
    if backend == "sqlite":
        with _admin_tables_on(f"sqlite:///{tmp_path / 'admin.db'}") as url:
            yield url
        return
    with fresh_database(backend) as server, _admin_tables_on(server) as url:
        yield url


@contextmanager
def _admin_tables_on(url: str) -> Iterator[str]:
    engine = create_engine(resolve_urls(url, "test").sync)
    try:
        Model.metadata.create_all(engine, tables=admin_tables())
        yield url
    finally:
        engine.dispose()


@dataclass
class Site:
    """An app with the admin, its database, and a client that keeps cookies."""

    app: Carboy
    admin: Admin
    db: Database
    client: TestClient
    users: dict[str, int] = field(default_factory=dict)

    def add_user(self, email: str, *permissions: str, **fields: Any) -> User:
        """Add a user with ``PASSWORD`` and the given permission codenames."""
        with self.db.session() as session:
            user = User(email=email, password=password_hash(PASSWORD), **fields)
            session.add(user)
            session.flush()
            if permissions:
                grant(session, user, *permissions)
            session.commit()
            self.users[email] = user.id
            return user

    def sign_in(self, email: str, page: str = "/admin/login") -> None:
        """Sign ``email`` in through the admin's sign-in page, or another one."""
        form = self.client.get(page, headers=HTML)
        response = self.client.post(
            page,
            data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(form.text)},
        )
        if response.status_code != 303:
            raise AssertionError(f"Signing {email} in failed:\n{response.text}")

    def add(self, *rows: Any) -> None:
        """Store rows, committed."""
        with self.db.session() as session:
            session.add_all(rows)
            session.commit()


MakeSite = Callable[..., Site]


@pytest.fixture
def make_site(database_url: str) -> Iterator[MakeSite]:
    """Build a started app with ``Admin`` and the given registrations; closed after."""
    opened: list[tuple[TestClient, Database, bool]] = []

    def build(
        registrations: dict[type[Any], type[ModelAdmin] | None] | None = None,
        *,
        start: bool = True,
    ) -> Site:
        db = Database(database_url)
        admin = Admin()
        app = Carboy(
            extensions=[db, Auth(prefix="/auth"), admin],
            settings=Settings(secret_key=KEY, template_dirs=[]),
        )
        for model, options in (registrations or {}).items():
            admin.register(model, options)
        client = TestClient(app)
        if start:
            client.__enter__()
        opened.append((client, db, start))
        return Site(app, admin, db, client)

    yield build
    for client, db, started in opened:
        if started:
            client.__exit__(None, None, None)
        else:
            client.close()
        anyio.run(db.disconnect)


def authors_and_posts(site: Site) -> None:
    """Store two authors and their posts, the same for every test that lists them."""
    from datetime import date

    from ._models import Status

    ada = AdmAuthor(id=1, name="Ada Lovelace", email="ada@example.com")
    alan = AdmAuthor(id=2, name="Alan Turing", email="alan@example.com")
    site.add(ada, alan)
    site.add(
        AdmPost(
            id=1,
            title="Notes on the engine",
            author_id=1,
            is_published=True,
            status=Status.PUBLISHED,
            published_on=date(2020, 1, 5),
        ),
        AdmPost(
            id=2,
            title="Computing machinery",
            author_id=2,
            is_published=True,
            status=Status.PUBLISHED,
            published_on=date(2021, 3, 1),
        ),
        AdmPost(
            id=3, title="Bernoulli numbers", author_id=1, is_published=False, status=Status.DRAFT
        ),
        AdmPost(
            id=4,
            title="On computable numbers",
            author_id=2,
            is_published=False,
            status=Status.DRAFT,
        ),
        AdmPost(
            id=5, title="100% pure_text", author_id=None, is_published=False, status=Status.DRAFT
        ),
    )


@contextmanager
def recorded_statements(site: Site) -> Iterator[list[str]]:
    """Collect the SQL the site's requests run inside the block."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = site.db.async_engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def count_queries(site: Site, url: str) -> tuple[int, str]:
    """GET ``url`` as a browser; return how many SELECTs it ran, and the page."""
    with recorded_statements(site) as statements:
        response = site.client.get(url, headers=HTML)
    assert response.status_code == 200, response.text
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    return len(selects), response.text
