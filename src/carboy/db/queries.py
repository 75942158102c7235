"""Queries a handler needs daily: one row or 404, one row made if missing, pages of rows.

Each function takes a sync ``Session`` or an ``AsyncSession``; with the async
one it returns an awaitable::

    post = get_or_404(session, Post, post_id)            # sync handler
    post = await get_or_404(session, Post, post_id)      # async handler
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar, overload

from sqlalchemy import Select, Table, UniqueConstraint, func, insert, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio.session import AsyncSessionTransaction
from sqlalchemy.orm import Mapper, Session, SessionTransaction

from carboy.exceptions import HTTPException
from carboy.params import Query

if TYPE_CHECKING:
    from carboy.datastructures import URL
    from carboy.requests import Request

__all__ = [
    "MAX_PER_PAGE",
    "Page",
    "PageRequest",
    "atomic",
    "first_or_404",
    "get_or_404",
    "get_or_create",
    "page_request",
    "paginate",
]

T = TypeVar("T")
U = TypeVar("U")

MAX_PER_PAGE = 100
"""The largest ``per_page`` a client may ask for."""


@overload
def atomic(session: AsyncSession) -> AsyncSessionTransaction: ...
@overload
def atomic(session: Session) -> SessionTransaction: ...
def atomic(session: Session | AsyncSession) -> SessionTransaction | AsyncSessionTransaction:
    """Run a block in a savepoint: when it raises, only its own changes are undone.

    The request's transaction goes on: the handler may catch the error and
    carry on, and what it did before the block is still committed.

    Example::

        try:
            async with atomic(session):
                session.add(Tag(name=name))
        except IntegrityError:
            ...  # the tag exists: the rest of the request is unharmed
    """
    return session.begin_nested()


@overload
def get_or_404(
    session: AsyncSession, model: type[T], ident: Any, *, detail: str | None = None
) -> Awaitable[T]: ...
@overload
def get_or_404(session: Session, model: type[T], ident: Any, *, detail: str | None = None) -> T: ...
def get_or_404(
    session: Session | AsyncSession, model: type[T], ident: Any, *, detail: str | None = None
) -> T | Awaitable[T]:
    """Return the row of ``model`` with primary key ``ident``, or end the request with 404.

    Raises:
        HTTPException: 404, with ``detail`` or a message naming the model.
    """
    if isinstance(session, AsyncSession):
        return session.run_sync(_get, model, ident, detail)
    return _get(session, model, ident, detail)


def _get(session: Session, model: type[T], ident: Any, detail: str | None) -> T:
    row = session.get(model, ident)
    if row is None:
        raise HTTPException(404, detail or f"No {model.__name__} has this id.")
    return row


@overload
def first_or_404(
    session: AsyncSession, statement: Select[T], *, detail: str | None = None
) -> Awaitable[T]: ...
@overload
def first_or_404(session: Session, statement: Select[T], *, detail: str | None = None) -> T: ...
def first_or_404(
    session: Session | AsyncSession, statement: Select[T], *, detail: str | None = None
) -> T | Awaitable[T]:
    """Return the first row ``statement`` selects, or end the request with 404.

    Raises:
        HTTPException: 404, with ``detail`` or a generic message.
    """
    if isinstance(session, AsyncSession):
        return session.run_sync(_first, statement, detail)
    return _first(session, statement, detail)


def _first(session: Session, statement: Select[T], detail: str | None) -> T:
    row = session.scalars(statement.limit(1)).first()
    if row is None:
        raise HTTPException(404, detail or "Nothing matches this request.")
    return row


@overload
def get_or_create(
    session: AsyncSession,
    model: type[T],
    *,
    defaults: Mapping[str, Any] | None = None,
    **lookup: Any,
) -> Awaitable[tuple[T, bool]]: ...
@overload
def get_or_create(
    session: Session,
    model: type[T],
    *,
    defaults: Mapping[str, Any] | None = None,
    **lookup: Any,
) -> tuple[T, bool]: ...
def get_or_create(
    session: Session | AsyncSession,
    model: type[T],
    *,
    defaults: Mapping[str, Any] | None = None,
    **lookup: Any,
) -> tuple[T, bool] | Awaitable[tuple[T, bool]]:
    """Return the row of ``model`` that ``lookup`` matches, inserting it if there is none.

    Safe when requests race to create the same row: exactly one inserts it,
    the others get it, and none fails. It takes no lock on a row that
    exists. On PostgreSQL and SQLite the insert is an ``INSERT ... ON
    CONFLICT DO NOTHING`` on the unique key the lookup covers; on MySQL
    and MariaDB, whose ``ON DUPLICATE KEY`` cannot tell an inserted row from
    a found one, a plain INSERT in a savepoint, whose duplicate-key error
    means another request made the row first.

    The row is inserted as a statement, with the values of ``lookup`` and
    ``defaults`` and the columns' defaults: the model's ``__init__`` does
    not run. It is written at once, in the session's transaction, which the
    request commits or rolls back as usual.

    Args:
        session: A sync or async session; with the async one, await the result.
        model: The mapped class.
        defaults: Values of other columns, used only when the row is inserted.
        lookup: Column values that find the row, by attribute name. They must
            cover the primary key or a unique constraint of the table: without
            one, two requests could each insert a row.

    Returns:
        The row, and whether this call inserted it.

    Raises:
        ValueError: when the lookup is empty, names something that is not a
            column of ``model``, or covers no unique key of its table.
        sqlalchemy.exc.IntegrityError: when another unique key, or a foreign
            key, refuses the new row.

    Example::

        tag, created = await get_or_create(session, Tag, name="python")
        user, _ = get_or_create(session, Profile, user_id=me.id, defaults={"bio": ""})
    """
    values = {**lookup, **(defaults or {})}
    _unique_key(inspect(model), frozenset(lookup))
    if isinstance(session, AsyncSession):
        return session.run_sync(_get_or_create, model, lookup, values)
    return _get_or_create(session, model, lookup, values)


def _get_or_create(
    session: Session, model: type[T], lookup: dict[str, Any], values: dict[str, Any]
) -> tuple[T, bool]:
    mapper: Mapper[Any] = inspect(model)
    values = _with_version(mapper, values)
    found = select(model).filter_by(**lookup).limit(1)
    dialect = session.get_bind(mapper=mapper).dialect.name
    if dialect != "sqlite":
        # Most calls find the row; a read is cheaper than an insert, and on
        # PostgreSQL a skipped insert would still use up a sequence value.
        # SQLite goes straight to the insert: a transaction that read first
        # cannot then write once another one has, and fails instead of waiting.
        row = session.scalars(found).first()
        if row is not None:
            return row, False
    if dialect in ("postgresql", "sqlite"):
        dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        key = _unique_key(mapper, frozenset(lookup))
        statement = (
            dialect_insert(model)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[mapper.columns[name] for name in key])
            .returning(model)
        )
        row = session.scalars(statement).first()
        if row is not None:
            return row, True
        row = session.scalars(found).first()
        if row is not None:
            return row, False
        # The key is taken by a row the rest of the lookup does not match,
        # or the row was deleted since: a plain insert says which.
        return session.scalars(insert(model).values(**values).returning(model)).one(), True
    try:
        with session.begin_nested():
            session.execute(insert(model).values(**values))
    except IntegrityError as exc:
        if _mysql_error_number(exc) != _MYSQL_DUPLICATE_KEY:
            raise
        # A locking read sees the row another transaction just committed,
        # which REPEATABLE READ's snapshot would hide.
        row = session.scalars(found.with_for_update(read=True)).first()
        if row is None:
            raise
        return row, False
    return session.scalars(found).one(), True


_MYSQL_DUPLICATE_KEY = 1062


def _mysql_error_number(exc: IntegrityError) -> int | None:
    args = getattr(exc.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _with_version(mapper: Mapper[Any], values: dict[str, Any]) -> dict[str, Any]:
    # The version counter of VersionMixin is set by the ORM's flush, which an
    # INSERT statement does not go through.
    column = mapper.version_id_col
    generator = mapper.version_id_generator
    if column is None or not callable(generator):
        return values
    key = mapper.get_property_by_column(column).key
    return values if key in values else {**values, key: generator(None)}


@functools.lru_cache(maxsize=256)
def _unique_key(mapper: Mapper[Any], names: frozenset[str]) -> tuple[str, ...]:
    """Return the attribute names of a unique key of ``mapper``'s table that ``names`` covers."""
    model = mapper.class_.__name__
    if not names:
        raise ValueError(
            f"get_or_create({model}) needs lookup values that find the row, such as "
            f"get_or_create(session, {model}, name=...)."
        )
    columns = mapper.columns
    for name in sorted(names):
        if name not in columns:
            raise ValueError(
                f"get_or_create({model}) looks up {name!r}, which is not a column of {model}. "
                "Look up by column attributes."
            )
    by_column = {columns[name].name: name for name in names}
    table = mapper.local_table
    for key in _unique_keys(table) if isinstance(table, Table) else ():
        if key and set(key) <= set(by_column):
            return tuple(by_column[column] for column in key)
    raise ValueError(
        f"get_or_create({model}) looks up {', '.join(sorted(names))}, which cover no primary "
        f"key or unique constraint of the table {table.description}, so two requests could "
        "each insert a row. Look up by the columns of one, or make them unique "
        "(mapped_column(unique=True), or a UniqueConstraint)."
    )


def _unique_keys(table: Table) -> list[tuple[str, ...]]:
    keys = [tuple(column.name for column in table.primary_key.columns)]
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            keys.append(tuple(column.name for column in constraint.columns))
    for index in table.indexes:
        # A partial or expression index is no key an ON CONFLICT can name by columns.
        is_partial = any(index.dialect_options[name].get("where") is not None for name in _WHERE)
        is_plain = len(index.expressions) == len(index.columns)
        if index.unique and is_plain and not is_partial:
            keys.append(tuple(column.name for column in index.columns))
    return keys


_WHERE = ("postgresql", "sqlite")


@dataclass(frozen=True)
class PageRequest:
    """Which page a client asked for: a handler declares ``pages: PageRequest``.

    Read from the ``page`` (from 1) and ``per_page`` (1 to ``MAX_PER_PAGE``)
    query parameters: a value out of range or not a number is a 422 before
    the handler runs.
    """

    page: int = 1
    per_page: int = 20
    url: URL | None = None
    """The request's URL, to which the page links point."""


def page_request(
    request: Request,
    page: Annotated[int, Query(ge=1, description="The page to show, from 1.")] = 1,
    per_page: Annotated[
        int, Query(ge=1, le=MAX_PER_PAGE, description="How many items a page holds.")
    ] = 20,
) -> PageRequest:
    """Read the page a request asks for from its query string."""
    return PageRequest(page, per_page, request.url)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows, with what a client needs to show the others."""

    items: list[T]
    total: int
    """How many rows there are, on every page."""
    page: int
    per_page: int
    url: URL | None = field(default=None, repr=False, compare=False)

    @property
    def pages(self) -> int:
        """How many pages there are; at least 1, which may be empty."""
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        """Whether a page comes after this one."""
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        """Whether a page comes before this one."""
        return self.page > 1

    @property
    def links(self) -> dict[str, str | None]:
        """URLs of this, the first, previous, next and last pages (``None`` where none is)."""
        url = self.url
        if url is None:
            return {}

        def link(page: int) -> str:
            return str(url.include_query_params(page=page, per_page=self.per_page))

        return {
            "self": link(self.page),
            "first": link(1),
            "prev": link(self.page - 1) if self.has_prev else None,
            "next": link(self.page + 1) if self.has_next else None,
            "last": link(self.pages),
        }

    def map(self, function: Callable[[T], U]) -> Page[U]:
        """Return this page with ``function`` applied to each item, such as a schema."""
        items = [function(item) for item in self.items]
        return Page(items, self.total, self.page, self.per_page, self.url)

    def to_dict(self) -> dict[str, Any]:
        """Return the page as JSON-ready data: items, total, page, per_page, pages and links."""
        return {
            "items": self.items,
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
            "links": self.links,
        }


@overload
def paginate(
    session: AsyncSession,
    statement: Select[T],
    page: PageRequest | int = 1,
    per_page: int | None = None,
) -> Awaitable[Page[T]]: ...
@overload
def paginate(
    session: Session,
    statement: Select[T],
    page: PageRequest | int = 1,
    per_page: int | None = None,
) -> Page[T]: ...
def paginate(
    session: Session | AsyncSession,
    statement: Select[T],
    page: PageRequest | int = 1,
    per_page: int | None = None,
) -> Page[T] | Awaitable[Page[T]]:
    """Return one page of the rows ``statement`` selects, and the total count.

    Give the statement an ``order_by``: without one, databases may return
    rows in any order, and pages may overlap.

    Args:
        session: A sync or async session.
        statement: A ``select()`` of one entity or column.
        page: The page number, from 1, or the handler's ``PageRequest``.
        per_page: Rows per page; taken from ``page`` when it is a ``PageRequest``.

    Raises:
        HTTPException: 404 for a page past the last one (page 1 always
            exists, empty when there are no rows).
    """
    if isinstance(page, PageRequest):
        request = page if per_page is None else PageRequest(page.page, per_page, page.url)
    else:
        request = PageRequest(page, per_page or 20)
    if request.page < 1 or not 1 <= request.per_page <= MAX_PER_PAGE:
        raise HTTPException(400, f"page must be at least 1 and per_page from 1 to {MAX_PER_PAGE}.")
    if isinstance(session, AsyncSession):
        return session.run_sync(_paginate, statement, request)
    return _paginate(session, statement, request)


def _paginate(session: Session, statement: Select[T], request: PageRequest) -> Page[T]:
    count = select(func.count()).select_from(statement.order_by(None).subquery())
    total = session.scalar(count) or 0
    result = Page[T]([], total, request.page, request.per_page, request.url)
    if request.page > result.pages:
        raise HTTPException(
            404, f"There is no page {request.page}: the last page is {result.pages}."
        )
    offset = (request.page - 1) * request.per_page
    items: Sequence[T] = session.scalars(statement.limit(request.per_page).offset(offset)).all()
    result.items.extend(items)
    return result
