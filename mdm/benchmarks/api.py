"""REST API latency under load: one golden record and a page of 100, from gunicorn.

    python manage.py benchmark api [--records 1000000] [--duration 20] [--connections 4]

Loads ``--records`` benchmark golden customers with COPY (kept for the next
run; ``--drop`` removes them), starts gunicorn on the configured PostgreSQL,
and drives it with wrk (Debian package ``wrk``; a Python client when wrk is
missing) with a valid token: GET /api/v1/bench_customer/golden/{random id}
and GET /api/v1/bench_customer/golden?limit=100&cursor={random position}.
Targets: one record p95 ≤ 20 ms, a page of 100 p95 ≤ 60 ms.
"""
from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection

from mdm.api.common import KeysetPage
from mdm.benchmarks._bench_data import ENTITY, bench_token, drop_bench_data, ensure_goldens
from mdm.benchmarks.common import database_label, percentile


def add_arguments(parser):
    parser.add_argument("--records", type=int, default=1_000_000, help="golden customers in the database")
    parser.add_argument("--duration", type=int, default=20, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=4, help="concurrent keep-alive connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--drop", action="store_true", help="remove the benchmark data and stop")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_gunicorn(workers: int, extra_env: dict | None = None):
    port = free_port()
    env = dict(os.environ, DATABASE_URL=database_url(), CONN_MAX_AGE="600", MDM_API_THROTTLE="100000000/min",
               LOG_LEVEL="WARNING", DEBUG="0", PYTHONPATH=str(settings.BASE_DIR), **(extra_env or {}))
    log = tempfile.NamedTemporaryFile(prefix="mdm-gunicorn-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "mdm.wsgi:application", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--worker-class", "sync", "--keep-alive", "30", "--log-level", "warning"],
        cwd=str(settings.BASE_DIR), env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited: {Path(log.name).read_text()[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}"
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("gunicorn did not start listening within 30 s")


WRK_SCRIPT = """
local paths = {%(paths)s}
wrk.headers["Authorization"] = "Bearer %(token)s"
wrk.headers["Accept"] = "application/json"
math.randomseed(%(seed)d)
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
done = function(summary, latency, requests)
  io.write(string.format('{"requests": %%d, "seconds": %%f, "non2xx": %%d, "errors": %%d, '
    .. '"p50": %%f, "p95": %%f, "p99": %%f, "max": %%f}\\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def run_wrk(base: str, token: str, paths: list[str], duration: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"paths": ", ".join(json.dumps(p) for p in paths), "token": token,
                                   "seed": random.randrange(1 << 30)})
    result = subprocess.run(["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{duration}s",
                             "--timeout", "5s", "-s", script.name, base], capture_output=True, text=True)
    os.unlink(script.name)
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("{")]
    if not line:
        raise SystemExit(f"wrk failed: {result.stdout}\n{result.stderr}")
    return json.loads(line[-1])


def run_python(base: str, token: str, paths: list[str], duration: int, connections: int) -> dict:
    """Keep-alive connections in threads; less precise than wrk (the client shares the GIL)."""
    host = urlsplit(base)
    latencies: list[float] = []
    counts = {"non2xx": 0, "errors": 0}
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def worker():
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=5)
        mine, rng = [], random.Random()
        while time.monotonic() < stop_at:
            start = time.perf_counter()
            try:
                conn.request("GET", rng.choice(paths), headers={"Authorization": f"Bearer {token}"})
                response = conn.getresponse()
                response.read()
                mine.append((time.perf_counter() - start) * 1000)
                if response.status >= 300:
                    with lock:
                        counts["non2xx"] += 1
            except OSError:
                with lock:
                    counts["errors"] += 1
                conn = http.client.HTTPConnection(host.hostname, host.port, timeout=5)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"requests": len(latencies), "seconds": duration, **counts, "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95), "p99": percentile(latencies, 99), "max": max(latencies, default=0)}


def run(command, *, records, duration, connections, workers, client, drop, **_):
    out = command.stdout.write
    if drop:
        drop_bench_data(out)
        return
    if connection.vendor != "postgresql":
        raise SystemExit("benchmark api measures PostgreSQL: set DATABASE_URL")
    ensure_goldens(records, out)
    token = bench_token("bench-api", [f"read:{ENTITY}"])
    use_wrk = client == "wrk" or (client == "auto" and shutil.which("wrk"))
    load = run_wrk if use_wrk else run_python
    rng = random.Random(6)
    detail_paths = [f"/api/v1/{ENTITY}/golden/BCU-{rng.randint(1, records):06d}" for _ in range(5000)]
    base_time = datetime(2025, 1, 1, tzinfo=UTC)
    # Cursors at random depths: the keyset makes page 10,000 cost what page 1 does.
    page_paths = [f"/api/v1/{ENTITY}/golden?limit=100"] + [
        f"/api/v1/{ENTITY}/golden?limit=100&cursor="
        + KeysetPage.encode(base_time + timedelta(milliseconds=i * 7), 0)
        for i in (rng.randint(1, max(1, records - 100)) for _ in range(2000))
    ]
    proc, base = start_gunicorn(workers)
    try:
        for path in (detail_paths[:50] + page_paths[:20]):  # warm up connections and caches
            _get(base, token, path)
        status = _get(base, token, detail_paths[0])
        if status != 200:
            raise SystemExit(f"GET {detail_paths[0]} answered {status}")
        results = {
            "GET one golden record": load(base, token, detail_paths, duration, connections),
            "GET a page of 100": load(base, token, page_paths, duration, connections),
        }
    finally:
        proc.terminate()
        proc.wait(15)
    targets = {"GET one golden record": 20, "GET a page of 100": 60}
    out(f"\nREST API on {database_label()}, {records:,} golden customers, gunicorn {workers} sync workers, "
        f"{'wrk' if use_wrk else 'python client'} with {connections} connections, {duration} s each, "
        f"{os.cpu_count()} CPU(s) shared with the load generator")
    out(f"{'scenario':<24}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'non-2xx':>9}  target")
    for name, r in results.items():
        ok = "met" if r["p95"] <= targets[name] else "MISSED"
        out(f"{name:<24}{r['requests'] / r['seconds']:>9.0f}{r['p50']:>9.1f}{r['p95']:>9.1f}{r['p99']:>9.1f}"
            f"{r['max']:>9.1f}{r['non2xx'] + r['errors']:>9}  p95 ≤ {targets[name]} ms: {ok}")


def _get(base: str, token: str, path: str) -> int:
    host = urlsplit(base)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status
