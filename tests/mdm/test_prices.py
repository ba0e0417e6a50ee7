"""Golden prices: references resolved through the cross-reference, units compared, conflicts raised."""
from __future__ import annotations

import io

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from golden_helpers import fresh, golden_of, ingest, steward

from mdm.models import PriceResolution, SourceRecord, StewardTask
from mdm.services import golden as golden_service
from mdm.services import stewardship
from mdm.services.entity_config import EntityConfigInvalid, check_entity_config
from mdm.services.hierarchy import resolve_source_refs
from mdm.services.prices import (
    _lock_keys,
    reresolve_prices_for_goldens,
    resolve_price_records,
    window_clusters,
)
from mdm.services.stewardship import StewardActionError

pytestmark = pytest.mark.django_db


@pytest.fixture
def price_type(entity_types):
    return entity_types["price"]


@pytest.fixture
def acme(customer_type, erp, crm):
    """One golden customer known to the ERP as C100 and to the CRM as A-1."""
    return golden_of(customer_type, *ingest(erp, customer_type, {"id": "C100", "name": "Acme Supply"}),
                     *ingest(crm, customer_type, {"id": "A-1", "name": "Acme Supply"}))


@pytest.fixture
def gloves(product_type, erp, crm):
    """One golden product, sold by the each (EA) and packed 12 to a case (CS)."""
    return golden_of(product_type,
                     *ingest(erp, product_type, {"id": "P1", "name": "Nitrile gloves", "base_uom": "EA",
                                                 "pack_uom": "CS", "pack_qty": "12"}),
                     *ingest(crm, product_type, {"id": "CP1", "name": "Nitrile Gloves"}))


def price(source, price_type, **values):
    """Ingest one price record and resolve it, as the match task does for prices."""
    record, = ingest(source, price_type, {"currency": "USD", **values})
    resolve_price_records(price_type, [record.pk])
    return fresh(record)


def open_conflicts():
    return list(StewardTask.objects.filter(kind="price_conflict", status="open"))


def test_prices_in_cases_and_eaches_compare_in_the_base_unit(price_type, acme, gloves, erp, crm):
    in_cases = price(erp, price_type, id="E1", customer_id="C100", product_id="P1", unit_price="120.00", uom="case")
    in_eaches = price(crm, price_type, id="Q1", customer_id="A-1", product_id="CP1", unit_price="10.20", uom="EA")
    assert in_cases.golden == in_eaches.golden
    golden = in_cases.golden
    assert golden.golden_id.startswith("PRC-")
    assert golden.values["customer"] == acme.golden_id and golden.values["product"] == gloves.golden_id
    assert golden.values["unit_price"] == "120.00" and golden.values["uom"] == "CS"  # the ERP wins
    assert golden.values["base_uom"] == "EA" and golden.values["unit_price_base"] == "10"
    assert golden.lineage["customer"]["rule"] == "cross_reference"
    assert open_conflicts() == []  # 10.00 vs 10.20 per EA is within 5 %


def test_erp_and_crm_prices_apart_beyond_the_tolerance_raise_one_price_conflict(price_type, acme, gloves, erp, crm):
    price(erp, price_type, id="E1", customer_id="C100", product_id="P1", unit_price="120.00", uom="CS")
    quote = price(crm, price_type, id="Q1", customer_id="A-1", product_id="CP1", unit_price="11.00", uom="EA")
    task, = open_conflicts()
    assert task.golden == quote.golden and task.details["problem"] == "price_mismatch"
    assert "ERP vs CRM prices differ by 9.1% per EA" in task.title
    assert sorted(p["unit_price_base"] for p in task.details["prices"]) == ["10", "11"]
    resolve_price_records(price_type, SourceRecord.objects.filter(entity_type=price_type).values_list("id", flat=True))
    assert len(open_conflicts()) == 1  # deduplicated across re-resolutions
    price(crm, price_type, id="Q1", customer_id="A-1", product_id="CP1", unit_price="10.00", uom="EA")
    assert open_conflicts() == [] and fresh(task).status == "dismissed"


def test_overlapping_windows_for_one_key_raise_a_conflict_and_disjoint_ones_are_separate_prices(
        price_type, acme, gloves, erp, crm):
    last_year = price(erp, price_type, id="E0", customer_id="C100", product_id="P1", unit_price="110", uom="CS",
                      valid_from="2023-01-01", valid_to="2023-12-31")
    this_year = price(erp, price_type, id="E1", customer_id="C100", product_id="P1", unit_price="120", uom="CS",
                      valid_from="2024-01-01", valid_to="2024-12-31")
    assert last_year.golden != this_year.golden and open_conflicts() == []
    quote = price(crm, price_type, id="Q1", customer_id="A-1", product_id="CP1", unit_price="10", uom="EA",
                  valid_from="2024-06-01")
    assert quote.golden == fresh(this_year).golden
    task, = open_conflicts()
    assert task.details["problem"] == "window_overlap" and task.golden == quote.golden
    assert {(p["valid_from"], p["valid_to"]) for p in task.details["prices"]} == {
        ("2024-01-01", "2024-12-31"), ("2024-06-01", None)}


def test_an_unknown_reference_is_kept_with_a_note_and_resolves_when_the_record_arrives(
        price_type, customer_type, gloves, erp):
    early = price(erp, price_type, id="E1", customer_id="C999", product_id="P1", unit_price="120", uom="CS")
    golden = early.golden
    assert "customer" not in golden.values and golden.values["customer_id"] == "C999"
    assert golden.values["data_quality"][0]["code"] == "unresolved_customer"
    newcomer = golden_of(customer_type, *ingest(erp, customer_type, {"id": "C999", "name": "Late Arrival Inc"}))
    golden.refresh_from_db()
    assert golden.values["customer"] == newcomer.golden_id and "data_quality" not in golden.values
    assert PriceResolution.objects.get(record=early).customer_golden == newcomer


def test_a_changed_customer_finds_its_prices_through_indexes_not_by_reading_every_price(
        price_type, customer_type, acme, gloves, erp):
    if connection.vendor != "postgresql":
        pytest.skip("reads PostgreSQL's plan")
    price(erp, price_type, id="E1", customer_id="C100", product_id="P1", unit_price="120", uom="CS")
    # Every match of a customer looks its prices up: among a distributor's
    # thousands of prices, that must not read them all.
    now = timezone.now()
    others = SourceRecord.objects.bulk_create([
        SourceRecord(entity_type=price_type, source_system=erp, source_id=f"X{i}", raw="{}", content_hash="x",
                     received_at=now, created_at=now, needs_match=False) for i in range(3000)])
    PriceResolution.objects.bulk_create([
        PriceResolution(record=r, entity_type=price_type, customer_ref=f"C{i}", product_ref="P1", key=f"k{i}")
        for i, r in enumerate(others)])
    with connection.cursor() as cursor:
        # Both tables: on stale statistics of the records (a fresh test
        # database) the planner may start from them instead.
        cursor.execute("ANALYZE mdm_priceresolution")
        cursor.execute("ANALYZE mdm_sourcerecord")
    with CaptureQueriesContext(connection) as queries:
        touched = reresolve_prices_for_goldens([acme.pk], entity=customer_type)
    assert touched  # E1 re-resolved
    # the first read of the resolutions is the lookup; re-resolving E1 follows it
    lookup = next(q["sql"] for q in queries if 'FROM "mdm_priceresolution"' in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + lookup)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "price_res_customer_golden" in plan and "price_res_customer_record" in plan, plan


def test_a_price_finds_its_customer_by_source_and_id_on_the_index(price_type, customer_type, erp, crm):
    if connection.vendor != "postgresql":
        pytest.skip("reads PostgreSQL's plan")
    # Customers of two sources, some sharing IDs: a reference names its own
    # source, and the lookup must go to that source's ID on the index.
    now = timezone.now()
    SourceRecord.objects.bulk_create([
        SourceRecord(entity_type=customer_type, source_system=source, source_id=f"C{i}", raw="{}", content_hash="x",
                     received_at=now, created_at=now, needs_match=False)
        for source in (erp, crm) for i in range(3000)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE mdm_sourcerecord")
    refs = {(erp.pk, "C7"), (crm.pk, "C7"), (crm.pk, "C2999"), (erp.pk, "missing")}
    with CaptureQueriesContext(connection) as queries:
        found = resolve_source_refs("customer", refs)

    assert set(found) == refs - {(erp.pk, "missing")}
    assert found[(crm.pk, "C2999")][0] == SourceRecord.objects.get(source_system=crm, source_id="C2999").pk
    assert found[(erp.pk, "C7")][0] != found[(crm.pk, "C7")][0]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + next(q["sql"] for q in queries if 'FROM "mdm_sourcerecord"' in q["sql"]))
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan on mdm_sourcerecord" not in plan and "Sort" not in plan, plan


def test_a_customer_change_that_moves_no_reference_leaves_its_prices_alone(price_type, customer_type, acme, gloves,
                                                                           erp, crm):
    contract = price(erp, price_type, id="E1", customer_id="C100", product_id="P1", unit_price="120", uom="CS")
    resolution = PriceResolution.objects.get(record=contract)
    version = contract.golden.version
    # A third record joins the golden customer: it changes, its prices' references do not.
    web, = ingest(crm, customer_type, {"id": "A-2", "name": "Acme Supply Co"})
    with transaction.atomic():
        SourceRecord.objects.filter(pk=web.pk).update(golden=acme)
        golden_service.recompute(customer_type, [acme.pk], reason="match")
    assert fresh(acme).version == 2
    assert fresh(contract).golden.version == version
    assert PriceResolution.objects.get(record=contract).updated_at == resolution.updated_at
    # Once the record it names moves, the price follows.
    stewardship.unmerge_record(record=SourceRecord.objects.get(source_id="C100"), steward=steward())
    moved = PriceResolution.objects.get(record=contract)
    assert moved.customer_golden_id != acme.pk and fresh(contract).golden.values["customer"] != acme.golden_id


@pytest.mark.django_db(transaction=True)
def test_regrouping_locks_the_rows_of_its_keys_and_a_second_transaction_waits_for_them(price_type):
    # Thousands of keys in one transaction (a golden-values job re-resolving the prices of
    # 2,000 customers) as row locks: one advisory lock each ran PostgreSQL's lock table out.
    from contextlib import contextmanager

    from concurrency_helpers import held_elsewhere
    from django.db import OperationalError

    from mdm.models import PriceKeyLock

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL row locks")
    entries = []

    @contextmanager
    def five_thousand_keys_locked():
        with transaction.atomic():
            _lock_keys(price_type, [f"C:{i}|P:1" for i in range(5000)])
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()")
                entries.append(cursor.fetchone()[0])
            yield

    with held_elsewhere(five_thousand_keys_locked):
        assert entries[0] < 20  # the table's and its indexes' locks, none per key
        with pytest.raises(OperationalError, match="lock timeout"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '300ms'")
            _lock_keys(price_type, ["C:4999|P:1", "C:new|P:1"])  # one of them is held
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            _lock_keys(price_type, ["C:new|P:1", "C:other|P:2", "C:new|P:1"])  # none held: no wait
        assert len(queries) == 1
    assert PriceKeyLock.objects.filter(entity_type=price_type).count() == 5002


def test_merging_customers_regroups_their_prices_and_unmerging_separates_them_again(
        price_type, customer_type, gloves, erp, crm):
    erp_acme = golden_of(customer_type, *ingest(erp, customer_type, {"id": "C100", "name": "Acme"}))
    crm_acme = golden_of(customer_type, *ingest(crm, customer_type, {"id": "A-1", "name": "Acme"}))
    contract = price(erp, price_type, id="E1", customer_id="C100", product_id="P1", unit_price="120", uom="CS")
    quote = price(crm, price_type, id="Q1", customer_id="A-1", product_id="CP1", unit_price="13", uom="EA")
    assert contract.golden != quote.golden and open_conflicts() == []
    stewardship.merge_goldens(survivor=erp_acme, others=[crm_acme], steward=steward())
    assert fresh(contract).golden == fresh(quote).golden
    assert fresh(contract).golden.values["customer"] == erp_acme.golden_id
    task, = open_conflicts()  # now the same customer: 10 vs 13 per EA
    stewardship.unmerge_record(record=SourceRecord.objects.get(source_id="A-1"), steward=steward())
    assert fresh(contract).golden != fresh(quote).golden
    assert fresh(quote).golden.values["customer"] == crm_acme.golden_id  # the revived golden customer
    assert fresh(task).status == "dismissed"


def test_a_price_conflict_is_resolved_by_picking_a_sources_price_and_unit(price_type, acme, gloves, erp, crm):
    price(erp, price_type, id="E1", customer_id="C100", product_id="P1", unit_price="120.00", uom="CS")
    quote = price(crm, price_type, id="Q1", customer_id="A-1", product_id="CP1", unit_price="11.00", uom="EA")
    task, = open_conflicts()
    golden = stewardship.resolve_conflict(task=task, steward=steward(), record_id=quote.pk, reason="CRM quote agreed")
    assert (golden.values["unit_price"], golden.values["uom"], golden.values["unit_price_base"]) == ("11.00", "EA", "11")
    resolve_price_records(price_type, [quote.pk])
    assert open_conflicts() == []  # the steward's override answers it


def test_golden_prices_are_not_merged_by_hand(price_type, acme, gloves, erp):
    a = price(erp, price_type, id="E1", customer_id="C100", product_id="P1", unit_price="1", uom="EA",
              valid_to="2029-12-31")
    b = price(erp, price_type, id="E2", customer_id="C100", product_id="P1", unit_price="1", uom="EA",
              valid_from="2030-01-01")
    with pytest.raises(StewardActionError, match="not merged by hand"):
        stewardship.merge_goldens(survivor=a.golden, others=[b.golden], steward=steward())


def test_an_unknown_unit_is_compared_only_with_itself(price_type, acme, gloves, erp, crm):
    pallet = price(erp, price_type, id="E1", customer_id="C100", product_id="P1", unit_price="5000", uom="PL")
    each = price(crm, price_type, id="Q1", customer_id="A-1", product_id="CP1", unit_price="10", uom="EA")
    assert pallet.golden != each.golden
    assert pallet.golden.values["data_quality"][0]["code"] == "no_unit_conversion"


def test_validity_windows_cluster_when_they_overlap():
    from datetime import date

    d = date.fromisoformat
    items = [(1, d("2024-01-01"), d("2024-03-31")), (2, d("2024-03-01"), None), (3, None, d("2023-12-31")),
             (4, d("2022-01-01"), d("2022-06-30"))]
    assert window_clusters(items) == [[3, 4], [1, 2]]


@pytest.mark.parametrize("section, message", [
    ("tolerance: 5", "a fraction between 0 and 1"),
    ("compare_sources: erp", "a list of source system codes"),
    ("key: [customer, colour]", "unknown key part 'colour'"),
    ("uom_conversions: [{from: DZ, to: EA}]", "needs from, to"),
    ("attributes: {customer: buyer}", "unknown attribute 'buyer'"),
])
def test_the_prices_section_is_validated(section, message):
    from tests.conftest import ENTITY_DIR

    text = (ENTITY_DIR / "price.yaml").read_text().split("\nprices:")[0] + f"\nprices:\n  {section}\n"
    with pytest.raises(EntityConfigInvalid, match=message):
        check_entity_config(text, "price.yaml")


def test_a_price_rule_change_previews_what_activation_does(price_type, acme, gloves, erp, crm,
                                                           django_capture_on_commit_callbacks):
    from golden_helpers import admin

    from mdm.services import rules

    price(erp, price_type, id="E1", customer_id="C100", product_id="P1", unit_price="120.00", uom="CS")
    quote = price(crm, price_type, id="Q1", customer_id="A-1", product_id="CP1", unit_price="10.10", uom="EA")
    draft = rules.create_rule_draft(price_type, {
        "default": [{"rule": "source_priority", "sources": ["crm", "erp", "ecom"]}, {"rule": "most_recent"}],
        "critical": []}, admin())
    preview = rules.preview_rule_draft(draft)
    assert preview["changed"] == 1
    assert preview["examples"][0]["diff"]["unit_price"] == ["120.00", "10.10"]
    assert preview["examples"][0]["diff"]["unit_price_base"] == ["10", "10.1"]
    with django_capture_on_commit_callbacks(execute=True):
        job = rules.activate_rule_draft(draft, admin())
    job.refresh_from_db()
    assert job.changed == 1
    golden = fresh(quote).golden
    assert (golden.values["unit_price"], golden.values["uom"], golden.values["unit_price_base"]) == ("10.10", "EA", "10.1")


def test_a_full_price_rematch_reports_its_progress_and_leaves_nothing_pending(
        price_type, acme, gloves, erp, crm, monkeypatch, capsys):
    from django.core.management import call_command

    from mdm.services import prices

    for i in range(5):
        price(erp, price_type, id=f"E{i}", customer_id="C100", product_id="P1", unit_price=str(100 + i), uom="EA",
              min_qty=str(10 * (i + 1)))
    monkeypatch.setattr(prices, "CHUNK", 2)
    # Ingested without their match task having run: pending until resolved.
    SourceRecord.objects.filter(entity_type=price_type).update(needs_match=True)
    seen = []
    resolve_price_records(price_type, None, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert not SourceRecord.objects.filter(entity_type=price_type, needs_match=True).exists()

    # The command's bar (shown on a terminal) counts prices, not the stages of fuzzy matching.
    from mdm.management.commands import match as match_command

    real_tqdm = match_command.tqdm
    monkeypatch.setattr(match_command, "tqdm", lambda *a, **k: real_tqdm(*a, **{**k, "disable": False}))
    out = io.StringIO()
    call_command("match", "--entity", "price", stdout=out)
    assert "5 price records grouped into 5 golden prices" in out.getvalue()
    err = capsys.readouterr().err
    assert "resolve prices" in err and "5/5" in err, err


def test_a_price_ingested_with_its_match_task_is_resolved_and_no_longer_pending(
        price_type, acme, gloves, erp, django_capture_on_commit_callbacks):
    from mdm.services.ingest import ingest_payloads

    with django_capture_on_commit_callbacks(execute=True):  # the ingest enqueues the match task on commit
        result = ingest_payloads(source=erp, entity_type=price_type, payloads=[
            {"id": "E9", "customer_id": "C100", "product_id": "P1", "unit_price": "9.50", "uom": "EA",
             "currency": "USD"}])
    record = SourceRecord.objects.get(pk=result.outcomes[0].record_id)
    assert not record.needs_match and record.golden_id is not None
    assert PriceResolution.objects.get(record=record).customer_golden == acme
