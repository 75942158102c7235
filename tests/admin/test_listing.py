"""The list page: columns, sorting, search, filters with counts, pagination, bad input,
and a fixed number of queries whatever the number of rows."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import insert

from carboy.admin import ModelAdmin

from ._models import AdmAuthor, AdmPost, Status
from ._options import PostAdmin
from .conftest import (
    HTML,
    ROOT,
    MakeSite,
    Site,
    authors_and_posts,
    count_queries,
    recorded_statements,
)

TITLE_CELL = re.compile(r'<td><a href="/admin/adm_post/\d+/">([^<]*)</a></td>')


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each list page test runs on each database: search, sorting and filters are SQL."""
    return str(request.param)


@pytest.fixture
def site(make_site: MakeSite) -> Site:
    site = make_site({AdmPost: PostAdmin, AdmAuthor: None})
    authors_and_posts(site)
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    site.sign_in(ROOT)
    return site


def titles(site: Site, query: str = "") -> list[str]:
    response = site.client.get(f"/admin/adm_post/{query}", headers=HTML)
    assert response.status_code == 200, response.text
    return TITLE_CELL.findall(response.text)


def test_the_list_shows_the_columns_with_their_headers(site: Site) -> None:
    response = site.client.get("/admin/adm_post/?o=title", headers=HTML)
    page = re.sub(r"\n+", "\n", response.text)

    assert response.status_code == 200
    headers = re.findall(r'<th scope="col"[^>]*>(?:<a [^>]*>)?([^<]+?) ?<', page)
    assert headers == [
        "Title",
        "Author name",
        "Is published",
        "Status",
        "Published on",
        "Loud title",
    ]
    assert (
        '<td><a href="/admin/adm_post/2/">Computing machinery</a></td>\n'
        "<td>Alan Turing</td>\n<td>Yes</td>\n<td>published</td>\n<td>2021-03-01</td>\n"
        "<td>COMPUTING MACHINERY</td>"
    ) in page


def test_the_default_order_is_the_newest_key_first(site: Site) -> None:
    assert titles(site) == ["100% pure_text", "On computable numbers", "Bernoulli numbers"]


def test_a_column_header_sorts_ascending_then_descending(site: Site) -> None:
    ascending = site.client.get("/admin/adm_post/?o=title", headers=HTML).text

    assert TITLE_CELL.findall(ascending) == [
        "100% pure_text",
        "Bernoulli numbers",
        "Computing machinery",
    ]
    assert '<th scope="col" aria-sort="ascending"><a href="?o=-title">Title' in ascending
    assert titles(site, "?o=-title") == [
        "On computable numbers",
        "Notes on the engine",
        "Computing machinery",
    ]


def test_sorting_by_a_related_column_joins_it(site: Site) -> None:
    # Equal authors keep the order of their keys.
    assert titles(site, "?o=-author.name")[:2] == ["Computing machinery", "On computable numbers"]
    assert titles(site, "?o=author.name&q=numbers") == [
        "Bernoulli numbers",
        "On computable numbers",
    ]


def test_search_matches_any_search_field_including_related_ones(site: Site) -> None:
    page = site.client.get("/admin/adm_post/?q=turing", headers=HTML).text

    assert TITLE_CELL.findall(page) == ["On computable numbers", "Computing machinery"]
    assert "2 adm posts found for “turing”" in page


def test_every_word_of_a_search_must_match(site: Site) -> None:
    assert titles(site, "?q=numbers+ada") == ["Bernoulli numbers"]


def test_search_treats_percent_and_underscore_as_plain_characters(site: Site) -> None:
    assert titles(site, "?q=%25") == ["100% pure_text"]
    assert titles(site, "?q=e_t") == ["100% pure_text"]
    assert titles(site, "?q=0%25+p") == ["100% pure_text"]


def test_a_boolean_filter_with_counts(site: Site) -> None:
    page = site.client.get("/admin/adm_post/?is_published=1", headers=HTML).text

    assert TITLE_CELL.findall(page) == ["Computing machinery", "Notes on the engine"]
    assert '<li><a href="?is_published=0">No</a> <span class="count">(3)</span></li>' in page
    assert (
        '<li class="selected"><a href="?is_published=1" aria-current="true">Yes</a> '
        '<span class="count">(2)</span></li>'
    ) in page


def test_a_choices_filter_with_counts_under_the_other_filters(site: Site) -> None:
    page = site.client.get("/admin/adm_post/?status=DRAFT&author=1", headers=HTML).text

    assert TITLE_CELL.findall(page) == ["Bernoulli numbers"]
    assert '>draft</a> <span class="count">(1)</span>' in page
    assert '>published</a> <span class="count">(1)</span>' in page


def test_a_foreign_key_filter_lists_related_rows_with_counts(site: Site) -> None:
    page = site.client.get("/admin/adm_post/?author=2", headers=HTML).text

    assert TITLE_CELL.findall(page) == ["On computable numbers", "Computing machinery"]
    assert '<a href="?author=1">Ada Lovelace</a> <span class="count">(2)</span>' in page
    assert (
        '<a href="?author=2" aria-current="true">Alan Turing</a> <span class="count">(2)</span>'
    ) in page


def test_a_date_filter_offers_ranges_with_counts(site: Site) -> None:
    today = date.today()
    site.add(
        AdmPost(id=10, title="Today", published_on=today),
        AdmPost(id=11, title="Five days ago", published_on=today - timedelta(days=5)),
    )
    start = today - timedelta(days=6)
    end = today + timedelta(days=1)

    page = site.client.get(
        f"/admin/adm_post/?published_on__gte={start}&published_on__lt={end}", headers=HTML
    ).text

    assert TITLE_CELL.findall(page) == ["Five days ago", "Today"]
    assert '>Today</a> <span class="count">(1)</span>' in page
    assert (
        f'<a href="?published_on__gte={start}&amp;published_on__lt={end}" aria-current="true">'
        'Past 7 days</a> <span class="count">(2)</span>'
    ) in page
    assert titles(site, "?published_on__gte=2021-01-01&published_on__lt=2022-01-01") == [
        "Computing machinery"
    ]


def test_pagination_shows_the_total_and_links_to_the_pages(site: Site) -> None:
    first = site.client.get("/admin/adm_post/?o=title", headers=HTML).text
    second = site.client.get("/admin/adm_post/?o=title&p=2", headers=HTML).text

    assert '<p class="total" role="status">5 adm posts</p>' in first
    assert "<span>Page 1 of 2</span>" in first
    assert '<a href="?o=title&amp;p=2" rel="next">Next</a>' in first
    assert TITLE_CELL.findall(second) == ["Notes on the engine", "On computable numbers"]
    assert '<a href="?o=title&amp;p=1" rel="prev">Previous</a>' in second


def test_a_page_past_the_last_is_not_found(site: Site) -> None:
    response = site.client.get("/admin/adm_post/?p=3", headers=HTML)

    assert response.status_code == 404
    assert "There is no page 3: the last page is 2." in response.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "?o=body",
            "The list cannot be sorted by 'body': the sortable columns are title, author.name, "
            "is_published, status, published_on. Click a column header to sort by it.",
        ),
        (
            "?o=title;DROP TABLE adm_post",
            "The list cannot be sorted by 'title;DROP TABLE adm_post': the sortable columns are "
            "title, author.name, is_published, status, published_on. Click a column header to "
            "sort by it.",
        ),
        (
            "?body=x",
            "The list of adm posts has no parameter 'body': it reads author, is_published, o, p, "
            "published_on__gte, published_on__lt, q, status. Remove it from the address.",
        ),
        (
            "?is_published=1%27%20OR%201=1%20--",
            "The filter 'is_published' got \"1' OR 1=1 --\", which is not 1 (yes) or 0 (no). "
            "Choose a value from the filter's list.",
        ),
        (
            "?author=1 OR 1=1",
            "The filter 'author' got '1 OR 1=1', which is not the id of a row. Choose a value "
            "from the filter's list.",
        ),
        (
            "?status=<b>",
            "The filter 'status' got '<b>', which is not one of DRAFT, PUBLISHED. Choose a value "
            "from the filter's list.",
        ),
        (
            "?published_on__gte=yesterday",
            "The filter 'published_on' got 'yesterday', which is not a date such as 2024-05-31. "
            "Choose a value from the filter's list.",
        ),
        ("?p=-1", "The page '-1' is not a page number. Give a whole number from 1."),
        ("?p=1e3", "The page '1e3' is not a page number. Give a whole number from 1."),
        ("?q=a&q=b", "The parameter 'q' is given twice. Give it once."),
        (
            "?q=" + "x" * 201,
            "The search is 201 characters long; the most is 200. Search for fewer words.",
        ),
    ],
)
def test_hostile_or_unknown_parameters_are_a_400_that_says_why(
    site: Site, query: str, message: str
) -> None:
    response = site.client.get(f"/admin/adm_post/{query}")

    assert response.status_code == 400
    assert response.json()["detail"] == message


@pytest.mark.parametrize(
    "query", ["?%3Cscript%3Ealert(1)%3C/script%3E=1", "?status=%3Cscript%3Ealert(1)%3C/script%3E"]
)
def test_script_tags_in_parameters_come_back_escaped(site: Site, query: str) -> None:
    response = site.client.get(f"/admin/adm_post/{query}", headers=HTML)

    assert response.status_code == 400
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "<script>" not in response.text


@pytest.mark.parametrize("term", ["' OR 1=1 --", "%' OR '1'='1", "\\", "<script>alert(1)</script>"])
def test_hostile_searches_find_nothing_and_come_back_escaped(site: Site, term: str) -> None:
    response = site.client.get("/admin/adm_post/", params={"q": term}, headers=HTML)

    assert response.status_code == 200
    assert TITLE_CELL.findall(response.text) == []
    assert "<script>alert(1)</script>" not in response.text
    if term.startswith("<script>"):
        assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in response.text
        assert "found for “&lt;script&gt;alert(1)&lt;/script&gt;”" in response.text


def test_a_model_with_default_options_lists_its_rows_by_name(site: Site) -> None:
    page = site.client.get("/admin/adm_author/", headers=HTML).text

    assert '<th scope="col">Adm author</th>' in page
    assert '<td><a href="/admin/adm_author/2/">Alan Turing</a></td>' in page
    assert '<form class="search"' not in page


# A fixed number of queries -----------------------------------------------------


class BigPostAdmin(ModelAdmin):
    list_display = ("title", "author.name", "is_published", "status")
    search_fields = ("title", "author.name")
    list_filter = ("is_published", "author", "status", "published_on")


def fill(site: Site, rows: int) -> None:
    with site.db.engine.begin() as connection:
        connection.execute(
            insert(AdmAuthor),
            [{"id": n, "name": f"Author {n}", "email": ""} for n in range(1, 21)],
        )
        connection.execute(
            insert(AdmPost),
            [
                {
                    "id": n,
                    "title": f"Post number {n}",
                    "body": "",
                    "is_published": n % 2 == 0,
                    "status": Status.PUBLISHED if n % 3 else Status.DRAFT,
                    "author_id": n % 20 + 1,
                }
                for n in range(1, rows + 1)
            ],
        )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
@pytest.mark.parametrize("rows", [10, 10_000])
def test_a_list_page_runs_a_fixed_number_of_queries(
    make_site: MakeSite, rows: int, backend: str
) -> None:
    site = make_site({AdmPost: BigPostAdmin})
    fill(site, rows)
    site.add_user(ROOT, is_staff=True, is_superuser=True)
    site.sign_in(ROOT)

    queries, page = count_queries(site, "/admin/adm_post/?q=author+1&is_published=1&o=-author.name")

    # The user, the total, the rows with their authors, and one count per filter (4).
    assert queries == 7
    assert re.search(r"\d+ adm posts? found for “author 1”", page)


def order_by_of(site: Site, query: str) -> str:
    with recorded_statements(site) as statements:
        titles(site, query)
    (rows,) = [s for s in statements if "LIMIT" in s.upper() and "adm_post.title" in s]
    return rows.upper().split("ORDER BY", 1)[1].split("LIMIT", 1)[0]


def test_only_a_column_that_can_be_null_is_sorted_with_is_null(site: Site) -> None:
    by_title = order_by_of(site, "?o=title")
    by_date = order_by_of(site, "?o=-published_on")

    assert "IS NULL" not in by_title
    assert "IS NULL" in by_date
    assert titles(site, "?o=-published_on")[-1] == titles(site, "?o=published_on")[0]
