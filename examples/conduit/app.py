"""Conduit, the RealWorld API: users, profiles, articles, comments, tags and favorites.

The contract is the RealWorld OpenAPI document: every path under ``/api``,
request bodies wrapped in ``{"user": ...}``, ``{"article": ...}`` or
``{"comment": ...}``, errors as ``{"errors": {"<field>": ["<message>"]}}``
(422 for invalid input, 401 without a valid token, 403 on someone else's
article or comment, 404 for what does not exist, 409 for a taken username or
e-mail address). A client signs in with ``Authorization: Token <token>``,
an API token of ``carboy.auth``; only its digest is stored.

Serve it on SQLite (the default, ``conduit.sqlite3`` here) or set
``CARBOY_DATABASE_URL``::

    carboy db migrate && carboy run
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field
from sqlalchemy import Column, ForeignKey, String, Table, Text, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from carboy import Carboy, Depends, JSONResponse, Request, Response, Router
from carboy.auth import Auth, authenticate
from carboy.auth.tokens import create_token
from carboy.auth.user import User
from carboy.config import Settings
from carboy.db import AsyncSession, Database, Model, UTCDateTime, atomic, get_or_create
from carboy.db.models import utcnow
from carboy.exceptions import HTTPException, RequestValidationError
from carboy.openapi_config import OpenAPIConfig
from carboy.security import APIKeyHeader

HERE = Path(__file__).resolve().parent
USER_TABLE = "auth_user"

# The models -----------------------------------------------------------------------------

follows = Table(
    "conduit_follow",
    Model.metadata,
    Column("follower_id", ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"), primary_key=True),
    Column("followed_id", ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"), primary_key=True),
)

favorites = Table(
    "conduit_favorite",
    Model.metadata,
    Column("user_id", ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"), primary_key=True),
    Column("article_id", ForeignKey("conduit_article.id", ondelete="CASCADE"), primary_key=True),
)

article_tags = Table(
    "conduit_article_tag",
    Model.metadata,
    Column("article_id", ForeignKey("conduit_article.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("conduit_tag.id", ondelete="CASCADE"), primary_key=True),
)


class ConduitProfile(Model):
    """What Conduit adds to a user: a bio and an image."""

    __tablename__ = "conduit_profile"

    user_id: Mapped[int] = mapped_column(
        ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"), primary_key=True
    )
    bio: Mapped[str | None] = mapped_column(Text, default=None)
    image: Mapped[str | None] = mapped_column(String(500), default=None)


class ConduitTag(Model):
    __tablename__ = "conduit_tag"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class ConduitArticle(Model):
    __tablename__ = "conduit_article"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(300), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(
        ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[User] = relationship(User)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    tags: Mapped[list[ConduitTag]] = relationship(secondary=article_tags, order_by=ConduitTag.name)


class ConduitComment(Model):
    __tablename__ = "conduit_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("conduit_article.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"))
    author: Mapped[User] = relationship(User)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


# What goes in and out ---------------------------------------------------------------------

Text1 = Annotated[str, Field(min_length=1, max_length=10_000)]
Name = Annotated[str, Field(min_length=1, max_length=150, pattern=r"^[\w.@+-]+$")]
Email = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
Password = Annotated[str, Field(min_length=1, max_length=4096)]
TagName = Annotated[str, Field(min_length=1, max_length=100)]


class LoginUser(BaseModel):
    email: Email
    password: Password


class LoginBody(BaseModel):
    user: LoginUser


class NewUser(BaseModel):
    username: Name
    email: Email
    password: Password


class NewUserBody(BaseModel):
    user: NewUser


class UpdateUser(BaseModel):
    email: Email | None = None
    username: Name | None = None
    password: Password | None = None
    bio: str | None = Field(default=None, max_length=10_000)
    image: str | None = Field(default=None, max_length=500)


class UpdateUserBody(BaseModel):
    user: UpdateUser


class UserOut(BaseModel):
    email: str
    token: str
    username: str
    bio: str | None
    image: str | None


class UserResponse(BaseModel):
    user: UserOut


class ProfileOut(BaseModel):
    username: str
    bio: str | None
    image: str | None
    following: bool


class ProfileResponse(BaseModel):
    profile: ProfileOut


class NewArticle(BaseModel):
    title: Annotated[str, Field(min_length=1, max_length=255)]
    description: Text1
    body: Text1
    tagList: list[TagName] = Field(default_factory=list, max_length=20)


class NewArticleBody(BaseModel):
    article: NewArticle


class UpdateArticle(BaseModel):
    title: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    description: Text1 | None = None
    body: Text1 | None = None
    tagList: list[TagName] | None = Field(default=None, max_length=20)


class UpdateArticleBody(BaseModel):
    article: UpdateArticle


class ArticleListItem(BaseModel):
    slug: str
    title: str
    description: str
    tagList: list[str]
    createdAt: datetime
    updatedAt: datetime
    favorited: bool
    favoritesCount: int
    author: ProfileOut


class ArticleOut(ArticleListItem):
    body: str


class ArticleResponse(BaseModel):
    article: ArticleOut


class ArticlesResponse(BaseModel):
    articles: list[ArticleListItem]
    articlesCount: int


class NewComment(BaseModel):
    body: Text1


class NewCommentBody(BaseModel):
    comment: NewComment


class CommentOut(BaseModel):
    id: int
    createdAt: datetime
    updatedAt: datetime
    body: str
    author: ProfileOut


class CommentResponse(BaseModel):
    comment: CommentOut


class CommentsResponse(BaseModel):
    comments: list[CommentOut]


class TagsResponse(BaseModel):
    tags: list[str]


# Errors and the signed-in user -------------------------------------------------------------


class ConduitError(HTTPException):
    """An error answered as ``{"errors": {field: [message]}}``."""

    def __init__(self, status_code: int, field: str, message: str) -> None:
        super().__init__(status_code, message)
        self.field = field


async def conduit_error(request: Request, exc: ConduitError) -> Response:
    return JSONResponse({"errors": {exc.field: [exc.detail]}}, exc.status_code)


async def invalid_input(request: Request, exc: RequestValidationError) -> Response:
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        location = str(error["location"])
        field = location.rsplit(".", 1)[-1] if "." in location else location
        errors.setdefault(field, []).append(str(error["message"]))
    return JSONResponse({"errors": errors}, 422)


async def other_http_error(request: Request, exc: HTTPException) -> Response:
    return JSONResponse({"errors": {"request": [str(exc.detail)]}}, exc.status_code)


token_header = APIKeyHeader(
    name="Authorization",
    scheme_name="Token",
    description="'Token <token>', the token that registration and login answer with.",
    auto_error=False,
)
Credentials = Annotated[str | None, Depends(token_header)]


def _token(credentials: str | None) -> str | None:
    if credentials is None:
        return None
    scheme, _, token = credentials.partition(" ")
    return token.strip() if scheme.lower() in ("token", "bearer") and token.strip() else None


async def signed_in(request: Request, credentials: Credentials) -> User:
    """The user of the request's token; 401 without one, or with one that is not valid."""
    user = request.user
    if _token(credentials) is None:
        raise ConduitError(401, "token", "is missing")
    if not isinstance(user, User):
        raise ConduitError(401, "token", "is invalid")
    return user


async def maybe_signed_in(request: Request, credentials: Credentials) -> User | None:
    """The user of the request's token, if it sends one; 401 for a token not valid."""
    if credentials is None:
        return None
    return await signed_in(request, credentials)


Me = Annotated[User, Depends(signed_in)]
MaybeMe = Annotated[User | None, Depends(maybe_signed_in)]


# Reading rows as the API shows them ---------------------------------------------------


async def _profiles(
    session: AsyncSession, users: list[User], me: User | None
) -> dict[int, ProfileOut]:
    """Return each user's profile as seen by ``me``: two queries, whatever the number."""
    ids = {user.id for user in users}
    if not ids:
        return {}
    extra = {
        row.user_id: row
        for row in await session.scalars(
            select(ConduitProfile).where(ConduitProfile.user_id.in_(ids))
        )
    }
    followed: set[int] = set()
    if me is not None:
        statement = select(follows.c.followed_id).where(
            follows.c.follower_id == me.id, follows.c.followed_id.in_(ids)
        )
        followed = set(await session.scalars(statement))
    found = {}
    for user in users:
        profile = extra.get(user.id)
        found[user.id] = ProfileOut(
            username=user.username or "",
            bio=profile.bio if profile is not None else None,
            image=profile.image if profile is not None else None,
            following=user.id in followed,
        )
    return found


async def _articles(
    session: AsyncSession, articles: list[ConduitArticle], me: User | None
) -> list[ArticleOut]:
    """Return the articles as the API shows them: four queries, whatever the number."""
    ids = [article.id for article in articles]
    counts: dict[int, int] = {}
    mine: set[int] = set()
    if ids:
        statement = (
            select(favorites.c.article_id, func.count())
            .where(favorites.c.article_id.in_(ids))
            .group_by(favorites.c.article_id)
        )
        counts = {article_id: count for article_id, count in await session.execute(statement)}
        if me is not None:
            statement = select(favorites.c.article_id).where(
                favorites.c.user_id == me.id, favorites.c.article_id.in_(ids)
            )
            mine = set(await session.scalars(statement))
    profiles = await _profiles(session, [article.author for article in articles], me)
    return [
        ArticleOut(
            slug=article.slug,
            title=article.title,
            description=article.description,
            body=article.body,
            tagList=[tag.name for tag in article.tags],
            createdAt=article.created_at,
            updatedAt=article.updated_at,
            favorited=article.id in mine,
            favoritesCount=counts.get(article.id, 0),
            author=profiles[article.author_id],
        )
        for article in articles
    ]


def _with_author_and_tags(statement: Any) -> Any:
    return statement.options(selectinload(ConduitArticle.author), selectinload(ConduitArticle.tags))


async def _article(session: AsyncSession, slug: str) -> ConduitArticle:
    statement = _with_author_and_tags(select(ConduitArticle).where(ConduitArticle.slug == slug))
    article: ConduitArticle | None = (await session.scalars(statement)).first()
    if article is None:
        raise ConduitError(404, "article", "not found")
    return article


async def _user_named(session: AsyncSession, username: str) -> User:
    user = (await session.scalars(select(User).where(User.username == username))).first()
    if user is None:
        raise ConduitError(404, "profile", "not found")
    return user


def _user_out(user: User, token: str, profile: ConduitProfile | None) -> UserResponse:
    return UserResponse(
        user=UserOut(
            email=user.email,
            token=token,
            username=user.username or "",
            bio=profile.bio if profile is not None else None,
            image=profile.image if profile is not None else None,
        )
    )


def slugify(title: str) -> str:
    """Return a URL-safe slug of ``title``: ``"How to train"`` is ``how-to-train``."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:200] or "article"


async def _unique_slug(session: AsyncSession, title: str, own: int | None = None) -> str:
    base = slugify(title)
    taken = set(
        await session.scalars(
            select(ConduitArticle.slug).where(
                (ConduitArticle.slug == base) | ConduitArticle.slug.like(f"{base}-%"),
                ConduitArticle.id != (own or 0),
            )
        )
    )
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


async def _tags(session: AsyncSession, names: list[str]) -> list[ConduitTag]:
    """Return the tags of these names, making the new ones; safe when requests race."""
    wanted = list(dict.fromkeys(name.strip() for name in names if name.strip()))
    if not wanted:
        return []
    found = {
        tag.name: tag
        for tag in await session.scalars(select(ConduitTag).where(ConduitTag.name.in_(wanted)))
    }
    for name in wanted:
        if name not in found:
            # Another request may be making the same new tag right now.
            found[name], _ = await get_or_create(session, ConduitTag, name=name)
    # A case-blind collation (MariaDB's) finds one tag for "Go" and "go".
    return list({id(found[name]): found[name] for name in wanted}.values())


# The API ----------------------------------------------------------------------------------

api = Router(prefix="/api")


@api.post("/users/login", tags=["User and Authentication"])
async def login(request: Request, session: AsyncSession, body: LoginBody) -> UserResponse:
    """Sign in with an e-mail address and a password; answer with a token."""
    user = await authenticate(request, session, body.user.email, body.user.password)
    if not isinstance(user, User):
        raise ConduitError(401, "credentials", "invalid")
    _, token = await create_token(session, user, "conduit")
    return _user_out(user, token, await session.get(ConduitProfile, user.id))


@api.post("/users", status_code=201, tags=["User and Authentication"])
async def register(session: AsyncSession, body: NewUserBody) -> UserResponse:
    """Open an account; answer with its token."""
    new = body.user
    for field, column, value in (
        ("username", User.username, new.username),
        ("email", User.email, new.email.lower()),
    ):
        if (await session.scalars(select(User.id).where(column == value))).first() is not None:
            raise ConduitError(409, field, "has already been taken")
    user = User(email=new.email, username=new.username)
    user.set_password(new.password)
    session.add(user)
    await session.flush()
    profile = ConduitProfile(user_id=user.id)
    session.add(profile)
    _, token = await create_token(session, user, "conduit")
    return _user_out(user, token, profile)


@api.get("/user", tags=["User and Authentication"])
async def current_user(session: AsyncSession, me: Me, credentials: Credentials) -> UserResponse:
    """The signed-in user, with the token it sent."""
    return _user_out(me, _token(credentials) or "", await session.get(ConduitProfile, me.id))


@api.put("/user", tags=["User and Authentication"])
async def update_user(
    session: AsyncSession, me: Me, credentials: Credentials, body: UpdateUserBody
) -> UserResponse:
    """Change the signed-in user's e-mail address, username, password, bio or image."""
    changes = body.user
    for field, column, value in (
        ("username", User.username, changes.username),
        ("email", User.email, changes.email.lower() if changes.email else None),
    ):
        if value is None:
            continue
        statement = select(User.id).where(column == value, User.id != me.id)
        if (await session.scalars(statement)).first() is not None:
            raise ConduitError(409, field, "has already been taken")
    if changes.email is not None:
        me.email = changes.email
    if changes.username is not None:
        me.username = changes.username
    if changes.password is not None:
        me.set_password(changes.password)
    profile = await session.get(ConduitProfile, me.id)
    if profile is None:
        profile = ConduitProfile(user_id=me.id)
        session.add(profile)
    sent = changes.model_fields_set
    if "bio" in sent:
        profile.bio = changes.bio
    if "image" in sent:
        profile.image = changes.image
    await session.flush()
    return _user_out(me, _token(credentials) or "", profile)


@api.get("/profiles/{username}", tags=["ConduitProfile"])
async def get_profile(session: AsyncSession, username: str, me: MaybeMe) -> ProfileResponse:
    """A user's profile, and whether the signed-in user follows them."""
    user = await _user_named(session, username)
    return ProfileResponse(profile=(await _profiles(session, [user], me))[user.id])


@api.post("/profiles/{username}/follow", tags=["ConduitProfile"])
async def follow(session: AsyncSession, username: str, me: Me) -> ProfileResponse:
    """Follow a user; following twice changes nothing."""
    user = await _user_named(session, username)
    if user.id == me.id:
        raise ConduitError(422, "profile", "cannot follow yourself")
    await _link(session, follows, follower_id=me.id, followed_id=user.id)
    return ProfileResponse(profile=(await _profiles(session, [user], me))[user.id])


async def _link(session: AsyncSession, table: Table, **ids: int) -> None:
    """Insert a row of a link table unless it is there; requests racing to insert it all succeed."""
    present = select(table).filter_by(**ids)
    if (await session.execute(present)).first() is not None:
        return
    try:
        async with atomic(session):
            await session.execute(insert(table).values(**ids))
    except IntegrityError:
        # Another request inserted it first; anything else (a row it points
        # to is gone) leaves it missing, and is raised.
        if (await session.execute(present)).first() is None:
            raise


@api.delete("/profiles/{username}/follow", tags=["ConduitProfile"])
async def unfollow(session: AsyncSession, username: str, me: Me) -> ProfileResponse:
    """Stop following a user."""
    user = await _user_named(session, username)
    await session.execute(
        delete(follows).where(follows.c.follower_id == me.id, follows.c.followed_id == user.id)
    )
    return ProfileResponse(profile=(await _profiles(session, [user], me))[user.id])


Limit = Annotated[int, Field(ge=1, le=100)]
Offset = Annotated[int, Field(ge=0, le=1_000_000)]


async def _page(
    session: AsyncSession, conditions: list[Any], me: User | None, limit: int, offset: int
) -> ArticlesResponse:
    total = await session.scalar(
        select(func.count()).select_from(ConduitArticle).where(*conditions)
    )
    statement = _with_author_and_tags(
        select(ConduitArticle)
        .where(*conditions)
        .order_by(ConduitArticle.created_at.desc(), ConduitArticle.id.desc())
        .limit(limit)
        .offset(offset)
    )
    articles = list(await session.scalars(statement))
    shown = await _articles(session, articles, me)
    return ArticlesResponse(
        articles=[ArticleListItem(**item.model_dump(exclude={"body"})) for item in shown],
        articlesCount=total or 0,
    )


@api.get("/articles", tags=["Articles"])
async def list_articles(
    session: AsyncSession,
    me: MaybeMe,
    tag: str | None = None,
    author: str | None = None,
    favorited: str | None = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> ArticlesResponse:
    """The newest articles, by tag, author or the user who favorited them."""
    conditions: list[Any] = []
    if tag is not None:
        tagged = select(article_tags.c.article_id).join(ConduitTag).where(ConduitTag.name == tag)
        conditions.append(ConduitArticle.id.in_(tagged))
    if author is not None:
        conditions.append(ConduitArticle.author.has(User.username == author))
    if favorited is not None:
        liked = (
            select(favorites.c.article_id)
            .join(User, User.id == favorites.c.user_id)
            .where(User.username == favorited)
        )
        conditions.append(ConduitArticle.id.in_(liked))
    return await _page(session, conditions, me, limit, offset)


@api.get("/articles/feed", tags=["Articles"])
async def feed(
    session: AsyncSession, me: Me, limit: Limit = 20, offset: Offset = 0
) -> ArticlesResponse:
    """The newest articles of the users the signed-in user follows."""
    followed = select(follows.c.followed_id).where(follows.c.follower_id == me.id)
    return await _page(session, [ConduitArticle.author_id.in_(followed)], me, limit, offset)


@api.post("/articles", status_code=201, tags=["Articles"])
async def create_article(session: AsyncSession, me: Me, body: NewArticleBody) -> ArticleResponse:
    """Write an article; its slug comes from its title."""
    new = body.article
    article = ConduitArticle(
        slug=await _unique_slug(session, new.title),
        title=new.title,
        description=new.description,
        body=new.body,
        author_id=me.id,
        tags=await _tags(session, new.tagList),
    )
    session.add(article)
    await session.flush()
    article = await _article(session, article.slug)
    return ArticleResponse(article=(await _articles(session, [article], me))[0])


@api.get("/articles/{slug}", tags=["Articles"])
async def get_article(session: AsyncSession, slug: str, me: MaybeMe) -> ArticleResponse:
    """One article."""
    article = await _article(session, slug)
    return ArticleResponse(article=(await _articles(session, [article], me))[0])


def _own(article: ConduitArticle | ConduitComment, me: User, what: str) -> None:
    if article.author_id != me.id:
        raise ConduitError(403, what, "forbidden")


@api.put("/articles/{slug}", tags=["Articles"])
async def update_article(
    session: AsyncSession, slug: str, me: Me, body: UpdateArticleBody
) -> ArticleResponse:
    """Change one's own article; a new title gives a new slug."""
    article = await _article(session, slug)
    _own(article, me, "article")
    changes = body.article
    if changes.title is not None and changes.title != article.title:
        article.title = changes.title
        article.slug = await _unique_slug(session, changes.title, own=article.id)
    if changes.description is not None:
        article.description = changes.description
    if changes.body is not None:
        article.body = changes.body
    if changes.tagList is not None:
        article.tags = await _tags(session, changes.tagList)
    article.updated_at = utcnow()
    await session.flush()
    return ArticleResponse(article=(await _articles(session, [article], me))[0])


@api.delete("/articles/{slug}", status_code=204, tags=["Articles"])
async def delete_article(session: AsyncSession, slug: str, me: Me) -> None:
    """Delete one's own article, with its comments and favorites."""
    article = await _article(session, slug)
    _own(article, me, "article")
    await session.delete(article)


@api.get("/articles/{slug}/comments", tags=["Comments"])
async def list_comments(session: AsyncSession, slug: str, me: MaybeMe) -> CommentsResponse:
    """An article's comments, oldest first."""
    article = await _article(session, slug)
    statement = (
        select(ConduitComment)
        .where(ConduitComment.article_id == article.id)
        .options(selectinload(ConduitComment.author))
        .order_by(ConduitComment.created_at, ConduitComment.id)
    )
    comments = list(await session.scalars(statement))
    profiles = await _profiles(session, [comment.author for comment in comments], me)
    return CommentsResponse(comments=[_comment_out(c, profiles[c.author_id]) for c in comments])


def _comment_out(comment: ConduitComment, author: ProfileOut) -> CommentOut:
    return CommentOut(
        id=comment.id,
        createdAt=comment.created_at,
        updatedAt=comment.updated_at,
        body=comment.body,
        author=author,
    )


@api.post("/articles/{slug}/comments", status_code=201, tags=["Comments"])
async def add_comment(
    session: AsyncSession, slug: str, me: Me, body: NewCommentBody
) -> CommentResponse:
    """ConduitComment on an article."""
    article = await _article(session, slug)
    comment = ConduitComment(article_id=article.id, author_id=me.id, body=body.comment.body)
    session.add(comment)
    await session.flush()
    profile = (await _profiles(session, [me], me))[me.id]
    return CommentResponse(comment=_comment_out(comment, profile))


@api.delete("/articles/{slug}/comments/{comment_id}", status_code=204, tags=["Comments"])
async def delete_comment(
    session: AsyncSession, slug: str, comment_id: Annotated[int, Field(ge=1)], me: Me
) -> None:
    """Delete one's own comment."""
    article = await _article(session, slug)
    comment = await session.get(ConduitComment, comment_id)
    if comment is None or comment.article_id != article.id:
        raise ConduitError(404, "comment", "not found")
    _own(comment, me, "comment")
    await session.delete(comment)


@api.post("/articles/{slug}/favorite", tags=["Favorites"])
async def favorite(session: AsyncSession, slug: str, me: Me) -> ArticleResponse:
    """Favorite an article; twice changes nothing."""
    article = await _article(session, slug)
    await _link(session, favorites, user_id=me.id, article_id=article.id)
    return ArticleResponse(article=(await _articles(session, [article], me))[0])


@api.delete("/articles/{slug}/favorite", tags=["Favorites"])
async def unfavorite(session: AsyncSession, slug: str, me: Me) -> ArticleResponse:
    """Take an article out of one's favorites."""
    article = await _article(session, slug)
    await session.execute(
        delete(favorites).where(favorites.c.user_id == me.id, favorites.c.article_id == article.id)
    )
    return ArticleResponse(article=(await _articles(session, [article], me))[0])


@api.get("/tags", tags=["Tags"])
async def list_tags(session: AsyncSession) -> TagsResponse:
    """Every tag some article has, by name."""
    used = select(article_tags.c.tag_id)
    return TagsResponse(
        tags=list(
            await session.scalars(
                select(ConduitTag.name).where(ConduitTag.id.in_(used)).order_by(ConduitTag.name)
            )
        )
    )


# The app -----------------------------------------------------------------------------------


def create_app(database_url: str | None = None, settings: Settings | None = None) -> Carboy:
    """Return the Conduit app on ``database_url``, else CARBOY_DATABASE_URL, else SQLite."""
    settings = settings or Settings()
    if database_url is None and settings.database_url is None:
        database_url = f"sqlite:///{HERE / 'conduit.sqlite3'}"
    database = Database(database_url, migrations=HERE / "migrations")
    app = Carboy(
        extensions=[database, Auth()],
        settings=settings,
        openapi=OpenAPIConfig(
            title="Conduit",
            version="2.0.0",
            description="The RealWorld API: users, profiles, articles, comments and tags.",
        ),
        exception_handlers={
            ConduitError: conduit_error,
            RequestValidationError: invalid_input,
            HTTPException: other_http_error,
        },
    )
    app.include_router(api)
    return app


app = create_app()
