"""Publishing: subscriptions, one delivery per (change event, subscription),
and the write-back acknowledgements source systems send for golden records."""
from __future__ import annotations

import base64
import secrets

from django.core.exceptions import ValidationError
from django.db import models

from mdm.models.config import EntityType, SourceSystem

SECRET_PREFIX = "whsec_"


def generate_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def validate_secret(value: str) -> None:
    if not value.startswith(SECRET_PREFIX):
        raise ValidationError("A signing secret starts with whsec_ followed by base64.")
    try:
        raw = base64.b64decode(value[len(SECRET_PREFIX):], validate=True)
    except ValueError as exc:
        raise ValidationError("The part after whsec_ is not valid base64.") from exc
    if not 24 <= len(raw) <= 64:
        raise ValidationError("A signing secret holds 24 to 64 random bytes.")


def validate_codes(value) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValidationError("Give a list of codes, e.g. [\"customer\", \"product\"]; empty means all.")


class Subscription(models.Model):
    """A downstream system that receives golden-record changes as signed webhooks.

    ``entity_types`` and ``event_types`` are lists of codes; an empty list
    means all. When ``target_system`` is a source system the webhook is a
    write-back: its body carries that system's own source IDs for the record.
    """

    name = models.CharField(max_length=100, unique=True)
    target_system = models.ForeignKey(
        SourceSystem, on_delete=models.PROTECT, null=True, blank=True, related_name="subscriptions",
        help_text="Set when the receiver is a source system: deliveries then carry its own IDs (write-back).",
    )
    url = models.URLField(max_length=500)
    entity_types = models.JSONField(default=list, blank=True, validators=[validate_codes],
                                    help_text='Entity type codes, e.g. ["customer"]; empty: all.')
    event_types = models.JSONField(default=list, blank=True, validators=[validate_codes],
                                   help_text='created, updated, merged, split, retired; empty: all.')
    secret = models.CharField(max_length=120, default=generate_secret, validators=[validate_secret],
                              help_text="Standard Webhooks signing secret (whsec_…); give it to the receiver.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        from mdm.models.events import ChangeEvent

        unknown = sorted(set(self.event_types or []) - set(ChangeEvent.Type.values))
        if unknown:
            raise ValidationError({"event_types": f"unknown event type(s): {', '.join(unknown)}"})
        if self.entity_types:
            known = set(EntityType.objects.filter(code__in=self.entity_types).values_list("code", flat=True))
            missing = sorted(set(self.entity_types) - known)
            if missing:
                raise ValidationError({"entity_types": f"unknown entity type(s): {', '.join(missing)}"})

    def wants(self, entity_code: str, event_type: str) -> bool:
        return ((not self.entity_types or entity_code in self.entity_types)
                and (not self.event_types or event_type in self.event_types))


class Delivery(models.Model):
    """One change event on its way to one subscription.

    Life cycle: pending → sending → delivered; a 5xx or timeout goes back to
    pending with ``next_attempt_at`` later; a 4xx is ``failed`` at once; the
    last allowed attempt failing is ``dead``. ``failed`` and ``dead`` are the
    dead letters an admin can replay. ``superseded``: a replay found that the
    subscriber already holds a newer version of the record, so sending the
    older one would go back in time.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (rejected by the receiver)"
        DEAD = "dead", "Dead (retries exhausted)"
        SUPERSEDED = "superseded", "Superseded by a newer version"

    # An earlier delivery in one of these states holds back later ones of the same record.
    BLOCKING = (Status.PENDING, Status.SENDING)
    DEAD_LETTERS = (Status.FAILED, Status.DEAD)

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    event = models.ForeignKey("mdm.ChangeEvent", on_delete=models.PROTECT, related_name="deliveries", db_index=False)
    # Denormalized from the event: the per-record ordering check must be one index lookup.
    golden = models.ForeignKey("mdm.GoldenRecord", on_delete=models.PROTECT, related_name="+")
    golden_version = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_response = models.TextField(blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "subscription"], name="uniq_delivery_per_event_subscription"),
        ]
        indexes = [
            models.Index(fields=["subscription", "golden", "golden_version"], name="delivery_record_order",
                         condition=models.Q(status__in=["pending", "sending"])),
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due",
                         condition=models.Q(status__in=["pending", "sending"])),
            models.Index(fields=["subscription", "status", "id"], name="delivery_subscription_status"),
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id} → {self.subscription_id} ({self.status})"

    @property
    def webhook_id(self) -> str:
        """Stable across retries and replays: the receiver's idempotency key."""
        return f"msg_{self.pk}"


class XrefAcknowledgement(models.Model):
    """A source system saying "I hold golden record G, version V, under my ID X".

    Written by ``POST /api/v1/{entity_type}/golden/{golden_id}/ack`` after a
    write-back; shown with the cross-reference. The ID may be one the system
    has not sent to the hub yet (it created the record from the webhook).
    """

    golden = models.ForeignKey("mdm.GoldenRecord", on_delete=models.CASCADE, related_name="acknowledgements", db_index=False)
    source_system = models.ForeignKey(SourceSystem, on_delete=models.CASCADE, related_name="+", db_index=False)
    source_id = models.CharField(max_length=255)
    golden_version = models.PositiveIntegerField()
    webhook_id = models.CharField(max_length=40, blank=True)
    acknowledged_by = models.CharField(max_length=150, blank=True)
    acknowledged_at = models.DateTimeField()

    class Meta:
        ordering = ["golden", "source_system", "source_id"]
        constraints = [
            models.UniqueConstraint(fields=["golden", "source_system", "source_id"], name="uniq_xref_ack"),
        ]
        indexes = [models.Index(fields=["source_system", "source_id"], name="xref_ack_source_id")]

    def __str__(self) -> str:
        return f"{self.source_system_id}:{self.source_id} acked {self.golden_id} v{self.golden_version}"
