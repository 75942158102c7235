"""Ending sessions: a logout or a password change revokes them, copied cookies included.

A signed cookie cannot be taken back from whoever copied it, so each user
has a ``session_epoch`` that a session's hash binds: a logout moves it on
(the user is signed out of every session), and so does a password change
(the session that changed it is kept). With a server-side store, logout
also forgets the stored session. On SQLite and PostgreSQL, with cookie and
server-side sessions.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import select, update

from carboy import Carboy
from carboy.auth import create_token, logout
from carboy.auth.authentication import SESSION_USER_KEY, session_hash
from carboy.auth.pages import RESET_PURPOSE
from carboy.auth.tokens import make_link_token
from carboy.auth.user import User
from carboy.requests import HTTPConnection
from carboy.sessions import MemorySessionStore, ServerSideSessions, Session, SessionBackend
from carboy.testing import TestClient
from tests._services import fresh_database

from ._pages_app import (
    EMAIL,
    KEY,
    NEW_PASSWORD,
    PASSWORD,
    add_user,
    cheap_hashing,
    csrf_of,
    database_of,
    make_app,
    stored_user,
)

HTML = {"accept": "text/html"}
COOKIE = "session"

MakeRevocationApp = Callable[..., Carboy]


class Browser:
    """Another browser: a cookie jar of its own, sent through the app's one test client.

    A second ``TestClient`` would start the app again in an event loop of its
    own, where the app's PostgreSQL connections do not work.
    """

    def __init__(self, client: TestClient, session_cookie: str | None = None) -> None:
        self.client = client
        self.cookies = httpx.Cookies({COOKIE: session_cookie} if session_cookie else None)

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        own = self.client.cookies
        self.client.cookies = self.cookies
        try:
            return self.client.request(method, path, **options)
        finally:
            self.cookies = self.client.cookies
            self.client.cookies = own

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> httpx.Response:
        return self.request("POST", path, **options)


class RecordingStore(MemorySessionStore):
    """Sessions in memory, with the keys that were stored and those that were deleted."""

    def __init__(self) -> None:
        super().__init__()
        self.stored: list[str] = []
        self.deleted: list[str] = []

    async def set(self, key: str, data: dict[str, Any], max_age: int) -> None:
        self.stored.append(key)
        await super().set(key, data, max_age)

    async def delete(self, key: str) -> None:
        self.deleted.append(key)
        await super().delete(key)


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path | str]:
    """A SQLite file, or a new PostgreSQL database of this test's own."""
    if request.param == "sqlite":
        yield tmp_path / "revocation.db"
        return
    with fresh_database("postgresql") as url:
        yield url


@pytest.fixture(params=["cookie", "server"])
def sessions(request: pytest.FixtureRequest) -> SessionBackend | None:
    """Signed-cookie sessions (the default), or a server-side store."""
    return ServerSideSessions(RecordingStore()) if request.param == "server" else None


@pytest.fixture
def app(database: Path | str, sessions: SessionBackend | None) -> Iterator[Carboy]:
    app = make_app(database, sessions=sessions)
    yield app
    anyio.run(database_of(app).disconnect)


@pytest.fixture
def client(app: Carboy) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def sign_in(client: TestClient | Browser) -> None:
    page = client.get("/auth/login")
    response = client.post(
        "/auth/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 303, response.text


def sign_out(client: TestClient) -> None:
    page = client.get("/auth/logout")
    response = client.post("/auth/logout", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/auth/login"


def replay(client: TestClient) -> Browser:
    """Return another machine's browser, which sends a copy of ``client``'s session cookie."""
    return Browser(client, client.cookies[COOKIE])


def epoch(app: Carboy) -> int:
    return stored_user(app).session_epoch


# Logging out -------------------------------------------------------------------------


def test_a_copied_session_cookie_is_anonymous_after_logout(app: Carboy, client: TestClient) -> None:
    add_user(app)
    sign_in(client)
    thief = replay(client)
    assert thief.get("/private").json() == {"email": EMAIL}

    sign_out(client)

    browser = thief.get("/private", headers=HTML)
    api = thief.get("/private")
    home = thief.get("/").json()
    assert browser.status_code == 303
    assert browser.headers["location"] == "/auth/login?next=/private"
    assert api.status_code == 401
    assert api.headers["www-authenticate"] == "Bearer"
    assert home["user"] is None
    assert client.get("/").json()["user"] is None
    assert epoch(app) == 1


def test_logout_signs_the_user_out_of_every_browser(app: Carboy, client: TestClient) -> None:
    add_user(app)
    sign_in(client)
    other = Browser(client)
    sign_in(other)
    assert other.get("/").json()["user"] == EMAIL

    sign_out(client)

    assert other.get("/private").status_code == 401
    assert other.get("/").json()["user"] is None
    sign_in(other)
    assert other.get("/private").json() == {"email": EMAIL}


def test_a_json_logout_answers_204_and_revokes_the_copied_cookie(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)
    signed_in = client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD})
    thief = replay(client)
    token = csrf_of(client.get("/auth/logout").text)

    response = client.post("/auth/logout", json={}, headers={"x-csrf-token": token})

    assert signed_in.status_code == 200
    assert response.status_code == 204
    assert response.content == b""
    assert thief.get("/private").status_code == 401
    assert epoch(app) == 1


def test_a_logout_without_a_signed_in_user_changes_no_row(app: Carboy, client: TestClient) -> None:
    add_user(app)
    before = stored_user(app)
    # The sign-out page of a visitor has no form; the sign-in page's token serves.
    token = csrf_of(client.get("/auth/login").text)

    response = client.post("/auth/logout", data={"csrf_token": token})

    assert response.status_code == 303
    after = stored_user(app)
    assert (after.session_epoch, after.password) == (before.session_epoch, before.password)
    assert after.session_epoch == 0


def test_a_logout_by_an_api_token_ends_no_browser_session(app: Carboy, client: TestClient) -> None:
    add_user(app)
    sign_in(client)
    with database_of(app).session() as session:
        user = session.scalars(select(User)).one()
        _, token = create_token(session, user, "cli")
        session.commit()

    response = Browser(client).post("/auth/logout", headers={"authorization": f"Bearer {token}"})

    assert response.status_code == 303
    assert client.get("/private").json() == {"email": EMAIL}
    assert epoch(app) == 0


def test_logout_forgets_the_stored_session_of_a_server_side_store(
    database: Path | str,
) -> None:
    store = RecordingStore()
    app = make_app(database, sessions=ServerSideSessions(store))
    add_user(app)
    try:
        with TestClient(app) as client:
            sign_in(client)
            key = store.stored[-1]
            assert anyio.run(store.get, key) is not None

            thief = replay(client)

            sign_out(client)

            assert thief.get("/").json()["user"] is None
        assert key in store.deleted
        assert anyio.run(store.get, key) is None
    finally:
        anyio.run(database_of(app).disconnect)


# Changing the password ---------------------------------------------------------------


def test_a_password_change_keeps_this_session_and_ends_the_others(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)
    sign_in(client)
    other = Browser(client)
    sign_in(other)
    page = client.get("/auth/password/change")

    response = client.post(
        "/auth/password/change",
        data={
            "csrf_token": csrf_of(page.text),
            "old_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )

    assert response.status_code == 303
    assert client.get("/private").json() == {"email": EMAIL}
    assert other.get("/private").status_code == 401
    assert epoch(app) == 1


def test_a_cookie_copied_before_a_password_change_is_anonymous_after_it(
    database: Path | str,
) -> None:
    # Signed-cookie sessions: the browser that changed the password gets a
    # new cookie, and the one copied before is another session.
    app = make_app(database)
    add_user(app)
    try:
        with TestClient(app) as client:
            sign_in(client)
            thief = replay(client)
            page = client.get("/auth/password/change")
            client.post(
                "/auth/password/change",
                data={
                    "csrf_token": csrf_of(page.text),
                    "old_password": PASSWORD,
                    "new_password": NEW_PASSWORD,
                    "new_password_again": NEW_PASSWORD,
                },
            )

            assert thief.get("/private").status_code == 401
            assert client.get("/private").json() == {"email": EMAIL}
    finally:
        anyio.run(database_of(app).disconnect)


def test_a_password_reset_ends_every_session_of_the_user(app: Carboy, client: TestClient) -> None:
    add_user(app)
    sign_in(client)
    link = "/auth/password/reset/" + make_link_token(app.settings, stored_user(app), RESET_PURPOSE)
    page = client.get(link)

    response = client.post(
        link,
        data={
            "csrf_token": csrf_of(page.text),
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )

    assert response.status_code == 303
    assert client.get("/private").status_code == 401
    assert epoch(app) == 1


# The epoch itself --------------------------------------------------------------------


def test_a_session_signed_in_before_the_epoch_existed_stays_signed_in(app: Carboy) -> None:
    add_user(app)
    user = stored_user(app)
    before_the_epoch = hmac.new(
        KEY.encode(), f"carboy.auth.session:{user.id}:{user.password}".encode(), hashlib.sha256
    ).hexdigest()

    at_zero = session_hash(user, app.settings)
    user.end_sessions()
    at_one = session_hash(user, app.settings)

    assert at_zero == before_the_epoch
    assert at_one != before_the_epoch
    assert user.session_epoch == 1


def test_a_user_not_stored_yet_keeps_epoch_zero_when_given_a_password() -> None:
    user = User(email="grace@example.com")

    user.set_password(NEW_PASSWORD)

    assert user.session_epoch in (None, 0)


@pytest.mark.anyio
async def test_logout_adds_one_to_the_stored_epoch_even_from_a_stale_user(app: Carboy) -> None:
    add_user(app)
    db = database_of(app)
    async with db.async_session() as session:
        user = (await session.scalars(select(User))).one()
        # Loaded and kept: a SQLite reader must end its transaction before others write.
        await session.commit()
        with db.session() as other:
            # Another request moved the epoch on after this one loaded the user.
            other.execute(update(User).values(session_epoch=5))
            other.commit()
        scope = {
            "type": "http",
            "app": app,
            "user": user,
            "carboy.session": Session({SESSION_USER_KEY: user.id}),
        }

        await logout(HTTPConnection(scope, _no_receive, _no_send), session)
        await session.commit()
    # The pool's connections belong to this test's event loop: close them in it.
    await db.disconnect()

    assert epoch(app) == 6
    assert user.session_epoch == 6
    assert scope["user"].is_authenticated is False


async def _no_receive() -> dict[str, Any]:
    raise AssertionError("logout reads no body")


async def _no_send(_message: Any) -> None:
    raise AssertionError("logout sends nothing")
