"""carboy's pytest plugin, run on small projects through pytester.

Each project runs in a subprocess, so that its modules (``app``, its
models' tables) never meet this suite's. The plugin is passed with ``-p``
as the entry point would load it for an installed carboy.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url

from tests._services import mysql_url, postgres_url

pytest_plugins = ["pytester"]

SRC = str(Path(__file__).resolve().parents[1] / "src")

DB_APP = """
from pathlib import Path

from sqlalchemy import String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from carboy import Carboy, HTTPException
from carboy.db import Database


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "plugin_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


database = Database(metadata=Base.metadata, migrations=Path(__file__).parent / "no-migrations")
app = Carboy(extensions=[database])


@app.post("/items/{name}", status_code=201)
def add(name: str, session: Session) -> dict[str, str]:
    session.add(Item(name=name))
    return {"added": name}


@app.get("/items")
def count(session: Session) -> dict[str, int]:
    return {"count": session.scalar(select(func.count()).select_from(Item)) or 0}


@app.post("/async/items/{name}", status_code=201)
async def add_async(name: str, session: AsyncSession) -> dict[str, object]:
    item = Item(name=name)
    session.add(item)
    await session.flush()
    return {"id": item.id, "name": name}


@app.get("/async/items")
async def names_async(session: AsyncSession) -> list[str]:
    return list((await session.scalars(select(Item.name).order_by(Item.name))).all())


@app.get("/async/raw")
async def raw_counts(session: AsyncSession) -> dict[str, int]:
    connection = await session.connection()
    driver = await connection.exec_driver_sql("SELECT count(*) FROM plugin_item")
    core = await connection.execute(select(func.count()).select_from(Item))
    return {"driver": driver.scalar_one(), "core": core.scalar_one()}


@app.post("/async/items/{name}/refused")
async def add_then_refuse(name: str, session: AsyncSession) -> None:
    session.add(Item(name=name))
    await session.flush()
    raise HTTPException(409, "Refused after the flush.")
"""


def _run(
    pytester: pytest.Pytester, *args: str, env: dict[str, str] | None = None
) -> pytest.RunResult:
    """Run the project's tests in a subprocess with this carboy and only ``env``'s CARBOY_*."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("CARBOY_")]:
            patch.delenv(name)
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        patch.setenv("PYTHONPATH", SRC, prepend=os.pathsep)
        # The plugin loads from its pytest11 entry point, as in a user's project.
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_db_session_rolls_back_rows_made_directly_and_through_client(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(app=DB_APP)
    pytester.makepyfile(
        test_items=textwrap.dedent(
            """
            from sqlalchemy import select

            from app import Item


            def test_1_direct(db_session):
                db_session.add(Item(name="direct"))
                db_session.commit()
                assert db_session.scalars(select(Item.name)).all() == ["direct"]


            def test_2_through_the_client(client, db_session):
                assert client.get("/items").json() == {"count": 0}
                assert client.post("/items/posted").status_code == 201
                assert db_session.scalars(select(Item.name)).all() == ["posted"]
                assert client.get("/items").json() == {"count": 1}


            def test_3_nothing_left(client, db_session):
                assert db_session.scalars(select(Item.name)).all() == []
                assert client.get("/items").json() == {"count": 0}
            """
        )
    )
    result = _run(pytester, "-v")
    result.assert_outcomes(passed=3)


def test_an_app_whose_database_url_is_given_in_code_gets_a_warning(
    pytester: pytest.Pytester,
) -> None:
    # The URL in code wins over CARBOY_DATABASE_URL, so the tests would run on it.
    pytester.makepyfile(
        app=DB_APP.replace(
            "database = Database(metadata=Base.metadata,",
            "database = Database(f\"sqlite:///{Path(__file__).parent / 'dev.sqlite3'}\", "
            "metadata=Base.metadata,",
        )
    )
    pytester.makepyfile(test_x="def test_x(db_session):\n    pass\n")
    result = _run(pytester, "-W", "default")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*PytestWarning: The app's database is sqlite*:///*/dev.sqlite3, from the url given "
            "to Database(), not the tests' database sqlite:///*/test.sqlite3: the tests migrate "
            "and use the app's. Give Database() no URL, so that it reads CARBOY_DATABASE_URL, "
            "which the plugin sets for the tests."
        ]
    )


def test_an_app_that_reads_the_setting_gets_no_warning(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app=DB_APP)
    pytester.makepyfile(test_x="def test_x(db_session):\n    pass\n")
    _run(pytester, "-W", "default").assert_outcomes(passed=1, warnings=0)


ASYNC_HANDLER_TESTS = """
import pytest
from sqlalchemy import select

from app import Item


@pytest.fixture
def anyio_backend():
    return "asyncio"


def test_1_an_async_handler_writes_into_the_tests_transaction(client, db_session):
    db_session.add(Item(name="from the test"))
    db_session.flush()

    # The async handler sees the test's row, and the test sees the handler's.
    assert client.get("/async/items").json() == ["from the test"]
    response = client.post("/async/items/from-a-request")
    assert response.status_code == 201
    row = db_session.scalars(select(Item).where(Item.name == "from-a-request")).one()
    assert response.json() == {"id": row.id, "name": "from-a-request"}
    assert client.get("/items").json() == {"count": 2}
    assert client.get("/async/raw").json() == {"driver": 2, "core": 2}


def test_2_a_refused_request_undoes_only_its_own_rows(client, db_session):
    assert client.post("/async/items/kept").status_code == 201
    response = client.post("/async/items/dropped/refused")
    assert response.status_code == 409
    assert db_session.scalars(select(Item.name)).all() == ["kept"]
    assert client.get("/async/items").json() == ["kept"]


@pytest.mark.anyio
async def test_3_through_the_async_client(async_client, db_session):
    response = await async_client.post("/async/items/async-client")
    assert response.status_code == 201
    assert db_session.scalars(select(Item.name)).all() == ["async-client"]


def test_4_nothing_is_left(client, db_session):
    assert db_session.scalars(select(Item.name)).all() == []
    assert client.get("/async/items").json() == []
    assert client.get("/items").json() == {"count": 0}
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mariadb"])
def test_db_session_joins_the_sessions_of_async_handlers(
    pytester: pytest.Pytester, backend: str
) -> None:
    env = {}
    if backend == "postgresql":
        env["CARBOY_TEST_DATABASE_URL"] = postgres_url()
    elif backend == "mariadb":
        env["CARBOY_TEST_DATABASE_URL"] = mysql_url()
    engine = None
    if backend != "sqlite":
        sync_url = make_url(env["CARBOY_TEST_DATABASE_URL"]).set(
            drivername="postgresql+psycopg" if backend == "postgresql" else "mysql+pymysql"
        )
        engine = create_engine(sync_url)
        # A table an earlier run left behind (by a test that failed) starts empty.
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS plugin_item")
    pytester.makepyfile(app=DB_APP, test_async_items=ASYNC_HANDLER_TESTS)
    result = _run(pytester, "-v", env=env)
    result.assert_outcomes(passed=4)
    if engine is not None:
        # The database the project's tests ran on holds none of their rows.
        try:
            with engine.connect() as connection:
                count = connection.exec_driver_sql("SELECT count(*) FROM plugin_item").scalar()
        finally:
            engine.dispose()
        assert count == 0


def test_each_test_starts_with_no_rate_limit_counts(pytester: pytest.Pytester) -> None:
    # One app serves the whole session; its counts must not carry over.
    pytester.makepyfile(
        app="""
        from carboy import Carboy
        from carboy.ratelimit import limit

        app = Carboy()


        @app.post("/sign-in")
        @limit("2/minute")
        async def sign_in() -> dict[str, bool]:
            return {"signed_in": True}
        """
    )
    pytester.makepyfile(
        test_limits="""
        import pytest


        @pytest.fixture
        def anyio_backend():
            return "asyncio"


        @pytest.mark.parametrize("attempt", range(3))
        def test_two_sign_ins(client, attempt):
            assert [client.post("/sign-in").status_code for _ in range(3)] == [200, 200, 429]


        @pytest.mark.anyio
        async def test_two_more_through_the_async_client(async_client):
            statuses = [(await async_client.post("/sign-in")).status_code for _ in range(3)]
            assert statuses == [200, 200, 429]
        """
    )
    _run(pytester).assert_outcomes(passed=4)


MAIL_APP = """
from carboy import Carboy, Request
from carboy.csrf import csrf_exempt
from carboy.mail import EmailMessage, mailer_of

app = Carboy()


@app.post("/invite/{count}")
@csrf_exempt
async def invite(request: Request, count: int) -> dict[str, int]:
    mailer = mailer_of(request.app)
    for number in range(count):
        to = [f"guest{number}@example.com"]
        await mailer.send(EmailMessage(to=to, subject=f"Invitation {number}", body="Come."))
    return {"sent": count}
"""


def test_mail_goes_to_an_outbox_emptied_for_each_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app=MAIL_APP)
    pytester.makepyfile(
        test_mail="""
        import os


        def test_1_one_message(client, mail_outbox):
            assert client.post("/invite/1").json() == {"sent": 1}
            assert [(m.to, m.subject) for m in mail_outbox] == [
                (["guest0@example.com"], "Invitation 0")
            ]


        def test_2_the_outbox_starts_empty(client, mail_outbox):
            assert mail_outbox == []
            client.post("/invite/2")
            assert [m.subject for m in mail_outbox] == ["Invitation 0", "Invitation 1"]


        def test_3_the_backend_is_memory():
            assert os.environ["CARBOY_MAIL_BACKEND"] == "memory"
        """
    )
    _run(pytester, "-v").assert_outcomes(passed=3)


def test_mail_outbox_with_another_backend_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app=MAIL_APP)
    pytester.makepyfile(test_x="def test_x(mail_outbox):\n    pass\n")
    result = _run(pytester, env={"CARBOY_MAIL_BACKEND": "console"})
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*The mail_outbox fixture reads the memory mail backend, but the app's is ConsoleBackend*"]
    )


def test_mail_outbox_for_an_app_without_mail_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app="from carboy import Carboy\n\napp = Carboy()\n")
    pytester.makepyfile(test_x="def test_x(mail_outbox):\n    pass\n")
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*The mail_outbox fixture needs an app that sends mail with carboy.mail*"]
    )


@pytest.mark.parametrize(
    ("ini", "parameters"),
    [("", "m=8,t=1,p=1"), ("[pytest]\ncarboy_fast_password_hashing = false\n", "m=65536,t=3,p=4")],
)
def test_passwords_are_hashed_cheaply_in_tests_unless_configured_not_to(
    pytester: pytest.Pytester, ini: str, parameters: str
) -> None:
    pytester.makepyfile(app="import carboy.auth\nfrom carboy import Carboy\n\napp = Carboy()\n")
    if ini:
        pytester.makeini(ini)
    pytester.makepyfile(
        test_hash=f"""
        from carboy.auth.hashers import check_password, make_password


        def test_the_cost(app):
            encoded = make_password("correct horse")
            assert encoded.startswith("$argon2id$v=19${parameters}$")
            assert check_password("correct horse", encoded).is_valid
        """
    )
    _run(pytester).assert_outcomes(passed=1)


def test_app_client_and_async_client_without_a_database(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        app="""
        from carboy import Carboy

        app = Carboy()


        @app.get("/")
        async def home() -> dict[str, str]:
            return {"hello": "plugin"}
        """
    )
    pytester.makepyfile(
        test_home="""
        import sys

        import pytest

        from carboy import Carboy


        def test_app(app):
            assert isinstance(app, Carboy)


        def test_client(client):
            response = client.get("/")
            assert response.status_code == 200
            assert response.json() == {"hello": "plugin"}


        @pytest.mark.anyio
        async def test_async_client(async_client):
            response = await async_client.get("/")
            assert response.json() == {"hello": "plugin"}


        @pytest.fixture
        def anyio_backend():
            return "asyncio"


        def test_no_sqlalchemy_for_a_project_without_a_database():
            assert "sqlalchemy" not in sys.modules
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=4)


def test_the_ini_option_names_the_app_and_conftest_fixtures_win(
    pytester: pytest.Pytester,
) -> None:
    pytester.mkpydir("site_pkg")
    pytester.path.joinpath("site_pkg", "web.py").write_text(
        "from carboy import Carboy\n\nweb = Carboy()\n\n\n"
        "@web.get('/')\nasync def home() -> str:\n    return 'from the ini option'\n"
    )
    pytester.makeini("[pytest]\ncarboy_app = site_pkg.web:web\n")
    pytester.makeconftest(
        """
        import pytest


        @pytest.fixture
        def client():
            return "the project's own client"
        """
    )
    pytester.makepyfile(
        test_ini="""
        from carboy.testing import TestClient


        def test_app_from_the_ini_option(app):
            with TestClient(app) as http:
                assert http.get("/").text == "from the ini option"


        def test_conftest_overrides(client):
            assert client == "the project's own client"
        """
    )
    _run(pytester).assert_outcomes(passed=2)


def test_no_app_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(app):\n    pass\n")
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*carboy's app fixture found no app: set carboy_app*"])


def test_db_session_without_a_database_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app="from carboy import Carboy\n\napp = Carboy()\n")
    pytester.makepyfile(test_x="def test_x(db_session):\n    pass\n")
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*db_session fixture needs an app with carboy.db's Database*"])


def test_the_entry_point_is_declared() -> None:
    pyproject = (Path(SRC).parent / "pyproject.toml").read_text()
    assert '[project.entry-points.pytest11]\ncarboy = "carboy.pytest_plugin"' in pyproject


WORKER_TESTS = """
import os
from pathlib import Path

from sqlalchemy import select

from app import Item


def _record(db_session):
    name = db_session.connection().engine.url.database
    with Path(__file__).with_name("databases.txt").open("a") as log:
        log.write(f"{os.environ['PYTEST_XDIST_WORKER']} {name}\\n")


def test_1_a_row_of_this_worker(client, db_session):
    _record(db_session)
    assert client.post("/items/first").status_code == 201
    assert db_session.scalars(select(Item.name)).all() == ["first"]


def test_2_only_this_workers_rows(client, db_session):
    _record(db_session)
    assert client.get("/items").json() == {"count": 0}
"""


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_each_xdist_worker_gets_a_database_of_its_own_dropped_at_the_end(
    pytester: pytest.Pytester, backend: str
) -> None:
    base = make_url(postgres_url() if backend == "postgresql" else mysql_url())
    pytester.makepyfile(app=DB_APP, test_workers=WORKER_TESTS)

    result = _run(
        pytester, "-n", "2", "--dist", "each", env={"CARBOY_TEST_DATABASE_URL": str(base)}
    )

    result.assert_outcomes(passed=4)
    seen = sorted(set((pytester.path / "databases.txt").read_text().splitlines()))
    assert seen == [f"gw0 {base.database}_gw0", f"gw1 {base.database}_gw1"]
    driver = "postgresql+psycopg" if backend == "postgresql" else "mysql+pymysql"
    engine = create_engine(base.set(drivername=driver))
    try:
        with engine.connect() as connection:
            if backend == "postgresql":
                names = connection.exec_driver_sql("SELECT datname FROM pg_database").scalars()
            else:
                names = connection.exec_driver_sql("SHOW DATABASES").scalars()
            left = [name for name in names if name.startswith(f"{base.database}_gw")]
    finally:
        engine.dispose()
    assert left == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@db:5432/test?sslmode=require", "postgresql://u:p@db:5432/test_gw1?sslmode=require"),
        ("mysql://root@127.0.0.1/site", "mysql://root@127.0.0.1/site_gw1"),
        ("sqlite:///tests.sqlite3", "sqlite:///tests_gw1.sqlite3"),
        ("sqlite:////tmp/a.b/tests", "sqlite:////tmp/a.b/tests_gw1"),
        ("sqlite://", "sqlite://"),
    ],
)  # fmt: skip
def test_a_workers_database_is_named_after_the_test_database(url: str, expected: str) -> None:
    from carboy.pytest_plugin import _for_worker

    assert _for_worker(url, "gw1") == expected


def test_a_server_url_without_a_database_name_is_a_clear_error() -> None:
    from carboy.pytest_plugin import _for_worker

    with pytest.raises(pytest.UsageError) as raised:
        _for_worker("postgresql://postgres@127.0.0.1:5432", "gw0")

    assert str(raised.value) == (
        "CARBOY_TEST_DATABASE_URL names no database (postgresql://...): add its name, such as "
        "/test; each pytest-xdist worker makes its own database named after it."
    )
