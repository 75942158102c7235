"""What deleting a row takes with it, and what stops it, found before anything is deleted.

``plan_deletion`` follows every foreign key that points at the row's table
(of every table of the model's metadata) and sorts the rows it finds:

- deleted with it: rows of a relationship of the model whose cascade
  deletes (``cascade="all, delete-orphan"``), and rows whose foreign key
  says ``ON DELETE CASCADE`` without a relationship of the model on it;
  then, in turn, what deleting those takes with it;
- links: rows of a many-to-many relationship's table, which only tie the
  row to others;
- left alone: rows whose key is set to NULL, by the ORM (a relationship
  without a deleting cascade, on a nullable column) or by the database
  (``ON DELETE SET NULL``);
- blocking: every other row that points at it, since the database would
  refuse the deletion, or the ORM would try to set a NOT NULL key to NULL.

The queries run in ``AsyncSession.run_sync``: ``str()`` of a row may read
its relationships.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ForeignKey, Table, func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapper, RelationshipProperty, Session
from sqlalchemy.orm.interfaces import ONETOMANY

from carboy.admin.history import DELETE, record
from carboy.admin.options import ModelAdmin

__all__ = ["MAX_LISTED", "Deletion", "RowGroup", "plan_deletion"]

MAX_LISTED = 50
"""The most rows of one table a confirmation page names; the rest are counted."""

_MAX_DEPTH = 8


@dataclass
class RowGroup:
    """Rows of one table that a deletion takes with it, or that stop it.

    Attributes:
        noun: The rows' kind, plural: ``adm notes``, or ``links to adm tags``.
        singular: The rows' kind, for one row: ``adm note``.
        count: How many rows there are.
        names: ``str()`` of the first ``MAX_LISTED`` of them, when the table is a model's.
        model: The rows' model, or ``None`` for a table no model maps.
        rows: The rows, when the table is a model's.
    """

    noun: str
    singular: str
    count: int
    names: list[str] = field(default_factory=list)
    model: type[Any] | None = None
    rows: list[Any] = field(default_factory=list, repr=False)

    @property
    def text(self) -> str:
        """How many rows of which kind: ``1 adm note``, ``3 adm notes``."""
        return f"{self.count} {self.singular if self.count == 1 else self.noun}"

    @property
    def more(self) -> int:
        """How many rows are counted but not named."""
        return max(0, self.count - len(self.names))


@dataclass
class Deletion:
    """What deleting one row does.

    Attributes:
        obj: The row to delete.
        deleted: Rows deleted with it.
        links: Rows of many-to-many tables removed with it.
        blocking: Rows that stop the deletion.
    """

    obj: Any
    deleted: list[RowGroup] = field(default_factory=list)
    links: list[RowGroup] = field(default_factory=list)
    blocking: list[RowGroup] = field(default_factory=list)

    @property
    def is_blocked(self) -> bool:
        """Whether rows stop the deletion."""
        return bool(self.blocking)

    def perform(self, session: Session, user: Any, name: str) -> None:
        """Record the deletion of the row and of the rows deleted with it, then delete; sync only.

        Args:
            session: The session the plan was made in.
            user: Who deletes.
            name: The row's name, for the entries of the rows deleted with it.
        """
        noun = ModelAdmin(type(self.obj)).verbose_name
        record(session, user, DELETE, self.obj)
        for group in self.deleted:
            for row in group.rows:
                record(session, user, DELETE, row, message=f"Deleted with the {noun} “{name}”.")
        session.delete(self.obj)
        session.flush()


def _model_of(mapper: Mapper[Any], table: Table) -> type[Any] | None:
    for candidate in mapper.registry.mappers:
        if candidate.local_table is table:
            found: type[Any] = candidate.class_
            return found
    return None


def _other_side(mapper: Mapper[Any], table: Table) -> type[Any] | None:
    """Return the model a many-to-many table links ``mapper``'s rows to, if a relationship says."""
    for candidate in mapper.registry.mappers:
        for relationship in candidate.relationships:
            if relationship.secondary is not table:
                continue
            for side in (relationship.parent, relationship.mapper):
                if side is not mapper:
                    found: type[Any] = side.class_
                    return found
    return None


def _referencing(table: Table) -> list[ForeignKey]:
    """Return the single-column foreign keys, of any table, that point at ``table``."""
    found = []
    for other in table.metadata.tables.values():
        for constraint in other.foreign_key_constraints:
            if len(constraint.elements) != 1:
                continue
            foreign_key = constraint.elements[0]
            if foreign_key.column.table is table:
                found.append(foreign_key)
    return found


def _relationship_over(
    mapper: Mapper[Any], foreign_key: ForeignKey
) -> RelationshipProperty[Any] | None:
    """Return the model's relationship that follows ``foreign_key`` from its side, if any."""
    pair = (foreign_key.column, foreign_key.parent)
    for relationship in mapper.relationships:
        if relationship.viewonly:
            continue
        pairs = relationship.local_remote_pairs or []
        if pair not in pairs:
            continue
        if relationship.secondary is not None or relationship.direction is ONETOMANY:
            return relationship
    return None


def plan_deletion(session: Session, obj: Any) -> Deletion:
    """Return what deleting ``obj`` takes with it and what stops it; sync only."""
    plan = Deletion(obj)
    seen: set[tuple[str, Any]] = set()
    _follow(session, sa_inspect(obj).mapper, [obj], plan, seen, depth=0)
    return plan


def _follow(
    session: Session,
    mapper: Mapper[Any],
    rows: list[Any],
    plan: Deletion,
    seen: set[tuple[str, Any]],
    depth: int,
) -> None:
    table = mapper.local_table
    if not isinstance(table, Table) or depth > _MAX_DEPTH:
        return
    for row in rows:
        seen.add((table.name, sa_inspect(row).identity))
    for foreign_key in _referencing(table):
        target = mapper.get_property_by_column(foreign_key.column).key
        values = [getattr(row, target) for row in rows]
        values = [value for value in values if value is not None]
        if not values:
            continue
        relationship = _relationship_over(mapper, foreign_key)
        child_table = foreign_key.parent.table
        if not isinstance(child_table, Table):
            continue
        ondelete = (foreign_key.ondelete or "").upper()
        if relationship is not None and relationship.secondary is not None:
            count = session.scalar(
                select(func.count()).select_from(child_table).where(foreign_key.parent.in_(values))
            )
            if count:
                target = ModelAdmin(relationship.mapper.class_).verbose_name_plural
                link = f"link to {target}"
                plan.links.append(RowGroup(f"links to {target}", link, int(count)))
            continue
        if relationship is not None:
            cascades = relationship.cascade.delete
            passive = relationship.passive_deletes and ondelete == "CASCADE"
            if not cascades and not passive:
                outcome = "unlinked" if foreign_key.parent.nullable else "blocking"
            else:
                outcome = "deleted"
        elif ondelete == "CASCADE":
            outcome = "deleted"
        elif ondelete in ("SET NULL", "SET DEFAULT"):
            outcome = "unlinked"
        else:
            outcome = "blocking"
        if outcome == "unlinked":
            continue
        group = _group(session, mapper, child_table, foreign_key, values)
        if group is None:
            continue
        if outcome == "deleted" and group.model is None:
            plan.links.append(group)
            continue
        if outcome == "blocking":
            plan.blocking.append(group)
            continue
        fresh = [
            row for row in group.rows if (child_table.name, sa_inspect(row).identity) not in seen
        ]
        if group.model is not None and not fresh:
            continue
        plan.deleted.append(group)
        if group.model is not None:
            _follow(session, sa_inspect(group.model), fresh, plan, seen, depth + 1)


def _group(
    session: Session,
    mapper: Mapper[Any],
    child_table: Table,
    foreign_key: ForeignKey,
    values: list[Any],
) -> RowGroup | None:
    model = _model_of(mapper, child_table)
    condition = foreign_key.parent.in_(values)
    if model is None:
        count = session.scalar(select(func.count()).select_from(child_table).where(condition))
        if not count:
            return None
        other = _other_side(mapper, child_table)
        if other is not None:
            noun = ModelAdmin(other).verbose_name_plural
            return RowGroup(f"links to {noun}", f"link to {noun}", int(count))
        where = f"of the table {child_table.name}"
        return RowGroup(f"rows {where}", f"row {where}", int(count))
    child_mapper: Mapper[Any] = sa_inspect(model)
    order = list(child_mapper.primary_key)
    rows = list(session.scalars(select(model).where(condition).order_by(*order)))
    if not rows:
        return None
    names = [str(row) for row in rows[:MAX_LISTED]]
    options = ModelAdmin(model)
    noun, singular = options.verbose_name_plural, options.verbose_name
    return RowGroup(noun, singular, len(rows), names, model, rows)
