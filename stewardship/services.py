"""Write operations the steward UI owns itself: comments, uploads and bulk actions.

Everything that changes master data (merge, split, overrides, task
resolution) lives in ``mdm.services.stewardship``; these functions record the
UI's own facts (an upload in flight, what a bulk action did) and compose
those services, one service call per item.
"""
from __future__ import annotations

import logging
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from mdm.models import GoldenRecord, IngestBatch, SourceRecord, StewardTask, TaskComment
from mdm.services import stewardship as steward_services
from mdm.services.files import count_lines, ingest_file
from mdm.services.ingest import IngestError, start_batch
from stewardship.models import BulkAction, Upload

log = logging.getLogger(__name__)

UPLOAD_CHUNK = 500  # rows per transaction: small enough for the progress bar to move
BULK_MAX = 200  # possible matches one bulk accept may merge


def add_comment(*, author, text: str, task=None, golden=None) -> TaskComment:
    """A steward's note on a task or a golden record (kept with it, shown in its page)."""
    text = (text or "").strip()
    if not text:
        raise ValidationError("A comment needs some text.")
    if task is None and golden is None:
        raise ValidationError("A comment belongs to a task or a golden record.")
    return TaskComment.objects.create(task=task, golden=golden, author=author, text=text[:5000])


# --- uploads ---------------------------------------------------------------------


def store_upload(*, uploaded, source, entity_type, user, file_format: str = "", encoding: str = "",
                 id_field: str = "") -> Upload:
    """Keep an uploaded file, open its ingest batch and queue the ingest (after commit).

    The batch exists at once so the steward lands on its progress page; the
    Celery task gets the upload's id only and claims it.
    """
    folder = Path(settings.MEDIA_ROOT) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    original = Path(uploaded.name).name
    path = folder / f"{uuid.uuid4().hex}-{get_valid_filename(original)[:100] or 'upload'}"
    with open(path, "wb") as handle:
        handle.writelines(uploaded.chunks())
    try:
        lines = count_lines(path)
        lower = original.lower()
        fmt = file_format or ("jsonl" if lower.endswith((".jsonl", ".ndjson", ".json")) else "csv")
        expected = max(lines - (1 if fmt == "csv" else 0), 0)
        with transaction.atomic():
            batch = start_batch(source=source, entity_type=entity_type, channel=IngestBatch.Channel.UPLOAD,
                                file_name=original[:500], submitted_by=user.get_username())
            upload = Upload.objects.create(
                batch=batch, path=str(path), file_format=file_format, encoding=encoding, id_field=id_field,
                expected_rows=expected, size=path.stat().st_size, uploaded_by=user,
            )
            upload_id = upload.pk
            transaction.on_commit(lambda: _enqueue_upload(upload_id))
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return upload


def _enqueue_upload(upload_id: int) -> None:
    from stewardship.tasks import ingest_upload

    ingest_upload.delay(upload_id)


def run_upload(upload_id: int) -> str:
    """Ingest one stored upload through ``mdm.services.files.ingest_file``; returns the final state.

    Claims the upload (pending → running) with a conditional update, so a
    redelivered task does nothing. A whole-input error (bad encoding, no ID
    column…) fails the batch with its message before any row is written.
    """
    claimed = Upload.objects.filter(pk=upload_id, state=Upload.State.PENDING).update(
        state=Upload.State.RUNNING, claimed_at=timezone.now())
    if not claimed:
        return "not_claimed"
    upload = Upload.objects.select_related("batch__source_system", "batch__entity_type").get(pk=upload_id)
    batch = upload.batch
    try:
        ingest_file(
            path=Path(upload.path), source=batch.source_system, entity_type=batch.entity_type,
            fmt=upload.file_format or None, encoding=upload.encoding or None, id_field=upload.id_field or None,
            channel=IngestBatch.Channel.UPLOAD, submitted_by=batch.submitted_by, batch=batch,
            display_name=batch.file_name, chunk_size=UPLOAD_CHUNK,
        )
    except IngestError as exc:
        IngestBatch.objects.filter(pk=batch.pk).update(
            status=IngestBatch.Status.FAILED, error=str(exc), finished_at=timezone.now())
        _finish(upload, Upload.State.FAILED)
        return Upload.State.FAILED
    except Exception:
        # ingest_rows marked the batch failed with the error; the chunks written stay written.
        _finish(upload, Upload.State.FAILED)
        raise
    _finish(upload, Upload.State.DONE)
    return Upload.State.DONE


def _finish(upload: Upload, state: str) -> None:
    Upload.objects.filter(pk=upload.pk).update(state=state, finished_at=timezone.now())
    # Rows and rejects are stored verbatim: the file itself is no longer needed.
    Path(upload.path).unlink(missing_ok=True)


# --- bulk accept of possible matches, with undo ---------------------------------------


def bulk_accept(*, tasks: list[tuple[StewardTask, int]], steward, filters: str = "") -> BulkAction:
    """Merge the pair of each ``(task, version)`` with ``merge_goldens``, recording how to undo each.

    Every merge is its own transaction (the service's): a task another
    steward handled meanwhile is reported and skipped, the others go ahead.
    The action row is written first and updated after each merge, so what
    was done is on record even if the request dies halfway.
    """
    if len(tasks) > BULK_MAX:
        raise ValidationError(f"A bulk accept merges at most {BULK_MAX} pairs; narrow the filters.")
    action = BulkAction.objects.create(steward=steward, filters=filters[:1000], items=[])
    for task, version in tasks:
        item = {"task": task.pk, "title": task.title}
        golden_a, golden_b = steward_services.pair_goldens(task)
        if task.kind not in (StewardTask.Kind.POSSIBLE_MATCH, StewardTask.Kind.MERGE_PROPOSAL):
            item.update(outcome="refused", message="not a match task")
        elif golden_a is None or golden_b is None or golden_a.pk == golden_b.pk:
            item.update(outcome="refused", message="the pair is no longer two golden records")
        else:
            survivor = steward_services.proposed_survivor(golden_a, golden_b)
            absorbed = golden_b if survivor.pk == golden_a.pk else golden_a
            moved = list(SourceRecord.objects.filter(golden=absorbed, deleted=False).order_by("id")
                         .values_list("id", flat=True))
            try:
                steward_services.merge_goldens(survivor=survivor, others=[absorbed], steward=steward, task=task,
                                               expected_task_version=version,
                                               note=f"bulk accept #{action.pk}")
            except steward_services.TaskAlreadyHandled as exc:
                item.update(outcome="already_handled", message=str(exc))
            except steward_services.StewardActionError as exc:
                item.update(outcome="refused", message=str(exc))
            else:
                item.update(outcome="merged", survivor=survivor.golden_id, absorbed=absorbed.golden_id, moved=moved)
        action.items.append(item)
        BulkAction.objects.filter(pk=action.pk).update(items=action.items)
    return action


class AlreadyUndone(Exception):
    pass


def undo_bulk(action: BulkAction, *, steward) -> BulkAction:
    """Undo a bulk accept, newest merge first, with ``undo_merge``: the absorbed
    golden record comes back under its ID and its task returns to the queue.

    A merge whose records moved on since (another merge, an unmerge) is left
    alone and reported. The undo is claimed once (conditional update), so two
    clicks cannot undo twice.
    """
    now = timezone.now()
    if not BulkAction.objects.filter(pk=action.pk, undone_at__isnull=True).update(undone_at=now, undone_by=steward):
        raise AlreadyUndone(f"Bulk action #{action.pk} was already undone.")
    results = []
    for item in reversed(action.merged):
        entry = {"task": item["task"], "survivor": item["survivor"], "absorbed": item["absorbed"]}
        survivor = GoldenRecord.objects.filter(golden_id=item["survivor"]).first()
        absorbed = GoldenRecord.objects.filter(golden_id=item["absorbed"]).first()
        task = StewardTask.objects.filter(pk=item["task"]).first()
        if survivor is None or absorbed is None:
            entry.update(outcome="skipped", message="a golden record of this merge no longer exists")
        else:
            try:
                steward_services.undo_merge(survivor=survivor, absorbed=absorbed, records=item.get("moved") or [],
                                            steward=steward, task=task, note=f"undo of bulk accept #{action.pk}")
            except steward_services.StewardActionError as exc:
                entry.update(outcome="skipped", message=str(exc))
            else:
                entry.update(outcome="undone")
        results.append(entry)
        BulkAction.objects.filter(pk=action.pk).update(undo_items=results)
    action.refresh_from_db()
    return action
