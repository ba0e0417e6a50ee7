"""Matching through the hub: standardize (ingest), block, train, score, cluster, write; then incremental.

    python manage.py benchmark matching --records 100000 [--entity customer] [--incremental 200] [--keep] [--prices]
    python manage.py benchmark matching --incremental-only [--incremental 200] [--seed N]

Generates demo extracts, ingests them on benchmark-only copies of the demo
sources (matching deferred: that is the standardize stage), runs the batch
match, scores the cross-reference pairwise against the generator's ground
truth, then matches ``--incremental`` new records one at a time (copies of
existing ones under new IDs, as a CRM would create them) and reports the
latency percentiles. Use a database without other records of the entity type.
``--keep`` leaves the records there; ``--incremental-only`` then times
incremental matches again (after a code change, say) without reloading.
``--prices`` also loads the generated price records (about two per
customer) before the incremental matches, as in a hub in service: a
customer's match then re-resolves the prices that reference it.
"""
from __future__ import annotations

import csv
import gc
import json
import math
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from django.db import connection

from matching.evaluate import pairwise_scores
from mdm.benchmarks.common import (
    database_label,
    fresh_statistics,
    peak_of_process_tree,
    peak_rss_mib,
    percentile,
    start_worker,
)
from mdm.benchmarks.ingest import RECORDS_PER_CUSTOMER, _bench_mappings, _wipe
from mdm.demo import generator
from mdm.demo.load import load_configs
from mdm.models import (
    BlockingKey,
    ChangeEvent,
    EntityType,
    GoldenRecord,
    GoldenRecordVersion,
    GoldenRelationship,
    IngestBatch,
    MatchDecision,
    MatchModel,
    PriceKeyLock,
    PriceResolution,
    RejectedRecord,
    RuleChangeJob,
    SourceRecord,
    SourceRecordVersion,
    StewardTask,
)
from mdm.services.files import ingest_file
from mdm.services.golden import set_last_number
from mdm.services.ingest import ingest_payloads
from mdm.services.matching import match_all, match_pending_records


def add_arguments(parser):
    parser.add_argument("--records", type=int, default=100_000, help="source records (about)")
    parser.add_argument("--entity", default="customer", choices=["customer", "product"])
    parser.add_argument("--incremental", type=int, default=200, help="new records matched one at a time")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark records afterwards")
    parser.add_argument("--prices", action="store_true",
                        help="load the generated prices too (customers only), so incremental matches re-resolve them")
    parser.add_argument("--incremental-only", action="store_true",
                        help="only time incremental matches against the records a --keep run left")


def _reset(*entities: EntityType) -> None:
    """Delete the benchmark's records and golden records of ``entities``, in that order (prices
    before what they reference), then vacuum what was emptied, once."""
    for entity in entities:
        _wipe_entity(entity)
    fresh_statistics([SourceRecord, SourceRecordVersion, BlockingKey, RejectedRecord, IngestBatch, PriceResolution,
                      PriceKeyLock,
                      StewardTask, MatchDecision, ChangeEvent, GoldenRecordVersion, GoldenRelationship, GoldenRecord])


def _wipe_entity(entity: EntityType) -> None:
    PriceResolution.objects.filter(entity_type=entity)._raw_delete(connection.alias)
    PriceKeyLock.objects.filter(entity_type=entity)._raw_delete(connection.alias)
    StewardTask.objects.filter(entity_type=entity)._raw_delete(connection.alias)
    MatchDecision.objects.filter(entity_type=entity)._raw_delete(connection.alias)
    _wipe(entity.code)
    goldens = GoldenRecord.objects.filter(entity_type=entity)
    for qs in (ChangeEvent.objects.filter(entity_type=entity), GoldenRecordVersion.objects.filter(golden__in=goldens),
               GoldenRelationship.objects.filter(entity_type=entity)):
        qs._raw_delete(connection.alias)
    RuleChangeJob.objects.filter(entity_type=entity).delete()
    goldens.update(merged_into=None)
    goldens._raw_delete(connection.alias)
    MatchModel.objects.filter(entity_type=entity).delete()
    set_last_number(entity, 0)


def run(command, *, records, entity, incremental, seed, keep, incremental_only=False, prices=False, **_):
    out = command.stdout.write
    load_configs()
    entity_obj = EntityType.objects.get(code=entity)
    price_entity = EntityType.objects.get(code="price") if prices and entity == "customer" else None
    if incremental_only:
        # The new records are kept too: a later run adds its own on top.
        if not SourceRecord.objects.filter(entity_type=entity_obj, golden__isnull=False).exists():
            out(command.style.ERROR(f"No matched {entity} records here: run with --keep first."))
            return
        out(f"database: {database_label()}")
        _incremental(out, entity_obj, incremental or 200, seed)
        return
    if SourceRecord.objects.filter(entity_type=entity_obj).exclude(source_system__code__startswith="bench_").exists():
        out(command.style.ERROR(f"This database holds other {entity} records; use an empty database."))
        return
    # Prices first: their resolutions reference the customer records.
    resets = [e for e in (price_entity, entity_obj) if e is not None]
    _reset(*resets)
    folder = Path(tempfile.mkdtemp(prefix="mdm-bench-match-"))
    try:
        _batch(out, entity_obj, entity, records, seed, folder, with_prices=price_entity is not None)
        if price_entity is not None:
            _load_prices(out, price_entity, folder)
        if incremental:
            # The batch's millions of pairs and clusters are gone with its frame;
            # collect them now, so that they do not slow the incremental matches
            # (a Celery worker matching them has no such heap either).
            gc.collect()
            _incremental(out, entity_obj, incremental, seed)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if not keep:
            _reset(*resets)


def _batch(out, entity_obj: EntityType, entity: str, records: int, seed: int, folder: Path, *,
           with_prices: bool = False) -> None:
    """Generate, ingest, match and score against the ground truth."""
    customers = max(1, math.ceil(records / RECORDS_PER_CUSTOMER)) if entity == "customer" else 200
    products = None if entity == "customer" else max(50, int(records / 1.3))
    generator.generate(folder, customers=customers, products=products, prices=None if with_prices else 1, seed=seed)
    out(f"database: {database_label()}")

    t0 = time.perf_counter()
    for mapping in _bench_mappings(entity):
        ingest_file(path=folder / mapping.file_name, source=mapping.source_system, entity_type=entity_obj,
                    defer_match=True, submitted_by="benchmark")
    t_std = time.perf_counter() - t0
    n = SourceRecord.objects.filter(entity_type=entity_obj, deleted=False).count()
    out(f"standardize+store (ingest) {n:>9,} records {t_std:7.1f} s  {n / t_std:>9,.0f} records/s")

    truth = {}
    with open(folder / "ground_truth.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["entity_type"] == entity and row["source_id"]:
                truth[(f"bench_{row['source']}", row["source_id"])] = row["entity_key"]
    true_clusters: dict[str, list[int]] = {}
    for rid, source, source_id in SourceRecord.objects.filter(entity_type=entity_obj, deleted=False) \
            .values_list("id", "source_system__code", "source_id").iterator(chunk_size=20_000):
        true_clusters.setdefault(truth.get((source, source_id), f"?{rid}"), []).append(rid)
    truth_pairs = [(a, b) for members in true_clusters.values() for i, a in enumerate(members)
                   for b in members[i + 1:]]
    # Golden values of a big batch are computed by the background recompute
    # job: measure it the way it runs in production, on a real worker.
    worker = start_worker(2, out) if os.environ.get("REDIS_URL") else None
    t0 = time.perf_counter()
    stats = match_all(entity_obj, truth_pairs=truth_pairs)
    t_match = time.perf_counter() - t0
    eng = stats.engine
    rows = [
        ("load", stats.stages.get("load", 0), ""),
        ("block", eng["block"]["seconds"], f"{eng['block'].get('pairs', 0):,} candidate pairs, pair completeness "
                                           f"{eng['block'].get('pair_completeness', float('nan')):.4f}"),
        ("train", eng.get("train", {}).get("seconds", 0), f"u sample {eng.get('train', {}).get('u_pairs')}"),
        ("score", eng["score"]["seconds"], f"{eng['score']['pairs']:,} pairs, {eng['score'].get('pairs_per_second') or 0:,} pairs/s"),
        ("cluster", eng["cluster"]["seconds"], f"{eng['cluster']['clusters']:,} clusters"),
        ("write", stats.stages["write"], f"{stats.goldens_created:,} golden records, {stats.possible_tasks + stats.merge_tasks:,} tasks"),
    ]
    for name, seconds, note in rows:
        out(f"  {name:8} {seconds:7.1f} s  {note}")
    for step, seconds in stats.write_steps.items():
        out(f"    {step:38} {seconds:6.1f} s")
    out(f"match total {t_match:.1f} s (golden IDs, cross-reference, link decisions, tasks committed); "
        f"peak RSS {peak_rss_mib():.0f} MiB")
    try:
        if stats.recompute_job:
            job = _wait_for_job(stats.recompute_job, worker)
            seconds = (job.finished_at - job.started_at).total_seconds() if job.finished_at else float("nan")
            where = "2 worker processes" if worker else "in this process"
            out(f"golden values (survivorship, lineage, history, events, hierarchy) for {job.processed:,} "
                f"golden records: {seconds:.1f} s ({where}); job {job.status}"
                + (f"; worker peak RSS {', '.join(f'{k} {v:.0f} MiB' for k, v in peak_of_process_tree(worker.pid).items())}"
                   if worker else ""))
            out(f"match + golden values: {time.perf_counter() - t0:.1f} s")
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)

    predicted: dict[int, list[int]] = {}
    for rid, golden in SourceRecord.objects.filter(entity_type=entity_obj, deleted=False) \
            .values_list("id", "golden_id").iterator(chunk_size=20_000):
        predicted.setdefault(golden, []).append(rid)
    score = pairwise_scores(predicted.values(), truth_clusters=true_clusters.values())
    out(f"pairwise vs ground truth: precision {score['precision']:.4f}  recall {score['recall']:.4f}  "
        f"F1 {score['f1']:.4f}  (clusters that must match a cluster as a whole)")
    from mdm.services.matching import engine_for

    components = engine_for(entity_obj).connected_components(stats.result)
    cc = pairwise_scores(components, truth_clusters=true_clusters.values())
    out(f"  plain connected components of the same pairs: precision {cc['precision']:.4f}  "
        f"recall {cc['recall']:.4f}  F1 {cc['f1']:.4f}")
    _review_queue(out, entity_obj, true_clusters)


def _load_prices(out, price_entity: EntityType, folder: Path) -> None:
    """The generated price files on the benchmark sources, loaded as a source system sends them.

    Each ingested chunk enqueues its match task on commit, which resolves the
    chunk's references and groups it into golden prices: on a real Celery
    worker with two processes when ``REDIS_URL`` is set (as in production),
    in this process otherwise. Timed from the first row read until no price
    is pending. The products are not loaded: product references stay
    unresolved (with a data-quality note), which leaves every customer
    reference to resolve.
    """
    from mdm.celery import app as celery_app

    # Eager tasks (no broker, or the test suite's setting) run in the ingest's own commit.
    on_worker = bool(os.environ.get("REDIS_URL")) and not celery_app.conf.task_always_eager
    worker = start_worker(2, out) if on_worker else None
    pending = SourceRecord.objects.filter(entity_type=price_entity, needs_match=True)
    try:
        t0 = time.perf_counter()
        for mapping in _bench_mappings("price"):
            ingest_file(path=folder / mapping.file_name, source=mapping.source_system, entity_type=price_entity,
                        submitted_by="benchmark")
        t_ingest = time.perf_counter() - t0
        while pending.exists():
            if worker is not None and worker.poll() is not None:
                raise RuntimeError("the Celery worker died")
            time.sleep(0.2)
        t_total = time.perf_counter() - t0
        worker_peak = peak_of_process_tree(worker.pid) if worker is not None else {}
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
    n = SourceRecord.objects.filter(entity_type=price_entity, deleted=False).count()
    goldens = GoldenRecord.objects.filter(entity_type=price_entity, status=GoldenRecord.Status.ACTIVE).count()
    referenced = PriceResolution.objects.filter(entity_type=price_entity, customer_record__isnull=False).count()
    where = "2 worker processes" if worker is not None else "in this process"
    out(f"prices: {n:,} records ingested in {t_ingest:.1f} s; their match tasks ({where}) grouped them into "
        f"{goldens:,} golden prices, all resolved {t_total:.1f} s after the first row read "
        f"({n / t_total:,.0f} prices/s); {referenced:,} reference a customer record"
        + (f"; worker peak RSS {', '.join(f'{k} {v:.0f} MiB' for k, v in worker_peak.items())}"
           if worker_peak else ""))


def _review_queue(out, entity: EntityType, true_clusters: dict[str, list[int]]) -> None:
    """What the stewards' queue holds: how many of its match tasks are true duplicates."""
    key_of = {rid: key for key, members in true_clusters.items() for rid in members}
    tasks = list(StewardTask.objects.filter(entity_type=entity, status=StewardTask.Status.OPEN,
                                            kind__in=[StewardTask.Kind.POSSIBLE_MATCH, StewardTask.Kind.MERGE_PROPOSAL])
                 .values_list("record_id", "other_record_id"))
    # Records without ground truth have keys of their own ("?<id>"), so they never count as a pair.
    true = sum(1 for a, b in tasks if a in key_of and key_of.get(a) == key_of.get(b))
    share = true / len(tasks) if tasks else 0.0
    out(f"review queue: {len(tasks):,} match tasks, {true:,} of them true duplicates ({share:.1%})")


def _wait_for_job(job_id: int, worker):
    from mdm.services.rules import run_recompute_job

    if worker is None:
        run_recompute_job(job_id)
    while not (job := RuleChangeJob.objects.get(pk=job_id)).finished:
        if worker is not None and worker.poll() is not None:
            raise RuntimeError("the Celery worker died")
        time.sleep(0.2)
    return job


def _incremental(out, entity: EntityType, count: int, seed: int) -> None:
    """New records, one per task run, as they would arrive from a source system.

    Measured once the load has settled: right after a batch has rewritten
    millions of rows and the golden-values job has written a version, an
    event and an outbox row per golden record, autovacuum works through all
    of those tables for minutes, on the same two cores as the matches it
    would be timed with (it did, in a run that measured p95 63 ms against
    39 ms on the same records afterwards). A hub in service has long been
    vacuumed, so this first runs what autovacuum would: VACUUM ANALYZE of
    the whole database.
    """
    if connection.vendor == "postgresql":
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        out(f"settled: VACUUM ANALYZE of every table in {time.perf_counter() - started:.1f} s")
    rng = random.Random(seed)
    pool = list(SourceRecord.objects.filter(entity_type=entity, deleted=False)
                .values_list("id", flat=True)[:200_000])
    sample = SourceRecord.objects.filter(pk__in=rng.sample(pool, min(count, len(pool)))).select_related("source_system")
    latencies, joined = [], 0
    run = int(time.time())  # new IDs every run: an --incremental-only rerun must not resend old ones
    for record in sample:
        payload = json.loads(record.raw)
        mapping = record.source_system.mappings.get(entity_type=entity)
        payload[mapping.id_field] = f"NEW-{record.pk}-{run}"
        result = ingest_payloads(source=record.source_system, entity_type=entity, payloads=[payload],
                                 submitted_by="benchmark")  # on commit this enqueues; timed directly below
        new_id = result.outcomes[0].record_id
        if new_id is None:
            continue
        if not SourceRecord.objects.filter(pk=new_id, needs_match=True).exists():
            raise SystemExit("the ingest task matched the record already (tasks run in-process without "
                             "REDIS_URL): set REDIS_URL so that this benchmark times the match itself")
        t0 = time.perf_counter()
        match_pending_records(entity_type_id=entity.pk, record_ids=[new_id])
        latencies.append((time.perf_counter() - t0) * 1000)
        joined += SourceRecord.objects.filter(pk=new_id, golden_id=record.golden_id).exists()
    existing = SourceRecord.objects.filter(entity_type=entity, deleted=False).count()
    out(f"incremental: {len(latencies)} new records against {existing:,} existing: "
        f"p50 {percentile(latencies, 50):.1f} ms  p95 {percentile(latencies, 95):.1f} ms  "
        f"max {max(latencies):.1f} ms; {joined} joined the golden record of the record they copy")
