"""Benchmark data: a copy of the customer entity type (``bench_customer``, IDs BCU-…)
filled with golden records and one member source record each, written with COPY.

Kept between runs (a million rows take a while); ``drop_bench_data`` removes it.
"""
from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta

import yaml
from django.conf import settings
from django.db import connection

from mdm.models import (
    ApiClient,
    ChangeEvent,
    Delivery,
    EntityType,
    GoldenRecord,
    GoldenRecordVersion,
    SourceRecord,
    SourceSystem,
    Subscription,
)
from mdm.services.entity_config import save_entity_config
from mdm.services.golden import set_last_number
from mdm.services.sources import add_source

ENTITY = "bench_customer"
SOURCE = "bench_erp"
CITIES = [("Austin", "TX", "78701"), ("Dallas", "TX", "75201"), ("Chicago", "IL", "60601"), ("Denver", "CO", "80202"),
          ("Atlanta", "GA", "30303"), ("Seattle", "WA", "98101"), ("Boston", "MA", "02108"), ("Miami", "FL", "33101")]
WORDS = ["Acme", "Summit", "Northern", "Pacific", "Granite", "Harbor", "Prairie", "Liberty", "Keystone", "Pioneer",
         "Atlas", "Beacon", "Cedar", "Delta", "Evergreen", "Frontier"]
KINDS = ["Supply", "Industrial", "Electric", "Plumbing", "Tools", "Distribution", "Hardware", "Fasteners"]


def bench_entity() -> EntityType:
    entity = EntityType.objects.filter(code=ENTITY).first()
    if entity is not None:
        return entity
    config = yaml.safe_load((settings.MDM_ENTITY_CONFIG_DIR / "customer.yaml").read_text())
    config.update(code=ENTITY, name="Benchmark customer", id_prefix="BCU")
    entity, _, _ = save_entity_config(yaml.safe_dump(config, sort_keys=False), filename="bench_customer.yaml")
    return entity


def bench_source() -> SourceSystem:
    return add_source(code=SOURCE, name="Benchmark ERP", kind="erp")[0]


def customer_values(i: int, rng: random.Random) -> dict:
    city, region, postcode = CITIES[i % len(CITIES)]
    name = f"{rng.choice(WORDS)} {rng.choice(KINDS)} {i} Inc."
    return {
        "name": name, "city": city, "region": region, "postcode": postcode, "country": "US",
        "address_line1": f"{100 + i % 9000} Main St", "phone": [{"value": f"+1512555{i % 10000:04d}",
                                                                 "sources": [SOURCE]}],
        "email": f"ap{i}@example.com", "credit_limit": f"{(i % 50 + 1) * 1000}.00", "currency": "USD",
        "payment_terms": "NET30", "account_type": "SOLD_TO", "tax_id": f"{10 + i % 89:02d}-{i % 10_000_000:07d}",
    }


def ensure_goldens(count: int, out=print, chunk: int = 50_000) -> tuple[EntityType, SourceSystem]:
    """Make sure ``count`` benchmark golden records exist (each with one source record)."""
    entity, source = bench_entity(), bench_source()
    have = GoldenRecord.objects.filter(entity_type=entity).count()
    if have >= count:
        out(f"{have:,} benchmark golden records already there")
        return entity, source
    if connection.vendor != "postgresql":
        raise SystemExit("loading benchmark data needs PostgreSQL (set DATABASE_URL)")
    out(f"loading {count - have:,} golden records and source records with COPY …")
    started = time.perf_counter()
    rng = random.Random(have)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    g_cols = ["id", "entity_type_id", "golden_id", "status", "display_name", "values", "lineage", "version",
              "fingerprint", "created_at", "updated_at"]
    s_cols = ["entity_type_id", "source_system_id", "source_id", "version", "raw", "attributes", "issues",
              "content_hash", "received_at", "created_at", "deleted", "golden_id", "needs_match"]
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for start in range(have, count, chunk):
            n = min(chunk, count - start)
            cursor.execute("SELECT nextval(pg_get_serial_sequence('mdm_goldenrecord', 'id')) "
                           "FROM generate_series(1, %s)", [n])
            ids = [r[0] for r in cursor.fetchall()]
            rows_g, rows_s = [], []
            for k, pk in enumerate(ids):
                i = start + k + 1
                values = customer_values(i, rng)
                moment = base + timedelta(milliseconds=i * 7)
                lineage = {a: {"source": SOURCE, "source_id": f"B{i}", "rule": "source_priority"} for a in values}
                # No fingerprint: the first recompute of the record stores one.
                rows_g.append([pk, entity.pk, f"BCU-{i:06d}", "active", values["name"], json.dumps(values),
                               json.dumps(lineage), 1, "", moment, moment])
                attrs = {k2: v for k2, v in values.items() if k2 != "phone"}
                rows_s.append([entity.pk, source.pk, f"B{i}", 1, json.dumps({"id": f"B{i}", **attrs}),
                               json.dumps(attrs), "[]", f"{i:032x}", moment, moment, False, pk, False])
            with raw.copy(f"COPY mdm_goldenrecord ({', '.join(g_cols)}) FROM STDIN") as copy:
                for row in rows_g:
                    copy.write_row(row)
            with raw.copy(f"COPY mdm_sourcerecord ({', '.join(s_cols)}) FROM STDIN") as copy:
                for row in rows_s:
                    copy.write_row(row)
            out(f"  {start + n:,} / {count:,}")
        set_last_number(entity, count)
        cursor.execute("ANALYZE mdm_goldenrecord")
        cursor.execute("ANALYZE mdm_sourcerecord")
    out(f"loaded in {time.perf_counter() - started:.1f} s")
    return entity, source


def bench_token(name: str, scopes: list[str]) -> str:
    ApiClient.objects.filter(name=name).delete()
    return ApiClient.issue(name=name, scopes=scopes)[1]


def drop_bench_data(out=print) -> None:
    entity = EntityType.objects.filter(code=ENTITY).first()
    if entity is None:
        return
    with connection.cursor() as cursor:
        for sql in [
            "DELETE FROM mdm_delivery WHERE golden_id IN (SELECT id FROM mdm_goldenrecord WHERE entity_type_id = %s)",
            "DELETE FROM mdm_changeevent WHERE entity_type_id = %s",
            "DELETE FROM mdm_goldenrecordversion WHERE golden_id IN "
            "(SELECT id FROM mdm_goldenrecord WHERE entity_type_id = %s)",
            "DELETE FROM mdm_sourcerecordversion WHERE record_id IN "
            "(SELECT id FROM mdm_sourcerecord WHERE entity_type_id = %s)",
            "DELETE FROM mdm_stewardtask WHERE entity_type_id = %s",
            "DELETE FROM mdm_sourcerecord WHERE entity_type_id = %s",
            "DELETE FROM mdm_goldenrecord WHERE entity_type_id = %s",
        ]:
            cursor.execute(sql, [entity.pk])
    Subscription.objects.filter(name__startswith="bench-").delete()
    out("benchmark data removed")


__all__ = ["ChangeEvent", "Delivery", "GoldenRecordVersion", "SourceRecord", "bench_entity", "bench_source",
           "bench_token", "drop_bench_data", "ensure_goldens"]
