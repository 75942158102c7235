"""Renames: turn the drop and add that autogenerate sees into the rename that happened.

Alembic compares the models with the database, and a renamed column looks
to it like one column dropped and another added; applying that migration
loses the column's data. ``Renames`` rewrites the migration before Alembic
writes it: each pair the user names (``--rename post.body:content``) or
confirms when asked becomes ``op.alter_column(..., new_column_name=...)``,
and each table pair ``op.rename_table(...)``, with the reverse in the
downgrade. It works on Alembic's operation objects, through the
``process_revision_directives`` hook, never on the migration's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from alembic.autogenerate import renderers
from alembic.operations import ops
from sqlalchemy.exc import CompileError

from carboy.db.exceptions import MigrationError

if TYPE_CHECKING:
    from alembic.autogenerate.api import AutogenContext
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import Column, Table

__all__ = ["Renames", "Unconfirmed", "parse_column_rename", "parse_table_rename"]

Ask = Callable[[str], bool]
"""Ask the user a yes-or-no question; ``True`` for yes."""

_NAME = r"[^\s.:]+"
_COLUMN_RENAME = re.compile(rf"(?:(?P<table>{_NAME})\.)?(?P<old>{_NAME}):(?P<new>{_NAME})")
_TABLE_RENAME = re.compile(rf"(?P<old>{_NAME}):(?P<new>{_NAME})")


def parse_column_rename(spec: str) -> tuple[str | None, str, str]:
    """Split ``post.body:content`` (or ``body:content``) into table, old and new name.

    Raises:
        ValueError: when ``spec`` has another shape.
    """
    match = _COLUMN_RENAME.fullmatch(spec.strip())
    if match is None:
        raise ValueError(
            f"{spec!r} is not a column rename: write table.old:new, such as post.body:content, "
            "or old:new when only one table has such a pair."
        )
    return match["table"], match["old"], match["new"]


def parse_table_rename(spec: str) -> tuple[str, str]:
    """Split ``post:article`` into the table's old and new name.

    Raises:
        ValueError: when ``spec`` has another shape.
    """
    match = _TABLE_RENAME.fullmatch(spec.strip())
    if match is None:
        raise ValueError(f"{spec!r} is not a table rename: write old:new, such as post:article.")
    return match["old"], match["new"]


@dataclass(frozen=True)
class Unconfirmed:
    """A drop and an add that may be a rename, left as they are: nobody said it was one."""

    old: str
    """The dropped column (``post.body``) or table (``post``)."""
    new: str
    """The added column (``post.content``) or table (``article``)."""
    option: str
    """The option that would make it a rename: ``--rename post.body:content``."""
    is_table: bool
    """Whether a table, not a column, is dropped and created."""


class Renames:
    """Decide which dropped-and-added columns and tables are renames, and rewrite them.

    Call it as Alembic's ``process_revision_directives`` hook. A column
    dropped and one added to the same table with the same type, or a table
    dropped and one created with the same columns, is a possible rename:
    those named in ``columns`` and ``tables`` are renames without a
    question; the others are asked about with ``ask``, or, when there is no
    one to ask, left as drop and add and listed in ``unconfirmed``.

    Args:
        columns: Renames of columns, ``post.body:content`` or ``body:content``.
        tables: Renames of tables, ``post:article``.
        ask: Ask the user a question, answered yes or no; ``None`` when
            nobody can answer.

    Raises:
        ValueError: when a rename is not of the shape above.
    """

    def __init__(
        self, columns: Sequence[str] = (), tables: Sequence[str] = (), *, ask: Ask | None = None
    ) -> None:
        self.columns = [(spec, parse_column_rename(spec)) for spec in columns]
        self.tables = [(spec, parse_table_rename(spec)) for spec in tables]
        self.ask = ask
        self.unconfirmed: list[Unconfirmed] = []

    def __call__(
        self, context: MigrationContext, revision: Any, directives: list[ops.MigrationScript]
    ) -> None:
        """Rewrite the migration Alembic is about to write: the hook's signature."""
        for script in directives:
            upgrade_ops = script.upgrade_ops
            if upgrade_ops is None or upgrade_ops.is_empty():
                continue
            tables = self._pair_tables(context, upgrade_ops)
            columns = self._pair_columns(context, upgrade_ops)
            if tables or columns:
                _rewrite(context, upgrade_ops, tables, columns)
                script.downgrade_ops = upgrade_ops.reverse()

    # Tables -------------------------------------------------------------------

    def _pair_tables(
        self, context: MigrationContext, upgrade_ops: ops.UpgradeOps
    ) -> dict[str, str]:
        drops = {op.table_name: op for op in upgrade_ops.ops if isinstance(op, ops.DropTableOp)}
        creates = {op.table_name: op for op in upgrade_ops.ops if isinstance(op, ops.CreateTableOp)}
        pairs: dict[str, str] = {}
        for spec, (old, new) in self.tables:
            if old not in drops or new not in creates:
                raise MigrationError(
                    f"--rename-table {spec} does not match the changes found: no table {old} "
                    f"is dropped together with a table {new} created. Check the table names "
                    "against the models and the database."
                )
            pairs[old] = new
        for old in sorted(drops.keys() - pairs.keys()):
            old_table = drops[old].to_table()
            for new, create in creates.items():
                if new in pairs.values() or not _same_columns(
                    context, old_table, create.to_table()
                ):
                    continue
                if self._confirm(f"Did you rename the table {old} to {new}?", old, new, table=True):
                    pairs[old] = new
                    break
        return pairs

    # Columns ------------------------------------------------------------------

    def _pair_columns(
        self, context: MigrationContext, upgrade_ops: ops.UpgradeOps
    ) -> dict[int, list[tuple[ops.DropColumnOp, ops.AddColumnOp]]]:
        changed = [op for op in upgrade_ops.ops if isinstance(op, ops.ModifyTableOps)]
        found: dict[int, list[tuple[ops.DropColumnOp, ops.AddColumnOp]]] = {}
        used: set[int] = set()
        for spec, (table, old, new) in self.columns:
            table_ops, drop, add = _named_pair(changed, spec, table, old, new)
            found.setdefault(id(table_ops), []).append((drop, add))
            used.update((id(drop), id(add)))
        for table_ops in changed:
            drops = sorted(
                (op for op in table_ops.ops if isinstance(op, ops.DropColumnOp)),
                key=lambda op: op.column_name,
            )
            adds = [op for op in table_ops.ops if isinstance(op, ops.AddColumnOp)]
            for add in adds:
                if id(add) in used:
                    continue
                for drop in drops:
                    if id(drop) in used or not _same_type(context, drop.to_column(), add.column):
                        continue
                    name = table_ops.table_name
                    old, new = f"{name}.{drop.column_name}", f"{name}.{add.column.name}"
                    question = f"Did you rename {old} to {new} ({_type_name(context, add.column)})?"
                    if self._confirm(question, old, new, table=False):
                        found.setdefault(id(table_ops), []).append((drop, add))
                        used.update((id(drop), id(add)))
                        break
        return found

    def _confirm(self, question: str, old: str, new: str, *, table: bool) -> bool:
        if self.ask is not None:
            return self.ask(question)
        spec = f"{old}:{new.rpartition('.')[2]}"
        option = f"--rename-table {spec}" if table else f"--rename {spec}"
        self.unconfirmed.append(Unconfirmed(old, new, option, is_table=table))
        return False


def _named_pair(
    changed: list[ops.ModifyTableOps], spec: str, table: str | None, old: str, new: str
) -> tuple[ops.ModifyTableOps, ops.DropColumnOp, ops.AddColumnOp]:
    matches = []
    for table_ops in changed:
        if table is not None and table_ops.table_name != table:
            continue
        drop = next(
            (
                op
                for op in table_ops.ops
                if isinstance(op, ops.DropColumnOp) and op.column_name == old
            ),
            None,
        )
        add = next(
            (
                op
                for op in table_ops.ops
                if isinstance(op, ops.AddColumnOp) and op.column.name == new
            ),
            None,
        )
        if drop is not None and add is not None:
            matches.append((table_ops, drop, add))
    if not matches:
        where = f"{table}.{old}" if table else old
        raise MigrationError(
            f"--rename {spec} does not match the changes found: no column {where} is dropped "
            f"together with a column {new} added to the same table. Check the names against "
            "the models and the database."
        )
    if len(matches) > 1:
        names = " and ".join(table_ops.table_name for table_ops, _, _ in matches)
        first = matches[0][0].table_name
        raise MigrationError(
            f"--rename {spec} is ambiguous: the tables {names} each drop a column {old} and "
            f"add a column {new}. Name the table, such as --rename {first}.{old}:{new}."
        )
    return matches[0]


def _same_type(context: MigrationContext, old: Column[Any], new: Column[Any]) -> bool:
    # The database's own view first (MySQL's BOOL is a TINYINT(1)); then the
    # type's family, so that VARCHAR(50) and VARCHAR(100) still match.
    if not context.impl.compare_type(old, new):
        return True
    return old.type._type_affinity is new.type._type_affinity


def _same_columns(context: MigrationContext, old: Table, new: Table) -> bool:
    if set(old.columns.keys()) != set(new.columns.keys()):
        return False
    return all(_same_type(context, column, new.columns[column.key]) for column in old.columns)


def _type_name(context: MigrationContext, column: Column[Any]) -> str:
    try:
        return str(column.type.compile(dialect=context.dialect))
    except CompileError:
        return type(column.type).__name__.upper()


# The rewrite ------------------------------------------------------------------


class _RenameColumnOp(ops.AlterColumnOp):
    """A column rename, which reverses into the rename back."""

    def __init__(self, table_name: str, column_name: str, new_name: str, **kw: Any) -> None:
        super().__init__(table_name, column_name, modify_name=new_name, **kw)
        self.new_name = new_name

    def reverse(self) -> _RenameColumnOp:
        is_retyped = self.modify_type is not None
        is_renulled = self.modify_nullable is not None
        return _RenameColumnOp(
            self.table_name,
            self.new_name,
            self.column_name,
            schema=self.schema,
            existing_type=self.modify_type if is_retyped else self.existing_type,
            modify_type=self.existing_type if is_retyped else None,
            existing_nullable=self.modify_nullable if is_renulled else self.existing_nullable,
            modify_nullable=self.existing_nullable if is_renulled else None,
            existing_server_default=self.existing_server_default,
            existing_comment=self.existing_comment,
        )


class _RenameTableOp(ops.RenameTableOp):
    """A table rename, which reverses into the rename back."""

    def reverse(self) -> _RenameTableOp:
        return _RenameTableOp(self.new_table_name, self.table_name, schema=self.schema)


def _render_rename_table(autogen_context: AutogenContext, op: _RenameTableOp) -> str:
    prefix = autogen_context.opts.get("alembic_module_prefix") or ""
    schema = f", schema={op.schema!r}" if op.schema else ""
    return f"{prefix}rename_table({op.table_name!r}, {op.new_table_name!r}{schema})"


def _rename_column(
    context: MigrationContext, drop: ops.DropColumnOp, add: ops.AddColumnOp
) -> _RenameColumnOp:
    old, new = drop.to_column(), add.column
    return _RenameColumnOp(
        drop.table_name,
        drop.column_name,
        new.name,
        schema=drop.schema,
        # MySQL cannot rename a column without restating its type and nullability.
        existing_type=old.type,
        modify_type=new.type if context.impl.compare_type(old, new) else None,
        existing_nullable=old.nullable,
        modify_nullable=new.nullable if new.nullable != old.nullable else None,
        existing_server_default=old.server_default,
        existing_comment=old.comment,
    )


_CREATES = (ops.CreateIndexOp, ops.AddConstraintOp)


def _rewrite(
    context: MigrationContext,
    upgrade_ops: ops.UpgradeOps,
    tables: dict[str, str],
    columns: dict[int, list[tuple[ops.DropColumnOp, ops.AddColumnOp]]],
) -> None:
    """Put the renames in place of the drops and adds, in an order that runs both ways.

    Indexes and constraints are dropped first, before any rename: those of
    the old names must go while the old names exist, and in the downgrade,
    which runs the operations reversed, they are created last, once the old
    names are back.
    """
    if tables:
        # Alembic autogenerate has no renderer of its own for rename_table.
        renderers.dispatch_for(_RenameTableOp, replace=True)(_render_rename_table)
    renamed_from = {new: old for old, new in tables.items()}
    first: list[ops.MigrateOperation] = []
    then: list[ops.MigrateOperation] = []
    for op in upgrade_ops.ops:
        if isinstance(op, ops.DropTableOp) and op.table_name in tables:
            continue
        if isinstance(op, ops.CreateTableOp) and op.table_name in renamed_from:
            then.append(
                _RenameTableOp(renamed_from[op.table_name], op.table_name, schema=op.schema)
            )
            continue
        if not isinstance(op, ops.ModifyTableOps):
            then.append(op)
            continue
        pairs = columns.get(id(op), [])
        paired = {id(half) for pair in pairs for half in pair}
        drops = [o for o in op.ops if isinstance(o, ops.DropIndexOp | ops.DropConstraintOp)]
        rest = [o for o in op.ops if id(o) not in paired and o not in drops]
        renames: list[ops.MigrateOperation] = [_rename_column(context, *pair) for pair in pairs]
        # SQLite's batch operations cannot index a column under the name it
        # gets in the same batch: the new indexes and constraints come after.
        creates = [o for o in rest if renames and isinstance(o, _CREATES)]
        rest = [o for o in rest if o not in creates]
        for group, target in ((drops, first), (renames + rest, then), (creates, then)):
            if group:
                target.append(ops.ModifyTableOps(op.table_name, group, schema=op.schema))
    upgrade_ops.ops = first + then
