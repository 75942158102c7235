"""A small blog: authors, posts, tags and comments, public pages, sign-in and the admin.

Readers see the published posts at ``/``, one post with its comments at
``/posts/<slug>``, where they can comment (the form carries a CSRF token),
and the posts of a tag at ``/tags/<slug>``. Staff manage everything at
``/admin/``: the posts' list shows each post's author, searches titles,
bodies and author names, filters by published, author and date, and has
a "Publish selected" action.

From this folder (see README.md)::

    carboy db migrate
    CARBOY_SUPERUSER_PASSWORD=... carboy createsuperuser --email admin@example.com --no-input
    carboy run

The data lives in ``blog.sqlite3`` next to this file unless
``CARBOY_DATABASE_URL`` names another database. ``create_app()`` builds a
blog on any database, as the tests do; ``app`` is the one ``carboy`` finds.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field, SecretStr
from sqlalchemy import Column, ForeignKey, String, Table, Text, select
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from carboy import Carboy, RedirectResponse, Request, Response, Router
from carboy.admin import Admin, ModelAdmin, action, display
from carboy.auth import Auth
from carboy.config import Settings
from carboy.db import AsyncSession, Database, Model, UTCDateTime, first_or_404
from carboy.db.models import utcnow
from carboy.forms import Form, Textarea
from carboy.sessions import flash
from carboy.templating import render

HERE = Path(__file__).resolve().parent

# DEVELOPMENT ONLY. Anyone who reads this key can forge the blog's sessions,
# its admin sign-ins included. A deployed copy sets CARBOY_SECRET_KEY to a
# long random value, which is then used instead.
DEVELOPMENT_SECRET_KEY = "blog-example-development-only-never-deploy-this-key-7d2e40a1"

# Models ---------------------------------------------------------------------------
# Tables are named blog_*, the app's name first, so that they sit beside the
# batteries' auth_* and admin_* tables without a clash.


class Author(Model):
    """Someone who writes posts."""

    __tablename__ = "blog_author"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    bio: Mapped[str] = mapped_column(Text, default="")
    posts: Mapped[list[Post]] = relationship(back_populates="author")

    def __str__(self) -> str:
        return self.name


post_tag = Table(
    "blog_post_tag",
    Model.metadata,
    Column("post_id", ForeignKey("blog_post.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("blog_tag.id", ondelete="CASCADE"), primary_key=True),
)


class Tag(Model):
    """A word that groups posts: each tag has its page."""

    __tablename__ = "blog_tag"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    slug: Mapped[str] = mapped_column(String(50), unique=True)

    def __str__(self) -> str:
        return self.name


class Post(Model):
    """An article; readers see it once it is published."""

    __tablename__ = "blog_post"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    body: Mapped[str] = mapped_column(Text, default="")
    published: Mapped[bool] = mapped_column(default=False, index=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    author_id: Mapped[int] = mapped_column(ForeignKey("blog_author.id"), index=True)
    author: Mapped[Author] = relationship(back_populates="posts")
    tags: Mapped[list[Tag]] = relationship(secondary=post_tag, order_by=Tag.name)
    comments: Mapped[list[Comment]] = relationship(
        back_populates="post", cascade="all, delete-orphan", order_by="Comment.id"
    )

    def __str__(self) -> str:
        return self.title


class Comment(Model):
    """What a reader wrote under a post."""

    __tablename__ = "blog_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("blog_post.id", ondelete="CASCADE"))
    post: Mapped[Post] = relationship(back_populates="comments")
    name: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __str__(self) -> str:
        # Its own columns only: the admin names rows where no related row is loaded.
        words = self.body if len(self.body) <= 40 else self.body[:39] + "…"
        return f"{self.name}: {words}"


# The admin's options ----------------------------------------------------------------


class AuthorAdmin(ModelAdmin):
    section = "Blog"
    list_display = ("name", "email")
    search_fields = ("name", "email")
    ordering = ("name",)


class TagAdmin(ModelAdmin):
    section = "Blog"
    list_display = ("name", "slug")
    search_fields = ("name",)
    ordering = ("name",)


class PostAdmin(ModelAdmin):
    section = "Blog"
    list_display = ("title", "author.name", "published", "published_at", "words")
    search_fields = ("title", "body", "author.name")
    list_filter = ("published", "author", "published_at")
    list_per_page = 25
    actions = ("publish_selected", "delete_selected")

    @display(label="Words")
    def words(self, post: Post) -> int:
        return len(post.body.split())

    @action(label="Publish selected", permission="change")
    async def publish_selected(
        self, request: Request, session: AsyncSession, posts: list[Post]
    ) -> None:
        """Publish the posts, dated now unless they have a date already."""
        now = utcnow()
        for post in posts:
            post.published = True
            post.published_at = post.published_at or now


class CommentAdmin(ModelAdmin):
    section = "Blog"
    list_display = ("name", "post.title", "created_at")
    search_fields = ("name", "body", "post.title")
    list_filter = ("created_at",)


# Public pages -----------------------------------------------------------------------


class CommentForm(Form):
    """A reader's comment under a post."""

    name: str = Field(min_length=2, max_length=80, title="Your name")
    body: Annotated[str, Textarea(rows=4)] = Field(min_length=2, max_length=2000, title="Comment")

    error_messages: ClassVar[dict[str, str]] = {
        "string_too_short": "Enter at least {min_length} characters.",
        "string_too_long": "Enter at most {max_length} characters.",
    }


router = Router(template_folder=HERE / "templates")


def published() -> Any:
    """Return the query of the published posts, newest first, with their authors and tags."""
    return (
        select(Post)
        .where(Post.published.is_(True))
        .options(selectinload(Post.author), selectinload(Post.tags))
        .order_by(Post.published_at.desc(), Post.id.desc())
    )


@router.get("/", name="home")
async def home(request: Request, session: AsyncSession) -> Response:
    """List the latest published posts."""
    posts = (await session.scalars(published().limit(20))).all()
    return render(request, "blog/home.html", {"posts": posts})


async def _post_or_404(session: AsyncSession, slug: str) -> Post:
    statement = published().where(Post.slug == slug).options(selectinload(Post.comments))
    post: Post = await first_or_404(session, statement, detail="There is no post here.")
    return post


@router.get("/posts/{slug}", name="post")
async def post_page(request: Request, session: AsyncSession, slug: str) -> Response:
    """Show a published post, its comments and the form to add one."""
    post = await _post_or_404(session, slug)
    form = CommentForm.blank(request)
    return render(request, "blog/post.html", {"post": post, "form": form})


@router.post("/posts/{slug}", name="comment")
async def comment(request: Request, session: AsyncSession, slug: str) -> Response:
    """Add a valid comment and go back to the post, or show the form again with its errors."""
    post = await _post_or_404(session, slug)
    form = await CommentForm.from_request(request)
    if not form.is_valid:
        # RFC 9110 15.5.21: 422, the request was understood but its content is wrong.
        context = {"post": post, "form": form}
        return render(request, "blog/post.html", context, status_code=422)
    session.add(Comment(post=post, name=form.data.name, body=form.data.body))
    flash(request, f"Thanks, {form.data.name}! Your comment is published.", "success")
    # RFC 9110 15.4.4: 303 makes the browser GET the post, so a reload never re-posts.
    return RedirectResponse(request.app.url_path_for("post", slug=slug), status_code=303)


@router.get("/tags/{slug}", name="tag")
async def tag_page(request: Request, session: AsyncSession, slug: str) -> Response:
    """List the published posts that have the tag."""
    tag: Tag = await first_or_404(
        session, select(Tag).where(Tag.slug == slug), detail="There is no such tag."
    )
    posts = (await session.scalars(published().where(Post.tags.contains(tag)))).all()
    return render(request, "blog/tag.html", {"tag": tag, "posts": posts})


# The app ------------------------------------------------------------------------------


def create_app(database_url: str | None = None, settings: Settings | None = None) -> Carboy:
    """Return the blog on a database, with sign-in pages at ``/auth/`` and the admin.

    Args:
        database_url: The database; by default ``CARBOY_DATABASE_URL``, else
            ``blog.sqlite3`` in this folder, wherever the command runs from.
        settings: The app's settings; by default read from ``CARBOY_*``, with
            the development-only secret key when ``CARBOY_SECRET_KEY`` is unset.
    """
    if settings is None:
        settings = Settings()
        if settings.secret_key is None:
            settings.secret_key = SecretStr(DEVELOPMENT_SECRET_KEY)
    if database_url is None and settings.database_url is None:
        database_url = f"sqlite:///{HERE / 'blog.sqlite3'}"
    admin = Admin(title="Blog administration")
    admin.register(Author, AuthorAdmin)
    admin.register(Post, PostAdmin)
    admin.register(Tag, TagAdmin)
    admin.register(Comment, CommentAdmin)
    database = Database(database_url, migrations=HERE / "migrations")
    app = Carboy(extensions=[database, Auth(), admin], settings=settings)
    app.include_router(router)
    return app


app = create_app()
