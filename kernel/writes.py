"""Several writes of one transaction sent to PostgreSQL as one statement.

Why. A transaction that appends to a chain (the receipts log, the audit trail) holds the
chain's head row locked until it commits, so every other writer of that chain, in this process
or another, waits for each of its round trips. A batch of sealed bids made seven of them under
the lock (bids, log entries, log nodes, log state, audit head lock, audit events, audit head),
each waiting its turn on an event loop busy with a deadline rush's uploads (bench/RESULTS.md,
P1). Collected in a :class:`Writes` and flushed once, they are one round trip.

How. On PostgreSQL, :meth:`Writes.flush` sends one statement: every write but the last as a
data-modifying ``WITH`` part, the last as the main statement, rows passed as one array
parameter per column (``unnest``), so the statement's text depends only on which tables and
columns are written, not on how many rows, and is prepared once per connection. Values are
always bound, never formatted into the text: bids carry strings from bidders' certificates.
On SQLite (embedded, one process, no network round trip to save) the writes run one by one
through the ORM, as they would without this module.

Rules that come with one statement (PostgreSQL's, for data-modifying ``WITH``): every part sees
the database as it was before the statement and they run in no defined order, so the writes of
one flush must not depend on each other. No two may write the same row (refused here, with the
table and key), and none may read what another writes (a trigger, a check through another
table). Foreign keys are checked at the end of the statement on PostgreSQL, but SQLite runs the
parts in the order they were added: add parents first. A failing part raises, and the caller's
transaction, which must then roll back, takes the parts already run with it. Arrays are cast to
the base type of each column (text, not ``varchar(n)``): an explicit cast to ``varchar(n)``
would silently truncate, whereas the assignment into the column refuses an over-long value.

Use it as ``async with Writes() as writes:`` inside the transaction: it flushes when the block
ends without an error, so nothing collected can be forgotten before the commit. Values are read
from the rows when the writes are flushed, not when they are added.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.connection import connections
from tortoise.models import Model

__all__ = ["Writes", "joining"]

_LENGTH = re.compile(r"\(.*\)")
# Column types whose array parameter is cast to something else: the base type of a bounded
# type (see the module's doc), and JSON sent as text, which is what the ORM makes of it.
_BASE_TYPES = {"VARCHAR": "text", "CHAR": "text", "DECIMAL": "numeric", "NUMERIC": "numeric",
               "JSONB": "text", "JSON": "text"}
_JSON_TYPES = {"JSONB": "jsonb", "JSON": "json"}


@dataclass(frozen=True)
class _Part:
    model: type[Model]
    kind: str  # "insert", "update_rows", "update"
    rows: tuple[Model, ...] = ()
    fields: tuple[str, ...] = ()
    pk: Any = None
    values: tuple[tuple[str, Any], ...] = ()

    @property
    def shape(self) -> _Shape:
        """What the statement's text depends on: the table, the kind and the columns."""
        if self.kind == "insert":
            return (self.model, self.kind, _insert_names(self.model))
        if self.kind == "update_rows":
            return (self.model, self.kind, (self.model._meta.pk_attr, *self.fields))
        return (self.model, self.kind, tuple(name for name, _ in self.values))

    def params(self) -> list[Any]:
        """The parameters, in the order of the statement's placeholders."""
        fields_map = self.model._meta.fields_map
        if self.kind == "update":
            return [*(fields_map[name].to_db_value(value, self.model)
                      for name, value in self.values), self.pk]
        # One array per column; each value through the ORM's own conversion and checks.
        return [[field.to_db_value(getattr(row, name), row) for row in self.rows]
                for name, field in ((name, fields_map[name]) for name in self.shape[2])]


_Shape = tuple[type[Model], str, tuple[str, ...]]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _insert_names(model: type[Model]) -> tuple[str, ...]:
    # Not cached: before Tortoise.init a model lacks its foreign keys' columns.
    meta = model._meta
    return tuple(name for name in meta.fields_db_projection
                 if not (name == meta.pk_attr and meta.pk.generated))


def _sql_type(model: type[Model], field_name: str) -> tuple[str, str | None]:
    """(the type a column's values are sent as, the cast back to the column's, or None)."""
    declared = model._meta.fields_map[field_name].get_for_dialect("postgres", "SQL_TYPE")
    base = _LENGTH.sub("", str(declared)).strip().upper()
    return _BASE_TYPES.get(base, base.lower()), _JSON_TYPES.get(base)


def _column(model: type[Model], field_name: str) -> str:
    return _quote(model._meta.fields_db_projection[field_name])


class _Numbers:
    """Placeholders numbered on from those the statement's earlier parts took."""

    def __init__(self) -> None:
        self.taken = 0

    def next(self, sql_type: str | None = None) -> str:
        self.taken += 1
        return f"${self.taken}" + (f"::{sql_type}" if sql_type else "")


def _unnest(model: type[Model], names: Sequence[str], numbers: _Numbers) -> tuple[str, list[str]]:
    """``unnest($1::t1[], ...) AS v(c0, ...)`` and each column's select expression."""
    arrays, selects = [], []
    for n, name in enumerate(names):
        element, cast = _sql_type(model, name)
        arrays.append(numbers.next(f"{element}[]"))
        selects.append(f"v.c{n}" + (f"::{cast}" if cast else ""))
    aliases = ", ".join(f"c{n}" for n in range(len(names)))
    return f"unnest({', '.join(arrays)}) AS v({aliases})", selects


def _render(shape: _Shape, numbers: _Numbers) -> str:
    model, kind, names = shape
    meta = model._meta
    table = _quote(meta.db_table)
    if kind == "insert":
        source, selects = _unnest(model, names, numbers)
        columns = ", ".join(_column(model, name) for name in names)
        # Names from the models, quoted; every value a parameter.
        return f"INSERT INTO {table} ({columns}) SELECT {', '.join(selects)} FROM {source}"  # noqa: S608
    if kind == "update_rows":
        source, selects = _unnest(model, names, numbers)
        sets = ", ".join(f"{_column(model, name)} = {select}"
                         for name, select in zip(names[1:], selects[1:], strict=True))
        return (f"UPDATE {table} SET {sets} FROM {source} "  # noqa: S608
                f"WHERE {table}.{_quote(meta.db_pk_column)} = {selects[0]}")
    sets = ", ".join(f"{_column(model, name)} = {numbers.next(_cast_one(model, name))}"
                     for name in names)
    key = numbers.next()
    return f"UPDATE {table} SET {sets} WHERE {_quote(meta.db_pk_column)} = {key}"  # noqa: S608


def _cast_one(model: type[Model], name: str) -> str | None:
    cast = _sql_type(model, name)[1]
    return f"text::{cast}" if cast else None


@functools.cache
def _statement(shapes: tuple[_Shape, ...]) -> str:
    """The one statement for parts of these shapes: made once per process and shape (a deadline
    rush flushes hundreds of times a second, and the same shapes every time)."""
    numbers = _Numbers()
    *withs, main = [_render(shape, numbers) for shape in shapes]
    if not withs:
        return main
    return "WITH " + ", ".join(f"w{n} AS ({text})" for n, text in enumerate(withs)) + " " + main


@contextlib.asynccontextmanager
async def joining(writes: Writes | None) -> AsyncIterator[Writes]:
    """The caller's writes to add to (the caller flushes them), or, without any, new ones that
    are flushed when the block ends: for functions that can write alone or as part of a
    caller's single statement."""
    if writes is not None:
        yield writes
    else:
        async with Writes() as own:
            yield own


class Writes:
    """Inserts and updates collected inside a transaction and flushed together (module doc)."""

    def __init__(self) -> None:
        self._parts: list[_Part] = []
        self._keys: set[tuple[str, Any]] = set()

    def __len__(self) -> int:
        return len(self._parts)

    async def __aenter__(self) -> Writes:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            await self.flush()

    def _claim(self, model: type[Model], keys: Sequence[Any]) -> None:
        table = model._meta.db_table
        for key in keys:
            if (table, key) in self._keys:
                raise ValueError(f"{table} row {key!r} is written twice in one flush")
            self._keys.add((table, key))

    def insert(self, model: type[Model], rows: Sequence[Model]) -> None:
        """Insert ``rows`` (instances of ``model``). A key the database generates is not filled
        in on the instances: use the ORM where the caller needs it."""
        if not rows:
            return
        meta = model._meta
        if not meta.pk.generated:
            self._claim(model, [row.pk for row in rows])
        elif any(row.pk is not None for row in rows):
            # The ORM would insert it; this insert leaves the key to the database.
            raise ValueError(f"{meta.db_table} generates its keys: leave them unset")
        self._parts.append(_Part(model, "insert", rows=tuple(rows)))

    def update_rows(self, model: type[Model], rows: Sequence[Model], fields: Sequence[str]
                    ) -> None:
        """Set ``fields`` of each of ``rows`` to the instance's values, by primary key."""
        if not rows:
            return
        if not fields:
            raise ValueError("update_rows needs at least one field")
        self._claim(model, [row.pk for row in rows])
        self._parts.append(_Part(model, "update_rows", rows=tuple(rows), fields=tuple(fields)))

    def update(self, model: type[Model], pk: Any, **values: Any) -> None:
        """Set the given fields of the row whose primary key is ``pk``."""
        if not values:
            raise ValueError("update needs at least one field")
        self._claim(model, [pk])
        self._parts.append(_Part(model, "update", pk=pk, values=tuple(values.items())))

    async def flush(self) -> None:
        """Run every write collected so far (one statement on PostgreSQL), then forget them;
        inside the caller's transaction."""
        parts, self._parts, self._keys = self._parts, [], set()
        if not parts:
            return
        conn = connections.get("default")
        if conn.capabilities.dialect != "postgres":
            for part in parts:
                await _run_with_orm(part)
            return
        sql = _statement(tuple(part.shape for part in parts))
        await conn.execute_query(sql, [param for part in parts for param in part.params()])


async def _run_with_orm(part: _Part) -> None:
    if part.kind == "insert":
        await part.model.bulk_create(list(part.rows))
    elif part.kind == "update_rows":
        await part.model.bulk_update(list(part.rows), fields=list(part.fields))
    else:
        await part.model.filter(pk=part.pk).update(**dict(part.values))
