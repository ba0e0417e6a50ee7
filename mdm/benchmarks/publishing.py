"""Publishing throughput and commit-to-delivery latency through real Celery workers.

    python manage.py benchmark publishing [--rate 200] [--duration 20] [--subscribers 3]

Changes benchmark golden customers at ``--rate`` changes per second (batches
of ``--batch`` source-record updates, each batch one transaction through
``recompute``: outbox event + one delivery per subscriber, enqueued on
commit), with ``--subscribers`` webhook receivers on this machine and
Celery workers on the configured Redis. Reports commit-to-delivery latency
(commit instant to the receiver's arrival time), throughput, lost and
duplicate deliveries, and per-record ordering violations.
Target: 200 changes/s to three subscribers, p95 ≤ 1 s, nothing lost.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count

from mdm.benchmarks._bench_data import ENTITY, ensure_goldens
from mdm.benchmarks.api import database_url, free_port
from mdm.benchmarks.common import database_label, percentile
from mdm.celery import app as celery_app
from mdm.models import Delivery, GoldenRecord, Subscription
from mdm.services import golden as golden_service


def add_arguments(parser):
    parser.add_argument("--rate", type=float, default=200, help="golden-record changes per second")
    parser.add_argument("--duration", type=float, default=20, help="seconds of changes")
    parser.add_argument("--subscribers", type=int, default=3)
    parser.add_argument("--batch", type=int, default=20, help="changes per transaction (an ingest batch)")
    parser.add_argument("--goldens", type=int, default=20_000, help="records the changes are spread over")
    parser.add_argument("--producers", type=int, default=2, help="threads writing changes (like ingest workers)")
    parser.add_argument("--pool", default="threads", choices=["prefork", "threads", "solo"],
                        help="Celery pool: threads suit webhook delivery, which mostly waits on the network")
    parser.add_argument("--concurrency", type=int, default=6, help="worker threads (or processes for prefork)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for the last delivery")


def start_receiver(ports: list[int], out: Path):
    proc = subprocess.Popen([sys.executable, "-m", "mdm.benchmarks._receiver", "--ports", ",".join(map(str, ports)),
                             "--out", str(out)], cwd=str(settings.BASE_DIR), stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(settings.BASE_DIR)))
    if proc.stdout.readline().strip() != "ready":
        raise SystemExit("the webhook receiver did not start")
    return proc


def start_workers(pool: str, concurrency: int, log: Path):
    env = dict(os.environ, DATABASE_URL=database_url(), REDIS_URL=settings.REDIS_URL, CONN_MAX_AGE="600",
               LOG_LEVEL="WARNING", PYTHONPATH=str(settings.BASE_DIR))
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "mdm", "worker", "-P", pool, "-c", str(concurrency),
         "-l", "warning", "--without-gossip", "--without-mingle", "-n", f"bench-{os.getpid()}@%h"],
        cwd=str(settings.BASE_DIR), env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if celery_app.control.ping(destination=[f"bench-{os.getpid()}@{os.uname().nodename}"], timeout=0.5):
            return proc
        if proc.poll() is not None:
            raise SystemExit(f"celery worker exited: {log.read_text()[-2000:]}")
    raise SystemExit("celery worker did not answer within 60 s")


def run(command, *, rate, duration, subscribers, batch, goldens, pool, concurrency, timeout, producers, **_):
    out = command.stdout.write
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        raise SystemExit("benchmark publishing needs PostgreSQL and Redis: set DATABASE_URL and REDIS_URL")
    celery_app.conf.task_always_eager = False
    entity, _ = ensure_goldens(goldens, out)
    pool_pks = list(GoldenRecord.objects.filter(entity_type=entity).order_by("pk").values_list("pk", flat=True)
                    [:goldens])
    old = Subscription.objects.filter(name__startswith="bench-")
    Delivery.objects.filter(subscription__in=old)._raw_delete(Delivery.objects.db)
    old.delete()
    ports = [free_port() for _ in range(subscribers)]
    subs = [Subscription.objects.create(name=f"bench-{i + 1}", url=f"http://127.0.0.1:{port}/hook",
                                        entity_types=[ENTITY]) for i, port in enumerate(ports)]
    # Other active subscriptions that want benchmark events would be measured too: pause them.
    paused = list(Subscription.objects.filter(active=True).exclude(pk__in=[s.pk for s in subs])
                  .values_list("pk", flat=True))
    Subscription.objects.filter(pk__in=paused).update(active=False)
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("mdm")
    folder = Path(tempfile.mkdtemp(prefix="mdm-bench-publishing-"))
    receiver = start_receiver(ports, folder / "received.json")
    workers = start_workers(pool, concurrency, folder / "worker.log")
    committed: dict[tuple[str, int], float] = {}
    run_id = int(time.time())
    interval = batch / rate * producers
    started = time.perf_counter()
    ticks = int(rate * duration / batch / producers)
    shares = [pool_pks[i::producers] for i in range(producers)]  # disjoint: writers never wait on each other

    def produce(n: int):
        rng = random.Random(n)
        try:
            for tick in range(ticks):
                due = started + tick * interval + n * interval / producers
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                pks = rng.sample(shares[n], batch)
                marks: list[float] = []
                with transaction.atomic():
                    transaction.on_commit(lambda marks=marks: marks.append(time.time()))  # runs first: the commit instant
                    with connection.cursor() as cursor:
                        cursor.execute(
                            "UPDATE mdm_sourcerecord SET attributes = jsonb_set(attributes, '{email}', "
                            "to_jsonb(%s::text)) WHERE golden_id = ANY(%s)",
                            [f"ap{run_id}-{n}-{tick}@example.com", pks])  # new every run: every change is real
                    result = golden_service.recompute(entity, pks, reason="ingest", actor="benchmark")
                for golden in result.changed:
                    committed[(golden.golden_id, golden.version)] = marks[0]
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=produce, args=(n,)) for n in range(producers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        produced_in = time.perf_counter() - started
        expected = len(committed) * subscribers
        deadline = time.monotonic() + timeout
        delivered = 0
        while time.monotonic() < deadline:
            delivered = Delivery.objects.filter(subscription__in=subs, status=Delivery.Status.DELIVERED).count()
            if delivered >= expected:
                break
            time.sleep(0.5)
        drained_in = time.perf_counter() - started
    finally:
        workers.send_signal(signal.SIGTERM)
        receiver.send_signal(signal.SIGTERM)
        workers.wait(60)
        receiver.wait(30)
        Subscription.objects.filter(pk__in=paused).update(active=True)
    received = json.loads((folder / "received.json").read_text())
    port_sub = {port: sub.name for port, sub in zip(ports, subs)}
    first: dict[tuple, float] = {}
    ids: dict[str, int] = {}
    order: dict[tuple, list[int]] = {}
    for port, msg_id, golden_id, version, arrived in received:
        ids[msg_id] = ids.get(msg_id, 0) + 1
        first.setdefault((port_sub[port], golden_id, version), arrived)
        order.setdefault((port, golden_id), []).append(version)
    latencies = [(first[key] - committed[key[1:]]) * 1000 for key in first if key[1:] in committed]
    lost = expected - len(first)
    duplicates = sum(n - 1 for n in ids.values())
    out_of_order = sum(1 for versions in order.values() if versions != sorted(versions))
    statuses = dict(Delivery.objects.filter(subscription__in=subs).values_list("status").annotate(
        n=Count("id")))
    out(f"\nPublishing on {database_label()} + Redis, {pool} workers × {concurrency}, {subscribers} local "
        f"receivers, {os.cpu_count()} CPU(s) shared by producer, workers, receivers and databases")
    out(f"changes committed   {len(committed):,} in {produced_in:.1f} s = {len(committed) / produced_in:.0f}/s "
        f"(asked {rate:.0f}/s, {batch} per transaction, {producers} writers)")
    out(f"deliveries expected {expected:,}; delivered {delivered:,}; all drained after {drained_in:.1f} s "
        f"({delivered / drained_in:.0f} deliveries/s)")
    out(f"commit → delivery   p50 {percentile(latencies, 50):.0f} ms   p95 {percentile(latencies, 95):.0f} ms   "
        f"p99 {percentile(latencies, 99):.0f} ms   max {max(latencies, default=0):.0f} ms   "
        f"(target p95 ≤ 1000 ms: {'met' if percentile(latencies, 95) <= 1000 else 'MISSED'})")
    out(f"lost {lost}   duplicates {duplicates}   records out of order {out_of_order}   "
        f"delivery rows by status {statuses}")
