"""Fixtures: rows of the database as JSON, to seed a database or set up a test.

A fixture is a JSON list of rows, parents before the rows that refer to
them::

    [
      {"model": "Author", "pk": 1, "fields": {"name": "Ada"}},
      {"model": "Post", "pk": 7, "fields": {"author_id": 1, "title": "Hello",
                                             "created_at": "2024-05-01T09:30:00+00:00"}}
    ]

``model`` is the model's class name, or the table's name for a table
without a model of its own; ``pk`` is the primary key, a list when it has
several columns. Dates and times are ISO 8601 strings, decimals and UUIDs
strings, bytes base64, intervals seconds. From the command line::

    carboy db dump Author Post -o seed.json
    carboy db load seed.json
"""

from __future__ import annotations

import base64
import binascii
import enum
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import JSON, Integer, MetaData, Table, func, insert, select, tuple_, update
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.schema import sort_tables
from sqlalchemy.types import TypeDecorator

from carboy.db.exceptions import FixtureError
from carboy.db.models import Model

__all__ = ["dump", "load"]

_CHUNK = 500
"""Primary keys looked up per query, well under every database's limit on parameters."""


def dump(
    session: Session,
    models: Iterable[type[Any] | Table | str] | None = None,
    *,
    metadata: MetaData | None = None,
) -> list[dict[str, Any]]:
    """Return the rows of ``models`` as a fixture, parents first, each table by primary key.

    Args:
        session: The session to read with.
        models: Model classes, tables, or their names (class or table
            name); ``None``: every table of ``metadata``.
        metadata: The tables names are looked up in; ``Model.metadata`` by
            default.

    Raises:
        FixtureError: for a name that is neither a model nor a table, or a
            table without a primary key.

    Example::

        with db.session() as session:
            rows = dump(session, [Author, Post])
    """
    metadata = metadata if metadata is not None else Model.metadata
    tables, labels = _select(models, metadata)
    items: list[dict[str, Any]] = []
    for table in sort_tables(tables):
        keys = _primary_key(table)
        for row in session.execute(select(table).order_by(*keys)):
            values = row._mapping
            pk = [_to_json(values[column]) for column in keys]
            items.append(
                {
                    "model": labels[table],
                    "pk": pk[0] if len(pk) == 1 else pk,
                    "fields": {
                        column.key: _to_json(values[column])
                        for column in _fields(table)
                        if not column.primary_key
                    },
                }
            )
    return items


def load(
    session: Session, data: Sequence[Mapping[str, Any]], *, metadata: MetaData | None = None
) -> int:
    """Write a fixture's rows: update those whose primary key exists, insert the others.

    Loading the same fixture twice leaves the same rows, so a seed can be
    loaded on every deploy. Tables are written parents first, whatever the
    fixture's order. On PostgreSQL, the sequences of the primary keys are
    then moved past the largest key loaded, so that the next row inserted
    does not collide. Rows are written with SQL statements, not through
    the ORM: objects already in ``session`` are not refreshed.

    The caller commits: run it in a transaction, so that a fixture that
    fails half-way writes nothing::

        with db.session() as session, session.begin():
            load(session, rows)

    Args:
        session: The session to write with.
        data: The fixture, as ``dump`` returns it or ``json.load`` reads it.
        metadata: The tables the fixture's model names are looked up in;
            ``Model.metadata`` by default.

    Returns:
        The number of rows written.

    Raises:
        FixtureError: for a fixture that is not a list of rows, or a row
            that names an unknown model or field, or holds a value its
            column cannot take. The message names the row.
    """
    metadata = metadata if metadata is not None else Model.metadata
    if not isinstance(data, Sequence) or isinstance(data, str | bytes):
        raise FixtureError(
            f"A fixture is a list of rows, and this one is {_kind(data)}. Give a list of "
            '{"model": ..., "pk": ..., "fields": {...}} objects, as dump() writes.'
        )
    names = _names(metadata)
    rows: dict[Table, dict[tuple[Any, ...], dict[str, Any]]] = {}
    for number, item in enumerate(data, start=1):
        table, row = _row(number, item, names)
        key = tuple(row[column.key] for column in _primary_key(table))
        # A key listed twice: the later row wins, as it would row by row.
        rows.setdefault(table, {})[key] = row
    for table in sort_tables(rows):
        _write(session, table, rows[table])
    if session.get_bind().dialect.name == "postgresql":
        _reset_sequences(session, list(rows))
    return sum(len(table_rows) for table_rows in rows.values())


# Names ------------------------------------------------------------------------


def _select(
    models: Iterable[type[Any] | Table | str] | None, metadata: MetaData
) -> tuple[list[Table], dict[Table, str]]:
    labels = _labels(metadata.tables.values())
    if models is None:
        return list(metadata.tables.values()), labels
    names = _names(metadata)
    tables: list[Table] = []
    for model in models:
        if isinstance(model, Table):
            table = model
        elif isinstance(model, str):
            if model not in names:
                raise FixtureError(
                    f"There is no model or table named {model!r}. Name one of: "
                    f"{', '.join(sorted(names))}."
                )
            table = names[model]
        else:
            declared = getattr(model, "__table__", None)
            if not isinstance(declared, Table):
                raise FixtureError(
                    f"{model!r} is not a model: it has no table. Give model classes, "
                    "tables, or their names."
                )
            table = declared
            labels.setdefault(table, model.__name__)
        if table not in tables:
            tables.append(table)
    for table in tables:
        labels.setdefault(table, table.name)
    return tables, labels


def _labels(tables: Iterable[Table]) -> dict[Table, str]:
    """Name each table after its model class, or after itself when it has none, or two."""
    wanted = set(tables)
    classes: dict[Table, list[str]] = {}
    pending = list(DeclarativeBase.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        # The class that declares the table; subclasses sharing it inherit __table__.
        table = cls.__dict__.get("__table__")
        if table in wanted:
            classes.setdefault(table, []).append(cls.__name__)
    taken: dict[str, int] = {}
    for names in classes.values():
        for name in set(names):
            taken[name] = taken.get(name, 0) + 1
    labels: dict[Table, str] = {}
    for table in wanted:
        names = list(set(classes.get(table, [])))
        if len(names) == 1 and taken[names[0]] == 1 and names[0] not in _table_names(wanted):
            labels[table] = names[0]
        else:
            labels[table] = table.name
    return labels


def _table_names(tables: Iterable[Table]) -> set[str]:
    return {table.name for table in tables}


def _names(metadata: MetaData) -> dict[str, Table]:
    """Every name a fixture may give a table by: its model's class name and its own."""
    names: dict[str, Table] = {}
    for table, label in _labels(metadata.tables.values()).items():
        names[label] = table
    for table in metadata.tables.values():
        names[table.name] = table
        names.setdefault(table.fullname, table)
    return names


def _primary_key(table: Table) -> list[Any]:
    keys = list(table.primary_key.columns)
    if not keys:
        raise FixtureError(
            f"The table {table.name} has no primary key, so its rows cannot be matched when "
            "loaded again. Give it a primary key, or leave it out of the fixture."
        )
    return keys


def _fields(table: Table) -> list[Any]:
    # A computed column is the database's to fill: it refuses a value.
    return [column for column in table.columns if column.computed is None]


# Loading ----------------------------------------------------------------------


def _row(number: int, item: Any, names: Mapping[str, Table]) -> tuple[Table, dict[str, Any]]:
    if not isinstance(item, Mapping) or not {"model", "pk", "fields"} <= item.keys():
        raise FixtureError(
            f"Row {number} of the fixture is not a row: it is {_kind(item)}. Write each row "
            'as {"model": ..., "pk": ..., "fields": {...}}.'
        )
    model, pk, fields = item["model"], item["pk"], item["fields"]
    if not isinstance(model, str) or model not in names:
        raise FixtureError(
            f"Row {number} of the fixture names the model {model!r}, which is neither a "
            f"model nor a table of the database. Name one of: {', '.join(sorted(names))}."
        )
    if not isinstance(fields, Mapping):
        raise FixtureError(
            f"The fields of row {number} ({model} {pk!r}) are {_kind(fields)}: write them "
            "as an object of column names and values."
        )
    table = names[model]
    keys = _primary_key(table)
    pks = pk if isinstance(pk, list) else [pk]
    if len(pks) != len(keys):
        raise FixtureError(
            f"Row {number} of the fixture ({model} {pk!r}) has {len(pks)} primary key "
            f"value(s), and the table {table.name} has {len(keys)} primary key column(s). "
            "Give one value per column, in a list when there are several."
        )
    columns = {column.key: column for column in _fields(table)}
    unknown = sorted(set(fields) - columns.keys())
    if unknown:
        raise FixtureError(
            f"Row {number} of the fixture ({model} {pk!r}) has the field(s) "
            f"{', '.join(unknown)}, which the table {table.name} does not have."
        )
    row: dict[str, Any] = {}
    for column, value in [
        *zip(keys, pks, strict=True),
        *((columns[k], v) for k, v in fields.items()),
    ]:
        try:
            row[column.key] = _from_json(value, column)
        except (ValueError, TypeError, InvalidOperation, binascii.Error, KeyError):
            raise FixtureError(
                f"Row {number} of the fixture ({model} {pk!r}) gives {column.key} the value "
                f"{value!r}, which its column, of type {column.type}, cannot take."
            ) from None
    return table, row


def _write(session: Session, table: Table, rows: dict[tuple[Any, ...], dict[str, Any]]) -> None:
    keys = _primary_key(table)
    key_names = {column.key for column in keys}
    existing = _existing(session, table, keys, list(rows))
    new = [row for key, row in rows.items() if key not in existing]
    # One INSERT per run of rows with the same columns: executemany needs them.
    start = 0
    for end in range(1, len(new) + 1):
        if end == len(new) or new[end].keys() != new[start].keys():
            session.execute(insert(table), new[start:end])
            start = end
    for key, row in rows.items():
        values = {name: value for name, value in row.items() if name not in key_names}
        if key in existing and values:
            condition = [column == value for column, value in zip(keys, key, strict=True)]
            session.execute(update(table).where(*condition).values(values))


def _existing(
    session: Session, table: Table, keys: list[Any], wanted: list[tuple[Any, ...]]
) -> set[tuple[Any, ...]]:
    found: set[tuple[Any, ...]] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        if len(keys) == 1:
            condition = keys[0].in_([key[0] for key in chunk])
        else:
            condition = tuple_(*keys).in_(chunk)
        found.update(tuple(row) for row in session.execute(select(*keys).where(condition)))
    return found


def _reset_sequences(session: Session, tables: list[Table]) -> None:
    preparer = session.get_bind().dialect.identifier_preparer
    for table in tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, Integer):
                continue
            sequence = session.scalar(
                select(func.pg_get_serial_sequence(preparer.format_table(table), column.name))
            )
            if sequence is None:
                continue
            # Past the largest key; on an empty table, back to 1 for the next row.
            highest = func.max(column)
            session.execute(
                select(
                    func.setval(sequence, func.coalesce(highest, 1), highest.is_not(None))
                ).select_from(table)
            )


# Values -----------------------------------------------------------------------


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, enum.Enum):
        return value.name
    return value


def _from_json(value: Any, column: Any) -> Any:
    column_type = column.type
    # A TypeDecorator (UTCDateTime) takes the values its implementation takes.
    while isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    if value is None or isinstance(column_type, JSON):
        return value
    try:
        python_type = column_type.python_type
    except NotImplementedError:
        return value
    if python_type is datetime:
        return datetime.fromisoformat(value)
    if python_type is date:
        return date.fromisoformat(value)
    if python_type is time:
        return time.fromisoformat(value)
    if python_type is timedelta:
        return timedelta(seconds=value)
    if python_type is Decimal:
        return Decimal(str(value))
    if python_type is uuid.UUID:
        return uuid.UUID(value)
    if python_type is bytes:
        return base64.b64decode(value, validate=True)
    if isinstance(python_type, type) and issubclass(python_type, enum.Enum):
        return python_type[value]
    return value


def _kind(value: Any) -> str:
    name = type(value).__name__
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"
