from __future__ import annotations

from typing import Any

from carboy import Carboy, HTMLResponse, Request
from carboy.config import Settings
from carboy.csrf import csrf_exempt, csrf_token
from carboy.testing import TestClient

KEY = "s" * 50


def csrf_app(**settings: Any) -> Carboy:
    app = Carboy(
        settings=Settings(secret_key=KEY, allowed_hosts=["example.com", "testserver"], **settings)
    )

    @app.get("/form")
    async def form(request: Request) -> dict[str, str]:
        return {"token": csrf_token(request)}

    @app.post("/submit")
    async def submit(request: Request) -> dict[str, Any]:
        form = await request.form()
        return {"ok": True, "name": form.get("name")}

    @app.post("/api")
    async def api(request: Request) -> dict[str, Any]:
        return {"ok": True, "body": await request.json()}

    @app.post("/webhook")
    @csrf_exempt
    async def webhook() -> dict[str, bool]:
        return {"ok": True}

    return app


def logged_in_client(app: Carboy, **options: Any) -> tuple[TestClient, str]:
    client = TestClient(app, **options)
    token = client.get("/form").json()["token"]
    return client, token


def problem_detail(response: Any) -> str:
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    return str(response.json()["detail"])


def test_a_form_post_with_the_sessions_token_passes() -> None:
    client, token = logged_in_client(csrf_app())

    response = client.post("/submit", data={"csrf_token": token, "name": "Ada"})

    assert response.status_code == 200
    assert response.json() == {"ok": True, "name": "Ada"}


def test_the_token_in_a_header_passes_for_json() -> None:
    client, token = logged_in_client(csrf_app())

    response = client.post("/api", json={"x": 1}, headers={"x-csrf-token": token})

    assert response.json() == {"ok": True, "body": {"x": 1}}


def test_each_token_differs_but_all_belong_to_the_session() -> None:
    client, first = logged_in_client(csrf_app())
    second = client.get("/form").json()["token"]

    assert first != second
    assert client.post("/submit", data={"csrf_token": first}).status_code == 200
    assert client.post("/submit", data={"csrf_token": second}).status_code == 200


def test_a_post_without_a_token_is_refused() -> None:
    client, _ = logged_in_client(csrf_app())

    response = client.post("/submit", data={"name": "Ada"})

    assert problem_detail(response) == (
        "CSRF token missing: send the token of csrf_token() in the 'csrf_token' form field "
        "or the X-CSRF-Token header."
    )


def test_a_wrong_token_is_refused() -> None:
    client, token = logged_in_client(csrf_app())
    wrong = token[:-4] + ("0000" if not token.endswith("0000") else "1111")

    for bad in (wrong, "not-hex", "ab" * 10):
        response = client.post("/submit", data={"csrf_token": bad})
        assert problem_detail(response) == (
            "CSRF token incorrect: it does not belong to this session. Reload the page and "
            "submit the form again."
        )


def test_another_sessions_token_is_refused() -> None:
    app = csrf_app()
    _, attacker_token = logged_in_client(app)
    victim, _ = logged_in_client(app)

    response = victim.post("/submit", data={"csrf_token": attacker_token})

    assert response.status_code == 403
    assert "does not belong to this session" in problem_detail(response)


def test_a_cross_origin_post_is_refused_even_with_a_token() -> None:
    client, token = logged_in_client(csrf_app())

    response = client.post(
        "/submit", data={"csrf_token": token}, headers={"origin": "https://evil.example"}
    )

    assert problem_detail(response) == (
        "Cross-site request refused: the Origin header names another site. Add it to "
        "csrf_trusted_origins if it is yours."
    )


def test_https_posts_need_a_same_site_referer_or_origin() -> None:
    client, token = logged_in_client(csrf_app(), base_url="https://example.com")

    missing = client.post("/submit", data={"csrf_token": token})
    foreign = client.post(
        "/submit", data={"csrf_token": token}, headers={"referer": "https://evil.example/x"}
    )
    same = client.post(
        "/submit", data={"csrf_token": token}, headers={"referer": "https://example.com/form"}
    )

    assert problem_detail(missing) == (
        "Request refused: an HTTPS form post must carry a Referer or Origin header, and this "
        "one has neither."
    )
    assert "Referer header names another site" in problem_detail(foreign)
    assert same.status_code == 200


def test_trusted_origins_are_accepted() -> None:
    app = csrf_app(csrf_trusted_origins=["https://app.example.com"])
    client, token = logged_in_client(app)

    response = client.post(
        "/submit", data={"csrf_token": token}, headers={"origin": "https://app.example.com"}
    )

    assert response.status_code == 200


def test_requests_without_cookies_or_with_authorization_are_exempt() -> None:
    app = csrf_app()

    no_cookies = TestClient(app).post("/api", json={"x": 1})
    client, _ = logged_in_client(app)
    bearer = client.post("/api", json={"x": 2}, headers={"authorization": "Bearer t"})

    assert no_cookies.status_code == 200
    assert bearer.status_code == 200


def test_a_handler_can_opt_out() -> None:
    client, _ = logged_in_client(csrf_app())

    assert client.post("/webhook").json() == {"ok": True}


def test_the_check_can_be_turned_off() -> None:
    client, _ = logged_in_client(csrf_app(csrf_enabled=False))

    assert client.post("/submit", data={"name": "x"}).status_code == 200


def test_a_browser_gets_a_page_that_says_why() -> None:
    client, _ = logged_in_client(csrf_app())

    response = client.post("/submit", data={"name": "x"}, headers={"accept": "text/html"})

    assert response.status_code == 403
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>403 Forbidden</h1>" in response.text
    assert "CSRF token missing" in response.text


def test_an_oversized_form_is_413_before_any_token_check() -> None:
    app = csrf_app()
    app.limits.max_body_size = 1000
    client, token = logged_in_client(app)

    response = client.post("/submit", data={"csrf_token": token, "name": "x" * 2000})

    assert response.status_code == 413
    assert response.json()["detail"] == "The request body is larger than the limit of 1000 bytes."


def test_a_rendered_form_carries_a_token_that_passes_the_check() -> None:
    import re

    from pydantic import Field

    from carboy.forms import Form

    class Note(Form):
        text: str = Field(min_length=1)

    app = csrf_app()

    @app.get("/note")
    async def note_form(request: Request) -> HTMLResponse:
        return HTMLResponse(f"<form method=post>{Note.blank(request).render()}</form>")

    @app.post("/note")
    async def post_note(request: Request) -> dict[str, str]:
        form = await Note.from_request(request)
        return {"text": form.data.text}

    client = TestClient(app)
    page = client.get("/note").text
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found is not None

    accepted = client.post("/note", data={"csrf_token": found.group(1), "text": "hi"})
    refused = client.post("/note", data={"text": "hi"})

    assert accepted.json() == {"text": "hi"}
    assert refused.status_code == 403


def test_an_origin_of_null_is_refused_even_with_a_token() -> None:
    client, token = logged_in_client(csrf_app())

    response = client.post(
        "/submit", data={"csrf_token": token, "name": "Ada"}, headers={"origin": "null"}
    )

    assert problem_detail(response) == (
        "Cross-site request refused: the Origin header is null, which a sandboxed or "
        "data: page sends. Submit the form from the site's own page."
    )


def test_an_origin_of_null_without_cookies_is_not_a_csrf_matter() -> None:
    client = TestClient(csrf_app())

    response = client.post("/submit", data={"name": "Ada"}, headers={"origin": "null"})

    assert response.status_code == 200
    assert response.json() == {"ok": True, "name": "Ada"}


def test_a_response_that_carries_a_token_is_not_stored_by_caches() -> None:
    app = csrf_app()

    @app.get("/own-policy")
    async def own_policy(request: Request) -> HTMLResponse:
        return HTMLResponse(csrf_token(request), headers={"cache-control": "private, max-age=60"})

    @app.get("/public")
    async def public() -> dict[str, bool]:
        return {"ok": True}

    client = TestClient(app)

    assert client.get("/form").headers["cache-control"] == "no-store"
    assert client.get("/own-policy").headers["cache-control"] == "private, max-age=60"
    assert "cache-control" not in client.get("/public").headers
