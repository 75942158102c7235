"""The rows of an ``Inline``: other models' rows that point at the edited row.

``inline_key`` finds the foreign key an ``Inline`` follows (the startup
checks use it too), and ``inline_tables`` reads the rows of each of a
model's inlines that are not edited in place (``is_editable = False``)
for its edit page, where they are listed, read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapper, Session

from carboy.admin._paths import primary_key_of
from carboy.admin.listing import display_value
from carboy.admin.options import Inline, ModelAdmin, label_of

if TYPE_CHECKING:
    from carboy.admin.extension import Admin

__all__ = ["InlineTable", "default_fields", "inline_key", "inline_tables"]


@dataclass
class InlineTable:
    """The rows of one inline, as the edit page lists them.

    Attributes:
        title: The heading.
        headers: The columns' headers.
        rows: Each row's link to its edit page (``None`` when its model is
            not registered) and cells.
        count: How many rows point at the edited row; more than ``rows``
            when ``max_rows`` cut the list.
    """

    title: str
    headers: list[str]
    rows: list[tuple[str | None, list[str]]]
    count: int


def inline_key(inline: Any, parent: type[Any]) -> Column[Any] | None:
    """Return the foreign-key column of ``inline.model`` that points at ``parent``'s table.

    ``None`` when ``inline`` is not an ``Inline`` subclass, has no model, or
    its model has no such key, or several and ``fk_name`` does not choose one.
    """
    if not (isinstance(inline, type) and issubclass(inline, Inline)) or inline.model is None:
        return None
    mapper = sa_inspect(inline.model, raiseerr=False)
    if not isinstance(mapper, Mapper):
        return None
    parent_table = sa_inspect(parent).local_table
    found = [
        column
        for column in mapper.local_table.columns
        if isinstance(column, Column)
        and any(key.column.table is parent_table for key in column.foreign_keys)
    ]
    if inline.fk_name is not None:
        found = [column for column in found if column.key == inline.fk_name]
    return found[0] if len(found) == 1 else None


def inline_tables(
    session: Session, admin: Admin, parent: Any, *, is_editing: bool = False
) -> list[InlineTable]:
    """Return the rows of each inline of ``parent``'s model that point at it; sync only.

    With ``is_editing``, the inlines edited in place (``is_editable``) are left out.
    """
    model_admin = admin.model_admin(sa_inspect(parent).mapper.local_table.name)
    if model_admin is None:
        return []
    parent_key = primary_key_of(type(parent))
    tables = []
    for inline in model_admin.inlines:
        column = inline_key(inline, type(parent))
        model = inline.model
        if column is None or model is None or parent_key is None:
            continue
        if is_editing and inline.is_editable:
            continue
        target = next(iter(column.foreign_keys)).column
        value = getattr(parent, sa_inspect(type(parent)).get_property_by_column(target).key)
        own_key = primary_key_of(model)
        names = list(inline.fields or default_fields(model, column))
        condition = column == value
        count = int(session.scalar(select(func.count()).select_from(model).where(condition)) or 0)
        order = [own_key] if own_key is not None else []
        statement = select(model).where(condition).order_by(*order).limit(inline.max_rows)
        registered = admin.model_admin(sa_inspect(model).local_table.name) is not None
        rows = []
        for row in session.scalars(statement):
            pk = getattr(row, own_key.key) if own_key is not None else None
            url = admin.url(model.__table__.name, pk) if registered and pk is not None else None
            rows.append((url, [display_value(getattr(row, name)) for name in names]))
        title = inline.title or ModelAdmin(model).verbose_name_plural.capitalize()
        tables.append(InlineTable(title, [label_of(name) for name in names], rows, count))
    return tables


def default_fields(model: type[Any], key: Column[Any]) -> list[str]:
    """Return an inline's fields when it names none: every column but the keys."""
    mapper: Mapper[Any] = sa_inspect(model)
    names = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if isinstance(column, Column) and (column.primary_key or column is key):
            continue
        names.append(prop.key)
    return names
