"""The admin's startup checks: each id, with its exact message and hint."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, Integer, String, Table

from carboy import Carboy
from carboy.admin import Admin, Inline, ModelAdmin, action
from carboy.admin.checks import check_model_admin
from carboy.auth import Auth
from carboy.checks import CheckMessage, run_checks
from carboy.config import Settings
from carboy.db import Database, Model
from carboy.exceptions import ImproperlyConfigured
from carboy.testing import TestClient

from ._models import AdmArticle, AdmNote, AdmPost, AdmTag
from .conftest import KEY


def messages_of(options: type[ModelAdmin], model: type[Any] = AdmPost) -> list[str]:
    return [str(message) for message in check_model_admin(options(model))]


def test_good_options_pass() -> None:
    class PostAdmin(ModelAdmin):
        list_display = ("title", "author.name", "is_published", "shout", "__str__")
        list_display_links = ("title",)
        search_fields = ("title", "author.name", "tags.name")
        list_filter = ("is_published", "status", "author", "author_id", "published_on")
        ordering = ("-published_on", "author.name")
        sortable_by = ("title",)
        list_select_related = ("author", "tags")
        actions = ("delete_selected", "publish")
        fields = ("title", "author", "tags")
        readonly_fields = ("shout",)
        autocomplete_fields = ("author", "tags")

        def shout(self, post: AdmPost) -> str:
            return post.title.upper()

        @action(label="Publish")
        def publish(self, *args: Any) -> None: ...

    assert messages_of(PostAdmin) == []


def test_e001_unknown_field_in_list_display() -> None:
    class PostAdmin(ModelAdmin):
        list_display = ("title", "author.nickname")

    assert messages_of(PostAdmin) == [
        "admin.E001: PostAdmin.list_display (for AdmPost) names 'author.nickname', which is "
        "not a column, a related column such as 'author.name', a method of PostAdmin or an "
        "attribute of AdmPost. HINT: Fix the name, or add a method author.nickname(self, obj) "
        "to PostAdmin."
    ]


def test_e002_unknown_search_field() -> None:
    class PostAdmin(ModelAdmin):
        search_fields = ("title", "headline", "is_published")

    assert messages_of(PostAdmin) == [
        f"admin.E002: PostAdmin.search_fields (for AdmPost) names {name!r}, which is not a "
        "text column of AdmPost or of a related model. HINT: Name a String or Text column, "
        "such as 'title', or one through a relationship, such as 'author.name'."
        for name in ("headline", "is_published")
    ]


def test_e003_unknown_filter() -> None:
    class PostAdmin(ModelAdmin):
        list_filter = ("title", "tags")

    assert messages_of(PostAdmin) == [
        f"admin.E003: PostAdmin.list_filter (for AdmPost) names {name!r}, which is not a "
        "boolean, enum or date column of AdmPost, nor a many-to-one relationship or its "
        "foreign-key column. HINT: Fix the name, or remove it from list_filter."
        for name in ("title", "tags")
    ]


def test_e004_bad_ordering() -> None:
    class PostAdmin(ModelAdmin):
        ordering = ("-created", "author")

    assert messages_of(PostAdmin) == [
        f"admin.E004: PostAdmin.ordering (for AdmPost) names {name!r}, which is not a column "
        "of AdmPost or a related column. HINT: Name columns, with '-' in front for descending "
        "order, such as ('-published_on', 'title')."
        for name in ("-created", "author")
    ]


def test_e005_link_to_a_column_not_displayed() -> None:
    class PostAdmin(ModelAdmin):
        list_display = ("title",)
        list_display_links = ("status",)

    assert messages_of(PostAdmin) == [
        "admin.E005: PostAdmin.list_display_links (for AdmPost) names 'status', which is not "
        "a column of list_display. HINT: Name columns listed in list_display."
    ]


def test_e006_sortable_by_a_column_that_cannot_sort() -> None:
    class PostAdmin(ModelAdmin):
        list_display = ("title", "shout")
        sortable_by = ("shout",)

        def shout(self, post: AdmPost) -> str:
            return post.title.upper()

    assert messages_of(PostAdmin) == [
        "admin.E006: PostAdmin.sortable_by (for AdmPost) names 'shout', which is not a column "
        "of list_display that holds a field. HINT: Name columns of list_display that are "
        "fields, such as 'title' or 'author.name'."
    ]


@pytest.mark.parametrize("per_page", [0, -5, "50", True])
def test_e007_list_per_page_not_a_positive_whole_number(per_page: Any) -> None:
    class PostAdmin(ModelAdmin):
        list_per_page = per_page

    assert messages_of(PostAdmin) == [
        f"admin.E007: PostAdmin.list_per_page (for AdmPost) is {per_page!r}, which is not a "
        "whole number of rows. HINT: Set it to a whole number from 1, such as 50."
    ]


def test_e008_select_related_that_is_no_relationship() -> None:
    class PostAdmin(ModelAdmin):
        list_select_related = ("title",)

    assert messages_of(PostAdmin) == [
        "admin.E008: PostAdmin.list_select_related (for AdmPost) names 'title', which is not "
        "a relationship of AdmPost. HINT: Name relationships, such as 'author' or "
        "'author.country'."
    ]


def test_e009_action_that_is_no_decorated_method() -> None:
    class PostAdmin(ModelAdmin):
        actions = ("delete_selected", "archive", "undecorated")

        def undecorated(self, *args: Any) -> None: ...

    assert messages_of(PostAdmin) == [
        f"admin.E009: PostAdmin.actions (for AdmPost) names {name!r}, which is not a method "
        "of PostAdmin decorated with @action. HINT: Add the method to PostAdmin and decorate "
        "it with @action(label=..., permission=...), or fix the name."
        for name in ("archive", "undecorated")
    ]


def test_e010_form_options_that_name_no_field() -> None:
    class PostAdmin(ModelAdmin):
        fields = ("title", "subtitle")
        fieldsets = ((None, ("body", "summary")),)
        readonly_fields = ("slug",)
        exclude = ("author.name",)

    assert messages_of(PostAdmin) == [
        f"admin.E010: PostAdmin.{option} (for AdmPost) names {name!r}, which is not a field "
        "of AdmPost. HINT: Name its columns and relationships, such as 'title' or 'author'."
        for option, name in (
            ("fields", "subtitle"),
            ("fieldsets", "summary"),
            ("readonly_fields", "slug"),
            ("exclude", "author.name"),
        )
    ]


def test_e011_autocomplete_on_what_is_no_relationship() -> None:
    class PostAdmin(ModelAdmin):
        autocomplete_fields = ("title",)

    assert messages_of(PostAdmin) == [
        "admin.E011: PostAdmin.autocomplete_fields (for AdmPost) names 'title', which is not "
        "a many-to-one or many-to-many relationship of AdmPost. HINT: Name relationships to "
        "one row or to several through a secondary table, such as 'author' or 'tags'."
    ]


def test_e011_autocomplete_on_a_one_to_many_relationship() -> None:
    class ArticleAdmin(ModelAdmin):
        autocomplete_fields = ("notes", "writer")

    assert messages_of(ArticleAdmin, AdmArticle) == [
        "admin.E011: ArticleAdmin.autocomplete_fields (for AdmArticle) names 'notes', which "
        "is not a many-to-one or many-to-many relationship of AdmArticle. HINT: Name "
        "relationships to one row or to several through a secondary table, such as 'author' "
        "or 'tags'."
    ]


def test_e014_autocomplete_on_a_model_not_registered() -> None:
    class PostAdmin(ModelAdmin):
        autocomplete_fields = ("author", "tags")

    class TagAdmin(ModelAdmin):
        search_fields = ("name",)

    registry = {"adm_post": PostAdmin(AdmPost), "adm_tag": TagAdmin(AdmTag)}

    messages = check_model_admin(registry["adm_post"], registry)

    assert [str(message) for message in messages] == [
        "admin.E014: PostAdmin.autocomplete_fields (for AdmPost) names 'author', whose model "
        "AdmAuthor is not registered with the admin, so its rows cannot be searched. HINT: "
        "Register AdmAuthor with the admin, with search_fields, or remove 'author' from "
        "autocomplete_fields."
    ]


def test_e015_autocomplete_on_a_model_without_search_fields() -> None:
    class PostAdmin(ModelAdmin):
        autocomplete_fields = ("tags",)

    registry = {"adm_post": PostAdmin(AdmPost), "adm_tag": ModelAdmin(AdmTag)}

    messages = check_model_admin(registry["adm_post"], registry)

    assert [str(message) for message in messages] == [
        "admin.E015: PostAdmin.autocomplete_fields (for AdmPost) names 'tags', but ModelAdmin "
        "(for AdmTag) has no search_fields to search its rows by. HINT: Set "
        "ModelAdmin.search_fields to the text columns to search, such as ('name',)."
    ]


class AdmPair(Model):
    __table__ = Table(
        "adm_pair",
        Model.metadata,
        Column("left", Integer, primary_key=True),
        Column("right", Integer, primary_key=True),
        Column("label", String(20)),
    )


def test_e012_model_without_a_single_column_primary_key() -> None:
    assert messages_of(ModelAdmin, AdmPair) == [
        "admin.E012: The model AdmPair has no single-column primary key, which the admin's "
        "page addresses need. HINT: Give it one column with primary_key=True, or leave it out "
        "of the admin."
    ]


def test_the_checks_run_with_the_app_and_stop_it_from_starting() -> None:
    class PostAdmin(ModelAdmin):
        list_display = ("nope",)

    admin = Admin()
    admin.register(AdmPost, PostAdmin)
    app = Carboy(
        extensions=[Database("sqlite://"), Auth(prefix=None), admin],
        settings=Settings(secret_key=KEY),
    )

    found = [message.id for message in run_checks(app) if isinstance(message, CheckMessage)]
    with pytest.raises(ImproperlyConfigured) as caught, TestClient(app):
        pass

    assert found == ["admin.E001"]
    assert "admin.E001: PostAdmin.list_display (for AdmPost) names 'nope'" in str(caught.value)


def test_e013_an_inline_without_a_foreign_key_to_the_model() -> None:
    class NoteInline(Inline):
        model = AdmNote

    class WrongInline(Inline):
        model = AdmTag

    class ArticleAdmin(ModelAdmin):
        inlines = (NoteInline,)

    class PostAdmin(ModelAdmin):
        inlines = (WrongInline,)

    assert messages_of(ArticleAdmin, AdmArticle) == []
    assert messages_of(PostAdmin) == [
        f"admin.E013: PostAdmin.inlines (for AdmPost) names {WrongInline!r}, which is not a "
        "subclass of carboy.admin.Inline whose model has one foreign key to AdmPost. HINT: "
        "Subclass Inline, set its model to one with a foreign key to this model's table, and "
        "its fk_name when there are several."
    ]
