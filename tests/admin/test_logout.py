"""Signing out of the admin ends every session of the user, a copied cookie's included.

On SQLite and PostgreSQL; the epoch behind it is tested in tests/auth/test_revocation.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from carboy.admin.users import UserAdmin
from carboy.auth.user import User
from tests.auth._pages_app import csrf_of

from .conftest import HTML, ROOT, STAFF, MakeSite, Site, own_database


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with own_database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def site(make_site: MakeSite) -> Site:
    site = make_site({User: UserAdmin})
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    site.add_user(STAFF, is_staff=True)
    return site


def as_browser(site: Site, cookies: httpx.Cookies, path: str) -> httpx.Response:
    """GET ``path`` as another browser with ``cookies``, through the site's one client.

    A second client would start the app in another event loop, where its
    PostgreSQL connections do not work.
    """
    own = site.client.cookies
    site.client.cookies = cookies
    try:
        return site.client.get(path, headers=HTML)
    finally:
        site.client.cookies = own


def epoch(site: Site, email: str) -> int:
    with site.db.session() as session:
        return session.scalars(select(User.session_epoch).where(User.email == email)).one()


def test_a_copied_admin_cookie_is_sent_to_sign_in_after_logout(site: Site) -> None:
    site.sign_in(ROOT)
    copied = httpx.Cookies(site.client.cookies)
    assert as_browser(site, copied, "/admin/").status_code == 200
    page = site.client.get("/admin/logout", headers=HTML)

    response = site.client.post("/admin/logout", data={"csrf_token": csrf_of(page.text)})

    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login"
    replayed = as_browser(site, copied, "/admin/")
    assert replayed.status_code == 303
    assert replayed.headers["location"] == "/admin/login?next=/admin/"
    assert site.client.get("/admin/", headers=HTML).status_code == 303
    assert epoch(site, ROOT) == 1


def test_setting_a_users_password_in_the_admin_ends_their_sessions(site: Site) -> None:
    site.sign_in(STAFF)
    staff = httpx.Cookies(site.client.cookies)
    site.client.cookies.clear()
    site.sign_in(ROOT)
    ident = site.users[STAFF]
    page = site.client.get(f"/admin/auth_user/{ident}/password/", headers=HTML)
    password = "a cobol compiler in 1959"

    response = site.client.post(
        f"/admin/auth_user/{ident}/password/",
        data={
            "csrf_token": csrf_of(page.text),
            "new_password": password,
            "new_password_again": password,
        },
    )

    assert response.status_code == 303
    assert as_browser(site, staff, "/admin/").status_code == 303
    assert site.client.get("/admin/", headers=HTML).status_code == 200
    assert (epoch(site, STAFF), epoch(site, ROOT)) == (1, 0)
