"""Price match tasks running side by side on real PostgreSQL (a worker runs two at once)."""
from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction
from django.db.models import F
from golden_helpers import fresh, ingest

from mdm.models import EntityType, PriceResolution
from mdm.services.matching import match_pending_records

pytestmark = pytest.mark.django_db(transaction=True)


def a_price(source, price_type, source_id):
    record, = ingest(source, price_type, {"id": source_id, "customer_id": "C1", "product_id": "P1",
                                          "unit_price": "9.50", "uom": "EA", "currency": "USD"})
    return record


def test_a_price_task_claims_its_records_while_another_price_task_holds_the_counter(price_type, erp):
    assert connection.vendor == "postgresql"
    theirs, ours = a_price(erp, price_type, "E1"), a_price(erp, price_type, "E2")
    holding, release = threading.Event(), threading.Event()

    def running_task():
        # What a price task holds from its first new golden price to its commit:
        # its own records and the price type's golden-ID counter.
        try:
            with transaction.atomic():
                list(type(theirs).objects.select_for_update(no_key=True).filter(pk=theirs.pk).values_list("pk"))
                EntityType.objects.filter(pk=price_type.pk).update(golden_seq=F("golden_seq"))
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    other = threading.Thread(target=running_task)
    other.start()
    try:
        assert holding.wait(10)
        # The counter is released shortly after: ours may wait for it, but must not skip its records.
        threading.Timer(0.5, release.set).start()
        outcome = match_pending_records(entity_type_id=price_type.pk, record_ids=[ours.pk])
    finally:
        release.set()
        other.join(10)

    assert outcome == {"claimed": 1}
    ours = fresh(ours)
    assert not ours.needs_match and ours.golden_id is not None
    assert PriceResolution.objects.filter(record=ours).exists()
    assert fresh(theirs).needs_match  # the other task's record was left to it


@pytest.fixture
def price_type(entity_types):
    return entity_types["price"]
