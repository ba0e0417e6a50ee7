"""python manage.py export_xref --entity E [--output FILE]: CSV source,source_id,golden_id."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mdm.models import EntityType, SourceRecord


class Command(BaseCommand):
    help = "Write the cross-reference of an entity type as CSV: source,source_id,golden_id."

    def add_arguments(self, parser):
        parser.add_argument("--entity", required=True)
        parser.add_argument("--output", type=Path)
        parser.add_argument("--include-deleted", action="store_true")

    def handle(self, *args, **opts):
        entity = EntityType.objects.filter(code=opts["entity"]).first()
        if entity is None:
            raise CommandError(f"unknown entity type {opts['entity']!r}")
        qs = SourceRecord.objects.filter(entity_type=entity)
        if not opts["include_deleted"]:
            qs = qs.filter(deleted=False)
        rows = qs.order_by("source_system__code", "source_id").values_list(
            "source_system__code", "source_id", "golden__golden_id")
        handle = open(opts["output"], "w", newline="", encoding="utf-8") if opts["output"] else sys.stdout
        try:
            writer = csv.writer(handle)
            writer.writerow(["source", "source_id", "golden_id"])
            count = 0
            for source, source_id, golden_id in rows.iterator(chunk_size=10_000):
                writer.writerow([source, source_id, golden_id or ""])
                count += 1
        finally:
            if opts["output"]:
                handle.close()
        if opts["output"]:
            self.stdout.write(f"wrote {count} rows to {opts['output']}")
