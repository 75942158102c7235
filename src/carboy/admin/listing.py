"""The list page's query: columns, search, filters, sorting and pagination.

``ListSpec`` is made once per registered model, from its ``ModelAdmin``, at
startup; ``ListSpec.fetch`` then reads a request's query string and runs a
fixed number of queries, whatever the number of rows: the total, the rows of
the page (with the related rows of its columns joined in), and one count
per filter. Every value from the query string reaches SQL as a bound
parameter; a parameter the page does not know, or a value it cannot read,
is a 400 that says which.

Query parameters: ``q`` (search), ``o`` (sort: ``title`` or ``-title``),
``p`` (page, from 1), and the filters' own (see ``carboy.admin.filters``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload, outerjoin, selectinload
from sqlalchemy.sql.elements import ColumnElement

from carboy.admin._paths import FieldPath, primary_key_of, resolve
from carboy.admin.filters import Choice, ListFilter, make_filter
from carboy.admin.options import ModelAdmin, label_of
from carboy.exceptions import HTTPException

__all__ = [
    "MAX_SEARCH_LENGTH",
    "MAX_SEARCH_WORDS",
    "RESERVED_PARAMETERS",
    "ColumnSpec",
    "ListPage",
    "ListSpec",
    "display_value",
]

RESERVED_PARAMETERS = ("q", "o", "p")
MAX_SEARCH_LENGTH = 200
"""The longest search the page accepts, in characters."""
MAX_SEARCH_WORDS = 10
"""The most words of a search the page uses; the rest are ignored."""


class BadListRequest(HTTPException):
    """400: the list page's query string holds something it cannot use."""

    def __init__(self, detail: str) -> None:
        super().__init__(400, detail)


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the list page.

    Attributes:
        name: The ``list_display`` entry, or the function's name.
        label: The header.
        path: The field it shows, or ``None`` for a callable.
        function: The callable that makes its value from a row, or ``None``.
        is_sortable: Whether its header sorts the list.
        is_link: Whether its cells link to the row's edit page.
    """

    name: str
    label: str
    path: FieldPath | None
    function: Callable[[Any], Any] | None
    is_sortable: bool
    is_link: bool

    def value(self, obj: Any) -> Any:
        """Return the cell's value for the row ``obj``."""
        if self.function is not None:
            return self.function(obj)
        if self.path is not None:
            return self.path.value_of(obj)
        return obj


@dataclass
class ListPage:
    """What a list page shows: rows, totals, the filters' choices, the search and sort."""

    rows: list[Any]
    total: int
    page: int
    per_page: int
    search: str
    sort: str | None
    params: dict[str, str]
    filters: list[tuple[ListFilter, list[Choice]]] = field(default_factory=list)

    @property
    def pages(self) -> int:
        """How many pages there are; at least 1."""
        return max(1, math.ceil(self.total / self.per_page))


def display_value(value: Any) -> str:
    """Return a cell's value as text: ``-`` for nothing, Yes and No, ISO dates."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value) if isinstance(value.value, str) else value.name
    return str(value)


class ListSpec:
    """The list page of one model, planned once from its ``ModelAdmin``.

    Build it after the options have passed the startup checks: entries that
    name nothing are left out.
    """

    def __init__(self, model_admin: ModelAdmin) -> None:
        self.model_admin = model_admin
        model = model_admin.model
        self.model = model
        key = primary_key_of(model)
        self.primary_key = getattr(model, key.key) if key is not None else None
        self.columns = self._columns()
        self.filters: list[ListFilter] = []
        for name in model_admin.list_filter:
            found = make_filter(model, name, label_of(name))
            if found is not None:
                self.filters.append(found)
        self.search_paths = [
            path
            for name in model_admin.search_fields
            if (path := resolve(model, name, to_many=True)) is not None
        ]
        self.ordering = [
            (path, descending)
            for entry in model_admin.ordering
            for descending, name in ((entry.startswith("-"), entry.lstrip("-")),)
            if (path := resolve(model, name)) is not None
        ]
        self.eager = self._eager_options()
        self.known_parameters = frozenset(
            [*RESERVED_PARAMETERS, *(name for item in self.filters for name in item.parameters)]
        )

    def _columns(self) -> list[ColumnSpec]:
        admin = self.model_admin
        entries: Sequence[str | Callable[..., Any]] = admin.list_display or ("__str__",)
        sortable = admin.sortable_by
        links = set(admin.list_display_links)
        columns = []
        for position, entry in enumerate(entries):
            function: Callable[[Any], Any] | None = None
            path: FieldPath | None = None
            if callable(entry):
                name = getattr(entry, "__name__", f"column_{position}")
                function = entry
                label = label_of(name, entry)
            elif entry == "__str__":
                name, label, function = entry, admin.verbose_name.capitalize(), str
            else:
                name = entry
                path = resolve(self.model, entry, relationship_end=True)
                method = getattr(admin, entry, None) if path is None else None
                if path is None and callable(method):
                    function, label = method, label_of(entry, method)
                elif path is None:
                    attribute = entry

                    def read(obj: Any, attribute: str = attribute) -> Any:
                        value = getattr(obj, attribute)
                        return value() if callable(value) else value

                    function, label = read, label_of(entry)
                else:
                    label = label_of(entry)
            is_sortable = (
                path is not None
                and path.column is not None
                and (sortable is None or name in sortable)
            )
            is_link = name in links if links else position == 0
            columns.append(ColumnSpec(name, label, path, function, is_sortable, is_link))
        return columns

    def _eager_options(self) -> list[Any]:
        chains: dict[tuple[str, ...], FieldPath] = {}
        for column in self.columns:
            if column.path is not None and column.path.relationships:
                chains[tuple(r.key for r in column.path.relationships)] = column.path
        for name in self.model_admin.list_select_related:
            path = resolve(self.model, name, to_many=True, relationship_end=True)
            if path is not None:
                chains[tuple(r.key for r in path.relationships)] = path
        options = []
        for path in chains.values():
            option: Any = None
            owner: Any = self.model
            for relationship in path.relationships:
                attribute = getattr(owner, relationship.key)
                loader = selectinload if relationship.uselist else joinedload
                option = (
                    loader(attribute)
                    if option is None
                    else getattr(option, loader.__name__)(attribute)
                )
                owner = relationship.mapper.class_
            options.append(option)
        return options

    @property
    def sortable(self) -> dict[str, ColumnSpec]:
        """The sortable columns by name."""
        return {column.name: column for column in self.columns if column.is_sortable}

    async def fetch(self, session: AsyncSession, query: Sequence[tuple[str, str]]) -> ListPage:
        """Run the page's queries for the query string's ``(name, value)`` pairs.

        Raises:
            HTTPException: 400 for an unknown parameter, a repeated one, an
                unknown sort column or a value a filter cannot read; 404 for
                a page past the last.
        """
        params = self._params(query)
        joins = _Joins(self.model)
        search = params.get("q", "").strip()
        conditions = self._search_conditions(joins, search)
        by_filter: list[ColumnElement[bool] | None] = [
            item.condition(params) for item in self.filters
        ]
        order, sort = self._order(joins, params.get("o"))
        page = self._page_number(params.get("p"))
        source = joins.source
        where = [*conditions, *(found for found in by_filter if found is not None)]

        total = (
            await session.execute(select(func.count()).select_from(source).where(*where))
        ).scalar_one()
        per_page = self.model_admin.list_per_page
        result = ListPage([], total, page, per_page, search, sort, params)
        if page > result.pages:
            raise HTTPException(404, f"There is no page {page}: the last page is {result.pages}.")
        statement = (
            select(self.model)
            .select_from(source)
            .where(*where)
            .order_by(*order)
            .options(*self.eager)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        result.rows = list((await session.execute(statement)).unique().scalars())
        for position, item in enumerate(self.filters):
            others = [*conditions]
            others += [
                found
                for index, found in enumerate(by_filter)
                if found is not None and index != position
            ]
            result.filters.append((item, await item.choices(session, source, others, params)))
        return result

    def _search_conditions(self, joins: _Joins, search: str) -> list[ColumnElement[bool]]:
        """Return the conditions of a search: each word in any of ``search_fields``."""
        if len(search) > MAX_SEARCH_LENGTH:
            raise BadListRequest(
                f"The search is {len(search)} characters long; the most is {MAX_SEARCH_LENGTH}. "
                "Search for fewer words."
            )
        conditions: list[ColumnElement[bool]] = []
        if search and self.search_paths:
            for word in search.split()[:MAX_SEARCH_WORDS]:
                conditions.append(or_(*(_matches(joins, path, word) for path in self.search_paths)))
        return conditions

    async def search(
        self, session: AsyncSession, search: str, page: int, per_page: int
    ) -> tuple[list[Any], bool]:
        """Return one page of the rows matching ``search``, as the list page searches.

        The rows are in ``ordering``, then by primary key, so that every row
        shows on one page only; the flag says whether more pages follow.
        One query, which reads one row past the page.

        Raises:
            HTTPException: 400 for a search longer than ``MAX_SEARCH_LENGTH``.
        """
        joins = _Joins(self.model)
        conditions = self._search_conditions(joins, search.strip())
        order = []
        for path, descending in self.ordering:
            order += _ordered(joins.column(path), descending, _may_be_null(path))
        if self.primary_key is not None:
            order.append(self.primary_key.asc())
        statement = (
            select(self.model)
            .select_from(joins.source)
            .where(*conditions)
            .order_by(*order)
            .limit(per_page + 1)
            .offset((page - 1) * per_page)
        )
        rows = list((await session.execute(statement)).unique().scalars())
        return rows[:per_page], len(rows) > per_page

    def _params(self, query: Sequence[tuple[str, str]]) -> dict[str, str]:
        params: dict[str, str] = {}
        for name, value in query:
            if name not in self.known_parameters:
                known = ", ".join(sorted(self.known_parameters))
                raise BadListRequest(
                    f"The list of {self.model_admin.verbose_name_plural} has no parameter "
                    f"{_shown(name)}: it reads {known}. Remove it from the address."
                )
            if name in params:
                raise BadListRequest(f"The parameter {_shown(name)} is given twice. Give it once.")
            params[name] = value
        return params

    def _order(self, joins: _Joins, sort: str | None) -> tuple[list[Any], str | None]:
        order: list[Any] = []
        if sort:
            name = sort.removeprefix("-")
            column = self.sortable.get(name)
            if column is None or column.path is None:
                names = ", ".join(self.sortable) or "none"
                raise BadListRequest(
                    f"The list cannot be sorted by {_shown(name)}: the sortable columns are "
                    f"{names}. Click a column header to sort by it."
                )
            path = column.path
            order += _ordered(joins.column(path), sort.startswith("-"), _may_be_null(path))
        for path, descending in self.ordering:
            order += _ordered(joins.column(path), descending, _may_be_null(path))
        if self.primary_key is not None:
            # The key last, so that rows equal in every sorted column keep one order,
            # and no row shows on two pages.
            is_default = not self.ordering and not sort
            order.append(self.primary_key.desc() if is_default else self.primary_key)
        return order, sort or None

    def _page_number(self, value: str | None) -> int:
        if value is None:
            return 1
        if not value.isdigit() or not 1 <= int(value) <= 1_000_000:
            raise BadListRequest(
                f"The page {_shown(value)} is not a page number. Give a whole number from 1."
            )
        return int(value)


class _Joins:
    """The model and the outer joins to the related rows a query reads, each joined once."""

    def __init__(self, model: type[Any]) -> None:
        self.model = model
        self.source: Any = model
        self._aliases: dict[tuple[str, ...], Any] = {}

    def column(self, path: FieldPath) -> Any:
        """Return the expression of a column path, joining the relationships it goes through."""
        owner: Any = self.model
        chain: tuple[str, ...] = ()
        for relationship in path.relationships:
            chain += (relationship.key,)
            alias = self._aliases.get(chain)
            if alias is None:
                alias = aliased(relationship.mapper.class_)
                self.source = outerjoin(self.source, alias, getattr(owner, relationship.key))
                self._aliases[chain] = alias
            owner = alias
        if path.column is None:
            raise ValueError(f"The path {path.name!r} ends on a relationship, not a column.")
        return getattr(owner, path.column.key)


def _matches(joins: _Joins, path: FieldPath, word: str) -> ColumnElement[bool]:
    """Return whether ``path`` holds ``word``, case-insensitively, as a bound LIKE pattern."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    if not path.is_to_many:
        expression = joins.column(path)
        if not isinstance(expression.type, String):
            expression = cast(expression, String)
        return expression.ilike(pattern, escape="\\")  # type: ignore[no-any-return]
    # Through a to-many relationship, EXISTS: a join would repeat the rows.
    if path.column is None:
        raise ValueError(f"The path {path.name!r} ends on a relationship, not a column.")
    condition: ColumnElement[bool] = getattr(path.target, path.column.key).ilike(
        pattern, escape="\\"
    )
    for relationship in reversed(path.relationships):
        attribute = getattr(relationship.parent.class_, relationship.key)
        condition = attribute.any(condition) if relationship.uselist else attribute.has(condition)
    return condition


def _shown(value: str) -> str:
    """Return a value of the query string for a message: quoted, and cut when long."""
    return repr(value if len(value) <= 40 else value[:40] + "...")


def parameters_for(params: Mapping[str, str], **changes: str | None) -> dict[str, str]:
    """Return ``params`` with ``changes`` applied; a change to ``None`` removes the name."""
    merged = dict(params)
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def _may_be_null(path: FieldPath) -> bool:
    """Whether a path's value can be NULL: a nullable column, or one across an outer join."""
    if path.is_related or path.column is None:
        return True
    return any(bool(getattr(column, "nullable", True)) for column in path.column.columns)


def _ordered(expression: Any, descending: bool, may_be_null: bool) -> list[Any]:
    """Return the ORDER BY terms of ``expression``, NULL as its smallest value on every database.

    SQLite and MariaDB sort NULL first going up; PostgreSQL sorts it last.
    ``IS NULL`` first makes them agree, a related column's missing rows
    included; a column that cannot be NULL is sorted by itself alone, so an
    index on it still serves the sort.
    """
    if not may_be_null:
        return [expression.desc() if descending else expression.asc()]
    is_null = expression.is_(None)
    if descending:
        return [is_null.asc(), expression.desc()]
    return [is_null.desc(), expression.asc()]
