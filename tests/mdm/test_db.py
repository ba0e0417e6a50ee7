"""Bulk row writes (mdm.db): a few rows and many rows end up the same as the ORM would write them;
the helpers of raw statements read what the ORM would."""
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import DataError, connection, transaction
from django.utils import timezone

from mdm.db import (
    SMALL,
    JsonText,
    binary_results,
    bulk_insert,
    id_in,
    insert_rows,
    json_key_params,
    json_keys,
    json_text,
    marks,
    read_datetime,
    row_lock,
    table,
    update_rows,
    upsert_rows,
)
from mdm.models import GoldenRecord, GoldenRecordVersion, PriceResolution, SourceRecord
from mdm.services.golden import VERSION_FIELDS, create_goldens

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


@pytest.mark.parametrize("count", [1, 3, SMALL + 5], ids=["one row", "a few rows", "many rows"])
def test_bulk_insert_gives_each_object_the_pk_of_its_own_row(customer_type, count):
    goldens = create_goldens(customer_type, count)
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    versions = [GoldenRecordVersion(golden=g, version=1, status="active", merged_into_golden_id="",
                                    values=JsonText(f'{{"name": "N{i} <b>"}}') if i % 2 else {"name": f"N{i}"},
                                    lineage={}, members=[i], reason="ingest", actor="system", note="", created_at=moment)
                for i, g in enumerate(goldens)]

    bulk_insert(versions, VERSION_FIELDS)

    stored = {v.pk: v for v in GoldenRecordVersion.objects.filter(pk__in=[v.pk for v in versions])}
    assert len(stored) == count
    for i, version in enumerate(versions):
        row = stored[version.pk]
        assert row.golden_id == goldens[i].pk and row.members == [i] and row.created_at == moment
        assert row.values == ({"name": f"N{i} <b>"} if i % 2 else {"name": f"N{i}"})


@pytest.mark.parametrize("count", [1, 3, SMALL + 5], ids=["one row", "a few rows", "many rows"])
def test_insert_rows_returning_gives_the_pk_of_each_row_in_order(customer_type, count):
    goldens = create_goldens(customer_type, count)
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    rows = [(g.pk, 1, "active", "", JsonText(f'{{"name": "N{i} <b>"}}') if i % 2 else {"name": f"N{i}"}, {}, [i],
             "ingest", "system", "", moment) for i, g in enumerate(goldens)]

    ids = insert_rows(GoldenRecordVersion, VERSION_FIELDS, rows, returning=True)

    stored = {v.pk: v for v in GoldenRecordVersion.objects.filter(pk__in=ids)}
    assert len(ids) == len(stored) == count
    for i, pk in enumerate(ids):
        row = stored[pk]
        assert row.golden_id == goldens[i].pk and row.members == [i] and row.created_at == moment
        assert row.values == ({"name": f"N{i} <b>"} if i % 2 else {"name": f"N{i}"})


def test_a_too_long_value_is_refused_not_truncated(customer_type):
    golden = create_goldens(customer_type, 1)[0]

    with pytest.raises(DataError):
        insert_rows(GoldenRecordVersion, VERSION_FIELDS, [(golden.pk, 1, "x" * 50, "", {}, {}, [], "ingest", "system",
                                                           "", timezone.now())])


def test_raw_statement_helpers_read_json_keys_datetimes_and_lock_rows(entity_types, erp):
    record = _price_records(entity_types["price"], erp, 1)[0]
    SourceRecord.objects.filter(pk=record.pk).update(attributes={"parent_id": "C-7 'x'", "n": 1})

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT {json_text('attributes')}, received_at FROM {table(SourceRecord)} "
                       f"WHERE id IN ({marks([record.pk, 0])}){row_lock()}", ["parent_id", record.pk, 0])
        parent, received = cursor.fetchone()

    assert parent == "C-7 'x'"
    assert read_datetime(received) == record.received_at and read_datetime(None) is None
    assert marks([1, 2, 3]) == "%s, %s, %s"
    assert row_lock() == " FOR NO KEY UPDATE" and row_lock(skip_locked=True).endswith("SKIP LOCKED")



def test_json_keys_reads_only_the_keys_asked_for_nested_values_whole_absent_ones_null(entity_types, erp):
    record = _price_records(entity_types["price"], erp, 1)[0]
    SourceRecord.objects.filter(pk=record.pk).update(
        attributes={"name": "Acme 'x' <b>", "address": {"line1": "1 Main St", "parts": [1, None]}, "other": 1})
    keys = ["name", "address", "missing", "weird.key"]

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {json_keys('attributes', len(keys))} FROM {table(SourceRecord)} WHERE id = %s",
                       [*json_key_params(keys), record.pk])
        (text,) = cursor.fetchone()

    assert json.loads(text) == {"name": "Acme 'x' <b>", "address": {"line1": "1 Main St", "parts": [1, None]},
                                "missing": None, "weird.key": None}


@pytest.mark.parametrize("count", [1, 3, 6000], ids=["one id", "a few ids", "more ids than a statement's placeholders"])
def test_id_in_finds_exactly_the_rows_asked_for_in_binary_results_too(customer_type, count):
    goldens = create_goldens(customer_type, 3)
    wanted = [goldens[0].pk, goldens[2].pk, *range(10**9, 10**9 + count - 2)][:count]
    among, params = id_in("id", wanted)

    with connection.cursor() as cursor:
        binary_results(cursor)
        cursor.execute(f"SELECT id, golden_id, updated_at FROM {table(GoldenRecord)} WHERE {among} ORDER BY id", params)
        rows = cursor.fetchall()

    expected = [g for g in goldens if g.pk in wanted]
    assert [(pk, golden_id) for pk, golden_id, _ in rows] == [(g.pk, g.golden_id) for g in expected]
    assert [read_datetime(updated) for _, _, updated in rows] == [g.updated_at for g in expected]
