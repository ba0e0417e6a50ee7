"""Batch upload: a CSV or JSONL file for a source and entity type, ingested by a
Celery task, with progress and the rejected rows shown."""
from __future__ import annotations

import csv

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST

from mdm.models import IngestBatch, RejectedRecord
from mdm.services.ingest import IngestError
from stewardship.forms import UploadForm
from stewardship.models import Upload
from stewardship.permissions import STEWARD, VIEWER, role_required
from stewardship.rendering import go, render_page
from stewardship.services import store_upload

REJECTS_PAGE = 100


def _uploads_context(request, form=None) -> dict:
    return {
        "form": form or UploadForm(),
        "batches": IngestBatch.objects.select_related("source_system", "entity_type").order_by("-started_at")[:30],
    }


@role_required(VIEWER)
def uploads(request):
    return render_page(request, "stewardship/uploads/list.html", _uploads_context(request))


@require_POST
@role_required(STEWARD)
def upload_new(request):
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render_page(request, "stewardship/uploads/list.html", _uploads_context(request, form), status=400)
    data = form.cleaned_data
    try:
        upload = store_upload(uploaded=data["file"], source=data["source"], entity_type=data["entity_type"],
                              user=request.user, file_format=data["file_format"], encoding=data["encoding"].strip(),
                              id_field=data["id_field"].strip())
    except IngestError as exc:
        form.add_error(None, str(exc))
        return render_page(request, "stewardship/uploads/list.html", _uploads_context(request, form), status=400)
    messages.success(request, f"Uploaded {upload.batch.file_name}; ingesting it now.")
    return go(request, reverse("stewardship:upload", args=[upload.batch_id]))


def progress(batch: IngestBatch, upload: Upload | None) -> dict:
    expected = upload.expected_rows if upload else batch.rows_total
    done = batch.rows_total
    finished = batch.status != IngestBatch.Status.RUNNING
    waiting = upload is not None and upload.state == Upload.State.PENDING
    percent = 100 if finished else (min(99, int(done * 100 / expected)) if expected else 0)
    return {"expected": expected, "done": done, "finished": finished, "waiting": waiting, "percent": percent}


@role_required(VIEWER)
def upload_detail(request, pk: int):
    batch = get_object_or_404(IngestBatch.objects.select_related("source_system", "entity_type"), pk=pk)
    upload = Upload.objects.filter(batch=batch).select_related("uploaded_by").first()
    rejects = Paginator(RejectedRecord.objects.filter(batch=batch).order_by("position"), REJECTS_PAGE).get_page(
        request.GET.get("page"))
    context = {"batch": batch, "upload": upload, "progress": progress(batch, upload), "rejects": rejects}
    return render_page(request, "stewardship/uploads/detail.html", context,
                       fragments={"upload-progress": "stewardship/uploads/_progress.html"})


def _csv_cell(value: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: hostile data must stay text.
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value):
        return value


@role_required(VIEWER)
def upload_rejects_csv(request, pk: int):
    batch = get_object_or_404(IngestBatch, pk=pk)
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(["line", "source_id", "reasons", "raw"])
        for reject in RejectedRecord.objects.filter(batch=batch).order_by("position").iterator(chunk_size=2000):
            yield writer.writerow([reject.position, _csv_cell(reject.source_id), _csv_cell(reject.reason_text),
                                   _csv_cell(reject.raw.rstrip("\r\n"))])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}-rejects.csv"'
    return response
