"""Security headers and the Host check, on by default."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from httpx import Response
from sqlalchemy import Table

from carboy import Carboy, HTMLResponse, Request
from carboy.admin import Admin
from carboy.admin.users import UserAdmin
from carboy.auth import Auth, User
from carboy.config import Settings
from carboy.db import Database, Model
from carboy.middleware.security import csp_nonce
from carboy.staticfiles import StaticFiles
from carboy.templating import render
from carboy.testing import TestClient
from tests.auth._pages_app import cheap_hashing, csrf_of, password_hash

DEFAULT_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": (
        "camera=(), display-capture=(), geolocation=(), microphone=(), payment=(), usb=()"
    ),
    "x-permitted-cross-domain-policies": "none",
    "content-security-policy": "frame-ancestors 'none'",
}
# What every response gets, a document or not.
ALWAYS = {"x-content-type-options": "nosniff", "cross-origin-resource-policy": "same-origin"}


def site(**settings: object) -> Carboy:
    app = Carboy(settings=Settings(**settings))  # type: ignore[arg-type]

    @app.get("/", response_class=HTMLResponse)
    async def home() -> str:
        return "<h1>home</h1>"

    @app.get("/framed")
    async def framed() -> HTMLResponse:
        response = HTMLResponse("<p>embeddable</p>")
        response.headers["x-frame-options"] = "SAMEORIGIN"
        return response

    @app.get("/nonce", response_class=HTMLResponse)
    async def nonce(request: Request) -> str:
        return f'<script nonce="{csp_nonce(request)}"></script>'

    return app


# The policy of carboy's own pages: the builtin_pages_content_security_policy setting.
STRICT_POLICY = (
    "default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
    "img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# The docs page's: Swagger UI's stylesheet draws its icons from data: URLs.
DOCS_POLICY = STRICT_POLICY.replace("img-src 'self';", "img-src 'self' data:;")
# secrets.token_urlsafe(16): 22 characters of URL-safe base64.
NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]{22})'")
# The opening tags of script and style elements, and the style attributes of any tag.
INLINE_TAGS = re.compile(r"<(script|style)\b([^>]*)>")
NONCE_ATTRIBUTE = re.compile(r'\snonce="([^"]*)"')
STYLE_ATTRIBUTES = re.compile(r"<[a-z][^>]*\sstyle=")
HTML = {"accept": "text/html"}


def security_headers(response: object) -> dict[str, str]:
    names = [*DEFAULT_HEADERS, "strict-transport-security"]
    return {name: value for name, value in response.headers.items() if name in names}  # type: ignore[attr-defined]


def strict_headers(response: Response) -> dict[str, str]:
    """Return the security headers a page of carboy's own should carry, with its nonce."""
    policy = DOCS_POLICY if response.url.path == "/docs" else STRICT_POLICY
    return {
        **DEFAULT_HEADERS,
        "content-security-policy": policy.format(nonce=nonce_of(response)),
    }


def nonce_of(response: Response) -> str:
    """Return the nonce of the response's Content-Security-Policy."""
    match = NONCE.search(response.headers["content-security-policy"])
    if match is None:
        raise AssertionError(f"No nonce in {response.headers['content-security-policy']!r}")
    return match.group(1)


def inline_elements(html: str) -> list[tuple[str, str | None]]:
    """Return each script and style element of a page as (tag name, its nonce or None)."""
    found = []
    for tag, attributes in INLINE_TAGS.findall(html):
        nonce = NONCE_ATTRIBUTE.search(attributes)
        found.append((tag, nonce.group(1) if nonce else None))
    return found


def test_every_page_carries_the_default_security_headers() -> None:
    client = TestClient(site())

    page = client.get("/")
    missing_page = client.get("/missing", headers={"accept": "text/html"})

    assert security_headers(page) == DEFAULT_HEADERS
    # The error page is carboy's own, under its strict policy.
    assert security_headers(missing_page) == strict_headers(missing_page)


def test_a_response_that_is_no_document_gets_nosniff_only() -> None:
    client = TestClient(site())

    problem = client.get("/missing")

    assert problem.headers["content-type"] == "application/problem+json"
    assert security_headers(problem) == ALWAYS


def test_https_responses_add_hsts() -> None:
    client = TestClient(site(), base_url="https://testserver")

    assert security_headers(client.get("/")) == {
        **DEFAULT_HEADERS,
        "strict-transport-security": "max-age=31536000; includeSubDomains",
    }


def test_a_header_the_response_sets_itself_is_kept() -> None:
    response = TestClient(site()).get("/framed")

    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]


def test_each_header_is_configurable() -> None:
    client = TestClient(
        site(
            x_frame_options=None,
            referrer_policy="no-referrer",
            content_type_nosniff=False,
            cross_origin_opener_policy=None,
            cross_origin_resource_policy="cross-origin",
            permissions_policy="geolocation=(self)",
            x_permitted_cross_domain_policies=None,
            frame_ancestors="'self'",
            hsts_seconds=0,
        ),
        base_url="https://testserver",
    )

    assert security_headers(client.get("/")) == {
        "referrer-policy": "no-referrer",
        "cross-origin-resource-policy": "cross-origin",
        "permissions-policy": "geolocation=(self)",
        "content-security-policy": "frame-ancestors 'self'",
    }


def test_a_full_csp_gets_a_fresh_nonce_per_request_shared_with_the_page() -> None:
    client = TestClient(
        site(content_security_policy="default-src 'self'; script-src 'nonce-{nonce}'")
    )

    first = client.get("/nonce")
    second = client.get("/nonce")

    policy = first.headers["content-security-policy"]
    nonce = policy.split("'nonce-")[1].rstrip("'")
    assert first.text == f'<script nonce="{nonce}"></script>'
    assert second.headers["content-security-policy"] != policy


def test_mounted_apps_get_the_headers_too(tmp_path: object) -> None:
    import pathlib

    folder = pathlib.Path(str(tmp_path))
    (folder / "a.txt").write_text("static")
    (folder / "page.html").write_text("<p>static page</p>")
    app = site()
    app.mount("/static", StaticFiles(directory=folder))
    client = TestClient(app)

    text = client.get("/static/a.txt")
    page = client.get("/static/page.html")

    assert text.text == "static"
    assert security_headers(text) == ALWAYS
    assert security_headers(page) == DEFAULT_HEADERS


def test_the_500_page_carries_the_security_headers_too() -> None:
    app = site(hsts_seconds=3600)

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("boom")

    client = TestClient(app, raise_server_exceptions=False, base_url="https://testserver")
    page = client.get("/broken", headers={"accept": "text/html"})
    problem = client.get("/broken", headers={"accept": "application/json"})

    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert security_headers(page) == {
        **strict_headers(page),
        "strict-transport-security": "max-age=3600; includeSubDomains",
    }
    assert problem.status_code == 500
    assert security_headers(problem) == {
        **ALWAYS,
        "strict-transport-security": "max-age=3600; includeSubDomains",
    }


def test_a_forged_host_is_refused_by_default() -> None:
    client = TestClient(site())

    for host in ("evil.example", "localhost.evil.example", "testserver@evil.example"):
        response = client.get("/", headers={"host": host})
        assert response.status_code == 400
        assert response.text == "Bad Request: the Host header is not one this site serves."
    assert client.get("/", headers={"host": "localhost:8000"}).status_code == 200
    assert client.get("/", headers={"host": "127.0.0.1"}).status_code == 200


def test_allowed_hosts_replace_the_localhost_defaults() -> None:
    client = TestClient(site(allowed_hosts=["example.com", ".example.org"]))

    assert client.get("/", headers={"host": "example.com"}).status_code == 200
    assert client.get("/", headers={"host": "www.example.org"}).status_code == 200
    assert client.get("/", headers={"host": "localhost"}).status_code == 400


def test_https_redirect_when_the_site_is_https() -> None:
    client = TestClient(site(https_redirect=True))

    response = client.get("/?x=1")

    assert response.status_code == 308
    assert response.headers["location"] == "https://testserver/?x=1"


# Carboy's own pages ---------------------------------------------------------

KEY = "security-tests-secret-key-" + "s" * 40
STAFF = "staff@example.com"
PASSWORD = "correct horse battery staple"


def carboy_pages_site(database: Path, **settings: object) -> Carboy:
    """Return an app with the admin, the sign-in pages, the docs page and a failing route."""
    db = Database(f"sqlite:///{database}")
    admin = Admin()
    admin.register(User, UserAdmin)
    app = Carboy(
        extensions=[db, Auth(prefix="/auth"), admin],
        settings=Settings(secret_key=KEY, template_dirs=[], **settings),  # type: ignore[arg-type]
    )
    tables: list[Table] = [
        table
        for name, table in Model.metadata.tables.items()
        if name.startswith("auth_") or name == "admin_log_entry"
    ]
    Model.metadata.create_all(db.engine, tables=tables)
    with db.session() as session:
        session.add(
            User(email=STAFF, password=password_hash(PASSWORD), is_staff=True, is_superuser=True)
        )
        session.commit()

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("boom")

    @app.get("/page", response_class=HTMLResponse)
    async def page(request: Request) -> str:
        return f'<script nonce="{csp_nonce(request)}"></script>'

    return app


@pytest.fixture
def carboy_pages(tmp_path: Path) -> Iterator[TestClient]:
    """A client of ``carboy_pages_site``, signed in to the admin as a superuser.

    Server errors are answered, not raised: ``/broken`` is there for its page.
    """
    app = carboy_pages_site(tmp_path / "pages.db")
    with cheap_hashing(), TestClient(app, raise_server_exceptions=False) as client:
        form = client.get("/admin/login", headers=HTML)
        signed_in = client.post(
            "/admin/login",
            data={"email": STAFF, "password": PASSWORD, "csrf_token": csrf_of(form.text)},
        )
        assert signed_in.status_code == 303
        yield client


CARBOY_PAGES = [
    pytest.param("/docs", 200, [("script", True), ("script", True)], id="docs"),
    pytest.param("/auth/login", 200, [("style", True)], id="sign-in"),
    pytest.param("/admin/", 200, [], id="admin-dashboard"),
    pytest.param("/admin/auth_user/", 200, [], id="admin-list"),
    pytest.param("/admin/auth_user/add/", 200, [("script", True)], id="admin-add-form"),
    pytest.param("/missing", 404, [], id="error-page"),
    pytest.param("/broken", 500, [], id="server-error-page"),
]


@pytest.mark.parametrize(("path", "status", "elements"), CARBOY_PAGES)
def test_carboy_pages_get_the_strict_policy_with_a_fresh_nonce_their_elements_carry(
    carboy_pages: TestClient, path: str, status: int, elements: list[tuple[str, bool]]
) -> None:
    first = carboy_pages.get(path, headers=HTML)
    second = carboy_pages.get(path, headers=HTML)

    assert (first.status_code, second.status_code) == (status, status)
    assert first.headers["content-type"] == "text/html; charset=utf-8"
    assert security_headers(first) == strict_headers(first)
    assert security_headers(second) == strict_headers(second)
    assert nonce_of(first) != nonce_of(second)
    nonce = nonce_of(first)
    assert [(tag, found == nonce) for tag, found in inline_elements(first.text)] == elements
    assert STYLE_ATTRIBUTES.findall(first.text) == []


def test_the_debug_page_gets_the_strict_policy_and_its_style_the_nonce(tmp_path: Path) -> None:
    app = carboy_pages_site(tmp_path / "pages.db", debug=True)
    client = TestClient(app, raise_server_exceptions=False)

    first = client.get("/broken", headers=HTML)
    second = client.get("/broken", headers=HTML)

    assert first.status_code == 500
    assert "<h1>RuntimeError</h1>" in first.text
    assert security_headers(first) == strict_headers(first)
    assert nonce_of(first) != nonce_of(second)
    assert inline_elements(first.text) == [("style", nonce_of(first))]
    assert STYLE_ATTRIBUTES.findall(first.text) == []


def test_json_and_problem_answers_carry_no_policy(carboy_pages: TestClient) -> None:
    document = carboy_pages.get("/openapi.json")
    problem = carboy_pages.get("/missing")

    assert document.headers["content-type"] == "application/json"
    assert security_headers(document) == ALWAYS
    assert problem.headers["content-type"] == "application/problem+json"
    assert security_headers(problem) == ALWAYS


def test_carboy_pages_keep_the_strict_policy_whatever_the_apps_is(tmp_path: Path) -> None:
    app = carboy_pages_site(
        tmp_path / "pages.db",
        content_security_policy="script-src 'self' 'unsafe-inline' https://cdn.example",
    )
    client = TestClient(app)

    own_page = client.get("/page")
    docs = client.get("/docs")
    sign_in = client.get("/auth/login")

    assert own_page.headers["content-security-policy"] == (
        "script-src 'self' 'unsafe-inline' https://cdn.example"
    )
    assert security_headers(docs) == strict_headers(docs)
    assert security_headers(sign_in) == strict_headers(sign_in)


def test_an_app_that_opted_in_shares_the_nonce_between_its_policy_and_its_pages(
    tmp_path: Path,
) -> None:
    app = carboy_pages_site(tmp_path / "pages.db", content_security_policy=STRICT_POLICY)
    client = TestClient(app)

    page = client.get("/page")

    assert security_headers(page) == strict_headers(page)
    assert page.text == f'<script nonce="{nonce_of(page)}"></script>'


def test_builtin_pages_policy_none_gives_carboy_pages_the_apps_policy(tmp_path: Path) -> None:
    app = carboy_pages_site(
        tmp_path / "pages.db",
        builtin_pages_content_security_policy=None,
        content_security_policy="default-src 'self'; script-src 'self' 'nonce-{nonce}'",
    )
    client = TestClient(app)

    docs = client.get("/docs")
    missing = client.get("/missing", headers=HTML)

    nonce = inline_elements(docs.text)[0][1]
    assert docs.headers["content-security-policy"] == (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'"
    )
    assert missing.headers["content-security-policy"].startswith("default-src 'self'; ")
    assert nonce_of(missing) != nonce


def test_builtin_pages_policy_can_be_changed(tmp_path: Path) -> None:
    policy = STRICT_POLICY + "; report-to csp"
    client = TestClient(
        carboy_pages_site(tmp_path / "pages.db", builtin_pages_content_security_policy=policy),
        base_url="https://testserver",
    )

    docs = client.get("/docs")

    assert security_headers(docs) == {
        **DEFAULT_HEADERS,
        "content-security-policy": DOCS_POLICY.format(nonce=nonce_of(docs)) + "; report-to csp",
        "strict-transport-security": "max-age=31536000; includeSubDomains",
    }


def test_a_template_under_carboy_is_a_carboy_page_unless_it_sets_its_own_policy(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "templates" / "carboy" / "extra"
    folder.mkdir(parents=True)
    (folder / "page.html").write_text('<script nonce="{{ csp_nonce() }}"></script>')
    (tmp_path / "templates" / "own.html").write_text("<p>own</p>")
    app = Carboy(settings=Settings(template_dirs=[str(tmp_path / "templates")]))

    @app.get("/extra")
    async def extra(request: Request) -> HTMLResponse:
        return render(request, "carboy/extra/page.html")

    @app.get("/own")
    async def own(request: Request) -> HTMLResponse:
        return render(request, "own.html")

    @app.get("/framed")
    async def framed(request: Request) -> HTMLResponse:
        headers = {"content-security-policy": "frame-ancestors 'self'"}
        return render(request, "carboy/extra/page.html", headers=headers)

    client = TestClient(app)

    extra_page = client.get("/extra")
    own_page = client.get("/own")
    framed_page = client.get("/framed")

    assert security_headers(extra_page) == strict_headers(extra_page)
    assert extra_page.text == f'<script nonce="{nonce_of(extra_page)}"></script>'
    assert security_headers(own_page) == DEFAULT_HEADERS
    assert framed_page.headers.get_list("content-security-policy") == ["frame-ancestors 'self'"]
