"""The sign-in pages in headless Chromium: sign in, sign out, and reset a forgotten password.

The app runs in this process under a live server, so the test reads the
reset e-mail from its memory outbox; the server's shutdown closes its
database. Screenshots go where the guestbook's go: ``$CARBOY_SCREENSHOTS``,
else the test's ``tmp_path``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect

from carboy.auth.pages import LOGIN_FAILED
from tests.auth._pages_app import (
    EMAIL,
    NEW_PASSWORD,
    PASSWORD,
    add_user,
    cheap_hashing,
    link_in,
    make_app,
    outbox,
)
from tests.browser.conftest import Serve, Traffic

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


def field(page: Page, label: str) -> Locator:
    return page.get_by_label(label, exact=True)


def signed_in_as(page: Page, base_url: str) -> str | None:
    """Open the home page, which says in JSON who is signed in."""
    page.goto(f"{base_url}/")
    user: str | None = json.loads(page.locator("body").inner_text())["user"]
    return user


def test_a_user_signs_in_signs_out_and_resets_a_forgotten_password(
    serve: Serve, page: Page, traffic: Traffic, screenshots: Path, tmp_path: Path
) -> None:
    app = make_app(tmp_path / "browser.db")
    add_user(app)
    base_url = serve(app)
    shots = {
        name: screenshots / f"auth-{number}-{name}.png"
        for number, name in enumerate(
            ["login-error", "signed-out", "reset-sent", "new-password", "password-set"], 1
        )
    }

    # A page for signed-in users sends the browser to sign in, then back.
    page.goto(f"{base_url}/private")
    assert urlsplit(page.url).path == "/auth/login"
    assert urlsplit(page.url).query == "next=/private"
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    field(page, "Email").fill(EMAIL)
    field(page, "Password").fill("not my password")
    with page.expect_response(lambda response: response.request.method == "POST") as failed:
        page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text(LOGIN_FAILED)
    page.screenshot(path=shots["login-error"], full_page=True)
    assert failed.value.status == 422
    expect(field(page, "Email")).to_have_value(EMAIL)
    expect(field(page, "Password")).to_have_value("")

    field(page, "Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/private")
    assert json.loads(page.locator("body").inner_text()) == {"email": EMAIL}

    # Signing out asks first.
    page.goto(f"{base_url}/auth/logout")
    expect(page.get_by_text(f"You are signed in as {EMAIL}.")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base_url}/auth/login")
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.screenshot(path=shots["signed-out"], full_page=True)
    assert signed_in_as(page, base_url) is None

    # A forgotten password: the link from the e-mail sets a new one.
    page.goto(f"{base_url}/auth/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_url(f"{base_url}/auth/password/reset")
    field(page, "Email").fill(EMAIL)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    expect(page.get_by_role("status")).to_have_text(
        f"If an account uses {EMAIL}, an email with a link to choose a new password is on its "
        "way. The link works once, for 24 hours."
    )
    page.screenshot(path=shots["reset-sent"], full_page=True)
    (message,) = outbox(app)
    link = link_in(message)
    assert link.startswith(f"{base_url}/auth/password/reset/")

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    field(page, "New password").fill("short")
    field(page, "New password, again").fill("shorter")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("alert")).to_have_text(
        "The password was not set: correct the fields marked below."
    )
    expect(field(page, "New password")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_new_password-error")).to_have_text(
        "This password is too short: it must have at least 8 characters."
    )
    expect(page.locator("#id_new_password_again-error")).to_have_text(
        "The two passwords differ. Type the same password in both fields."
    )
    page.screenshot(path=shots["new-password"], full_page=True)
    field(page, "New password").fill(NEW_PASSWORD)
    field(page, "New password, again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url(f"{base_url}/auth/login")
    expect(page.get_by_role("status")).to_have_text("Your new password is set. Sign in with it.")
    page.screenshot(path=shots["password-set"], full_page=True)

    # The link worked once.
    response = page.goto(link)
    assert response is not None
    assert response.status == 400
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")

    page.goto(f"{base_url}/auth/login")
    field(page, "Email").fill(EMAIL)
    field(page, "Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/")
    assert signed_in_as(page, base_url) == EMAIL

    for path in shots.values():
        assert path.read_bytes().startswith(PNG_SIGNATURE), path
        assert path.stat().st_size > 1000, path
    assert [url for url in traffic.network_urls if not url.startswith(f"{base_url}/")] == []
    assert traffic.failed == []
    assert all(response.status < 500 for response in traffic.responses)
    assert page.locator("script").count() == 0
