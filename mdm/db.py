"""Bulk writes fast enough for million-row loads.

On PostgreSQL rows go in through COPY (psycopg formats them in C); Django's
``bulk_create`` spends most of its time adapting parameters in Python for
wide rows with JSON. Elsewhere (SQLite for a first run) it falls back to
``bulk_create``. Primary keys are drawn from the table's sequence first, so
callers get ids back as with ``bulk_create``.

Reads on the path of every incremental match and steward action go through
raw statements too (``table``, ``marks``, ``row_lock``, ``json_text``,
``read_datetime``), and their few new rows through one ``INSERT … VALUES``:
building and compiling an ORM query costs 0.3–0.6 ms, more than PostgreSQL
takes to answer it, and one match made a dozen of them.
"""
from __future__ import annotations

import json
from collections.abc import Sequence, Sized
from datetime import datetime

from django.db import connection, models, transaction

# Below this many rows the plain ORM statement is cheaper than COPY's extra round trips.
SMALL = 50


class JsonText(str):
    """A value already serialised to JSON: written as is, not dumped again.

    Lets one ``json.dumps`` serve a golden record row and its version row.
    """


def _dump(value):
    if value is None:
        return None
    if isinstance(value, JsonText):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _column_values(model: type[models.Model], field_names: Sequence[str]):
    fields = [model._meta.get_field(name) for name in field_names]
    columns = [f.column for f in fields]
    converters = []
    for field in fields:
        if isinstance(field, models.JSONField):
            converters.append(_dump)
        else:
            converters.append(None)
    attnames = [f.attname for f in fields]
    return columns, attnames, converters


def marks(values: Sized) -> str:
    """``%s, %s, …``: one placeholder per value, for ``IN (…)`` in a raw statement."""
    return ", ".join(["%s"] * len(values))


def id_in(column: str, ids: Sequence[int]) -> tuple[str, list]:
    """``column`` among ``ids`` as SQL and its parameters: one array parameter on PostgreSQL,
    where thousands of ``IN (%s, …)`` placeholders cost more to send and parse than the
    lookup itself (a recompute or preview reads 5,000 golden records a statement)."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::bigint[])", [list(ids)]
    return f"{column} IN ({marks(ids)})", list(ids)


def table(model: type[models.Model]) -> str:
    """The model's table name, quoted for a raw statement."""
    return connection.ops.quote_name(model._meta.db_table)


def row_lock(*, skip_locked: bool = False) -> str:
    """The ``FOR NO KEY UPDATE`` clause of a raw SELECT (row locks that leave rows merely
    referencing these unblocked), or nothing where the database has no row locks
    (SQLite locks the whole database for the transaction)."""
    if not connection.features.has_select_for_update:
        return ""
    return " FOR NO KEY UPDATE SKIP LOCKED" if skip_locked else " FOR NO KEY UPDATE"


def json_text(column: str) -> str:
    """SQL for one top-level key of a JSON column as text; the key is the statement's next parameter."""
    if connection.vendor == "postgresql":
        return f"({column} ->> %s)"
    return f"JSON_EXTRACT({column}, '$.' || %s)"


def json_keys(column: str, count: int) -> str:
    """SQL for an object of only some top-level keys of a JSON column (null where a key is
    absent), as JSON text; the keys are the statement's next ``count`` parameters, each given twice."""
    if connection.vendor == "postgresql":
        return f"CAST(jsonb_build_object({', '.join([f'%s::text, {column} -> %s'] * count)}) AS TEXT)"
    # SQLite: json_extract hands objects and arrays on as JSON, so json_object nests them.
    return f"json_object({', '.join([f'%s, JSON_EXTRACT({column}, %s)'] * count)})"


def json_key_params(keys: Sequence[str]) -> list[str]:
    """The parameters ``json_keys`` expects for ``keys``."""
    if connection.vendor == "postgresql":
        return [p for key in keys for p in (key, key)]
    return [p for key in keys for p in (key, f'$."{key}"')]


def binary_results(cursor) -> None:
    """Have PostgreSQL send this cursor's results in binary: psycopg decodes binary
    integers and timestamps in C, where text timestamps take its pure-Python parser
    (about 2 µs each; a preview or recompute of 100,000 golden records reads
    400,000). Cast JSON to text in such a query: text comes back as ``str`` either way."""
    if connection.vendor == "postgresql":
        from psycopg.pq import Format

        cursor.cursor.format = Format.BINARY


def read_datetime(value):
    """A datetime column read by a raw statement, aware as the ORM reads it: PostgreSQL returns
    an aware datetime, SQLite a naive one or text."""
    if value is None or (isinstance(value, datetime) and value.tzinfo is not None):
        return value
    # SQLite hands back naive datetimes (or text): Django made them aware in its own zone.
    return connection.ops.convert_datetimefield_value(value, None, connection)


def chunked(values: Sequence, size: int = 10_000):
    """Slices of ``values``: a query parameter list must stay under PostgreSQL's 65,535."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """Primary keys drawn from the table's sequence (PostgreSQL), for rows inserted with COPY."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                       [table, model._meta.pk.column, count])
        return [row[0] for row in cursor.fetchall()]


def _insert_values(model: type[models.Model], field_names: Sequence[str], rows: Sequence[Sequence], *,
                   returning: bool = False) -> list[int]:
    """A few rows in one ``INSERT … VALUES`` (PostgreSQL); their new pks when ``returning``.

    ``bulk_create`` spends a millisecond or more building the statement for
    wide rows with JSON, and would parse and dump each ``JsonText`` again:
    every incremental match and steward action writes a version, an event
    and a decision this way.
    """
    fields = [model._meta.get_field(name) for name in field_names]
    quote = connection.ops.quote_name
    # Only JSON is cast (a text parameter is not jsonb); other columns keep
    # their own checks (a cast to varchar(n) would truncate silently).
    row_sql = "(" + ", ".join(f"%s::{f.db_type(connection)}" if isinstance(f, models.JSONField) else "%s"
                              for f in fields) + ")"
    converters = [_dump if isinstance(f, models.JSONField) else None for f in fields]
    params = [c(v) if c else v for row in rows for c, v in zip(converters, row)]
    sql = (f"INSERT INTO {table(model)} ({', '.join(quote(f.column) for f in fields)}) "
           f"VALUES {', '.join([row_sql] * len(rows))}")
    if returning:
        sql += f" RETURNING {quote(model._meta.pk.column)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()] if returning else []


def bulk_insert(objs: Sequence[models.Model], field_names: Sequence[str]) -> None:
    """Insert ``objs`` (all of one model, without pk) and set their ``pk``."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        for obj in objs:
            for field in model._meta.concrete_fields:
                if isinstance(field, models.JSONField) and isinstance(getattr(obj, field.attname), JsonText):
                    setattr(obj, field.attname, json.loads(getattr(obj, field.attname)))
        model.objects.bulk_create(objs, batch_size=1000)
        return
    columns, attnames, converters = _column_values(model, field_names)
    if len(objs) < SMALL:
        ids = _insert_values(model, field_names, [[getattr(obj, a) for a in attnames] for obj in objs],
                             returning=True)
    else:
        ids = allocate_ids(model, len(objs))
        with connection.cursor() as cursor:
            quoted = ", ".join(connection.ops.quote_name(c) for c in [model._meta.pk.column, *columns])
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(f"COPY {table(model)} ({quoted}) FROM STDIN") as copy:
                for obj, pk in zip(objs, ids):
                    row = [pk]
                    for attname, convert in zip(attnames, converters):
                        value = getattr(obj, attname)
                        row.append(convert(value) if convert else value)
                    copy.write_row(row)
    for obj, pk in zip(objs, ids):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias


def insert_rows(model: type[models.Model], field_names: Sequence[str], rows: Sequence[Sequence], *,
                returning: bool = False) -> list[int]:
    """Insert plain tuples (no model instances): blocking keys, decisions, new source records.

    With ``returning``, the new rows' primary keys, in the order of ``rows``
    (drawn from the sequence first on PostgreSQL, so COPY can carry them).
    Building a model instance per row costs more than writing the row: a
    million-record load creates none.
    """
    if not rows:
        return []
    if connection.vendor != "postgresql":
        attnames = _attnames(model, field_names)
        json_attnames = {f.attname for f in model._meta.concrete_fields if isinstance(f, models.JSONField)}
        objs = [model(**{a: json.loads(v) if a in json_attnames and isinstance(v, JsonText) else v
                         for a, v in zip(attnames, row)}) for row in rows]
        model.objects.bulk_create(objs, batch_size=2000)
        return [obj.pk for obj in objs] if returning else []
    if len(rows) < SMALL:
        return _insert_values(model, field_names, rows, returning=returning)
    columns, _, converters = _column_values(model, field_names)
    ids = allocate_ids(model, len(rows)) if returning else []
    if returning:
        columns = [model._meta.pk.column, *columns]
        converters = [None, *converters]
        rows = [(pk, *row) for pk, row in zip(ids, rows)]
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table(model)} ({quoted}) FROM STDIN") as copy:
            if any(converters):
                for row in rows:
                    copy.write_row([c(v) if c else v for c, v in zip(converters, row)])
            else:
                for row in rows:
                    copy.write_row(row)
    return ids


def _update_from_values(model: type[models.Model], field_names: Sequence[str], rows: Sequence[Sequence]) -> int:
    """A few rows in one statement: cheaper than ``bulk_update``'s CASE per column,
    which Django spends milliseconds compiling (every incremental match pays it)."""
    fields = [model._meta.get_field(name) for name in field_names]
    pk = model._meta.pk
    quote = connection.ops.quote_name
    types = [pk.db_type(connection), *(f.db_type(connection) for f in fields)]
    converters = [_dump if isinstance(f, models.JSONField) else None for f in fields]
    row_sql = "(" + ", ".join(f"%s::{t}" for t in types) + ")"
    names = ["pk", *(f"v{i}" for i in range(len(fields)))]
    assignments = ", ".join(f"{quote(f.column)} = v.v{i}" for i, f in enumerate(fields))
    table = quote(model._meta.db_table)
    params = [p for row in rows for p in (row[0], *[c(v) if c else v for c, v in zip(converters, row[1:])])]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row_sql] * len(rows))}) "
            f"AS v({', '.join(names)}) WHERE {table}.{quote(pk.column)} = v.pk",
            params,
        )
        return cursor.rowcount


def _attnames(model, field_names):
    return [model._meta.get_field(name).attname for name in field_names]


def update_rows(model: type[models.Model], field_names: Sequence[str], rows: Sequence[Sequence]) -> int:
    """Set ``field_names`` of many rows: each row is ``(pk, value, …)``.

    PostgreSQL: COPY into a temporary table, one ``UPDATE … FROM``; a few rows
    in one ``UPDATE … FROM (VALUES …)``. Elsewhere: Django's ``bulk_update``.
    """
    if not rows:
        return 0
    attnames = _attnames(model, field_names)
    if connection.vendor == "postgresql" and len(rows) < SMALL:
        return _update_from_values(model, field_names, rows)
    if connection.vendor != "postgresql":
        objs = []
        for row in rows:
            obj = model(pk=row[0])
            for attname, value in zip(attnames, row[1:]):
                setattr(obj, attname, json.loads(value) if isinstance(value, JsonText) else value)
            objs.append(obj)
        return model.objects.bulk_update(objs, list(field_names), batch_size=500)
    fields = [model._meta.get_field(name) for name in field_names]
    table = connection.ops.quote_name(model._meta.db_table)
    pk = model._meta.pk
    tmp = connection.ops.quote_name(f"tmp_update_{model._meta.db_table}")
    columns = [connection.ops.quote_name(f.column) for f in fields]
    types = [f.db_type(connection) for f in fields]
    converters = [_dump if isinstance(f, models.JSONField) else None for f in fields]
    with transaction.atomic(), connection.cursor() as cursor:
        column_defs = ", ".join(f"{c} {t}" for c, t in zip(columns, types))
        cursor.execute(f"CREATE TEMPORARY TABLE {tmp} (pk {pk.db_type(connection)}, {column_defs})")
        with cursor.cursor.copy(f"COPY {tmp} (pk, {', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[0], *[c(v) if c else v for c, v in zip(converters, row[1:])]])
        assignments = ", ".join(f"{c} = {tmp}.{c}" for c in columns)
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM {tmp} WHERE {table}.{connection.ops.quote_name(pk.column)} = {tmp}.pk"
        )
        updated = cursor.rowcount
        cursor.execute(f"DROP TABLE {tmp}")
    return updated


def upsert_rows(model: type[models.Model], field_names: Sequence[str], rows: Sequence[Sequence], *,
                unique: str) -> None:
    """Insert rows of ``field_names`` values, or update those fields where ``unique`` exists.

    As the ORM would: a new row takes the model's defaults for the fields not
    named, and ``auto_now`` fields are set to now (``auto_now_add`` only on
    insert). PostgreSQL: COPY into a temporary table, one ``INSERT … ON
    CONFLICT DO UPDATE`` from it (``bulk_create(update_conflicts=True)`` spends
    seconds per 10,000 rows building model instances and parameters). A few
    rows, or another database: that ``bulk_create``.
    """
    if not rows:
        return
    from django.utils import timezone

    meta = model._meta
    named = [meta.get_field(name) for name in field_names]
    stamped = [f for f in meta.concrete_fields if getattr(f, "auto_now", False) and f not in named]
    updated = [f for f in named if f.name != unique] + stamped
    if connection.vendor != "postgresql" or len(rows) < SMALL:
        attnames = [f.attname for f in named]
        objs = [model(**dict(zip(attnames, row))) for row in rows]
        model.objects.bulk_create(objs, batch_size=1000, update_conflicts=True, unique_fields=[unique],
                                  update_fields=[f.name for f in updated])
        return
    now = timezone.now()
    # Every column of a new row: the named ones, then the rest at their defaults.
    rest = [f for f in meta.concrete_fields if f not in named and not f.primary_key]
    filler = [now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
              for f in rest]
    fields = [*named, *rest]
    converters = [_dump if isinstance(f, models.JSONField) else None for f in fields]
    filler = [c(v) if c else v for c, v in zip(converters[len(named):], filler)]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    tmp = quote(f"tmp_upsert_{meta.db_table}")
    columns = [quote(f.column) for f in fields]
    column_defs = ", ".join(f"{c} {f.db_type(connection)}" for c, f in zip(columns, fields))
    assignments = ", ".join(f"{quote(f.column)} = EXCLUDED.{quote(f.column)}" for f in updated)
    named_converters = converters[:len(named)]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {tmp} ({column_defs})")
        with cursor.cursor.copy(f"COPY {tmp} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([*(c(v) if c else v for c, v in zip(named_converters, row)), *filler])
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM {tmp} "
            f"ON CONFLICT ({quote(meta.get_field(unique).column)}) DO UPDATE SET {assignments}"
        )
        cursor.execute(f"DROP TABLE {tmp}")
