"""Carboy's own pages under their strict Content-Security-Policy, in headless Chromium.

The sign-in page, the admin (signed in, with its search-box script), the docs
page (Swagger UI rendering and running an operation), the HTML error page and
the debug page load with no violation of the policy: a listener of the
document's ``securitypolicyviolation`` events reports each one to the test,
and so does every console message about the policy. Each page also shows that what
the policy allows works: the nonce'd style applies, the nonce'd scripts run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect
from sqlalchemy import Table

from carboy import Carboy
from carboy.admin import Admin
from carboy.admin.users import GroupAdmin, UserAdmin
from carboy.auth import Auth, Group, User
from carboy.config import Settings
from carboy.db import Database, Model
from tests.auth._pages_app import cheap_hashing, password_hash
from tests.browser.conftest import Serve

KEY = "csp-browser-tests-secret-key-" + "c" * 40
ROOT = "root@example.com"
PASSWORD = "correct horse battery staple"
# Each violation as the page's listener sends it: the directive, the blocked
# URL (or "inline", "eval") and where in which file.
LISTEN = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportViolation([
    event.effectiveDirective, event.blockedURI, event.sourceFile, event.lineNumber,
  ]);
}, true);
"""


class UserSearchAdmin(UserAdmin):
    """The users' options, with a search box for the groups: the admin's script runs."""

    autocomplete_fields = ("groups",)


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


def carboy_pages_app(database: Path, **settings: Any) -> Carboy:
    """Return an app with the admin, the sign-in pages, the docs page and a failing route."""
    db = Database(f"sqlite:///{database}")
    admin = Admin()
    admin.register(User, UserSearchAdmin)
    admin.register(Group, GroupAdmin)
    app = Carboy(
        extensions=[db, Auth(prefix="/auth"), admin],
        settings=Settings(secret_key=KEY, template_dirs=[], **settings),
    )
    tables: list[Table] = [
        table
        for name, table in Model.metadata.tables.items()
        if name.startswith("auth_") or name == "admin_log_entry"
    ]
    Model.metadata.create_all(db.engine, tables=tables)
    with db.session() as session:
        root = User(email=ROOT, password=password_hash(PASSWORD), is_staff=True, is_superuser=True)
        session.add_all([root, Group(name="Editors")])
        session.commit()

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("boom")

    return app


@pytest.fixture
def violations(page: Page) -> list[list[Any]]:
    """Record the policy's violations on the test's page, and its console messages about it."""
    found: list[list[Any]] = []

    def report(_source: Any, violation: list[Any]) -> None:
        found.append(violation)

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            found.append(["console", message.text])

    page.context.expose_binding("reportViolation", report)
    page.context.add_init_script(LISTEN)
    page.on("console", on_console)
    return found


def background(page: Page, selector: str) -> str:
    return str(page.locator(selector).first.evaluate("e => getComputedStyle(e).backgroundColor"))


def test_carboys_pages_load_with_no_violation_of_their_policy(
    serve: Serve, page: Page, violations: list[list[Any]], tmp_path: Path
) -> None:
    base_url = serve(carboy_pages_app(tmp_path / "csp.db"))
    debug_url = serve(carboy_pages_app(tmp_path / "debug.db", debug=True))
    seen: dict[str, list[list[Any]]] = {}

    def loaded(name: str) -> None:
        page.wait_for_load_state("networkidle")
        seen[name] = list(violations)
        violations.clear()

    # The sign-in page: its style element carries the nonce, so it applies.
    page.goto(f"{base_url}/auth/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert background(page, "body") == "rgb(244, 245, 247)"
    loaded("sign-in")

    # The admin, signed in: the add form's search box is made by the nonce'd script.
    page.goto(f"{base_url}/admin/")
    assert urlsplit(page.url).path == "/admin/login"
    page.get_by_label("Email", exact=True).fill(ROOT)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/admin/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    loaded("admin-dashboard")
    page.goto(f"{base_url}/admin/auth_user/add/")
    search = page.get_by_role("combobox")
    search.fill("Edi")
    expect(page.get_by_role("option")).to_have_text(["Editors"])
    loaded("admin-add-form")

    # The docs page: Swagger UI renders the operations and runs one.
    page.goto(f"{base_url}/docs")
    path = page.locator(".opblock-summary-path[data-path='/items/{item_id}']")
    operation = page.locator(".opblock").filter(has=path)
    path.click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator("input[placeholder='item_id']").fill("7")
    operation.get_by_role("button", name="Execute").click()
    answer = operation.locator(".live-responses-table .response")
    expect(answer.locator(".response-col_status")).to_have_text("200")
    expect(answer.locator(".microlight").first).to_contain_text('"item_id": 7')
    loaded("docs")

    # The error page, and the debug page with its nonce'd style.
    response = page.goto(f"{base_url}/missing")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("404 Not Found")
    loaded("error-page")
    response = page.goto(f"{debug_url}/broken")
    assert response is not None and response.status == 500
    expect(page.get_by_role("heading", level=1)).to_have_text("RuntimeError")
    assert background(page, "header") == "rgb(253, 236, 234)"
    loaded("debug-page")

    assert seen == {
        "sign-in": [],
        "admin-dashboard": [],
        "admin-add-form": [],
        "docs": [],
        "error-page": [],
        "debug-page": [],
    }


def test_a_script_without_the_nonce_is_refused_and_reported(
    serve: Serve, page: Page, violations: list[list[Any]], tmp_path: Path
) -> None:
    base_url = serve(carboy_pages_app(tmp_path / "csp.db"))
    page.goto(f"{base_url}/missing")

    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.injected = true";
          document.body.append(script);
        }"""
    )
    page.wait_for_function("() => document.readyState === 'complete'")
    expect(page.locator("h1")).to_have_text("404 Not Found")

    assert page.evaluate("() => window.injected === undefined") is True
    page.wait_for_timeout(200)  # the violation event is dispatched asynchronously
    assert [entry[0] for entry in violations if entry[0] != "console"] == ["script-src-elem"]
    assert len([entry for entry in violations if entry[0] == "console"]) == 1
