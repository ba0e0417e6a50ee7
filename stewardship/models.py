"""What the steward UI itself keeps: uploads in flight and bulk actions to undo.

Master data and tasks live in ``mdm``; these rows only describe UI work.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models


class Upload(models.Model):
    """A file a steward uploaded, waiting for or being ingested by a Celery task.

    The task claims the upload with a conditional update (pending → running)
    so a redelivered task never ingests the same file twice; progress is the
    ``IngestBatch`` counters against ``expected_rows``.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Ingesting"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    batch = models.OneToOneField("mdm.IngestBatch", on_delete=models.CASCADE, related_name="upload")
    path = models.CharField(max_length=500, help_text="Where the uploaded file is stored until ingested.")
    file_format = models.CharField(max_length=10, blank=True)
    encoding = models.CharField(max_length=40, blank=True)
    id_field = models.CharField(max_length=100, blank=True)
    expected_rows = models.PositiveIntegerField(default=0, help_text="Lines in the file (a progress estimate).")
    size = models.PositiveBigIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"upload {self.batch_id} ({self.state})"


class BulkAction(models.Model):
    """A bulk accept of possible matches, with what is needed to undo each merge.

    ``items``: one entry per task handled, ``{"task", "survivor", "absorbed":
    [golden_id], "moved": {golden_id: [record ids]}, "outcome"}`` where
    ``moved`` lists the source records each absorbed golden brought, the
    exact set an undo splits back out.
    """

    class Kind(models.TextChoices):
        ACCEPT_MATCHES = "accept_matches", "Accept possible matches"

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ACCEPT_MATCHES)
    steward = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    filters = models.CharField(max_length=1000, blank=True, help_text="The queue filters the set was chosen with.")
    items = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+")
    undo_items = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def merged(self) -> list[dict]:
        return [i for i in self.items if i.get("outcome") == "merged"]
