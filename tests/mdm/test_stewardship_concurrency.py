"""Two stewards acting at once on real PostgreSQL: one wins, the other is told, nothing is applied twice."""
from __future__ import annotations

import pytest
from concurrency_helpers import race
from golden_helpers import golden_of, ingest, members, steward

from mdm.models import ChangeEvent, GoldenRecord, GoldenRecordVersion, Override, StewardTask
from mdm.services import stewardship as s
from mdm.services.stewardship import TaskAlreadyHandled

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pair(customer_type, erp, crm):
    e1, = ingest(erp, customer_type, {"id": "E1", "name": "Acme Supply", "payment_terms": "NET30"})
    c1, = ingest(crm, customer_type, {"id": "C1", "name": "Acme Supply", "payment_terms": "NET45"})
    first, second = golden_of(customer_type, e1), golden_of(customer_type, c1)
    task = StewardTask.objects.create(kind="possible_match", entity_type=customer_type, golden=first,
                                      other_golden=second, dedupe_key="pair", title="same?")
    return first, second, task


@pytest.mark.parametrize("round_", range(3))
def test_two_stewards_merging_the_same_task_merge_once(pair, round_):
    first, second, task = pair
    alice, bob = steward(), steward()
    outcomes = race(
        lambda: s.merge_goldens(survivor=first, others=[second], steward=alice, task=task, expected_task_version=1),
        lambda: s.merge_goldens(survivor=first, others=[second], steward=bob, task=task, expected_task_version=1),
    )
    winners = [o for o in outcomes if isinstance(o, GoldenRecord)]
    losers = [o for o in outcomes if isinstance(o, TaskAlreadyHandled)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert "already resolved" in str(losers[0])
    task.refresh_from_db()
    assert task.status == "resolved" and task.version == 2
    assert GoldenRecord.objects.get(pk=second.pk).status == "retired"
    assert ChangeEvent.objects.filter(event_type="merged").count() == 1
    assert ChangeEvent.objects.filter(event_type="retired").count() == 1
    assert GoldenRecordVersion.objects.filter(reason="merge").count() == 2  # survivor + retired, once each


@pytest.mark.parametrize("round_", range(3))
def test_merging_in_opposite_directions_at_once_merges_once(pair, customer_type, round_):
    # Each merge also closes the other's task (now about one golden record):
    # without one lock order (goldens, then tasks) this deadlocked.
    first, second, task = pair
    other_task = StewardTask.objects.create(kind="merge_proposal", entity_type=customer_type, golden=second,
                                            other_golden=first, dedupe_key="proposal", title="merge?")
    outcomes = race(
        lambda: s.merge_goldens(survivor=first, others=[second], steward=steward(), task=task),
        lambda: s.merge_goldens(survivor=second, others=[first], steward=steward(), task=other_task),
    )
    assert sum(isinstance(o, GoldenRecord) for o in outcomes) == 1, outcomes
    error = next(o for o in outcomes if isinstance(o, Exception))
    assert isinstance(error, TaskAlreadyHandled) and "already resolved" in str(error), error
    statuses = sorted(GoldenRecord.objects.values_list("status", flat=True))
    assert statuses == ["active", "retired"]
    survivor = GoldenRecord.objects.get(status="active")
    assert len(members(survivor)) == 2


def test_two_stewards_resolving_the_same_conflict_apply_one_answer(pair):
    first, second, _ = pair
    s.merge_goldens(survivor=first, others=[second], steward=steward())
    conflict = StewardTask.objects.get(kind="attribute_conflict", status="open")
    outcomes = race(
        lambda: s.resolve_conflict(task=conflict, steward=steward(), value="NET30", reason="ERP contract",
                                   expected_version=conflict.version),
        lambda: s.resolve_conflict(task=conflict, steward=steward(), value="NET60", reason="phone call",
                                   expected_version=conflict.version),
    )
    assert sum(isinstance(o, TaskAlreadyHandled) for o in outcomes) == 1, outcomes
    override = Override.objects.get()
    first.refresh_from_db()
    assert first.values["payment_terms"] == override.value
    assert GoldenRecordVersion.objects.filter(golden=first, reason="conflict").count() == 1


def test_overrides_set_at_once_on_one_golden_record_are_both_kept(pair):
    first, _, _ = pair
    outcomes = race(
        lambda: s.set_override(golden=first, attribute="city", value="Austin", reason="HQ", steward=steward()),
        lambda: s.set_override(golden=first, attribute="credit_limit", value="5000", reason="risk",
                               steward=steward()),
    )
    assert all(isinstance(o, Override) for o in outcomes), outcomes
    first.refresh_from_db()
    assert first.values["city"] == "Austin" and first.values["credit_limit"] == "5000.00"
    versions = list(GoldenRecordVersion.objects.filter(golden=first).order_by("version")
                    .values_list("version", flat=True))
    assert versions == [1, 2, 3]  # no lost update: each override got its own version
