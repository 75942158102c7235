from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel

from carboy import Carboy, Controller, Depends, Header, HTTPException
from carboy.controllers import delete, get, post
from carboy.testing import TestClient


class Article(BaseModel):
    slug: str
    title: str


async def require_key(x_key: Annotated[str | None, Header()] = None) -> None:
    if x_key != "k":
        raise HTTPException(403, "The X-Key header is missing or wrong.")


class Articles(Controller):
    prefix = "/articles"
    tags = ("articles",)
    dependencies = (Depends(require_key),)

    def __init__(self, store: dict[str, Article]) -> None:
        self.store = store

    @get("/")
    async def index(self, limit: int = 10) -> list[Article]:
        return list(self.store.values())[:limit]

    @get("/{slug}")
    async def show(self, slug: str) -> Article:
        if slug not in self.store:
            raise HTTPException(404, f"No article {slug!r}.")
        return self.store[slug]

    @post("/", status_code=201)
    async def create(self, article: Article) -> Article:
        self.store[article.slug] = article
        return article

    @delete("/{slug}", status_code=204)
    def remove(self, slug: str) -> None:
        self.store.pop(slug, None)


def make_app() -> tuple[Carboy, dict[str, Article]]:
    store = {"hello": Article(slug="hello", title="Hello")}
    app = Carboy()
    app.include_controller(Articles, store)
    return app, store


def test_a_controller_groups_handlers_under_its_prefix() -> None:
    app, store = make_app()
    client = TestClient(app, headers={"x-key": "k"})

    listed = client.get("/articles")
    shown = client.get("/articles/hello")
    created = client.post("/articles", json={"slug": "new", "title": "New"})
    removed = client.delete("/articles/hello")

    assert listed.json() == [{"slug": "hello", "title": "Hello"}]
    assert shown.json() == {"slug": "hello", "title": "Hello"}
    assert created.status_code == 201
    assert removed.status_code == 204
    assert sorted(store) == ["new"]


def test_the_controllers_dependencies_guard_every_handler() -> None:
    app, _ = make_app()
    client = TestClient(app)

    assert client.get("/articles").status_code == 403
    assert client.post("/articles", json={"slug": "x", "title": "X"}).status_code == 403
    assert client.get("/articles/hello").json()["detail"] == "The X-Key header is missing or wrong."


def test_controller_routes_are_named_in_its_namespace_in_definition_order() -> None:
    app, _ = make_app()

    names = [route.name for route in app.routes[-1].router.routes]  # type: ignore[union-attr]

    assert names == ["index", "show", "create", "remove"]
    assert app.url_path_for("articles:show", slug="hello") == "/articles/hello"
    assert app.url_path_for("articles:index") == "/articles"
