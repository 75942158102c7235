"""Field paths: ``"title"`` or ``"author.name"`` resolved against a model's mapping.

A path is a chain of relationships followed by a column, or, where an
option allows it, a relationship alone (``"author"``). Options name fields
by path; the list page turns a path into joins, columns and eager loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, UniqueConstraint
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import ColumnProperty, Mapper, RelationshipProperty
from sqlalchemy.sql import FromClause

__all__ = ["FieldPath", "column_of", "primary_key_of", "resolve", "unique_groups"]


@dataclass(frozen=True)
class FieldPath:
    """A resolved path: the relationships it goes through, and what it ends on.

    Attributes:
        name: The path as written, ``"author.name"``.
        relationships: The relationships from the model to the last one, in order.
        column: The column the path ends on, or ``None`` when it ends on a relationship.
        target: The model class the path's last part belongs to.
    """

    name: str
    relationships: tuple[RelationshipProperty[Any], ...]
    column: ColumnProperty[Any] | None
    target: type[Any]

    @property
    def is_related(self) -> bool:
        """Whether the path goes through a relationship."""
        return bool(self.relationships) or self.column is None

    @property
    def is_to_many(self) -> bool:
        """Whether a relationship of the path holds several rows."""
        return any(relationship.uselist for relationship in self.relationships)

    @property
    def attribute(self) -> Any:
        """The mapped attribute of the last part, on its model class."""
        key = self.column.key if self.column is not None else self.relationships[-1].key
        owner = self.relationships[-1].parent.class_ if self.column is None else self.target
        return getattr(owner, key)

    def value_of(self, obj: Any) -> Any:
        """Return the path's value on ``obj``, ``None`` where a relationship is empty."""
        value = obj
        for part in self.name.split("."):
            if value is None:
                return None
            value = getattr(value, part)
        return value


def _mapper(model: type[Any]) -> Mapper[Any] | None:
    found = sa_inspect(model, raiseerr=False)
    return found if isinstance(found, Mapper) else None


def resolve(
    model: type[Any], name: str, *, to_many: bool = False, relationship_end: bool = False
) -> FieldPath | None:
    """Return the path ``name`` on ``model``, or ``None`` when it names nothing usable.

    Args:
        model: The mapped class the path starts from.
        name: Attribute names joined by dots.
        to_many: Allow relationships that hold several rows on the way.
        relationship_end: Allow the path to end on a relationship.
    """
    mapper = _mapper(model)
    if mapper is None or not name or not isinstance(name, str):
        return None
    parts = name.split(".")
    relationships: list[RelationshipProperty[Any]] = []
    for position, part in enumerate(parts):
        is_last = position == len(parts) - 1
        column = mapper.column_attrs.get(part) if part in mapper.column_attrs else None
        if column is not None:
            if not is_last:
                return None
            return FieldPath(name, tuple(relationships), column, mapper.class_)
        relationship = mapper.relationships.get(part) if part in mapper.relationships else None
        if relationship is None or (relationship.uselist and not to_many):
            return None
        relationships.append(relationship)
        if is_last:
            if not relationship_end:
                return None
            return FieldPath(name, tuple(relationships), None, relationship.mapper.class_)
        mapper = relationship.mapper
    return None


def column_of(path: FieldPath) -> Column[Any] | None:
    """Return the table column a path ends on, or ``None`` for a relationship or an expression."""
    if path.column is None:
        return None
    found: Any = path.column.columns[0]
    return found if isinstance(found, Column) else None


def primary_key_of(model: type[Any]) -> Column[Any] | None:
    """Return the model's primary key column, or ``None`` when it has several or none."""
    mapper = _mapper(model)
    if mapper is None or len(mapper.primary_key) != 1:
        return None
    key: Any = mapper.primary_key[0]
    return key if isinstance(key, Column) else None


def unique_groups(table: FromClause) -> list[list[Column[Any]]]:
    """Return the sets of columns whose values together must be unique in ``table``.

    A unique column, a unique constraint or a unique index each make one set;
    a mapped join, which has none of its own, makes none.
    """
    groups: list[list[Column[Any]]] = [
        [column] for column in table.columns if isinstance(column, Column) and column.unique
    ]
    groups += [
        list(constraint.columns)
        for constraint in getattr(table, "constraints", ())
        if isinstance(constraint, UniqueConstraint)
    ]
    groups += [list(index.columns) for index in getattr(table, "indexes", ()) if index.unique]
    # ``unique=True`` on a column may also appear as a constraint: each set once.
    distinct: dict[frozenset[Column[Any]], list[Column[Any]]] = {}
    for group in groups:
        distinct.setdefault(frozenset(group), group)
    return list(distinct.values())
