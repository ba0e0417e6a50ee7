"""The outbox's hand-off to delivery: called in the transaction that wrote the events."""
from __future__ import annotations


def events_written(events) -> None:
    """Fan new change events out to subscriptions.

    The events themselves are the outbox; publishing adds one pending
    delivery per matching subscription here and enqueues them on commit, so
    a rolled-back change publishes nothing and a committed one is never lost.
    """
    from mdm.services.publishing import fan_out

    fan_out(list(events))
