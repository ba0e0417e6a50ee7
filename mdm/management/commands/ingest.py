"""python manage.py ingest FILE --source S --entity E [options]

Exit status: 0 all rows accepted, 3 some rows rejected (see the rejects
file), 1 nothing ingested (unknown source, unreadable file…).
"""
from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from mdm.services.files import count_lines, ingest_file, write_rejects
from mdm.services.ingest import IngestError, resolve_source_and_entity

EXIT_REJECTED = 3


def parse_maps(values: list[str]) -> dict[str, str]:
    maps = {}
    for value in values:
        column, sep, attribute = value.partition("=")
        if not sep or not column or not attribute:
            raise CommandError(f"--map expects COLUMN=ATTRIBUTE, got {value!r}")
        maps[column] = attribute
    return maps


class Command(BaseCommand):
    help = "Ingest a CSV or JSONL file of one source system and entity type."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--source", required=True, help="source system code, e.g. erp")
        parser.add_argument("--entity", required=True, help="entity type code, e.g. customer")
        parser.add_argument("--id-column", help="column holding the source's record ID")
        parser.add_argument("--format", choices=["csv", "jsonl"], help="default: from the mapping or the extension")
        parser.add_argument("--encoding", help="e.g. utf-8, latin-1, cp1252; default: detect")
        parser.add_argument("--map", action="append", default=[], metavar="COLUMN=ATTRIBUTE",
                            help="map a column to an attribute, overriding the stored mapping (repeatable)")
        parser.add_argument("--updated-at-column", help="column with the source's own last-updated time")
        parser.add_argument("--deleted-column", help="column whose truthy value marks a delete at the source")
        parser.add_argument("--rejects", type=Path, help="where to write rejected rows (CSV)")
        parser.add_argument("--chunk-size", type=int, default=2000)
        parser.add_argument("--defer-match", action="store_true",
                            help="do not enqueue matching; a later `match` picks the records up")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts):
        path: Path = opts["file"]
        try:
            source, entity = resolve_source_and_entity(opts["source"], opts["entity"])
        except IngestError as exc:
            raise CommandError(str(exc)) from exc
        total = count_lines(path) if path.exists() else 0
        bar = tqdm(total=max(total - 1, 0), unit=" rows", disable=opts["no_progress"] or None,
                   file=sys.stderr, dynamic_ncols=True)
        rejects_path: Path | None = opts["rejects"]
        rejects_handle = None
        rejects_writer = None

        def on_chunk(batch, rows, rejects):
            nonlocal rejects_handle, rejects_writer, rejects_path
            bar.update(rows)
            if rejects:
                if rejects_writer is None:
                    if rejects_path is None:
                        folder = Path(settings.VAR_DIR) / "rejects"
                        folder.mkdir(parents=True, exist_ok=True)
                        rejects_path = folder / f"batch-{batch.pk}-{path.stem}.rejects.csv"
                    rejects_handle = open(rejects_path, "w", newline="", encoding="utf-8")
                    rejects_writer = csv.writer(rejects_handle)
                    rejects_writer.writerow(["line", "source_id", "reasons", "raw"])
                write_rejects(rejects_writer, rejects)

        started = time.perf_counter()
        try:
            result = ingest_file(
                path=path, source=source, entity_type=entity, fmt=opts["format"], encoding=opts["encoding"],
                id_field=opts["id_column"], overrides=parse_maps(opts["map"]),
                updated_at_field=opts["updated_at_column"], deleted_field=opts["deleted_column"],
                defer_match=opts["defer_match"], chunk_size=opts["chunk_size"], on_chunk=on_chunk,
                submitted_by="command line",
            )
        except IngestError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
            if rejects_handle:
                rejects_handle.close()
        elapsed = time.perf_counter() - started
        batch = result.batch
        c = batch.counts
        rate = c["rows"] / elapsed if elapsed else 0
        self.stdout.write(
            f"{path.name} → {source.code}/{entity.code} (batch {batch.pk}, {batch.encoding}): "
            f"{c['rows']} rows in {elapsed:.1f}s ({rate:,.0f} rows/s): {c['created']} created, "
            f"{c['updated']} updated, {c['unchanged']} unchanged, {c['deleted']} deleted, {c['rejected']} rejected"
        )
        if batch.unmapped_columns:
            self.stdout.write(f"kept in the raw payload only (unmapped): {', '.join(batch.unmapped_columns)}")
        if c["rejected"]:
            self.stderr.write(f"{c['rejected']} rows rejected; see {rejects_path}")
            sys.exit(EXIT_REJECTED)
