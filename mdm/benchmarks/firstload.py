"""A first load sent through the match tasks, as source systems fill a new hub: time and F1.

    python manage.py benchmark firstload [--customers 5000] [--products 2000] [--processes 2] [--seed 5]
    python manage.py benchmark firstload --batch | --one-by-one …

Generates the demo extracts (customers, products and their prices), then
ingests them file by file on benchmark-only copies of the demo sources
(customers, then products, then prices, as ``make run`` loads them) with no
model and no ``match`` run first: each ingested chunk enqueues its match
task on commit, the first task trains on what has arrived, later ones retrain
when they find a source with twice the records the model was trained on (a
source it never saw first of all; ``training_due``). The tasks run on a
real Celery worker with ``--processes`` processes when ``REDIS_URL`` is set,
in this process otherwise. Timed from the first row read until no record is
pending and the golden values are written; then the cross-reference of
customers and products is scored pairwise against the generator's ground
truth, with what else a steward would find (models trained, open tasks,
golden records left without members).

``--batch`` loads the same files with ``ingest --defer-match``, then
``match`` of each entity type, for comparison. ``--one-by-one`` sends each
file once the one before it is matched, as sources are onboarded one after
another. Use a database without other customer, product or price records.
"""
from __future__ import annotations

import csv
import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

from django.db.models import Count, Q

from matching.evaluate import pairwise_scores
from mdm.benchmarks.common import database_label, peak_of_process_tree, start_worker
from mdm.benchmarks.ingest import _bench_mappings
from mdm.benchmarks.matching import _reset
from mdm.demo import generator
from mdm.demo.load import load_configs
from mdm.models import (
    EntityType,
    GoldenRecord,
    MatchModel,
    RuleChangeJob,
    SourceRecord,
    StewardTask,
)
from mdm.services.files import ingest_file
from mdm.services.matching import match_all

ORDER = ("customer", "product", "price")  # prices reference customers and products


def add_arguments(parser):
    parser.add_argument("--customers", type=int, default=5000, help="real companies the generator invents")
    parser.add_argument("--products", type=int, default=2000, help="real items the generator invents")
    parser.add_argument("--processes", type=int, default=2, help="worker processes (with REDIS_URL)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--batch", action="store_true",
                        help="ingest with matching deferred, then match each entity type (the comparison)")
    parser.add_argument("--one-by-one", action="store_true",
                        help="send each file only once the previous one is matched (sources onboarded one at a time)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark records afterwards")


def run(command, *, customers, products, processes, seed, batch, keep, one_by_one=False, **_):
    out = command.stdout.write
    load_configs()
    entities = {code: EntityType.objects.get(code=code) for code in ORDER}
    others = SourceRecord.objects.filter(entity_type__code__in=ORDER).exclude(source_system__code__startswith="bench_")
    if others.exists():
        out(command.style.ERROR("This database holds other customer, product or price records: a first load "
                                "needs an empty hub. Use an empty database."))
        return
    _reset(*(entities[code] for code in reversed(ORDER)))  # prices first: they reference the others' records
    folder = Path(tempfile.mkdtemp(prefix="mdm-bench-firstload-"))
    worker = None
    try:
        summary = generator.generate(folder, customers=customers, products=products, seed=seed)
        rows = Counter()
        for spec in summary.files:
            rows[spec.entity] += spec.rows
        out(f"database: {database_label()}; extracts: " + ", ".join(f"{rows[c]:,} {c} rows" for c in ORDER))
        from mdm.celery import app as celery_app

        on_worker = bool(os.environ.get("REDIS_URL")) and not celery_app.conf.task_always_eager
        if on_worker:  # with --batch, for the golden-values jobs, as in production
            worker = start_worker(processes, out)
        t0 = time.perf_counter()
        settle = (lambda: _wait_until_settled(entities.values(), worker, run_jobs_here=worker is None)) \
            if one_by_one and not batch else None
        ingested = _load(out, entities, folder, batch=batch, t0=t0, settle=settle)
        if batch:
            for code in ORDER:
                stats = match_all(entities[code])
                out(f"  match {code:8} done at {time.perf_counter() - t0:6.1f} s  ({stats.summary()})")
        _wait_until_settled(entities.values(), worker, run_jobs_here=worker is None)
        seconds = time.perf_counter() - t0
        where = ("ingest --defer-match, then match" if batch else
                 f"match tasks on {processes} worker processes" if worker else "match tasks in this process")
        if one_by_one and not batch:
            where += ", each file sent once the one before was matched"
        out(f"all {ingested:,} rows matched and golden values written {seconds:.1f} s after the first "
            f"row read ({where})"
            + (f"; worker peak RSS {', '.join(f'{k} {v:.0f} MiB' for k, v in peak_of_process_tree(worker.pid).items())}"
               if worker else ""))
        jobs = RuleChangeJob.objects.filter(entity_type__in=list(entities.values()))
        failed = list(jobs.filter(status=RuleChangeJob.Status.FAILED).values_list("pk", "error"))
        out(f"golden-values jobs: {jobs.filter(status=RuleChangeJob.Status.COMPLETED).count()} completed, "
            f"{len(failed)} failed" + "".join(f"; job {pk}: {error}" for pk, error in failed)
            if jobs.exists() else "golden-values jobs: none (small runs write golden values in their own transaction)")
        truth = _truth(folder)
        for code in ("customer", "product"):
            _score(out, entities[code], truth)
        _report_prices(out, entities["price"])
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        shutil.rmtree(folder, ignore_errors=True)
        if not keep:
            _reset(*(entities[code] for code in reversed(ORDER)))


def _load(out, entities: dict[str, EntityType], folder: Path, *, batch: bool, t0: float, settle) -> int:
    """Ingest every extract in order; ``settle`` (when given) runs after each file. Returns rows read."""
    total = 0
    for code in ORDER:
        for mapping in sorted(_bench_mappings(code), key=lambda m: m.source_system.code):
            result = ingest_file(path=folder / mapping.file_name, source=mapping.source_system,
                                 entity_type=entities[code], defer_match=batch, submitted_by="benchmark")
            out(f"  ingested {mapping.file_name:28} {result.batch.rows_total:>8,} rows at "
                f"{time.perf_counter() - t0:6.1f} s")
            total += result.batch.rows_total
            if settle is not None:
                settle()
                out(f"    matched at {time.perf_counter() - t0:6.1f} s")
    return total


def _wait_until_settled(entities, worker, *, run_jobs_here: bool) -> None:
    """Until no record is pending and every golden-values job has finished."""
    from mdm.services.rules import run_recompute_job

    pending = SourceRecord.objects.filter(entity_type__in=list(entities), needs_match=True)
    jobs = RuleChangeJob.objects.filter(entity_type__in=list(entities)).exclude(
        status__in=[RuleChangeJob.Status.COMPLETED, RuleChangeJob.Status.FAILED, RuleChangeJob.Status.SUPERSEDED])
    while pending.exists() or jobs.exists():
        if worker is not None and worker.poll() is not None:
            raise RuntimeError("the Celery worker died")
        if run_jobs_here and not pending.exists():
            for job_id in jobs.values_list("pk", flat=True):
                run_recompute_job(job_id)
        time.sleep(0.2)


def _truth(folder: Path) -> dict[tuple[str, str, str], str]:
    truth = {}
    with open(folder / "ground_truth.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["source_id"]:
                truth[(row["entity_type"], f"bench_{row['source']}", row["source_id"])] = row["entity_key"]
    return truth


def clusters(entity: EntityType, truth: dict, on_record=None) -> tuple[dict, dict, int]:
    """(true clusters, predicted clusters, records in no golden record) of the entity's live records;
    ``on_record(id, source, source_id)`` sees each one."""
    true_clusters: dict[str, list[int]] = {}
    predicted: dict[int | None, list[int]] = {}
    unmatched = 0
    for rid, source, source_id, golden in SourceRecord.objects.filter(entity_type=entity, deleted=False) \
            .values_list("id", "source_system__code", "source_id", "golden_id").iterator(chunk_size=20_000):
        true_clusters.setdefault(truth.get((entity.code, source, source_id), f"?{rid}"), []).append(rid)
        if golden is None:
            unmatched += 1
            golden = -rid  # a record in no golden record is alone
        predicted.setdefault(golden, []).append(rid)
        if on_record is not None:
            on_record(rid, source, source_id)
    return true_clusters, predicted, unmatched


def _score(out, entity: EntityType, truth: dict) -> None:
    true_clusters, predicted, unmatched = clusters(entity, truth)
    score = pairwise_scores(predicted.values(), truth_clusters=true_clusters.values())
    goldens = GoldenRecord.objects.filter(entity_type=entity, status=GoldenRecord.Status.ACTIVE)
    empty = goldens.annotate(live=Count("members", filter=Q(members__deleted=False))).filter(live=0).count()
    models = MatchModel.objects.filter(entity_type=entity).count()
    tasks = Counter(StewardTask.objects.filter(entity_type=entity, status=StewardTask.Status.OPEN)
                    .values_list("kind", flat=True))
    out(f"{entity.code:8} pairwise vs ground truth: precision {score['precision']:.4f}  recall "
        f"{score['recall']:.4f}  F1 {score['f1']:.4f}; {goldens.count():,} golden records ({empty} without "
        f"members), {unmatched} records in none, {models} model(s) trained; open tasks: "
        + (", ".join(f"{n:,} {kind}" for kind, n in sorted(tasks.items())) or "none"))


def _report_prices(out, entity: EntityType) -> None:
    records = SourceRecord.objects.filter(entity_type=entity, deleted=False)
    goldens = GoldenRecord.objects.filter(entity_type=entity, status=GoldenRecord.Status.ACTIVE).count()
    out(f"price    {records.count():,} records in {goldens:,} golden prices, {records.filter(golden__isnull=True).count():,} "
        f"in none; open price-conflict tasks: "
        f"{StewardTask.objects.filter(entity_type=entity, status=StewardTask.Status.OPEN).count():,}")
