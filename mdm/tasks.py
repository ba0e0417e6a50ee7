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
    """Plan a rule-change recompute (a RuleChangeJob) and fan its slices out to the workers."""
    from django.db import transaction

    from mdm.services.rules import plan_job

    with transaction.atomic():
        slice_ids = plan_job(job_id) or []
        for slice_id in slice_ids:
            transaction.on_commit(lambda s=slice_id: recompute_slice.delay(s))
    return {"job": job_id, "slices": slice_ids}


@shared_task(acks_late=True, bind=True, max_retries=3, retry_backoff=True, retry_jitter=True)
def recompute_slice(self, slice_id: int) -> dict | None:
    """Recompute one slice of a rule-change job's golden records."""
    from mdm.services.rules import run_slice

    done = run_slice(slice_id)
    return None if done is None else {"slice": done.pk, "processed": done.processed, "status": done.status}
