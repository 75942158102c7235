"""The history of changes: who added, changed or deleted which object, and when.

The admin records every add, change and delete it makes here, and shows the
entries per object and on its dashboard. Application code records its own
changes in the same log with the same functions, so that the admin shows them
too::

    from carboy.admin.history import record, record_change, snapshot

    @app.post("/posts/{post_id}/publish")
    async def publish(post_id: int, request: Request, session: AsyncSession) -> None:
        post = await get_or_404(session, Post, post_id)
        before = snapshot(post)
        post.status = Status.PUBLISHED
        post.published_at = utcnow()
        await record_change(session, request.user, post, before, message="Published.")

    @app.post("/posts")
    def add_post(data: PostIn, request: Request, session: Session) -> dict[str, int]:
        post = Post(title=data.title)
        session.add(post)
        record(session, request.user, "add", post)   # flushes: the post has its id
        return {"id": post.id}

Each function takes a sync ``Session`` or an ``AsyncSession``; with the async
one, await its result. An entry is added to the session and flushed, and is
committed with the rest of the request's work, or rolled back with it.

``LogEntry.changes`` is always a list of ``{"field", "old", "new"}``, with
values made JSON-safe (``json_safe``): for ``"change"`` the fields that
changed; for ``"add"`` every column, ``old`` being ``None``; for ``"delete"``
every column, ``new`` being ``None``. Columns that hold secrets (named
``password``, or ending in ``_hash`` or ``digest``) show ``"********"``,
never their value, and count as changed only when their value did.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import secrets
import uuid
from collections.abc import Awaitable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, overload

from sqlalchemy import JSON, ForeignKey, Index, String, Text, event, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ColumnProperty, Mapped, Mapper, Session, mapped_column

from carboy.db import BatteryMigrations, Model, UTCDateTime
from carboy.db.models import utcnow

if TYPE_CHECKING:
    from carboy.auth import AbstractUser, AnonymousUser

    _User = AbstractUser | AnonymousUser

__all__ = [
    "ADD",
    "CHANGE",
    "DELETE",
    "MASK",
    "MIGRATIONS",
    "ChangeTracker",
    "LogEntry",
    "changes_between",
    "history_of",
    "is_secret",
    "json_safe",
    "object_key",
    "recent_actions",
    "record",
    "record_change",
    "snapshot",
]

ADD = "add"
CHANGE = "change"
DELETE = "delete"

MASK = "********"
"""What the history shows in place of a secret column's value."""

MAX_ACTION_LENGTH = 32
MAX_REPR_LENGTH = 200

MIGRATIONS = BatteryMigrations(
    package="carboy.admin",
    folder="migrations",
    branch="admin",
    tables=frozenset({"admin_log_entry"}),
)
"""The migrations of the history's table; the ``Admin`` extension declares them."""


class LogEntry(Model):
    """One recorded action on one object: who, when, what, and the values it changed."""

    __tablename__ = "admin_log_entry"
    __table_args__ = (Index("ix_admin_log_entry_object", "object_table", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    action_time: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("auth_user.id", ondelete="SET NULL"), default=None, index=True
    )
    """The user who acted; ``None`` once that user is deleted, or when nobody signed in did."""
    user_repr: Mapped[str] = mapped_column(String(254), default="")
    """The user's e-mail address when they acted; kept when the user is deleted."""
    action: Mapped[str] = mapped_column(String(MAX_ACTION_LENGTH))
    """``"add"``, ``"change"``, ``"delete"``, or a word of an app's own, such as ``"publish"``."""
    object_table: Mapped[str] = mapped_column(String(128))
    object_id: Mapped[str] = mapped_column(String(255))
    """The object's primary key as text; the values of a composite key joined by commas."""
    object_repr: Mapped[str] = mapped_column(String(MAX_REPR_LENGTH))
    """``str(obj)`` when the action was recorded, cut to 200 characters."""
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """A list of ``{"field", "old", "new"}``; see the module's documentation."""
    message: Mapped[str] = mapped_column(Text, default="")

    @property
    def is_addition(self) -> bool:
        """Whether the entry records an object's addition."""
        return self.action == ADD

    @property
    def is_change(self) -> bool:
        """Whether the entry records a change of an object's values."""
        return self.action == CHANGE

    @property
    def is_deletion(self) -> bool:
        """Whether the entry records an object's deletion."""
        return self.action == DELETE

    def __str__(self) -> str:
        who = self.user_repr or "Someone"
        return f"{who}: {self.action} {self.object_table} {self.object_id} ({self.object_repr})"


# Values ------------------------------------------------------------------------------

# Secrets are compared by a keyed fingerprint that lives only in this process,
# so that a snapshot can tell a changed password from an unchanged one without
# holding anything that could be matched against a known hash.
_FINGERPRINT_KEY = secrets.token_bytes(32)


class _Masked(str):
    """``MASK`` as a string, equal to another ``_Masked`` only when their secrets are equal."""

    __slots__ = ("fingerprint",)
    fingerprint: bytes

    def __new__(cls, secret: Any) -> _Masked:
        masked = super().__new__(cls, MASK)
        material = repr(secret).encode()
        masked.fingerprint = hmac.new(_FINGERPRINT_KEY, material, hashlib.sha256).digest()
        return masked

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Masked):
            return hmac.compare_digest(self.fingerprint, other.fingerprint)
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return str.__hash__(self)

    def __reduce__(self) -> tuple[Any, ...]:
        # Copied or pickled, a mask stays a plain mask: the fingerprint never leaves.
        return (str, (MASK,))


def is_secret(field: str) -> bool:
    """Whether the column ``field`` holds a secret the history must never show.

    Secret columns are named ``password``, or end in ``_hash`` or ``digest``.
    """
    name = field.lower()
    return name == "password" or name.endswith(("_hash", "digest"))


def json_safe(value: Any) -> Any:
    """Return ``value`` as data JSON can hold, for the history to store.

    Dates, times and datetimes become ISO 8601 strings; decimals, UUIDs and
    paths strings; enums their value; durations seconds; infinite and NaN
    floats strings; bytes a length and a SHA-256 prefix (never the bytes);
    lists, tuples and sets lists; mappings dicts with string keys; anything
    else ``str(value)``.
    """
    if value is None or isinstance(value, _Masked):
        return value
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    # Exact types: a subclass (a str or int of a library's own) is stored as its base.
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal | uuid.UUID | PurePath):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return f"<{len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}>"
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [json_safe(item) for item in value]
        if isinstance(value, set | frozenset):
            items.sort(key=repr)
        return items
    return str(value)


def _column_keys(mapper: Mapper[Any]) -> list[str]:
    return [
        prop.key
        for prop in mapper.column_attrs
        if isinstance(prop, ColumnProperty) and prop.columns
    ]


def snapshot(obj: object) -> dict[str, Any]:
    """Return the column values of ``obj``, an ORM object, made JSON-safe.

    Take one before changing an object, and give it to ``record_change``
    afterwards. Secret columns hold ``"********"``, which still tells a
    changed secret from an unchanged one within the process. Columns not
    loaded (expired or deferred) are left out: reading them would query the
    database, which an ``AsyncSession``'s objects cannot do on attribute access.
    """
    state = inspect(obj)
    loaded = state.dict
    values: dict[str, Any] = {}
    for key in _column_keys(state.mapper):
        if key not in loaded:
            continue
        value = loaded[key]
        values[key] = _Masked(value) if is_secret(key) else json_safe(value)
    return values


def changes_between(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the fields whose values differ, as ``{"field", "old", "new"}``, JSON-safe.

    A field only one side has is compared with ``None``. Secret fields show
    ``"********"`` on both sides, and only when their values differ.

    Example::

        changes_between({"title": "Draft", "views": 3}, {"title": "Final", "views": 3})
        # [{"field": "title", "old": "Draft", "new": "Final"}]
    """
    fields = [*after, *(key for key in before if key not in after)]
    changes: list[dict[str, Any]] = []
    for field in fields:
        old, new = before.get(field), after.get(field)
        if is_secret(field):
            if _secret_key(old) != _secret_key(new):
                changes.append({"field": field, "old": MASK, "new": MASK})
            continue
        old, new = json_safe(old), json_safe(new)
        if old != new or type(old) is not type(new):
            changes.append({"field": field, "old": old, "new": new})
    return changes


def _secret_key(value: Any) -> Any:
    # A value that is already a mask compares by its fingerprint; a raw secret
    # (from a dict an app made) by a fingerprint made of it.
    return value if isinstance(value, _Masked) else _Masked(value)


def _plain(changes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    # What is stored: plain JSON data, masks as the bare string.
    return [
        {
            str(key): MASK if isinstance(value, _Masked) else json_safe(value)
            for key, value in change.items()
        }
        for change in changes
    ]


def object_key(obj: object) -> str:
    """Return the primary key of ``obj`` as the history stores it.

    A composite key's values are joined by commas: ``"3,7"``.

    Raises:
        ValueError: when ``obj`` has no primary key yet.
    """
    state = inspect(obj)
    identity = state.identity
    if identity is None:
        identity = tuple(state.mapper.primary_key_from_instance(obj))
    if identity is None or any(value is None for value in identity):
        raise ValueError(
            f"The {type(obj).__name__} has no primary key yet, so the history cannot name "
            "it. Add it to the session before recording it: record() flushes it to get one."
        )
    return _key_text(identity)


def _key_text(identity: Any) -> str:
    values = identity if isinstance(identity, tuple | list) else (identity,)
    return ",".join(str(json_safe(value)) for value in values)


def _table_of(model: type[Any]) -> str:
    return str(inspect(model).local_table.name)


def _user_fields(user: _User | None) -> tuple[int | None, str]:
    if user is None or not getattr(user, "is_authenticated", True):
        return None, ""
    email = getattr(user, "email", None)
    return getattr(user, "id", None), str(email if email else user)[:254]


def _cut(text: str) -> str:
    if len(text) <= MAX_REPR_LENGTH:
        return text
    return text[: MAX_REPR_LENGTH - 1] + "…"


# Recording ---------------------------------------------------------------------------


@overload
def record(
    session: AsyncSession,
    user: _User | None,
    action: str,
    obj: object,
    changes: Sequence[Mapping[str, Any]] | None = None,
    message: str = "",
) -> Awaitable[LogEntry]: ...
@overload
def record(
    session: Session,
    user: _User | None,
    action: str,
    obj: object,
    changes: Sequence[Mapping[str, Any]] | None = None,
    message: str = "",
) -> LogEntry: ...
def record(
    session: Session | AsyncSession,
    user: _User | None,
    action: str,
    obj: object,
    changes: Sequence[Mapping[str, Any]] | None = None,
    message: str = "",
) -> LogEntry | Awaitable[LogEntry]:
    """Record that ``user`` did ``action`` to ``obj``; return the entry, added and flushed.

    Args:
        session: The request's sync or async session; with an ``AsyncSession``,
            await the result.
        user: The user who acted (``request.user``); ``None`` or an anonymous
            user for changes nobody signed in made.
        action: ``"add"``, ``"change"``, ``"delete"``, or a word of the app's
            own of up to 32 characters, such as ``"publish"``.
        obj: The ORM object acted on. A new one is flushed first, to get its
            primary key.
        changes: The ``{"field", "old", "new"}`` to store; by default, for
            ``"add"`` and ``"delete"`` every column's value, and for other
            actions the columns changed in the object since it was last
            flushed (``changes_between`` of a ``snapshot`` is more reliable).
        message: A note shown with the entry.

    Raises:
        ValueError: when ``action`` is empty or longer than 32 characters, or
            ``obj`` gets no primary key.
    """
    if not action or len(action) > MAX_ACTION_LENGTH:
        raise ValueError(
            f"The action {action!r} cannot be recorded: an action is a word of 1 to "
            f"{MAX_ACTION_LENGTH} characters, such as 'add', 'change', 'delete' or 'publish'."
        )
    if isinstance(session, AsyncSession):
        return session.run_sync(_record, user, action, obj, changes, message)
    return _record(session, user, action, obj, changes, message)


def _record(
    session: Session,
    user: _User | None,
    action: str,
    obj: object,
    changes: Sequence[Mapping[str, Any]] | None,
    message: str,
) -> LogEntry:
    state = inspect(obj)
    if changes is None and action not in (ADD, DELETE):
        # Read before the flush below, which forgets what changed.
        changes = _pending_changes(obj)
    if state.identity is None and obj in session:
        session.flush()
    key = object_key(obj)
    if changes is None:
        _load_columns(obj)
        values = snapshot(obj)
        if action == ADD:
            changes = [{"field": f, "old": None, "new": v} for f, v in values.items()]
        else:
            changes = [{"field": f, "old": v, "new": None} for f, v in values.items()]
    user_id, user_repr = _user_fields(user)
    entry = LogEntry(
        user_id=user_id,
        user_repr=user_repr,
        action=action,
        object_table=_table_of(type(obj)),
        object_id=key,
        object_repr=_cut(str(obj)),
        changes=_plain(changes),
        message=message,
    )
    session.add(entry)
    session.flush()
    return entry


def _load_columns(obj: object) -> None:
    # Only inside run_sync or a sync session: reading an expired column of a
    # persistent object queries for it, which is safe here.
    state = inspect(obj)
    if state.persistent:
        for key in _column_keys(state.mapper):
            if key in state.unloaded:
                getattr(obj, key)


def _pending_changes(obj: object) -> list[dict[str, Any]]:
    state = inspect(obj)
    changes: list[dict[str, Any]] = []
    for key in _column_keys(state.mapper):
        history = state.attrs[key].history
        if not history.added:
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0]
        if is_secret(key):
            old, new = _Masked(old), _Masked(new)
        changes.extend(changes_between({key: old}, {key: new}))
    return changes


@overload
def record_change(
    session: AsyncSession,
    user: _User | None,
    obj: object,
    before: Mapping[str, Any],
    message: str = "",
) -> Awaitable[LogEntry | None]: ...
@overload
def record_change(
    session: Session, user: _User | None, obj: object, before: Mapping[str, Any], message: str = ""
) -> LogEntry | None: ...
def record_change(
    session: Session | AsyncSession,
    user: _User | None,
    obj: object,
    before: Mapping[str, Any],
    message: str = "",
) -> LogEntry | Awaitable[LogEntry | None] | None:
    """Record the change of ``obj`` since ``before``, its ``snapshot``; nothing if none.

    Returns the entry, added and flushed, or ``None`` when no column changed;
    with an ``AsyncSession``, await the result.

    Example::

        before = snapshot(post)
        post.title = form.title
        await record_change(session, request.user, post, before)
    """
    if isinstance(session, AsyncSession):
        return session.run_sync(_record_change, user, obj, before, message)
    return _record_change(session, user, obj, before, message)


def _record_change(
    session: Session, user: _User | None, obj: object, before: Mapping[str, Any], message: str
) -> LogEntry | None:
    # Columns the database set on flush (expired then) are read back first.
    if session.is_modified(obj) or obj in session.new:
        session.flush()
    _load_columns(obj)
    after = snapshot(obj)
    changes = changes_between({key: before[key] for key in after if key in before}, after)
    if not changes:
        return None
    return _record(session, user, CHANGE, obj, changes, message)


class ChangeTracker:
    """Watch a session and record every ORM row added, changed or deleted through it.

    The admin wraps each custom action in one, so that the history holds what
    the action did to any row, selected or not. Rows are seen as they are
    flushed and, at ``record``, as they are about to be; bulk ``update()`` and
    ``delete()`` statements bypass the ORM and are not seen.

    Example::

        tracker = ChangeTracker()
        with tracker.watching(session.sync_session):
            await archive_old_posts(session)
        await session.run_sync(tracker.record, request.user, "Archive old posts")
    """

    def __init__(self) -> None:
        self._added: dict[int, object] = {}
        self._befores: dict[int, tuple[object, dict[str, Any]]] = {}

    @contextmanager
    def watching(self, session: Session) -> Iterator[ChangeTracker]:
        """Watch the flushes of ``session`` (an ``AsyncSession``'s ``sync_session``) while open."""
        event.listen(session, "before_flush", self._before_flush)
        try:
            yield self
        finally:
            event.remove(session, "before_flush", self._before_flush)

    def _before_flush(self, session: Session, _context: Any, _instances: Any) -> None:
        self._see(session)

    def _see(self, session: Session) -> None:
        for obj in session.new:
            if not isinstance(obj, LogEntry):
                self._added.setdefault(id(obj), obj)
        for obj in [*session.dirty, *session.deleted]:
            ident = id(obj)
            if isinstance(obj, LogEntry) or ident in self._added:
                continue
            if ident not in self._befores:
                self._befores[ident] = (obj, _committed_snapshot(obj))

    def record(self, session: Session, user: _User | None, message: str = "") -> None:
        """Flush, then record each row seen, with ``message``; sync only (``run_sync``)."""
        self._see(session)
        session.flush()
        for obj in self._added.values():
            state = inspect(obj)
            if state.persistent:
                _record(session, user, ADD, obj, None, message)
        # After the flush, a row deleted through the session says so itself.
        for obj, before in self._befores.values():
            state = inspect(obj)
            if state.was_deleted:
                _record(session, user, DELETE, obj, changes_between(before, {}), message)
            elif state.persistent:
                _record_change(session, user, obj, before, message)


def _committed_snapshot(obj: object) -> dict[str, Any]:
    """Return ``snapshot(obj)`` as it was before the changes not yet flushed."""
    values = snapshot(obj)
    state = inspect(obj)
    for key in _column_keys(state.mapper):
        history = state.attrs[key].history
        if history.added:
            old = history.deleted[0] if history.deleted else None
            values[key] = _Masked(old) if is_secret(key) else json_safe(old)
    return values


# Reading -------------------------------------------------------------------------------


@overload
def history_of(
    session: AsyncSession, obj_or_model: Any, object_id: Any = None, limit: int = 100
) -> Awaitable[list[LogEntry]]: ...
@overload
def history_of(
    session: Session, obj_or_model: Any, object_id: Any = None, limit: int = 100
) -> list[LogEntry]: ...
def history_of(
    session: Session | AsyncSession, obj_or_model: Any, object_id: Any = None, limit: int = 100
) -> list[LogEntry] | Awaitable[list[LogEntry]]:
    """Return the entries of one object, newest first; with an ``AsyncSession``, await it.

    Args:
        session: A sync or async session.
        obj_or_model: The object, or its model class with ``object_id``.
        object_id: The object's primary key (a tuple for a composite one, or
            the text the history stores); with a model and no ``object_id``,
            the entries of every object of the model.
        limit: The most entries to return.
    """
    if isinstance(obj_or_model, type):
        table = _table_of(obj_or_model)
        key = None if object_id is None else _key_text(object_id)
    else:
        table = _table_of(type(obj_or_model))
        key = object_key(obj_or_model) if object_id is None else _key_text(object_id)
    statement = select(LogEntry).where(LogEntry.object_table == table)
    if key is not None:
        statement = statement.where(LogEntry.object_id == key)
    statement = statement.order_by(LogEntry.action_time.desc(), LogEntry.id.desc()).limit(limit)
    if isinstance(session, AsyncSession):
        return session.run_sync(_entries, statement)
    return _entries(session, statement)


@overload
def recent_actions(
    session: AsyncSession, user: AbstractUser | int | None = None, limit: int = 10
) -> Awaitable[list[LogEntry]]: ...
@overload
def recent_actions(
    session: Session, user: AbstractUser | int | None = None, limit: int = 10
) -> list[LogEntry]: ...
def recent_actions(
    session: Session | AsyncSession, user: AbstractUser | int | None = None, limit: int = 10
) -> list[LogEntry] | Awaitable[list[LogEntry]]:
    """Return the newest entries, of ``user`` only when given; with an ``AsyncSession``, await it.

    Args:
        session: A sync or async session.
        user: A user, or a user's id; ``None`` for everyone's entries.
        limit: The most entries to return.
    """
    statement = select(LogEntry)
    if user is not None:
        user_id = user if isinstance(user, int) else getattr(user, "id", None)
        statement = statement.where(LogEntry.user_id == user_id)
    statement = statement.order_by(LogEntry.action_time.desc(), LogEntry.id.desc()).limit(limit)
    if isinstance(session, AsyncSession):
        return session.run_sync(_entries, statement)
    return _entries(session, statement)


def _entries(session: Session, statement: Any) -> list[LogEntry]:
    return list(session.scalars(statement))
