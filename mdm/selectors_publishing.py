"""Read-side of publishing: delivery status per subscription, for the admin, the API and the dashboard."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from mdm.models import Delivery, Subscription


@dataclass
class SubscriptionStatus:
    id: int
    name: str
    url: str
    active: bool
    target_system: str | None
    pending: int  # waiting or retrying (sending included)
    failing: int  # pending after at least one failed attempt
    delivered: int
    dead: int  # dead letters: failed (4xx) and dead (retries exhausted)
    lag_seconds: float  # age of the oldest undelivered event; 0 when caught up
    oldest_pending_at: datetime | None
    last_delivered_at: datetime | None
    last_error: str

    @property
    def health(self) -> str:
        if self.dead:
            return "dead letters"
        if self.failing:
            return "failing"
        if self.pending:
            return "catching up"
        return "ok"

    def as_dict(self) -> dict:
        data = asdict(self)
        data["health"] = self.health
        return data


def subscription_status(subscriptions=None, now: datetime | None = None) -> list[SubscriptionStatus]:
    """One row per subscription; two aggregate queries whatever the number of subscriptions."""
    now = now or timezone.now()
    subs = list(subscriptions if subscriptions is not None else
                Subscription.objects.select_related("target_system").order_by("name"))
    open_q = Q(status__in=Delivery.BLOCKING)
    counts = {
        row["subscription_id"]: row
        for row in Delivery.objects.filter(subscription__in=subs).values("subscription_id").annotate(
            pending=Count("id", filter=open_q),
            failing=Count("id", filter=open_q & Q(attempts__gt=0, last_error__gt="")),
            delivered=Count("id", filter=Q(status=Delivery.Status.DELIVERED)),
            dead=Count("id", filter=Q(status__in=Delivery.DEAD_LETTERS)),
            oldest=Min("created_at", filter=open_q),
            last_delivered=Max("delivered_at"),
        )
    }
    errors = dict(
        Delivery.objects.filter(subscription__in=subs, status__in=[*Delivery.BLOCKING, *Delivery.DEAD_LETTERS])
        .exclude(last_error="").order_by("subscription_id", "-last_attempt_at")
        .distinct("subscription_id").values_list("subscription_id", "last_error")
    ) if subs and _supports_distinct_on() else {}
    out = []
    for sub in subs:
        row = counts.get(sub.pk, {})
        oldest = row.get("oldest")
        out.append(SubscriptionStatus(
            id=sub.pk, name=sub.name, url=sub.url, active=sub.active,
            target_system=sub.target_system.code if sub.target_system_id else None,
            pending=row.get("pending", 0), failing=row.get("failing", 0), delivered=row.get("delivered", 0),
            dead=row.get("dead", 0), lag_seconds=round((now - oldest).total_seconds(), 3) if oldest else 0.0,
            oldest_pending_at=oldest, last_delivered_at=row.get("last_delivered"),
            last_error=errors.get(sub.pk, ""),
        ))
    return out


def _supports_distinct_on() -> bool:
    from django.db import connection

    return connection.features.can_distinct_on_fields
