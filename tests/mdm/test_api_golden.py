"""Golden records over REST: list, filters, cursor, fields, ETag, detail, as_of, history, xref, ack."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from publishing_support import change, make_golden, merge, source_record

from mdm.models import GoldenRecord, GoldenRecordVersion, XrefAcknowledgement

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(api_token):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token('read:customer')}")
    return client


@pytest.fixture
def acme(customer_type, erp, crm):
    return make_golden(customer_type, source_record(customer_type, erp, "E1", name="Acme Supply Inc.", city="Austin"),
                       source_record(customer_type, crm, "C1", name="ACME SUPPLY", city="Austin"))


def many_goldens(entity, source, n: int, prefix: str = "Company"):
    return [make_golden(entity, source_record(entity, source, f"S{i}", name=f"{prefix} {i}")) for i in range(n)]


def test_the_list_pages_through_every_record_with_a_cursor(reader, customer_type, erp):
    made = many_goldens(customer_type, erp, 7)
    seen, url, pages = [], "/api/v1/customer/golden?limit=3", 0
    while url:
        body = reader.get(url).json()
        seen += [r["golden_id"] for r in body["results"]]
        url, pages = body["next"], pages + 1
    assert sorted(seen) == sorted(g.golden_id for g in made) and len(seen) == 7 and pages == 3


def test_updated_since_and_the_cursor_serve_an_incremental_sync(reader, customer_type, erp, settings):
    settings.MDM_SYNC_MARGIN = 0  # nothing else writes here: the cursor can stand right after the last row
    first = many_goldens(customer_type, erp, 3)
    body = reader.get("/api/v1/customer/golden").json()
    cursor = body["next_cursor"]
    assert len(body["results"]) == 3 and body["next"] is None and cursor
    change(first[1].members.first(), city="Dallas")
    later = reader.get("/api/v1/customer/golden", {"cursor": cursor}).json()
    assert [(r["golden_id"], r["version"]) for r in later["results"]] == [(first[1].golden_id, 2)]
    assert reader.get("/api/v1/customer/golden", {"cursor": later["next_cursor"]}).json()["results"] == []
    since = GoldenRecord.objects.get(pk=first[1].pk).updated_at.isoformat()
    assert [r["golden_id"] for r in reader.get("/api/v1/customer/golden", {"updated_since": since}).json()["results"]] \
        == [first[1].golden_id]


def test_a_change_committed_late_with_an_earlier_time_is_not_skipped_by_a_sync(
        transactional_db, reader, customer_type, erp, settings):
    import psycopg
    from django.db import connection

    settings.MDM_SYNC_MARGIN = 0  # the open transaction alone must hold the cursor back
    slow, quick = many_goldens(customer_type, erp, 2)
    GoldenRecord.objects.update(updated_at=timezone.now() - timedelta(minutes=5))
    cursor = reader.get("/api/v1/customer/golden").json()["next_cursor"]
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], port=db["PORT"], dbname=db["NAME"], user=db["USER"],
                         password=db["PASSWORD"]) as other:
        # Another process changes `slow` in a transaction that takes a while: its time is its start.
        other.execute("UPDATE mdm_goldenrecord SET version = version + 1, updated_at = now() WHERE id = %s",
                      [slow.pk])
        change(quick.members.get(), city="Dallas")  # committed meanwhile, with a later time
        first = reader.get("/api/v1/customer/golden", {"cursor": cursor}).json()
        assert [r["golden_id"] for r in first["results"]] == [quick.golden_id]
        other.commit()
    resumed = reader.get("/api/v1/customer/golden", {"cursor": first["next_cursor"]}).json()
    assert slow.golden_id in [r["golden_id"] for r in resumed["results"]]


def test_the_newest_changes_come_again_until_they_settle_and_none_is_skipped(reader, customer_type, erp, settings):
    settings.MDM_SYNC_MARGIN = 60
    old = many_goldens(customer_type, erp, 3, prefix="Old")
    GoldenRecord.objects.filter(pk__in=[g.pk for g in old]).update(updated_at=timezone.now() - timedelta(minutes=5))
    new = [make_golden(customer_type, source_record(customer_type, erp, f"N{i}", name=f"New {i}")) for i in range(2)]
    seen, url = [], "/api/v1/customer/golden?limit=2"
    while url:
        body = reader.get(url).json()
        seen += [r["golden_id"] for r in body["results"]]
        url = body["next"]
    assert seen == [g.golden_id for g in old + new]
    again = reader.get("/api/v1/customer/golden", {"cursor": body["next_cursor"]}).json()
    assert [r["golden_id"] for r in again["results"]] == [g.golden_id for g in new]  # the last minute, again
    listing = reader.get("/api/v1/customer/golden")
    assert reader.get("/api/v1/customer/golden", HTTP_IF_NONE_MATCH=listing["ETag"]).status_code == 304


def test_filters_by_status_id_source_and_name(reader, customer_type, erp, crm, acme):
    beta = make_golden(customer_type, source_record(customer_type, erp, "E2", name="Beta Tools"))

    def ids(**params):
        return [r["golden_id"] for r in reader.get("/api/v1/customer/golden", params).json()["results"]]

    assert ids(search="beta") == [beta.golden_id]
    assert ids(source="crm") == [acme.golden_id]
    assert ids(golden_id=f"{acme.golden_id},{beta.golden_id}") == [acme.golden_id, beta.golden_id]
    assert ids(status="retired") == []
    response = reader.get("/api/v1/customer/golden", {"status": "exploded"})
    assert response.status_code == 400 and "status" in response.json()
    response = reader.get("/api/v1/customer/golden", {"search": "be"})  # would scan every golden record
    assert response.status_code == 400 and "at least 3 characters" in response.json()["search"][0]
    response = reader.get("/api/v1/customer/golden", {"updated_since": "last tuesday"})
    assert response.status_code == 400 and "updated_since" in response.json()


def test_fields_selects_top_level_keys_and_single_attributes(reader, acme):
    body = reader.get("/api/v1/customer/golden", {"fields": "golden_id,values.name"}).json()
    assert body["results"] == [{"golden_id": acme.golden_id, "values": {"name": "Acme Supply Inc."}}]
    bad = reader.get("/api/v1/customer/golden", {"fields": "golden_id,password"})
    assert bad.status_code == 400 and "unknown field(s): password" in bad.json()["fields"][0]


def test_list_queries_do_not_grow_with_the_page(reader, customer_type, erp, crm, django_assert_num_queries):
    for i in range(30):
        make_golden(customer_type, source_record(customer_type, erp, f"E{i}", name=f"Co {i}"),
                    source_record(customer_type, crm, f"C{i}", name=f"CO {i}"))
    reader.get("/api/v1/customer/golden", {"limit": 1})  # warm: last-used stamp, entity type cache
    # token lookup + the sync horizon + the page (members and survivor IDs in the same query) + the member records
    with django_assert_num_queries(4):
        small = reader.get("/api/v1/customer/golden", {"include": "lineage,sources", "limit": 5}).json()
    with django_assert_num_queries(4):
        body = reader.get("/api/v1/customer/golden", {"include": "lineage,sources", "limit": 30}).json()
    assert len(small["results"]) == 5
    assert len(body["results"]) == 30 and all(len(r["source_records"]) == 2 for r in body["results"])
    assert all(len(r["sources"]) == 2 for r in body["results"])


def test_etag_and_if_none_match_answer_304_until_the_record_changes(reader, acme):
    url = f"/api/v1/customer/golden/{acme.golden_id}"
    first = reader.get(url)
    etag = first["ETag"]
    assert first.status_code == 200 and etag
    assert reader.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    change(acme.members.get(source_system__code="erp"), city="Dallas")
    again = reader.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 200 and again["ETag"] != etag and again.json()["version"] == 2
    listing = reader.get("/api/v1/customer/golden")
    assert reader.get("/api/v1/customer/golden", HTTP_IF_NONE_MATCH=listing["ETag"]).status_code == 304


def test_the_detail_includes_lineage_and_source_records_on_request(reader, acme):
    plain = reader.get(f"/api/v1/customer/golden/{acme.golden_id}").json()
    assert plain["values"]["name"] == "Acme Supply Inc." and "lineage" not in plain
    assert plain["sources"] == [{"source": "crm", "source_id": "C1"}, {"source": "erp", "source_id": "E1"}]
    full = reader.get(f"/api/v1/customer/golden/{acme.golden_id}", {"include": "lineage,sources"}).json()
    assert full["lineage"]["name"]["source"] == "erp"
    assert [(r["source"], r["attributes"]["name"]) for r in full["source_records"]] == [
        ("crm", "ACME SUPPLY"), ("erp", "Acme Supply Inc.")]
    assert reader.get(f"/api/v1/customer/golden/{acme.golden_id}", {"include": "gossip"}).status_code == 400


def test_as_of_reads_the_version_valid_at_that_time(reader, acme):
    change(acme.members.get(source_system__code="erp"), name="Acme Supply Holdings")
    v1, v2 = GoldenRecordVersion.objects.filter(golden=acme).order_by("version")
    url = f"/api/v1/customer/golden/{acme.golden_id}"
    assert reader.get(url).json()["values"]["name"] == "Acme Supply Holdings"
    old = reader.get(url, {"as_of": v1.created_at.isoformat(), "include": "lineage"}).json()
    assert old["version"] == 1 and old["values"]["name"] == "Acme Supply Inc." and old["lineage"]["name"]
    assert old == {**acme.events.get(golden_version=1).payload, "lineage": old["lineage"]}
    assert reader.get(url, {"as_of": v2.created_at.isoformat()}).json()["version"] == 2
    before = reader.get(url, {"as_of": "2001-01-01T00:00:00Z"})
    assert before.status_code == 404 and "did not exist yet" in before.json()["detail"]
    assert reader.get(url, {"as_of": "yesterday"}).status_code == 400
    history = reader.get(url + "/versions").json()
    assert [(h["version"], h["reason"]) for h in history] == [(2, "ingest"), (1, "match")]


def test_a_retired_id_answers_with_its_survivor_and_says_so(reader, customer_type, erp, crm):
    survivor = make_golden(customer_type, source_record(customer_type, erp, "E1", name="Acme"))
    absorbed = make_golden(customer_type, source_record(customer_type, crm, "C1", name="ACME"))
    merge(customer_type, survivor, absorbed)
    body = reader.get(f"/api/v1/customer/golden/{absorbed.golden_id}").json()
    assert body["golden_id"] == survivor.golden_id and body["resolved_from"] == absorbed.golden_id
    raw = reader.get(f"/api/v1/customer/golden/{absorbed.golden_id}", {"resolve": "false"}).json()
    assert raw["status"] == "retired" and raw["merged_into"] == survivor.golden_id
    xref = reader.get(f"/api/v1/customer/golden/{absorbed.golden_id}/xref").json()
    assert xref["golden_id"] == survivor.golden_id and xref["resolved_from"] == absorbed.golden_id
    assert [(x["source"], x["source_id"]) for x in xref["xref"]] == [("crm", "C1"), ("erp", "E1")]


def test_unknown_records_and_entity_types_are_404(reader, acme):
    assert reader.get("/api/v1/customer/golden/CUS-999999").status_code == 404
    assert reader.get(f"/api/v1/product/golden/{acme.golden_id}").status_code in (403, 404)
    response = reader.get("/api/v1/supplier/golden")
    assert response.status_code == 404 and "unknown entity type 'supplier'" in response.json()["detail"]


def test_xref_from_a_source_id_to_the_golden_record(reader, acme):
    body = reader.get("/api/v1/xref/crm/C1").json()
    assert body["golden_id"] == acme.golden_id and body["golden"]["values"]["name"] == "Acme Supply Inc."
    assert reader.get("/api/v1/xref/crm/C1", {"entity_type": "customer"}).json()["golden_id"] == acme.golden_id
    missing = reader.get("/api/v1/xref/crm/nope")
    assert missing.status_code == 404 and "no record 'nope' from crm" in missing.json()["detail"]
    assert reader.get("/api/v1/xref/nosuch/C1").status_code == 404


def test_xref_of_a_record_not_yet_matched_says_so(reader, customer_type, crm):
    source_record(customer_type, crm, "C9", name="Lonely")
    response = reader.get("/api/v1/xref/crm/C9")
    assert response.status_code == 404 and "not linked to a golden record yet" in response.json()["detail"]


def test_a_source_system_acknowledges_a_write_back_and_the_xref_shows_it(api_client, api_token, reader, acme, erp):
    token = api_token(source=erp)
    url = f"/api/v1/customer/golden/{acme.golden_id}/ack"
    response = api_client.post(url, {"source_ids": ["E1", "ERP-NEW-77"], "version": 1, "webhook_id": "msg_1"},
                               format="json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    xref = {(x["source"], x["source_id"]): x for x in response.json()["xref"]}
    assert xref[("erp", "E1")]["acknowledged_version"] == 1 and xref[("erp", "E1")]["in_hub"]
    assert xref[("erp", "ERP-NEW-77")]["in_hub"] is False and xref[("erp", "ERP-NEW-77")]["acknowledged_at"]
    assert xref[("crm", "C1")]["acknowledged_version"] is None
    # the acknowledged ID now resolves through the cross-reference too
    assert reader.get("/api/v1/xref/erp/ERP-NEW-77").json()["golden_id"] == acme.golden_id
    too_new = api_client.post(url, {"source_ids": ["E1"], "version": 5}, format="json",
                              HTTP_AUTHORIZATION=f"Bearer {token}")
    assert too_new.status_code == 400 and "is at version 1" in too_new.json()["version"][0]
    ack = XrefAcknowledgement.objects.get(source_id="ERP-NEW-77")
    assert ack.acknowledged_by.startswith("client-") and ack.webhook_id == "msg_1"


def test_only_the_source_itself_may_acknowledge(api_client, api_token, acme, crm):
    response = api_client.post(f"/api/v1/customer/golden/{acme.golden_id}/ack",
                               {"source": "erp", "source_ids": ["E1"], "version": 1}, format="json",
                               HTTP_AUTHORIZATION=f"Bearer {api_token(source=crm)}")
    assert response.status_code == 403 and "write:erp" in response.json()["detail"]
    assert not XrefAcknowledgement.objects.exists()


def test_hostile_text_comes_back_as_data(reader, customer_type, erp):
    name = '<script>alert("x")</script> & Sons'
    golden = make_golden(customer_type, source_record(customer_type, erp, "E1", name=name))
    response = reader.get(f"/api/v1/customer/golden/{golden.golden_id}")
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content)["values"]["name"] == name
    assert timezone.now()
