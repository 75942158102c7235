"""The list page's filters: booleans, choices, foreign keys and date ranges, with counts.

Each entry of ``ModelAdmin.list_filter`` becomes one filter, chosen by the
column's type. A filter reads its own query parameters (``?is_published=1``,
``?author=3``, ``?published_on__gte=2024-05-01&published_on__lt=2024-06-01``),
turns them into a SQL condition with bound parameters, and counts the rows
of each of its choices in one query, under the page's other filters and
search. A value it cannot read is the client's mistake: ``BadFilter``, 400.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Column, Date, DateTime, Enum, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import RelationshipProperty
from sqlalchemy.sql.elements import ColumnElement

from carboy.admin._paths import column_of, primary_key_of, resolve
from carboy.db.types import UTCDateTime
from carboy.exceptions import HTTPException

__all__ = [
    "FK_CHOICES_LIMIT",
    "BadFilter",
    "BooleanFilter",
    "Choice",
    "ChoicesFilter",
    "DateFilter",
    "ForeignKeyFilter",
    "ListFilter",
    "make_filter",
]

FK_CHOICES_LIMIT = 100
"""The most related rows a foreign-key filter lists, those with the most rows first."""


class BadFilter(HTTPException):
    """400: a filter's query parameter holds a value the filter cannot read."""

    def __init__(self, detail: str) -> None:
        super().__init__(400, detail)


@dataclass(frozen=True)
class Choice:
    """One choice of a filter, as the sidebar shows it.

    Attributes:
        label: What the link says.
        count: How many rows it would show, or ``None`` for "All".
        params: The filter's query parameters that choose it; empty for "All".
        is_selected: Whether the page shows it now.
    """

    label: str
    count: int | None
    params: Mapping[str, str]
    is_selected: bool


class ListFilter(ABC):
    """A filter of the list page on one column of the model.

    Args:
        name: The ``list_filter`` entry, which is also its query parameter.
        column: The model's column it filters on.
        title: The sidebar heading.
    """

    def __init__(self, name: str, column: Column[Any], title: str) -> None:
        self.name = name
        self.column = column
        self.title = title

    @property
    def parameters(self) -> tuple[str, ...]:
        """The query parameters this filter reads."""
        return (self.name,)

    def condition(self, params: Mapping[str, str]) -> ColumnElement[bool] | None:
        """Return the SQL condition the parameters ask for, or ``None`` when unfiltered.

        Raises:
            BadFilter: for a value the filter cannot read.
        """
        value = params.get(self.name)
        if value is None:
            return None
        condition: ColumnElement[bool] = self.column == self.parse(value)
        return condition

    @abstractmethod
    def parse(self, value: str) -> Any:
        """Return the Python value a query parameter stands for.

        Raises:
            BadFilter: when ``value`` is not one.
        """

    @abstractmethod
    async def choices(
        self,
        session: AsyncSession,
        source: Any,
        where: Sequence[ColumnElement[bool]],
        params: Mapping[str, str],
    ) -> list[Choice]:
        """Return the filter's choices, with the rows each holds under ``where``; one query."""

    def _all(self, params: Mapping[str, str]) -> Choice:
        selected = not any(name in params for name in self.parameters)
        return Choice("All", None, {}, selected)

    def _invalid(self, value: str, expected: str) -> BadFilter:
        shown = value if len(value) <= 40 else value[:40] + "..."
        return BadFilter(
            f"The filter {self.name!r} got {shown!r}, which is not {expected}. Choose a value "
            "from the filter's list."
        )


class _GroupedFilter(ListFilter):
    """A filter whose choices are the column's values, counted by one GROUP BY."""

    async def choices(
        self,
        session: AsyncSession,
        source: Any,
        where: Sequence[ColumnElement[bool]],
        params: Mapping[str, str],
    ) -> list[Choice]:
        statement = (
            select(self.column, func.count())
            .select_from(source)
            .where(*where)
            .group_by(self.column)
        )
        counts = {key: count for key, count in (await session.execute(statement)).all()}
        return [self._all(params), *self._counted(counts, params)]

    @abstractmethod
    def _counted(self, counts: Mapping[Any, int], params: Mapping[str, str]) -> list[Choice]:
        """Return a choice per value, given the count of rows of each value."""


class BooleanFilter(_GroupedFilter):
    """Yes or no, from ``?name=1`` or ``?name=0``."""

    def parse(self, value: str) -> bool:
        if value not in ("0", "1"):
            raise self._invalid(value, "1 (yes) or 0 (no)")
        return value == "1"

    def _counted(self, counts: Mapping[Any, int], params: Mapping[str, str]) -> list[Choice]:
        current = params.get(self.name)
        return [
            Choice(label, counts.get(value, 0), {self.name: code}, current == code)
            for label, value, code in (("Yes", True, "1"), ("No", False, "0"))
        ]


class ChoicesFilter(_GroupedFilter):
    """One of an enum's values, from ``?name=<member name>``."""

    def __init__(self, name: str, column: Column[Any], title: str) -> None:
        super().__init__(name, column, title)
        enum_type = column.type
        enum_class = getattr(enum_type, "enum_class", None)
        self.values: list[tuple[str, Any, str]] = []
        if enum_class is not None:
            for member in enum_class:
                label = str(member.value) if isinstance(member.value, str) else member.name
                self.values.append((member.name, member, label))
        else:
            for text in getattr(enum_type, "enums", ()):
                self.values.append((text, text, text))

    def parse(self, value: str) -> Any:
        for code, stored, _label in self.values:
            if code == value:
                return stored
        names = ", ".join(code for code, _, _ in self.values)
        raise self._invalid(value, f"one of {names}")

    def _counted(self, counts: Mapping[Any, int], params: Mapping[str, str]) -> list[Choice]:
        current = params.get(self.name)
        return [
            Choice(label, counts.get(stored, 0), {self.name: code}, current == code)
            for code, stored, label in self.values
        ]


class ForeignKeyFilter(ListFilter):
    """The rows that point to one related row, from ``?name=<its primary key>``."""

    def __init__(
        self, name: str, column: Column[Any], title: str, related: type[Any], key: Column[Any]
    ) -> None:
        super().__init__(name, column, title)
        self.related = related
        self.key = key

    def parse(self, value: str) -> Any:
        python_type = self.key.type.python_type
        try:
            return python_type(value)
        except (TypeError, ValueError):
            raise self._invalid(value, "the id of a row") from None

    async def choices(
        self,
        session: AsyncSession,
        source: Any,
        where: Sequence[ColumnElement[bool]],
        params: Mapping[str, str],
    ) -> list[Choice]:
        """Return the related rows with the most rows first, and their counts; one query."""
        counts = (
            select(self.column.label("key"), func.count().label("rows"))
            .select_from(source)
            .where(*where, self.column.is_not(None))
            .group_by(self.column)
            .subquery()
        )
        key = getattr(self.related, self.key.key)
        statement = (
            select(self.related, counts.c.rows)
            .join(counts, counts.c.key == key)
            .order_by(counts.c.rows.desc(), key)
            .limit(FK_CHOICES_LIMIT)
        )
        current = params.get(self.name)
        found = [
            Choice(str(row), count, {self.name: str(row_key)}, current == str(row_key))
            for row, count in (await session.execute(statement)).all()
            for row_key in (getattr(row, self.key.key),)
        ]
        return [self._all(params), *found]


class DateFilter(ListFilter):
    """A range of dates: today, the past 7 days, this month, this year.

    Read from ``?name__gte=`` and ``?name__lt=``, ISO dates or date-times.
    Days start at midnight UTC.
    """

    @property
    def parameters(self) -> tuple[str, ...]:
        return (f"{self.name}__gte", f"{self.name}__lt")

    def condition(self, params: Mapping[str, str]) -> ColumnElement[bool] | None:
        start, end = (params.get(name) for name in self.parameters)
        conditions: list[ColumnElement[bool]] = []
        if start is not None:
            conditions.append(self.column >= self.parse(start))
        if end is not None:
            conditions.append(self.column < self.parse(end))
        if not conditions:
            return None
        if len(conditions) == 1:
            return conditions[0]
        return conditions[0] & conditions[1]

    def parse(self, value: str) -> Any:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise self._invalid(value, "a date such as 2024-05-31") from None
        if self._is_date:
            return moment.date()
        if self._is_aware:
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment

    @property
    def _is_date(self) -> bool:
        return isinstance(self.column.type, Date) and not isinstance(self.column.type, DateTime)

    @property
    def _is_aware(self) -> bool:
        column_type = self.column.type
        return isinstance(column_type, UTCDateTime) or bool(getattr(column_type, "timezone", False))

    def ranges(self, today: date | None = None) -> list[tuple[str, date, date]]:
        """Return the ranges the filter offers: (label, first day, day after the last)."""
        day = today or datetime.now(UTC).date()
        month = day.replace(day=1)
        next_month = (month + timedelta(days=32)).replace(day=1)
        year = day.replace(month=1, day=1)
        tomorrow = day + timedelta(days=1)
        return [
            ("Today", day, tomorrow),
            ("Past 7 days", day - timedelta(days=6), tomorrow),
            ("This month", month, next_month),
            ("This year", year, year.replace(year=year.year + 1)),
        ]

    async def choices(
        self,
        session: AsyncSession,
        source: Any,
        where: Sequence[ColumnElement[bool]],
        params: Mapping[str, str],
    ) -> list[Choice]:
        """Return the ranges and the rows in each; one query of conditional sums."""
        ranges = self.ranges()
        sums = [
            func.coalesce(
                func.sum(
                    case(
                        (
                            (self.column >= self.parse(start.isoformat()))
                            & (self.column < self.parse(end.isoformat())),
                            1,
                        ),
                        else_=0,
                    )
                ),
                0,
            )
            for _, start, end in ranges
        ]
        statement = select(*sums).select_from(source).where(*where)
        counts = (await session.execute(statement)).one()
        gte, lt = self.parameters
        found = []
        for (label, start, end), count in zip(ranges, counts, strict=True):
            chosen = {gte: start.isoformat(), lt: end.isoformat()}
            selected = params.get(gte) == chosen[gte] and params.get(lt) == chosen[lt]
            found.append(Choice(label, int(count), chosen, selected))
        return [self._all(params), *found]


def make_filter(model: type[Any], name: str, title: str) -> ListFilter | None:
    """Return the filter a ``list_filter`` entry names, or ``None`` when it names none.

    ``name`` is a boolean, enum or date column of ``model``, a many-to-one
    relationship, or the foreign-key column of one.
    """
    path = resolve(model, name, relationship_end=True)
    if path is None or len(path.relationships) > 1:
        return None
    if path.column is None:
        return _foreign_key_filter(model, name, title, path.relationships[0])
    if path.relationships:
        return None
    column = column_of(path)
    if column is None:
        return None
    if column.foreign_keys:
        for relationship in model.__mapper__.relationships:
            if not relationship.uselist and set(relationship.local_columns) == {column}:
                return _foreign_key_filter(model, name, title, relationship)
        return None
    column_type = column.type
    if isinstance(column_type, Boolean):
        return BooleanFilter(name, column, title)
    if isinstance(column_type, Enum):
        return ChoicesFilter(name, column, title)
    if isinstance(column_type, Date | DateTime):
        return DateFilter(name, column, title)
    python_type = _python_type(column)
    if python_type is bool:
        return BooleanFilter(name, column, title)
    if isinstance(python_type, type) and issubclass(python_type, date):
        return DateFilter(name, column, title)
    return None


def _foreign_key_filter(
    model: type[Any], name: str, title: str, relationship: RelationshipProperty[Any]
) -> ForeignKeyFilter | None:
    local = list(relationship.local_columns)
    key = primary_key_of(relationship.mapper.class_)
    if relationship.uselist or len(local) != 1 or key is None:
        return None
    column = local[0]
    if not isinstance(column, Column) or column.table is not model.__table__:
        return None
    return ForeignKeyFilter(name, column, title, relationship.mapper.class_, key)


def _python_type(column: Column[Any]) -> Any:
    try:
        return column.type.python_type
    except NotImplementedError:
        return None
