"""``carboy createsuperuser`` and ``carboy changepassword``, on an app module and a SQLite file."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from carboy.auth.hashers import check_password
from carboy.auth.user import User
from carboy.cli import main
from carboy.db import Model

from ._pages_app import EMAIL, NEW_PASSWORD, PASSWORD, cheap_hashing, password_hash

APP = """\
from carboy import Carboy
from carboy.auth import Auth
from carboy.config import Settings
from carboy.db import Database

app = Carboy(
    extensions=[Database({url!r}), Auth()],
    settings=Settings(secret_key="cli-tests-" + "k" * 40),
)
"""
SHORT = "This password is too short: it must have at least 8 characters."


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A current folder with ``app.py`` (Database and Auth) and the auth tables."""
    monkeypatch.chdir(tmp_path)
    for name in ("CARBOY_APP", "CARBOY_DATABASE_URL", "CARBOY_SUPERUSER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    url = f"sqlite:///{tmp_path / 'users.db'}"
    (tmp_path / "app.py").write_text(APP.format(url=url), encoding="utf-8")
    engine = create_engine(url)
    tables = [table for name, table in Model.metadata.tables.items() if name.startswith("auth_")]
    Model.metadata.create_all(engine, tables=tables)
    engine.dispose()
    with cheap_hashing():
        yield tmp_path
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, env=env)


def users(project: Path) -> list[User]:
    engine = create_engine(f"sqlite:///{project / 'users.db'}")
    try:
        with Session(engine) as session:
            found = list(session.scalars(select(User).order_by(User.id)))
            session.expunge_all()
            return found
    finally:
        engine.dispose()


def add_user(project: Path, email: str = EMAIL) -> None:
    engine = create_engine(f"sqlite:///{project / 'users.db'}")
    try:
        with Session(engine) as session:
            session.add(User(email=email, password=password_hash(PASSWORD)))
            session.commit()
    finally:
        engine.dispose()


def assert_clean_failure(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: {message}\n"
    assert "Traceback" not in result.output


def test_the_commands_are_listed_by_carboy_help() -> None:
    result = run("--help")

    assert "createsuperuser  Create a superuser: an active staff user who holds every..." in (
        result.output
    )
    assert "changepassword   Set a new password for the user with the address EMAIL." in (
        result.output
    )


# createsuperuser -------------------------------------------------------------------


def test_createsuperuser_without_input_takes_the_password_from_the_environment(
    project: Path,
) -> None:
    result = run(
        "createsuperuser",
        "--email",
        "Ada@Example.COM",
        "--no-input",
        env={"CARBOY_SUPERUSER_PASSWORD": PASSWORD},
    )

    assert result.exit_code == 0, result.output
    assert result.output == "Superuser ada@example.com created.\n"
    (user,) = users(project)
    assert user.email == "ada@example.com"
    assert (user.is_active, user.is_staff, user.is_superuser) == (True, True, True)
    assert user.password.startswith("$argon2id$")
    assert check_password(PASSWORD, user.password)


def test_createsuperuser_takes_the_password_as_an_option(project: Path) -> None:
    result = run("createsuperuser", "--email", EMAIL, "--password", PASSWORD, "--no-input")

    assert result.exit_code == 0, result.output
    assert check_password(PASSWORD, users(project)[0].password)


def test_createsuperuser_asks_for_what_it_is_not_given(project: Path) -> None:
    result = run("createsuperuser", input=f"{EMAIL}\n{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Email: {EMAIL}\nPassword: \nPassword (again): \nSuperuser {EMAIL} created.\n"
    )
    assert check_password(PASSWORD, users(project)[0].password)


def test_createsuperuser_asks_again_for_a_rejected_or_mistyped_password(
    project: Path,
) -> None:
    answers = ["short", "short", PASSWORD, "typo", PASSWORD, PASSWORD]
    result = run("createsuperuser", "--email", EMAIL, input="\n".join(answers) + "\n")

    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"Error: the password was rejected. {SHORT}\n"
        "Error: the two passwords differ. Type the same one twice.\n"
    )
    assert result.stdout.endswith(f"Superuser {EMAIL} created.\n")
    assert check_password(PASSWORD, users(project)[0].password)


def test_createsuperuser_asks_again_for_a_taken_or_malformed_address(project: Path) -> None:
    add_user(project)

    result = run(
        "createsuperuser",
        input=f"{EMAIL}\nnot-an-address\ngrace@example.com\n{PASSWORD}\n{PASSWORD}\n",
    )

    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"Error: A user with the email address {EMAIL} already exists. Choose another "
        f"address, or set this user's password with 'carboy changepassword {EMAIL}'.\n"
        "Error: 'not-an-address' is not an email address, such as ada@example.com.\n"
    )
    assert [user.email for user in users(project)] == [EMAIL, "grace@example.com"]


def test_createsuperuser_checks_the_password_against_the_address(project: Path) -> None:
    result = run(
        "createsuperuser",
        "--email",
        "grace.hopper@example.com",
        "--password",
        "gracehopper",
        "--no-input",
    )

    assert_clean_failure(
        result,
        "The password was rejected. This password is too similar to your e-mail address.",
    )
    assert users(project) == []


def test_createsuperuser_refuses_a_taken_address(project: Path) -> None:
    add_user(project)

    result = run("createsuperuser", "--email", EMAIL, "--password", PASSWORD, "--no-input")

    assert_clean_failure(
        result,
        f"A user with the email address {EMAIL} already exists. Choose another address, or "
        f"set this user's password with 'carboy changepassword {EMAIL}'.",
    )
    assert len(users(project)) == 1


def test_createsuperuser_run_twice_with_if_exists_skip_leaves_the_user_and_exits_0(
    project: Path,
) -> None:
    command = ("createsuperuser", "--email", EMAIL, "--password", PASSWORD, "--no-input")

    first = run(*command, "--if-exists", "skip")
    second = run(*command[:3], "--password", "another-long-password", "--no-input",
                 "--if-exists", "skip")  # fmt: skip

    assert (first.exit_code, first.stdout) == (0, f"Superuser {EMAIL} created.\n")
    assert (second.exit_code, second.stdout) == (
        0,
        f"A user with the email address {EMAIL} exists; nothing changed.\n",
    )
    [user] = users(project)
    assert check_password(PASSWORD, user.password).is_valid


def test_createsuperuser_with_if_exists_update_makes_the_user_a_superuser(
    project: Path,
) -> None:
    add_user(project)
    new_password = "a-new-and-long-password"

    result = run(
        "createsuperuser", "--email", EMAIL.upper(), "--password", new_password, "--no-input",
        "--if-exists", "update",
    )  # fmt: skip

    assert (result.exit_code, result.stdout) == (0, f"Superuser {EMAIL} updated.\n")
    [user] = users(project)
    assert (user.is_active, user.is_staff, user.is_superuser) == (True, True, True)
    assert check_password(new_password, user.password).is_valid
    assert user.session_epoch == 1


def test_createsuperuser_with_if_exists_update_still_checks_the_password(
    project: Path,
) -> None:
    add_user(project)

    result = run(
        "createsuperuser", "--email", EMAIL, "--password", "short", "--no-input",
        "--if-exists", "update",
    )  # fmt: skip

    assert_clean_failure(result, f"The password was rejected. {SHORT}")
    [user] = users(project)
    assert (user.is_superuser, check_password(PASSWORD, user.password).is_valid) == (
        False,
        True,
    )


def test_createsuperuser_refuses_a_malformed_address(project: Path) -> None:
    result = run("createsuperuser", "--email", "ada", "--password", PASSWORD, "--no-input")

    assert_clean_failure(result, "'ada' is not an email address, such as ada@example.com.")


def test_createsuperuser_without_input_needs_an_address() -> None:
    result = run("createsuperuser", "--password", PASSWORD, "--no-input")

    assert_clean_failure(
        result, "createsuperuser --no-input needs the email address: pass --email."
    )


def test_createsuperuser_without_input_needs_a_password() -> None:
    result = run("createsuperuser", "--email", EMAIL, "--no-input")

    assert_clean_failure(
        result,
        "createsuperuser --no-input needs the password: set CARBOY_SUPERUSER_PASSWORD, or "
        "pass --password.",
    )


def test_createsuperuser_with_a_short_password_fails_without_input(project: Path) -> None:
    result = run("createsuperuser", "--email", EMAIL, "--password", "short", "--no-input")

    assert_clean_failure(result, f"The password was rejected. {SHORT}")
    assert users(project) == []


def test_createsuperuser_without_an_app_says_how_to_name_one(project: Path) -> None:
    (project / "app.py").unlink()

    result = run("createsuperuser", "--email", EMAIL, "--no-input")

    assert_clean_failure(
        result,
        "No app found: pass --app module:attribute, set CARBOY_APP, or create app.py in the "
        "current folder.",
    )


def test_createsuperuser_on_an_app_without_auth_says_to_add_it(project: Path) -> None:
    (project / "plain.py").write_text(
        textwrap.dedent(
            """\
            from carboy import Carboy
            from carboy.db import Database

            app = Carboy(extensions=[Database("sqlite://")])
            """
        ),
        encoding="utf-8",
    )

    result = run("createsuperuser", "--app", "plain:app", "--email", EMAIL, "--no-input")

    assert_clean_failure(
        result,
        "The app 'plain:app' has no users: Auth is not among its extensions. Add it after the "
        "database: Carboy(extensions=[Database(), Auth()]).",
    )


def test_createsuperuser_on_an_asgi_app_that_is_not_carboy_says_so(project: Path) -> None:
    (project / "raw.py").write_text(
        "async def app(scope, receive, send):\n    pass\n", encoding="utf-8"
    )

    result = run("--app", "raw:app", "createsuperuser", "--email", EMAIL, "--no-input")

    assert_clean_failure(result, "'raw:app' is a function, not a carboy app, so it has no users.")


def test_createsuperuser_before_the_tables_exist_says_to_migrate(project: Path) -> None:
    (project / "users.db").unlink()

    result = run("createsuperuser", "--email", EMAIL, "--password", PASSWORD, "--no-input")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: The database at sqlite+pysqlite:////")
    assert result.stderr.endswith(
        "(the url given to Database()) failed: OperationalError: no such table: auth_user. "
        "Check that it runs, and that its tables exist ('carboy db migrate').\n"
    )
    assert "Traceback" not in result.output


# changepassword ---------------------------------------------------------------------


def test_changepassword_sets_the_new_password(project: Path) -> None:
    add_user(project)

    result = run("changepassword", "ADA@example.com", input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Changing the password of {EMAIL}.\nPassword: \nPassword (again): \n"
        "The password of ADA@example.com is changed; its sessions signed in with the old one "
        "have ended.\n"
    )
    (user,) = users(project)
    assert check_password(NEW_PASSWORD, user.password)
    assert not check_password(PASSWORD, user.password)


def test_changepassword_gives_up_after_three_refused_passwords(project: Path) -> None:
    add_user(project)

    result = run("changepassword", EMAIL, input="short\nshort\na\nb\n123456789\n123456789\n")

    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: the password was rejected. {SHORT}\n"
        "Error: the two passwords differ. Type the same one twice.\n"
        "Error: the password was rejected. This password is one of the most common, which "
        "attackers try first. This password is made of digits only.\n"
        "Error: No password was set: 3 attempts failed, for the reasons above. Run the "
        "command again.\n"
    )
    assert check_password(PASSWORD, users(project)[0].password)


def test_changepassword_for_an_unknown_address_fails_cleanly() -> None:
    result = run("changepassword", "nobody@example.com")

    assert_clean_failure(
        result,
        "No user has the email address 'nobody@example.com'. Check the address, or create a "
        "superuser with 'carboy createsuperuser'.",
    )
