"""Shared fixtures. Tasks run in-process by default (Celery eager); tests that
need the real Redis broker and worker use the ``celery_worker_process`` fixture."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from mdm.celery import app as celery_app

ENTITY_DIR = Path(settings.BASE_DIR) / "mdm" / "config" / "entities"
SHARED = Path(settings.BASE_DIR).parent / "shared" / "benchmarks"


@pytest.fixture(autouse=True)
def fresh_entity_cache():
    """A test's rolled-back entity types must not linger in the per-process cache."""
    from mdm import entity_cache

    entity_cache.clear()
    yield
    entity_cache.clear()


@pytest.fixture(autouse=True)
def celery_in_process():
    """Run tasks eagerly unless a test asks for the real worker."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def entity_types(db):
    from mdm.services.entity_config import save_entity_config

    loaded = {}
    for code in ("customer", "product", "price"):
        entity, _, _ = save_entity_config((ENTITY_DIR / f"{code}.yaml").read_text(), filename=f"{code}.yaml")
        loaded[code] = entity
    return loaded


@pytest.fixture
def customer_type(entity_types):
    return entity_types["customer"]


@pytest.fixture
def product_type(entity_types):
    return entity_types["product"]


@pytest.fixture
def sources(db):
    from mdm.services.sources import add_source

    return {
        code: add_source(code=code, name=name, kind=kind)[0]
        for code, name, kind in [
            ("erp", "ERP", "erp"), ("crm", "CRM", "crm"), ("ecom", "Web shop", "ecommerce"), ("wms", "Warehouse", "wms"),
        ]
    }


@pytest.fixture
def erp(sources):
    return sources["erp"]


@pytest.fixture
def crm(sources):
    return sources["crm"]


@pytest.fixture
def api_token(db):
    """Issue a token: ``api_token("write:crm", "read:customer")``."""
    from mdm.models import ApiClient

    counter = iter(range(10_000))

    def issue(*scopes, source=None, acts_for=None):
        scopes = list(scopes) + ([f"write:{source.code}"] if source else [])
        _, token = ApiClient.issue(name=f"client-{next(counter)}", scopes=scopes, source_system=source,
                                   acts_for=acts_for)
        return token

    return issue


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


# --- a real Celery worker -------------------------------------------------------

class WorkerProcess:
    """A running ``celery -A mdm worker`` and the file its output goes to."""

    def __init__(self, proc, log_path: Path, name: str):
        self.proc, self.log_path, self.name = proc, log_path, name

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


class CeleryWorkers:
    """Start real ``celery -A mdm worker --pool=solo`` processes (both queues) on the test database and Redis.

    ``start(beat=False, env={...})`` returns a ``WorkerProcess``; ``kill(worker)``
    is kill -9 (a crash: nothing acknowledged, nothing cleaned up). Everything
    started is stopped when the test ends.
    """

    def __init__(self, tmp_path):
        import os
        import sys
        from urllib.parse import quote

        db = settings.DATABASES["default"]
        if "postgresql" not in db["ENGINE"]:
            pytest.fail("the real Celery worker needs PostgreSQL: run the tests under tools/with_services.py")
        if not settings.REDIS_URL:
            pytest.fail("the real Celery worker needs Redis: run the tests under tools/with_services.py")
        auth = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else "")
        port = f":{db['PORT']}" if db.get("PORT") else ""
        self.env = dict(
            os.environ,
            # The test database (pytest-django's name for it), not the one in the environment.
            DATABASE_URL=f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}{port}/{db['NAME']}",
            REDIS_URL=settings.REDIS_URL,
            DJANGO_SETTINGS_MODULE="mdm.settings",
            PYTHONUNBUFFERED="1",
            PYTHONPATH=os.pathsep.join(filter(None, [str(settings.BASE_DIR), os.environ.get("PYTHONPATH")])),
        )
        self.python = sys.executable
        self.tmp_path = tmp_path
        self.workers: list[WorkerProcess] = []

    def start(self, *, beat: bool = False, env: dict | None = None, wait: float = 60) -> WorkerProcess:
        import subprocess
        import time
        import uuid

        n = len(self.workers) + 1
        name = f"test-{uuid.uuid4().hex[:8]}@test"
        args = [self.python, "-m", "celery", "-A", "mdm", "worker", "--pool=solo", "-l", "INFO",
                "-n", name, "--without-gossip", "--without-mingle"]
        if beat:
            args += ["-B", "-s", str(self.tmp_path / f"beat-{n}")]
        log_path = self.tmp_path / f"celery-worker-{n}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(args, env={**self.env, **(env or {})}, cwd=str(settings.BASE_DIR),
                                    stdout=log, stderr=subprocess.STDOUT)
        worker = WorkerProcess(proc, log_path, name)
        self.workers.append(worker)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"the Celery worker exited with {proc.returncode}:\n{worker.log()}")
            if celery_app.control.ping(destination=[name], timeout=0.5):
                return worker
        pytest.fail(f"the Celery worker did not answer within {wait}s:\n{worker.log()}")

    def kill(self, worker: WorkerProcess) -> None:
        import signal

        worker.proc.send_signal(signal.SIGKILL)
        worker.proc.wait(10)

    def stop_all(self) -> None:
        import signal
        import subprocess

        for worker in self.workers:
            if worker.proc.poll() is None:
                worker.proc.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.proc.wait(15)
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                worker.proc.wait(5)

    def logs(self) -> str:
        return "\n".join(w.log() for w in self.workers)


def _purge_queue() -> None:
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("mdm")


@pytest.fixture
def celery_workers(transactional_db, tmp_path):
    """Real workers started on demand: ``celery_workers.start(beat=True, env={...})``, ``.kill(worker)``.

    Tasks are sent through Redis (not run eagerly) for the test; the workers
    use the test database, so the test must commit what they should see
    (``transactional_db``).
    """
    workers = CeleryWorkers(tmp_path)
    _purge_queue()  # nothing left over from an earlier test reaches these workers
    celery_app.conf.task_always_eager = False
    try:
        yield workers
    finally:
        workers.stop_all()
        celery_app.conf.task_always_eager = True
        _purge_queue()


@pytest.fixture
def celery_worker_process(celery_workers):
    """One real worker (``--pool=solo``), started; ``.log()`` shows its output."""
    return celery_workers.start()
