"""carboy's pytest plugin: the fixtures a project's tests use, with no conftest.py.

pytest loads it through the ``pytest11`` entry point of carboy's package. It
gives these fixtures, which a project's own ``conftest.py`` may override by
defining fixtures of the same names:

``app``
    The project's app, found as ``carboy`` finds it: the ``carboy_app``
    ini option (``module:attribute``), else ``CARBOY_APP``, else the ``app``
    of ``app.py`` in pytest's rootdir. Loaded once per test session.
``client``
    A :class:`carboy.testing.TestClient` over ``app``, its lifespan run.
``async_client``
    An ``httpx.AsyncClient`` over ``app``, its lifespan run, for async tests
    (mark them ``@pytest.mark.anyio``).
``db_session``
    A SQLAlchemy ``Session`` on the app's database, inside a transaction
    rolled back when the test ends. The sessions the app opens during the
    test, sync and async, for its handlers, its admin and its sign-in, join
    the same transaction, so the rows a request writes are seen by the test
    and gone after it. Code that opens its own connections on the engine
    (``db.engine.connect()``) is outside it.
``mail_outbox``
    The messages the app sends during the test, oldest first: the memory
    mail backend's list of ``EmailMessage``, emptied as the test starts.

The database of the tests: ``CARBOY_TEST_DATABASE_URL`` when it is set,
else a fresh SQLite file in pytest's temporary folder. Under pytest-xdist
(``pytest -n auto``) each worker works on a database of its own, named after
the test database and the worker (``test_gw0``), made afresh when the worker
starts and dropped when it ends, so that the workers never share rows. Before the app is
imported the plugin sets ``CARBOY_DATABASE_URL`` to it, and once the app is
loaded applies its migrations (or creates its tables when it has no
migrations folder), once per test session. A project without carboy's
database pays nothing: SQLAlchemy is imported only when the app has a
``Database``.

Mail goes to memory during the tests, never out, unless
``CARBOY_MAIL_BACKEND`` is set in the environment. Passwords are hashed at
argon2id's lowest cost (``carboy.auth.hashers.cheap_hashing``), so that
signing many users in stays fast; ``carboy_fast_password_hashing = false``
in pytest's configuration keeps the real cost. Each test that uses
``client`` or ``async_client`` starts with no rate limit counts in memory
(``carboy.ratelimit.forget_counts``), so that the sign-ins of earlier tests
never throttle it.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import pytest

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.orm import Session

    from carboy.testing import TestClient

TEST_DATABASE_URL = "CARBOY_TEST_DATABASE_URL"
"""The environment variable naming the database the tests use."""

MAIL_BACKEND = "CARBOY_MAIL_BACKEND"
"""The setting of the mail backend, ``memory`` during the tests unless set."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "carboy_app",
        "The app carboy's fixtures test, as module:attribute (default: $CARBOY_APP, else "
        "app.py in the rootdir).",
        default="",
    )
    parser.addini(
        "carboy_fast_password_hashing",
        "Hash passwords at argon2id's lowest cost during the tests (default: true).",
        type="bool",
        default=True,
    )


@pytest.fixture(scope="session")
def _carboy_database_url(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Point ``CARBOY_DATABASE_URL`` at the tests' database for the session."""
    url = os.environ.get(TEST_DATABASE_URL) or (
        f"sqlite:///{tmp_path_factory.mktemp('carboy') / 'test.sqlite3'}"
    )
    worker = _xdist_worker(pytestconfig)
    if worker is not None and os.environ.get(TEST_DATABASE_URL):
        url = _for_worker(url, worker)
    previous = os.environ.get("CARBOY_DATABASE_URL")
    os.environ["CARBOY_DATABASE_URL"] = url
    yield url
    if previous is None:
        os.environ.pop("CARBOY_DATABASE_URL", None)
    else:
        os.environ["CARBOY_DATABASE_URL"] = previous


@pytest.fixture(scope="session")
def _carboy_memory_mail() -> Iterator[None]:
    """Send the tests' mail to memory, unless ``CARBOY_MAIL_BACKEND`` is set already."""
    if MAIL_BACKEND in os.environ:
        yield
        return
    os.environ[MAIL_BACKEND] = "memory"
    yield
    os.environ.pop(MAIL_BACKEND, None)


@pytest.fixture(scope="session")
def app(
    pytestconfig: pytest.Config, _carboy_database_url: str, _carboy_memory_mail: None
) -> Iterator[Any]:
    """The project's app, with its database migrated once for the session."""
    import click

    from carboy._discovery import find_app

    rootdir = str(pytestconfig.rootpath)
    if rootdir not in sys.path:
        sys.path.insert(0, rootdir)
    spec = str(pytestconfig.getini("carboy_app")).strip() or os.environ.get("CARBOY_APP")
    if not spec:
        if not (pytestconfig.rootpath / "app.py").is_file():
            raise pytest.UsageError(
                "carboy's app fixture found no app: set carboy_app = module:attribute in "
                "pytest's configuration, set CARBOY_APP, or create app.py in "
                f"{pytestconfig.rootpath}."
            )
        spec = "app:app"
    try:
        found = find_app(spec)
    except click.ClickException as exc:
        raise pytest.UsageError(
            f"carboy's app fixture could not load {spec}: {exc.message}"
        ) from None
    database = _database_of(found.app)
    # Under pytest-xdist each worker makes a database of its own, and drops it at the end.
    own_database = (
        database is not None
        and _xdist_worker(pytestconfig) is not None
        and TEST_DATABASE_URL in os.environ
    )
    if database is not None:
        _warn_unless_on_the_test_database(database, _carboy_database_url)
        if own_database:
            database.create_database(replace=True)
        database.prepare_for_tests()
    try:
        # Only an app that signs users in has imported carboy.auth, and with it its hashers.
        hashers = sys.modules.get("carboy.auth.hashers")
        if hashers is None or not pytestconfig.getini("carboy_fast_password_hashing"):
            yield found.app
        else:
            with hashers.cheap_hashing():
                yield found.app
    finally:
        if own_database:
            database.drop_database()


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    """A test client over the app, its lifespan run around the test."""
    from carboy.testing import TestClient

    _forget_rate_limit_counts(app)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
async def async_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An async client over the app, its lifespan run; for ``@pytest.mark.anyio`` tests."""
    from carboy.testing import TestClient

    _forget_rate_limit_counts(app)
    async with TestClient(app) as http:
        yield http


@pytest.fixture
def db_session(app: Any) -> Iterator[Session]:
    """A session in a transaction rolled back after the test, shared with the app's requests."""
    database = _database_of(app)
    if database is None:
        raise pytest.UsageError(
            "The db_session fixture needs an app with carboy.db's Database among its extensions."
        )
    with database.rolled_back_session() as session:
        yield session


@pytest.fixture
def mail_outbox(app: Any) -> list[Any]:
    """The messages the app sends during the test, oldest first; empty when it starts."""
    # Through the app's own import of carboy.mail, as the plugin imports no battery.
    mail = sys.modules.get("carboy.mail")
    if mail is None:
        raise pytest.UsageError(
            "The mail_outbox fixture needs an app that sends mail with carboy.mail, and this "
            "app has not imported it."
        )
    backend = mail.mailer_of(app).backend
    if not isinstance(backend, mail.MemoryBackend):
        raise pytest.UsageError(
            "The mail_outbox fixture reads the memory mail backend, but the app's is "
            f"{type(backend).__name__}: leave CARBOY_MAIL_BACKEND unset for the tests (they "
            "then use memory), or give the app Mail(MemoryBackend())."
        )
    backend.outbox.clear()
    outbox: list[Any] = backend.outbox
    return outbox


def _xdist_worker(config: pytest.Config) -> str | None:
    """The pytest-xdist worker this session runs in (``gw0``), or ``None`` outside xdist.

    Read from the session's configuration, not the environment, which a
    pytest started by a test of a worker inherits.
    """
    worker: dict[str, Any] | None = getattr(config, "workerinput", None)
    return None if worker is None else str(worker["workerid"])


def _for_worker(url: str, worker: str) -> str:
    """``url`` with the worker's name after the database's: ``test`` becomes ``test_gw0``.

    For SQLite the file's name takes it (``test_gw0.sqlite3``); an in-memory
    database is each process's own already.
    """
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        prefix, _, rest = url.partition(":///")
        path, mark, query = rest.partition("?")
        if path in ("", ":memory:"):
            return url
        stem, dot, suffix = path.rpartition(".")
        named = f"{stem}_{worker}.{suffix}" if dot and "/" not in suffix else f"{path}_{worker}"
        return f"{prefix}:///{named}{mark}{query}"
    name = parts.path.removeprefix("/")
    if not name:
        raise pytest.UsageError(
            f"{TEST_DATABASE_URL} names no database ({parts.scheme}://...): add its name, such "
            "as /test; each pytest-xdist worker makes its own database named after it."
        )
    return urlunsplit(parts._replace(path=f"/{name}_{worker}"))


def _warn_unless_on_the_test_database(database: Any, test_url: str) -> None:
    """Warn when the app's database is not the tests' one: its URL was given in code."""
    from sqlalchemy import make_url

    urls = database.urls
    expected, actual = make_url(test_url), urls.sync
    if (expected.get_backend_name(), expected.host, expected.port, expected.database) == (
        actual.get_backend_name(),
        actual.host,
        actual.port,
        actual.database,
    ):
        return
    warnings.warn(
        pytest.PytestWarning(
            f"The app's database is {urls.safe()}, from {urls.source}, not the tests' "
            f"database {make_url(test_url).render_as_string(hide_password=True)}: the tests "
            "migrate and use the app's. Give Database() no URL, so that it reads "
            "CARBOY_DATABASE_URL, which the plugin sets for the tests."
        ),
        stacklevel=1,
    )


def _forget_rate_limit_counts(app: Any) -> None:
    """Start the test with no rate limit counts in memory, as a new process would.

    The app lives for the whole session; without this, the counts of earlier
    tests (auth's sign-in throttle among them) would refuse later ones. Only
    an app that uses ``carboy.ratelimit`` has imported it.
    """
    ratelimit = sys.modules.get("carboy.ratelimit")
    if ratelimit is not None:
        ratelimit.forget_counts(app)


def _database_of(app: Any) -> Any:
    """The app's database extension (named ``db``), if it has one.

    Found by name, not by class: the plugin serves apps without carboy.db,
    and never imports it (nor SQLAlchemy) itself.
    """
    return getattr(app, "extensions", {}).get("db")
