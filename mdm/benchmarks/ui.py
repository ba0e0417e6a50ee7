"""Steward UI server time: queue and golden-record pages with 100,000 golden records and 10,000 open tasks.

    python manage.py benchmark ui --goldens 100000 --tasks 10000 --requests 40

Creates a benchmark-only entity type (``bench_ui``, IDs ``BUI-…``) with its
own sources, golden records (one ERP record each, a CRM record for every
fifth), a version each, and open tasks (possible matches with explanations
and attribute conflicts, aged over two weeks), all in bulk (COPY on
PostgreSQL). Then requests each page repeatedly through Django's test client
as a signed-in steward (the whole server side: middleware, views, queries,
templates; no network) and prints p50/p95 and the query count per page.
Everything it created is deleted afterwards unless ``--keep``.
"""
from __future__ import annotations

import random
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mdm.benchmarks.common import database_label, percentile
from mdm.db import bulk_insert, insert_rows
from mdm.models import (
    EntityConfigVersion,
    EntityType,
    GoldenRecord,
    GoldenRecordVersion,
    SourceRecord,
    SourceRecordVersion,
    SourceSystem,
    StewardTask,
)
from mdm.roles import STEWARDS
from mdm.services.entity_config import save_entity_config
from mdm.services.golden import allocate_numbers
from mdm.services.sources import add_source

CODE, PREFIX = "bench_ui", "BUI"
USER = "bench-ui-steward"
CITIES = ["Austin", "Dallas", "Houston", "Denver", "Boston", "Chicago", "Atlanta", "Phoenix", "Seattle", "Tampa"]
WORDS = ["Acme", "Bolt", "Summit", "Pioneer", "Keystone", "Harbor", "Granite", "Liberty", "Apex", "Cardinal",
         "Evergreen", "Frontier", "Redwood", "Atlas", "Beacon", "Crown", "Delta", "Falcon", "Guardian", "Horizon"]
KINDS = ["Supply", "Industrial", "Distribution", "Electric", "Plumbing", "Fasteners", "Tools", "Packaging"]
FORMS = ["Inc", "LLC", "Co", "Corp", "Ltd"]
TARGET_MS = 200.0


def add_arguments(parser):
    parser.add_argument("--goldens", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40, help="timed requests per page")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark data afterwards")
    parser.add_argument("--seed", type=int, default=5)


# --- data -----------------------------------------------------------------------------


def _entity() -> EntityType:
    text = (Path(settings.MDM_ENTITY_CONFIG_DIR) / "customer.yaml").read_text()
    text = text.replace("code: customer", f"code: {CODE}", 1).replace("name: Customer", "name: Benchmark customer", 1)
    text = text.replace("id_prefix: CUS", f"id_prefix: {PREFIX}", 1)
    text = text.replace("[erp, crm, ecom]", "[bench_ui_erp, bench_ui_crm]").replace("[erp, crm]", "[bench_ui_erp, bench_ui_crm]")
    text = text.replace("[crm, ecom, erp]", "[bench_ui_crm, bench_ui_erp]").replace("[erp]", "[bench_ui_erp]")
    entity, _, _ = save_entity_config(text, filename="bench_ui.yaml", note="benchmark ui")
    return entity


def _name(rng: random.Random) -> str:
    return f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(KINDS)} {rng.choice(FORMS)}"


def _lineage(values: dict, record_id: int, source: str, source_id: str, competing: list) -> dict:
    return {name: {"value": value, "record_id": record_id, "source": source, "source_id": source_id,
                   "rule": "source_priority" if competing else "only_value", "valid": True,
                   "competing": competing if name == "city" else [], "override": None}
            for name, value in values.items()}


def create(command, goldens: int, tasks: int, seed: int) -> dict:
    rng = random.Random(seed)
    out = command.stdout.write
    started = time.perf_counter()
    entity = _entity()
    erp, _ = add_source(code="bench_ui_erp", name="Benchmark ERP", kind="erp")
    crm, _ = add_source(code="bench_ui_crm", name="Benchmark CRM", kind="crm")
    now = timezone.now()
    numbers = list(allocate_numbers(entity, goldens))
    chunk = 10_000
    golden_pks: list[int] = []
    for start in range(0, goldens, chunk):
        size = min(chunk, goldens - start)
        names = [_name(rng) for _ in range(size)]
        records, rows = [], []
        for offset, name in enumerate(names):
            number = numbers[start + offset]
            city = rng.choice(CITIES)
            attrs = {"name": name, "city": city, "phone": f"+1512555{number % 10000:04d}",
                     "credit_limit": f"{rng.randrange(1, 500) * 1000}.00", "country": "US"}
            raw = {"id": f"E{number}", "name": name, "city": city, "phone": attrs["phone"]}
            records.append(SourceRecord(
                entity_type=entity, source_system=erp, source_id=f"E{number}", version=1, raw=_json(raw),
                attributes=attrs, issues=[], content_hash=f"{number:032x}", received_at=now, created_at=now,
                needs_match=False,
            ))
            if offset % 5 == 0:
                other_city = rng.choice(CITIES)
                raw_crm = {"AccountId": f"C{number}", "AccountName": name.upper(), "City": other_city}
                records.append(SourceRecord(
                    entity_type=entity, source_system=crm, source_id=f"C{number}", version=1, raw=_json(raw_crm),
                    attributes={"name": name, "city": other_city}, issues=[], content_hash=f"c{number:031x}",
                    received_at=now, created_at=now, needs_match=False,
                ))
            rows.append((number, name, attrs, city))
        gold = []
        for number, name, attrs, _city in rows:
            gold.append(GoldenRecord(entity_type=entity, golden_id=f"{PREFIX}-{number:06d}", status="active",
                                     display_name=name, values=attrs, lineage={}, version=1, created_at=now,
                                     updated_at=now))
        bulk_insert(gold, ["entity_type", "golden_id", "status", "display_name", "values", "lineage", "version",
                           "created_at", "updated_at", "fingerprint"])
        golden_of = {g.golden_id: g for g in gold}
        by_number = {}
        for record in records:
            number = int(record.source_id[1:])
            record.golden = golden_of[f"{PREFIX}-{number:06d}"]
            by_number.setdefault(number, []).append(record)
        bulk_insert(records, ["entity_type", "source_system", "source_id", "version", "raw", "attributes", "issues",
                              "content_hash", "received_at", "created_at", "needs_match", "golden", "deleted"])
        insert_rows(SourceRecordVersion, ["record", "version", "raw", "attributes", "issues", "content_hash",
                                          "received_at", "deleted"],
                    [(r.pk, 1, r.raw, r.attributes, [], r.content_hash, now, False) for r in records])
        versions, lineage_updates = [], []
        for number, _display_name, attrs, _city in rows:
            golden = golden_of[f"{PREFIX}-{number:06d}"]
            members = by_number[number]
            competing = [{"value": m.attributes["city"], "source": "bench_ui_crm", "source_id": m.source_id,
                          "record_id": m.pk, "valid": True, "eliminated_by": "source_priority"}
                         for m in members[1:]]
            golden.lineage = _lineage(attrs, members[0].pk, "bench_ui_erp", members[0].source_id, competing)
            lineage_updates.append(golden)
            versions.append((golden.pk, 1, "active", "", attrs, golden.lineage, sorted(m.pk for m in members),
                             "ingest", "system", "", now))
            golden_pks.append(golden.pk)
        GoldenRecord.objects.bulk_update(lineage_updates, ["lineage"], batch_size=2000)
        insert_rows(GoldenRecordVersion, ["golden", "version", "status", "merged_into_golden_id", "values", "lineage",
                                          "members", "reason", "actor", "note", "created_at"], versions)
        out(f"  {start + size:,} golden records")
    _tasks(entity, erp, crm, golden_pks, tasks, rng, now)
    out(f"  {tasks:,} open tasks")
    seconds = time.perf_counter() - started
    return {"entity": entity, "seconds": seconds, "golden_pks": golden_pks}


def _tasks(entity, erp, crm, golden_pks, count, rng, now):
    """Possible matches between random golden pairs (70 %) and credit-limit conflicts (30 %)."""
    first_records = dict(SourceRecord.objects.filter(entity_type=entity, source_system=erp)
                         .values_list("golden_id", "id"))
    crm_records = dict(SourceRecord.objects.filter(entity_type=entity, source_system=crm)
                       .values_list("golden_id", "id"))
    names = dict(GoldenRecord.objects.filter(entity_type=entity).values_list("pk", "display_name"))
    objs = []
    for i in range(count):
        created = now - timedelta(minutes=rng.randrange(0, 14 * 24 * 60))
        if i % 10 < 7:
            a, b = rng.sample(golden_pks, 2)
            p = round(rng.uniform(0.55, 0.95), 3)
            # The ERP record of one and, where it has one (a fifth do), the CRM record of the other.
            ra, rb = first_records[a], crm_records.get(b, first_records[b])
            rb_source = crm if rb != first_records[b] else erp
            explanation = {"prior_weight": -4.2, "match_weight": round(rng.uniform(-1, 6), 2), "probability": p,
                           "comparisons": [
                               {"name": "name", "level": "fuzzy", "weight": round(rng.uniform(1, 6), 2),
                                "values": [names[a], names[b]]},
                               {"name": "city", "level": "exact", "weight": 1.9, "values": ["Austin", "Austin"]},
                               {"name": "phone", "level": "different", "weight": -2.5, "values": ["1", "2"]}]}
            objs.append(StewardTask(
                kind="possible_match", status="open", entity_type=entity, golden_id=a, other_golden_id=b,
                record_id=ra, other_record_id=rb, record_source=erp, other_record_source=rb_source,
                dedupe_key=f"bench_ui:pair:{i}",
                title=f"{names[a]} ~ {names[b]}", probability=p, priority=round(50 - abs(p - 0.75) * 100, 2),
                details={"probability": p, "records": [ra, rb], "explanation": explanation}, version=1,
                created_at=created, updated_at=created))
        else:
            g = rng.choice(golden_pks)
            values = [{"value": "10000.00", "source": "bench_ui_erp", "source_id": "x", "record_id": first_records[g],
                       "updated_at": None},
                      {"value": "25000.00", "source": "bench_ui_erp", "source_id": "y", "record_id": first_records[g],
                       "updated_at": None}]
            objs.append(StewardTask(
                kind="attribute_conflict", status="open", entity_type=entity, golden_id=g,
                dedupe_key=f"bench_ui:conflict:{i}", title=f"{names[g]}: sources disagree on credit_limit",
                priority=round(rng.uniform(50, 90), 2), details={"attribute": "credit_limit", "values": values},
                version=1, created_at=created, updated_at=created))
    bulk_insert(objs, ["kind", "status", "entity_type", "source_system", "golden", "other_golden", "record",
                       "other_record", "record_source", "other_record_source", "dedupe_key", "title", "probability",
                       "priority", "details", "version", "created_at", "updated_at", "resolution", "resolution_note"])


def _json(data) -> str:
    import json

    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def wipe() -> None:
    entity = EntityType.objects.filter(code=CODE).first()
    if entity is not None:
        scope = {"entity_type": entity}
        records = SourceRecord.objects.filter(**scope)
        for qs in (StewardTask.objects.filter(**scope), GoldenRecordVersion.objects.filter(golden__entity_type=entity),
                   SourceRecordVersion.objects.filter(record__in=records), records,
                   GoldenRecord.objects.filter(**scope), EntityConfigVersion.objects.filter(**scope)):
            qs._raw_delete(qs.db)
        entity.delete()
    SourceSystem.objects.filter(code__startswith="bench_ui_").delete()
    get_user_model().objects.filter(username=USER).delete()


# --- measuring ---------------------------------------------------------------------------


def _client() -> Client:
    user, _ = get_user_model().objects.get_or_create(username=USER)
    user.groups.add(Group.objects.get_or_create(name=STEWARDS)[0])
    host = (settings.ALLOWED_HOSTS or ["localhost"])[0]
    client = Client(HTTP_HOST="localhost" if host in ("*", "") else host.lstrip("."))
    client.force_login(user)
    return client


def _time(client: Client, urls: list[tuple[str, dict]], requests: int) -> dict:
    for url, headers in urls[:3]:  # warm caches, connections and compiled templates
        client.get(url, **headers)
    timings, queries = [], []
    for i in range(requests):
        url, headers = urls[i % len(urls)]
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url, **headers)
            timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        queries.append(len(captured.captured_queries))
    return {"p50": percentile(timings, 50), "p95": percentile(timings, 95), "max": max(timings),
            "queries": max(queries)}


def run(command, *, goldens, tasks, requests, keep, seed, **_):
    out = command.stdout.write
    out(f"Database: {database_label()}. Shared 2-core machine: other jobs may run alongside; figures vary.")
    if connection.vendor != "postgresql":
        out(command.style.WARNING("The 200 ms target is measured on PostgreSQL."))
    wipe()
    out(f"Creating {goldens:,} golden records and {tasks:,} open tasks (bulk)…")
    data = create(command, goldens, tasks, seed)
    out(f"  done in {data['seconds']:.1f} s; analyzing tables")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in (GoldenRecord, SourceRecord, StewardTask, GoldenRecordVersion):
                cursor.execute(f"ANALYZE {model._meta.db_table}")
    try:
        rng = random.Random(seed + 1)
        client = _client()
        total_open = StewardTask.objects.filter(status="open").count()
        sample = rng.sample(data["golden_pks"], min(requests, len(data["golden_pks"])))
        with_two = list(GoldenRecord.objects.filter(pk__in=data["golden_pks"][::5][:requests])
                        .values_list("golden_id", flat=True))
        golden_ids = list(GoldenRecord.objects.filter(pk__in=sample).values_list("golden_id", flat=True))
        task_ids = list(StewardTask.objects.filter(entity_type=data["entity"], kind="possible_match")
                        .order_by("?").values_list("pk", flat=True)[:requests])
        conflict_ids = list(StewardTask.objects.filter(entity_type=data["entity"], kind="attribute_conflict")
                            .order_by("?").values_list("pk", flat=True)[:requests])
        queue = reverse("stewardship:queue")
        pages = [
            ("queue, first page", [(queue, {})]),
            ("queue, possible matches, page 40", [(f"{queue}?kind=possible_match&page=40", {})]),
            ("queue, filtered by source and age (htmx fragment)",
             [(f"{queue}?source=bench_ui_crm&age=3-7d", {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "queue"}),
              (f"{queue}?source=bench_ui_erp&age=overdue", {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "queue"})]),
            ("golden record page (1 source record)",
             [(reverse("stewardship:golden", args=[g]), {}) for g in golden_ids]),
            ("golden record page (2 source records)",
             [(reverse("stewardship:golden", args=[g]), {}) for g in with_two]),
            ("match review (task page)", [(reverse("stewardship:task", args=[t]), {}) for t in task_ids]),
            ("conflict (task page)", [(reverse("stewardship:task", args=[t]), {}) for t in conflict_ids]),
            ("golden search by name", [(reverse("stewardship:golden_search") + "?q=Summit+Harbor", {})]),
            ("golden search by source ID", [(reverse("stewardship:golden_search") + f"?q=C{5 * i + 1}", {})
                                            for i in range(1, 20)]),
        ]
        out(f"\n{GoldenRecord.objects.filter(entity_type=data['entity']).count():,} golden records, "
            f"{total_open:,} open tasks in total; {requests} timed requests per page (after 3 warm-up)\n")
        out(f"{'page':52} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8}")
        worst = 0.0
        for label, urls in pages:
            figures = _time(client, urls, requests)
            worst = max(worst, figures["p95"]) if not label.startswith("golden search") else worst
            out(f"{label:52} {figures['p50']:8.1f} {figures['p95']:8.1f} {figures['max']:8.1f} "
                f"{figures['queries']:8d}")
        verdict = "meets" if worst <= TARGET_MS else "MISSES"
        out(f"\nQueue and golden-record pages: worst p95 {worst:.1f} ms, {verdict} the {TARGET_MS:.0f} ms target.")
    finally:
        if not keep:
            wipe()
            out("Benchmark data deleted (use --keep to keep it).")
