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

    def issue(*scopes, source=None):
        scopes = list(scopes) + ([f"write:{source.code}"] if source else [])
        _, token = ApiClient.issue(name=f"client-{next(counter)}", scopes=scopes, source_system=source)
        return token

    return issue


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


# --- a real Celery worker -------------------------------------------------------

class CeleryWorkers:
    """Start real ``celery -A mdm worker`` processes on the test database and Redis.

    ``start(beat=False, env={...})`` returns the process; ``kill(proc)`` is
    kill -9 (a crash: nothing acknowledged, nothing cleaned up). Everything
    started is stopped when the test ends.
    """

    def __init__(self, tmp_path):
        import os
        import sys

        db = settings.DATABASES["default"]
        if "postgresql" not in db["ENGINE"]:
            pytest.skip("a real worker needs PostgreSQL (tools/with_services.py sets DATABASE_URL)")
        if not settings.REDIS_URL:
            pytest.skip("a real worker needs Redis (tools/with_services.py sets REDIS_URL)")
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        self.env = dict(
            os.environ,
            DATABASE_URL=f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            REDIS_URL=settings.REDIS_URL,
            DJANGO_SETTINGS_MODULE="mdm.settings",
            PYTHONPATH=str(settings.BASE_DIR) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        )
        self.python = sys.executable
        self.tmp_path = tmp_path
        self.procs = []
        self.count = 0

    def start(self, *, beat: bool = False, env: dict | None = None, wait: float = 60):
        import subprocess
        import time
        import uuid

        self.count += 1
        name = f"w{self.count}-{uuid.uuid4().hex[:6]}@test"
        args = [self.python, "-m", "celery", "-A", "mdm", "worker", "--pool=solo", "-Q", "mdm", "-l", "warning",
                "-n", name, "--without-gossip", "--without-mingle"]
        if beat:
            args += ["-B", "-s", str(self.tmp_path / f"beat-{self.count}")]
        log = open(self.tmp_path / f"worker-{self.count}.log", "w")
        proc = subprocess.Popen(args, env={**self.env, **(env or {})}, cwd=str(settings.BASE_DIR),
                                stdout=log, stderr=subprocess.STDOUT)
        proc.log_path = self.tmp_path / f"worker-{self.count}.log"
        self.procs.append(proc)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"celery worker exited with {proc.returncode}:\n{proc.log_path.read_text()}")
            replies = celery_app.control.ping(destination=[name], timeout=0.5)
            if replies:
                return proc
        raise RuntimeError(f"celery worker did not answer within {wait}s:\n{proc.log_path.read_text()}")

    def kill(self, proc) -> None:
        import signal

        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        import signal
        import subprocess

        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def logs(self) -> str:
        return "\n".join(p.log_path.read_text() for p in self.procs)


def _purge_queue() -> None:
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("mdm")


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """Real workers for this test: ``celery_worker_process.start(beat=True, env={...})``.

    Tasks go through Redis for the test (not eager); the workers use the
    test database, so the test needs committed data (``transactional_db``).
    """
    workers = CeleryWorkers(tmp_path)
    celery_app.conf.task_always_eager = False
    _purge_queue()
    try:
        yield workers
    finally:
        workers.stop_all()
        _purge_queue()
        celery_app.conf.task_always_eager = True
