"""The add and edit pages: widgets, parsing, errors, buttons, permissions and the history."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import selectinload

from carboy.admin import Inline, ModelAdmin
from carboy.admin.history import LogEntry, history_of
from carboy.auth.user import User
from tests.auth._pages_app import csrf_of

from ._models import FORM_TABLES, AdmArticle, AdmNote, AdmTag, AdmWriter, Kind
from .conftest import HTML, ROOT, STAFF, MakeSite, Site


class ArticleAdmin(ModelAdmin):
    list_display = ("title",)


@pytest.fixture
def extra_tables() -> tuple[str, ...]:
    return FORM_TABLES


@pytest.fixture
def site(make_site: MakeSite) -> Site:
    site = make_site({AdmArticle: ArticleAdmin, AdmWriter: None, AdmTag: None})
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    site.add(
        AdmWriter(id=1, name="Ada"),
        AdmWriter(id=2, name="Grace"),
        AdmTag(id=1, name="python"),
        AdmTag(id=2, name="sql"),
    )
    return site


def stored_article(site: Site, ident: int = 1) -> AdmArticle | None:
    with site.db.session() as session:
        return session.scalar(
            select(AdmArticle).where(AdmArticle.id == ident).options(selectinload(AdmArticle.tags))
        )


def article_count(site: Site) -> int:
    with site.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(AdmArticle)) or 0)


def send(site: Site, path: str, data: dict[str, Any], page: str | None = None) -> Any:
    """POST ``data`` to ``path`` with the CSRF token of the page at ``page`` (or ``path``)."""
    form = site.client.get(page or path, headers=HTML)
    return site.client.post(path, data={"csrf_token": csrf_of(form.text), **data})


def field_html(text: str, name: str) -> str:
    """Return the ``<div class="field">`` that holds the element named ``name``."""
    found = re.search(
        rf'<div class="field">(?:(?!<div class="field).)*?name="{name}".*?</div>', text, re.S
    )
    if found is None:
        raise AssertionError(f"No field {name!r} on the page.")
    return found.group(0)


def form_values(page: str) -> dict[str, Any]:
    """Return what a browser would send for the page's form as it is drawn."""
    values: dict[str, Any] = dict(
        re.findall(
            r'<input type="(?!checkbox)[a-z-]+" name="(\w+)" id="id_\w+"[^>]* value="([^"]*)"', page
        )
    )
    for name in re.findall(r'<input type="checkbox" name="(\w+)"[^>]* checked>', page):
        values[name] = "on"
    for name, options in re.findall(r'<select name="(\w+)".*?>(.*?)</select>', page):
        values[name] = re.findall(r'<option value="([^"]*)" selected>', options)
    values["csrf_token"] = csrf_of(page)
    return values


def an_article(site: Site, **values: Any) -> None:
    fields: dict[str, Any] = {"id": 1, "title": "First", "writer_id": 1, **values}
    site.add(AdmArticle(**fields))


# Widgets --------------------------------------------------------------------------------


def test_the_add_page_draws_each_kind_of_column_with_its_widget(site: Site) -> None:
    site.sign_in(ROOT)

    response = site.client.get("/admin/adm_article/add/", headers=HTML)

    assert response.status_code == 200
    page = response.text
    assert "<h1>Add adm article</h1>" in page
    assert field_html(page, "title") == (
        '<div class="field"><label for="id_title">Title</label><input type="text" '
        'name="title" id="id_title" required maxlength="20"></div>'
    )
    assert '<textarea name="summary" id="id_summary" rows="6">\n</textarea>' in page
    assert (
        '<input type="number" name="views" id="id_views" min="-2147483648" max="2147483647" '
        'value="0">'
    ) in page
    assert '<input type="number" name="rating" id="id_rating" step="any">' in page
    assert '<input type="number" name="price" id="id_price" step="any">' in page
    assert '<input type="date" name="published_on" id="id_published_on">' in page
    assert '<input type="datetime-local" name="publish_at" id="id_publish_at" step="1">' in page
    assert (
        '<input type="checkbox" name="is_featured" id="id_is_featured">'
        '<label for="id_is_featured">Is featured</label>'
    ) in page
    assert (
        '<select name="kind" id="id_kind"><option value="news" selected>News</option>'
        '<option value="long">Long read</option></select>'
    ) in page
    assert (
        '<select name="size" id="id_size"><option value="">---------</option>'
        '<option value="s">Small</option><option value="l">Large</option></select>'
    ) in page
    assert '<textarea name="extra" id="id_extra" rows="8" spellcheck="false">' in page
    assert field_html(page, "cover") == (
        '<div class="field"><label for="id_cover">Cover</label><input type="file" '
        'name="cover" id="id_cover"></div>'
    )
    assert '<form method="post" action="" enctype="multipart/form-data"' in page
    assert (
        '<select name="writer" id="id_writer"><option value="">---------</option>'
        '<option value="1">Ada</option><option value="2">Grace</option></select>'
    ) in page
    assert (
        '<select name="tags" id="id_tags" multiple size="4"><option value="1">python</option>'
        '<option value="2">sql</option></select>'
    ) in page
    assert 'name="id"' not in page
    assert "Created at" not in page
    assert 'name="writer_id"' not in page


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_adding_reads_every_widget_and_stores_the_row(site: Site, backend: str) -> None:
    site.sign_in(ROOT)

    response = send(
        site,
        "/admin/adm_article/add/",
        {
            "title": "Hello",
            "summary": "Two\nlines",
            "views": "12",
            "rating": "4.5",
            "price": "19.90",
            "published_on": "2024-05-01",
            "publish_at": "2024-05-01T10:30",
            "is_featured": "on",
            "kind": "long",
            "size": "l",
            "extra": '{"pages": [1, 2], "draft": false}',
            "writer": "2",
            "reviewer": "1",
            "tags": ["2", "1"],
        },
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/admin/adm_article/"
    article = stored_article(site)
    assert article is not None
    assert (article.title, article.summary, article.views) == ("Hello", "Two\nlines", 12)
    assert (article.rating, article.price) == (4.5, Decimal("19.90"))
    assert article.published_on == date(2024, 5, 1)
    assert article.publish_at == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
    assert (article.is_featured, article.kind, article.size) == (True, Kind.LONG_READ, "l")
    assert article.extra == {"pages": [1, 2], "draft": False}
    assert (article.writer_id, article.reviewer_id) == (2, 1)
    assert [tag.name for tag in article.tags] == ["python", "sql"]
    assert article.created_at is not None
    listing = site.client.get("/admin/adm_article/", headers=HTML).text
    assert "The adm article “Hello” was added." in listing


def test_empty_fields_store_null_where_nullable_and_the_defaults_elsewhere(site: Site) -> None:
    site.sign_in(ROOT)

    response = send(
        site,
        "/admin/adm_article/add/",
        {"title": "Bare", "writer": "1", "summary": "", "rating": "", "extra": "", "views": ""},
    )

    assert response.status_code == 303
    article = stored_article(site)
    assert article is not None
    assert (article.summary, article.rating, article.price, article.extra) == (
        None,
        None,
        None,
        None,
    )
    assert (article.views, article.kind, article.is_featured) == (0, Kind.NEWS, False)
    assert (article.reviewer_id, article.tags) == (None, [])


# Errors ---------------------------------------------------------------------------------


def test_errors_are_shown_next_to_their_fields_with_what_was_typed(site: Site) -> None:
    site.sign_in(ROOT)

    response = send(
        site,
        "/admin/adm_article/add/",
        {"title": "", "views": "many", "extra": "{oops", "price": "1.234", "writer": ""},
    )

    assert response.status_code == 422
    page = response.text
    assert '<div class="alert" role="alert">\n<p>Correct the fields marked below.</p>' in page
    assert field_html(page, "title") == (
        '<div class="field"><label for="id_title">Title</label><input type="text" '
        'name="title" id="id_title" required maxlength="20" aria-invalid="true" '
        'aria-describedby="id_title-error"><p class="field-error" id="id_title-error">'
        "This field is required.</p></div>"
    )
    assert (
        'aria-invalid="true" aria-describedby="id_views-error" value="many"><p '
        'class="field-error" id="id_views-error">Enter a whole number.</p>'
    ) in page
    assert "\n{oops</textarea>" in page
    assert (
        '<p class="field-error" id="id_extra-error">Enter valid JSON: Expecting property name '
        "enclosed in double quotes (line 1, column 2).</p>"
    ) in page
    assert '<p class="field-error" id="id_price-error">Enter at most 2 decimal places.</p>' in page
    assert '<p class="field-error" id="id_writer-error">This field is required.</p>' in page
    assert article_count(site) == 0


def test_a_text_longer_than_its_column_is_an_error(site: Site) -> None:
    site.sign_in(ROOT)

    response = send(site, "/admin/adm_article/add/", {"title": "x" * 21, "writer": "1"})

    assert response.status_code == 422
    assert '<p class="field-error" id="id_title-error">Enter at most 20 characters.</p>' in (
        response.text
    )


def test_ids_that_name_no_row_are_errors_on_their_fields(site: Site) -> None:
    site.sign_in(ROOT)

    response = send(
        site,
        "/admin/adm_article/add/",
        {"title": "T", "writer": "99", "tags": ["1", "77"], "reviewer": "1"},
    )
    too_big = send(
        site, "/admin/adm_article/add/", {"title": "T", "writer": "1", "reviewer": "2147483648"}
    )

    assert response.status_code == 422
    assert (
        '<p class="field-error" id="id_writer-error">Select a valid choice: no adm writer has '
        "the id 99.</p>"
    ) in response.text
    assert (
        '<p class="field-error" id="id_tags-error">Select valid choices: no adm tag has the id '
        "77.</p>"
    ) in response.text
    assert too_big.status_code == 422
    assert (
        '<p class="field-error" id="id_reviewer-error">Enter a number up to 2147483647.</p>'
    ) in too_big.text
    assert article_count(site) == 0


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_a_value_that_must_be_unique_and_is_taken_is_an_error_on_its_field(
    site: Site, backend: str
) -> None:
    site.sign_in(ROOT)

    response = send(site, "/admin/adm_writer/add/", {"name": "Ada"})

    assert response.status_code == 422
    assert (
        '<p class="field-error" id="id_name-error">An adm writer with this name already exists.</p>'
    ) in response.text
    assert 'value="Ada"' in response.text
    with site.db.session() as session:
        assert session.scalar(select(func.count()).select_from(AdmWriter)) == 2


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_renaming_to_a_taken_unique_value_is_an_error_and_changes_nothing(
    site: Site, backend: str
) -> None:
    site.sign_in(ROOT)

    response = send(site, "/admin/adm_writer/2/", {"name": "Ada"})

    assert response.status_code == 422
    assert "An adm writer with this name already exists." in response.text
    assert "<h1>Change adm writer: Grace</h1>" in response.text
    with site.db.session() as session:
        assert session.get(AdmWriter, 2).name == "Grace"  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(LogEntry)) == 0


def test_a_validation_error_then_its_fix_saves_the_change(site: Site) -> None:
    an_article(site)
    site.sign_in(ROOT)

    wrong = send(site, "/admin/adm_article/1/", {"title": "", "writer": "1"})
    fixed = send(site, "/admin/adm_article/1/", {"title": "Second", "writer": "1"})

    assert wrong.status_code == 422
    assert '<p class="field-error" id="id_title-error">This field is required.</p>' in wrong.text
    assert fixed.status_code == 303
    article = stored_article(site)
    assert article is not None
    assert article.title == "Second"


# The edit page and its buttons ----------------------------------------------------------


def test_the_edit_page_shows_the_rows_values(site: Site) -> None:
    an_article(
        site,
        summary="<b>bold</b>",
        price=Decimal("5.00"),
        publish_at=datetime(2024, 2, 3, 4, 5, 6, 789, tzinfo=UTC),
        is_featured=True,
        kind=Kind.LONG_READ,
        extra={"a": [1]},
        reviewer_id=2,
    )
    with site.db.session() as session:
        article = session.get(AdmArticle, 1)
        article.tags = [session.get(AdmTag, 2)]  # type: ignore[list-item, union-attr]
        session.commit()
    site.sign_in(ROOT)

    page = site.client.get("/admin/adm_article/1/", headers=HTML).text

    assert "<h1>Change adm article: First</h1>" in page
    assert 'name="title" id="id_title" required maxlength="20" value="First">' in page
    assert '<textarea name="summary" id="id_summary" rows="6">\n&lt;b&gt;bold&lt;/b&gt;' in page
    assert 'name="price" id="id_price" step="any" value="5.00">' in page
    assert 'id="id_publish_at" step="1" value="2024-02-03T04:05:06">' in page
    assert 'id="id_is_featured" checked>' in page
    assert '<option value="long" selected>Long read</option>' in page
    assert ">\n{\n  &#34;a&#34;: [\n    1\n  ]\n}</textarea>" in page
    assert '<option value="2" selected>Grace</option>' in field_html(page, "reviewer")
    assert '<option value="2" selected>sql</option>' in field_html(page, "tags")
    assert '<a href="/admin/adm_article/1/history/">History</a>' in page
    assert '<a href="/admin/adm_article/1/delete/" class="danger-link">Delete</a>' in page


@pytest.mark.parametrize(
    ("button", "location", "message"),
    [
        ("_save", "/admin/adm_article/", "The adm article “Saved” was changed."),
        (
            "_continue",
            "/admin/adm_article/1/",
            "The adm article “Saved” was changed. You may edit it again below.",
        ),
        (
            "_addanother",
            "/admin/adm_article/add/",
            "The adm article “Saved” was changed. You may add another adm article below.",
        ),
    ],
)
def test_each_save_button_goes_to_its_page(
    site: Site, button: str, location: str, message: str
) -> None:
    an_article(site)
    site.sign_in(ROOT)

    response = send(site, "/admin/adm_article/1/", {"title": "Saved", "writer": "1", button: "1"})
    following = site.client.get(location, headers=HTML)

    assert response.status_code == 303
    assert response.headers["location"] == location
    assert f'<p class="flash flash-success" role="status">{message}</p>' in following.text
    if button == "_addanother":
        assert 'name="title" id="id_title" required maxlength="20">' in following.text


def test_save_and_continue_after_adding_goes_to_the_new_rows_page(site: Site) -> None:
    site.sign_in(ROOT)

    response = send(
        site, "/admin/adm_article/add/", {"title": "New", "writer": "1", "_continue": "1"}
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/admin/adm_article/1/"


# Options --------------------------------------------------------------------------------


class LaidOutArticleAdmin(ModelAdmin):
    fieldsets = (("Main", ("title", "writer_id", "views")), ("Dates", ("created_at",)))
    readonly_fields = ("views",)


def test_fieldsets_and_readonly_fields_lay_out_the_form(make_site: MakeSite) -> None:
    site = make_site({AdmArticle: LaidOutArticleAdmin, AdmWriter: None})
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    site.add(AdmWriter(id=1, name="Ada"))
    an_article(site, views=7)
    site.sign_in(ROOT)

    page = site.client.get("/admin/adm_article/1/", headers=HTML).text
    response = send(site, "/admin/adm_article/1/", {"title": "T", "writer": "1", "views": "99"})

    assert re.findall(r"<legend>(.*?)</legend>", page) == ["Main", "Dates"]
    assert re.findall(r'name="(\w+)" id="id_', page) == ["title", "writer"]
    assert '<span class="label">Views</span>\n<div class="value">7</div>' in page
    assert '<span class="label">Created at</span>' in page
    assert response.status_code == 303
    article = stored_article(site)
    assert article is not None
    assert (article.title, article.views) == ("T", 7)


class ShortArticleAdmin(ModelAdmin):
    fields = ("title", "writer", "summary", "tags")
    exclude = ("summary",)


def test_fields_choose_and_order_the_fields_and_exclude_removes_some(
    make_site: MakeSite,
) -> None:
    site = make_site({AdmArticle: ShortArticleAdmin})
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    site.add(AdmWriter(id=1, name="Ada"))
    site.sign_in(ROOT)

    page = site.client.get("/admin/adm_article/add/", headers=HTML).text

    assert re.findall(r'name="(\w+)" id="id_', page) == ["title", "writer", "tags"]


# Permissions ----------------------------------------------------------------------------


def test_staff_who_may_only_view_see_the_values_without_save_buttons(site: Site) -> None:
    an_article(site, title="<script>x</script>")
    site.add_user(STAFF, "adm_article.view", is_staff=True)
    site.sign_in(STAFF)

    response = site.client.get("/admin/adm_article/1/", headers=HTML)

    assert response.status_code == 200
    assert "<h1>View adm article: &lt;script&gt;x&lt;/script&gt;</h1>" in response.text
    assert (
        '<span class="label">Title</span>\n<div class="value">&lt;script&gt;x&lt;/script&gt;</div>'
    ) in response.text
    assert "<button" not in response.text.split("<main")[1]
    assert "<input" not in response.text.split("<main")[1]
    assert "Delete</a>" not in response.text


def test_staff_who_may_only_view_cannot_save(site: Site) -> None:
    an_article(site)
    site.add_user(STAFF, "adm_article.view", is_staff=True)
    site.sign_in(STAFF)

    response = send(
        site, "/admin/adm_article/1/", {"title": "Changed", "writer": "1"}, "/admin/adm_article/"
    )

    assert response.status_code == 403
    assert response.json()["detail"] == (
        "You may not change adm articles: you lack the permission adm_article.change. Ask an "
        "administrator for it."
    )
    article = stored_article(site)
    assert article is not None
    assert article.title == "First"


def test_adding_needs_the_add_permission(site: Site) -> None:
    site.add_user(STAFF, "adm_article.view", "adm_article.change", is_staff=True)
    site.sign_in(STAFF)

    page = site.client.get("/admin/adm_article/add/")
    response = site.client.post(
        "/admin/adm_article/add/", data={"title": "T", "writer": "1"}, headers=HTML
    )

    assert page.status_code == 403
    assert page.json()["detail"] == (
        "You may not add adm articles: you lack the permission adm_article.add. Ask an "
        "administrator for it."
    )
    assert response.status_code == 403
    assert article_count(site) == 0


def test_staff_who_may_change_but_not_add_get_no_save_and_add_another(site: Site) -> None:
    an_article(site)
    site.add_user(STAFF, "adm_article.view", "adm_article.change", is_staff=True)
    site.sign_in(STAFF)

    page = site.client.get("/admin/adm_article/1/", headers=HTML).text

    assert '<button type="submit" name="_save" value="1">Save</button>' in page
    assert "Save and add another" not in page


@pytest.mark.parametrize(
    "path", ["/admin/adm_article/add/", "/admin/adm_article/1/", "/admin/adm_article/1/delete/"]
)
def test_every_form_needs_the_csrf_token(site: Site, path: str) -> None:
    an_article(site)
    site.sign_in(ROOT)

    response = site.client.post(path, data={"title": "Forged", "writer": "1"})

    assert response.status_code == 403
    article = stored_article(site)
    assert article is not None
    assert article.title == "First"
    assert article_count(site) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/admin/adm_article/abc/",
        "/admin/adm_article/99/",
        "/admin/adm_article/1.5/",
        "/admin/adm_article/-1/",
        "/admin/adm_article/99999999999999999999999/",
        "/admin/adm_article/2147483648/",
        "/admin/adm_article/99/history/",
        "/admin/adm_article/x/delete/",
    ],
)
def test_a_bad_or_unknown_id_is_not_found(site: Site, path: str) -> None:
    site.sign_in(ROOT)

    response = site.client.get(path)

    assert response.status_code == 404
    assert response.json()["detail"] == "No adm article has this id."


# History --------------------------------------------------------------------------------


def test_adding_and_changing_are_recorded_with_old_and_new_values(site: Site) -> None:
    site.sign_in(ROOT)

    send(site, "/admin/adm_article/add/", {"title": "One", "writer": "1", "tags": ["1"]})
    send(
        site,
        "/admin/adm_article/1/",
        {"title": "Two", "writer": "2", "tags": ["1", "2"], "views": "0", "kind": "news"},
    )

    with site.db.session() as session:
        changed, added = history_of(session, AdmArticle, 1)
    assert (added.action, added.user_repr, added.object_repr) == ("add", ROOT, "One")
    assert {"field": "title", "old": None, "new": "One"} in added.changes
    assert {"field": "tags", "old": None, "new": ["python"]} in added.changes
    assert (changed.action, changed.user_repr, changed.object_repr) == ("change", ROOT, "Two")
    assert changed.changes == [
        {"field": "title", "old": "One", "new": "Two"},
        {"field": "writer_id", "old": 1, "new": 2},
        {"field": "tags", "old": ["python"], "new": ["python", "sql"]},
    ]


def test_saving_an_unchanged_form_records_nothing(site: Site) -> None:
    an_article(site, publish_at=datetime(2024, 1, 1, 9, 0, 0, 123456, tzinfo=UTC))
    site.sign_in(ROOT)
    page = site.client.get("/admin/adm_article/1/", headers=HTML).text

    response = site.client.post("/admin/adm_article/1/", data=form_values(page))

    assert response.status_code == 303
    with site.db.session() as session:
        assert history_of(session, AdmArticle, 1) == []
        article = session.get(AdmArticle, 1)
        assert article.publish_at == datetime(2024, 1, 1, 9, 0, 0, 123456, tzinfo=UTC)  # type: ignore[union-attr]


def test_the_history_page_lists_each_change_escaped(site: Site) -> None:
    an_article(site)
    site.sign_in(ROOT)
    send(site, "/admin/adm_article/1/", {"title": "<script>x</script>", "writer": "1"})

    response = site.client.get("/admin/adm_article/1/history/", headers=HTML)

    assert response.status_code == 200
    page = response.text
    assert "<h1>History of &lt;script&gt;x&lt;/script&gt;</h1>" in page
    assert '<span class="tag tag-change">change</span> by root@example.com, <time' in page
    assert (
        '<tr><th scope="row">Title</th><td>First</td><td>&lt;script&gt;x&lt;/script&gt;</td></tr>'
    ) in page
    assert "<script>x" not in page


def test_the_history_page_names_related_rows_and_says_when_in_utc(site: Site) -> None:
    site.add(AdmWriter(id=3, name="Gone <b>"))
    an_article(site, writer_id=3)
    site.sign_in(ROOT)
    send(site, "/admin/adm_article/1/", {"title": "First", "writer": "1", "tags": ["1"]})
    send(site, "/admin/adm_article/1/", {"title": "First", "writer": "2", "tags": ["1", "2"]})
    with site.db.session() as session:
        session.execute(delete(AdmWriter).where(AdmWriter.id == 3))
        session.commit()
        times = [entry.action_time for entry in history_of(session, AdmArticle, 1)]

    page = site.client.get("/admin/adm_article/1/history/", headers=HTML).text

    rows = re.findall(
        r'<tr><th scope="row">(Writer|Tags)</th><td>(.*?)</td><td>(.*?)</td></tr>', page
    )
    assert rows == [
        ("Writer", "Ada", "Grace"),
        ("Tags", "python", "python, sql"),
        ("Writer", "3", "Ada"),
        ("Tags", "-", "python"),
    ]
    for moment in times:
        shown = f"{moment.day} {moment:%b %Y, %H:%M} UTC"
        assert f'<time datetime="{moment.isoformat()}">{shown}</time>' in page
    dashboard = site.client.get("/admin/", headers=HTML).text
    assert f'<time datetime="{times[0].isoformat()}">{shown}</time>' in dashboard


def test_the_edit_page_never_shows_a_password_and_its_history_masks_it(
    make_site: MakeSite,
) -> None:
    site = make_site({User: None})
    root = site.add_user(ROOT, is_staff=True, is_superuser=True)
    site.sign_in(ROOT)
    path = f"/admin/auth_user/{root.id}/"

    page = site.client.get(path, headers=HTML).text
    response = site.client.post(path, data={**form_values(page), "email": "boss@example.com"})

    assert '<span class="label">Password</span>\n<div class="value">********</div>' in page
    assert 'name="password"' not in page
    assert response.status_code == 303
    with site.db.session() as session:
        (entry,) = history_of(session, User, root.id)
    assert entry.changes == [{"field": "email", "old": ROOT, "new": "boss@example.com"}]


class NoteInline(Inline):
    model = AdmNote
    is_editable = False


class ArticleWithNotesAdmin(ModelAdmin):
    inlines = (NoteInline,)


def test_an_inline_not_editable_lists_the_rows_that_point_at_the_row(make_site: MakeSite) -> None:
    site = make_site({AdmArticle: ArticleWithNotesAdmin, AdmNote: None})
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    site.add(AdmWriter(id=1, name="Ada"))
    an_article(site, notes=[AdmNote(id=1, text="<em>Check</em>"), AdmNote(id=2, text="Typo")])
    an_article(site, id=2, title="Other", notes=[AdmNote(id=3, text="Elsewhere")])
    site.sign_in(ROOT)

    page = site.client.get("/admin/adm_article/1/", headers=HTML).text

    assert (
        '<h2 id="inline-1">Adm notes</h2>\n<div class="table-wrap">\n<table>\n'
        '<thead><tr><th scope="col">Text</th></tr></thead>\n<tbody>\n'
        '<tr><td><a href="/admin/adm_note/1/">&lt;em&gt;Check&lt;/em&gt;</a></td></tr>\n'
        '<tr><td><a href="/admin/adm_note/2/">Typo</a></td></tr>\n</tbody>'
    ) in page
    assert "Elsewhere" not in page
