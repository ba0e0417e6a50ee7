"""Records arriving one at a time at a hub in service, against the same records in one batch: F1 and latency.

    python manage.py benchmark stream [--customers 20000] [--holdout 0.1] [--seed 5] [--keep]

Generates the demo's customer extracts and sets a random ``--holdout``
share of every source's rows aside. First the reference: every row loaded
in one batch (``ingest --defer-match``, then ``match``). Then, on an emptied
hub, the rest loaded the same way (the model trains on it), and the rows set
aside sent one by one in random order, each through ``ingest_payloads`` as
a REST call would, its match task run in this process as it commits
(incremental matching against everything there). Both are scored pairwise
against the generator's ground truth, over all pairs and over the pairs
that involve a record sent one by one: the second figure is what the
incremental path decided, beside what the batch decided for the same
records. Prints the per-record latency (ingest and match) too. Use a
database without other customer, product or price records.
"""
from __future__ import annotations

import csv
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

from matching.evaluate import pairwise_scores
from mdm.benchmarks.common import database_label, percentile
from mdm.benchmarks.firstload import ORDER, _truth, clusters
from mdm.benchmarks.ingest import _bench_mappings
from mdm.benchmarks.matching import _reset
from mdm.demo import generator
from mdm.demo.load import load_configs
from mdm.models import EntityType, SourceRecord, StewardTask
from mdm.readers import detect_encoding
from mdm.services.files import ingest_file
from mdm.services.ingest import ingest_payloads
from mdm.services.matching import match_all


def add_arguments(parser):
    parser.add_argument("--customers", type=int, default=20000, help="real companies the generator invents")
    parser.add_argument("--holdout", type=float, default=0.1, help="share of each source's rows sent one by one")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the streamed hub afterwards")


def run(command, *, customers, holdout, seed, keep, **_):
    from mdm.celery import app as celery_app

    out = command.stdout.write
    load_configs()
    entities = {code: EntityType.objects.get(code=code) for code in ORDER}
    entity = entities["customer"]
    others = SourceRecord.objects.filter(entity_type__code__in=ORDER).exclude(source_system__code__startswith="bench_")
    if others.exists():
        out(command.style.ERROR("This database holds other customer, product or price records: use an empty "
                                "database."))
        return
    _reset(*(entities[code] for code in reversed(ORDER)))
    folder = Path(tempfile.mkdtemp(prefix="mdm-bench-stream-"))
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True  # each streamed record's match task runs here, as it commits
    try:
        generator.generate(folder, customers=customers, products=10, prices=0, seed=seed)
        truth = _truth(folder)
        mappings = sorted(_bench_mappings("customer"), key=lambda m: m.source_system.code)
        rng = random.Random(seed)
        rest, held = {}, []
        for mapping in mappings:
            rest[mapping], rows = _split(folder / mapping.file_name, folder / "rest", holdout, rng)
            held += [(mapping, row) for row in rows]
        rng.shuffle(held)
        keys = {(m.source_system.code, str(row[m.id_field])) for m, row in held}
        total = sum(1 for key in truth if key[0] == "customer")
        out(f"database: {database_label()}; {total:,} customer rows, {len(held):,} of them "
            f"({holdout:.0%} of each source's) sent one by one")

        t0 = time.perf_counter()
        for mapping in mappings:
            _ingest(mapping, folder / mapping.file_name)
        match_all(entity)
        batch = _score(entity, truth, keys)
        out(f"batch, every row   {time.perf_counter() - t0:6.1f} s   {_line(batch)}")
        _reset(entity)

        t0 = time.perf_counter()
        for mapping in mappings:
            _ingest(mapping, rest[mapping])
        stats = match_all(entity)
        out(f"batch, the rest    {time.perf_counter() - t0:6.1f} s   model v{stats.model_version}")
        latencies = []
        for mapping, row in held:
            started = time.perf_counter()
            ingest_payloads(source=mapping.source_system, entity_type=entity, payloads=[row],
                            submitted_by="benchmark")
            latencies.append((time.perf_counter() - started) * 1000)
        left = SourceRecord.objects.filter(entity_type=entity, needs_match=True).count()
        streamed = _score(entity, truth, keys)
        out(f"then one by one    {sum(latencies) / 1000:6.1f} s   {_line(streamed)}")
        out(f"one by one: {len(latencies):,} records, ingest and match p50 {percentile(latencies, 50):.1f} ms  "
            f"p95 {percentile(latencies, 95):.1f} ms  max {max(latencies):.1f} ms; {left} left pending")
        out(f"pairs with a record sent one by one: F1 {streamed['held']['f1']:.4f} one by one, "
            f"{batch['held']['f1']:.4f} in the batch ({streamed['held']['fp']} false and {streamed['held']['fn']} "
            f"missed links against {batch['held']['fp']} and {batch['held']['fn']})")
    finally:
        celery_app.conf.task_always_eager = eager
        shutil.rmtree(folder, ignore_errors=True)
        if not keep:
            _reset(*(entities[code] for code in reversed(ORDER)))


def _split(path: Path, folder: Path, share: float, rng: random.Random) -> tuple[Path, list[dict]]:
    """Write the file's rows but a random ``share`` to ``folder``; returns that file and the rows set aside."""
    folder.mkdir(exist_ok=True)
    encoding = detect_encoding(path)
    target = folder / path.name
    held = []
    with open(path, encoding=encoding, newline="") as src, open(target, "w", encoding=encoding, newline="") as dst:
        if path.suffix == ".jsonl":
            for line in src:
                if line.strip() and rng.random() < share:
                    held.append(json.loads(line))
                else:
                    dst.write(line)
        else:
            reader = csv.DictReader(src)
            writer = csv.DictWriter(dst, fieldnames=reader.fieldnames)
            writer.writeheader()
            for row in reader:
                if rng.random() < share:
                    held.append(row)
                else:
                    writer.writerow(row)
    return target, held


def _ingest(mapping, path: Path) -> None:
    ingest_file(path=path, source=mapping.source_system, entity_type=mapping.entity_type, defer_match=True,
                submitted_by="benchmark")


def _score(entity: EntityType, truth: dict, keys: set[tuple[str, str]]) -> dict:
    """Pairwise scores over all pairs and over the pairs with a record of ``keys`` (sent one by one)."""
    held: set[int] = set()
    true_clusters, predicted, _ = clusters(
        entity, truth, lambda rid, source, source_id: held.add(rid) if (source, source_id) in keys else None)
    return {
        "all": pairwise_scores(predicted.values(), truth_clusters=true_clusters.values()),
        "held": pairwise_scores(predicted.values(), truth_clusters=true_clusters.values(), involving=held),
        "tasks": StewardTask.objects.filter(entity_type=entity, status=StewardTask.Status.OPEN,
                                            kind=StewardTask.Kind.POSSIBLE_MATCH).count(),
    }


def _line(scores: dict) -> str:
    a = scores["all"]
    return (f"precision {a['precision']:.4f}  recall {a['recall']:.4f}  F1 {a['f1']:.4f}; "
            f"{scores['tasks']:,} possible-match tasks")
