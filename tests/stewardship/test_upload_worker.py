"""An upload goes through the real broker to a real Celery worker, which reports progress on the batch."""
from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mdm.models import IngestBatch, SourceRecord
from stewardship.models import Upload

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_ingests_the_upload_and_the_page_shows_it_done(
        celery_worker_process, client, users, customer_type, sources, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    rows = "".join(f"W-{i},Worker Customer {i},Austin\n" for i in range(1200))
    client.force_login(users["steward"])
    response = client.post(reverse("stewardship:upload_new"), {
        "source": "crm", "entity_type": "customer",
        "file": SimpleUploadedFile("big.csv", ("id,name,city\n" + rows + "W-x,,\n").encode())})
    batch = IngestBatch.objects.get()
    assert response["Location"] == reverse("stewardship:upload", args=[batch.pk])
    deadline = time.monotonic() + 60
    while IngestBatch.objects.get(pk=batch.pk).status == "running":
        assert time.monotonic() < deadline, f"the worker did not finish the upload:\n{celery_worker_process.log()}"
        time.sleep(0.2)
    batch.refresh_from_db()
    assert batch.status == "completed", batch.error
    assert batch.counts["created"] == 1200 and batch.counts["rejected"] == 1
    assert Upload.objects.get().state == "done"
    assert SourceRecord.objects.filter(source_system__code="crm").count() == 1200
    page = client.get(reverse("stewardship:upload", args=[batch.pk])).content.decode()
    assert 'data-status="completed"' in page and "Rejected rows" in page
