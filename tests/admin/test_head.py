"""HEAD on the admin's pages: the GET page without its body, never a submission.

CSRF is checked on unsafe methods only, and HEAD is safe (RFC 9110 9.2.1):
an admin page that acted on a HEAD carrying a form would let another site
add, change or delete rows with a staff member's cookies and no token.
Every page answers HEAD as it answers GET, and the rows stay as they were.
Adding, editing, signing in and out run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from carboy.admin.history import LogEntry
from carboy.admin.users import UserAdmin
from carboy.auth.user import User

from ._models import AdmAuthor
from .conftest import HTML, PASSWORD, ROOT, STAFF, MakeSite, Site, own_database

BOTH = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A SQLite file or a new PostgreSQL database of this test's own."""
    with own_database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def site(make_site: MakeSite) -> Site:
    """The superuser ROOT signed in to an admin of authors and users, with two authors."""
    site = make_site({AdmAuthor: None, User: UserAdmin})
    site.add(
        AdmAuthor(id=1, name="Ada Lovelace", email="ada@example.com"),
        AdmAuthor(id=2, name="Alan Turing", email="alan@example.com"),
    )
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    site.add_user(STAFF, is_staff=True)
    site.sign_in(ROOT)
    return site


def rows(site: Site) -> dict[str, Any]:
    """Return every author and user as stored now, and the number of history entries."""
    with site.db.engine.connect() as connection:
        authors = connection.execute(
            select(*AdmAuthor.__table__.columns).order_by(AdmAuthor.id)
        ).all()
        users = connection.execute(select(*User.__table__.columns).order_by(User.id)).all()
        entries = connection.execute(select(func.count()).select_from(LogEntry)).scalar_one()
    return {
        "authors": [tuple(row) for row in authors],
        "users": [tuple(row) for row in users],
        "entries": entries,
    }


def head_and_get(
    site: Site, path: str, data: dict[str, Any]
) -> tuple[httpx.Response, httpx.Response]:
    """Send HEAD with the form ``data`` and no CSRF token, then GET; return both."""
    head = site.client.request("HEAD", path, data=data, headers=HTML)
    get = site.client.get(path, headers=HTML)
    return head, get


def assert_head_is_get(head: httpx.Response, get: httpx.Response) -> None:
    """Assert ``head`` has the status and headers of ``get``, and no body."""
    assert head.status_code == get.status_code
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    # A cookie is set when the session changes, which GET and HEAD may not share.
    assert set(head.headers) - {"set-cookie"} == set(get.headers) - {"set-cookie"}


def signed_in_as(site: Site) -> int:
    """Return the status of the dashboard: 200 signed in as staff, 303 to the sign-in page."""
    return site.client.get("/admin/", headers=HTML).status_code


@BOTH
def test_head_on_the_add_page_adds_no_row(site: Site) -> None:
    before = rows(site)

    head, get = head_and_get(
        site, "/admin/adm_author/add/", {"name": "Grace Hopper", "email": "grace@example.com"}
    )

    assert head.status_code == 200
    assert head.headers["content-type"] == "text/html; charset=utf-8"
    assert_head_is_get(head, get)
    assert rows(site) == before


@BOTH
def test_head_on_the_edit_page_changes_no_row(site: Site) -> None:
    before = rows(site)

    head, get = head_and_get(
        site, "/admin/adm_author/1/", {"name": "Changed", "email": "changed@example.com"}
    )

    assert head.status_code == 200
    assert_head_is_get(head, get)
    assert rows(site) == before


@BOTH
def test_head_on_the_edit_page_with_a_continue_button_changes_no_row(site: Site) -> None:
    before = rows(site)

    head, get = head_and_get(
        site, "/admin/adm_author/2/", {"name": "Changed", "email": "", "_continue": "1"}
    )

    assert head.status_code == 200
    assert_head_is_get(head, get)
    assert rows(site) == before


def test_head_on_the_delete_page_deletes_no_row(site: Site) -> None:
    before = rows(site)

    head, get = head_and_get(site, "/admin/adm_author/1/delete/", {"confirm": "yes"})

    assert head.status_code == 200
    assert_head_is_get(head, get)
    assert rows(site) == before


def test_head_on_the_actions_endpoint_is_refused_like_get_and_deletes_nothing(
    site: Site,
) -> None:
    before = rows(site)
    form = {"action": "delete_selected", "selected": ["1", "2"], "confirm": "yes"}

    head, get = head_and_get(site, "/admin/adm_author/actions", form)

    assert head.status_code == 405
    assert_head_is_get(head, get)
    assert head.headers["allow"] == "OPTIONS, POST"
    assert rows(site) == before


def test_head_on_a_users_password_page_changes_no_password(site: Site) -> None:
    before = rows(site)
    ident = site.users[STAFF]
    password = "a cobol compiler in 1959"
    form = {"new_password": password, "new_password_again": password}

    head, get = head_and_get(site, f"/admin/auth_user/{ident}/password/", form)

    assert head.status_code == 200
    assert_head_is_get(head, get)
    assert rows(site) == before


@BOTH
def test_head_on_the_logout_page_signs_nobody_out(site: Site) -> None:
    before = rows(site)

    head, get = head_and_get(site, "/admin/logout", {})

    assert head.status_code == 200
    assert_head_is_get(head, get)
    assert signed_in_as(site) == 200
    assert rows(site) == before


@BOTH
def test_head_on_the_login_page_signs_nobody_in(site: Site) -> None:
    site.client.cookies.clear()
    site.client.get("/admin/login", headers=HTML)
    before = rows(site)

    head, get = head_and_get(site, "/admin/login", {"email": ROOT, "password": PASSWORD})

    assert head.status_code == 200
    assert_head_is_get(head, get)
    assert "set-cookie" not in head.headers
    assert signed_in_as(site) == 303
    assert rows(site) == before


@BOTH
def test_head_on_the_login_page_keeps_the_signed_in_user(site: Site) -> None:
    before = rows(site)
    session = site.client.get("/admin/login", headers=HTML)

    head, get = head_and_get(site, "/admin/login", {"email": STAFF, "password": PASSWORD})

    assert session.status_code == 200
    assert head.status_code == 200
    assert_head_is_get(head, get)
    assert "set-cookie" not in head.headers
    assert rows(site) == before
    # Still the superuser: the user list is theirs to see, and not the staff member's.
    assert site.client.get("/admin/auth_user/", headers=HTML).status_code == 200
