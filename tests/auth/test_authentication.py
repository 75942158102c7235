"""Signing in and out, and finding each request's user, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import argon2
import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import select

from carboy import Carboy, Depends, HTTPException, Request, Router
from carboy.auth import (
    AnonymousUser,
    Auth,
    CurrentUser,
    authenticate,
    hashers,
    login,
    login_required,
    logout,
    permission_required,
    staff_required,
    update_session_hash,
)
from carboy.auth.guards import LoginRequired, login_redirect
from carboy.auth.hashers import pbkdf2_sha256
from carboy.auth.permissions import grant
from carboy.auth.user import User
from carboy.csrf import csrf_token
from carboy.db import AsyncSession, Database
from carboy.exceptions import ImproperlyConfigured
from carboy.sessions import MemorySessionStore, ServerSideSessions
from carboy.testing import TestClient

from .conftest import KEY, PASSWORD, AddUser, CountingHasher, MakeApp, password_hash


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Credentials(BaseModel):
    email: str
    password: str


class NewPassword(BaseModel):
    password: str


def user_data(request: Request) -> dict[str, Any]:
    user = request.user
    return {"user": str(user), "is_authenticated": user.is_authenticated}


def add_routes(app: Carboy) -> Carboy:
    """Give ``app`` small JSON endpoints that sign in and out through the auth helpers."""

    @app.post("/login")
    async def sign_in(
        request: Request, credentials: Credentials, session: AsyncSession
    ) -> dict[str, Any]:
        user = await authenticate(request, session, credentials.email, credentials.password)
        if user is None:
            raise HTTPException(400, "The e-mail address or the password is wrong.")
        login(request, user)
        return user_data(request)

    @app.post("/logout")
    async def sign_out(request: Request, session: AsyncSession) -> dict[str, Any]:
        await logout(request, session)
        return user_data(request)

    @app.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        return user_data(request)

    @app.get("/session")
    async def session_id(request: Request) -> dict[str, Any]:
        return {"id": request.session.id, "keys": sorted(request.session)}

    @app.get("/csrf")
    async def csrf(request: Request) -> dict[str, str]:
        return {"token": csrf_token(request)}

    @app.post("/password")
    async def change_password(
        request: Request, data: NewPassword, keep: bool = True
    ) -> dict[str, Any]:
        # request.user belongs to the request's session, committed after the handler.
        user = request.user
        user.set_password(data.password)
        if keep:
            update_session_hash(request, user)
        return user_data(request)

    return app


@pytest.fixture
def client(make_app: MakeApp) -> Iterator[TestClient]:
    with TestClient(add_routes(make_app())) as client:
        yield client


def csrf_headers(client: TestClient) -> dict[str, str]:
    """Return the headers that pass the CSRF check for the client's session."""
    return {"x-csrf-token": client.get("/csrf").json()["token"]}


def sign_in(client: TestClient, email: str = "ada@example.com", password: str = PASSWORD) -> Any:
    headers = csrf_headers(client) if client.cookies else {}
    return client.post("/login", json={"email": email, "password": password}, headers=headers)


def second_browser(client: TestClient) -> httpx.AsyncClient:
    """Return another browser on the app ``client`` drives: same event loop, its own cookies."""
    return httpx.AsyncClient(transport=client.asgi_transport, base_url="http://testserver")


async def async_csrf_headers(client: httpx.AsyncClient) -> dict[str, str]:
    return {"x-csrf-token": (await client.get("/csrf")).json()["token"]}


async def async_sign_in(client: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    headers = await async_csrf_headers(client) if client.cookies else {}
    credentials = {"email": "ada@example.com", "password": password}
    return await client.post("/login", json=credentials, headers=headers)


def stored_password(db: Database, email: str = "ada@example.com") -> str:
    with db.session() as session:
        return session.scalars(select(User.password).where(User.email == email)).one()


# request.user --------------------------------------------------------------


def test_request_user_is_anonymous_when_nobody_is_signed_in(client: TestClient) -> None:
    response = client.get("/me")

    assert response.status_code == 200
    assert response.json() == {"user": "anonymous", "is_authenticated": False}


def test_request_user_without_the_auth_battery_says_how_to_install_it() -> None:
    app = Carboy()
    seen: list[Exception] = []

    @app.get("/me")
    async def me(request: Request) -> str:
        try:
            return str(request.user)
        except ImproperlyConfigured as exc:
            seen.append(exc)
            return "refused"

    with TestClient(app) as client:
        assert client.get("/me").text == "refused"

    assert [str(exc) for exc in seen] == [
        "request.user is set by the auth battery, which is not installed. "
        "Add Auth() to Carboy(extensions=[...])."
    ]


def test_anonymous_user_is_a_falsy_kind_of_user() -> None:
    user = AnonymousUser()

    assert (user.is_authenticated, user.is_anonymous, user.is_active, user.id) == (
        False,
        True,
        False,
        None,
    )
    assert user == AnonymousUser()
    assert repr(user) == "AnonymousUser()"
    assert str(user) == "anonymous"


# Signing in and out ----------------------------------------------------------


def test_signing_in_sets_request_user_on_the_next_requests(
    client: TestClient, add_user: AddUser
) -> None:
    add_user()

    response = sign_in(client)

    assert response.status_code == 200
    assert response.json() == {"user": "ada@example.com", "is_authenticated": True}
    assert client.get("/me").json() == {"user": "ada@example.com", "is_authenticated": True}
    assert client.get("/me").json() == {"user": "ada@example.com", "is_authenticated": True}


def test_sign_in_matches_the_email_address_whatever_its_case_and_spaces(
    client: TestClient, add_user: AddUser
) -> None:
    add_user()

    response = sign_in(client, email="  Ada@EXAMPLE.com ")

    assert response.status_code == 200
    assert response.json()["user"] == "ada@example.com"


def test_signing_in_records_last_login(client: TestClient, add_user: AddUser, db: Any) -> None:
    user = add_user()
    assert user.last_login is None

    sign_in(client)

    with db.session() as session:
        stored = session.get(User, user.id)
        assert stored is not None
        assert stored.last_login is not None
        assert stored.last_login.tzinfo is not None


def test_signing_in_gives_the_session_a_new_id_and_a_new_csrf_secret(
    client: TestClient, add_user: AddUser
) -> None:
    add_user()
    old_token = client.get("/csrf").json()["token"]
    planted = client.get("/session").json()
    assert planted["keys"] == ["_csrf"]

    sign_in(client)
    after = client.get("/session").json()

    assert after["id"] != planted["id"]
    assert after["keys"] == ["_auth_hash", "_auth_user_id"]
    refused = client.post("/logout", headers={"x-csrf-token": old_token})
    assert refused.status_code == 403
    assert client.get("/me").json()["is_authenticated"] is True
    accepted = client.post("/logout", headers=csrf_headers(client))
    assert accepted.status_code == 200


def test_signing_in_replaces_a_server_side_session_planted_before(
    make_app: MakeApp, add_user: AddUser
) -> None:
    add_user()
    app = add_routes(make_app(sessions=ServerSideSessions(MemorySessionStore())))
    with TestClient(app) as client:
        client.get("/csrf")
        planted = client.cookies["session"]
        assert client.get("/session").json()["keys"] == ["_csrf"]

        sign_in(client)

        assert client.cookies["session"] != planted
        assert client.get("/me").json()["is_authenticated"] is True
        old = client.get("/session", headers={"cookie": f"session={planted}"})
        assert old.json()["keys"] == []
        assert client.get("/me", headers={"cookie": f"session={planted}"}).json() == {
            "user": "anonymous",
            "is_authenticated": False,
        }


def test_signing_out_drops_a_server_side_session(make_app: MakeApp, add_user: AddUser) -> None:
    add_user()
    app = add_routes(make_app(sessions=ServerSideSessions(MemorySessionStore())))
    with TestClient(app) as client:
        sign_in(client)
        signed_in = client.cookies["session"]

        client.post("/logout", headers=csrf_headers(client))

        replayed = client.get("/me", headers={"cookie": f"session={signed_in}"})
        assert replayed.json()["is_authenticated"] is False


def test_signing_in_as_another_user_drops_the_first_users_session_data(
    make_app: MakeApp, add_user: AddUser
) -> None:
    add_user()
    add_user("grace@example.com")
    app = add_routes(make_app())

    @app.get("/remember/{value}")
    async def remember(request: Request, value: str) -> None:
        request.session["note"] = value

    with TestClient(app) as client:
        sign_in(client)
        client.get("/remember/secret-of-ada")
        sign_in(client, "grace@example.com")
        keys = client.get("/session").json()["keys"]

    assert keys == ["_auth_hash", "_auth_user_id"]


def test_signing_in_keeps_what_the_visitor_stored_before(
    make_app: MakeApp, add_user: AddUser
) -> None:
    add_user()
    app = add_routes(make_app())

    @app.get("/remember/{value}")
    async def remember(request: Request, value: str) -> None:
        request.session["cart"] = value

    with TestClient(app) as client:
        client.get("/remember/three-apples")
        sign_in(client)
        keys = client.get("/session").json()["keys"]

    assert keys == ["_auth_hash", "_auth_user_id", "cart"]


def test_signing_in_again_as_the_same_user_keeps_the_session_data(
    make_app: MakeApp, add_user: AddUser
) -> None:
    add_user()
    app = add_routes(make_app())

    @app.get("/remember/{value}")
    async def remember(request: Request, value: str) -> None:
        request.session["note"] = value

    with TestClient(app) as client:
        sign_in(client)
        client.get("/remember/cart")
        first = client.get("/session").json()["id"]
        sign_in(client)
        second = client.get("/session").json()

    assert second["keys"] == ["_auth_hash", "_auth_user_id", "note"]
    assert second["id"] != first


def test_signing_out_empties_the_session_and_the_user_is_anonymous(
    client: TestClient, add_user: AddUser
) -> None:
    add_user()
    sign_in(client)

    response = client.post("/logout", headers=csrf_headers(client))

    assert response.json() == {"user": "anonymous", "is_authenticated": False}
    assert "session" not in client.cookies
    assert client.get("/me").json() == {"user": "anonymous", "is_authenticated": False}


@pytest.mark.anyio
async def test_a_copy_of_the_session_cookie_stops_working_when_the_password_changes(
    make_app: MakeApp, add_user: AddUser
) -> None:
    add_user()
    test_client = TestClient(add_routes(make_app()))
    async with test_client as client, second_browser(test_client) as thief:
        await async_sign_in(client)
        thief.cookies.set("session", client.cookies["session"])
        assert (await thief.get("/me")).json()["is_authenticated"] is True

        await client.post(
            "/password",
            json={"password": "a new secret phrase"},
            headers=await async_csrf_headers(client),
        )

        assert (await thief.get("/me")).json()["is_authenticated"] is False
        assert (await client.get("/me")).json()["is_authenticated"] is True


def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: TestClient, add_user: AddUser
) -> None:
    add_user()

    wrong = sign_in(client, password="not the password")
    unknown = sign_in(client, email="nobody@example.com")

    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json()
    assert wrong.json()["detail"] == "The e-mail address or the password is wrong."
    assert client.get("/me").json()["is_authenticated"] is False


def test_an_unknown_user_costs_the_same_argon2_check_as_a_wrong_password(
    client: TestClient, add_user: AddUser, counting_hasher: CountingHasher
) -> None:
    user = add_user()

    sign_in(client, password="not the password")
    sign_in(client, email="nobody@example.com")

    assert counting_hasher.verified == [user.password, hashers._dummy_hash()]
    wrong, unknown = (argon2.extract_parameters(h) for h in counting_hasher.verified)
    assert wrong == unknown


def test_an_inactive_user_cannot_sign_in(client: TestClient, add_user: AddUser) -> None:
    add_user(is_active=False)

    inactive = sign_in(client)
    wrong = sign_in(client, password="not the password")

    assert inactive.status_code == 400
    assert inactive.json() == wrong.json()


def test_a_signed_in_user_who_is_deactivated_is_signed_out_at_the_next_request(
    client: TestClient, add_user: AddUser, db: Database
) -> None:
    user = add_user()
    sign_in(client)

    with db.session() as session:
        stored = session.get(User, user.id)
        assert stored is not None
        stored.is_active = False
        session.commit()

    assert client.get("/me").json()["is_authenticated"] is False
    assert "session" not in client.cookies


def test_a_deleted_user_is_signed_out_at_the_next_request(
    client: TestClient, add_user: AddUser, db: Database
) -> None:
    user = add_user()
    sign_in(client)

    with db.session() as session:
        session.delete(session.get(User, user.id))
        session.commit()

    assert client.get("/me").json()["is_authenticated"] is False


@pytest.mark.anyio
async def test_a_password_change_ends_the_other_sessions_of_the_user(
    make_app: MakeApp, add_user: AddUser
) -> None:
    add_user()
    test_client = TestClient(add_routes(make_app()))
    async with test_client as laptop, second_browser(test_client) as phone:
        await async_sign_in(laptop)
        await async_sign_in(phone)
        assert (await phone.get("/me")).json()["is_authenticated"] is True

        changed = await laptop.post(
            "/password",
            json={"password": "a new secret phrase"},
            headers=await async_csrf_headers(laptop),
        )

        assert changed.status_code == 200
        assert (await laptop.get("/me")).json() == {
            "user": "ada@example.com",
            "is_authenticated": True,
        }
        assert (await phone.get("/me")).json() == {"user": "anonymous", "is_authenticated": False}
        assert (await async_sign_in(phone)).status_code == 400
        assert (await async_sign_in(phone, password="a new secret phrase")).status_code == 200


def test_a_password_change_without_update_session_hash_ends_this_session_too(
    client: TestClient, add_user: AddUser
) -> None:
    add_user()
    sign_in(client)

    client.post(
        "/password?keep=false",
        json={"password": "a new secret phrase"},
        headers=csrf_headers(client),
    )

    assert client.get("/me").json()["is_authenticated"] is False


def test_sessions_signed_under_a_former_secret_key_stay_signed_in(
    make_app: MakeApp, add_user: AddUser
) -> None:
    from carboy.config import Settings

    add_user()
    old = add_routes(make_app())
    new = add_routes(make_app(settings=Settings(secret_key="n" * 50, secret_key_fallbacks=[KEY])))
    with TestClient(old) as before:
        sign_in(before)
        cookie = before.cookies["session"]

    with TestClient(new, cookies={"session": cookie}) as after:
        assert after.get("/me").json()["is_authenticated"] is True


def test_a_django_pbkdf2_password_is_upgraded_to_argon2id_at_sign_in(
    client: TestClient, add_user: AddUser, db: Database
) -> None:
    add_user(password="placeholder")
    with db.session() as session:
        user = session.scalars(select(User)).one()
        user.password = pbkdf2_sha256(PASSWORD, "oldsalt", 1000)
        session.commit()

    response = sign_in(client)

    assert response.status_code == 200
    upgraded = stored_password(db)
    assert upgraded.startswith("$argon2id$")
    assert client.get("/me").json()["is_authenticated"] is True
    client.post("/logout", headers=csrf_headers(client))
    assert sign_in(client).status_code == 200
    assert stored_password(db) == upgraded


def test_a_wrong_password_leaves_an_old_hash_as_it_was(
    client: TestClient, add_user: AddUser, db: Database
) -> None:
    add_user(password="placeholder")
    old = pbkdf2_sha256(PASSWORD, "oldsalt", 1000)
    with db.session() as session:
        session.scalars(select(User)).one().password = old
        session.commit()

    assert sign_in(client, password="wrong").status_code == 400

    assert stored_password(db) == old


def test_sign_in_without_a_secret_key_says_what_to_set(add_user: AddUser) -> None:
    from carboy.auth.authentication import session_hash
    from carboy.config import Settings

    user = add_user()

    with pytest.raises(ImproperlyConfigured) as caught:
        session_hash(user, Settings(secret_key=None))

    assert str(caught.value) == (
        "Signing in needs a secret key, and none is set. Set CARBOY_SECRET_KEY to a long "
        "random value (python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )


# Guards -------------------------------------------------------------------------

API_401 = {
    "type": "about:blank",
    "title": "Unauthorized",
    "status": 401,
    "detail": "Sign in first: send a valid token as 'Authorization: Bearer <token>', or sign "
    "in with a session.",
}
API_403 = {
    "type": "about:blank",
    "title": "Forbidden",
    "status": 403,
    "detail": "You do not have permission to do this.",
}
STAFF_403 = {**API_403, "detail": "This page is for staff members only."}


def guarded_app(make_app: MakeApp) -> Carboy:
    """Routes guarded each way: decorator, route dependency, parameter, router dependency."""
    app = add_routes(make_app())

    async def whoami(request: Request) -> str:
        return str(request.user)

    for kind, guard in [
        ("login", login_required),
        ("staff", staff_required),
        ("permission", permission_required("post.publish")),
    ]:
        app.add_route(
            f"/decorated/{kind}", guard(_copy(whoami)), methods=["GET"], name=f"decorated-{kind}"
        )
        app.add_route(
            f"/depends/{kind}",
            _copy(whoami),
            methods=["GET"],
            dependencies=[Depends(guard)],
            name=f"depends-{kind}",
        )
        router = Router(prefix="/router", dependencies=[Depends(guard)])
        router.add_route(f"/{kind}", _copy(whoami), methods=["GET"], name=f"router-{kind}")
        app.include_router(router)

        @app.get(f"/parameter/{kind}", name=f"parameter-{kind}")
        async def parameter(request: Request, guarded: Annotated[None, Depends(guard)]) -> str:
            return str(request.user)

    @app.get("/current")
    async def current(user: CurrentUser) -> str:
        return user.email

    @app.get("/current/depends", dependencies=[Depends(login_required)])
    async def current_depends(user: Annotated[Any, Depends(login_required)]) -> str:
        return str(user.email)

    async def as_dependency(user: CurrentUser) -> str:
        return user.email

    router = Router(prefix="/router", dependencies=[Depends(as_dependency)])

    @router.get("/current")
    async def current_router(request: Request) -> str:
        return str(request.user)

    app.include_router(router)
    return app


def _copy(function: Any) -> Any:
    # Each route gets its own function: decorators attach dependencies to it.
    async def handler(request: Request) -> str:
        return await function(request)

    return handler


GUARDED = [
    f"/{way}/{kind}"
    for way in ("decorated", "depends", "router", "parameter")
    for kind in ("login", "staff", "permission")
] + ["/current", "/current/depends", "/router/current"]


@pytest.mark.parametrize("path", GUARDED)
def test_guards_answer_an_anonymous_api_client_with_401_problem_and_www_authenticate(
    make_app: MakeApp, path: str
) -> None:
    with TestClient(guarded_app(make_app)) as client:
        response = client.get(path)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == API_401


@pytest.mark.parametrize("path", GUARDED)
def test_guards_answer_a_browser_with_401_page_when_there_are_no_sign_in_pages(
    make_app: MakeApp, path: str
) -> None:
    with TestClient(guarded_app(make_app)) as client:
        response = client.get(path, headers={"accept": "text/html"})

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", GUARDED)
def test_guards_let_a_superuser_through(make_app: MakeApp, add_user: AddUser, path: str) -> None:
    add_user(is_superuser=True, is_staff=True)
    with TestClient(guarded_app(make_app)) as client:
        sign_in(client)
        response = client.get(path)

    assert response.status_code == 200
    assert response.text == "ada@example.com"


@pytest.mark.parametrize("way", ["decorated", "depends", "router", "parameter"])
def test_staff_and_permission_guards_refuse_a_plain_user_with_403(
    make_app: MakeApp, add_user: AddUser, way: str
) -> None:
    add_user()
    with TestClient(guarded_app(make_app)) as client:
        sign_in(client)
        login = client.get(f"/{way}/login")
        staff = client.get(f"/{way}/staff")
        permission = client.get(f"/{way}/permission")

    assert login.status_code == 200
    assert (staff.status_code, staff.json()) == (403, STAFF_403)
    assert (permission.status_code, permission.json()) == (403, API_403)
    assert permission.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("way", ["decorated", "depends", "router", "parameter"])
def test_staff_and_permission_guards_let_staff_with_the_permission_through(
    make_app: MakeApp, add_user: AddUser, db: Database, way: str
) -> None:
    user = add_user(is_staff=True)
    with db.session() as session:
        grant(session, session.get(User, user.id), "post.publish")
        session.commit()
    with TestClient(guarded_app(make_app)) as client:
        sign_in(client)
        staff = client.get(f"/{way}/staff")
        permission = client.get(f"/{way}/permission")

    assert (staff.status_code, staff.text) == (200, "ada@example.com")
    assert (permission.status_code, permission.text) == (200, "ada@example.com")


def test_permission_required_needs_every_permission_listed(
    make_app: MakeApp, add_user: AddUser, db: Database
) -> None:
    user = add_user()
    with db.session() as session:
        grant(session, session.get(User, user.id), "post.publish")
        session.commit()
    app = add_routes(make_app())

    @app.get("/both")
    @permission_required("post.publish", "post.delete")
    async def both() -> str:
        return "done"

    @app.get("/one")
    @permission_required("post.publish")
    async def one() -> str:
        return "done"

    with TestClient(app) as client:
        sign_in(client)
        assert client.get("/both").status_code == 403
        assert client.get("/one").status_code == 200


def test_permission_required_does_not_ask_the_object_check_which_needs_an_object(
    make_app: MakeApp, add_user: AddUser
) -> None:
    calls: list[Any] = []

    def allow_everything(user: Any, codename: str, obj: Any) -> bool:
        calls.append((user, codename, obj))
        return True

    add_user()
    app = add_routes(make_app(object_permission=allow_everything))

    @app.get("/publish")
    @permission_required("post.publish")
    async def publish() -> str:
        return "published"

    with TestClient(app) as client:
        sign_in(client)
        response = client.get("/publish")

    assert response.status_code == 403
    assert calls == []


def test_permission_required_needs_a_permission() -> None:
    with pytest.raises(ValueError) as caught:
        permission_required()

    assert str(caught.value) == "permission_required() needs at least one permission codename."


def test_an_inactive_staff_member_is_refused_even_with_a_session(
    make_app: MakeApp, add_user: AddUser, db: Database
) -> None:
    user = add_user(is_staff=True, is_superuser=True)
    with TestClient(guarded_app(make_app)) as client:
        sign_in(client)
        with db.session() as session:
            stored = session.get(User, user.id)
            assert stored is not None
            stored.is_active = False
            session.commit()

        response = client.get("/decorated/staff")

    assert response.status_code == 401


def test_guarded_routes_are_documented(make_app: MakeApp) -> None:
    with TestClient(guarded_app(make_app)) as client:
        response = client.get("/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(GUARDED) <= set(paths)


def test_guards_need_the_auth_battery() -> None:
    app = Carboy()

    @app.get("/private")
    @login_required
    async def private() -> str:
        return "secret"

    with TestClient(app) as client, pytest.raises(ImproperlyConfigured) as caught:
        client.get("/private")

    assert str(caught.value) == (
        "This needs the auth battery, which is not installed. "
        "Add Auth() to Carboy(extensions=[...])."
    )


# login_redirect: what a LoginRequired becomes -----------------------------------


def redirect_for(
    make_app: MakeApp,
    path: str,
    prefix: str | None,
    headers: dict[str, str],
    method: str = "GET",
    root_path: str = "",
) -> Any:
    """Run ``login_redirect`` for a request to ``path`` on an app with ``Auth(prefix=...)``."""
    app = make_app()
    auth = app.extensions["auth"]
    auth.prefix = prefix  # type: ignore[attr-defined]

    @app.route("/probe/{rest:path}", methods=["GET", "HEAD", "POST"])
    async def probe(request: Request) -> Any:
        return login_redirect(request, LoginRequired())

    with TestClient(app, root_path=root_path) as client:
        return client.request(method, path, headers=headers)


BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_login_redirect_sends_a_browser_to_the_login_page_with_next(
    make_app: MakeApp,
) -> None:
    response = redirect_for(make_app, "/probe/dashboard", "/auth", BROWSER)

    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login?next=/probe/dashboard"


def test_login_redirect_keeps_the_query_string_in_next_encoded(make_app: MakeApp) -> None:
    response = redirect_for(make_app, "/probe/posts?page=2&sort=new", "/auth", BROWSER)

    assert response.headers["location"] == ("/auth/login?next=/probe/posts%3Fpage%3D2%26sort%3Dnew")


def test_login_redirect_answers_401_to_api_clients_and_unsafe_methods(
    make_app: MakeApp,
) -> None:
    api = redirect_for(make_app, "/probe/dashboard", "/auth", {"accept": "application/json"})
    post = redirect_for(make_app, "/probe/dashboard", "/auth", BROWSER, method="POST")

    assert (api.status_code, api.json()) == (401, API_401)
    assert api.headers["www-authenticate"] == "Bearer"
    assert post.status_code == 401


def test_login_redirect_answers_401_when_there_are_no_pages(make_app: MakeApp) -> None:
    response = redirect_for(make_app, "/probe/dashboard", None, BROWSER)

    assert response.status_code == 401
    assert "location" not in response.headers


def test_login_redirect_keeps_the_prefix_the_app_is_served_under(make_app: MakeApp) -> None:
    response = redirect_for(make_app, "/app/probe/dashboard", "/auth", BROWSER, root_path="/app")

    assert response.status_code == 303
    assert response.headers["location"] == "/app/auth/login?next=/app/probe/dashboard"


def test_head_requests_from_a_browser_are_redirected_too(make_app: MakeApp) -> None:
    response = redirect_for(make_app, "/probe/dashboard", "/auth", BROWSER, method="HEAD")

    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login?next=/probe/dashboard"


# The Auth extension -------------------------------------------------------------


def test_auth_needs_the_database_battery() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        Carboy(extensions=[Auth(prefix=None)])

    assert str(caught.value) == (
        "The extension 'auth' requires 'db', which is not installed. Add it to "
        "Carboy(extensions=[...]) before 'auth'."
    )


@pytest.mark.parametrize("model", [object, AnonymousUser, "User"])
def test_auth_refuses_a_user_model_that_is_not_one(model: Any) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        Auth(user_model=model, prefix=None)

    assert str(caught.value) == (
        f"Auth(user_model={model!r}) is not a user model. Subclass carboy.auth.models.AbstractUser."
    )


def test_auth_serves_no_pages_without_a_prefix(app: Carboy) -> None:
    auth = app.extensions["auth"]

    assert isinstance(auth, Auth)
    assert (auth.prefix, auth.login_url, auth.user_model) == (None, None, User)
    assert Auth(prefix="/account/").login_url == "/account/login"


def test_auth_gives_the_shell_the_user_model_and_helpers(app: Carboy) -> None:
    from carboy.auth import create_token, make_password

    names = app.extensions["auth"].shell_context()  # type: ignore[attr-defined]

    assert names == {
        "User": User,
        "make_password": make_password,
        "grant": grant,
        "create_token": create_token,
    }


def test_request_user_before_the_user_is_loaded_says_where_to_read_it(app: Carboy) -> None:
    seen: list[str] = []

    @app.before_request
    async def peek(request: Request) -> None:
        try:
            seen.append(str(request.user))
        except ImproperlyConfigured as exc:
            seen.append(str(exc))

    @app.get("/")
    async def home(request: Request) -> str:
        return str(request.user)

    with TestClient(app) as client:
        assert client.get("/").text == "anonymous"
    assert seen == [
        "request.user is not known yet here: the auth battery loads it just before a routed "
        "handler's dependencies run, after middleware and before-request hooks, and not at "
        "all for a path no route matches. Read it in a handler or a dependency."
    ]


def test_emails_are_stored_in_lower_case_and_one_address_has_one_account(
    db: Database, add_user: AddUser
) -> None:
    from sqlalchemy.exc import IntegrityError

    user = add_user("  Ada.Lovelace@Example.COM ")
    assert user.email == "ada.lovelace@example.com"
    with db.session() as session, pytest.raises(IntegrityError):
        session.add(User(email="ADA.LOVELACE@example.com", password=password_hash("x")))
        session.commit()
