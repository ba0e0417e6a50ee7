"""Celery tasks of the steward UI. They take ids, claim their work and call services."""
from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def ingest_upload(upload_id: int) -> str:
    """Ingest a file a steward uploaded (claimed, so a redelivery does nothing)."""
    from stewardship.services import run_upload

    return run_upload(upload_id)
