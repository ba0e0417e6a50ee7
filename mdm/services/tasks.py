"""Closing steward tasks from automation (the API): a conditional update, so two
closers (a steward in the UI, a script) cannot both win."""
from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from mdm.models import StewardTask


class TaskConflict(Exception):
    """The task is no longer open, or changed since the caller read it."""


def close_task(task_id: int, *, status: str, resolution: str, note: str = "", actor: str = "",
               expected_version: int | None = None, user=None) -> StewardTask:
    """Close an open task as resolved or dismissed; ``expected_version`` is the optimistic lock."""
    if status not in (StewardTask.Status.RESOLVED, StewardTask.Status.DISMISSED):
        raise ValueError(f"a task is closed as resolved or dismissed, not {status!r}")
    filters = {"pk": task_id, "status": StewardTask.Status.OPEN}
    if expected_version is not None:
        filters["version"] = expected_version
    text = f"[{actor}] {note}".strip() if actor else note
    changed = StewardTask.objects.filter(**filters).update(
        status=status, resolution=resolution[:40], resolution_note=text, resolved_at=timezone.now(),
        resolved_by=user, version=F("version") + 1, updated_at=timezone.now(),
    )
    task = StewardTask.objects.get(pk=task_id)
    if not changed:
        if task.status != StewardTask.Status.OPEN:
            raise TaskConflict(f"task {task_id} is already {task.status}")
        raise TaskConflict(f"task {task_id} changed since version {expected_version} (now {task.version}); "
                           "read it again")
    return task
