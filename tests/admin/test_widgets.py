"""The admin's search boxes (autocomplete) and file inputs, over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import LargeBinary, String, event, insert, select
from sqlalchemy.orm import Mapped, mapped_column, selectinload

from carboy.admin import ModelAdmin
from carboy.admin.history import history_of
from carboy.db import Model
from carboy.requests import Limits
from tests.auth._pages_app import csrf_of

from ._models import FORM_TABLES, AdmArticle, AdmTag, AdmWriter
from .conftest import HTML, ROOT, STAFF, MakeSite, Site
from .test_forms import field_html


class ArticleAdmin(ModelAdmin):
    autocomplete_fields = ("reviewer", "tags")


class WriterAdmin(ModelAdmin):
    search_fields = ("name",)
    ordering = ("name",)


class TagAdmin(ModelAdmin):
    search_fields = ("name",)


class AdmAttachment(Model):
    """A file that every row must have: a NOT NULL binary column without a default."""

    __tablename__ = "adm_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    content: Mapped[bytes] = mapped_column(LargeBinary)


@pytest.fixture
def extra_tables() -> tuple[str, ...]:
    return (*FORM_TABLES, "adm_attachment")


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def site(make_site: MakeSite) -> Site:
    site = make_site({AdmArticle: ArticleAdmin, AdmWriter: WriterAdmin, AdmTag: TagAdmin})
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    site.add(
        AdmWriter(id=1, name="Ada Lovelace"),
        AdmWriter(id=2, name="<i>Grace</i> Hopper"),
        AdmWriter(id=3, name="Adele Goldberg"),
        AdmTag(id=1, name="python"),
        AdmTag(id=2, name="sql"),
    )
    return site


def an_article(site: Site, **values: Any) -> None:
    site.add(AdmArticle(**{"id": 1, "title": "First", "writer_id": 1, **values}))


def stored_article(site: Site) -> AdmArticle | None:
    with site.db.session() as session:
        return session.scalar(
            select(AdmArticle).where(AdmArticle.id == 1).options(selectinload(AdmArticle.tags))
        )


def post(site: Site, path: str, data: dict[str, Any], files: Any = None) -> Any:
    page = site.client.get(path, headers=HTML)
    return site.client.post(
        path, data={"csrf_token": csrf_of(page.text), **data}, files=files, headers=HTML
    )


SEARCH = "/admin/adm_article/autocomplete"


# The endpoint ---------------------------------------------------------------------------


def test_the_endpoint_searches_the_related_models_search_fields_in_its_order(site: Site) -> None:
    site.sign_in(ROOT)

    response = site.client.get(SEARCH, params={"field": "reviewer", "q": "ad"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "results": [{"id": "1", "text": "Ada Lovelace"}, {"id": "3", "text": "Adele Goldberg"}],
        "more": False,
    }


def test_the_endpoint_answers_many_to_many_fields_and_an_empty_search_lists_all(
    site: Site,
) -> None:
    site.sign_in(ROOT)

    response = site.client.get(SEARCH, params={"field": "tags"})

    assert response.status_code == 200
    assert response.json() == {
        "results": [{"id": "1", "text": "python"}, {"id": "2", "text": "sql"}],
        "more": False,
    }


def test_the_endpoint_pages_by_20_rows_stably(site: Site) -> None:
    with site.db.session() as session:
        session.execute(
            insert(AdmWriter), [{"id": 100 + n, "name": f"Zed {n:02}"} for n in range(45)]
        )
        session.commit()
    site.sign_in(ROOT)

    pages = [
        site.client.get(SEARCH, params={"field": "reviewer", "q": "zed", "page": str(n)}).json()
        for n in (1, 2, 3)
    ]

    assert [len(page["results"]) for page in pages] == [20, 20, 5]
    assert [page["more"] for page in pages] == [True, True, False]
    names = [item["text"] for page in pages for item in page["results"]]
    assert names == [f"Zed {n:02}" for n in range(45)]


@pytest.mark.parametrize(
    "search",
    ["' OR 1=1 --", "%", "_", "ada'; DROP TABLE adm_writer; --", "<script>alert(1)</script>"],
)
def test_sql_and_script_in_the_search_find_nothing_and_change_nothing(
    site: Site, search: str
) -> None:
    site.sign_in(ROOT)

    response = site.client.get(SEARCH, params={"field": "reviewer", "q": search})

    assert response.status_code == 200
    assert response.json() == {"results": [], "more": False}
    with site.db.session() as session:
        assert len(list(session.scalars(select(AdmWriter)))) == 3


def test_a_rows_name_is_sent_as_json_text_never_as_html(site: Site) -> None:
    site.sign_in(ROOT)

    response = site.client.get(SEARCH, params={"field": "reviewer", "q": "grace"})

    assert response.json() == {
        "results": [{"id": "2", "text": "<i>Grace</i> Hopper"}],
        "more": False,
    }
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {},
            "The adm article has no relationship ''. Give the name of a field of its "
            "autocomplete_fields as field=.",
        ),
        (
            {"field": "nope"},
            "The adm article has no relationship 'nope'. Give the name of a field of its "
            "autocomplete_fields as field=.",
        ),
        (
            {"field": "title"},
            "The adm article has no relationship 'title'. Give the name of a field of its "
            "autocomplete_fields as field=.",
        ),
        (
            {"field": "writer"},
            "The field 'writer' is not in autocomplete_fields of the adm article, so it has no "
            "search. Add it there to search it.",
        ),
        (
            {"field": "reviewer", "page": "0"},
            "The page '0' is not a page number. Give a whole number from 1 to 10000.",
        ),
        (
            {"field": "reviewer", "page": "two"},
            "The page 'two' is not a page number. Give a whole number from 1 to 10000.",
        ),
        (
            {"field": "reviewer", "page": "-1"},
            "The page '-1' is not a page number. Give a whole number from 1 to 10000.",
        ),
        (
            {"field": "reviewer", "q": "a" * 201},
            "The search is 201 characters long; the most is 200. Search for fewer words.",
        ),
    ],
)
def test_a_bad_field_page_or_search_is_a_400_that_says_why(
    site: Site, params: dict[str, str], message: str
) -> None:
    site.sign_in(ROOT)

    response = site.client.get(SEARCH, params=params)

    assert response.status_code == 400
    assert response.json()["detail"] == message


def test_the_endpoint_is_for_staff_only(site: Site) -> None:
    site.add_user(STAFF, "adm_writer.view")
    site.sign_in(STAFF, "/auth/login")

    anonymous = site.client.__class__(site.app).get(SEARCH, params={"field": "reviewer"})
    signed_in = site.client.get(SEARCH, params={"field": "reviewer"})

    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/admin/login?next=")
    assert signed_in.status_code == 403


@pytest.mark.parametrize(
    ("permissions", "status"),
    [
        ((), 403),
        (("adm_article.view",), 403),
        (("adm_writer.view",), 200),
        (("adm_article.add",), 200),
        (("adm_article.change",), 200),
    ],
)
def test_the_endpoint_needs_to_view_the_related_model_or_edit_the_model(
    site: Site, permissions: tuple[str, ...], status: int
) -> None:
    site.add_user(STAFF, *permissions, is_staff=True)
    site.sign_in(STAFF)

    response = site.client.get(SEARCH, params={"field": "reviewer", "q": "ad"})

    assert response.status_code == status
    if status == 403:
        assert response.json()["detail"] == (
            "You may not search adm writers: you need the permission adm_writer.view, or to add "
            "or change adm articles."
        )
    else:
        assert [item["id"] for item in response.json()["results"]] == ["1", "3"]


# The search box -------------------------------------------------------------------------


def test_a_search_box_names_its_rows_links_the_lookup_and_marks_the_script(site: Site) -> None:
    an_article(site, reviewer_id=2)
    site.sign_in(ROOT)

    response = site.client.get("/admin/adm_article/1/", headers=HTML)
    page = response.text

    assert field_html(page, "reviewer") == (
        '<div class="field"><label for="id_reviewer">Reviewer</label><input type="text" '
        'name="reviewer" id="id_reviewer" aria-describedby="id_reviewer-current" '
        'data-autocomplete="/admin/adm_article/autocomplete?field=reviewer" '
        'data-labels="{&#34;2&#34;: &#34;&lt;i&gt;Grace&lt;/i&gt; Hopper&#34;}" value="2" '
        'inputmode="numeric"> '
        '<span class="related-current" id="id_reviewer-current">An id (now: &lt;i&gt;Grace'
        '&lt;/i&gt; Hopper)</span> <a class="related-lookup" href="/admin/adm_writer/" '
        'target="_blank">Look up adm writers</a></div>'
    )
    assert (
        '<input type="text" name="tags" id="id_tags" aria-describedby="id_tags-current" '
        'data-autocomplete="/admin/adm_article/autocomplete?field=tags" data-labels="{}" '
        'data-multiple> <span class="related-current" '
        'id="id_tags-current">Ids, separated by commas (now: none)</span> '
        '<a class="related-lookup" href="/admin/adm_tag/" target="_blank">Look up adm tags</a>'
    ) in page
    # The script carries the request's CSP nonce, which the admin's policy requires.
    nonce = response.headers["content-security-policy"].split("'nonce-", 1)[1].split("'", 1)[0]
    script = f'<script src="/static/carboy/admin/autocomplete.js" nonce="{nonce}" defer></script>'
    assert script in page


def test_the_script_is_served_from_the_admins_static_folder(site: Site) -> None:
    response = site.client.get("/static/carboy/admin/autocomplete.js")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert 'role", "combobox"' in response.text
    assert "http" not in response.text.replace("https://", "")


def test_search_boxes_save_the_ids_typed_without_javascript(site: Site, backend: str) -> None:
    an_article(site, reviewer_id=2)
    site.sign_in(ROOT)

    response = post(
        site,
        "/admin/adm_article/1/",
        {"title": "T", "writer": "1", "reviewer": "3", "tags": "2, 1"},
    )

    assert response.status_code == 303
    article = stored_article(site)
    assert article is not None
    assert (article.reviewer_id, [tag.id for tag in article.tags]) == (3, [1, 2])


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"reviewer": "99"}, "reviewer", "Select a valid choice: no adm writer has the id 99."),
        ({"tags": "1, 98, 99"}, "tags", "Select valid choices: no adm tag has the id 98, 99."),
        ({"reviewer": "x' OR 1=1"}, "reviewer", "Enter a whole number."),
        ({"reviewer": "99999999999"}, "reviewer", "Enter a number up to 2147483647."),
    ],
)
def test_an_unknown_or_bad_id_in_a_search_box_is_an_error_beside_it(
    site: Site, backend: str, data: dict[str, str], field: str, message: str
) -> None:
    an_article(site, reviewer_id=2)
    site.sign_in(ROOT)

    response = post(site, "/admin/adm_article/1/", {"title": "T", "writer": "1", **data})

    assert response.status_code == 422
    assert message in field_html(response.text, field)
    article = stored_article(site)
    assert article is not None
    assert (article.title, article.reviewer_id) == ("First", 2)


def test_a_related_table_of_more_than_1000_rows_is_a_search_box_without_a_script(
    make_site: MakeSite, backend: str
) -> None:
    site = make_site({AdmArticle: ModelAdmin, AdmWriter: WriterAdmin})
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    with site.db.session() as session:
        session.execute(insert(AdmWriter), [{"id": n, "name": f"W{n}"} for n in range(1, 1002)])
        session.commit()
    site.sign_in(ROOT)

    page = site.client.get("/admin/adm_article/add/", headers=HTML).text
    response = post(site, "/admin/adm_article/add/", {"title": "T", "writer": "1001"})

    assert field_html(page, "writer") == (
        '<div class="field"><label for="id_writer">Writer</label><input type="text" '
        'name="writer" id="id_writer" aria-describedby="id_writer-current" inputmode="numeric"> '
        '<span class="related-current" id="id_writer-current">An id (now: none)</span> '
        '<a class="related-lookup" href="/admin/adm_writer/" target="_blank">Look up adm '
        "writers</a></div>"
    )
    assert response.status_code == 303
    article = stored_article(site)
    assert article is not None
    assert article.writer_id == 1001


def test_a_related_table_of_1000_rows_is_still_a_select(make_site: MakeSite) -> None:
    site = make_site({AdmArticle: ModelAdmin})
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    with site.db.session() as session:
        session.execute(insert(AdmWriter), [{"id": n, "name": f"W{n}"} for n in range(1, 1001)])
        session.commit()
    site.sign_in(ROOT)

    page = site.client.get("/admin/adm_article/add/", headers=HTML).text

    assert field_html(page, "writer").count("<option") == 1001


# Files ----------------------------------------------------------------------------------


def test_an_uploaded_file_is_stored_and_its_change_recorded_as_its_size(
    site: Site, backend: str
) -> None:
    an_article(site)
    site.sign_in(ROOT)
    content = bytes(range(256)) * 4

    response = post(
        site,
        "/admin/adm_article/1/",
        {"title": "First", "writer": "1"},
        files={"cover": ("cover.png", content, "image/png")},
    )

    assert response.status_code == 303
    article = stored_article(site)
    assert article is not None
    assert article.cover == content
    with site.db.session() as session:
        (entry,) = [e for e in history_of(session, AdmArticle, 1) if e.action == "change"]
    assert [change["field"] for change in entry.changes] == ["cover"]
    assert entry.changes[0]["old"] is None
    assert entry.changes[0]["new"].startswith("<1024 bytes, sha256 ")
    assert content.hex()[:32] not in str(entry.changes)


def test_the_edit_page_shows_the_files_size_a_download_link_and_clear(site: Site) -> None:
    an_article(site, cover=b"\x89PNG data")
    site.sign_in(ROOT)

    page = site.client.get("/admin/adm_article/1/", headers=HTML).text

    assert field_html(page, "cover") == (
        '<div class="field"><label for="id_cover">Cover</label><span class="file-current" '
        'id="id_cover-current">Now: 9 bytes (<a href="/admin/adm_article/1/file/cover/">'
        'download</a>)</span> <input type="checkbox" name="cover-clear" id="id_cover-clear">'
        '<label for="id_cover-clear" class="file-clear">Clear</label> <input type="file" '
        'name="cover" id="id_cover"></div>'
    )


def test_an_empty_file_input_keeps_the_stored_file(site: Site, backend: str) -> None:
    an_article(site, cover=b"kept")
    site.sign_in(ROOT)

    response = post(
        site,
        "/admin/adm_article/1/",
        {"title": "Renamed", "writer": "1"},
        files={"cover": ("", b"", "application/octet-stream")},
    )

    assert response.status_code == 303
    article = stored_article(site)
    assert article is not None
    assert (article.title, article.cover) == ("Renamed", b"kept")


def test_clear_empties_a_nullable_file_column(site: Site, backend: str) -> None:
    an_article(site, cover=b"gone")
    site.sign_in(ROOT)

    response = post(
        site, "/admin/adm_article/1/", {"title": "First", "writer": "1", "cover-clear": "on"}
    )

    assert response.status_code == 303
    article = stored_article(site)
    assert article is not None
    assert article.cover is None


def test_a_file_can_be_uploaded_on_the_add_page(site: Site) -> None:
    site.sign_in(ROOT)

    response = post(
        site,
        "/admin/adm_article/add/",
        {"title": "New", "writer": "2"},
        files={"cover": ("a b/../c.txt", b"hello", "text/plain")},
    )

    assert response.status_code == 303
    article = stored_article(site)
    assert article is not None
    assert article.cover == b"hello"


def test_a_file_larger_than_the_body_limit_is_a_413_and_changes_nothing(
    make_site: MakeSite,
) -> None:
    site = make_site({AdmArticle: ArticleAdmin, AdmWriter: WriterAdmin, AdmTag: TagAdmin})
    site.app.limits = Limits(max_body_size=4096)
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    site.add(AdmWriter(id=1, name="Ada"))
    an_article(site, cover=b"old")
    site.sign_in(ROOT)

    response = post(
        site,
        "/admin/adm_article/1/",
        {"title": "Changed", "writer": "1"},
        files={"cover": ("big.bin", b"x" * 5000, "application/octet-stream")},
    )

    assert response.status_code == 413
    assert "The request body is larger than the limit of 4096 bytes" in response.text
    article = stored_article(site)
    assert article is not None
    assert (article.title, article.cover) == ("First", b"old")


def test_the_download_sends_the_bytes_as_a_safe_attachment(site: Site, backend: str) -> None:
    an_article(site, cover=b"<script>alert(1)</script>")
    site.sign_in(ROOT)

    response = site.client.get("/admin/adm_article/1/file/cover/")

    assert response.status_code == 200
    assert response.content == b"<script>alert(1)</script>"
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == (
        'attachment; filename="adm_article-1-cover.bin"'
    )
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/admin/adm_article/1/file/title/", "The adm article has no file field 'title'."),
        ("/admin/adm_article/1/file/nope/", "The adm article has no file field 'nope'."),
        ("/admin/adm_article/2/file/cover/", "No adm article has this id."),
        ("/admin/adm_article/x/file/cover/", "No adm article has this id."),
    ],
)
def test_the_download_of_no_file_is_a_404(site: Site, path: str, message: str) -> None:
    an_article(site, cover=b"data")
    site.sign_in(ROOT)

    response = site.client.get(path)

    assert response.status_code == 404
    assert response.json()["detail"] == message


def test_the_download_of_an_empty_column_is_a_404(site: Site) -> None:
    an_article(site)
    site.sign_in(ROOT)

    response = site.client.get("/admin/adm_article/1/file/cover/")

    assert response.status_code == 404
    assert response.json()["detail"] == "The adm article holds no Cover."


@pytest.mark.parametrize(("permissions", "status"), [((), 403), (("adm_article.view",), 200)])
def test_the_download_needs_the_view_permission(
    site: Site, permissions: tuple[str, ...], status: int
) -> None:
    an_article(site, cover=b"data")
    site.add_user(STAFF, *permissions, is_staff=True)
    site.sign_in(STAFF)

    response = site.client.get("/admin/adm_article/1/file/cover/")
    page = site.client.get("/admin/adm_article/1/", headers=HTML)

    assert response.status_code == status
    if status == 200:
        assert response.content == b"data"
        assert (
            '<div class="value">A file of 4 bytes (<a href="/admin/adm_article/1/file/cover/">'
            "download</a>)</div>"
        ) in page.text


def test_text_sent_for_a_file_is_an_error_beside_it_and_changes_nothing(site: Site) -> None:
    an_article(site, cover=b"old")
    site.sign_in(ROOT)

    response = post(site, "/admin/adm_article/1/", {"title": "T", "writer": "1", "cover": "x"})

    assert response.status_code == 422
    assert (
        '<p class="field-error" id="id_cover-error">No file was submitted. Check the encoding '
        "type on the form.</p>"
    ) in field_html(response.text, "cover")
    article = stored_article(site)
    assert article is not None
    assert (article.title, article.cover) == ("First", b"old")


def test_a_required_file_is_an_error_when_left_out_of_a_new_row_only(
    make_site: MakeSite, backend: str
) -> None:
    site = make_site({AdmAttachment: None})
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    site.sign_in(ROOT)

    missing = post(site, "/admin/adm_attachment/add/", {"name": "a"})
    added = post(
        site,
        "/admin/adm_attachment/add/",
        {"name": "a"},
        files={"content": ("a.txt", b"first", "text/plain")},
    )
    page = site.client.get("/admin/adm_attachment/1/", headers=HTML).text
    renamed = post(site, "/admin/adm_attachment/1/", {"name": "b"})

    assert missing.status_code == 422
    assert (
        '<p class="field-error" id="id_content-error">Choose a file: this field needs one.</p>'
    ) in field_html(missing.text, "content")
    assert added.status_code == 303
    assert 'name="content-clear"' not in page
    assert renamed.status_code == 303
    with site.db.session() as session:
        rows = [(row.name, row.content) for row in session.scalars(select(AdmAttachment))]
    assert rows == [("b", b"first")]


def test_a_big_related_table_costs_one_count_per_field_and_is_never_read_whole(
    make_site: MakeSite,
) -> None:
    site = make_site({AdmArticle: ModelAdmin, AdmWriter: WriterAdmin})
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    with site.db.session() as session:
        session.execute(insert(AdmWriter), [{"id": n, "name": f"W{n}"} for n in range(1, 1002)])
        session.commit()
    site.sign_in(ROOT)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()))

    engine = site.db.async_engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = site.client.get("/admin/adm_article/add/", headers=HTML)
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert response.status_code == 200
    writers = [statement for statement in statements if "FROM adm_writer" in statement]
    assert writers == ["SELECT count(*) AS count_1 FROM adm_writer"] * 2
