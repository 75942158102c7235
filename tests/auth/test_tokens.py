"""API tokens (``Authorization: Bearer``) and the signed tokens of e-mailed links."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import select

import carboy.signing
from carboy import Carboy, HTTPException, Request
from carboy.auth import (
    AnonymousUser,
    APIToken,
    authenticate,
    create_token,
    login,
    login_required,
    revoke_token,
)
from carboy.auth import authentication as authentication_module
from carboy.auth.tokens import link_token_matches, make_link_token, read_link_token, tokens_of
from carboy.auth.user import User
from carboy.config import Settings
from carboy.db import AsyncSession, Database, Session
from carboy.exceptions import ImproperlyConfigured
from carboy.testing import TestClient

from .conftest import KEY, PASSWORD, AddUser

SETTINGS = Settings(secret_key=KEY)


class Credentials(BaseModel):
    email: str
    password: str


def add_routes(app: Carboy) -> Carboy:
    @app.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        return {"user": str(request.user), "is_authenticated": request.user.is_authenticated}

    @app.post("/login")
    async def sign_in(
        request: Request, credentials: Credentials, session: AsyncSession
    ) -> dict[str, str]:
        user = await authenticate(request, session, credentials.email, credentials.password)
        if user is None:
            raise HTTPException(400, "The e-mail address or the password is wrong.")
        login(request, user)
        # A link made now holds the last_login just set, before it is stored.
        return {"link": make_link_token(request.app.settings, user, "reset")}

    @app.post("/notes")
    @login_required
    async def add_note(request: Request) -> dict[str, str]:
        return {"by": str(request.user)}

    @app.post("/sync/rename")
    @login_required
    def rename(request: Request, session: Session, username: str) -> dict[str, str]:
        # A sync handler writes with its own session while the token was
        # looked up with the request's async one.
        user = session.get(User, request.user.id)
        assert user is not None
        user.username = username
        session.flush()
        return {"username": username}

    return app


@pytest.fixture
def client(app: Carboy) -> Iterator[TestClient]:
    with TestClient(add_routes(app)) as client:
        yield client


def new_token(db: Database, user: User, name: str = "laptop") -> tuple[APIToken, str]:
    with db.session() as session:
        row, token = create_token(session, user, name)
        session.commit()
        return row, token


def bearer(token: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"authorization": f"{scheme} {token}"}


def stored_token(db: Database, token_id: int) -> APIToken | None:
    with db.session() as session:
        return session.get(APIToken, token_id)


# Making, listing and revoking --------------------------------------------------------


def test_a_token_is_shown_once_and_stored_as_its_digest(db: Database, add_user: AddUser) -> None:
    user = add_user()

    row, token = new_token(db, user)

    assert len(token) == 43
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    assert row.prefix == token[:8]
    assert row.user_id == user.id
    assert row.name == "laptop"
    assert row.last_used_at is None
    assert str(row) == f"{token[:8]}... (laptop)"
    with db.session() as session:
        columns = session.execute(select(APIToken.__table__)).one()
    assert token not in [str(value) for value in columns]


def test_tokens_are_random(db: Database, add_user: AddUser) -> None:
    user = add_user()

    tokens = {new_token(db, user)[1] for _ in range(5)}

    assert len(tokens) == 5


def test_a_token_without_a_name_shows_its_prefix(db: Database, add_user: AddUser) -> None:
    row, token = new_token(db, add_user(), name="")

    assert str(row) == f"{token[:8]}..."


def test_tokens_of_lists_a_user_s_tokens_newest_first(db: Database, add_user: AddUser) -> None:
    ada = add_user()
    grace = add_user("grace@example.com")
    new_token(db, ada, "first")
    new_token(db, ada, "second")
    new_token(db, grace, "other")

    with db.session() as session:
        names = [row.name for row in tokens_of(session, ada)]

    assert names == ["second", "first"]


@pytest.mark.anyio
async def test_tokens_are_made_listed_and_revoked_with_an_async_session(
    db: Database, add_user: AddUser
) -> None:
    user = add_user()
    try:
        async with db.async_session() as session:
            row, _ = await create_token(session, user, "async")
            await session.commit()
        async with db.async_session() as session:
            listed = await tokens_of(session, user)
            assert [item.digest for item in listed] == [row.digest]
            await revoke_token(session, listed[0])
            await session.commit()
        async with db.async_session() as session:
            assert await tokens_of(session, user) == []
    finally:
        await db.disconnect()


# Authenticating with a token ------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "bearer", "TOKEN"])
def test_a_token_in_the_authorization_header_signs_the_request_in(
    client: TestClient, db: Database, add_user: AddUser, scheme: str
) -> None:
    _, token = new_token(db, add_user())

    response = client.get("/me", headers=bearer(token, scheme))

    assert response.json() == {"user": "ada@example.com", "is_authenticated": True}


def test_a_token_signs_in_one_request_only(
    client: TestClient, db: Database, add_user: AddUser
) -> None:
    _, token = new_token(db, add_user())

    client.get("/me", headers=bearer(token))

    assert client.get("/me").json()["is_authenticated"] is False
    assert "session" not in client.cookies


def test_a_token_request_needs_no_csrf_token_even_with_cookies(
    client: TestClient, db: Database, add_user: AddUser
) -> None:
    _, token = new_token(db, add_user())
    client.cookies.set("theme", "dark")

    response = client.post("/notes", headers=bearer(token))

    assert response.status_code == 200
    assert response.json() == {"by": "ada@example.com"}


def test_a_token_signs_in_a_sync_handler_that_writes(
    client: TestClient, db: Database, add_user: AddUser
) -> None:
    user = add_user()
    row, token = new_token(db, user)

    response = client.post("/sync/rename?username=ada", headers=bearer(token))

    assert (response.status_code, response.json()) == (200, {"username": "ada"})
    with db.session() as session:
        stored = session.get(User, user.id)
        assert stored is not None
        assert stored.username == "ada"
    stored_row = stored_token(db, row.id)
    assert stored_row is not None
    assert stored_row.last_used_at is not None


def test_last_used_at_is_recorded_at_most_once_a_minute(
    client: TestClient, db: Database, add_user: AddUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    row, token = new_token(db, add_user())
    start = datetime(2030, 5, 17, 9, 30, tzinfo=UTC)

    def used_at(moment: datetime) -> datetime | None:
        monkeypatch.setattr(authentication_module, "utcnow", lambda: moment)
        assert client.get("/me", headers=bearer(token)).json()["is_authenticated"] is True
        stored = stored_token(db, row.id)
        assert stored is not None
        return stored.last_used_at

    assert used_at(start) == start
    assert used_at(start + timedelta(seconds=59)) == start
    assert used_at(start + timedelta(seconds=60)) == start + timedelta(seconds=60)
    assert used_at(start + timedelta(hours=5)) == start + timedelta(hours=5)


def test_a_revoked_token_stops_working(client: TestClient, db: Database, add_user: AddUser) -> None:
    row, token = new_token(db, add_user())
    assert client.get("/me", headers=bearer(token)).json()["is_authenticated"] is True

    with db.session() as session:
        revoke_token(session, session.get(APIToken, row.id))
        session.commit()

    assert client.get("/me", headers=bearer(token)).json()["is_authenticated"] is False
    assert client.post("/notes", headers=bearer(token)).status_code == 401


def test_the_token_of_an_inactive_user_is_refused(
    client: TestClient, db: Database, add_user: AddUser
) -> None:
    _, token = new_token(db, add_user(is_active=False))

    response = client.post("/notes", headers=bearer(token))

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_deleting_a_user_deletes_their_tokens(
    client: TestClient, db: Database, add_user: AddUser
) -> None:
    user = add_user()
    _, token = new_token(db, user)

    with db.session() as session:
        session.delete(session.get(User, user.id))
        session.commit()

    with db.session() as session:
        assert session.scalars(select(APIToken)).all() == []
    assert client.get("/me", headers=bearer(token)).json()["is_authenticated"] is False


def test_an_authorization_header_takes_the_place_of_the_session(
    client: TestClient, db: Database, add_user: AddUser
) -> None:
    # A request that names its credentials is judged on them alone, never on
    # a cookie the browser added (the same rule exempts it from CSRF checks).
    user = add_user()
    _, token = new_token(db, user)
    grace = add_user("grace@example.com")
    _, grace_token = new_token(db, grace)
    client.cookies.set("theme", "dark")

    as_ada = client.get("/me", headers=bearer(token))
    as_grace = client.get("/me", headers=bearer(grace_token))
    basic = client.get("/me", headers={"authorization": "Basic YWRhOnNlY3JldA=="})

    assert as_ada.json()["user"] == "ada@example.com"
    assert as_grace.json()["user"] == "grace@example.com"
    assert basic.json() == {"user": "anonymous", "is_authenticated": False}


GARBAGE: list[str | bytes] = [
    "",
    "Bearer",
    "Bearer ",
    "Bearer    ",
    "Token",
    "Bearer not-a-token",
    "Bearer two words",
    "Basic YWRhOnNlY3JldA==",
    "Digest username=ada",
    "Bearer " + "x" * 201,
    "Bearer " + "x" * 8_000,
    "x" * 8_000,
    "Bearer \t\x01\x7f",
    "Bearer caf\xe9".encode("latin-1"),
    b"Bearer \xff\xfe\xfd",
]


@pytest.mark.parametrize("header", GARBAGE)
def test_a_garbled_authorization_header_leaves_the_request_anonymous(
    client: TestClient, header: str | bytes
) -> None:
    response = client.get("/me", headers={"authorization": header})
    guarded = client.post("/notes", headers={"authorization": header})

    assert response.status_code == 200
    assert response.json() == {"user": "anonymous", "is_authenticated": False}
    assert guarded.status_code == 401


def test_an_authorization_header_over_the_size_limit_is_refused_with_431(
    client: TestClient,
) -> None:
    response = client.get("/me", headers={"authorization": "Bearer " + "x" * 100_000})

    assert response.status_code == 431
    assert response.headers["connection"] == "close"


def test_a_token_with_surrounding_spaces_still_works(
    client: TestClient, db: Database, add_user: AddUser
) -> None:
    _, token = new_token(db, add_user())

    response = client.get("/me", headers={"authorization": f"Bearer   {token}  "})

    assert response.json()["is_authenticated"] is True


def test_an_answer_to_a_token_is_never_stored_by_a_cache(
    client: TestClient, db: Database, add_user: AddUser
) -> None:
    _, token = new_token(db, add_user())

    signed_in = client.get("/me", headers=bearer(token))
    wrong_token = client.get("/me", headers=bearer("not-a-token"))
    anonymous = client.get("/me")

    assert signed_in.json()["is_authenticated"] is True
    assert signed_in.headers["cache-control"] == "no-store"
    assert wrong_token.headers["cache-control"] == "no-store"
    assert "cache-control" not in anonymous.headers


# Link tokens ------------------------------------------------------------------------


def user_with(**fields: Any) -> User:
    values: dict[str, Any] = {
        "id": 7,
        "email": "ada@example.com",
        "password": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        "last_login": datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        "is_active": True,
    }
    values.update(fields)
    return User(**values)


def test_a_link_token_names_the_user_and_matches_until_used() -> None:
    user = user_with()

    token = make_link_token(SETTINGS, user, "reset")
    found = read_link_token(SETTINGS, token, "reset", max_age=3600)

    assert found is not None
    user_id, state = found
    assert user_id == 7
    assert link_token_matches(user, state)
    assert "ada@example.com" not in token


def test_a_link_token_is_for_one_purpose() -> None:
    token = make_link_token(SETTINGS, user_with(), "reset")

    assert read_link_token(SETTINGS, token, "verify", max_age=3600) is None


def test_a_tampered_link_token_is_refused() -> None:
    token = make_link_token(SETTINGS, user_with(), "reset")
    value, stamp, signature = token.split(".")
    other = make_link_token(SETTINGS, user_with(id=8), "reset").split(".")[0]

    for forged in [
        f"{other}.{stamp}.{signature}",
        f"{value}.{int(stamp, 16) + 1:x}.{signature}",
        f"{value}.{stamp}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"{value}.{stamp}",
        token + "x",
        "",
    ]:
        assert read_link_token(SETTINGS, forged, "reset", max_age=3600) is None


def test_a_link_token_signed_with_another_key_is_refused() -> None:
    token = make_link_token(Settings(secret_key="o" * 50), user_with(), "reset")

    assert read_link_token(SETTINGS, token, "reset", max_age=3600) is None


def test_a_link_token_signed_with_a_former_key_still_works() -> None:
    token = make_link_token(SETTINGS, user_with(), "reset")
    rotated = Settings(secret_key="n" * 50, secret_key_fallbacks=[KEY])

    assert read_link_token(rotated, token, "reset", max_age=3600) is not None


@pytest.mark.parametrize("token", ["é.é.é", "abc.1.sig\xe9", "x" * 501, "..", "a.b.c"])
def test_a_garbled_link_token_is_refused_and_never_raises(token: str) -> None:
    assert read_link_token(SETTINGS, token, "reset", max_age=3600) is None


def test_a_link_token_expires_after_max_age(monkeypatch: pytest.MonkeyPatch) -> None:
    now = 1_900_000_000.0
    monkeypatch.setattr(carboy.signing, "time", SimpleNamespace(time=lambda: now))
    token = make_link_token(SETTINGS, user_with(), "reset")

    now += 3600
    assert read_link_token(SETTINGS, token, "reset", max_age=3600) is not None
    now += 1
    assert read_link_token(SETTINGS, token, "reset", max_age=3600) is None


@pytest.mark.parametrize(
    "change",
    [
        {"password": "$argon2id$v=19$m=65536,t=3,p=4$b3RoZXI$aGFzaA"},
        {"last_login": datetime(2030, 1, 2, 3, 4, 6, tzinfo=UTC)},
        {"last_login": None},
        {"is_active": False},
    ],
)
def test_a_link_token_stops_matching_once_the_user_changes(change: dict[str, Any]) -> None:
    token = make_link_token(SETTINGS, user_with(), "reset")
    found = read_link_token(SETTINGS, token, "reset", max_age=3600)
    assert found is not None

    assert not link_token_matches(user_with(**change), found[1])


def test_a_link_token_matches_no_anonymous_user() -> None:
    token = make_link_token(SETTINGS, user_with(), "reset")
    found = read_link_token(SETTINGS, token, "reset", max_age=3600)
    assert found is not None

    assert not link_token_matches(AnonymousUser(), found[1])
    assert not link_token_matches(None, found[1])


def state_in(token: str) -> str:
    found = read_link_token(SETTINGS, token, "reset", max_age=3600)
    assert found is not None
    return found[1]


def matches_stored_user(db: Database, user_id: int, token: str) -> bool:
    with db.session() as session:
        return link_token_matches(session.get(User, user_id), state_in(token))


def test_a_link_token_is_used_up_by_signing_in(
    client: TestClient, db: Database, add_user: AddUser
) -> None:
    user = add_user()
    token = make_link_token(SETTINGS, user, "reset")
    assert matches_stored_user(db, user.id, token)

    signed_in = client.post("/login", json={"email": "ada@example.com", "password": PASSWORD})

    assert signed_in.status_code == 200
    assert not matches_stored_user(db, user.id, token)


def test_a_link_token_is_used_up_by_a_password_change(db: Database, add_user: AddUser) -> None:
    user = add_user()
    token = make_link_token(SETTINGS, user, "reset")

    with db.session() as session:
        stored = session.get(User, user.id)
        assert stored is not None
        stored.set_password("a new secret phrase")
        session.commit()

    assert not matches_stored_user(db, user.id, token)


def test_a_link_token_made_right_after_sign_in_matches_the_stored_user(
    client: TestClient, db: Database, add_user: AddUser
) -> None:
    user = add_user()

    token = client.post("/login", json={"email": "ada@example.com", "password": PASSWORD}).json()[
        "link"
    ]

    assert matches_stored_user(db, user.id, token)


def test_link_tokens_need_a_secret_key() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        make_link_token(Settings(secret_key=None), user_with(), "reset")

    assert str(caught.value) == (
        "Signed links need a secret key, and none is set. Set CARBOY_SECRET_KEY."
    )
