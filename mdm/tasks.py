"""Celery tasks. They take ids, claim their work and call services."""
from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, bind=True, max_retries=5, retry_backoff=True, retry_jitter=True)
def match_records(self, entity_type_id: int, record_ids: list[int]) -> dict:
    """Match new and changed source records against everything already there."""
    from mdm.services.matching import match_pending_records

    return match_pending_records(entity_type_id=entity_type_id, record_ids=record_ids)


@shared_task(acks_late=True, name="mdm.tasks.deliver", ignore_result=True)
def deliver(delivery_id: int) -> str:
    """Send one webhook delivery; the service claims it, so duplicates of this task are harmless."""
    from mdm.services.publishing import deliver as deliver_one

    return deliver_one(delivery_id)


@shared_task(acks_late=True, name="mdm.tasks.deliver_many", ignore_result=True)
def deliver_many(delivery_ids: list[int]) -> dict:
    """Send a small batch of deliveries (one subscription's share of a change), one by one."""
    from mdm.services.publishing import deliver_many as deliver_all

    return deliver_all(delivery_ids)


@shared_task(name="mdm.tasks.sweep_deliveries", ignore_result=True)
def sweep_deliveries() -> dict:
    """Celery beat: re-enqueue deliveries left behind by a dead worker or a lost message."""
    from dataclasses import asdict

    from mdm.services.publishing import sweep

    return asdict(sweep())
