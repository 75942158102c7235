"""The guestbook example in headless Chromium: errors beside the fields, then the thanks.

Screenshots go to the folder named by ``CARBOY_SCREENSHOTS`` when it is set
(a CI job keeps that folder as an artifact), else to the test's ``tmp_path``,
so that a run leaves nothing in the working tree.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Locator, Page, expect

from examples.guestbook.app import create_app
from tests.browser.conftest import Serve, Traffic

RULES = "I accept the house rules: be kind, no advertising"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def field(page: Page, label: str) -> Locator:
    return page.get_by_label(label, exact=True)


def described_errors(page: Page, label: str) -> list[str]:
    """Return the error texts that the field's ``aria-describedby`` names, in order."""
    targets = (field(page, label).get_attribute("aria-describedby") or "").split()
    return [
        page.locator(f"#{target}").inner_text()
        for target in targets
        if page.locator(f"#{target}.field-error").count() == 1
    ]


def wrapper_errors(page: Page, label: str) -> list[str]:
    """Return the ``.field-error`` texts inside the ``.field`` that holds the field."""
    return (
        page.locator(".field")
        .filter(has=field(page, label))
        .locator(".field-error")
        .all_inner_texts()
    )


def requests_made(traffic: Traffic) -> list[tuple[str, str, int | None]]:
    """Return (method, path, status) of every request, in order; ``None`` for no answer."""
    statuses = {id(response.request): response.status for response in traffic.responses}
    return [
        (request.method, urlsplit(request.url).path, statuses.get(id(request)))
        for request in traffic.requests
    ]


def test_a_visitor_sees_errors_beside_the_fields_corrects_them_and_is_thanked(
    serve: Serve, page: Page, traffic: Traffic, screenshots: Path
) -> None:
    base_url = serve(create_app())
    errors_png = screenshots / "guestbook-1-errors.png"
    signed_png = screenshots / "guestbook-2-signed.png"

    page.goto(f"{base_url}/sign")
    field(page, "Your name").fill("A")
    field(page, "Email").fill("ada-at-example")
    field(page, "Message").fill("Hi!")
    with page.expect_response(lambda response: response.request.method == "POST") as first:
        page.get_by_role("button", name="Sign").click()
    expect(page.get_by_role("alert")).to_have_text(
        "The entry was not saved: correct the fields marked below."
    )
    page.screenshot(path=errors_png, full_page=True)

    assert first.value.status == 422
    expected_errors = {
        "Your name": ["Enter at least 2 characters."],
        "Email": ["Enter a valid email address, such as ada@example.com."],
        "Message": ["Enter at least 5 characters."],
        RULES: ["Accept the house rules to sign the guestbook."],
    }
    for label, errors in expected_errors.items():
        assert described_errors(page, label) == errors, label
        assert wrapper_errors(page, label) == errors, label
        expect(field(page, label)).to_have_attribute("aria-invalid", "true")
    expect(field(page, "Your name")).to_have_value("A")
    expect(field(page, "Email")).to_have_value("ada-at-example")
    expect(field(page, "Message")).to_have_value("Hi!")
    expect(field(page, RULES)).not_to_be_checked()

    field(page, "Your name").fill("Ada Lovelace")
    field(page, "Email").fill("ada@example.com")
    field(page, "Message").fill("Lovely engine, lovely notes.")
    field(page, RULES).check()
    page.get_by_role("button", name="Sign").click()
    page.wait_for_url(f"{base_url}/")
    expect(page.get_by_role("status")).to_have_text(
        "Thanks, Ada Lovelace! Your message is in the guestbook."
    )
    page.screenshot(path=signed_png, full_page=True)

    expect(page.locator(".entry-name")).to_have_text(["Ada Lovelace"])
    expect(page.locator(".entry-message")).to_have_text(["Lovely engine, lovely notes."])
    # A flash is shown once, and reloading the list after the 303 posts nothing again.
    page.reload()
    expect(page.locator(".entry")).to_have_count(1)
    expect(page.get_by_role("status")).to_have_count(0)
    assert page.locator("script").count() == 0
    for screenshot in (errors_png, signed_png):
        assert screenshot.read_bytes().startswith(PNG_SIGNATURE), screenshot
        assert screenshot.stat().st_size > 1000, screenshot
    assert [url for url in traffic.network_urls if not url.startswith(f"{base_url}/")] == []
    assert requests_made(traffic) == [
        ("GET", "/sign", 200),
        ("POST", "/sign", 422),
        ("POST", "/sign", 303),
        ("GET", "/", 200),
        ("GET", "/", 200),
    ]
    assert traffic.failed == []


def test_a_form_post_without_the_csrf_token_is_refused_with_403(
    serve: Serve, page: Page, traffic: Traffic
) -> None:
    app = create_app()
    base_url = serve(app)

    page.goto(f"{base_url}/sign")
    field(page, "Your name").fill("Mallory")
    field(page, "Email").fill("mallory@example.com")
    field(page, "Message").fill("Posted without a token.")
    field(page, RULES).check()
    page.locator("input[name=csrf_token]").evaluate("input => input.remove()")
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.get_by_role("button", name="Sign").click()

    # A browser asks for HTML, so the refusal comes as a page rather than problem+json.
    expect(page.get_by_role("heading")).to_have_text("403 Forbidden")

    assert posted.value.status == 403
    assert posted.value.headers["content-type"] == "text/html; charset=utf-8"
    expect(page.locator("p")).to_have_text(
        "CSRF token missing: send the token of csrf_token() in the 'csrf_token' form field "
        "or the X-CSRF-Token header."
    )
    assert app.state.entries == []
    assert [url for url in traffic.network_urls if not url.startswith(f"{base_url}/")] == []
    assert requests_made(traffic) == [("GET", "/sign", 200), ("POST", "/sign", 403)]
    assert traffic.failed == []
