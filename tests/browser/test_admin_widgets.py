"""The admin's search boxes and file inputs, in headless Chromium.

A superuser opens an article's edit page, types into the reviewer's search
box, moves through the rows it offers with the arrow keys, picks one with
Enter, picks two tags in the many-to-many box and removes one, uploads a
file, and saves; the database then holds the choices and the file's bytes.

The app runs the admin tests' models on a SQLite file of the test's own.
Screenshots go where the other browser tests' go: ``$CARBOY_SCREENSHOTS``,
else the test's ``tmp_path``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect
from pydantic import SecretStr
from sqlalchemy import create_engine, select
from sqlalchemy.orm import selectinload

from carboy import Carboy
from carboy.admin import Admin, ModelAdmin
from carboy.auth import Auth
from carboy.auth.user import User
from carboy.config import Settings
from carboy.db import Database, Model
from tests.admin._models import AdmArticle, AdmTag, AdmWriter
from tests.admin.conftest import admin_tables
from tests.auth._pages_app import cheap_hashing, password_hash
from tests.browser.conftest import Serve, Traffic

KEY = "admin-widgets-browser-secret-key-" + "c" * 40
PASSWORD = "correct horse battery staple"
ROOT = "root@example.com"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


class ArticleAdmin(ModelAdmin):
    fields = ("title", "writer", "reviewer", "tags", "cover")
    autocomplete_fields = ("reviewer", "tags")


class WriterAdmin(ModelAdmin):
    search_fields = ("name",)
    ordering = ("name",)


class TagAdmin(ModelAdmin):
    search_fields = ("name",)
    ordering = ("name",)


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def served(serve: Serve, tmp_path: Path) -> Iterator[tuple[str, Database]]:
    """Serve the admin on the test models, with writers, tags, an article and a superuser."""
    url = f"sqlite:///{tmp_path / 'widgets.sqlite3'}"
    engine = create_engine(url)
    tables = admin_tables(("adm_writer", "adm_article", "adm_article_tag", "adm_note"))
    Model.metadata.create_all(engine, tables=tables)
    engine.dispose()
    db = Database(url)
    admin = Admin()
    app = Carboy(
        extensions=[db, Auth(prefix="/auth"), admin],
        settings=Settings(secret_key=SecretStr(KEY), template_dirs=[]),
    )
    admin.register(AdmArticle, ArticleAdmin)
    admin.register(AdmWriter, WriterAdmin)
    admin.register(AdmTag, TagAdmin)
    with db.session() as session:
        session.add_all(
            [
                AdmWriter(id=1, name="Ada Lovelace"),
                AdmWriter(id=2, name="Adele Goldberg"),
                AdmWriter(id=3, name="Grace Hopper"),
                AdmTag(id=1, name="compilers"),
                AdmTag(id=2, name="databases"),
                AdmTag(id=3, name="history"),
                AdmArticle(id=1, title="First", writer_id=3),
                User(
                    email=ROOT, password=password_hash(PASSWORD), is_staff=True, is_superuser=True
                ),
            ]
        )
        session.commit()
    yield serve(app), db


def test_a_superuser_picks_rows_with_the_keyboard_and_uploads_a_file(
    page: Page,
    served: tuple[str, Database],
    traffic: Traffic,
    screenshots: Path,
    tmp_path: Path,
) -> None:
    base_url, db = served
    page.goto(f"{base_url}/admin/adm_article/1/")
    assert urlsplit(page.url).path == "/admin/login"
    page.get_by_label("Email", exact=True).fill(ROOT)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/admin/adm_article/1/")

    reviewer = page.get_by_role("combobox", name="Reviewer")
    expect(reviewer).to_be_visible()
    expect(page.locator('input[name="reviewer"]')).to_have_attribute("type", "hidden")
    reviewer.press_sequentially("ad", delay=50)
    options = page.locator("#id_reviewer-listbox [role=option]")
    expect(options).to_have_text(["Ada Lovelace", "Adele Goldberg"])
    expect(reviewer).to_have_attribute("aria-expanded", "true")
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    reviewer.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(reviewer).to_have_attribute("aria-activedescendant", "id_reviewer-listbox-1")
    page.screenshot(path=screenshots / "admin-widgets-1-autocomplete.png", full_page=True)
    reviewer.press("Enter")
    expect(reviewer).to_have_attribute("aria-expanded", "false")
    expect(page.locator('input[name="reviewer"]')).to_have_value("2")
    expect(page.get_by_role("button", name="Remove Adele Goldberg")).to_be_visible()

    tags = page.get_by_role("combobox", name="Tags")
    tags.press_sequentially("data", delay=50)
    expect(page.locator("#id_tags-listbox [role=option]")).to_have_text(["databases"])
    tags.press("Enter")
    tags.press_sequentially("hist", delay=50)
    expect(page.locator("#id_tags-listbox [role=option]")).to_have_text(["history"])
    tags.press("Enter")
    tags.press_sequentially("comp", delay=50)
    expect(page.locator("#id_tags-listbox [role=option]")).to_have_text(["compilers"])
    tags.press("Escape")
    expect(tags).to_have_attribute("aria-expanded", "false")
    expect(page.locator('input[name="tags"]')).to_have_value("2, 3")
    page.get_by_role("button", name="Remove databases").click()
    expect(page.locator('input[name="tags"]')).to_have_value("3")

    upload = tmp_path / "cover.png"
    upload.write_bytes(PNG)
    page.get_by_label("Cover", exact=True).set_input_files(upload)
    page.screenshot(path=screenshots / "admin-widgets-2-chosen.png", full_page=True)
    page.get_by_role("button", name="Save and continue editing").click()
    page.wait_for_url(f"{base_url}/admin/adm_article/1/")

    expect(page.get_by_role("status").first).to_contain_text("was changed")
    expect(page.locator("#id_cover-current")).to_have_text(f"Now: {len(PNG)} bytes (download)")
    expect(page.get_by_role("button", name="Remove Adele Goldberg")).to_be_visible()
    expect(page.get_by_role("button", name="Remove history")).to_be_visible()
    page.screenshot(path=screenshots / "admin-widgets-3-saved.png", full_page=True)
    with db.session() as session:
        article = session.scalar(
            select(AdmArticle).where(AdmArticle.id == 1).options(selectinload(AdmArticle.tags))
        )
        assert article is not None
        assert (article.reviewer_id, [tag.id for tag in article.tags]) == (2, [3])
        assert article.cover == PNG
    hosts = {urlsplit(url).netloc for url in traffic.network_urls}
    assert hosts == {urlsplit(base_url).netloc}
    assert traffic.failed == []
