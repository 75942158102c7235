"""The options of the test models that the list and page tests share."""

from __future__ import annotations

from typing import Any

from carboy.admin import ModelAdmin, action, display

from ._models import AdmPost


class PostAdmin(ModelAdmin):
    list_display = ("title", "author.name", "is_published", "status", "published_on", "shout")
    search_fields = ("title", "author.name")
    list_filter = ("is_published", "status", "author", "published_on")
    list_per_page = 3
    actions = ("delete_selected", "publish")

    @display(label="Loud title")
    def shout(self, post: AdmPost) -> str:
        return post.title.upper()

    @action(label="Publish the selected posts", permission="change")
    async def publish(self, request: Any, session: Any, posts: list[AdmPost]) -> None:
        for post in posts:
            post.is_published = True
