"""The auth battery's tables: users, groups, permissions and API tokens.

``User`` is the default user model (table ``auth_user``). A project extends it
by inheritance, or replaces it with its own subclass of ``AbstractUser`` that
keeps the table name ``auth_user`` (the other tables point to it), passed as
``Auth(user_model=...)``; ``carboy.auth.user`` then stays unimported.

Permissions are named ``<table>.<action>``: every model has ``view``, ``add``,
``change`` and ``delete`` (``post.change``), and an app names its own
(``post.publish``) when it grants them with ``grant()``, which makes the row
the first time.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, ForeignKey, String, Table, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship, validates

from carboy.db import Model, UTCDateTime
from carboy.db.models import utcnow

__all__ = [
    "USER_TABLE",
    "APIToken",
    "AbstractUser",
    "AnonymousUser",
    "Group",
    "Permission",
    "group_permissions",
    "user_groups",
    "user_permissions",
]

USER_TABLE = "auth_user"

group_permissions = Table(
    "auth_group_permission",
    Model.metadata,
    Column("group_id", ForeignKey("auth_group.id", ondelete="CASCADE"), primary_key=True),
    Column("permission_id", ForeignKey("auth_permission.id", ondelete="CASCADE"), primary_key=True),
)
user_groups = Table(
    "auth_user_group",
    Model.metadata,
    Column("user_id", ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("auth_group.id", ondelete="CASCADE"), primary_key=True),
)
user_permissions = Table(
    "auth_user_permission",
    Model.metadata,
    Column("user_id", ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"), primary_key=True),
    Column("permission_id", ForeignKey("auth_permission.id", ondelete="CASCADE"), primary_key=True),
)


class Permission(Model):
    """A right to do something: ``post.change``, or one an app declares."""

    __tablename__ = "auth_permission"

    id: Mapped[int] = mapped_column(primary_key=True)
    codename: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")

    def __str__(self) -> str:
        return self.codename


class Group(Model):
    """A set of users who share permissions, such as "Editors"."""

    __tablename__ = "auth_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(150), unique=True)
    permissions: Mapped[list[Permission]] = relationship(
        secondary=group_permissions, order_by=Permission.codename
    )

    def __str__(self) -> str:
        return self.name


class AbstractUser(Model):
    """The columns and behaviour every user model has; subclass it to make one.

    Users sign in with their e-mail address; ``username`` is optional.
    """

    __abstract__ = True
    __tablename__ = USER_TABLE

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    username: Mapped[str | None] = mapped_column(String(150), unique=True, default=None)
    password: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    """Whether the user may sign in; turn it off instead of deleting the user."""
    is_staff: Mapped[bool] = mapped_column(default=False)
    """Whether the user may use the admin site."""
    is_superuser: Mapped[bool] = mapped_column(default=False)
    """Whether the user has every permission without being given them."""
    last_login: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    date_joined: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    session_epoch: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    """How many times the user's sessions were all ended: by a logout or a password change.

    A session is signed in under the count of its time (``session_hash``
    binds it); once the count moves on, that session no longer authenticates,
    even replayed from a copied cookie.
    """

    @declared_attr
    @classmethod
    def groups(cls) -> Mapped[list[Group]]:
        return relationship(Group, secondary=user_groups, order_by=Group.name)

    @declared_attr
    @classmethod
    def user_permissions(cls) -> Mapped[list[Permission]]:
        return relationship(Permission, secondary=user_permissions, order_by=Permission.codename)

    @validates("email")
    def _normalize_email(self, _key: str, email: str) -> str:
        from carboy.auth.authentication import normalize_email

        return normalize_email(email)

    is_authenticated = True
    """Always true for a user model; ``AnonymousUser`` says false."""
    is_anonymous = False

    def set_password(self, password: str) -> None:
        """Store an argon2id hash of ``password`` and end every session of the user.

        ``validate_password`` it first, for a new one. To keep the current
        request's session signed in, call ``update_session_hash`` afterwards.
        """
        from carboy.auth.hashers import make_password

        self.password = make_password(password)
        self.end_sessions()

    def set_unusable_password(self) -> None:
        """Make every password fail, for a user who signs in another way; end their sessions."""
        from carboy.auth.hashers import make_unusable_password

        self.password = make_unusable_password()
        self.end_sessions()

    def end_sessions(self) -> None:
        """Move ``session_epoch`` on, so that every session signed in as the user ends.

        The change takes effect once the object is committed. A user not
        stored yet has no sessions, and keeps epoch 0. ``logout()`` does the
        same in one atomic ``UPDATE``.
        """
        if self.id is None:
            return
        self.session_epoch = (self.session_epoch or 0) + 1

    def has_usable_password(self) -> bool:
        """Whether some password can sign this user in."""
        from carboy.auth.hashers import is_usable

        return is_usable(self.password)

    def __str__(self) -> str:
        return self.email


class AnonymousUser:
    """The user of a request that is not signed in: ``request.user`` then."""

    id = None
    email = ""
    username = None
    is_active = False
    is_staff = False
    is_superuser = False
    is_authenticated = False
    is_anonymous = True

    def __repr__(self) -> str:
        return "AnonymousUser()"

    def __str__(self) -> str:
        return "anonymous"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnonymousUser)

    def __hash__(self) -> int:
        return 1


class APIToken(Model):
    """A token an API client sends as ``Authorization: Bearer <token>``.

    Only a SHA-256 digest of the token is stored: the token itself is shown
    once, when made. Tokens are random, so the digest needs no salt or
    slowness to resist guessing.
    """

    __tablename__ = "auth_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100), default="")
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    """The token's first characters, to tell tokens apart in a list."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    def __str__(self) -> str:
        return f"{self.prefix}... ({self.name})" if self.name else f"{self.prefix}..."


if TYPE_CHECKING:
    UserLike = AbstractUser | AnonymousUser
else:
    UserLike = Any
