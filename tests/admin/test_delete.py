"""The delete page: what goes with the row, what stops it, permissions and the history."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from carboy.admin.history import history_of
from tests.auth._pages_app import csrf_of

from ._models import (
    FORM_TABLES,
    AdmArticle,
    AdmCitation,
    AdmNote,
    AdmPost,
    AdmTag,
    AdmWriter,
    article_tags,
    post_tags,
)
from .conftest import HTML, ROOT, STAFF, MakeSite, Site


@pytest.fixture
def extra_tables() -> tuple[str, ...]:
    return FORM_TABLES


@pytest.fixture
def site(make_site: MakeSite) -> Site:
    site = make_site({AdmArticle: None, AdmWriter: None, AdmTag: None, AdmNote: None})
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    writer = AdmWriter(id=1, name="Ada")
    python, sql = AdmTag(id=1, name="python"), AdmTag(id=2, name="sql")
    site.add(
        AdmArticle(
            id=1,
            title="<b>First</b>",
            writer=writer,
            tags=[python, sql],
            notes=[AdmNote(id=1, text="Check the dates"), AdmNote(id=2, text="<i>Typo</i>")],
        ),
        AdmArticle(id=2, title="Second", writer=writer),
    )
    return site


def count(site: Site, table: object) -> int:
    with site.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


def confirm(site: Site, path: str) -> object:
    page = site.client.get(path, headers=HTML)
    return site.client.post(path, data={"csrf_token": csrf_of(page.text)})


def test_the_confirmation_lists_what_is_deleted_with_the_row(site: Site) -> None:
    site.sign_in(ROOT)

    response = site.client.get("/admin/adm_article/1/delete/", headers=HTML)

    assert response.status_code == 200
    page = response.text
    assert "<h1>Delete the adm article “&lt;b&gt;First&lt;/b&gt;”?</h1>" in page
    assert (
        '<ul class="doomed">\n<li>2 adm notes:\n<ul><li>Check the dates</li>'
        "<li>&lt;i&gt;Typo&lt;/i&gt;</li></ul></li>\n<li>2 links to adm tags</li>\n</ul>"
    ) in page
    assert '<button type="submit" class="danger">Yes, delete it</button>' in page
    assert count(site, AdmArticle) == 2
    assert count(site, AdmNote) == 2


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_confirming_deletes_the_row_its_cascade_and_its_links(site: Site, backend: str) -> None:
    site.sign_in(ROOT)

    response = confirm(site, "/admin/adm_article/1/delete/")

    assert response.status_code == 303  # type: ignore[attr-defined]
    assert response.headers["location"] == "/admin/adm_article/"  # type: ignore[attr-defined]
    assert (count(site, AdmArticle), count(site, AdmNote), count(site, article_tags)) == (1, 0, 0)
    assert count(site, AdmTag) == 2
    listing = site.client.get("/admin/adm_article/", headers=HTML).text
    assert "The adm article “&lt;b&gt;First&lt;/b&gt;” was deleted." in listing


def test_a_deletion_is_recorded_for_the_row_and_the_rows_deleted_with_it(site: Site) -> None:
    site.sign_in(ROOT)

    confirm(site, "/admin/adm_article/1/delete/")

    with site.db.session() as session:
        (entry,) = history_of(session, AdmArticle, 1)
        notes = [history_of(session, AdmNote, ident) for ident in (1, 2)]
    assert (entry.action, entry.user_repr, entry.object_repr) == ("delete", ROOT, "<b>First</b>")
    assert {"field": "title", "old": "<b>First</b>", "new": None} in entry.changes
    assert [(found.action, found.message) for (found,) in notes] == [
        ("delete", "Deleted with the adm article “<b>First</b>”."),
        ("delete", "Deleted with the adm article “<b>First</b>”."),
    ]
    history = site.client.get("/admin/adm_article/1/history/", headers=HTML)
    assert history.status_code == 200
    assert "This adm article has been deleted." in history.text
    assert "<h1>History of &lt;b&gt;First&lt;/b&gt;</h1>" in history.text


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_rows_that_need_the_row_block_its_deletion(site: Site, backend: str) -> None:
    site.add(AdmCitation(id=1, article_id=1, source="<u>Nature</u>"))
    site.sign_in(ROOT)

    page = site.client.get("/admin/adm_article/1/delete/", headers=HTML)
    edit = site.client.get("/admin/adm_article/1/", headers=HTML)
    response = site.client.post(
        "/admin/adm_article/1/delete/", data={"csrf_token": csrf_of(edit.text)}, headers=HTML
    )

    assert page.status_code == 200
    assert "<h1>The adm article “&lt;b&gt;First&lt;/b&gt;” cannot be deleted</h1>" in page.text
    assert (
        "<p>These rows refer to it, and would be left pointing at nothing. Delete them, or "
        "point them elsewhere, first.</p>"
    ) in page.text
    assert "<li>1 adm citation:\n<ul><li>&lt;u&gt;Nature&lt;/u&gt;</li></ul></li>" in page.text
    assert "Yes, delete it" not in page.text
    assert response.status_code == 409
    assert (count(site, AdmArticle), count(site, AdmNote)) == (2, 2)


def test_a_not_null_key_without_a_cascade_blocks_the_deletion(site: Site) -> None:
    site.sign_in(ROOT)

    response = site.client.get("/admin/adm_writer/1/delete/", headers=HTML)

    assert "<h1>The adm writer “Ada” cannot be deleted</h1>" in response.text
    assert (
        "<li>2 adm articles:\n<ul><li>&lt;b&gt;First&lt;/b&gt;</li><li>Second</li></ul></li>"
    ) in response.text


def test_rows_linked_through_a_database_cascade_are_listed_as_links(site: Site) -> None:
    site.add(AdmPost(id=1, title="Post", tags=[]))
    with site.db.session() as session:
        session.execute(post_tags.insert().values(post_id=1, tag_id=1))
        session.commit()
    site.sign_in(ROOT)

    page = site.client.get("/admin/adm_tag/1/delete/", headers=HTML).text
    response = confirm(site, "/admin/adm_tag/1/delete/")

    assert (
        '<ul class="doomed">\n<li>1 link to adm posts</li>\n<li>1 link to adm articles</li>\n</ul>'
    ) in page
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert (count(site, AdmTag), count(site, post_tags), count(site, article_tags)) == (1, 0, 1)


def test_deleting_needs_the_delete_permission(site: Site) -> None:
    site.add_user(STAFF, "adm_article.view", "adm_article.change", is_staff=True)
    site.sign_in(STAFF)

    edit = site.client.get("/admin/adm_article/2/", headers=HTML)
    page = site.client.get("/admin/adm_article/2/delete/")
    response = site.client.post(
        "/admin/adm_article/2/delete/", data={"csrf_token": csrf_of(edit.text)}
    )

    assert "/admin/adm_article/2/delete/" not in edit.text
    assert page.status_code == 403
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "You may not delete adm articles: you lack the permission adm_article.delete. Ask an "
        "administrator for it."
    )
    assert count(site, AdmArticle) == 2


def test_rows_deleted_with_it_need_their_own_delete_permission(site: Site) -> None:
    site.add_user(STAFF, "adm_article.view", "adm_article.delete", is_staff=True)
    site.sign_in(STAFF)

    page = site.client.get("/admin/adm_article/1/delete/", headers=HTML)
    listing = site.client.get("/admin/adm_article/", headers=HTML)
    response = site.client.post(
        "/admin/adm_article/1/delete/", data={"csrf_token": csrf_of(listing.text)}, headers=HTML
    )
    other = confirm(site, "/admin/adm_article/2/delete/")

    assert "<p>Deleting it would delete adm notes too, which you may not delete.</p>" in page.text
    assert response.status_code == 409
    assert other.status_code == 303  # type: ignore[attr-defined]
    assert (count(site, AdmArticle), count(site, AdmNote)) == (1, 2)
