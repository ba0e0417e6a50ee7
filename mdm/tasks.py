"""Celery tasks. They take ids, claim their work and call services."""
from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, bind=True, max_retries=5, retry_backoff=True, retry_jitter=True)
def match_records(self, entity_type_id: int, record_ids: list[int]) -> dict:
    """Match new and changed source records against everything already there."""
    from mdm.services.matching import match_pending_records

    return match_pending_records(entity_type_id=entity_type_id, record_ids=record_ids)
