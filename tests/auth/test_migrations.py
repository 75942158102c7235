"""The auth battery's migrations on a database that already has users.

``ea6d8c7623c6`` adds ``auth_user.session_epoch``: existing users get 0, the
epoch their sessions were signed in under, so that migrating signs nobody
out; reverting it drops the column and keeps the users. On SQLite and a
fresh PostgreSQL database. That the migrations match the models is tested in
tests/db/test_battery_migrations.py.
"""

from __future__ import annotations

import importlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._services import fresh_database
from tests.db.test_migrations import (  # noqa: F401 - project: a clean folder for each test
    execute,
    ok,
    project,
    query,
    schema,
)

AUTH = "d13845aff82c"
AUTH_EPOCH = "ea6d8c7623c6"

APP = """
from carboy import Carboy
from carboy.auth import Auth
from carboy.db import Database

app = Carboy(extensions=[Database({url!r}), Auth()])
"""

USER = (
    "INSERT INTO auth_user (id, email, password, is_active, is_staff, is_superuser, "
    "date_joined) VALUES (7, 'ada@example.com', 'x', TRUE, FALSE, FALSE, "
    "'2024-01-02 03:04:05')"
)
COLUMNS = "SELECT id, email, password, is_active, is_staff, is_superuser FROM auth_user"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of this test's own, with an app module ``migapp`` that uses it."""
    if request.param == "sqlite":
        yield _use_app(f"sqlite:///{tmp_path / 'db.sqlite3'}")
        return
    with fresh_database("postgresql") as fresh:
        yield _use_app(fresh.replace("postgresql://", "postgresql+psycopg://", 1))


def _use_app(url: str) -> str:
    Path("migapp.py").write_text(APP.format(url=url))
    shutil.rmtree("__pycache__", ignore_errors=True)
    sys.modules.pop("migapp", None)
    importlib.invalidate_caches()
    return url


def test_the_session_epoch_migration_gives_existing_users_epoch_zero(url: str) -> None:
    ok("init")
    ok("migrate", AUTH)
    execute(url, USER)
    before = query(url, COLUMNS)

    applied = ok("migrate")

    assert applied.output == f"Applied {AUTH_EPOCH} (add the users' session epoch).\n"
    assert query(url, COLUMNS) == before
    assert query(url, "SELECT session_epoch FROM auth_user") == [(0,)]
    execute(
        url,
        "INSERT INTO auth_user (id, email, password, is_active, is_staff, is_superuser, "
        "date_joined) VALUES (8, 'grace@example.com', 'x', TRUE, FALSE, FALSE, "
        "'2024-01-02 03:04:05')",
    )
    assert query(url, "SELECT id, session_epoch FROM auth_user ORDER BY id") == [(7, 0), (8, 0)]


def test_reverting_the_session_epoch_migration_drops_the_column_and_keeps_the_users(
    url: str,
) -> None:
    ok("init")
    ok("migrate")
    execute(url, USER, "UPDATE auth_user SET session_epoch = 3")
    before = query(url, COLUMNS)

    reverted = ok("downgrade", AUTH)

    assert reverted.output == f"Reverted {AUTH_EPOCH} (add the users' session epoch).\n"
    assert "session_epoch" not in schema(url)["auth_user"]["columns"]
    assert query(url, COLUMNS) == before
    assert ok("current").output == f"{AUTH}\n"
