"""Rows of other models on a row's pages, and bulk deletion of rows that take others along."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from carboy.admin import Inline, ModelAdmin
from carboy.admin.history import history_of
from tests.auth._pages_app import csrf_of

from ._models import FORM_TABLES, AdmArticle, AdmChapter, AdmNote, AdmWriter
from .conftest import HTML, ROOT, STAFF, MakeSite, Site, count_queries


@pytest.fixture
def extra_tables() -> tuple[str, ...]:
    return FORM_TABLES


@pytest.fixture
def site(make_site: MakeSite) -> Site:
    site = make_site({AdmArticle: None, AdmWriter: None, AdmNote: None})
    writer = AdmWriter(id=1, name="Ada")
    site.add(
        AdmArticle(id=1, title="First", writer=writer, notes=[AdmNote(id=1, text="Check")]),
        AdmArticle(id=2, title="Second", writer=writer),
    )
    return site


def count(site: Site, model: type[object]) -> int:
    with site.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_bulk_delete_needs_the_delete_permission_of_rows_deleted_with_the_selected(
    site: Site,
) -> None:
    site.add_user(STAFF, "adm_article.view", "adm_article.delete", is_staff=True)
    site.sign_in(STAFF)
    listing = site.client.get("/admin/adm_article/", headers=HTML)
    form = {
        "csrf_token": csrf_of(listing.text),
        "action": "delete_selected",
        "selected": ["1", "2"],
        "confirm": "yes",
    }

    response = site.client.post("/admin/adm_article/actions", data=form)

    assert response.status_code == 403
    assert response.json()["detail"] == (
        "Deleting them would delete adm notes too, which you may not delete."
    )
    assert (count(site, AdmArticle), count(site, AdmNote)) == (2, 1)


class EditableNoteInline(Inline):
    """Edited in place: the default."""

    model = AdmNote
    fields = ("text",)
    extra = 2


class ArticleAdmin(ModelAdmin):
    inlines = (EditableNoteInline,)


@pytest.fixture
def editing(make_site: MakeSite) -> Site:
    site = make_site({AdmArticle: ArticleAdmin, AdmWriter: None, AdmNote: None})
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    writer = AdmWriter(id=1, name="Ada")
    site.add(
        AdmArticle(id=1, title="First", writer=writer, notes=[AdmNote(id=1, text="Check")]),
    )
    site.sign_in(ROOT)
    return site


def edit_form(site: Site, **fields: str) -> dict[str, str]:
    page = site.client.get("/admin/adm_article/1/", headers=HTML)
    data = {
        "csrf_token": csrf_of(page.text),
        "title": "First",
        "views": "0",
        "kind": "news",
        "writer": "1",
        "adm_note-0-id": "1",
        "adm_note-0-text": "Check",
        "adm_note-1-text": "",
        "adm_note-2-text": "",
    }
    data.update(fields)
    return data


def notes(site: Site) -> list[tuple[int, int, str]]:
    with site.db.session() as session:
        rows = session.scalars(select(AdmNote).order_by(AdmNote.id))
        return [(note.id, note.article_id, note.text) for note in rows]


def test_the_edit_page_offers_the_inline_rows_and_blank_ones(editing: Site) -> None:
    page = editing.client.get("/admin/adm_article/1/", headers=HTML).text

    assert '<input type="hidden" name="adm_note-0-id" value="1">' in page
    assert '<input type="text" name="adm_note-0-text" value="Check" aria-label="Text">' in page
    assert '<input type="checkbox" name="adm_note-0-DELETE" aria-label="Delete">' in page
    assert '<input type="text" name="adm_note-2-text" value="" aria-label="Text">' in page
    assert 'name="adm_note-3-text"' not in page


def test_an_inline_row_is_changed_in_place(editing: Site) -> None:
    response = editing.client.post(
        "/admin/adm_article/1/", data=edit_form(editing, **{"adm_note-0-text": "Checked"})
    )

    assert response.status_code == 303
    assert notes(editing) == [(1, 1, "Checked")]


def test_a_filled_blank_row_adds_a_row_and_an_empty_one_is_ignored(editing: Site) -> None:
    response = editing.client.post(
        "/admin/adm_article/1/", data=edit_form(editing, **{"adm_note-2-text": "New"})
    )

    assert response.status_code == 303
    assert notes(editing) == [(1, 1, "Check"), (2, 1, "New")]


def test_a_ticked_delete_box_deletes_the_row(editing: Site) -> None:
    response = editing.client.post(
        "/admin/adm_article/1/", data=edit_form(editing, **{"adm_note-0-DELETE": "on"})
    )

    assert response.status_code == 303
    assert notes(editing) == []


def test_an_invalid_inline_value_saves_nothing_and_shows_the_error_by_its_field(
    editing: Site,
) -> None:
    form = edit_form(
        editing, title="Renamed", **{"adm_note-0-text": "x" * 201, "adm_note-1-text": "New"}
    )

    response = editing.client.post("/admin/adm_article/1/", data=form, headers=HTML)

    assert response.status_code == 422
    assert (
        f'<input type="text" name="adm_note-0-text" value="{"x" * 201}" aria-label="Text" '
        'aria-invalid="true">\n<p class="error">Enter at most 200 characters.</p>'
    ) in response.text
    assert notes(editing) == [(1, 1, "Check")]
    with editing.db.session() as session:
        article = session.get(AdmArticle, 1)
        assert article is not None
        assert article.title == "First"


def test_inline_changes_are_recorded_in_the_history(editing: Site) -> None:
    form = edit_form(editing, **{"adm_note-0-text": "Checked", "adm_note-1-text": "New"})

    editing.client.post("/admin/adm_article/1/", data=form)
    deletion = edit_form(
        editing,
        **{"adm_note-0-text": "Checked", "adm_note-1-id": "2", "adm_note-1-DELETE": "on"},
    )
    editing.client.post("/admin/adm_article/1/", data=deletion)

    with editing.db.session() as session:
        changed = history_of(session, AdmNote, 1)
        added = history_of(session, AdmNote, 2)
    assert [entry.action for entry in changed] == ["change"]
    assert changed[0].changes == [{"field": "text", "old": "Check", "new": "Checked"}]
    assert [entry.action for entry in added] == ["delete", "add"]
    assert added[1].changes is not None
    assert {"field": "text", "old": None, "new": "New"} in added[1].changes
    assert notes(editing) == [(1, 1, "Checked")]


def test_saving_inline_rows_needs_the_csrf_token(editing: Site) -> None:
    form = edit_form(editing, **{"adm_note-0-text": "Changed"})
    del form["csrf_token"]

    response = editing.client.post("/admin/adm_article/1/", data=form)

    assert response.status_code == 403
    assert notes(editing) == [(1, 1, "Check")]


def test_the_add_page_adds_the_row_and_its_inline_rows_together(editing: Site) -> None:
    page = editing.client.get("/admin/adm_article/add/", headers=HTML)
    form = {
        "csrf_token": csrf_of(page.text),
        "title": "Second",
        "views": "0",
        "kind": "news",
        "writer": "1",
        "adm_note-0-text": "Fresh",
        "adm_note-1-text": "",
    }

    response = editing.client.post("/admin/adm_article/add/", data=form)

    assert 'name="adm_note-0-text"' in page.text
    assert 'name="adm_note-2-text"' not in page.text
    assert response.status_code == 303
    assert notes(editing) == [(1, 1, "Check"), (2, 2, "Fresh")]


def test_inline_rows_follow_the_registered_inline_models_permissions(editing: Site) -> None:
    editing.add_user(STAFF, "adm_article.view", "adm_article.change", is_staff=True)
    editing.sign_in(STAFF)

    page = editing.client.get("/admin/adm_article/1/", headers=HTML).text
    form = edit_form(editing, **{"adm_note-0-text": "Changed", "adm_note-0-DELETE": "on"})
    response = editing.client.post("/admin/adm_article/1/", data=form)

    assert '<input type="hidden" name="adm_note-0-id" value="1">Check' in page
    assert 'name="adm_note-0-text"' not in page
    assert 'name="adm_note-0-DELETE"' not in page
    assert 'name="adm_note-1-text"' not in page
    assert response.status_code == 303
    assert notes(editing) == [(1, 1, "Check")]


class FullNoteInline(EditableNoteInline):
    max_rows = 1


class FullArticleAdmin(ModelAdmin):
    inlines = (FullNoteInline,)


def test_no_blank_rows_are_offered_past_max_rows(make_site: MakeSite) -> None:
    site = make_site({AdmArticle: FullArticleAdmin, AdmWriter: None, AdmNote: None})
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    writer = AdmWriter(id=1, name="Ada")
    site.add(AdmArticle(id=1, title="First", writer=writer, notes=[AdmNote(id=1, text="Check")]))
    site.sign_in(ROOT)

    page = site.client.get("/admin/adm_article/1/", headers=HTML).text
    form = {**edit_form(site), "adm_note-1-text": "One too many"}
    response = site.client.post("/admin/adm_article/1/", data=form)

    assert 'name="adm_note-0-text"' in page
    assert 'name="adm_note-1-text"' not in page
    assert response.status_code == 303
    assert notes(site) == [(1, 1, "Check")]


class ReviewedInline(Inline):
    model = AdmArticle
    fk_name = "writer_id"
    fields = ("title", "reviewer")


class WriterAdmin(ModelAdmin):
    inlines = (ReviewedInline,)


def writers_site(make_site: MakeSite, articles: int = 2) -> Site:
    site = make_site({AdmWriter: WriterAdmin, AdmArticle: None})
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    ada, grace = AdmWriter(id=1, name="Ada"), AdmWriter(id=2, name="Grace")
    site.add(ada, grace, AdmWriter(id=3, name="Adele <b>"))
    site.add(
        *(
            AdmArticle(
                id=index, title=f"A{index}", writer_id=1, reviewer_id=2 if index == 1 else None
            )
            for index in range(1, articles + 1)
        )
    )
    site.sign_in(ROOT)
    return site


def writer_form(site: Site, **fields: str) -> dict[str, str]:
    page = site.client.get("/admin/adm_writer/1/", headers=HTML)
    data = {
        "csrf_token": csrf_of(page.text),
        "name": "Ada",
        "adm_article-0-id": "1",
        "adm_article-0-title": "A1",
        "adm_article-0-reviewer": "2",
        "adm_article-1-id": "2",
        "adm_article-1-title": "A2",
        "adm_article-1-reviewer": "",
        "adm_article-2-title": "",
        "adm_article-2-reviewer": "",
    }
    data.update(fields)
    return data


def reviewers(site: Site) -> list[tuple[int, int | None]]:
    with site.db.session() as session:
        rows = session.scalars(select(AdmArticle).order_by(AdmArticle.id))
        return [(article.id, article.reviewer_id) for article in rows]


def test_a_foreign_key_in_an_inline_row_is_a_select_of_the_related_rows(
    make_site: MakeSite,
) -> None:
    site = writers_site(make_site)

    page = site.client.get("/admin/adm_writer/1/", headers=HTML).text

    options = (
        '<option value="">---------</option>'
        '<option value="1">Ada</option>'
        '<option value="3">Adele &lt;b&gt;</option>'
        '<option value="2"{}>Grace</option></select>'
    )
    assert (
        '<select name="adm_article-0-reviewer" id="adm_article-0-reviewer" aria-label="Reviewer">'
        + options.format(" selected")
    ) in page
    assert (
        '<select name="adm_article-1-reviewer" id="adm_article-1-reviewer" aria-label="Reviewer">'
        + options.format("")
    ) in page
    assert '<select name="adm_article-2-reviewer"' in page


def select_count(site: Site, articles: int) -> int:
    count, page = count_queries(site, "/admin/adm_writer/1/")
    # Each row and the blank one list every writer.
    assert page.count('<option value="3">Adele &lt;b&gt;</option>') == articles + 1
    return count


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_the_options_of_inline_selects_cost_the_same_queries_for_2_rows_as_for_40(
    make_site: MakeSite, backend: str
) -> None:
    site = writers_site(make_site, 2)
    few = select_count(site, 2)
    site.add(*(AdmArticle(id=index, title=f"A{index}", writer_id=1) for index in range(3, 41)))

    assert select_count(site, 40) == few


def test_a_related_row_chosen_in_an_inline_select_is_saved(make_site: MakeSite) -> None:
    site = writers_site(make_site)

    response = site.client.post(
        "/admin/adm_writer/1/", data=writer_form(site, **{"adm_article-1-reviewer": "3"})
    )

    assert response.status_code == 303
    assert reviewers(site) == [(1, 2), (2, 3)]


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        ("99", "Select a valid choice: no adm writer has the id 99."),
        ("x", "Enter a whole number."),
        ("1 OR 1=1", "Enter a whole number."),
        ("<script>", "Enter a whole number."),
    ],
)
def test_an_unknown_row_in_an_inline_select_is_an_error_beside_it_and_saves_nothing(
    make_site: MakeSite, sent: str, message: str
) -> None:
    site = writers_site(make_site)

    response = site.client.post(
        "/admin/adm_writer/1/",
        data=writer_form(site, **{"adm_article-0-reviewer": "3", "adm_article-1-reviewer": sent}),
    )

    assert response.status_code == 422
    assert reviewers(site) == [(1, 2), (2, None)]
    cell = response.text.split('name="adm_article-1-reviewer"', 1)[1].split("</td>", 1)[0]
    assert cell.endswith(f'<p class="error">{message}</p>\n')
    assert "<script>" not in response.text.split("<main", 1)[1]


class ChapterInline(Inline):
    model = AdmChapter
    fields = ("slug",)
    extra = 2


class ArticleWithChaptersAdmin(ModelAdmin):
    inlines = (ChapterInline,)


def chapters_site(make_site: MakeSite) -> Site:
    site = make_site({AdmArticle: ArticleWithChaptersAdmin, AdmWriter: None, AdmChapter: None})
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    writer = AdmWriter(id=1, name="Ada")
    site.add(
        AdmArticle(id=1, title="First", writer=writer),
        AdmArticle(id=2, title="Second", writer=writer),
    )
    site.add(AdmChapter(article_id=1, slug="intro"), AdmChapter(article_id=2, slug="end"))
    site.sign_in(ROOT)
    return site


def chapter_form(site: Site, **fields: str) -> dict[str, str]:
    page = site.client.get("/admin/adm_article/1/", headers=HTML)
    data = {
        "csrf_token": csrf_of(page.text),
        "title": "Renamed",
        "views": "0",
        "kind": "news",
        "writer": "1",
        "adm_chapter-0-id": "1",
        "adm_chapter-0-slug": "intro",
        "adm_chapter-1-slug": "",
        "adm_chapter-2-slug": "",
    }
    data.update(fields)
    return data


def chapters(site: Site) -> tuple[str, list[tuple[int, int, str]]]:
    with site.db.session() as session:
        title = session.scalar(select(AdmArticle.title).where(AdmArticle.id == 1))
        rows = session.scalars(select(AdmChapter).order_by(AdmChapter.id))
        return str(title), [(row.id, row.article_id, row.slug) for row in rows]


SAVED_BEFORE = ("First", [(1, 1, "intro"), (2, 2, "end")])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_a_taken_unique_value_in_an_inline_row_is_an_error_beside_it_and_saves_nothing(
    make_site: MakeSite, backend: str
) -> None:
    site = chapters_site(make_site)

    response = site.client.post(
        "/admin/adm_article/1/", data=chapter_form(site, **{"adm_chapter-2-slug": "end"})
    )

    assert response.status_code == 422
    assert chapters(site) == SAVED_BEFORE
    cell = response.text.split('name="adm_chapter-2-slug"', 1)[1].split("</td>", 1)[0]
    assert cell == (
        ' value="end" aria-label="Slug" aria-invalid="true">\n'
        '<p class="error">An adm chapter with this slug already exists.</p>\n'
    )
    assert '<div class="alert" role="alert"><p>Correct the rows marked below.</p></div>' in (
        response.text
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_two_inline_rows_with_the_same_unique_value_name_the_second_and_save_nothing(
    make_site: MakeSite, backend: str
) -> None:
    site = chapters_site(make_site)

    response = site.client.post(
        "/admin/adm_article/1/",
        data=chapter_form(site, **{"adm_chapter-1-slug": "twice", "adm_chapter-2-slug": "twice"}),
    )

    assert response.status_code == 422
    assert chapters(site) == SAVED_BEFORE
    first = response.text.split('name="adm_chapter-1-slug"', 1)[1].split("</td>", 1)[0]
    second = response.text.split('name="adm_chapter-2-slug"', 1)[1].split("</td>", 1)[0]
    assert first == ' value="twice" aria-label="Slug">\n'
    assert second == (
        ' value="twice" aria-label="Slug" aria-invalid="true">\n'
        '<p class="error">Another adm chapter above has the same slug, which must be unique.</p>\n'
    )
    assert '<tr class="row-errors">' not in response.text


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_a_new_inline_row_may_take_the_value_an_edited_row_gives_up(
    make_site: MakeSite, backend: str
) -> None:
    site = chapters_site(make_site)

    response = site.client.post(
        "/admin/adm_article/1/",
        data=chapter_form(site, **{"adm_chapter-0-slug": "opening", "adm_chapter-1-slug": "intro"}),
    )

    assert response.status_code == 303
    assert chapters(site) == ("Renamed", [(1, 1, "opening"), (2, 2, "end"), (3, 1, "intro")])


@pytest.mark.parametrize("backend", ["mysql"])
def test_rows_the_database_alone_sees_as_equal_show_its_refusal_on_the_row(
    make_site: MakeSite, backend: str
) -> None:
    # MariaDB's default collation ignores case: "Twice" and "twice" differ in
    # Python and clash in the database, which is the last word.
    site = chapters_site(make_site)

    response = site.client.post(
        "/admin/adm_article/1/",
        data=chapter_form(site, **{"adm_chapter-1-slug": "Twice", "adm_chapter-2-slug": "twice"}),
    )

    assert response.status_code == 422
    assert chapters(site) == SAVED_BEFORE
    after_row = response.text.split('name="adm_chapter-2-slug"', 1)[1].split("</tr>", 2)[1]
    assert after_row == (
        '\n<tr class="row-errors"><td colspan="2"><p class="error">The adm chapter could not be '
        "saved: the database refused it, as a value must be unique or must name a row that "
        "exists. Check the values and try again.</p></td>"
    )
