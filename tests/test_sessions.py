from __future__ import annotations

import time
from typing import Any

import pytest

from carboy import Carboy, Request
from carboy.config import Settings
from carboy.exceptions import ImproperlyConfigured
from carboy.sessions import MemorySessionStore, ServerSideSessions, flash, get_flashed_messages
from carboy.signing import Signer
from carboy.testing import TestClient

KEY = "k" * 50


def session_app(**settings: Any) -> Carboy:
    app = Carboy(settings=Settings(secret_key=KEY, **settings))

    @app.get("/get")
    async def get(request: Request) -> dict[str, Any]:
        return {"data": dict(request.session), "id": request.session.id}

    @app.get("/set/{value}")
    async def set_value(request: Request, value: str) -> str:
        request.session["value"] = value
        return "set"

    @app.get("/rotate")
    async def rotate(request: Request) -> str:
        request.session.rotate()
        return "rotated"

    @app.get("/clear")
    async def clear(request: Request) -> str:
        request.session.clear()
        return "cleared"

    @app.get("/flash")
    async def add_flash(request: Request) -> str:
        flash(request, "Saved.", "success")
        flash(request, "<b>Check</b> your mail.")
        return "flashed"

    @app.get("/messages")
    async def messages(request: Request) -> list[Any]:
        return get_flashed_messages(request, with_categories=True)

    return app


def test_a_session_keeps_values_between_requests_in_a_signed_cookie() -> None:
    client = TestClient(session_app())

    client.get("/set/blue")
    response = client.get("/get")

    assert response.json()["data"] == {"value": "blue"}
    cookie = client.cookies["session"]
    assert "blue" not in cookie  # encoded and signed, not plain text
    header = client.get("/set/red").headers["set-cookie"]
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header
    assert "Path=/" in header
    assert "Max-Age=1209600" in header
    assert "Secure" not in header


def test_the_session_cookie_is_secure_on_https() -> None:
    client = TestClient(session_app(), base_url="https://testserver")

    header = client.get("/set/x").headers["set-cookie"]

    assert "; Secure" in header


def test_a_request_that_does_not_change_the_session_sets_no_cookie() -> None:
    client = TestClient(session_app())
    client.get("/set/blue")

    response = client.get("/get")

    assert "set-cookie" not in response.headers


def test_a_tampered_session_cookie_is_ignored() -> None:
    client = TestClient(session_app())
    client.get("/set/blue")
    token = client.cookies["session"]
    payload, stamp, signature = token.split(".")
    forged = Signer([b"guess"], salt="carboy.sessions.cookie").sign(b'{"_id":"x","value":"admin"}')

    for bad in (f"{payload}.{stamp}.{signature[:-2]}xx", forged, "garbage", "a.b.c.d"):
        client.cookies.set("session", bad)
        assert client.get("/get").json()["data"] == {}


def test_a_session_cookie_with_non_ascii_bytes_is_ignored() -> None:
    client = TestClient(session_app())
    client.get("/set/blue")
    payload, stamp, _ = client.cookies["session"].split(".")
    headers = {"cookie": f"session={payload}.{stamp}.sig\u00e9nature".encode("latin-1")}
    response = client.get("/get", headers=headers)  # type: ignore[arg-type]
    assert response.status_code == 200
    assert response.json()["data"] == {}


def test_an_expired_session_cookie_is_ignored() -> None:
    app = session_app(session_max_age=60)
    client = TestClient(app)
    old = Signer([KEY.encode()], salt="carboy.sessions.cookie").sign(
        b'{"_id":"old","value":"stale"}', timestamp=int(time.time()) - 120
    )
    client.cookies.set("session", old)

    assert client.get("/get").json()["data"] == {}


def test_rotation_changes_the_session_id_and_keeps_the_data() -> None:
    client = TestClient(session_app())
    client.get("/set/blue")
    before = client.get("/get").json()

    client.get("/rotate")
    after = client.get("/get").json()

    assert after["data"] == before["data"] == {"value": "blue"}
    assert after["id"] != before["id"]


def test_clear_empties_the_session_and_deletes_the_cookie() -> None:
    client = TestClient(session_app())
    client.get("/set/blue")

    response = client.get("/clear")

    assert 'session=""' in response.headers["set-cookie"]
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert client.get("/get").json()["data"] == {}


def test_an_old_secret_key_still_verifies_and_the_new_one_signs() -> None:
    old_client = TestClient(session_app())
    old_client.get("/set/blue")
    cookie = old_client.cookies["session"]
    rotated = Carboy(settings=Settings(secret_key="n" * 50, secret_key_fallbacks=[KEY]))

    @rotated.get("/get")
    async def get(request: Request) -> dict[str, Any]:
        return dict(request.session)

    @rotated.get("/touch")
    async def touch(request: Request) -> str:
        request.session["touched"] = True
        return "ok"

    client = TestClient(rotated, cookies={"session": cookie})

    assert client.get("/get").json() == {"value": "blue"}
    resigned = client.get("/touch").cookies["session"]

    assert Signer([b"n" * 50], salt="carboy.sessions.cookie").unsign(resigned)


def test_flash_messages_are_shown_once() -> None:
    client = TestClient(session_app())
    client.get("/flash")

    first = client.get("/messages").json()
    second = client.get("/messages").json()

    assert first == [["success", "Saved."], ["info", "<b>Check</b> your mail."]]
    assert second == []


def test_server_side_sessions_keep_only_a_key_in_the_cookie_and_rotate_it() -> None:
    store = MemorySessionStore()
    app = session_app()
    app.session_backend = ServerSideSessions(store)
    client = TestClient(app)

    client.get("/set/blue")
    first_cookie = client.cookies["session"]
    first_keys = set(store._items)
    client.get("/rotate")
    second_keys = set(store._items)

    assert client.get("/get").json()["data"] == {"value": "blue"}
    assert "blue" not in first_cookie
    assert len(first_keys) == 1
    assert len(second_keys) == 1
    assert first_keys != second_keys
    client.get("/clear")
    assert store._items == {}


def test_saving_a_session_without_a_secret_key_says_what_to_set() -> None:
    app = Carboy()

    @app.get("/set")
    async def set_value(request: Request) -> str:
        request.session["x"] = 1
        return "set"

    with pytest.raises(ImproperlyConfigured) as info:
        TestClient(app).get("/set")

    assert str(info.value).startswith(
        "Sessions and CSRF tokens are signed with the secret key, and none is set. "
        "Set CARBOY_SECRET_KEY"
    )


def test_debug_mode_makes_a_key_so_sessions_work_at_once() -> None:
    app = Carboy(settings=Settings(debug=True))

    @app.get("/set")
    async def set_value(request: Request) -> str:
        request.session["x"] = 1
        return "set"

    response = TestClient(app).get("/set")

    assert response.status_code == 200
    assert "session=" in response.headers["set-cookie"]
