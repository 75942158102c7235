"""``carboy createsuperuser`` and ``carboy changepassword``: users from the command line.

::

    carboy createsuperuser                                  # asks for the address and password
    CARBOY_SUPERUSER_PASSWORD=... carboy createsuperuser --email ada@example.com --no-input
    carboy changepassword ada@example.com                   # asks for the new password twice

Both work on the user model and the database of the app that ``--app``,
``CARBOY_APP`` or ``app.py`` names, and check passwords with the app's
``Auth(password_validators=...)``. The ``carboy`` command finds them through
the ``carboy.commands`` entry points.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import click

from carboy._discovery import find_app

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from carboy.auth.extension import Auth
    from carboy.auth.models import AbstractUser
    from carboy.db.extension import Database

__all__ = ["PASSWORD_ENV", "changepassword", "createsuperuser"]

PASSWORD_ENV = "CARBOY_SUPERUSER_PASSWORD"
"""The environment variable ``createsuperuser`` reads the password from, when not prompting."""

ATTEMPTS = 3
"""How many times a prompt for a new password asks before giving up."""

F = TypeVar("F", bound=Callable[..., Any])


def _app_option(function: F) -> F:
    return click.option(
        "--app",
        "app_spec",
        metavar="MODULE:ATTR",
        help=(
            "The app whose users to manage, as module:attribute, or module:factory(). "
            "Default: $CARBOY_APP, else app.py in the current folder."
        ),
    )(function)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--email", help="The superuser's email address; asked for when left out.")
@click.option(
    "--password",
    envvar=PASSWORD_ENV,
    show_envvar=True,
    help=(
        "The superuser's password; asked for twice when left out. Prefer the environment "
        "variable: a command line is visible to every user of the machine."
    ),
)
@click.option(
    "--no-input",
    "no_input",
    is_flag=True,
    help="Ask nothing: --email and the password must be given, and a problem ends the command.",
)
@click.option(
    "--if-exists",
    "if_exists",
    type=click.Choice(["error", "skip", "update"]),
    default="error",
    show_default=True,
    help=(
        "What to do when a user has the --email address: fail, leave the user as it is "
        "and exit 0 (a setup script run twice), or make that user an active superuser "
        "with the given password."
    ),
)
@_app_option
@click.pass_context
def createsuperuser(
    ctx: click.Context,
    email: str | None,
    password: str | None,
    no_input: bool,
    if_exists: str,
    app_spec: str | None,
) -> None:
    """Create a superuser: an active staff user who holds every permission.

    The password must pass the app's password validators. Without
    --no-input, what is not given is asked for, and a rejected address or
    password is asked for again. --if-exists skip or update makes the
    command safe to run again.
    """

    auth, database = _battery(ctx, app_spec)
    if no_input:
        if not email:
            raise click.ClickException(
                "createsuperuser --no-input needs the email address: pass --email."
            )
        if not password:
            raise click.ClickException(
                "createsuperuser --no-input needs the password: set "
                f"{PASSWORD_ENV}, or pass --password."
            )
    with _database_errors(database), database.session() as session:
        existing = _find(session, auth, email) if email and if_exists != "error" else None
        if existing is not None and if_exists == "skip":
            click.echo(f"A user with the email address {existing.email} exists; nothing changed.")
            return
        if existing is not None:
            if password:
                _check(password, existing, auth)
            else:
                password = _ask_password(existing, auth)
            existing.is_active = existing.is_staff = existing.is_superuser = True
            existing.set_password(password)
            session.commit()
            click.echo(f"Superuser {existing.email} updated.")
            return
        email = _email(session, auth, email, interactive=not no_input)
        user: AbstractUser = auth.user_model(
            email=email, is_active=True, is_staff=True, is_superuser=True
        )
        if password:
            _check(password, user, auth)
        else:
            password = _ask_password(user, auth)
        user.set_password(password)
        session.add(user)
        session.commit()
    click.echo(f"Superuser {email} created.")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("email")
@_app_option
@click.pass_context
def changepassword(ctx: click.Context, email: str, app_spec: str | None) -> None:
    """Set a new password for the user with the address EMAIL.

    The new password is asked for twice, and must pass the app's password
    validators. Every session signed in with the old password ends.
    """
    auth, database = _battery(ctx, app_spec)
    with _database_errors(database), database.session() as session:
        user = _find(session, auth, email)
        if user is None:
            raise click.ClickException(
                f"No user has the email address {email!r}. Check the address, or create a "
                "superuser with 'carboy createsuperuser'."
            )
        click.echo(f"Changing the password of {user.email}.")
        user.set_password(_ask_password(user, auth))
        session.commit()
    click.echo(
        f"The password of {email} is changed; its sessions signed in with the old one have ended."
    )


# Helpers ----------------------------------------------------------------------


def _battery(ctx: click.Context, app_spec: str | None) -> tuple[Auth, Database]:
    """Find the app, and the auth and database batteries installed in it."""
    from carboy.app import Carboy
    from carboy.auth.extension import Auth
    from carboy.db.extension import Database

    try:
        found = find_app(app_spec or ctx.find_root().params.get("app_spec"))
    except click.UsageError as exc:
        raise click.ClickException(exc.message) from None
    app = found.app
    if not isinstance(app, Carboy):
        name = type(app).__qualname__
        article = "an" if name[:1].lower() in "aeiou" else "a"
        raise click.ClickException(
            f"{found.label!r} is {article} {name}, not a carboy app, so it has no users."
        )
    auth = app.extensions.get("auth")
    database = app.extensions.get("db")
    if not isinstance(auth, Auth) or not isinstance(database, Database):
        raise click.ClickException(
            f"The app {found.label!r} has no users: Auth is not among its extensions. "
            "Add it after the database: Carboy(extensions=[Database(), Auth()])."
        )
    # Close the pooled connections when the command ends, not when the
    # process does: a server counts a dropped connection as an error.
    ctx.call_on_close(lambda: anyio.run(database.disconnect))
    return auth, database


@contextmanager
def _database_errors(database: Database) -> Iterator[None]:
    """Turn a database failure (no tables yet, the server down) into a message."""
    from sqlalchemy.exc import DBAPIError

    from carboy.exceptions import ImproperlyConfigured

    try:
        yield
    except ImproperlyConfigured as exc:
        raise click.ClickException(str(exc)) from None
    except DBAPIError as exc:
        original = exc.orig if exc.orig is not None else exc
        reason = str(original).strip().splitlines()[0] if str(original).strip() else ""
        urls = database.urls
        raise click.ClickException(
            f"The database at {urls.safe()} ({urls.source}) failed: "
            f"{type(original).__name__}: {reason}. Check that it runs, and that its tables "
            "exist ('carboy db migrate')."
        ) from None


def _find(session: Session, auth: Auth, email: str) -> AbstractUser | None:
    from sqlalchemy import select

    from carboy.auth.authentication import normalize_email

    model = auth.user_model
    statement = select(model).where(model.email == normalize_email(email))
    user: AbstractUser | None = session.scalars(statement).first()
    return user


def _email(session: Session, auth: Auth, given: str | None, *, interactive: bool) -> str:
    """Return a new user's address: ``given``, or asked for until one is free and valid."""
    from carboy.auth.authentication import normalize_email
    from carboy.auth.forms import EMAIL_PATTERN

    while True:
        email = normalize_email(given if given else click.prompt("Email"))
        if not re.fullmatch(EMAIL_PATTERN, email) or len(email) > 254:
            problem = f"{email!r} is not an email address, such as ada@example.com."
        elif _find(session, auth, email) is not None:
            problem = (
                f"A user with the email address {email} already exists. Choose another "
                f"address, or set this user's password with 'carboy changepassword {email}'."
            )
        else:
            return email
        if given or not interactive:
            raise click.ClickException(problem)
        click.echo(f"Error: {problem}", err=True)


def _check(password: str, user: AbstractUser, auth: Auth) -> None:
    from carboy.auth.validators import PasswordRejected, validate_password

    try:
        validate_password(password, user, auth.password_validators)
    except PasswordRejected as exc:
        raise click.ClickException(f"The password was rejected. {exc}") from None


def _ask_password(user: AbstractUser, auth: Auth) -> str:
    """Ask for a new password twice, until both match and the validators pass it."""
    from carboy.auth.validators import PasswordRejected, validate_password

    for _ in range(ATTEMPTS):
        password: str = click.prompt("Password", hide_input=True)
        again: str = click.prompt("Password (again)", hide_input=True)
        if password != again:
            click.echo("Error: the two passwords differ. Type the same one twice.", err=True)
            continue
        try:
            validate_password(password, user, auth.password_validators)
        except PasswordRejected as exc:
            click.echo(f"Error: the password was rejected. {exc}", err=True)
            continue
        return password
    raise click.ClickException(
        f"No password was set: {ATTEMPTS} attempts failed, for the reasons above. Run the "
        "command again."
    )
