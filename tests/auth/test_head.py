"""HEAD on the sign-in pages: the GET page without its body, never a submission.

CSRF is checked on unsafe methods only, and HEAD is safe (RFC 9110 9.2.1):
a page that acted on a HEAD carrying a form would let another site sign a
visitor in or out, or change their password, without a token. Every page
here answers HEAD as it answers GET, whatever the request carries, and the
users' rows stay as they were. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import select

from carboy import Carboy
from carboy.auth.pages import RESET_PURPOSE, VERIFY_PURPOSE
from carboy.auth.tokens import make_link_token
from carboy.auth.user import User
from carboy.testing import TestClient
from tests._services import fresh_database

from ._pages_app import (
    EMAIL,
    NEW_PASSWORD,
    PASSWORD,
    add_user,
    cheap_hashing,
    csrf_of,
    database_of,
    make_app,
    outbox,
    stored_user,
)

HTML = {"accept": "text/html"}
OTHER = "grace@example.com"


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path | str]:
    """A SQLite file, or a new PostgreSQL database of this test's own."""
    if request.param == "sqlite":
        yield tmp_path / "head.db"
        return
    with fresh_database("postgresql") as url:
        yield url


@pytest.fixture
def app(database: Path | str) -> Iterator[Carboy]:
    app = make_app(database, signup=True)
    yield app
    anyio.run(database_of(app).disconnect)


@pytest.fixture
def client(app: Carboy) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def users(app: Carboy) -> list[tuple[Any, ...]]:
    """Return every column of every user, as stored now."""
    columns = list(User.__table__.columns)
    with database_of(app).engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(*columns).order_by(User.id))]


def sign_in(client: TestClient, email: str = EMAIL) -> None:
    page = client.get("/auth/login")
    response = client.post(
        "/auth/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 303, response.text


def whoami(client: TestClient) -> dict[str, Any]:
    data: dict[str, Any] = client.get("/").json()
    return data


def head_and_get(
    client: TestClient, path: str, data: dict[str, str]
) -> tuple[httpx.Response, httpx.Response]:
    """Send HEAD with the form ``data`` and no CSRF token, then GET; return both."""
    head = client.request("HEAD", path, data=data, headers=HTML)
    get = client.get(path, headers=HTML)
    return head, get


def assert_head_is_get(head: httpx.Response, get: httpx.Response) -> None:
    """Assert ``head`` has the status and headers of ``get``, and no body."""
    assert head.status_code == get.status_code
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert int(head.headers["content-length"]) > 0
    # A cookie is set when the session changes, which GET and HEAD may not share.
    assert set(head.headers) - {"set-cookie"} == set(get.headers) - {"set-cookie"}


def test_head_on_the_login_page_with_a_form_signs_nobody_in(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)
    client.get("/auth/login")
    before = users(app)

    head, get = head_and_get(client, "/auth/login", {"email": EMAIL, "password": PASSWORD})

    assert head.status_code == 200
    assert head.headers["content-type"] == "text/html; charset=utf-8"
    assert_head_is_get(head, get)
    assert "set-cookie" not in head.headers
    assert whoami(client)["user"] is None
    assert users(app) == before


def test_head_on_the_login_page_with_json_signs_nobody_in(app: Carboy, client: TestClient) -> None:
    add_user(app)
    client.get("/auth/login")
    before = users(app)

    head = client.request(
        "HEAD", "/auth/login", json={"email": EMAIL, "password": PASSWORD}, headers=HTML
    )
    get = client.get("/auth/login", headers=HTML)

    assert head.status_code == 200
    assert_head_is_get(head, get)
    assert "set-cookie" not in head.headers
    assert whoami(client)["user"] is None
    assert users(app) == before


def test_head_on_the_login_page_keeps_a_signed_in_user_as_they_were(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)
    add_user(app, email=OTHER)
    sign_in(client)
    signed_in = whoami(client)
    before = users(app)

    head, get = head_and_get(client, "/auth/login", {"email": OTHER, "password": PASSWORD})

    assert head.status_code == 200
    assert_head_is_get(head, get)
    assert whoami(client) == signed_in
    assert users(app) == before


def test_head_on_the_logout_page_signs_nobody_out(app: Carboy, client: TestClient) -> None:
    add_user(app)
    sign_in(client)
    signed_in = whoami(client)
    before = users(app)

    head, get = head_and_get(client, "/auth/logout", {})

    assert head.status_code == 200
    assert_head_is_get(head, get)
    assert whoami(client) == signed_in
    assert users(app) == before


def test_head_on_the_logout_page_with_json_signs_nobody_out(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)
    sign_in(client)
    signed_in = whoami(client)
    before = users(app)

    head = client.request("HEAD", "/auth/logout", json={}, headers=HTML)

    assert head.status_code == 200
    assert head.headers["content-type"] == "text/html; charset=utf-8"
    assert whoami(client) == signed_in
    assert users(app) == before


def test_head_on_the_password_change_page_changes_no_password(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)
    sign_in(client)
    before = users(app)
    form = {
        "old_password": PASSWORD,
        "new_password": NEW_PASSWORD,
        "new_password_again": NEW_PASSWORD,
    }

    head, get = head_and_get(client, "/auth/password/change", form)

    assert head.status_code == 200
    assert_head_is_get(head, get)
    assert users(app) == before
    assert whoami(client)["user"] == EMAIL


def test_head_on_the_password_reset_page_sends_no_mail(app: Carboy, client: TestClient) -> None:
    add_user(app)
    sign_in(client)
    before = users(app)

    head, get = head_and_get(client, "/auth/password/reset", {"email": EMAIL})

    assert head.status_code == 200
    assert_head_is_get(head, get)
    assert outbox(app) == []
    assert users(app) == before


def test_head_on_a_reset_link_sets_no_password_and_the_link_still_works(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)
    sign_in(client)
    token = make_link_token(app.settings, stored_user(app), RESET_PURPOSE)
    path = f"/auth/password/reset/{token}"
    before = users(app)

    head, get = head_and_get(
        client, path, {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    )

    assert head.status_code == 200
    assert_head_is_get(head, get)
    assert users(app) == before
    assert whoami(client)["user"] == EMAIL


def test_head_on_the_signup_page_opens_no_account(app: Carboy, client: TestClient) -> None:
    add_user(app)
    sign_in(client)
    before = users(app)
    form = {"email": OTHER, "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}

    head, get = head_and_get(client, "/auth/signup", form)

    assert head.status_code == 200
    assert_head_is_get(head, get)
    assert users(app) == before
    assert outbox(app) == []


def test_head_on_a_verification_link_activates_nobody(app: Carboy, client: TestClient) -> None:
    add_user(app)
    add_user(app, email=OTHER, is_active=False)
    sign_in(client)
    token = make_link_token(app.settings, stored_user(app, OTHER), VERIFY_PURPOSE)
    before = users(app)

    head, get = head_and_get(client, f"/auth/verify/{token}", {})

    assert head.status_code == 200
    assert_head_is_get(head, get)
    assert users(app) == before
    assert stored_user(app, OTHER).is_active is False


@pytest.mark.parametrize(
    "path",
    [
        "/auth/login",
        "/auth/logout",
        "/auth/password/change",
        "/auth/password/reset",
        "/auth/password/reset/token",
        "/auth/signup",
        "/auth/verify/token",
    ],
)
def test_every_page_answers_get_head_and_post_only(client: TestClient, path: str) -> None:
    response = client.request("PUT", path, data={"email": EMAIL})

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS, POST"
