"""File ingestion into the configured database: records/s and peak memory.

    python manage.py benchmark ingest --records 100000

Generates demo customer extracts (ERP CSV in Latin-1, CRM JSONL, eCommerce
CSV) for the requested number of source records, ingests them through the
same path as ``manage.py ingest`` (matching deferred: it is measured by
``benchmark matching``), then ingests them again (the idempotent no-op path).
"""
from __future__ import annotations

import math
import shutil
import tempfile
import time
from pathlib import Path

from django.db import connection

from mdm.benchmarks.common import current_rss_mib, database_label, peak_rss_mib
from mdm.demo import generator
from mdm.demo.load import load_configs
from mdm.models import (
    BlockingKey,
    EntityType,
    FieldMapping,
    GoldenRelationship,
    IngestBatch,
    RejectedRecord,
    SourceRecord,
    SourceRecordVersion,
    SourceSystem,
    StewardTask,
)
from mdm.services.files import ingest_file
from mdm.services.sources import add_source

# Customer source records the generator writes per real customer (ERP + CRM + eCommerce).
RECORDS_PER_CUSTOMER = 1.93


def add_arguments(parser):
    parser.add_argument("--records", type=int, default=100_000, help="customer source records to ingest (about)")
    parser.add_argument("--entity", default="customer", choices=["customer", "product"])
    parser.add_argument("--keep", action="store_true", help="keep the generated files and ingested rows")
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)


def _bench_mappings(entity_code: str) -> list[FieldMapping]:
    """Copies of the demo mappings on benchmark-only sources (bench_erp…), so the
    benchmark never touches a real source's records."""
    copies = []
    for mapping in FieldMapping.objects.filter(entity_type__code=entity_code).exclude(file_name="") \
            .exclude(source_system__code__startswith="bench_").select_related("source_system", "entity_type"):
        source, _ = add_source(code=f"bench_{mapping.source_system.code}", name=f"Benchmark copy of {mapping.source_system.name}",
                               kind=mapping.source_system.kind, default_region=mapping.source_system.default_region)
        copy, _ = FieldMapping.objects.update_or_create(
            source_system=source, entity_type=mapping.entity_type,
            defaults={f: getattr(mapping, f) for f in ("id_field", "updated_at_field", "deleted_field", "fields",
                                                       "file_format", "encoding", "file_name")},
        )
        copies.append(copy)
    return copies


def _wipe(entity_code: str) -> None:
    """Delete the benchmark sources' rows with plain DELETEs (no per-object collector).

    Scoped by the foreign keys' values, not by joins to the entity type and
    sources: right after a load, before autovacuum has analyzed the new rows,
    PostgreSQL planned the joined form of the records' DELETE as a nested
    loop over the whole table and ran it for over ten minutes.
    """
    scope = {"entity_type__in": list(EntityType.objects.filter(code=entity_code).values_list("pk", flat=True)),
             "source_system__in": list(SourceSystem.objects.filter(code__startswith="bench_")
                                       .values_list("pk", flat=True))}
    records = SourceRecord.objects.filter(**scope)
    for qs in (
        StewardTask.objects.filter(rejected__in=RejectedRecord.objects.filter(**scope)),
        GoldenRelationship.objects.filter(via_record__in=records),
        SourceRecordVersion.objects.filter(record__in=records),
        BlockingKey.objects.filter(record__in=records),
        RejectedRecord.objects.filter(**scope),
        records,
        IngestBatch.objects.filter(**scope),
    ):
        qs._raw_delete(qs.db)


def run(command, *, records, entity, keep, chunk_size, seed, **_):
    out = command.stdout.write
    if connection.vendor != "postgresql":
        out(command.style.WARNING(f"Database is {connection.vendor}; the target is measured on PostgreSQL."))
    load_configs()
    _wipe(entity)
    customers = max(1, math.ceil(records / RECORDS_PER_CUSTOMER)) if entity == "customer" else 1
    products = None if entity == "customer" else records
    folder = Path(tempfile.mkdtemp(prefix="mdm-bench-ingest-"))
    try:
        started = time.perf_counter()
        summary = generator.generate(folder, customers=customers, products=products, prices=1, seed=seed)
        out(f"generated {sum(f.rows for f in summary.files if f.entity == entity):,} {entity} rows "
            f"in {time.perf_counter() - started:.1f}s ({folder})")
        mappings = _bench_mappings(entity)
        out(f"database: {database_label()}; chunk size {chunk_size}; RSS before: {current_rss_mib():.0f} MiB")
        for label in ("first load", "same files again (no-op)"):
            total_rows = 0
            rss_samples: list[float] = []
            t0 = time.perf_counter()
            for mapping in mappings:
                path = folder / mapping.file_name

                def sample(batch, rows, rejects, samples=rss_samples):
                    samples.append(current_rss_mib())

                result = ingest_file(path=path, source=mapping.source_system, entity_type=mapping.entity_type,
                                     defer_match=True, chunk_size=chunk_size, on_chunk=sample,
                                     submitted_by="benchmark")
                total_rows += result.batch.rows_total
            seconds = time.perf_counter() - t0
            quartiles = [rss_samples[int(len(rss_samples) * q)] for q in (0.1, 0.5, 0.9)] if rss_samples else []
            out(f"{label:26} {total_rows:>10,} rows  {seconds:7.1f} s  {total_rows / seconds:>9,.0f} records/s  "
                f"RSS at 10/50/90 %: {' / '.join(f'{q:.0f}' for q in quartiles)} MiB")
        scope = {"entity_type__code": entity, "source_system__code__startswith": "bench_"}
        out(f"peak RSS: {peak_rss_mib():.0f} MiB; stored {SourceRecord.objects.filter(**scope).count():,} "
            f"records, {RejectedRecord.objects.filter(**scope).count():,} rejects")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if not keep:
            _wipe(entity)
