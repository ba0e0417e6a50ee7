"""Celery tasks. They take ids, claim their work and call services."""
from __future__ import annotations

from celery import shared_task
from django.db import OperationalError


# A deadlock or a dropped connection rolls the claim back: the records are still
# pending, so trying again is safe.
@shared_task(acks_late=True, bind=True, autoretry_for=(OperationalError,), max_retries=5, retry_backoff=True,
             retry_jitter=True)
def match_records(self, entity_type_id: int, record_ids: list[int]) -> dict:
    """Match new and changed source records against everything already there."""
    from mdm.services.matching import match_pending_records

    return match_pending_records(entity_type_id=entity_type_id, record_ids=record_ids)


@shared_task(name="mdm.tasks.sweep_pending_matches", ignore_result=True)
def sweep_pending_matches() -> dict:
    """Celery beat: enqueue matching again for records whose match task was lost."""
    from mdm.services.matching import sweep_pending_matches as sweep

    return sweep()


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


@shared_task(acks_late=True, name="mdm.tasks.deliver", ignore_result=True)
def deliver(delivery_id: int) -> str:
    """Send one webhook delivery; the service claims it, so duplicates of this task are harmless."""
    from mdm.services.publishing import deliver as deliver_one

    return deliver_one(delivery_id)


@shared_task(acks_late=True, name="mdm.tasks.deliver_many", ignore_result=True)
def deliver_many(delivery_ids: list[int]) -> dict:
    """Send a small batch of deliveries (one subscription's share of a change): claimed in one
    statement, POSTed one by one, their outcomes written in one statement."""
    from mdm.services.publishing import deliver_many as deliver_all

    return deliver_all(delivery_ids)


@shared_task(name="mdm.tasks.sweep_deliveries", ignore_result=True)
def sweep_deliveries() -> dict:
    """Celery beat: re-enqueue deliveries left behind by a dead worker or a lost message."""
    from dataclasses import asdict

    from mdm.services.publishing import sweep

    return asdict(sweep())
