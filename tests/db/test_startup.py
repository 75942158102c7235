"""A wrong database URL stops the app at startup, with a message that keeps the password secret."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from carboy import Carboy
from carboy.config import Settings
from carboy.db import Database
from carboy.exceptions import ImproperlyConfigured
from carboy.testing import TestClient
from tests._services import mysql_url, postgres_url

SECRET = "s3cr3t-pa55"


def start(app: Carboy) -> str:
    with pytest.raises(ImproperlyConfigured) as caught, TestClient(app):
        pass
    message = str(caught.value)
    assert SECRET not in message
    return message


def test_an_unparsable_url_names_the_setting_not_the_value() -> None:
    settings = Settings(database_url=f"nonsense {SECRET}")
    message = start(Carboy(extensions=[Database()], settings=settings))
    assert message == (
        "carboy found 1 problem at startup:\n"
        "  db.E001: The database URL (the setting CARBOY_DATABASE_URL) is not a URL SQLAlchemy "
        "can read. Give one such as postgresql://user:password@host:5432/name, "
        "mysql://user:password@host:3306/name or sqlite:///path/to/file.db. HINT: Set "
        "CARBOY_DATABASE_URL (or Database(url=...)) to a database URL whose driver is installed."
    )


def test_an_unsupported_database() -> None:
    message = start(Carboy(extensions=[Database(f"oracle://scott:{SECRET}@db/orcl")]))
    assert "db.E001: The database URL (the url given to Database()) names the database " in message
    assert "'oracle', which carboy does not support. Use sqlite, postgresql, mysql or mariadb." in (
        message
    )


def test_a_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "asyncmy" else find_spec(name, *args),
    )
    message = start(Carboy(extensions=[Database(f"mysql://root:{SECRET}@127.0.0.1/test")]))
    assert (
        "db.E001: The database URL (the url given to Database()) needs the driver asyncmy, "
        "which is not installed. Install it with: pip install 'carboy[mysql]'"
    ) in message


def test_an_unreachable_server_is_named_without_its_password() -> None:
    settings = Settings(database_url=f"postgresql://carboy:{SECRET}@127.0.0.1:1/test")
    message = start(Carboy(extensions=[Database()], settings=settings))
    assert message.startswith(
        "Could not connect to the database at postgresql+psycopg://carboy:***@127.0.0.1:1/test "
        "(the setting CARBOY_DATABASE_URL): "
    )
    assert message.endswith(
        "Check the setting, and that the server runs and accepts these credentials."
    )


def test_a_server_that_does_not_answer_in_time() -> None:
    # A socket that takes connections and never says a word.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        db = Database(f"postgresql://carboy:{SECRET}@127.0.0.1:{port}/test", connect_timeout=0.3)
        message = start(Carboy(extensions=[db]))
    assert message == (
        f"The database at postgresql+psycopg://carboy:***@127.0.0.1:{port}/test (the url given "
        "to Database()) did not answer within 0.3 s. Check the host and port, and that the "
        "server runs."
    )


def test_a_database_that_does_not_exist_on_postgresql() -> None:
    url = postgres_url().rsplit("/", 1)[0] + "/no_such_database_here"
    message = start(Carboy(extensions=[Database(url)]))
    assert 'database "no_such_database_here" does not exist' in message
    assert "(the url given to Database())" in message


def test_wrong_credentials_on_mariadb() -> None:
    url = mysql_url().replace("root@", f"nobody:{SECRET}@")
    message = start(Carboy(extensions=[Database(url)]))
    database = url.rsplit("/", 1)[1]
    assert message.startswith(
        "Could not connect to the database at "
        f"mysql+pymysql://nobody:***@127.0.0.1:3306/{database} (the url given to Database()): "
    )
    assert "Access denied for user 'nobody'" in message


def test_the_default_is_a_sqlite_file_in_the_working_folder(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    monkeypatch.delenv("CARBOY_DATABASE_URL", raising=False)
    db = Database()
    app = Carboy(extensions=[db], settings=Settings())
    with TestClient(app):
        assert db.urls.safe() == f"sqlite+pysqlite:///{tmp_path}/db.sqlite3"
        assert db.urls.async_.drivername == "sqlite+aiosqlite"
    assert (tmp_path / "db.sqlite3").exists()  # type: ignore[operator]


def test_a_string_without_a_length_is_refused_on_mariadb() -> None:
    class Base(DeclarativeBase):
        metadata = MetaData()

    class Memo(Base):
        __tablename__ = "memo"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str]
        code: Mapped[str] = mapped_column(String(20))

    db = Database(f"mysql://root:{SECRET}@127.0.0.1:3306/test", metadata=Base.metadata)
    message = start(Carboy(extensions=[db]))
    assert message == (
        "carboy found 1 problem at startup:\n"
        "  db.E002: The column memo.title is a String with no length, which mysql cannot store. "
        "HINT: Give it one, as mapped_column(String(200)), or make it a Text column."
    )
    # The same model is fine where VARCHAR needs no length.
    sqlite = Database("sqlite://", metadata=Base.metadata)
    with TestClient(Carboy(extensions=[sqlite])):
        pass


def test_deploy_checks_warn_of_the_lazy_load_guard_and_missing_migrations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from carboy.checks import run_checks

    monkeypatch.chdir(tmp_path)
    settings = Settings(database_raise_on_lazy_load=True)
    app = Carboy(extensions=[Database("sqlite://")], settings=settings)
    found = {message.id: str(message) for message in run_checks(app, deploy=True)}
    assert found["db.W001"] == (
        "db.W001: database_raise_on_lazy_load is on: a page that lazily loads a relationship "
        "fails instead of running a query. HINT: Keep it for tests and development; set "
        "CARBOY_DATABASE_RAISE_ON_LAZY_LOAD=0 in production."
    )
    assert found["db.W002"] == (
        "db.W002: The migrations folder 'migrations' does not exist, so the production "
        "database's tables cannot be created or upgraded. HINT: Run 'carboy db init', then "
        "'carboy db makemigrations -m \"initial\"'."
    )
    assert not any(key.startswith("db.") for key in map(str, run_checks(app)))
    (tmp_path / "migrations").mkdir()
    quiet = Carboy(extensions=[Database("sqlite://")], settings=Settings())
    assert [m.id for m in run_checks(quiet, deploy=True) if m.id.startswith("db.")] == []
