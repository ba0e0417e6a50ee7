from __future__ import annotations

import os
import resource
import time
from contextlib import contextmanager

from django.db import connection

from mdm.db import table


def peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / (1024 * 1024)


def database_label() -> str:
    vendor = connection.vendor
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
    return vendor


@contextmanager
def stopwatch():
    box = {}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - start


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[rank]


def peak_of_process_tree(root: int) -> dict[str, float]:
    """Peak resident memory (VmHWM) of a process and its children, from /proc (Linux)."""
    from pathlib import Path

    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += [child for child, parent in parents.items() if parent == pid]
    peaks = {}
    for index, pid in enumerate(tree):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks["main" if index == 0 else f"child {index}"] = int(line.split()[1]) / 1024
        except OSError:
            continue
    return peaks


def start_worker(processes: int, out):
    """A real Celery worker on the configured broker and database (prefork, one process per slice)."""
    import subprocess
    import sys

    from django.conf import settings

    from mdm.celery import app

    app.conf.task_always_eager = False
    app.control.purge()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "mdm", "worker", "-P", "prefork", "-c", str(processes),
         "-l", "WARNING", "--without-mingle", "--without-gossip", "-n", f"bench-{os.getpid()}@%h"],
        cwd=settings.BASE_DIR,
        env=dict(os.environ, PYTHONPATH=str(settings.BASE_DIR), MDM_RECOMPUTE_SLICES=str(processes)),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=0.5)
        if any(f"bench-{os.getpid()}@" in name for reply in replies for name in reply):
            out(f"worker ready ({processes} processes)")
            return worker
    worker.terminate()
    raise RuntimeError("the Celery worker did not start within 60 s")


def fresh_statistics(models) -> None:
    """VACUUM ANALYZE the tables a benchmark has just emptied, so that it starts on a hub as fresh as a new one.

    Left alone, autovacuum analyzes a wiped table while its pages are still
    there, full of dead rows: PostgreSQL then takes it for a table of empty
    pages, estimates one row however many are loaded next, and until its
    next round (a minute or more) plans joins as nested loops over the whole
    table: a price look-up of 1,000 records took 20 s instead of a few
    milliseconds, one run in four. Vacuumed, the empty table has no pages,
    and the planner sizes it by the pages it grows, as it sizes a new hub's.
    (A hub in service never empties its tables: records are kept forever.)
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM ANALYZE {table(model)}")
