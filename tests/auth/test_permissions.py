"""Who holds which permission, on SQLite and PostgreSQL, with sync and async sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from carboy.auth import AnonymousUser, Group, Permission, get_permissions, grant, has_permission
from carboy.auth import revoke as revoke_permissions
from carboy.auth.models import user_permissions
from carboy.auth.permissions import model_permission
from carboy.auth.user import User
from carboy.db import Database

from .conftest import AddUser

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextmanager
def counting_queries(db: Database) -> Iterator[list[str]]:
    """Collect the SQL statements run on ``db``'s sync engine inside the block."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@asynccontextmanager
async def async_session(db: Database) -> AsyncIterator[Any]:
    """An async session of ``db``; the async engine is closed afterwards, in this event loop."""
    try:
        async with db.async_session() as session:
            yield session
    finally:
        await db.disconnect()


def load(session: Session, user: User) -> User:
    stored = session.get(User, user.id)
    assert stored is not None
    return stored


def make_group(session: Session, name: str, *codenames: str) -> Group:
    group = Group(name=name)
    session.add(group)
    session.flush()
    grant(session, group, *codenames)
    return group


# Who holds what --------------------------------------------------------------------


async def test_a_plain_user_holds_no_permission(db: Database, add_user: AddUser) -> None:
    with db.session() as session:
        user = load(session, add_user())

        assert get_permissions(session, user) == frozenset()
        assert not await has_permission(session, user, "post.change")


async def test_a_user_holds_the_permissions_granted_to_them(
    db: Database, add_user: AddUser
) -> None:
    with db.session() as session:
        grant(session, load(session, add_user()), "post.change", "post.publish")
        session.commit()

    with db.session() as session:
        user = session.scalars(select(User)).one()
        assert get_permissions(session, user) == {"post.change", "post.publish"}
        assert await has_permission(session, user, "post.publish")
        assert not await has_permission(session, user, "post.delete")
        assert [p.codename for p in user.user_permissions] == ["post.change", "post.publish"]


async def test_granting_makes_permission_rows_named_after_the_action(
    db: Database, add_user: AddUser
) -> None:
    ada, grace = add_user(), add_user("grace@example.com")
    with db.session() as session:
        grant(session, load(session, ada), "post.publish")
        grant(session, load(session, grace), "post.publish")
        session.commit()

    with db.session() as session:
        rows = [(p.codename, p.name, str(p)) for p in session.scalars(select(Permission))]

    assert rows == [("post.publish", "Can publish post", "post.publish")]


async def test_granting_twice_holds_the_permission_once(db: Database, add_user: AddUser) -> None:
    with db.session() as session:
        user = load(session, add_user())
        grant(session, user, "post.publish")
        grant(session, user, "post.publish", "post.publish")
        session.commit()

    with db.session() as session:
        assert len(session.execute(select(user_permissions)).all()) == 1


async def test_a_group_member_holds_the_group_s_permissions(
    db: Database, add_user: AddUser
) -> None:
    ada, grace = add_user(), add_user("grace@example.com")
    with db.session() as session:
        editors = make_group(session, "Editors", "post.change", "post.publish")
        readers = make_group(session, "Readers", "post.view")
        user = load(session, ada)
        user.groups.extend([editors, readers])
        grant(session, user, "comment.delete")
        other = load(session, grace)
        other.groups.append(readers)
        session.commit()

    with db.session() as session:
        ada = session.scalars(select(User).where(User.email == "ada@example.com")).one()
        grace = session.scalars(select(User).where(User.email == "grace@example.com")).one()

        assert get_permissions(session, ada) == {
            "comment.delete",
            "post.change",
            "post.publish",
            "post.view",
        }
        assert get_permissions(session, grace) == {"post.view"}
        assert await has_permission(session, ada, "post.publish")
        assert not await has_permission(session, grace, "post.publish")
        assert [str(group) for group in ada.groups] == ["Editors", "Readers"]


async def test_a_permission_held_two_ways_is_listed_once(db: Database, add_user: AddUser) -> None:
    added = add_user()
    with db.session() as session:
        editors = make_group(session, "Editors", "post.publish")
        user = load(session, added)
        user.groups.append(editors)
        grant(session, user, "post.publish")
        session.commit()

        assert get_permissions(session, user) == {"post.publish"}


async def test_a_superuser_holds_every_permission(db: Database, add_user: AddUser) -> None:
    with db.session() as session:
        user = load(session, add_user(is_superuser=True))

        assert await has_permission(session, user, "post.delete")
        assert await has_permission(session, user, "anything.at_all")
        # get_permissions lists what is granted; has_permission knows superusers.
        assert get_permissions(session, user) == frozenset()


@pytest.mark.parametrize("superuser", [False, True])
async def test_an_inactive_user_holds_no_permission(
    db: Database, add_user: AddUser, superuser: bool
) -> None:
    with db.session() as session:
        user = load(session, add_user(is_superuser=superuser))
        grant(session, user, "post.publish")
        session.add(Group(name="Editors"))
        user.is_active = False
        session.commit()

        assert get_permissions(session, user) == frozenset()
        assert not await has_permission(session, user, "post.publish")


async def test_an_anonymous_user_holds_no_permission(db: Database) -> None:
    with db.session() as session:
        assert get_permissions(session, AnonymousUser()) == frozenset()
        assert not await has_permission(session, AnonymousUser(), "post.view")
        assert not await has_permission(session, None, "post.view")


# Caching -----------------------------------------------------------------------------


async def test_permissions_are_read_once_per_user_object(db: Database, add_user: AddUser) -> None:
    added = add_user()
    with db.session() as session:
        grant(session, load(session, added), "post.publish")
        session.commit()

    with db.session() as session:
        user = load(session, added)
        with counting_queries(db) as statements:
            first = get_permissions(session, user)
            second = get_permissions(session, user)
            assert await has_permission(session, user, "post.publish")
            assert not await has_permission(session, user, "post.delete")

    assert first == second == {"post.publish"}
    assert len(statements) == 1


async def test_grant_and_revoke_refresh_the_cached_permissions(
    db: Database, add_user: AddUser
) -> None:
    with db.session() as session:
        user = load(session, add_user())
        assert get_permissions(session, user) == frozenset()

        grant(session, user, "post.publish", "post.change")
        assert get_permissions(session, user) == {"post.publish", "post.change"}

        revoke_permissions(session, user, "post.publish")
        assert get_permissions(session, user) == {"post.change"}
        assert not await has_permission(session, user, "post.publish")
        session.commit()

    with db.session() as session:
        assert get_permissions(session, session.scalars(select(User)).one()) == {"post.change"}


# Grant and revoke ------------------------------------------------------------------------


async def test_revoking_from_a_group_takes_it_from_its_members(
    db: Database, add_user: AddUser
) -> None:
    added = add_user()
    with db.session() as session:
        editors = make_group(session, "Editors", "post.publish", "post.change")
        user = load(session, added)
        user.groups.append(editors)
        session.commit()

    with db.session() as session:
        group = session.scalars(select(Group)).one()
        revoke_permissions(session, group, "post.publish", "post.unheld")
        session.commit()

    with db.session() as session:
        user = session.scalars(select(User)).one()
        assert get_permissions(session, user) == {"post.change"}
        # The Permission row stays, for others who hold it.
        assert {p.codename for p in session.scalars(select(Permission))} == {
            "post.change",
            "post.publish",
        }


async def test_grant_and_revoke_with_an_async_session(db: Database, add_user: AddUser) -> None:
    added = add_user()
    async with async_session(db) as session:
        user = await session.get(User, added.id)
        await grant(session, user, "post.publish", "post.change")
        group = Group(name="Editors")
        session.add(group)
        await session.flush()
        await grant(session, group, "post.delete")
        await session.commit()

        assert await get_permissions(session, user) == {"post.publish", "post.change"}
        await revoke_permissions(session, user, "post.change")
        assert await get_permissions(session, user) == {"post.publish"}
        assert await has_permission(session, user, "post.publish")
        assert not await has_permission(session, user, "post.change")
        await session.commit()

    with db.session() as session:
        stored = load(session, added)
        assert get_permissions(session, stored) == {"post.publish"}
        editors = session.scalars(select(Group)).one()
        assert [p.codename for p in editors.permissions] == ["post.delete"]


@pytest.mark.parametrize(
    "codename",
    ["publish", "Post.publish", "post.", ".publish", "post.publish.now", "post publish", "", "é.x"],
)
async def test_grant_and_revoke_refuse_what_is_not_a_codename(
    db: Database, add_user: AddUser, codename: str
) -> None:
    message = (
        f"{codename!r} is not a permission codename. Write <table>.<action>, such as 'post.change'."
    )
    with db.session() as session:
        user = load(session, add_user())

        with pytest.raises(ValueError) as granted:
            grant(session, user, "post.view", codename)
        with pytest.raises(ValueError) as revoked:
            revoke_permissions(session, user, codename)

        assert str(granted.value) == str(revoked.value) == message
        session.commit()

    with db.session() as session:
        assert session.scalars(select(Permission)).all() == []


async def test_model_permission_names_the_model_s_table() -> None:
    assert model_permission(User, "change") == "auth_user.change"
    assert model_permission(Group, "view") == "auth_group.view"


# Object permissions --------------------------------------------------------------------


class Post:
    def __init__(self, author_id: int) -> None:
        self.author_id = author_id


def author_check(calls: list[tuple[Any, ...]]) -> Any:
    def check(user: Any, codename: str, obj: Any) -> bool:
        calls.append((user.email, codename, obj))
        return codename == "post.change" and obj.author_id == user.id

    return check


def async_author_check(calls: list[tuple[Any, ...]]) -> Any:
    sync = author_check(calls)

    async def check(user: Any, codename: str, obj: Any) -> bool:
        return sync(user, codename, obj)

    return check


@pytest.mark.parametrize("make_check", [author_check, async_author_check])
async def test_the_object_check_is_asked_only_about_an_object(
    db: Database, add_user: AddUser, make_check: Any
) -> None:
    calls: list[tuple[Any, ...]] = []
    check = make_check(calls)
    with db.session() as session:
        user = load(session, add_user())
        own, other = Post(author_id=user.id), Post(author_id=user.id + 1)

        assert not await has_permission(session, user, "post.change", object_check=check)
        assert calls == []
        assert await has_permission(session, user, "post.change", own, object_check=check)
        assert not await has_permission(session, user, "post.change", other, object_check=check)
        assert not await has_permission(session, user, "post.delete", own, object_check=check)

    assert calls == [
        ("ada@example.com", "post.change", own),
        ("ada@example.com", "post.change", other),
        ("ada@example.com", "post.delete", own),
    ]


async def test_the_object_check_is_not_asked_when_the_permission_is_held(
    db: Database, add_user: AddUser
) -> None:
    calls: list[tuple[Any, ...]] = []
    with db.session() as session:
        user = load(session, add_user())
        grant(session, user, "post.delete")

        assert await has_permission(
            session, user, "post.delete", Post(author_id=0), object_check=author_check(calls)
        )

    assert calls == []


async def test_the_object_check_is_not_asked_for_inactive_or_anonymous_users(
    db: Database, add_user: AddUser
) -> None:
    calls: list[tuple[Any, ...]] = []
    with db.session() as session:
        user = load(session, add_user(is_active=False))
        post = Post(author_id=user.id)

        assert not await has_permission(
            session, user, "post.change", post, object_check=author_check(calls)
        )
        assert not await has_permission(
            session, AnonymousUser(), "post.change", post, object_check=author_check(calls)
        )

    assert calls == []
