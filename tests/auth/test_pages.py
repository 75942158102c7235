"""The sign-in pages through the test client, on SQLite: every flow, and what they refuse."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import httpx
import pytest

import carboy.signing
from carboy import Carboy
from carboy.auth import Auth
from carboy.auth.pages import (
    DEFAULT_THROTTLES,
    LINK_INVALID,
    LOGIN_FAILED,
    NO_SESSION,
    PASSWORDS_DIFFER,
    WRONG_OLD_PASSWORD,
    Throttles,
    duration,
    is_safe_next,
    pages_router,
)
from carboy.auth.user import User
from carboy.exceptions import ImproperlyConfigured
from carboy.testing import TestClient
from tests._services import redis_url

from ._pages_app import (
    CSRF_INPUT,
    EMAIL,
    NEW_PASSWORD,
    PASSWORD,
    add_user,
    cheap_hashing,
    csrf_of,
    database_of,
    link_in,
    make_app,
    outbox,
    stored_user,
)

MakePagesApp = Callable[..., Carboy]
HTML = {"accept": "text/html"}
RESET_SENT = (
    "If an account uses {email}, an email with a link to choose a new password is on its "
    "way. The link works once, for 24 hours."
)


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def make_pages_app(tmp_path: Path) -> Iterator[MakePagesApp]:
    """Build apps with the pages on a SQLite file of their own; engines closed after."""
    built: list[Carboy] = []

    def build(**options: Any) -> Carboy:
        app = make_app(tmp_path / f"pages-{len(built)}.db", **options)
        built.append(app)
        return app

    yield build
    for app in built:
        anyio.run(database_of(app).disconnect)


@pytest.fixture
def app(make_pages_app: MakePagesApp) -> Carboy:
    return make_pages_app()


@pytest.fixture
def client(app: Carboy) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def masked(html: str) -> str:
    """Return ``html`` with what is random on every page (CSRF token, CSP nonce) masked."""
    html = CSRF_INPUT.sub('<input type="hidden" name="csrf_token" value="MASKED">', html)
    return re.sub(r'nonce="[^"]+"', 'nonce="MASKED"', html)


def post_form(client: TestClient, path: str, data: dict[str, str]) -> httpx.Response:
    """Open the page at ``path``, then send its form with ``data`` and the page's CSRF token."""
    page = client.get(path)
    return client.post(path, data={**data, "csrf_token": csrf_of(page.text)})


def sign_in(
    client: TestClient, email: str = EMAIL, password: str = PASSWORD, next: str = ""
) -> httpx.Response:
    return post_form(client, "/auth/login", {"email": email, "password": password, "next": next})


def whoami(client: TestClient) -> dict[str, Any]:
    data: dict[str, Any] = client.get("/").json()
    return data


def alert_texts(html: str) -> list[str]:
    return re.findall(r'<p class="form-error">(.*?)</p>', html)


def field_errors(html: str, field: str) -> list[str]:
    return re.findall(rf'<p class="field-error" id="id_{field}-error(?:-\d+)?">(.*?)</p>', html)


def flashes(html: str) -> list[str]:
    return re.findall(r'<p class="flash flash-success" role="status">(.*?)</p>', html)


def reset_link(app: Carboy, client: TestClient, email: str = EMAIL) -> str:
    response = post_form(client, "/auth/password/reset", {"email": email})
    assert response.status_code == 200
    return link_in(outbox(app)[-1])


# Signing in ---------------------------------------------------------------------


def test_the_login_page_is_a_form_with_email_password_and_a_csrf_field(
    client: TestClient,
) -> None:
    response = client.get("/auth/login")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>Sign in</title>" in response.text
    assert '<form method="post" novalidate>' in response.text
    assert csrf_of(response.text)
    assert (
        '<label for="id_email">Email</label><input type="email" name="email" id="id_email" '
        'required maxlength="254" autocomplete="email">'
    ) in response.text
    assert (
        '<label for="id_password">Password</label><input type="password" name="password" '
        'id="id_password" required maxlength="4096" autocomplete="current-password">'
    ) in response.text
    assert '<input type="hidden" name="next" id="id_next">' in response.text
    assert "<script" not in response.text
    assert 'href="http://testserver/auth/password/reset"' in response.text
    # No sign-up link unless Auth(signup=True).
    assert "/auth/signup" not in response.text


def test_signing_in_redirects_to_next_and_the_user_is_signed_in(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)

    page = client.get("/auth/login?next=/private%3Ftab%3D2")
    response = client.post(
        "/auth/login",
        data={
            "email": EMAIL,
            "password": PASSWORD,
            "next": "/private?tab=2",
            "csrf_token": csrf_of(page.text),
        },
    )

    assert '<input type="hidden" name="next" id="id_next" value="/private?tab=2">' in page.text
    assert response.status_code == 303
    assert response.headers["location"] == "/private?tab=2"
    assert client.get("/private").json() == {"email": EMAIL}
    assert stored_user(app).last_login is not None


def test_signing_in_without_next_goes_to_the_home_page(app: Carboy, client: TestClient) -> None:
    add_user(app)

    response = sign_in(client)

    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_the_email_address_matches_whatever_its_case(app: Carboy, client: TestClient) -> None:
    add_user(app)

    response = sign_in(client, email="Ada@EXAMPLE.com")

    assert response.status_code == 303
    assert whoami(client)["user"] == EMAIL


def test_a_page_for_signed_in_users_sends_a_browser_to_the_login_page(
    client: TestClient,
) -> None:
    response = client.get("/private", headers=HTML)

    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login?next=/private"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "http:/evil.example",
        "",
    ],
)
def test_next_outside_this_site_is_dropped_and_sign_in_goes_home(
    app: Carboy, client: TestClient, target: str
) -> None:
    add_user(app)

    page = client.get("/auth/login", params={"next": target})
    response = client.post(
        "/auth/login",
        data={
            "email": EMAIL,
            "password": PASSWORD,
            "next": target,
            "csrf_token": csrf_of(page.text),
        },
    )

    assert '<input type="hidden" name="next" id="id_next">' in page.text
    assert response.status_code == 303
    assert response.headers["location"] == "/"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/", True),
        ("/private?tab=2#top", True),
        ("/a//b", True),
        ("//evil.example", False),
        ("/\\evil.example", False),
        ("/\x00", False),
        ("/\x7f", False),
        ("https://example.com/", False),
        ("relative/path", False),
        (None, False),
        ("/" + "a" * 2000, False),
    ],
)
def test_is_safe_next_passes_only_paths_of_this_site(target: str | None, expected: bool) -> None:
    assert is_safe_next(target) is expected


def test_a_wrong_password_and_an_unknown_user_get_the_same_page(
    app: Carboy, client: TestClient
) -> None:
    unknown = sign_in(client, password="not the password")
    add_user(app)
    wrong = sign_in(client, password="not the password")

    assert unknown.status_code == wrong.status_code == 422
    assert masked(unknown.text) == masked(wrong.text)
    assert alert_texts(wrong.text) == [LOGIN_FAILED]
    assert (
        '<input type="email" name="email" id="id_email" required maxlength="254" '
        'autocomplete="email" value="ada@example.com">'
    ) in wrong.text
    assert "not the password" not in wrong.text
    assert whoami(client)["user"] is None


def test_an_inactive_user_gets_the_same_answer_as_a_wrong_password(
    app: Carboy, client: TestClient
) -> None:
    add_user(app, is_active=False)

    response = sign_in(client)

    assert response.status_code == 422
    assert alert_texts(response.text) == [LOGIN_FAILED]


def test_an_empty_form_shows_required_fields(client: TestClient) -> None:
    response = post_form(client, "/auth/login", {"email": "", "password": ""})

    assert response.status_code == 422
    assert field_errors(response.text, "email") == ["This field is required."]
    assert field_errors(response.text, "password") == ["This field is required."]
    assert "<p>Correct the fields marked below.</p>" in response.text


def test_the_session_id_changes_at_login(app: Carboy, client: TestClient) -> None:
    add_user(app)
    page = client.get("/auth/login")
    before_cookie = client.cookies["session"]
    before = whoami(client)

    client.post(
        "/auth/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    after = whoami(client)

    assert before["user"] is None
    assert after["user"] == EMAIL
    assert after["session"] != before["session"]
    assert client.cookies["session"] != before_cookie


def test_the_login_form_without_its_csrf_token_is_refused_and_with_it_passes(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)
    page = client.get("/auth/login")

    refused = client.post("/auth/login", data={"email": EMAIL, "password": PASSWORD}, headers=HTML)
    forged = client.post(
        "/auth/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": "ab" * 64},
        headers=HTML,
    )
    accepted = client.post(
        "/auth/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )

    assert refused.status_code == 403
    assert (
        "<p>CSRF token missing: send the token of csrf_token() in the &#x27;csrf_token&#x27; "
        "form field or the X-CSRF-Token header.</p>"
    ) in refused.text
    assert forged.status_code == 403
    assert accepted.status_code == 303
    assert whoami(client)["user"] == EMAIL


def test_a_login_form_without_cookies_is_refused_as_another_site_could_send_it(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)

    response = client.post("/auth/login", data={"email": EMAIL, "password": PASSWORD}, headers=HTML)

    assert response.status_code == 403
    assert f"<p>{NO_SESSION}</p>" in response.text
    assert whoami(client)["user"] is None


def test_a_django_pbkdf2_hash_signs_in_and_becomes_argon2id(
    app: Carboy, client: TestClient
) -> None:
    salt, iterations = "seasalt0123", 1000
    digest = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt.encode(), iterations)
    django_hash = f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode()}"
    with database_of(app).session() as session:
        session.add(User(email=EMAIL, password=django_hash))
        session.commit()

    response = sign_in(client)

    assert response.status_code == 303
    upgraded = stored_user(app).password
    assert upgraded.startswith("$argon2id$")
    assert whoami(client)["user"] == EMAIL
    # The new hash signs in too, and a second login leaves it as it is.
    client.cookies.clear()
    assert sign_in(client).status_code == 303
    assert stored_user(app).password == upgraded


# Throttling ---------------------------------------------------------------------


def test_after_five_attempts_at_one_account_login_answers_429_with_retry_after(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)
    token = csrf_of(client.get("/auth/login").text)

    def attempt(password: str) -> httpx.Response:
        data = {"email": EMAIL, "password": password, "csrf_token": token}
        return client.post("/auth/login", data=data)

    statuses = [attempt("wrong").status_code for _ in range(5)]
    limited = attempt(PASSWORD)

    assert statuses == [422] * 5
    assert limited.status_code == 429
    assert 0 < int(limited.headers["retry-after"]) <= 60
    assert "<h1>Too many attempts</h1>" in limited.text
    assert (
        '<p role="alert">Too many requests: the limit here is 5 per minute. Try again in '
        f"{limited.headers['retry-after']} seconds.</p>"
    ) in limited.text
    assert whoami(client)["user"] is None
    # Another account from the same address is not held back by this one's count.
    other = client.post(
        "/auth/login",
        data={"email": "grace@example.com", "password": "wrong", "csrf_token": token},
    )
    assert other.status_code == 422


def test_after_twenty_attempts_from_one_address_every_account_is_throttled(
    client: TestClient,
) -> None:
    token = csrf_of(client.get("/auth/login").text)

    def attempt(number: int) -> int:
        data = {"email": f"user{number}@example.com", "password": "x", "csrf_token": token}
        return client.post("/auth/login", data=data).status_code

    statuses = [attempt(number) for number in range(21)]

    assert statuses == [422] * 20 + [429]


def test_a_successful_sign_in_starts_the_account_count_again(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)
    for _ in range(4):
        assert sign_in(client, password="wrong").status_code == 422

    assert sign_in(client).status_code == 303
    client.cookies.clear()
    statuses = [sign_in(client, password="wrong").status_code for _ in range(5)]

    assert statuses == [422] * 5


def test_a_router_of_the_pages_takes_other_rates(tmp_path: Path) -> None:
    app = make_app(tmp_path / "rates.db", prefix=None)
    auth = app.extensions["auth"]
    assert isinstance(auth, Auth)
    app.include_router(
        pages_router(auth, throttles=Throttles(login_per_account="2/minute")), prefix="/account"
    )
    add_user(app)
    with TestClient(app) as client:
        token = csrf_of(client.get("/account/login").text)
        data = {"email": EMAIL, "password": "wrong", "csrf_token": token}

        statuses = [client.post("/account/login", data=data).status_code for _ in range(3)]

    anyio.run(database_of(app).disconnect)
    assert statuses == [422, 422, 429]


def test_a_mistyped_rate_stops_the_app_before_it_serves(app: Carboy) -> None:
    auth = app.extensions["auth"]
    assert isinstance(auth, Auth)

    with pytest.raises(ImproperlyConfigured) as caught:
        pages_router(auth, throttles=Throttles(reset_per_ip="20 an hour"))

    assert str(caught.value) == (
        "The rate '20 an hour' cannot be read. Write a count, a slash and a period, such as "
        "'5/minute', '100/hour', '10/second', '1000/day' or '5/10 minutes'."
    )


def test_the_throttle_rates_are_the_documented_defaults() -> None:
    assert DEFAULT_THROTTLES.login_per_account == "5/minute"
    assert DEFAULT_THROTTLES.login_per_ip == "20/minute"
    assert DEFAULT_THROTTLES.reset_per_email == "5/hour"
    assert DEFAULT_THROTTLES.reset_per_ip == "20/hour"
    assert DEFAULT_THROTTLES.signup_per_ip == "10/hour"
    assert DEFAULT_THROTTLES.password_change_per_user == "5/minute"


# A JSON sign-in, for API clients --------------------------------------------------


def test_an_api_client_signs_in_with_json_and_gets_the_session_cookie(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)

    response = client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD})

    assert response.status_code == 200
    assert response.json() == {"id": 1, "email": EMAIL}
    assert "session" in response.cookies
    assert whoami(client)["user"] == EMAIL


def test_a_json_sign_in_with_a_wrong_password_gets_400_problem_details(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)

    wrong = client.post("/auth/login", json={"email": EMAIL, "password": "wrong"})
    malformed = client.post("/auth/login", json={"email": EMAIL})

    assert wrong.status_code == 400
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json() == {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": LOGIN_FAILED,
    }
    assert malformed.status_code == 422
    assert malformed.json()["detail"] == 'Send a JSON object with "email" and "password" strings.'


def test_json_sign_ins_are_throttled_too(app: Carboy, client: TestClient) -> None:
    add_user(app)

    statuses = [
        client.post("/auth/login", json={"email": EMAIL, "password": "wrong"}).status_code
        for _ in range(6)
    ]

    assert statuses == [400] * 5 + [429]


# Signing out --------------------------------------------------------------------


def test_logout_asks_first_then_signs_out_and_drops_the_session(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)
    sign_in(client)
    signed_in = whoami(client)

    page = client.get("/auth/logout")
    response = client.post("/auth/logout", data={"csrf_token": csrf_of(page.text)})
    login_page = client.get(response.headers["location"])

    assert page.status_code == 200
    assert "<p>You are signed in as ada@example.com.</p>" in page.text
    assert '<button type="submit">Sign out</button>' in page.text
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login"
    assert flashes(login_page.text) == ["You are signed out."]
    after = whoami(client)
    assert after["user"] is None
    assert after["session"] != signed_in["session"]


def test_the_logout_page_of_a_visitor_says_there_is_nobody_to_sign_out(
    client: TestClient,
) -> None:
    response = client.get("/auth/logout")

    assert response.status_code == 200
    assert "<p>You are not signed in.</p>" in response.text
    assert "<form" not in response.text


def test_logout_by_get_alone_signs_nobody_out(app: Carboy, client: TestClient) -> None:
    add_user(app)
    sign_in(client)

    client.get("/auth/logout")

    assert whoami(client)["user"] == EMAIL


# Changing the password -----------------------------------------------------------


def test_changing_the_password_needs_a_signed_in_user(client: TestClient) -> None:
    page = client.get("/auth/password/change", headers=HTML)

    assert page.status_code == 303
    assert page.headers["location"] == "/auth/login?next=/auth/password/change"


def test_a_password_change_keeps_this_session_and_ends_the_others(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)
    sign_in(client)
    with TestClient(app) as other:
        sign_in(other)
        assert whoami(other)["user"] == EMAIL

        response = post_form(
            client,
            "/auth/password/change",
            {
                "old_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "new_password_again": NEW_PASSWORD,
            },
        )
        done = client.get(response.headers["location"])

        assert response.status_code == 303
        assert response.headers["location"] == "/auth/password/change"
        assert flashes(done.text) == [
            "Your password is changed. Every other browser signed in as you is now signed out."
        ]
        assert whoami(client)["user"] == EMAIL
        assert whoami(other)["user"] is None
    client.cookies.clear()
    assert sign_in(client, password=PASSWORD).status_code == 422
    assert sign_in(client, password=NEW_PASSWORD).status_code == 303


def test_a_password_change_shows_each_problem_beside_its_field(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)
    sign_in(client)
    before = stored_user(app).password

    response = post_form(
        client,
        "/auth/password/change",
        {"old_password": "not it", "new_password": "5830271", "new_password_again": "1720385"},
    )

    assert response.status_code == 422
    assert "<p>The password was not changed: correct the fields marked below.</p>" in response.text
    assert field_errors(response.text, "old_password") == [WRONG_OLD_PASSWORD]
    assert field_errors(response.text, "new_password") == [
        "This password is too short: it must have at least 8 characters.",
        "This password is made of digits only.",
    ]
    assert field_errors(response.text, "new_password_again") == [PASSWORDS_DIFFER]
    assert (
        '<input type="password" name="new_password" id="id_new_password" required '
        'maxlength="4096" aria-invalid="true" '
        'aria-describedby="id_new_password-error id_new_password-error-2" '
        'autocomplete="new-password">'
    ) in response.text
    assert stored_user(app).password == before


def test_a_new_password_like_the_email_address_is_refused(app: Carboy, client: TestClient) -> None:
    add_user(app)
    sign_in(client)

    response = post_form(
        client,
        "/auth/password/change",
        {
            "old_password": PASSWORD,
            "new_password": "ada.example",
            "new_password_again": "ada.example",
        },
    )

    assert response.status_code == 422
    assert field_errors(response.text, "new_password") == [
        "This password is too similar to your e-mail address."
    ]


def test_guessing_the_current_password_is_throttled(app: Carboy, client: TestClient) -> None:
    add_user(app)
    sign_in(client)
    token = csrf_of(client.get("/auth/password/change").text)
    data = {
        "old_password": "guess",
        "new_password": NEW_PASSWORD,
        "new_password_again": NEW_PASSWORD,
        "csrf_token": token,
    }

    statuses = [client.post("/auth/password/change", data=data).status_code for _ in range(6)]

    assert statuses == [422] * 5 + [429]


# Resetting the password ----------------------------------------------------------


def test_the_reset_page_answers_the_same_for_an_address_with_or_without_an_account(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)

    known = post_form(client, "/auth/password/reset", {"email": EMAIL})
    unknown = post_form(client, "/auth/password/reset", {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 200
    assert masked(known.text) == masked(unknown.text).replace("nobody@example.com", EMAIL)
    assert f'<p role="status">{RESET_SENT.format(email=EMAIL)}</p>' in known.text
    assert [message.to for message in outbox(app)] == [[EMAIL]]


def test_the_reset_email_has_a_text_and_an_html_body_with_the_link(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)

    post_form(client, "/auth/password/reset", {"email": EMAIL})

    (message,) = outbox(app)
    link = link_in(message)
    assert message.subject == "Reset your password"
    assert re.fullmatch(r"http://testserver/auth/password/reset/[\w.-]+", link)
    assert message.body == (
        "Hello,\n\nSomeone, most likely you, asked to reset the password of the account "
        f"{EMAIL} on testserver. To choose a new password, open this link:\n\n{link}\n\n"
        "The link works once, for 24 hours.\n\nIf you did not ask for this, ignore this "
        "email: your password stays as it is."
    )
    assert message.html is not None
    assert f'<p><a href="{link}">Choose a new password</a></p>' in message.html


def test_a_reset_link_sets_a_new_password_once_and_ends_every_session(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)
    with TestClient(app) as signed_in:
        sign_in(signed_in)
        link = reset_link(app, client)

        form = client.get(link)
        response = client.post(
            link,
            data={
                "new_password": NEW_PASSWORD,
                "new_password_again": NEW_PASSWORD,
                "csrf_token": csrf_of(form.text),
            },
        )
        login_page = client.get(response.headers["location"])
        again = client.get(link)
        reposted = client.post(
            link,
            data={
                "new_password": "yet another passphrase",
                "new_password_again": "yet another passphrase",
                "csrf_token": csrf_of(login_page.text),
            },
        )

        assert form.status_code == 200
        assert "<h1>Choose a new password</h1>" in form.text
        assert response.status_code == 303
        assert response.headers["location"] == "/auth/login"
        assert flashes(login_page.text) == ["Your new password is set. Sign in with it."]
        assert again.status_code == 400
        assert f'<p role="alert">{LINK_INVALID}</p>' in again.text
        assert reposted.status_code == 400
        assert whoami(signed_in)["user"] is None
    assert sign_in(client, password=PASSWORD).status_code == 422
    assert sign_in(client, password=NEW_PASSWORD).status_code == 303


def test_a_reset_link_stops_working_once_the_user_signs_in(app: Carboy, client: TestClient) -> None:
    add_user(app)
    link = reset_link(app, client)

    sign_in(client)

    assert client.get(link).status_code == 400


def test_a_reset_link_expires_after_reset_max_age(
    make_pages_app: MakePagesApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_pages_app(reset_max_age=3600)
    add_user(app)
    with TestClient(app) as client:
        link = reset_link(app, client)
        sent_at = time.time()

        monkeypatch.setattr(carboy.signing, "time", SimpleNamespace(time=lambda: sent_at + 3590))
        before = client.get(link)
        monkeypatch.setattr(carboy.signing, "time", SimpleNamespace(time=lambda: sent_at + 3610))
        after = client.get(link)

    assert before.status_code == 200
    assert after.status_code == 400
    assert f'<p role="alert">{LINK_INVALID}</p>' in after.text


def test_the_reset_email_says_how_long_the_link_works(
    make_pages_app: MakePagesApp,
) -> None:
    app = make_pages_app(reset_max_age=1800)
    add_user(app)
    with TestClient(app) as client:
        response = post_form(client, "/auth/password/reset", {"email": EMAIL})

    assert "The link works once, for 30 minutes." in response.text
    assert "The link works once, for 30 minutes." in outbox(app)[0].body


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b.c",
        "MTox.6b01b07c.bad-signature",
        "x" * 600,
        "...",
    ],
)
def test_a_forged_reset_link_gets_400_and_never_500(client: TestClient, token: str) -> None:
    response = client.get(f"/auth/password/reset/{token}")
    posted = client.post(f"/auth/password/reset/{token}", data={"new_password": "x"})

    assert response.status_code == 400
    assert f'<p role="alert">{LINK_INVALID}</p>' in response.text
    assert posted.status_code in (400, 403)


def test_a_reset_link_with_a_nul_byte_is_refused_before_any_page(client: TestClient) -> None:
    response = client.get("/auth/password/reset/%00")
    posted = client.post("/auth/password/reset/%00", data={"new_password": "x"})

    assert (response.status_code, posted.status_code) == (400, 400)
    assert response.json()["detail"] == (
        "The request path contains a NUL character (%00), which no page has."
    )


def test_a_link_for_a_deleted_user_gets_400(app: Carboy, client: TestClient) -> None:
    add_user(app)
    link = reset_link(app, client)
    with database_of(app).session() as session:
        session.delete(session.get(User, 1))
        session.commit()

    assert client.get(link).status_code == 400


def test_the_new_password_from_a_link_passes_the_validators(
    app: Carboy, client: TestClient
) -> None:
    add_user(app)
    link = reset_link(app, client)

    response = post_form(
        client, link, {"new_password": "password", "new_password_again": "passw0rd"}
    )

    assert response.status_code == 422
    assert field_errors(response.text, "new_password") == [
        "This password is one of the most common, which attackers try first."
    ]
    assert field_errors(response.text, "new_password_again") == [PASSWORDS_DIFFER]
    assert client.get(link).status_code == 200


def test_inactive_users_and_unusable_passwords_get_no_reset_email(
    app: Carboy, client: TestClient
) -> None:
    add_user(app, is_active=False)
    add_user(app, email="sso@example.com")
    with database_of(app).session() as session:
        user = session.get(User, 2)
        assert user is not None
        user.set_unusable_password()
        session.commit()

    first = post_form(client, "/auth/password/reset", {"email": EMAIL})
    second = post_form(client, "/auth/password/reset", {"email": "sso@example.com"})

    assert first.status_code == second.status_code == 200
    assert outbox(app) == []


def test_reset_requests_are_throttled_per_email_address(app: Carboy, client: TestClient) -> None:
    add_user(app)

    statuses = [
        post_form(client, "/auth/password/reset", {"email": EMAIL}).status_code for _ in range(6)
    ]

    assert statuses == [200] * 5 + [429]
    assert len(outbox(app)) == 5


def test_a_malformed_reset_address_is_shown_beside_the_field(client: TestClient) -> None:
    response = post_form(client, "/auth/password/reset", {"email": "ada-at-example"})

    assert response.status_code == 422
    assert field_errors(response.text, "email") == [
        "Enter a valid email address, such as ada@example.com."
    ]


# Signing up ------------------------------------------------------------------------


def test_without_signup_there_is_no_signup_page(client: TestClient) -> None:
    assert client.get("/auth/signup").status_code == 404
    assert client.get("/auth/verify/anything").status_code == 404


def test_signup_opens_an_inactive_account_that_its_link_activates(
    make_pages_app: MakePagesApp,
) -> None:
    app = make_pages_app(signup=True)
    with TestClient(app) as client:
        sent = post_form(
            client,
            "/auth/signup",
            {"email": "Grace@Example.com", "password": PASSWORD, "password_again": PASSWORD},
        )
        (message,) = outbox(app)
        link = link_in(message)
        refused = sign_in(client, email="Grace@example.com")
        confirm = client.get(link)
        confirmed = client.post(link, data={"csrf_token": csrf_of(confirm.text)})
        login_page = client.get(confirmed.headers["location"])
        used = client.get(link)
        signed_in = sign_in(client, email="Grace@example.com")

    assert sent.status_code == 200
    assert (
        '<p role="status">An email is on its way to grace@example.com. Open the link in it to '
        "confirm the address and start using your account.</p>"
    ) in sent.text
    assert message.to == ["grace@example.com"]
    assert message.subject == "Confirm your email address"
    assert re.fullmatch(r"http://testserver/auth/verify/[\w.-]+", link)
    assert refused.status_code == 422
    assert confirm.status_code == 200
    assert "<p>Press the button to confirm grace@example.com and open your account.</p>" in (
        confirm.text
    )
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == "/auth/login"
    assert flashes(login_page.text) == ["Your email address is confirmed. Sign in to start."]
    assert used.status_code == 400
    assert signed_in.status_code == 303


def test_signup_with_a_taken_address_answers_the_same_and_mails_the_owner(
    make_pages_app: MakePagesApp,
) -> None:
    app = make_pages_app(signup=True)
    add_user(app)
    data = {"email": EMAIL, "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    with TestClient(app) as client:
        taken = post_form(client, "/auth/signup", data)
        fresh = post_form(client, "/auth/signup", {**data, "email": "grace@example.com"})

    assert taken.status_code == fresh.status_code == 200
    assert masked(taken.text) == masked(fresh.text).replace("grace@example.com", EMAIL)
    exists, verify = outbox(app)
    assert exists.to == [EMAIL]
    assert exists.subject == "You already have an account"
    assert "http://testserver/auth/login\n" in exists.body
    assert "http://testserver/auth/password/reset\n" in exists.body
    assert verify.subject == "Confirm your email address"
    # The owner's password is untouched.
    with TestClient(app) as client:
        assert sign_in(client).status_code == 303


def test_signup_shows_password_problems_beside_the_fields(
    make_pages_app: MakePagesApp,
) -> None:
    app = make_pages_app(signup=True)
    with TestClient(app) as client:
        response = post_form(
            client,
            "/auth/signup",
            {"email": "grace.hopper@example.com", "password": "gracehopper", "password_again": ""},
        )

    assert response.status_code == 422
    assert field_errors(response.text, "password_again") == ["This field is required."]
    assert outbox(app) == []


def test_signup_checks_the_password_against_the_address(
    make_pages_app: MakePagesApp,
) -> None:
    app = make_pages_app(signup=True)
    with TestClient(app) as client:
        response = post_form(
            client,
            "/auth/signup",
            {
                "email": "grace.hopper@example.com",
                "password": "gracehopper",
                "password_again": "gracehopper",
            },
        )

    assert response.status_code == 422
    assert field_errors(response.text, "password") == [
        "This password is too similar to your e-mail address."
    ]


def test_a_reset_link_cannot_verify_an_account(make_pages_app: MakePagesApp) -> None:
    app = make_pages_app(signup=True)
    add_user(app, is_active=False)
    add_user(app, email="grace@example.com")
    with TestClient(app) as client:
        link = reset_link(app, client, "grace@example.com")
        token = link.rpartition("/")[2]

        response = client.get(f"/auth/verify/{token}")

    assert response.status_code == 400


# Templates ---------------------------------------------------------------------------


def test_an_app_restyles_every_page_with_its_own_base_template(
    make_pages_app: MakePagesApp, tmp_path: Path
) -> None:
    folder = tmp_path / "templates" / "carboy" / "auth"
    folder.mkdir(parents=True)
    (folder / "base.html").write_text(
        "<!doctype html><title>{% block title %}{% endblock %} | Acme</title>"
        "<body class=acme>{% block content %}{% endblock %}</body>",
        encoding="utf-8",
    )
    app = make_pages_app()
    app.settings.template_dirs = [str(tmp_path / "templates")]
    with TestClient(app) as client:
        response = client.get("/auth/password/reset")

    assert response.status_code == 200
    assert response.text.startswith("<!doctype html><title>Reset your password | Acme</title>")
    assert "<body class=acme>" in response.text


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (24 * 3600, "24 hours"),
        (3 * 86400, "3 days"),
        (3600, "1 hour"),
        (1800, "30 minutes"),
        (60, "1 minute"),
        (90, "90 seconds"),
        (1, "1 second"),
    ],
)
def test_duration_says_seconds_in_words(seconds: int, words: str) -> None:
    assert duration(seconds) == words


# Two processes, one limit ---------------------------------------------------------

SITE = """\
from carboy import Carboy
from carboy.auth import Auth
from carboy.db import Database
from carboy.ratelimit import RateLimits

app = Carboy(extensions=[Database(), Auth(), RateLimits()])
"""
SERVER_START_TIMEOUT = 30.0
SERVER_STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(
    folder: Path, env: dict[str, str], name: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (folder / f"{name}.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "site_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    return process, f"http://127.0.0.1:{port}"


def wait_until_serving(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"The server at {base_url} stopped:\n{log.read_text()}", pytrace=False)
        try:
            if httpx.get(f"{base_url}/auth/login", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"The server at {base_url} did not start:\n{log.read_text()}", pytrace=False)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(SERVER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(SERVER_STOP_TIMEOUT)


def delete_keys(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(prefix + "*"):
            client.delete(key)
    finally:
        client.close()


def test_two_server_processes_share_the_login_limit_through_redis(tmp_path: Path) -> None:
    url = redis_url()
    prefix = f"carboy:test:{uuid.uuid4().hex}:"
    (tmp_path / "site_app.py").write_text(SITE, encoding="utf-8")
    database = tmp_path / "shared.db"
    setup = make_app(database)
    add_user(setup)
    anyio.run(database_of(setup).disconnect)
    env = {
        **os.environ,
        "CARBOY_SECRET_KEY": "two-processes-" + "s" * 40,
        "CARBOY_DATABASE_URL": f"sqlite:///{database}",
        "CARBOY_RATELIMIT_URL": url,
        # This test's own keys: another test run may count on the same Redis.
        "CARBOY_RATELIMIT_KEY_PREFIX": prefix,
        "CARBOY_MAIL_BACKEND": "memory",
        "CARBOY_DEBUG": "0",
    }
    delete_keys(url, prefix)
    servers: list[subprocess.Popen[bytes]] = []
    try:
        first, first_url = start_server(tmp_path, env, "first")
        servers.append(first)
        second, second_url = start_server(tmp_path, env, "second")
        servers.append(second)
        wait_until_serving(first, first_url, tmp_path / "first.log")
        wait_until_serving(second, second_url, tmp_path / "second.log")

        # Cookies go by host, not port: both servers see one session, signed
        # with the one key, and so accept its CSRF token.
        with httpx.Client(timeout=10.0) as browser:
            token = csrf_of(browser.get(f"{first_url}/auth/login").text)
            answers = []
            for attempt in range(6):
                base_url = (first_url, second_url)[attempt % 2]
                response = browser.post(
                    f"{base_url}/auth/login",
                    data={"email": EMAIL, "password": "wrong", "csrf_token": token},
                )
                answers.append((base_url, response.status_code))
    finally:
        for server in servers:
            stop(server)
        delete_keys(url, prefix)

    # Each process saw three attempts: only a shared count reaches the limit of five.
    assert answers == [
        (first_url, 422),
        (second_url, 422),
        (first_url, 422),
        (second_url, 422),
        (first_url, 422),
        (second_url, 429),
    ]
    assert 0 < int(response.headers["retry-after"]) <= 60
    assert "<h1>Too many attempts</h1>" in response.text


def test_auth_takes_its_pages_rates_and_where_sign_in_goes(tmp_path: Path) -> None:
    app = make_app(
        tmp_path / "options.db",
        throttles=Throttles(login_per_account="2/minute"),
        login_redirect="/dashboard",
    )
    add_user(app)
    with TestClient(app) as client:
        token = csrf_of(client.get("/auth/login").text)
        data = {"email": EMAIL, "password": PASSWORD, "csrf_token": token}
        signed_in = client.post("/auth/login", data=data, follow_redirects=False)
        client.cookies.clear()
        token = csrf_of(client.get("/auth/login").text)
        wrong = {"email": EMAIL, "password": "wrong", "csrf_token": token}
        statuses = [client.post("/auth/login", data=wrong).status_code for _ in range(3)]

    anyio.run(database_of(app).disconnect)
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/dashboard")
    assert statuses == [422, 422, 429]
