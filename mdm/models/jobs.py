"""Background jobs an admin starts and watches: recomputing after a rule change."""
from __future__ import annotations

from django.db import models

from mdm.models.config import EntityConfigVersion, EntityType


class RuleChangeJob(models.Model):
    """Recompute every golden record of an entity type after a rule set was activated.

    The Celery task ``recompute_entity(job_id)`` claims the job
    (pending → running, a conditional update) and cuts the golden records
    into ``RuleChangeSlice`` ranges that ``recompute_slice`` tasks work
    through in parallel (one per worker process), chunk by chunk, advancing
    the counters here, so the admin sees progress and a crashed worker leaves
    an honest count behind; the last slice to finish completes the job. Activating a newer rule set supersedes a job still
    pending or running: the old job stops at its next chunk, the new one
    recomputes everything with the newer rules.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        SUPERSEDED = "superseded", "Superseded by a newer rule set"

    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="rule_jobs")
    config_version = models.ForeignKey(EntityConfigVersion, on_delete=models.PROTECT, related_name="jobs")
    # Why the golden records are recomputed: a rule change, or a batch match
    # that moved too many records to recompute them inside its transaction.
    reason = models.CharField(max_length=20, default="rule_change")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    total = models.PositiveIntegerField(default=0, help_text="Golden records to recompute.")
    processed = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0, help_text="Golden records whose values changed.")
    versions_written = models.PositiveIntegerField(
        default=0, help_text="Golden records that got a new version (values or lineage changed).")
    # Where the next chunk starts: the job resumes there if it is retried.
    last_pk = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.entity_type.code} v{self.config_version.version}: {self.status} {self.processed}/{self.total}"

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.status == self.Status.COMPLETED else 0
        return min(100, round(100 * self.processed / self.total))

    @property
    def finished(self) -> bool:
        return self.status in {self.Status.COMPLETED, self.Status.FAILED, self.Status.SUPERSEDED}


class RuleChangeSlice(models.Model):
    """One range of golden record ids of a rule-change job, worked by one task at a time."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    job = models.ForeignKey(RuleChangeJob, on_delete=models.CASCADE, related_name="slices", db_index=False)
    index = models.PositiveIntegerField()
    first_pk = models.BigIntegerField()
    last_pk = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # Resume point: everything up to here is recomputed.
    done_up_to = models.BigIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="uniq_rule_change_slice")]

    def __str__(self) -> str:
        return f"job {self.job_id} slice {self.index}: {self.first_pk}..{self.last_pk} {self.status}"
