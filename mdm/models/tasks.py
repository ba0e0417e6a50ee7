"""The data steward's work queue."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from mdm.models.config import EntityType, SourceSystem


class StewardTaskQuerySet(models.QuerySet):
    def about_source(self, system):
        """Tasks concerning a source system: naming it (a rejected row) or about one of its records."""
        return self.filter(models.Q(source_system=system) | models.Q(record_source=system)
                           | models.Q(other_record_source=system))


class StewardTask(models.Model):
    class Kind(models.TextChoices):
        POSSIBLE_MATCH = "possible_match", "Possible match"
        MERGE_PROPOSAL = "merge_proposal", "Merge proposal"
        ATTRIBUTE_CONFLICT = "attribute_conflict", "Attribute conflict"
        PRICE_CONFLICT = "price_conflict", "Price conflict"
        REJECTED_RECORD = "rejected_record", "Rejected record"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="tasks")
    source_system = models.ForeignKey(SourceSystem, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The golden records concerned: a pair for matches and merge proposals, one for conflicts.
    golden = models.ForeignKey("mdm.GoldenRecord", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    other_golden = models.ForeignKey("mdm.GoldenRecord", on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    record = models.ForeignKey("mdm.SourceRecord", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    other_record = models.ForeignKey("mdm.SourceRecord", on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    # The systems ``record`` and ``other_record`` come from, copied when the task opens (a
    # record never changes system) so the queue filters by source on the task row alone:
    # looking each record up per open task made that filter the slowest steward page.
    record_source = models.ForeignKey(SourceSystem, on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="+", db_index=False)
    other_record_source = models.ForeignKey(SourceSystem, on_delete=models.SET_NULL, null=True, blank=True,
                                            related_name="+", db_index=False)
    rejected = models.ForeignKey("mdm.RejectedRecord", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    # One open task per distinct problem: a recompute must not open it twice.
    dedupe_key = models.CharField(max_length=200)
    title = models.CharField(max_length=300)
    probability = models.FloatField(null=True, blank=True)
    priority = models.FloatField(default=0.0, db_index=True)
    details = models.JSONField(default=dict, blank=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="steward_tasks")
    version = models.PositiveIntegerField(default=1, help_text="Optimistic lock: bumped on every change.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    resolution = models.CharField(max_length=40, blank=True)
    resolution_note = models.TextField(blank=True)

    objects = StewardTaskQuerySet.as_manager()

    class Meta:
        ordering = ["-priority", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["dedupe_key"], condition=models.Q(status="open"),
                                    name="uniq_open_task_per_problem"),
        ]
        indexes = [
            models.Index(fields=["status", "kind", "-priority"], name="task_queue"),
            models.Index(fields=["status", "entity_type", "-priority"], name="task_queue_entity"),
            models.Index(fields=["status", "assignee"], name="task_queue_assignee"),
            models.Index(fields=["dedupe_key"], name="task_dedupe_key"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"


class TaskComment(models.Model):
    task = models.ForeignKey(StewardTask, on_delete=models.CASCADE, null=True, blank=True, related_name="comments")
    golden = models.ForeignKey("mdm.GoldenRecord", on_delete=models.CASCADE, null=True, blank=True, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
