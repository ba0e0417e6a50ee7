"""Migrations that carry data: an upgraded hub holds what a new one would."""
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("mdm", "0003_golden_name_search")]
AFTER = [("mdm", "0004_task_record_sources")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_open_tasks_learn_the_source_systems_of_their_records_on_upgrade():
    old = _migrate(BEFORE)
    try:
        entity = old.get_model("mdm", "EntityType").objects.create(code="customer", name="Customer", id_prefix="CUS")
        source = old.get_model("mdm", "SourceSystem")
        erp = source.objects.create(code="erp", name="ERP", kind="erp")
        crm = source.objects.create(code="crm", name="CRM", kind="crm")
        record = old.get_model("mdm", "SourceRecord")
        a = record.objects.create(entity_type=entity, source_system=erp, source_id="E1", raw="{}", content_hash="a",
                             received_at=timezone.now(), created_at=timezone.now())
        b = record.objects.create(entity_type=entity, source_system=crm, source_id="C1", raw="{}", content_hash="b",
                             received_at=timezone.now(), created_at=timezone.now())
        task = old.get_model("mdm", "StewardTask")
        pair = task.objects.create(kind="possible_match", entity_type=entity, record=a, other_record=b,
                                   dedupe_key="match:1:2", title="pair")
        conflict = task.objects.create(kind="attribute_conflict", entity_type=entity, dedupe_key="conflict:1",
                                       title="conflict")

        new = _migrate(AFTER).get_model("mdm", "StewardTask")
        assert new.objects.values_list("record_source_id", "other_record_source_id").get(pk=pair.pk) == (erp.pk,
                                                                                                          crm.pk)
        assert new.objects.values_list("record_source_id", "other_record_source_id").get(pk=conflict.pk) == (None,
                                                                                                              None)
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_blocking_keys_keep_their_rows_once_each_when_the_primary_key_becomes_composite():
    old = _migrate([("mdm", "0006_ingest_batch_match_deferred")])
    try:
        entity = old.get_model("mdm", "EntityType").objects.create(code="customer", name="Customer", id_prefix="CUS")
        erp = old.get_model("mdm", "SourceSystem").objects.create(code="erp", name="ERP", kind="erp")
        record = old.get_model("mdm", "SourceRecord").objects.create(
            entity_type=entity, source_system=erp, source_id="E1", raw="{}", content_hash="a",
            received_at=timezone.now(), created_at=timezone.now())
        key = old.get_model("mdm", "BlockingKey")
        for text in ("name:acme", "zip:78701", "name:acme"):  # the old table allowed a repeat
            key.objects.create(entity_type=entity, key=text, record=record)

        new = _migrate([("mdm", "0007_blocking_key_composite_pk")]).get_model("mdm", "BlockingKey")
        assert sorted(new.objects.values_list("key", flat=True)) == ["name:acme", "zip:78701"]
        assert new.objects.get(entity_type=entity.pk, key="zip:78701", record=record.pk).pk == (
            entity.pk, "zip:78701", record.pk)

        back = _migrate([("mdm", "0006_ingest_batch_match_deferred")]).get_model("mdm", "BlockingKey")
        assert sorted(back.objects.values_list("key", flat=True)) == ["name:acme", "zip:78701"]
        assert all(pk is not None for pk in back.objects.values_list("pk", flat=True))
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
