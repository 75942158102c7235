"""Users through the admin: added without a password, then given one on their password page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from carboy.admin.history import history_of
from carboy.admin.users import GroupAdmin, UserAdmin
from carboy.auth.hashers import check_password
from carboy.auth.models import Group
from carboy.auth.pages import PASSWORDS_DIFFER
from carboy.auth.user import User
from tests.auth._pages_app import csrf_of

from ._models import AdmPost
from .conftest import HTML, ROOT, STAFF, MakeSite, Site

NEW = "grace@example.com"
GOOD = "a cobol compiler in 1959"


@pytest.fixture
def site(make_site: MakeSite) -> Site:
    site = make_site({User: UserAdmin, Group: GroupAdmin, AdmPost: None})
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    site.sign_in(ROOT)
    return site


def stored(site: Site, email: str) -> User:
    with site.db.session() as session:
        user = session.scalar(select(User).where(User.email == email))
        assert user is not None
        session.expunge(user)
        return user


def add_user(site: Site) -> int:
    page = site.client.get("/admin/auth_user/add/", headers=HTML)
    response = site.client.post(
        "/admin/auth_user/add/",
        data={"csrf_token": csrf_of(page.text), "email": NEW, "is_active": "on", "is_staff": "on"},
    )
    user = stored(site, NEW)
    assert response.status_code == 303
    assert response.headers["location"] == f"/admin/auth_user/{user.id}/password/"
    return user.id


def set_password(site: Site, ident: int, first: str, second: str) -> object:
    page = site.client.get(f"/admin/auth_user/{ident}/password/", headers=HTML)
    return site.client.post(
        f"/admin/auth_user/{ident}/password/",
        data={
            "csrf_token": csrf_of(page.text),
            "new_password": first,
            "new_password_again": second,
        },
        headers=HTML,
    )


def test_a_user_added_in_the_admin_has_no_usable_password_until_one_is_set(site: Site) -> None:
    ident = add_user(site)

    user = stored(site, NEW)
    assert (user.is_staff, user.is_active, user.has_usable_password()) == (True, True, False)
    page = site.client.get(f"/admin/auth_user/{ident}/password/", headers=HTML)
    assert page.status_code == 200
    assert "The user “grace@example.com” was added. Set a password for them below." in page.text
    assert f"No password is set yet: nobody can sign in as {NEW} until one is." in page.text
    assert 'name="new_password" id="id_new_password" required' in page.text
    assert 'autocomplete="new-password"' in page.text
    with site.db.session() as session:
        (added,) = history_of(session, User, ident)
    assert added.action == "add"
    assert {"field": "password", "old": None, "new": "********"} in added.changes


def test_the_password_page_sets_the_password_and_records_it_masked(site: Site) -> None:
    ident = add_user(site)

    response = set_password(site, ident, GOOD, GOOD)

    assert response.status_code == 303  # type: ignore[attr-defined]
    assert response.headers["location"] == f"/admin/auth_user/{ident}/"  # type: ignore[attr-defined]
    user = stored(site, NEW)
    assert check_password(GOOD, user.password).is_valid
    assert GOOD not in user.password
    with site.db.session() as session:
        changed, _added = history_of(session, User, ident)
    assert (changed.action, changed.message) == ("change", "Password changed")
    # The new password ends the user's sessions: their epoch moves on.
    assert changed.changes == [
        {"field": "password", "old": "********", "new": "********"},
        {"field": "session_epoch", "old": 0, "new": 1},
    ]
    assert user.session_epoch == 1
    edit = site.client.get(f"/admin/auth_user/{ident}/", headers=HTML).text
    assert f'<a href="/admin/auth_user/{ident}/password/">Change password</a>' in edit
    assert "The password of “grace@example.com” was changed." in edit
    assert user.password not in edit
    # The new staff user signs in with it.
    site.client.post("/admin/logout", data={"csrf_token": csrf_of(edit)})
    login = site.client.get("/admin/login", headers=HTML)
    signed_in = site.client.post(
        "/admin/login",
        data={"email": NEW, "password": GOOD, "csrf_token": csrf_of(login.text)},
    )
    assert signed_in.status_code == 303


@pytest.mark.parametrize(
    ("first", "second", "field", "messages"),
    [
        ("one thing here", "another thing", "new_password_again", [PASSWORDS_DIFFER]),
        (
            "1234",
            "1234",
            "new_password",
            [
                "This password is too short: it must have at least 8 characters.",
                "This password is one of the most common, which attackers try first.",
                "This password is made of digits only.",
            ],
        ),
    ],
)
def test_a_rejected_password_is_an_error_beside_its_field_and_changes_nothing(
    site: Site, first: str, second: str, field: str, messages: list[str]
) -> None:
    ident = add_user(site)

    response = set_password(site, ident, first, second)

    assert response.status_code == 422  # type: ignore[attr-defined]
    text: str = response.text  # type: ignore[attr-defined]
    shown = re.findall(rf'<p class="field-error" id="id_{field}-error[-0-9]*">(.*?)</p>', text)
    assert shown == messages
    assert first not in text and second not in text
    assert stored(site, NEW).has_usable_password() is False


def test_a_password_like_the_users_email_is_refused(site: Site) -> None:
    ident = add_user(site)

    response = set_password(site, ident, "grace@example.com!", "grace@example.com!")

    assert response.status_code == 422  # type: ignore[attr-defined]
    text: str = response.text  # type: ignore[attr-defined]
    shown = re.findall(r'<p class="field-error" id="id_new_password-error[-0-9]*">(.*?)</p>', text)
    assert len(shown) == 1 and "too similar" in shown[0]
    assert "grace@example.com!" not in text
    assert stored(site, NEW).has_usable_password() is False


def test_the_password_page_needs_the_change_permission_and_a_user_model(site: Site) -> None:
    ident = add_user(site)
    site.add_user(STAFF, "auth_user.view", is_staff=True)
    site.add(AdmPost(id=1, title="Hello"))

    no_model = site.client.get("/admin/adm_post/1/password/")
    assert no_model.status_code == 404
    assert no_model.json()["detail"] == "The adm post has no password: only users do."
    missing = site.client.get("/admin/auth_user/999/password/")
    assert missing.status_code == 404
    site.sign_in(STAFF)
    forbidden = site.client.get(f"/admin/auth_user/{ident}/password/")
    assert forbidden.status_code == 403
    edit = site.client.get(f"/admin/auth_user/{ident}/", headers=HTML).text
    assert "Change password" not in edit


def test_setting_a_password_needs_the_csrf_token(site: Site) -> None:
    ident = add_user(site)

    response = site.client.post(
        f"/admin/auth_user/{ident}/password/",
        data={"new_password": GOOD, "new_password_again": GOOD},
    )

    assert response.status_code == 403
    assert stored(site, NEW).has_usable_password() is False


def test_the_user_list_searches_and_filters(site: Site) -> None:
    add_user(site)

    found = site.client.get("/admin/auth_user/?q=grace&is_staff=1", headers=HTML).text

    assert f">{NEW}</a>" in found
    assert f">{ROOT}</a>" not in found


def test_only_a_superuser_may_make_a_superuser(site: Site) -> None:
    ident = add_user(site)
    staff = site.add_user(STAFF, "auth_user.view", "auth_user.change", is_staff=True)
    site.sign_in(STAFF)
    page = site.client.get(f"/admin/auth_user/{staff.id}/", headers=HTML).text

    response = site.client.post(
        f"/admin/auth_user/{staff.id}/",
        data={
            "csrf_token": csrf_of(page),
            "email": STAFF,
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
        },
    )

    assert 'name="is_superuser"' not in page
    assert response.status_code == 303
    assert stored(site, STAFF).is_superuser is False
    site.sign_in(ROOT)
    root_page = site.client.get(f"/admin/auth_user/{ident}/", headers=HTML).text
    assert 'name="is_superuser"' in root_page
