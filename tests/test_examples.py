from __future__ import annotations

import re

from carboy.testing import TestClient
from examples.guestbook.app import Entry
from examples.guestbook.app import create_app as create_guestbook
from examples.hello import app


def test_the_demo_home_page_links_to_its_routes() -> None:
    with TestClient(app) as client:
        response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<a href='http://testserver/hello/world'>" in response.text
    assert "<a href='http://testserver/api/status'>" in response.text


def test_the_demo_api_answers() -> None:
    with TestClient(app) as client:
        hello = client.get("/hello/carboy")
        item = client.get("/api/items/12")
        missing = client.get("/api/items/twelve")
        with client.websocket_connect("/ws/echo") as websocket:
            websocket.send_text("ping")
            echoed = websocket.receive_text()

    assert hello.json() == {"message": "Hello, carboy!"}
    assert item.json() == {"id": 12, "square": 144}
    assert missing.status_code == 404
    assert echoed == "ping"


# The guestbook (examples/guestbook) --------------------------------------

CSRF_INPUT = re.compile(r'<input type="hidden" name="csrf_token" value="([0-9a-f]{128})">')
VALID_ENTRY = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "message": "Lovely engine, lovely notes.",
    "accept_rules": "on",
}
XSS_NAME = "<script>alert('name')</script>"
XSS_MESSAGE = '<img src=x onerror="alert(1)">'


def csrf_token_of(client: TestClient) -> str:
    """Open the form, as a browser would before posting it, and return its CSRF token."""
    response = client.get("/sign")
    match = CSRF_INPUT.search(response.text)
    assert match is not None, response.text
    return match.group(1)


def test_the_guestbook_form_has_the_csrf_input_and_every_field() -> None:
    with TestClient(create_guestbook()) as client:
        response = client.get("/sign")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert CSRF_INPUT.search(response.text) is not None
    assert (
        '<input type="text" name="name" id="id_name" required minlength="2" maxlength="40">'
        in response.text
    )
    assert '<input type="email" name="email" id="id_email"' in response.text
    assert '<textarea name="message" id="id_message"' in response.text
    assert '<input type="checkbox" name="accept_rules" id="id_accept_rules">' in response.text
    assert "<script" not in response.text


def test_a_guestbook_post_with_the_session_cookie_and_no_token_is_refused_with_403() -> None:
    app = create_guestbook()
    with TestClient(app) as client:
        client.get("/sign")
        response = client.post("/sign", data=VALID_ENTRY)

    assert response.status_code == 403
    assert response.json()["detail"] == (
        "CSRF token missing: send the token of csrf_token() in the 'csrf_token' form field "
        "or the X-CSRF-Token header."
    )
    assert app.state.entries == []


def test_a_valid_guestbook_post_redirects_with_303_and_flashes_the_thanks_once() -> None:
    app = create_guestbook()
    with TestClient(app) as client:
        token = csrf_token_of(client)
        posted = client.post("/sign", data={**VALID_ENTRY, "csrf_token": token})
        listed = client.get("/")
        listed_again = client.get("/")

    assert posted.status_code == 303
    assert posted.headers["location"] == "/"
    assert app.state.entries == [Entry("Ada Lovelace", "Lovely engine, lovely notes.")]
    flash = (
        '<p class="flash flash-success" role="status">'
        "Thanks, Ada Lovelace! Your message is in the guestbook.</p>"
    )
    assert listed.status_code == 200
    assert flash in listed.text
    assert '<p class="entry-name">Ada Lovelace</p>' in listed.text
    assert flash not in listed_again.text
    assert 'class="flash' not in listed_again.text
    assert '<p class="entry-name">Ada Lovelace</p>' in listed_again.text


def test_an_invalid_guestbook_post_is_answered_422_with_the_errors_and_the_typed_values() -> None:
    app = create_guestbook()
    with TestClient(app) as client:
        token = csrf_token_of(client)
        response = client.post(
            "/sign",
            data={"csrf_token": token, "name": "A", "email": "ada-at-example", "message": "Hi!"},
        )

    assert response.status_code == 422
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert (
        '<input type="text" name="name" id="id_name" required minlength="2" maxlength="40" '
        'aria-invalid="true" aria-describedby="id_name-error" value="A">'
        '<p class="field-error" id="id_name-error">Enter at least 2 characters.</p>'
    ) in response.text
    assert 'value="ada-at-example"><p class="field-help" id="id_email-help">' in response.text
    assert (
        '<p class="field-error" id="id_email-error">'
        "Enter a valid email address, such as ada@example.com.</p>"
    ) in response.text
    assert (
        'rows="5">\nHi!</textarea>'
        '<p class="field-error" id="id_message-error">Enter at least 5 characters.</p>'
    ) in response.text
    assert (
        '<p class="field-error" id="id_accept_rules-error">'
        "Accept the house rules to sign the guestbook.</p>"
    ) in response.text
    assert CSRF_INPUT.search(response.text) is not None
    assert app.state.entries == []


def test_markup_typed_into_the_guestbook_is_escaped_in_the_form_the_flash_and_the_list() -> None:
    app = create_guestbook()
    with TestClient(app) as client:
        token = csrf_token_of(client)
        typed = {**VALID_ENTRY, "name": XSS_NAME, "message": XSS_MESSAGE, "csrf_token": token}
        # The rules left unchecked: the form comes back with both values in it.
        unchecked = {key: value for key, value in typed.items() if key != "accept_rules"}
        refused = client.post("/sign", data=unchecked)
        accepted = client.post("/sign", data=typed)
        listed = client.get("/")

    escaped_name = "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;"
    escaped_message = "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"
    assert refused.status_code == 422
    assert f'value="{escaped_name}"' in refused.text
    assert f'rows="5">\n{escaped_message}</textarea>' in refused.text
    assert accepted.status_code == 303
    assert f"Thanks, {escaped_name}! Your message is in the guestbook." in listed.text
    assert f'<p class="entry-name">{escaped_name}</p>' in listed.text
    assert f'<p class="entry-message">{escaped_message}</p>' in listed.text
    for response in (refused, listed):
        assert "<script>" not in response.text
        assert "<img" not in response.text
