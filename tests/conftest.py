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
