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
