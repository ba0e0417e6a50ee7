"""Source records as received, their versions, ingest batches and rejects."""
from __future__ import annotations

import json

from django.db import models

from mdm.models.config import EntityType, SourceSystem


class IngestBatch(models.Model):
    """One ingest run: a REST call, a file, or an upload from the steward UI."""

    class Channel(models.TextChoices):
        API = "api", "REST API"
        FILE = "file", "File (command line)"
        UPLOAD = "upload", "Upload (web)"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    source_system = models.ForeignKey(SourceSystem, on_delete=models.PROTECT, related_name="batches")
    entity_type = models.ForeignKey(EntityType, on_delete=models.PROTECT, related_name="batches")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    file_name = models.CharField(max_length=500, blank=True)
    encoding = models.CharField(max_length=40, blank=True)
    submitted_by = models.CharField(max_length=150, blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    deleted_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    unmapped_columns = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    # db_default: processes still running the previous release insert batches without it.
    match_deferred = models.BooleanField(
        default=False, db_default=False, help_text="Matching was left to a later `match` run (ingest --defer-match): the "
                                 "pending-match sweeper leaves this batch's records alone.")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name_plural = "ingest batches"

    def __str__(self) -> str:
        return f"#{self.pk} {self.source_system.code}/{self.entity_type.code} ({self.status})"

    @property
    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows_total,
            "created": self.created_count,
            "updated": self.updated_count,
            "unchanged": self.unchanged_count,
            "deleted": self.deleted_count,
            "rejected": self.rejected_count,
        }


class SourceRecord(models.Model):
    """The current version of one record of one source system.

    Unique per (entity type, source system, source ID). ``raw`` is the payload
    exactly as received (JSON text: PostgreSQL's jsonb cannot hold every
    string a source sends, e.g. NUL characters); ``attributes`` its
    standardized canonical values. Older versions live in
    ``SourceRecordVersion``; a delete only sets ``deleted``.
    """

    # No single-column indexes on these two: the unique constraint leads with
    # entity_type and source_record_src_id with source_system, and every index
    # is paid for by each ingested row.
    entity_type = models.ForeignKey(EntityType, on_delete=models.PROTECT, related_name="records", db_index=False)
    source_system = models.ForeignKey(SourceSystem, on_delete=models.PROTECT, related_name="records", db_index=False)
    source_id = models.CharField(max_length=255)
    version = models.PositiveIntegerField(default=1)
    raw = models.TextField()
    attributes = models.JSONField(default=dict)
    issues = models.JSONField(default=list, blank=True)
    content_hash = models.CharField(max_length=32)
    received_at = models.DateTimeField()
    source_updated_at = models.DateTimeField(null=True, blank=True)
    deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    last_batch = models.ForeignKey(IngestBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    golden = models.ForeignKey(
        "mdm.GoldenRecord", on_delete=models.SET_NULL, null=True, blank=True, related_name="members"
    )
    # Set when the standardized attributes changed and matching has not yet
    # seen them; the match task claims records by clearing it.
    needs_match = models.BooleanField(default=True)

    class Meta:
        ordering = ["entity_type", "source_system", "source_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["entity_type", "source_system", "source_id"], name="uniq_source_record"
            )
        ]
        indexes = [
            models.Index(
                fields=["entity_type"],
                condition=models.Q(needs_match=True),
                name="source_record_pending_match",
            ),
            models.Index(fields=["source_system", "source_id"], name="source_record_src_id"),
        ]

    def __str__(self) -> str:
        return f"{self.source_system.code}:{self.source_id} ({self.entity_type.code})"

    @property
    def raw_payload(self):
        return json.loads(self.raw)

    def history(self) -> list:
        """Every version, newest first: this record (the current version), then the superseded ones."""
        return [self, *self.versions.order_by("-version")]

    @property
    def batch_id(self):
        return self.last_batch_id


class SourceRecordVersion(models.Model):
    """Append-only history: every *superseded* version of a source record.

    The current version is the ``SourceRecord`` row itself (not copied here:
    an initial load of a million records would write every payload twice);
    when a change arrives, the row's state moves here first. Read the whole
    history with ``SourceRecord.history()``.
    """

    record = models.ForeignKey(SourceRecord, on_delete=models.CASCADE, related_name="versions", db_index=False)
    version = models.PositiveIntegerField()
    raw = models.TextField()
    attributes = models.JSONField(default=dict)
    issues = models.JSONField(default=list, blank=True)
    content_hash = models.CharField(max_length=32)
    received_at = models.DateTimeField()
    source_updated_at = models.DateTimeField(null=True, blank=True)
    deleted = models.BooleanField(default=False)
    batch = models.ForeignKey(IngestBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["record", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["record", "version"], name="uniq_source_record_version")
        ]

    def __str__(self) -> str:
        return f"{self.record} v{self.version}"

    @property
    def raw_payload(self):
        return json.loads(self.raw)


class RejectedRecord(models.Model):
    """A row the hub could not accept, kept verbatim with the reasons why."""

    batch = models.ForeignKey(IngestBatch, on_delete=models.CASCADE, related_name="rejects")
    entity_type = models.ForeignKey(EntityType, on_delete=models.PROTECT, related_name="+")
    source_system = models.ForeignKey(SourceSystem, on_delete=models.PROTECT, related_name="+", db_index=False)
    position = models.PositiveIntegerField(help_text="Line number in a file, index in a REST batch.")
    source_id = models.CharField(max_length=255, blank=True)
    raw = models.TextField(help_text="The row as received (text), even when it could not be parsed.")
    reasons = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["batch", "position"]
        indexes = [models.Index(fields=["source_system", "source_id"], name="rejected_src_id")]

    def __str__(self) -> str:
        return f"reject #{self.pk} {self.source_system.code}:{self.source_id or '?'}"

    @property
    def reason_text(self) -> str:
        return "; ".join(r.get("message", r.get("code", "")) for r in self.reasons)
