"""The admin pages: who gets in, the dashboard, bulk actions, sign-in and sign-out."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from carboy.admin import action
from carboy.admin.history import history_of, record
from carboy.admin.pages import NO_SELECTION, NOT_STAFF, STAFF_ONLY
from carboy.auth.pages import LOGIN_FAILED
from carboy.auth.user import User
from tests.auth._pages_app import csrf_of

from ._models import AdmAuthor, AdmPost
from ._options import PostAdmin
from .conftest import HTML, MEMBER, PASSWORD, ROOT, STAFF, MakeSite, Site, authors_and_posts


def posts_site(make_site: MakeSite, post_admin: type[PostAdmin]) -> Site:
    """A site of the authors and posts, with the superuser ROOT."""
    site = make_site({AdmPost: post_admin, AdmAuthor: None})
    authors_and_posts(site)
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    return site


@pytest.fixture
def site(make_site: MakeSite) -> Site:
    return posts_site(make_site, PostAdmin)


def post_ids(site: Site) -> list[int]:
    with site.db.session() as session:
        return list(session.scalars(select(AdmPost.id).order_by(AdmPost.id)))


# Who gets in ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/", "/admin/adm_post/?q=x", "/admin/adm_post/1/"])
def test_an_anonymous_visitor_is_sent_to_the_admin_sign_in_page(site: Site, path: str) -> None:
    response = site.client.get(path, headers=HTML)

    assert response.status_code == 303
    expected = {
        "/admin/": "/admin/login?next=/admin/",
        "/admin/adm_post/?q=x": "/admin/login?next=/admin/adm_post/%3Fq%3Dx",
        "/admin/adm_post/1/": "/admin/login?next=/admin/adm_post/1/",
    }
    assert response.headers["location"] == expected[path]


def test_a_signed_in_user_who_is_not_staff_is_forbidden(site: Site) -> None:
    site.add_user(MEMBER)
    site.sign_in(MEMBER, page="/auth/login")

    response = site.client.get("/admin/adm_post/")

    assert response.status_code == 403
    assert response.json()["detail"] == STAFF_ONLY


def test_the_sign_in_page_refuses_a_user_who_is_not_staff(site: Site) -> None:
    site.add_user(MEMBER)
    page = site.client.get("/admin/login", headers=HTML)

    response = site.client.post(
        "/admin/login",
        data={"email": MEMBER, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )

    assert response.status_code == 422
    assert NOT_STAFF in response.text.replace("&#39;", "'")
    assert site.client.get("/admin/", headers=HTML).status_code == 303


def test_the_sign_in_page_refuses_a_wrong_password(site: Site) -> None:
    page = site.client.get("/admin/login", headers=HTML)

    response = site.client.post(
        "/admin/login",
        data={"email": ROOT, "password": "wrong", "csrf_token": csrf_of(page.text)},
    )

    assert response.status_code == 422
    assert LOGIN_FAILED in response.text


def test_signing_in_goes_to_the_page_asked_for(site: Site) -> None:
    page = site.client.get("/admin/login?next=/admin/adm_post/", headers=HTML)

    response = site.client.post(
        "/admin/login",
        data={
            "email": ROOT,
            "password": PASSWORD,
            "next": "/admin/adm_post/",
            "csrf_token": csrf_of(page.text),
        },
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/admin/adm_post/"


def test_staff_without_the_view_permission_are_forbidden_the_list(site: Site) -> None:
    site.add_user(STAFF, is_staff=True)
    site.sign_in(STAFF)

    response = site.client.get("/admin/adm_post/")
    dashboard = site.client.get("/admin/", headers=HTML)

    assert response.status_code == 403
    assert response.json()["detail"] == (
        "You may not view adm posts: you lack the permission adm_post.view. Ask an "
        "administrator for it."
    )
    assert "There is nothing here you may see or change." in dashboard.text


def test_staff_with_the_view_permission_see_the_list_without_change_links(site: Site) -> None:
    site.add_user(STAFF, "adm_post.view", is_staff=True)
    site.sign_in(STAFF)

    listing = site.client.get("/admin/adm_post/", headers=HTML)
    dashboard = site.client.get("/admin/", headers=HTML)

    assert listing.status_code == 200
    assert '<select id="action-select"' not in listing.text
    assert "Add adm post" not in listing.text
    assert '<a href="/admin/adm_post/">View</a>' in dashboard.text
    assert "Adm authors" not in dashboard.text
    assert '<a href="/admin/adm_post/add/">' not in dashboard.text


def test_a_superuser_sees_every_model_and_action(site: Site) -> None:
    site.sign_in(ROOT)

    dashboard = site.client.get("/admin/", headers=HTML).text
    listing = site.client.get("/admin/adm_post/", headers=HTML).text

    assert '<a href="/admin/adm_post/">Adm posts</a>' in dashboard
    assert '<a href="/admin/adm_author/">Adm authors</a>' in dashboard
    assert '<a href="/admin/adm_author/add/">Add</a>' in dashboard
    assert (
        '<option value="delete_selected">Delete the selected rows</option>'
        '<option value="publish">Publish the selected posts</option>'
    ) in listing


def test_an_unregistered_table_is_not_found(site: Site) -> None:
    site.sign_in(ROOT)

    response = site.client.get("/admin/auth_user/")

    assert response.status_code == 404
    assert response.json()["detail"] == "The administration has no such model."


# Dashboard ---------------------------------------------------------------------------


def test_the_dashboard_shows_the_users_recent_actions(site: Site) -> None:
    site.sign_in(ROOT)
    with site.db.session() as session:
        post = session.get(AdmPost, 1)
        user = session.get(User, site.users[ROOT])
        record(session, user, "change", post)
        session.commit()

    page = site.client.get("/admin/", headers=HTML).text

    assert "Notes on the engine <small>(adm_post," in page
    assert '<span class="tag tag-change">change</span>' in page


# Bulk actions --------------------------------------------------------------------------


def action_form(site: Site, action: str, *selected: int, **extra: str) -> dict[str, object]:
    listing = site.client.get("/admin/adm_post/?o=title", headers=HTML)
    return {
        "csrf_token": csrf_of(listing.text),
        "action": action,
        "selected": [str(pk) for pk in selected],
        "query": "o=title",
        **extra,
    }


def test_delete_selected_asks_for_a_confirmation_and_deletes_nothing_yet(site: Site) -> None:
    site.sign_in(ROOT)

    response = site.client.post(
        "/admin/adm_post/actions", data=action_form(site, "delete_selected", 1, 3)
    )

    assert response.status_code == 200
    assert "<h1>Delete 2 adm posts?</h1>" in response.text
    assert "<li>Notes on the engine</li><li>Bernoulli numbers</li>" in response.text
    assert post_ids(site) == [1, 2, 3, 4, 5]


def test_confirming_deletes_the_selected_rows(site: Site) -> None:
    site.sign_in(ROOT)
    form = action_form(site, "delete_selected", 1, 3, confirm="yes")

    response = site.client.post("/admin/adm_post/actions", data=form)

    assert response.status_code == 303
    assert response.headers["location"] == "/admin/adm_post/?o=title"
    assert post_ids(site) == [2, 4, 5]
    assert "Deleted 2 adm posts." in site.client.get("/admin/adm_post/", headers=HTML).text


def test_a_bulk_deletion_is_recorded_for_each_row(site: Site) -> None:
    site.sign_in(ROOT)

    site.client.post(
        "/admin/adm_post/actions", data=action_form(site, "delete_selected", 1, 3, confirm="yes")
    )

    with site.db.session() as session:
        entries = [history_of(session, AdmPost, ident) for ident in (1, 3)]
    assert [(entry.action, entry.object_repr, entry.user_repr) for (entry,) in entries] == [
        ("delete", "Notes on the engine", ROOT),
        ("delete", "Bernoulli numbers", ROOT),
    ]
    assert {"field": "title", "old": "Notes on the engine", "new": None} in entries[0][0].changes


def test_a_bulk_deletion_that_rows_still_need_is_refused(site: Site) -> None:
    site.sign_in(ROOT)
    listing = site.client.get("/admin/adm_author/", headers=HTML)
    form = {"csrf_token": csrf_of(listing.text), "action": "delete_selected", "selected": ["1"]}

    page = site.client.post("/admin/adm_author/actions", data=form)
    response = site.client.post("/admin/adm_author/actions", data={**form, "confirm": "yes"})

    assert page.status_code == 200
    assert "<h1>The 1 adm author cannot be deleted</h1>" in page.text
    assert (
        "<li>Ada Lovelace, needed by:\n<ul><li>2 adm posts: Notes on the engine, Bernoulli "
        "numbers</li></ul></li>"
    ) in page.text
    assert "Yes, delete them" not in page.text
    assert response.status_code == 409
    with site.db.session() as session:
        assert session.get(AdmAuthor, 1) is not None


def test_a_custom_action_is_recorded_for_each_row_it_changed(site: Site) -> None:
    site.sign_in(ROOT)

    site.client.post("/admin/adm_post/actions", data=action_form(site, "publish", 1, 3))

    with site.db.session() as session:
        unchanged = history_of(session, AdmPost, 1)
        (entry,) = history_of(session, AdmPost, 3)
    assert unchanged == []
    assert (entry.action, entry.message) == ("change", "Publish the selected posts")
    assert entry.changes == [{"field": "is_published", "old": False, "new": True}]


class PurgingPostAdmin(PostAdmin):
    actions = ("delete_selected", "publish", "purge_drafts")

    @action(label="Delete the drafts among them", permission="delete")
    async def purge_drafts(self, request: Any, session: Any, posts: list[AdmPost]) -> None:
        for post in posts:
            if post.is_published:
                post.title = post.title + " (kept)"
            else:
                await session.delete(post)
        await session.flush()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_a_custom_action_that_deletes_rows_records_deletions(
    make_site: MakeSite, backend: str
) -> None:
    site = posts_site(make_site, PurgingPostAdmin)
    site.sign_in(ROOT)
    with site.db.session() as session:
        drafts = sorted(session.scalars(select(AdmPost.id).where(~AdmPost.is_published)))
        title = session.scalar(select(AdmPost.title).where(AdmPost.id == 1))
    assert drafts == [3, 4, 5]

    response = site.client.post(
        "/admin/adm_post/actions", data=action_form(site, "purge_drafts", 1, 3)
    )

    assert response.status_code == 303
    assert post_ids(site) == [1, 2, 4, 5]
    with site.db.session() as session:
        (deleted,) = history_of(session, AdmPost, 3)
        (kept,) = history_of(session, AdmPost, 1)
    assert (deleted.action, deleted.message) == ("delete", "Delete the drafts among them")
    assert {"field": "id", "old": 3, "new": None} in deleted.changes
    assert {"field": "is_published", "old": False, "new": None} in deleted.changes
    assert (kept.action, kept.changes) == (
        "change",
        [{"field": "title", "old": title, "new": f"{title} (kept)"}],
    )


class HandingOverPostAdmin(PostAdmin):
    actions = ("hand_over",)

    @action(label="Hand over to a guest", permission="delete")
    async def hand_over(self, request: Any, session: Any, posts: list[AdmPost]) -> None:
        guest = AdmAuthor(id=3, name="Guest", email="guest@example.com")
        session.add(guest)
        await session.flush()
        for post in posts:
            previous = await session.get(AdmAuthor, post.author_id)
            previous.name = previous.name + " (retired)"
            post.author_id = guest.id
        # A row that was not selected, deleted in passing.
        await session.delete(await session.get(AdmPost, 5))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_a_custom_action_records_the_rows_it_added_changed_and_deleted_selected_or_not(
    make_site: MakeSite, backend: str
) -> None:
    site = posts_site(make_site, HandingOverPostAdmin)
    site.sign_in(ROOT)

    response = site.client.post("/admin/adm_post/actions", data=action_form(site, "hand_over", 1))

    assert response.status_code == 303
    assert post_ids(site) == [1, 2, 3, 4]
    label = "Hand over to a guest"
    with site.db.session() as session:
        guest_id = session.scalar(select(AdmAuthor.id).where(AdmAuthor.name == "Guest"))
        (added,) = history_of(session, AdmAuthor, guest_id)
        (renamed,) = history_of(session, AdmAuthor, 1)
        (handed,) = history_of(session, AdmPost, 1)
        (deleted,) = history_of(session, AdmPost, 5)
        assert history_of(session, AdmPost, 2) == []
        assert history_of(session, AdmAuthor, 2) == []
    assert (added.action, added.message, added.object_repr) == ("add", label, "Guest")
    assert {"field": "email", "old": None, "new": "guest@example.com"} in added.changes
    assert (renamed.action, renamed.message, renamed.changes) == (
        "change",
        label,
        [{"field": "name", "old": "Ada Lovelace", "new": "Ada Lovelace (retired)"}],
    )
    assert (handed.action, handed.changes) == (
        "change",
        [{"field": "author_id", "old": 1, "new": guest_id}],
    )
    assert (deleted.action, deleted.message) == ("delete", label)
    assert {"field": "id", "old": 5, "new": None} in deleted.changes


def test_a_bulk_action_without_the_csrf_token_is_refused(site: Site) -> None:
    site.sign_in(ROOT)
    form = action_form(site, "delete_selected", 1, confirm="yes")
    del form["csrf_token"]

    response = site.client.post("/admin/adm_post/actions", data=form)

    assert response.status_code == 403
    assert post_ids(site) == [1, 2, 3, 4, 5]


def test_deleting_needs_the_delete_permission(site: Site) -> None:
    site.add_user(STAFF, "adm_post.view", "adm_post.change", is_staff=True)
    site.sign_in(STAFF)

    response = site.client.post(
        "/admin/adm_post/actions", data=action_form(site, "delete_selected", 1, confirm="yes")
    )

    assert response.status_code == 403
    assert response.json()["detail"] == (
        "You may not run 'Delete the selected rows': you lack the permission adm_post.delete."
    )
    assert post_ids(site) == [1, 2, 3, 4, 5]


def test_a_custom_action_runs_on_the_selected_rows(site: Site) -> None:
    site.add_user(STAFF, "adm_post.view", "adm_post.change", is_staff=True)
    site.sign_in(STAFF)

    response = site.client.post("/admin/adm_post/actions", data=action_form(site, "publish", 3, 4))

    assert response.status_code == 303
    with site.db.session() as session:
        published = session.scalars(select(AdmPost.id).where(AdmPost.is_published)).all()
    assert sorted(published) == [1, 2, 3, 4]
    page = site.client.get("/admin/adm_post/", headers=HTML).text
    assert "Publish the selected posts: done for 2 adm posts." in page


def test_an_action_with_no_rows_selected_does_nothing(site: Site) -> None:
    site.sign_in(ROOT)

    response = site.client.post("/admin/adm_post/actions", data=action_form(site, "publish"))

    assert response.status_code == 303
    assert NO_SELECTION in site.client.get("/admin/adm_post/", headers=HTML).text


@pytest.mark.parametrize(
    ("action", "selected", "status", "detail"),
    [
        (
            "drop_tables",
            ["1"],
            400,
            "The action is missing or unknown. Choose one of the list's actions.",
        ),
        (
            "publish",
            ["99999999999"],
            400,
            "A selected row has an id that is not one. Reload the list and try again.",
        ),
        (
            "publish",
            ["1 OR 1=1"],
            400,
            "A selected row has an id that is not one. Reload the list and try again.",
        ),
    ],
)
def test_a_bad_action_form_is_a_400(
    site: Site, action: str, selected: list[str], status: int, detail: str
) -> None:
    site.sign_in(ROOT)
    form = action_form(site, action)
    form["selected"] = selected

    response = site.client.post(
        "/admin/adm_post/actions", data=form, headers={"accept": "application/json"}
    )

    assert response.status_code == status
    assert response.json()["detail"] == detail


# One row and signing out -------------------------------------------------------------------


def test_the_object_page_is_the_edit_form_with_the_name_escaped(site: Site) -> None:
    site.add(AdmPost(id=9, title="<script>alert(1)</script>"))
    site.sign_in(ROOT)

    response = site.client.get("/admin/adm_post/9/", headers=HTML)

    assert response.status_code == 200
    assert "<h1>Change adm post: &lt;script&gt;alert(1)&lt;/script&gt;</h1>" in response.text
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in response.text
    assert "<script>" not in response.text
    assert site.client.get("/admin/adm_post/999/").status_code == 404
    assert site.client.get("/admin/adm_post/abc/").status_code == 404


def test_signing_out_needs_the_button_and_ends_the_session(site: Site) -> None:
    site.sign_in(ROOT)
    page = site.client.get("/admin/logout", headers=HTML)

    response = site.client.post("/admin/logout", data={"csrf_token": csrf_of(page.text)})

    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login"
    assert site.client.get("/admin/", headers=HTML).status_code == 303
