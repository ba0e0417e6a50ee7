"""Golden records are computed: recompute writes values, lineage, a version and an event."""
from __future__ import annotations

import pytest

from mdm.models import (
    ChangeEvent,
    EntityType,
    GoldenRecord,
    GoldenRecordVersion,
    SourceRecord,
    StewardTask,
)
from mdm.services import golden as golden_service
from mdm.services.ingest import ingest_payloads
from mdm.services.sources import set_mapping

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_sources(customer_type, erp, crm):
    for source in (erp, crm):
        set_mapping(source=source, entity_type=customer_type, spec={"id_field": "id"})
    ingest_payloads(source=erp, entity_type=customer_type, payloads=[
        {"id": "E1", "name": "Acme Supply Inc", "credit_limit": "10000", "phone": "415-555-0134", "city": "Austin"}])
    ingest_payloads(source=crm, entity_type=customer_type, payloads=[
        {"id": "C1", "name": "ACME SUPPLY", "credit_limit": "25000", "phone": "415-555-0199", "city": "Dallas"}])
    return list(SourceRecord.objects.order_by("source_system__code"))


def attach(entity, records):
    golden = golden_service.create_goldens(entity, 1)[0]
    SourceRecord.objects.filter(pk__in=[r.pk for r in records]).update(golden=golden)
    return golden


def test_golden_ids_are_readable_and_never_reused(customer_type):
    first = golden_service.create_goldens(customer_type, 2)
    second = golden_service.create_goldens(customer_type, 1)
    assert [g.golden_id for g in first + second] == ["CUS-000001", "CUS-000002", "CUS-000003"]


def test_golden_numbers_continue_from_the_entity_types_counter_and_after_a_reset(customer_type):
    # A hub numbered on the entity type's counter before (no sequence) goes on from its last number.
    golden_service.set_last_number(customer_type, 41)
    assert EntityType.objects.get(pk=customer_type.pk).golden_seq == 41
    assert list(golden_service.allocate_numbers(customer_type, 2)) == [42, 43]
    golden_service.set_last_number(customer_type, 0)  # a benchmark wiped its golden records
    assert list(golden_service.allocate_numbers(customer_type, 1)) == [1]


def test_recompute_applies_survivorship_and_records_lineage_version_and_event(customer_type, two_sources):
    golden = attach(customer_type, two_sources)
    golden_service.recompute(customer_type, [golden.pk], reason="match")
    golden.refresh_from_db()
    assert golden.version == 1 and golden.status == "active"
    assert golden.values["name"] == "Acme Supply Inc."  # the ERP wins the name
    assert golden.lineage["name"]["source"] == "erp"
    assert golden.lineage["name"]["competing"][0]["source"] == "crm"
    assert sorted(golden.values["phone"][i]["value"] for i in range(2)) == ["+14155550134", "+14155550199"]
    assert golden.display_name == "Acme Supply Inc."
    version = GoldenRecordVersion.objects.get(golden=golden)
    assert version.members == sorted(r.pk for r in two_sources) and version.reason == "match"
    event = ChangeEvent.objects.get(golden=golden)
    assert event.event_type == "created" and event.golden_version == 1
    assert event.payload["sources"] == [{"source": "crm", "source_id": "C1"}, {"source": "erp", "source_id": "E1"}]


def test_recompute_without_change_writes_nothing(customer_type, two_sources):
    golden = attach(customer_type, two_sources)
    golden_service.recompute(customer_type, [golden.pk], reason="match")
    result = golden_service.recompute(customer_type, [golden.pk], reason="rematch")
    assert result.unchanged == 1
    assert GoldenRecordVersion.objects.count() == 1 and ChangeEvent.objects.count() == 1


def test_disagreeing_trusted_sources_on_a_critical_attribute_open_one_conflict_task(customer_type, two_sources):
    # credit_limit is critical; trusted = the first source_priority rule's sources (erp only):
    # one ERP value cannot disagree with itself, so make the ERP hold two records.
    erp_record = two_sources[1]
    other = SourceRecord.objects.create(
        entity_type=customer_type, source_system=erp_record.source_system, source_id="E2", raw="{}",
        attributes={"name": "Acme Supply", "credit_limit": "15000.00"}, content_hash="x", version=1,
        received_at=erp_record.received_at, created_at=erp_record.created_at,
    )
    golden = attach(customer_type, [*two_sources, other])
    golden_service.recompute(customer_type, [golden.pk], reason="match")
    golden_service.recompute(customer_type, [golden.pk], reason="rematch")
    task = StewardTask.objects.get(kind="attribute_conflict")
    assert task.golden == golden and task.details["attribute"] == "credit_limit"
    other.deleted = True
    other.save()
    golden_service.recompute(customer_type, [golden.pk], reason="ingest")
    task.refresh_from_db()
    assert task.status == "dismissed" and task.resolution == "conflict_gone"


def test_a_golden_without_active_members_becomes_empty(customer_type, two_sources):
    golden = attach(customer_type, two_sources)
    golden_service.recompute(customer_type, [golden.pk], reason="match")
    SourceRecord.objects.update(deleted=True)
    golden_service.recompute(customer_type, [golden.pk], reason="ingest")
    golden.refresh_from_db()
    assert golden.status == "empty" and golden.values == {} and golden.version == 2


def test_a_retired_id_resolves_to_its_survivor(customer_type):
    old, survivor = golden_service.create_goldens(customer_type, 2)
    GoldenRecord.objects.filter(pk=old.pk).update(status="retired", merged_into=survivor)
    assert golden_service.resolve(old.golden_id) == survivor
    assert golden_service.resolve("CUS-999999") is None


def test_explain_golden_prints_each_value_with_its_source_rule_and_what_it_beat(customer_type, two_sources):
    import io

    from django.core.management import call_command

    golden = attach(customer_type, two_sources)
    golden_service.recompute(customer_type, [golden.pk], reason="match")
    out = io.StringIO()
    call_command("explain_golden", golden.golden_id, stdout=out)
    text = out.getvalue()
    assert text.startswith(f"{golden.golden_id} v1 (active), sources: crm:C1, erp:E1")
    assert "name           Acme Supply Inc.  [source_priority, erp:E1]" in text
    assert "beat Acme Supply from crm:C1 (source_priority)" in text
    assert "+14155550199 (crm); +14155550134 (erp)  [aggregate, several sources]" in text
