"""Every index the hub's tables carry earns its keep.

Each index costs a write on every ingested row, every match decision and
every blocking key: an index whose columns lead another index of the same
table answers no query the longer one cannot, so the schema must not have one.
"""
import pytest
from django.apps import apps
from django.db import connection


def _indexes(table: str) -> list[tuple[str, tuple[str, ...], bool, bool]]:
    """(name, columns, unique, partial) of each index of the table, from PostgreSQL itself.

    A column indexed with another operator class (``varchar_pattern_ops`` for
    LIKE) is a different key: it is named with its class."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.relname, ix.indisunique, ix.indpred IS NOT NULL,
                   array_agg(a.attname || CASE WHEN oc.opcdefault THEN '' ELSE ' ' || oc.opcname END
                             ORDER BY k.ord)
            FROM pg_index ix
            JOIN pg_class t ON t.oid = ix.indrelid
            JOIN pg_class i ON i.oid = ix.indexrelid
            CROSS JOIN LATERAL unnest(ix.indkey::int2[], ix.indclass::oid[]) WITH ORDINALITY AS k(attnum, opclass, ord)
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
            JOIN pg_opclass oc ON oc.oid = k.opclass
            WHERE t.relname = %s
            GROUP BY i.relname, ix.indisunique, ix.indpred
            """,
            [table],
        )
        return [(name, tuple(columns), unique, partial) for name, unique, partial, columns in cursor.fetchall()]


def _hub_tables() -> list[str]:
    return sorted(model._meta.db_table for app in ("mdm", "stewardship")
                  for model in apps.get_app_config(app).get_models())


@pytest.mark.django_db
def test_no_index_is_a_leading_part_of_another_index_of_its_table():
    if connection.vendor != "postgresql":
        pytest.skip("reads PostgreSQL's catalog")
    redundant = []
    for table in _hub_tables():
        indexes = _indexes(table)
        for name, columns, unique, partial in indexes:
            if unique or partial:
                continue  # a constraint or a partial index says more than its columns
            for other, other_columns, _, other_partial in indexes:
                covers = other_columns[:len(columns)] == columns and not other_partial
                if other != name and covers and (len(other_columns) > len(columns) or other < name):
                    redundant.append(f"{table}.{name} {columns} is covered by {other} {other_columns}")
    assert redundant == []


@pytest.mark.django_db
def test_the_lookups_matching_and_ingest_rely_on_stay_indexed():
    if connection.vendor != "postgresql":
        pytest.skip("reads PostgreSQL's catalog")
    leading = {table: {columns[0] for _, columns, _, _ in _indexes(table)}
               for table in ("mdm_sourcerecord", "mdm_blockingkey", "mdm_matchdecision", "mdm_goldenrecord")}
    assert {"entity_type_id", "source_system_id", "golden_id"} <= leading["mdm_sourcerecord"]
    assert {"entity_type_id", "record_id"} <= leading["mdm_blockingkey"]
    assert {"record_a_id", "record_b_id", "entity_type_id"} <= leading["mdm_matchdecision"]
    assert {"entity_type_id", "merged_into_id"} <= leading["mdm_goldenrecord"]
