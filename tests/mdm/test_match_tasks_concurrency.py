"""Match tasks running side by side on real PostgreSQL, as a worker with several processes or threads runs them."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest
from concurrency_helpers import held_elsewhere, race
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F
from golden_helpers import fresh, ingest, steward

from mdm.models import EntityType, GoldenRecord, MatchModel, PriceResolution, SourceRecord
from mdm.services.golden import allocate_numbers
from mdm.services.matching import BATCH_GATE, batch_gate, match_pending_records
from mdm.services.stewardship import StewardActionError, merge_goldens

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def price_type(entity_types):
    return entity_types["price"]


@pytest.fixture
def customers(tmp_path):
    """Generated customers ingested with matching deferred: nothing matched, no model yet."""
    from mdm.demo import generator
    from mdm.demo.load import ingest_demo_files, load_configs

    load_configs()
    generator.generate(tmp_path, customers=60, products=5, prices=1, seed=7)
    ingest_demo_files(tmp_path, report=lambda line: None)
    return EntityType.objects.get(code="customer")


def a_price(source, price_type, source_id):
    record, = ingest(source, price_type, {"id": source_id, "customer_id": "C1", "product_id": "P1",
                                          "unit_price": "9.50", "uom": "EA", "currency": "USD"})
    return record


def assert_every_record_in_one_live_golden_record(entity):
    records = SourceRecord.objects.filter(entity_type=entity, deleted=False)
    assert not records.filter(needs_match=True).exists()
    assert not records.filter(golden__isnull=True).exists()
    assert not GoldenRecord.objects.filter(entity_type=entity, status="active").exclude(
        pk__in=records.values("golden_id")).exists()


# --- price tasks ------------------------------------------------------------------


def test_a_price_task_claims_its_records_while_another_transaction_holds_the_price_types_row(price_type, erp):
    theirs, ours = a_price(erp, price_type, "E1"), a_price(erp, price_type, "E2")

    @contextmanager
    def another_task():
        # Its own record, and the price type's row (the golden-ID counter was that row;
        # matching and config changes lock it too): a claim joining that row skipped all.
        with transaction.atomic():
            list(SourceRecord.objects.select_for_update(no_key=True).filter(pk=theirs.pk).values_list("pk"))
            EntityType.objects.filter(pk=price_type.pk).update(golden_seq=F("golden_seq"))
            yield

    with held_elsewhere(another_task, release_after=0.5):
        outcome = match_pending_records(entity_type_id=price_type.pk, record_ids=[ours.pk])

    assert outcome == {"claimed": 1}
    ours = fresh(ours)
    assert not ours.needs_match and ours.golden_id is not None
    assert PriceResolution.objects.filter(record=ours).exists()
    assert fresh(theirs).needs_match  # the other task's record was left to it


def test_golden_numbers_are_given_out_without_waiting_for_another_transaction_to_commit(price_type):
    taken = []

    @contextmanager
    def creating_goldens():  # a price task between its first new golden price and its commit, which fails
        with transaction.atomic():
            taken.extend(allocate_numbers(price_type, 3))
            yield
            transaction.set_rollback(True)

    with held_elsewhere(creating_goldens):
        started = time.monotonic()
        ours = list(allocate_numbers(price_type, 2))
        assert time.monotonic() - started < 1  # it did not wait for the other transaction
    assert len(taken) == 3 and not set(taken) & set(ours)
    # The rolled-back numbers leave a gap; none is given out again.
    assert not set(allocate_numbers(price_type, 2)) & set(taken + ours)


# --- batch runs beside tasks and stewards -----------------------------------------


@pytest.mark.parametrize("round_", range(2))
def test_the_first_match_tasks_at_once_train_one_model_and_leave_no_empty_golden_record(customers, round_):
    ids = sorted(SourceRecord.objects.filter(entity_type=customers).values_list("pk", flat=True))
    half = len(ids) // 2
    outcomes = race(lambda: match_pending_records(entity_type_id=customers.pk, record_ids=ids[:half]),
                    lambda: match_pending_records(entity_type_id=customers.pk, record_ids=ids[half:]))
    assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    assert [o.get("batch") for o in outcomes].count(True) == 1, outcomes  # the other waited, then found it done
    assert MatchModel.objects.filter(entity_type=customers).count() == 1
    assert_every_record_in_one_live_golden_record(customers)


def test_a_match_task_waits_for_a_batch_run_in_progress_then_matches_its_records(customers, erp):
    call_command("match", "--entity", "customer", "--no-progress")
    record, = ingest(erp, customers, {"CustomerNo": "LATE-1", "CustomerName": "Zyxwvut Quantum Widgets LLC",
                                      "City": "Nome"})
    # A re-match between its load and its commit.
    with held_elsewhere(lambda: batch_gate(customers), release_after=0.5):
        started = time.monotonic()
        outcome = match_pending_records(entity_type_id=customers.pk, record_ids=[record.pk])
        waited = time.monotonic() - started
    assert waited >= 0.4 and outcome["claimed"] == 1, (waited, outcome)
    record = fresh(record)
    assert not record.needs_match and record.golden_id is not None


def test_a_steward_action_is_refused_while_a_batch_run_holds_the_gate(customers):
    call_command("match", "--entity", "customer", "--no-progress")
    first, second = GoldenRecord.objects.filter(entity_type=customers, status="active").order_by("pk")[:2]
    with held_elsewhere(lambda: batch_gate(customers)), \
            pytest.raises(StewardActionError, match="re-match of the customer records is running"):
        merge_goldens(survivor=first, others=[second], steward=steward())
    assert GoldenRecord.objects.get(pk=second.pk).status == "active"  # nothing changed
    merged = merge_goldens(survivor=first, others=[second], steward=steward())  # once it is done
    assert merged.pk == first.pk and GoldenRecord.objects.get(pk=second.pk).status == "retired"


def test_the_gate_opens_again_when_a_run_fails_inside_a_transaction(customers):
    # The failed transaction refuses the unlock; the session is ended instead, which releases it.
    with pytest.raises(RuntimeError), transaction.atomic(), batch_gate(customers):
        with pytest.raises(DatabaseError), connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
        raise RuntimeError("the batch run failed")
    taken = []

    def another_run():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [BATCH_GATE, customers.pk])
                taken.append(cursor.fetchone()[0])
                cursor.execute("SELECT pg_advisory_unlock_all()")
        finally:
            connections.close_all()

    other = threading.Thread(target=another_run)
    other.start()
    other.join(10)
    assert taken == [True]
