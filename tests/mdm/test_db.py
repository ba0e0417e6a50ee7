"""Bulk row writes (mdm.db): a few rows and many rows end up the same as the ORM would write them."""
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from mdm.db import SMALL, JsonText, update_rows, upsert_rows
from mdm.models import GoldenRecord, PriceResolution, SourceRecord
from mdm.services.golden import create_goldens

pytestmark = pytest.mark.django_db

FIELDS = ["version", "values", "status", "display_name", "merged_into", "updated_at"]


@pytest.mark.parametrize("count", [1, 3, SMALL + 5], ids=["one row", "a few rows", "many rows"])
def test_update_rows_sets_every_kind_of_column(customer_type, count):
    goldens = create_goldens(customer_type, count)
    survivor = goldens[0]
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    rows = [(g.pk, 7, JsonText('{"name": "Acme \\u00e9 <b>"}') if i % 2 else {"name": f"N{i}", "n": [1, 2]},
             GoldenRecord.Status.RETIRED, f"Name {i} 'quoted'", survivor.pk if i else None, moment)
            for i, g in enumerate(goldens)]

    assert update_rows(GoldenRecord, FIELDS, rows) == count

    stored = {g.pk: g for g in GoldenRecord.objects.filter(pk__in=[g.pk for g in goldens])}
    for i, golden in enumerate(goldens):
        row = stored[golden.pk]
        assert row.version == 7 and row.status == "retired" and row.updated_at == moment
        assert row.values == ({"name": "Acme é <b>"} if i % 2 else {"name": f"N{i}", "n": [1, 2]})
        assert row.display_name == f"Name {i} 'quoted'"
        assert row.merged_into_id == (survivor.pk if i else None)


def test_update_rows_with_nothing_to_do_writes_nothing():
    assert update_rows(GoldenRecord, FIELDS, []) == 0


def _price_records(entity_type, source, count):
    now = timezone.now()
    return SourceRecord.objects.bulk_create([
        SourceRecord(entity_type=entity_type, source_system=source, source_id=f"P{i}", raw="{}", content_hash="h",
                     received_at=now, created_at=now) for i in range(count)])


UPSERTED = ["record", "entity_type", "key", "notes", "customer_ref", "unit_price", "factor", "valid_from"]


@pytest.mark.parametrize("count", [3, SMALL + 5], ids=["a few rows", "many rows"])
def test_upsert_rows_inserts_new_rows_and_updates_existing_ones(entity_types, erp, count):
    price_type = entity_types["price"]
    records = _price_records(price_type, erp, count)
    existing = records[: count // 2]
    PriceResolution.objects.bulk_create([PriceResolution(record=r, entity_type=price_type, key="old",
                                                         customer_ref="old", price_list="L1") for r in existing])
    before = timezone.now()

    upsert_rows(PriceResolution, UPSERTED, [
        (r.pk, price_type.pk, f"k{i}", [{"code": "note", "text": "<b>é</b>"}], f"C{i}", Decimal("12.34567891"),
         Decimal(1) / 12, date(2026, 1, i % 28 + 1)) for i, r in enumerate(records)], unique="record")

    stored = {p.record_id: p for p in PriceResolution.objects.all()}
    assert len(stored) == count  # one row per record: the existing ones were updated, not duplicated
    for i, record in enumerate(records):
        row = stored[record.pk]
        assert (row.key, row.customer_ref, row.valid_from) == (f"k{i}", f"C{i}", date(2026, 1, i % 28 + 1))
        assert row.notes == [{"code": "note", "text": "<b>é</b>"}]
        assert row.unit_price == Decimal("12.34567891") and row.factor == Decimal("0.083333")
        assert row.updated_at >= before  # auto_now columns are set although not named
        # Fields not named keep their value on an existing row and take the default on a new one.
        assert row.price_list == ("L1" if record in existing else "") and row.product_ref == ""


def test_upsert_rows_with_nothing_to_do_writes_nothing(entity_types):
    upsert_rows(PriceResolution, UPSERTED, [], unique="record")
    assert not PriceResolution.objects.exists()
