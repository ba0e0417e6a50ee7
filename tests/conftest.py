"""Shared fixtures. Tasks run in-process by default (Celery eager); tests that
need the real Redis broker and worker use the ``celery_worker_process`` fixture."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

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


class WorkerProcess:
    """A running ``celery -A mdm worker`` and the file its output goes to."""

    def __init__(self, proc: subprocess.Popen, log_path: Path, name: str):
        self.proc, self.log_path, self.name = proc, log_path, name

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.fail("the real Celery worker needs PostgreSQL: run the tests under tools/with_services.py")
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    # The test database (pytest-django's name for it), not the one in the environment.
    return f"postgres://{auth}@{host}{port}/{db['NAME']}"


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """A real Celery worker (its own process, ``--pool=solo -Q mdm``) on the real Redis broker.

    It works on the test database, so the test must commit what the worker
    should see (``transactional_db``). Tasks are sent, not run eagerly, for
    the duration of the test. Yields a ``WorkerProcess``; ``.log()`` shows
    the worker's output for assertion messages.
    """
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        pytest.fail("the real Celery worker needs Redis: run the tests under tools/with_services.py")
    celery_app.control.purge()  # nothing left over from an earlier test reaches this worker
    name = f"test-{uuid.uuid4().hex[:8]}@%h"
    log_path = tmp_path / "celery-worker.log"
    env = dict(os.environ, DATABASE_URL=_database_url(), REDIS_URL=redis_url, PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(settings.BASE_DIR), os.environ.get("PYTHONPATH")])))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "mdm", "worker", "--pool=solo", "-Q", "mdm", "-n", name,
             "--without-mingle", "--without-gossip", "-l", "INFO"],
            cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    worker = WorkerProcess(proc, log_path, name)
    try:
        deadline = time.monotonic() + 60
        while "ready." not in worker.log():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not start:\n{worker.log()}")
            time.sleep(0.1)
        celery_app.conf.task_always_eager = False
        yield worker
    finally:
        celery_app.conf.task_always_eager = True
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
