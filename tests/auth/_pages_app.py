"""An app that serves the sign-in pages, for the page, CLI and browser tests.

The app has the auth tables on a SQLite file or another database, mail kept
in memory, and two pages of its own: ``/`` says who is signed in and under
which session id, ``/private`` is for signed-in users only.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select

from carboy import Carboy, Request
from carboy.auth import Auth, login_required
from carboy.auth.hashers import cheap_hashing, make_password
from carboy.auth.user import User
from carboy.config import Settings
from carboy.db import Database, Model
from carboy.mail import MemoryBackend, mailer_of
from carboy.mail.message import EmailMessage
from carboy.sessions import SessionBackend

KEY = "auth-pages-tests-secret-key-" + "p" * 40
EMAIL = "ada@example.com"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new passphrase 42"

# A page's CSRF token is masked with fresh random bytes on every page.
CSRF_INPUT = re.compile(r'<input type="hidden" name="csrf_token" value="([0-9a-f]+)">')
LINK = re.compile(r"http://[^\s\"<>]+")


def make_app(
    database: Path | str,
    *,
    extensions: tuple[Any, ...] = (),
    sessions: SessionBackend | None = None,
    **auth_options: Any,
) -> Carboy:
    """Return an app with the pages under ``/auth`` and its auth tables made.

    ``database`` is a SQLite file's path, or a database URL (a fresh
    PostgreSQL database's).
    """
    url = database if isinstance(database, str) else f"sqlite:///{database}"
    db = Database(url)
    auth_options.setdefault("prefix", "/auth")
    app = Carboy(
        extensions=[db, Auth(**auth_options), *extensions],
        settings=Settings(secret_key=KEY, mail_backend="memory", template_dirs=[]),
        sessions=sessions,
    )
    Model.metadata.create_all(
        db.engine,
        tables=[table for name, table in Model.metadata.tables.items() if name.startswith("auth_")],
    )

    @app.get("/")
    async def home(request: Request) -> dict[str, Any]:
        user = request.user
        return {
            "user": user.email if user.is_authenticated else None,
            "session": request.session.id,
        }

    @app.get("/private")
    @login_required
    async def private(request: Request) -> dict[str, str]:
        return {"email": request.user.email}

    return app


def database_of(app: Carboy) -> Database:
    """Return the app's ``Database``."""
    db = app.extensions["db"]
    if not isinstance(db, Database):
        raise TypeError(f"The app's db extension is {db!r}, not a Database.")
    return db


def outbox(app: Carboy) -> list[EmailMessage]:
    """Return the mail the app has sent, oldest first."""
    backend = mailer_of(app).backend
    if not isinstance(backend, MemoryBackend):
        raise TypeError(f"The app's mail backend is {backend!r}, not a MemoryBackend.")
    return backend.outbox


@cache
def password_hash(password: str) -> str:
    """Return an argon2id hash of ``password``, made once per test run: hashing is slow."""
    with cheap_hashing():
        return make_password(password)


def add_user(app: Carboy, email: str = EMAIL, password: str = PASSWORD, **fields: Any) -> User:
    """Add a user with ``password``, committed, and return it detached."""
    with database_of(app).session() as session:
        user = User(email=email, password=password_hash(password), **fields)
        session.add(user)
        session.commit()
        return user


def stored_user(app: Carboy, email: str = EMAIL) -> User:
    """Return the user with ``email`` as stored now."""
    with database_of(app).session() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        session.expunge(user)
        return user


def csrf_of(html: str) -> str:
    """Return the CSRF token of the form on a page."""
    match = CSRF_INPUT.search(html)
    if match is None:
        raise AssertionError(f"No CSRF input on the page:\n{html}")
    return match.group(1)


def link_in(message: EmailMessage) -> str:
    """Return the one link of a message's text body."""
    links = LINK.findall(message.body)
    if len(links) != 1:
        raise AssertionError(f"Expected one link in the email, found {links}:\n{message.body}")
    return str(links[0])
