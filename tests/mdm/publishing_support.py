"""Test data for the API and publishing tests: golden records built the way the hub builds
them (source records, then ``recompute``), without going through matching."""
from __future__ import annotations

import json

from django.db import transaction
from django.utils import timezone

from mdm.models import GoldenRecord, SourceRecord
from mdm.services import golden as golden_service


def source_record(entity, source, source_id: str, **attributes) -> SourceRecord:
    """A source record as ingestion leaves it (already standardized), not waiting for matching."""
    now = timezone.now()
    return SourceRecord.objects.create(
        entity_type=entity, source_system=source, source_id=source_id, raw=json.dumps({"id": source_id, **attributes}),
        attributes=attributes, content_hash=str(hash(json.dumps(attributes, sort_keys=True)))[:32], version=1,
        received_at=now, created_at=now, needs_match=False,
    )


def make_golden(entity, *records: SourceRecord, reason: str = "match") -> GoldenRecord:
    with transaction.atomic():
        golden = golden_service.create_goldens(entity, 1)[0]
        SourceRecord.objects.filter(pk__in=[r.pk for r in records]).update(golden=golden)
        golden_service.recompute(entity, [golden.pk], reason=reason)
    golden.refresh_from_db()
    return golden


def change(record: SourceRecord, **attributes) -> GoldenRecord:
    """A source sends new values for a record; its golden record is recomputed (a new version)."""
    with transaction.atomic():
        current = SourceRecord.objects.select_for_update().get(pk=record.pk)
        merged = {**current.attributes, **attributes}
        SourceRecord.objects.filter(pk=record.pk).update(
            attributes=merged, raw=json.dumps({"id": current.source_id, **merged}), version=current.version + 1,
            received_at=timezone.now())
        golden_service.recompute(record.entity_type, [current.golden_id], reason="ingest")
    return GoldenRecord.objects.get(pk=current.golden_id)


def merge(entity, survivor: GoldenRecord, absorbed: GoldenRecord) -> None:
    """Move the absorbed record's members to the survivor and retire it (as a steward merge does)."""
    with transaction.atomic():
        SourceRecord.objects.filter(golden=absorbed).update(golden=survivor)
        GoldenRecord.objects.filter(pk=absorbed.pk).update(status=GoldenRecord.Status.RETIRED, merged_into=survivor)
        golden_service.recompute(entity, [survivor.pk, absorbed.pk], reason="merge",
                                 event_types={survivor.pk: "merged", absorbed.pk: "retired"})
