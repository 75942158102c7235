"""A whole admin session on the blog example, in headless Chromium.

A superuser signs in, adds an author, two tags and a post that points to
them (a foreign key and a many-to-many), publishes it with the list's
action, then searches, filters, sorts and pages through 61 posts, edits the
post with a mistake and corrects it, reads its history, deletes posts in
bulk after the confirmation page, and signs out. A staff user who may only
view posts then finds no Save button, and a forged save is refused.

The blog (``examples/blog``) runs in this process under a live server, on a
SQLite file of the test's own. Screenshots go where the other browser
tests' go: ``$CARBOY_SCREENSHOTS``, else the test's ``tmp_path``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import Locator, Page, Response, expect
from pydantic import SecretStr
from sqlalchemy import Table, select

from carboy import Carboy
from carboy.admin.history import LogEntry
from carboy.auth import grant
from carboy.auth.user import User
from carboy.config import Settings
from carboy.db import Database, Model
from examples.blog.app import Author, Post, Tag, create_app
from tests.auth._pages_app import cheap_hashing, password_hash
from tests.browser.conftest import Serve, Traffic

KEY = "admin-browser-tests-secret-key-" + "b" * 40
PASSWORD = "correct horse battery staple"
ROOT = "root@example.com"
VIEWER = "viewer@example.com"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SEEDED = 60
PER_PAGE = 25  # PostAdmin.list_per_page


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@dataclass
class Blog:
    """The blog app served for a test, and its database."""

    app: Carboy
    db: Database
    base_url: str

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


def blog_tables() -> list[Table]:
    """Return the blog's tables and the batteries' it uses, and only those."""
    return [
        table
        for name, table in Model.metadata.tables.items()
        if name == "admin_log_entry" or name.startswith(("auth_", "blog_"))
    ]


@pytest.fixture
def blog(serve: Serve, tmp_path: Path) -> Blog:
    """Serve the blog on a new SQLite file with 60 posts, a superuser and a viewer."""
    app = create_app(
        f"sqlite:///{tmp_path / 'blog.sqlite3'}",
        Settings(secret_key=SecretStr(KEY), template_dirs=[]),
    )
    db = app.extensions["db"]
    assert isinstance(db, Database)
    Model.metadata.create_all(db.engine, tables=blog_tables())
    start = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
    with db.session() as session:
        writer = Author(name="Seed Writer", email="seed@example.com")
        session.add(writer)
        session.add_all(
            Post(
                title=f"Seeded post {number:02d}",
                slug=f"seeded-post-{number:02d}",
                body="Words for the list.",
                author=writer,
                published=number % 2 == 0,
                published_at=start + timedelta(days=number) if number % 2 == 0 else None,
            )
            for number in range(1, SEEDED + 1)
        )
        root = User(email=ROOT, password=password_hash(PASSWORD), is_staff=True, is_superuser=True)
        viewer = User(email=VIEWER, password=password_hash(PASSWORD), is_staff=True)
        session.add_all([root, viewer])
        session.flush()
        grant(session, viewer, "blog_post.view", "blog_author.view", "blog_tag.view")
        session.commit()
    return Blog(app, db, serve(app))


def field(page: Page, label: str) -> Locator:
    return page.get_by_label(label, exact=True)


def titles(page: Page) -> list[str]:
    """Return the titles of the list page's rows, in order (the first column after the boxes)."""
    return page.locator("table.results tbody tr td:nth-child(2)").all_inner_texts()


def sign_in(page: Page, blog: Blog, email: str) -> None:
    page.goto(blog.url("/admin/"))
    assert urlsplit(page.url).path == "/admin/login"
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    field(page, "Email").fill(email)
    field(page, "Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(blog.url("/admin/"))


def parse_query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def stored_title(blog: Blog, post_id: int) -> str:
    with blog.db.session() as session:
        post = session.get(Post, post_id)
        assert post is not None
        return post.title


def errors_of(page: Page, label: str) -> list[str]:
    """Return the error texts shown beside a field: those its ``aria-describedby`` names."""
    described = (field(page, label).get_attribute("aria-describedby") or "").split()
    return [
        page.locator(f"#{target}").inner_text()
        for target in described
        if page.locator(f"#{target}.field-error").count() == 1
    ]


def table_rows(container: Locator) -> list[list[str]]:
    """Return the cells of the body rows of the table in ``container``, row by row."""
    return [row.locator("th, td").all_inner_texts() for row in container.locator("tbody tr").all()]


def save(page: Page, button: str = "Save") -> Response:
    """Click a save button of an add or edit form; return the answer to the POST."""
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state()
    return posted.value


def test_a_superuser_manages_the_blog_through_a_whole_admin_session(
    blog: Blog, page: Page, traffic: Traffic, screenshots: Path
) -> None:
    shots: list[Path] = []

    def shot(name: str) -> None:
        path = screenshots / f"admin-{len(shots) + 1:02d}-{name}.png"
        page.screenshot(path=path, full_page=True)
        shots.append(path)

    # Sign in ------------------------------------------------------------------------
    sign_in(page, blog, ROOT)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_role("heading", name="Blog", level=2)).to_be_visible()
    for name in ("Authors", "Posts", "Tags", "Comments"):
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    shot("dashboard")

    # Objects linked by a foreign key and a many-to-many ---------------------------------
    page.goto(blog.url("/admin/blog_author/add/"))
    field(page, "Name").fill("Grace Hopper")
    field(page, "Email").fill("grace@example.com")
    assert save(page).status == 303
    for name, slug in (("Compilers", "compilers"), ("Navy", "navy")):
        page.goto(blog.url("/admin/blog_tag/add/"))
        field(page, "Name").fill(name)
        field(page, "Slug").fill(slug)
        assert save(page).status == 303

    page.goto(blog.url("/admin/blog_post/add/"))
    field(page, "Title").fill("A compiler for everyone")
    field(page, "Slug").fill("a-compiler-for-everyone")
    field(page, "Body").fill("Programs written in words, translated by a program.")
    field(page, "Author").select_option(label="Grace Hopper")
    field(page, "Tags").select_option(label=["Compilers", "Navy"])
    shot("add-post")
    assert save(page).status == 303
    shot("post-added")
    with blog.db.session() as session:
        post = session.scalars(select(Post).where(Post.slug == "a-compiler-for-everyone")).one()
        post_id, author_id = post.id, post.author_id
        assert post.author.name == "Grace Hopper"
        assert sorted(tag.name for tag in post.tags) == ["Compilers", "Navy"]
        assert post.published is False

    # Search, through the author's name; then the list's own action publishes -----------
    page.goto(blog.url("/admin/blog_post/"))
    expect(page.locator("p.total")).to_have_text(f"{SEEDED + 1} posts")
    field(page, "Search").fill("grace")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("p.total")).to_have_text("1 post found for “grace”")
    assert titles(page) == ["A compiler for everyone"]
    row = page.locator("table.results tbody tr").first
    expect(row.locator("td").nth(2)).to_have_text("Grace Hopper")
    expect(row.locator("td").nth(3)).to_have_text("No")
    shot("search")
    row.get_by_role("checkbox").check()
    page.get_by_label("Action").select_option(label="Publish selected")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_role("status").filter(has_text="Publish selected")).to_have_text(
        "Publish selected: done for 1 post."
    )
    expect(row.locator("td").nth(3)).to_have_text("Yes")

    # Filter: published, then the author, then the date ------------------------------------
    page.goto(blog.url("/admin/blog_post/"))
    filters = page.locator("aside.filters")
    filters.get_by_role("link", name="Yes", exact=True).click()
    expect(page.locator("p.total")).to_have_text(f"{SEEDED // 2 + 1} posts")
    filters.get_by_role("link", name="Grace Hopper", exact=True).click()
    expect(page.locator("p.total")).to_have_text("1 post")
    assert urlsplit(page.url).query == f"published=1&author={author_id}"
    filters.get_by_role("link", name="Today", exact=True).click()
    expect(page.locator("p.total")).to_have_text("1 post")
    expect(filters.locator("li.selected")).to_have_text(
        ["Yes (1)", "Grace Hopper (1)", "Today (1)"]
    )
    assert titles(page) == ["A compiler for everyone"]
    shot("filters")

    # Sort by title, both ways ------------------------------------------------------------
    page.goto(blog.url("/admin/blog_post/"))
    title_header = page.get_by_role("columnheader", name="Title", exact=True)
    title_header.get_by_role("link").click()
    expect(title_header).to_have_attribute("aria-sort", "ascending")
    expect(title_header).to_contain_text("▲")
    assert titles(page)[:3] == ["A compiler for everyone", "Seeded post 01", "Seeded post 02"]
    title_header.get_by_role("link").click()
    expect(title_header).to_have_attribute("aria-sort", "descending")
    expect(title_header).to_contain_text("▼")
    assert titles(page)[:3] == ["Seeded post 60", "Seeded post 59", "Seeded post 58"]
    shot("sorted")

    # Page through, the order kept ----------------------------------------------------------
    pages = page.get_by_role("navigation", name="Pages")
    expect(pages).to_contain_text("Page 1 of 3")
    assert len(titles(page)) == PER_PAGE
    pages.get_by_role("link", name="Next").click()
    expect(pages).to_contain_text("Page 2 of 3")
    assert titles(page)[0] == "Seeded post 35"
    pages.get_by_role("link", name="Next").click()
    expect(pages).to_contain_text("Page 3 of 3")
    assert titles(page) == [f"Seeded post {n:02d}" for n in range(10, 0, -1)] + [
        "A compiler for everyone"
    ]
    expect(pages.get_by_role("link", name="Next")).to_have_count(0)
    shot("last-page")
    pages.get_by_role("link", name="Previous").click()
    expect(pages).to_contain_text("Page 2 of 3")
    assert parse_query(page.url) == {"o": "-title", "p": "2"}

    # Edit with mistakes, then correct them -----------------------------------------------------
    page.goto(blog.url("/admin/blog_post/?q=compiler"))
    page.get_by_role("link", name="A compiler for everyone").click()
    page.wait_for_url(blog.url(f"/admin/blog_post/{post_id}/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Change post: A compiler for everyone"
    )
    expect(field(page, "Title")).to_have_value("A compiler for everyone")
    expect(field(page, "Author")).to_have_value(str(author_id))
    field(page, "Title").fill("")
    assert save(page).status == 422
    expect(page.get_by_role("alert")).to_contain_text("Correct the fields marked below.")
    expect(field(page, "Title")).to_have_attribute("aria-invalid", "true")
    assert errors_of(page, "Title") == ["This field is required."]
    expect(field(page, "Body")).to_have_value("Programs written in words, translated by a program.")
    shot("edit-error")
    # A slug another post has: the database's unique constraint, shown beside the field.
    field(page, "Title").fill("A compiler for every programmer")
    field(page, "Slug").fill("seeded-post-01")
    assert save(page).status == 422
    assert errors_of(page, "Title") == []
    assert errors_of(page, "Slug") == ["A post with this slug already exists."]
    shot("edit-duplicate-slug")
    assert stored_title(blog, post_id) == "A compiler for everyone"
    field(page, "Slug").fill("a-compiler-for-every-programmer")
    assert save(page, "Save and continue editing").status == 303
    page.wait_for_url(blog.url(f"/admin/blog_post/{post_id}/"))
    expect(page.get_by_role("status").filter(has_text="was changed")).to_have_text(
        "The post “A compiler for every programmer” was changed. You may edit it again below."
    )
    expect(field(page, "Title")).to_have_value("A compiler for every programmer")
    shot("edited")
    assert stored_title(blog, post_id) == "A compiler for every programmer"

    # The history shows the old and the new values ------------------------------------------------
    page.get_by_role("link", name="History").click()
    page.wait_for_url(blog.url(f"/admin/blog_post/{post_id}/history/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "History of A compiler for every programmer"
    )
    entries = page.locator("section.history-entry")
    expect(entries.get_by_role("heading", level=2)).to_have_text(
        [
            re.compile(rf"^change by {ROOT}, \d{{1,2}} [A-Z][a-z]{{2}} \d{{4}}, \d\d:\d\d UTC$"),
            re.compile(rf"^change by {ROOT}, "),
            re.compile(rf"^add by {ROOT}, "),
        ]
    )
    assert table_rows(entries.nth(0)) == [
        ["Title", "A compiler for everyone", "A compiler for every programmer"],
        ["Slug", "a-compiler-for-everyone", "a-compiler-for-every-programmer"],
    ]
    expect(entries.nth(1)).to_contain_text("Publish selected")
    assert ["Published", "No", "Yes"] in table_rows(entries.nth(1))
    published_at = table_rows(entries.nth(1))[1]
    assert published_at[:2] == ["Published at", "-"]
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC", published_at[2])
    assert ["Title", "-", "A compiler for everyone"] in table_rows(entries.nth(2))
    assert ["Tags", "-", "Compilers, Navy"] in table_rows(entries.nth(2))
    assert ["Author", "-", "Grace Hopper"] in table_rows(entries.nth(2))
    shot("history")

    # Delete in bulk, after the confirmation page ----------------------------------------------
    page.goto(blog.url("/admin/blog_post/?o=-title"))
    rows = page.locator("table.results tbody tr")
    for index in range(3):
        rows.nth(index).get_by_role("checkbox").check()
    page.get_by_label("Action").select_option(label="Delete the selected rows")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete 3 posts?")
    expect(page.locator("ul.doomed li")).to_have_text(
        ["Seeded post 58", "Seeded post 59", "Seeded post 60"]
    )
    shot("delete-confirm")
    page.get_by_role("button", name="Yes, delete them").click()
    expect(page.get_by_role("status").filter(has_text="Deleted")).to_have_text("Deleted 3 posts.")
    expect(page.locator("p.total")).to_have_text(f"{SEEDED - 2} posts")
    assert titles(page)[:2] == ["Seeded post 57", "Seeded post 56"]
    shot("deleted")
    with blog.db.session() as session:
        deleted = session.scalars(
            select(LogEntry.object_repr).where(LogEntry.action == "delete").order_by(LogEntry.id)
        ).all()
    assert deleted == ["Seeded post 58", "Seeded post 59", "Seeded post 60"]

    # Sign out ----------------------------------------------------------------------------
    page.get_by_role("link", name="Sign out").click()
    expect(page.get_by_text(f"You are signed in as {ROOT}.")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(blog.url("/admin/login"))
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    shot("signed-out")
    page.goto(blog.url("/admin/blog_post/"))
    assert urlsplit(page.url).path == "/admin/login"

    for path in shots:
        assert path.read_bytes().startswith(PNG_SIGNATURE), path
        assert path.stat().st_size > 1000, path
    assert [url for url in traffic.network_urls if not url.startswith(f"{blog.base_url}/")] == []
    assert traffic.failed == []
    assert all(response.status < 500 for response in traffic.responses)
    assert page.locator("script").count() == 0


def test_a_staff_user_without_the_change_permission_cannot_edit_a_post(
    blog: Blog, page: Page, screenshots: Path
) -> None:
    with blog.db.session() as session:
        post = session.scalars(select(Post).where(Post.slug == "seeded-post-07")).one()
        post_id = post.id
        author_id = session.scalars(select(Author.id)).one()
        assert session.scalars(select(Tag)).all() == []

    sign_in(page, blog, VIEWER)
    dashboard = page.locator("main")
    expect(dashboard.get_by_role("link", name="Posts", exact=True)).to_be_visible()
    expect(dashboard.get_by_role("link", name="Comments", exact=True)).to_have_count(0)
    expect(dashboard.get_by_role("link", name="Add")).to_have_count(0)

    page.goto(blog.url("/admin/blog_post/"))
    expect(page.get_by_label("Action")).to_have_count(0)
    # The list page's form carries the session's CSRF token, for the forged post below.
    token = page.locator("input[name=csrf_token]").get_attribute("value")
    expect(page.get_by_role("link", name=re.compile("^Add "))).to_have_count(0)
    response = page.goto(blog.url(f"/admin/blog_post/{post_id}/"))
    assert response is not None
    assert response.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("View post: Seeded post 07")
    expect(page.get_by_text("You may view this post, not change it.")).to_be_visible()
    expect(page.get_by_role("textbox")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Save"))).to_have_count(0)
    expect(page.get_by_role("link", name="Delete")).to_have_count(0)
    page.screenshot(path=screenshots / "admin-viewer-read-only.png", full_page=True)

    forged = page.request.post(
        blog.url(f"/admin/blog_post/{post_id}/"),
        form={
            "csrf_token": token or "",
            "title": "Taken over",
            "slug": "seeded-post-07",
            "body": "",
            "author": str(author_id),
        },
        headers={"accept": "text/html"},
    )
    refused_add = page.request.get(blog.url("/admin/blog_post/add/"))

    assert forged.status == 403
    assert (
        "You may not change posts: you lack the permission blog_post.change. Ask an "
        "administrator for it."
    ) in forged.text()
    assert refused_add.status == 403
    assert stored_title(blog, post_id) == "Seeded post 07"
    with blog.db.session() as session:
        assert session.scalars(select(LogEntry)).all() == []
