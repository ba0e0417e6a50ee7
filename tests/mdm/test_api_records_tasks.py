"""Source records and steward tasks over REST, and search-before-create."""
from __future__ import annotations

import pytest
from publishing_support import make_golden, source_record
from rest_framework.test import APIClient

from mdm.models import StewardTask
from mdm.services.ingest import ingest_payloads
from mdm.services.sources import set_mapping

pytestmark = pytest.mark.django_db


def client_with(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_source_record_shows_its_raw_payload_attributes_golden_link_and_versions(api_token, customer_type, crm):
    set_mapping(source=crm, entity_type=customer_type, spec={"id_field": "Id", "fields": {"AccountName": "name"}})
    ingest_payloads(source=crm, entity_type=customer_type,
                    payloads=[{"Id": "A1", "AccountName": "Acme  Supply", "Extra": "<b>kept</b>"}])
    ingest_payloads(source=crm, entity_type=customer_type, payloads=[{"Id": "A1", "AccountName": "Acme Supply Co"}])
    reader = client_with(api_token("read:customer"))
    body = reader.get("/api/v1/sources/crm/customer/records/A1").json()
    assert body["payload"] == {"Id": "A1", "AccountName": "Acme Supply Co"}
    assert body["version"] == 2 and body["golden_id"] is None and body["attributes"]["name"]
    assert [(v["version"], v["payload"].get("Extra")) for v in body["versions"]] == [(2, None), (1, "<b>kept</b>")]
    assert reader.get("/api/v1/sources/crm/customer/records/nope").status_code == 404


def test_source_records_are_listed_with_filters(api_token, customer_type, erp, crm):
    golden = make_golden(customer_type, source_record(customer_type, erp, "E1", name="Acme"),
                         source_record(customer_type, crm, "C1", name="ACME"))
    source_record(customer_type, crm, "C2", name="Other")
    reader = client_with(api_token("read:customer"))

    def ids(**params):
        return [(r["source"], r["source_id"]) for r in reader.get("/api/v1/customer/records", params).json()["results"]]

    assert ids() == [("erp", "E1"), ("crm", "C1"), ("crm", "C2")]
    assert ids(source="crm") == [("crm", "C1"), ("crm", "C2")]
    assert ids(golden_id=golden.golden_id) == [("erp", "E1"), ("crm", "C1")]
    assert ids(source_id="C2", limit=1) == [("crm", "C2")]


@pytest.fixture
def tasks(customer_type, product_type, erp):
    golden = make_golden(customer_type, source_record(customer_type, erp, "E1", name="Acme"))
    conflict = StewardTask.objects.create(kind="attribute_conflict", entity_type=customer_type, golden=golden,
                                          dedupe_key="c1", title="Acme: sources disagree on credit_limit",
                                          priority=60, details={"attribute": "credit_limit"})
    rejected = StewardTask.objects.create(kind="rejected_record", entity_type=customer_type, dedupe_key="r1",
                                          title="Rejected row", priority=10)
    product = StewardTask.objects.create(kind="rejected_record", entity_type=product_type, dedupe_key="p1",
                                         title="Rejected product", priority=10)
    return conflict, rejected, product


def test_tasks_are_listed_with_filters_and_only_for_readable_entity_types(api_token, tasks):
    conflict, rejected, product = tasks
    bot = client_with(api_token("tasks", "read:customer"))
    body = bot.get("/api/v1/tasks").json()
    assert [t["id"] for t in body["results"]] == [conflict.pk, rejected.pk]  # no product tasks
    assert body["results"][0]["golden_id"] == "CUS-000001" and body["results"][0]["details"]["attribute"] == \
        "credit_limit"
    assert [t["id"] for t in bot.get("/api/v1/tasks", {"kind": "rejected_record"}).json()["results"]] == [rejected.pk]
    assert [t["id"] for t in bot.get("/api/v1/tasks", {"golden_id": "CUS-000001"}).json()["results"]] == [conflict.pk]
    assert bot.get(f"/api/v1/tasks/{product.pk}").status_code == 404
    assert client_with(api_token("read:*")).get("/api/v1/tasks").status_code == 403


def test_tasks_are_listed_by_the_source_system_they_concern(api_token, customer_type, erp, crm, tasks):
    _, rejected, _ = tasks
    StewardTask.objects.filter(pk=rejected.pk).update(source_system=crm)
    ours = make_golden(customer_type, source_record(customer_type, erp, "E7", name="Harbor Supply"))
    theirs = make_golden(customer_type, source_record(customer_type, crm, "C7", name="Harbor Supplies"))
    pair = StewardTask.objects.create(
        kind="possible_match", entity_type=customer_type, golden=ours, other_golden=theirs,
        record=ours.members.get(), other_record=theirs.members.get(), record_source=erp, other_record_source=crm,
        dedupe_key="m1", title="Harbor", priority=50)
    bot = client_with(api_token("tasks", "read:customer"))

    def ids(source):
        return sorted(t["id"] for t in bot.get("/api/v1/tasks", {"source": source}).json()["results"])

    assert ids("crm") == sorted([rejected.pk, pair.pk])
    assert ids("erp") == [pair.pk]
    assert ids("nowhere") == []


def test_automation_closes_a_task_once_with_an_optimistic_lock(api_token, tasks):
    conflict, _, _ = tasks
    bot = client_with(api_token("tasks", "read:customer"))
    stale = bot.post(f"/api/v1/tasks/{conflict.pk}/resolve", {"action": "resolve", "version": 7}, format="json")
    assert stale.status_code == 409 and "changed since you opened it (version 7, now 1)" in stale.json()["detail"]
    done = bot.post(f"/api/v1/tasks/{conflict.pk}/resolve",
                    {"action": "resolve", "resolution": "fixed_at_source", "note": "ERP corrected", "version": 1},
                    format="json")
    assert done.status_code == 200, done.content
    body = done.json()
    assert (body["status"], body["resolution"], body["version"]) == ("resolved", "fixed_at_source", 2)
    assert "ERP corrected" in body["resolution_note"] and body["resolution_note"].startswith("[api:client-")
    again = bot.post(f"/api/v1/tasks/{conflict.pk}/resolve", {"action": "dismiss"}, format="json")
    assert again.status_code == 409 and "already resolved by api:client-" in again.json()["detail"]
    assert bot.post(f"/api/v1/tasks/{conflict.pk}/resolve", {"action": "explode"}, format="json").status_code == 400


def test_search_before_create_ranks_golden_records_and_stores_nothing(api_token, tmp_path):
    from mdm.demo import generator
    from mdm.demo.load import ingest_demo_files, load_configs
    from mdm.models import GoldenRecord, MatchDecision, SourceRecord
    from mdm.services.matching import match_all

    load_configs()
    generator.generate(tmp_path, customers=60, products=5, prices=5, seed=3)
    ingest_demo_files(tmp_path, report=lambda line: None)
    matcher = client_with(api_token("match:customer"))
    untrained = matcher.post("/api/v1/customer/match", {"attributes": {"name": "Acme"}}, format="json")
    assert untrained.status_code == 409 and "no trained model" in untrained.json()["detail"]
    match_all("customer")
    golden = GoldenRecord.objects.filter(entity_type__code="customer", status="active",
                                         values__has_key="phone").first()
    before = (GoldenRecord.objects.count(), SourceRecord.objects.count(), MatchDecision.objects.count())
    candidate = {k: golden.values.get(k) for k in ("name", "city", "region", "postcode", "address_line1")}
    candidate["phone"] = golden.values["phone"][0]["value"]
    response = matcher.post("/api/v1/customer/match", {"attributes": candidate, "limit": 5}, format="json")
    assert response.status_code == 200, response.content
    candidates = response.json()["candidates"]
    assert candidates[0]["golden_id"] == golden.golden_id and candidates[0]["band"] == "match"
    assert all(0 <= c["probability"] <= candidates[0]["probability"] <= 1 for c in candidates)
    assert candidates[0]["golden"]["values"]["name"] == golden.values["name"]
    assert candidates[0]["explanation"]["comparisons"]
    assert (GoldenRecord.objects.count(), SourceRecord.objects.count(), MatchDecision.objects.count()) == before


def test_search_before_create_checks_scope_and_input(api_token, customer_type):
    reader = client_with(api_token("read:customer"))
    assert reader.post("/api/v1/customer/match", {"attributes": {"name": "x"}}, format="json").status_code == 403
    matcher = client_with(api_token("match:customer"))
    bad = matcher.post("/api/v1/customer/match", {"attributes": {"shoe_size": "44"}}, format="json")
    assert bad.status_code == 400 and "shoe_size" in bad.json()["attributes"][0]
    assert matcher.post("/api/v1/customer/match", {"limit": 5}, format="json").status_code == 400
