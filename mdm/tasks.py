"""Celery tasks. They take ids, claim their work and call services."""
from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, bind=True, max_retries=5, retry_backoff=True, retry_jitter=True)
def match_records(self, entity_type_id: int, record_ids: list[int]) -> dict:
    """Match new and changed source records against everything already there."""
    from mdm.services.matching import match_pending_records

    return match_pending_records(entity_type_id=entity_type_id, record_ids=record_ids)


@shared_task(acks_late=True, bind=True, max_retries=3, retry_backoff=True, retry_jitter=True)
def recompute_entity(self, job_id: int) -> dict | None:
    """Recompute every golden record of an entity type after a rule change (a RuleChangeJob)."""
    from mdm.services.rules import run_recompute_job

    job = run_recompute_job(job_id)
    if job is None:
        return None
    return {"job": job.pk, "status": job.status, "processed": job.processed, "changed": job.changed}
