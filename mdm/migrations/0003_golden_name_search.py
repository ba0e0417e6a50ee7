"""Search golden records by any part of their name without reading them all.

The steward UI's name search is a case-insensitive "contains"
(``UPPER(display_name) LIKE UPPER('%text%')``), which no B-tree index can
serve: on PostgreSQL a trigram GIN index on the same expression can. pg_trgm
ships with PostgreSQL and is a trusted extension (the database owner may
create it); where it cannot be created the search still works, by scanning.
"""
import sys

from django.db import DatabaseError, migrations, transaction

INDEX = "golden_display_name_trgm"


def create_index(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON mdm_goldenrecord "
                           "USING gin ((UPPER(display_name::text)) gin_trgm_ops)")
    except DatabaseError as exc:
        sys.stderr.write(f"warning: no trigram index for golden-record name search ({exc}); "
                         "searching by name will scan the golden records\n")


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("mdm", "0002_lean_indexes")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
