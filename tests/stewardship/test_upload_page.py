"""Batch upload: a file for a source and entity type, ingested by a Celery task, progress and rejects."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mdm.models import IngestBatch, RejectedRecord, SourceRecord
from stewardship.models import Upload
from stewardship.services import run_upload
from tests.stewardship.hub import htmx

pytestmark = pytest.mark.django_db

CSV = (
    "id,name,city,phone\n"
    "C-1,Acme Supply Inc,Austin,415-555-0134\n"
    "C-2,,Dallas,\n"  # no name: a required attribute
    "C-3,Bolt & Nut LLC,Houston,\n"
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def upload(client, content: bytes, name: str = "accounts.csv", **fields):
    data = {"source": "crm", "entity_type": "customer", "file": SimpleUploadedFile(name, content), **fields}
    return client.post(reverse("stewardship:upload_new"), data)


def test_an_upload_is_ingested_by_the_task_and_lands_on_its_progress_page(
        login, customer_type, sources, media, django_capture_on_commit_callbacks):
    client = login("steward")
    with django_capture_on_commit_callbacks() as callbacks:
        response = upload(client, CSV.encode())
    batch = IngestBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("stewardship:upload", args=[batch.pk])
    assert batch.channel == "upload" and batch.submitted_by == "stella" and batch.file_name == "accounts.csv"
    assert Upload.objects.get().state == "pending" and len(callbacks) == 1

    callbacks[0]()  # the enqueue after commit: runs the Celery task (in-process in tests)

    batch.refresh_from_db()
    assert batch.status == "completed" and batch.counts == {
        "rows": 3, "created": 2, "updated": 0, "unchanged": 0, "deleted": 0, "rejected": 1}
    assert sorted(SourceRecord.objects.values_list("source_id", flat=True)) == ["C-1", "C-3"]
    assert Upload.objects.get().state == "done" and not list((media / "uploads").iterdir())
    page = client.get(reverse("stewardship:upload", args=[batch.pk])).content.decode()
    assert "missing_required" in page and "C-2,,Dallas," in page and "Done" in page


def test_the_task_claims_the_upload_once(login, customer_type, sources, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        upload(login("steward"), CSV.encode())
    upload_id = Upload.objects.get().pk
    assert run_upload(upload_id) == "done"
    assert run_upload(upload_id) == "not_claimed"
    assert IngestBatch.objects.get().rows_total == 3


def test_progress_is_polled_as_a_fragment_until_the_batch_finishes(login, customer_type, sources):
    upload(login("steward"), CSV.encode())
    batch = IngestBatch.objects.get()
    client = login("viewer")
    running = client.get(reverse("stewardship:upload", args=[batch.pk]), **htmx("upload-progress"))
    assert running.content.lstrip().startswith(b'<div id="upload-progress" hx-get=')
    assert b'hx-trigger="every 1s"' in running.content and b"Waiting for a worker" in running.content
    run_upload(Upload.objects.get().pk)
    done = client.get(reverse("stewardship:upload", args=[batch.pk]), **htmx("upload-progress"))
    assert b"hx-trigger" not in done.content and b'aria-valuenow="100"' in done.content


def test_a_file_in_the_wrong_encoding_fails_whole_with_the_reason(login, customer_type, sources):
    upload(login("steward"), "id,name\nC-1,Müller GmbH\n".encode("latin-1"), encoding="utf-8")
    run_upload(Upload.objects.get().pk)
    batch = IngestBatch.objects.get()
    assert batch.status == "failed" and "is not valid utf-8" in batch.error
    assert not SourceRecord.objects.exists()
    assert "is not valid utf-8" in login("viewer").get(reverse("stewardship:upload", args=[batch.pk])).content.decode()


def test_a_file_without_the_id_column_fails_before_writing(login, customer_type, sources):
    upload(login("steward"), b"key,name\nC-1,Acme\n")
    run_upload(Upload.objects.get().pk)
    batch = IngestBatch.objects.get()
    assert batch.status == "failed" and "the ID column 'id' is not in the file" in batch.error


def test_jsonl_uploads_with_a_named_id_column(login, customer_type, sources):
    lines = b'{"AccountId": "A1", "name": "Acme"}\n{"AccountId": "A2", "name": "Bolt"}\n'
    upload(login("steward"), lines, name="accounts.jsonl", id_field="AccountId")
    run_upload(Upload.objects.get().pk)
    assert IngestBatch.objects.get().created_count == 2


def test_an_empty_or_foreign_file_is_refused_at_once(login, customer_type, sources):
    client = login("steward")
    assert upload(client, b"").status_code == 400
    response = upload(client, b"MZ\x90\x00", name="tool.exe")
    assert response.status_code == 400 and b"Upload a .csv or .jsonl file" in response.content
    assert not IngestBatch.objects.exists()


def test_rejects_download_as_csv_with_formulas_defused(login, customer_type, sources):
    upload(login("steward"), b'id,name\n=HYPERLINK("http://evil"),\n')
    run_upload(Upload.objects.get().pk)
    batch = IngestBatch.objects.get()
    assert RejectedRecord.objects.count() == 1
    response = login("viewer").get(reverse("stewardship:upload_rejects", args=[batch.pk]))
    body = b"".join(response.streaming_content).decode()
    assert response["Content-Disposition"] == f'attachment; filename="batch-{batch.pk}-rejects.csv"'
    assert "'=HYPERLINK" in body and ",=HYPERLINK" not in body


def test_a_rejected_row_becomes_a_task_a_steward_closes(login, customer_type, sources):
    from mdm.models import StewardTask

    upload(login("steward"), CSV.encode())
    run_upload(Upload.objects.get().pk)
    task = StewardTask.objects.get(kind="rejected_record")
    client = login("steward")
    page = client.get(reverse("stewardship:task", args=[task.pk])).content.decode()
    assert "Why the hub refused this row" in page and "C-2,,Dallas," in page
    client.post(reverse("stewardship:task_close", args=[task.pk]),
                {"version": task.version, "resolution": "fixed_at_source", "note": "CRM fixed the name"})
    task.refresh_from_db()
    assert task.status == "resolved" and task.resolution == "fixed_at_source"
