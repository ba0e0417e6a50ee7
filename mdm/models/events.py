"""The transactional outbox: one change event per golden-record change,
written in the same transaction as the change itself."""
from __future__ import annotations

from django.db import models

from mdm.models.config import EntityType


class ChangeEvent(models.Model):
    class Type(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        MERGED = "merged", "Merged (absorbed another)"
        SPLIT = "split", "Split"
        RETIRED = "retired", "Retired"

    entity_type = models.ForeignKey(EntityType, on_delete=models.PROTECT, related_name="+")
    golden = models.ForeignKey("mdm.GoldenRecord", on_delete=models.PROTECT, related_name="events", db_index=False)
    golden_id_text = models.CharField(max_length=20, db_index=True)
    golden_version = models.PositiveIntegerField()
    event_type = models.CharField(max_length=10, choices=Type.choices)
    payload = models.JSONField(help_text="The golden record as the API represents it at this version.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["golden", "golden_version"], name="change_event_golden_version")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.golden_id_text} v{self.golden_version}"
