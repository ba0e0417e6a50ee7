"""REST ingestion: POST /api/v1/sources/{source}/{entity_type}/records."""
from __future__ import annotations

import json

import pytest
from django.test import override_settings

from mdm.models import IngestBatch, RejectedRecord, SourceRecord
from mdm.services.sources import set_mapping

pytestmark = pytest.mark.django_db

URL = "/api/v1/sources/{source}/{entity}/records"


@pytest.fixture
def crm_mapping(customer_type, crm):
    set_mapping(source=crm, entity_type=customer_type, spec={
        "id_field": "Id", "updated_at_field": "LastModifiedDate",
        "fields": {"AccountName": "name", "Phone": "phone", "BillingCity": "city"},
    })


def post(client, token, records, source="crm", entity="customer"):
    return client.post(URL.format(source=source, entity=entity), data=json.dumps(records),
                       content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_batch_returns_each_records_outcome(api_client, api_token, crm, crm_mapping):
    token = api_token(source=crm)
    response = post(api_client, token, [
        {"Id": "A1", "AccountName": "Acme Supply", "Phone": "415-555-0134"},
        {"Id": "A2", "AccountName": ""},
        {"Id": "A3", "AccountName": "Beta Corp", "Phone": "nonsense", "OwnerName": "Kim"},
    ])
    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["status"] for r in body["records"]] == ["created", "rejected", "created"]
    assert body["records"][1]["reasons"][0]["code"] == "missing_required"
    assert body["records"][2]["issues"][0]["code"] == "invalid_phone"
    assert body["counts"] == {"rows": 3, "created": 2, "updated": 0, "unchanged": 0, "deleted": 0, "rejected": 1}
    assert body["unmapped_fields"] == ["OwnerName"]
    assert SourceRecord.objects.get(source_id="A3").raw_payload["OwnerName"] == "Kim"

    again = post(api_client, token, [{"Id": "A1", "AccountName": "Acme Supply", "Phone": "415-555-0134"},
                                     {"Id": "A3", "AccountName": "Beta Corporation"}]).json()
    assert [r["status"] for r in again["records"]] == ["unchanged", "updated"]
    assert again["records"][1]["version"] == 2


def test_a_batch_of_ten_thousand_records_is_accepted(api_client, api_token, crm, crm_mapping):
    records = [{"Id": f"B{i}", "AccountName": f"Company {i} Inc"} for i in range(10_000)]
    response = post(api_client, api_token(source=crm), records)
    assert response.status_code == 200
    assert response.json()["counts"]["created"] == 10_000
    assert SourceRecord.objects.count() == 10_000


def test_a_batch_over_the_limit_gets_413_and_writes_nothing(api_client, api_token, crm, crm_mapping):
    with override_settings(MDM_INGEST_MAX_BATCH=5):
        response = post(api_client, api_token(source=crm), [{"Id": str(i), "AccountName": "X"} for i in range(6)])
    assert response.status_code == 413
    assert "exceeds the limit of 5" in response.json()["detail"]
    assert not SourceRecord.objects.exists() and not IngestBatch.objects.exists()


def test_a_crm_token_cannot_write_as_the_erp(api_client, api_token, crm, erp, customer_type, crm_mapping):
    response = post(api_client, api_token(source=crm), [{"id": "E1", "name": "Sneaky"}], source="erp")
    assert response.status_code == 403
    assert "may not write records as source 'erp'" in response.json()["detail"]
    assert not SourceRecord.objects.exists()


def test_calls_without_or_with_a_wrong_token_get_401(api_client, crm, crm_mapping):
    assert api_client.post(URL.format(source="crm", entity="customer"), data="[]",
                           content_type="application/json").status_code == 401
    response = post(api_client, "mdm_deadbeef_nottherightsecret", [])
    assert response.status_code == 401
    assert response.json()["detail"] == "Unknown or malformed API token."
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_malformed_json_and_non_arrays_are_400_with_a_reason(api_client, api_token, crm, crm_mapping):
    token = api_token(source=crm)
    response = api_client.post(URL.format(source="crm", entity="customer"), data='[{"Id": "A1",',
                               content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 400 and "JSON parse error" in response.json()["detail"]
    response = post(api_client, token, {"Id": "A1"})
    assert response.status_code == 400 and "JSON array" in response.json()["detail"]


def test_non_object_items_and_duplicate_ids_are_rejected_individually(api_client, api_token, crm, crm_mapping):
    body = post(api_client, api_token(source=crm), [
        {"Id": "D1", "AccountName": "Dup Co"}, "just a string", {"Id": "D1", "AccountName": "Dup Co again"},
        {"AccountName": "No Id"},
    ]).json()
    assert [r["status"] for r in body["records"]] == ["created", "rejected", "rejected", "rejected"]
    assert [r["reasons"][0]["code"] for r in body["records"][1:]] == ["malformed_row", "duplicate_id", "missing_id"]
    assert RejectedRecord.objects.count() == 3


def test_unknown_source_or_entity_type_is_404(api_client, api_token, crm, crm_mapping):
    token = api_token("write:*")
    assert post(api_client, token, [], source="nope").status_code == 404
    response = post(api_client, token, [], entity="supplier")
    assert response.status_code == 404 and "unknown entity type 'supplier'" in response.json()["detail"]


def test_delete_marks_a_record_deleted_and_keeps_its_history(api_client, api_token, crm, crm_mapping):
    token = api_token(source=crm)
    post(api_client, token, [{"Id": "X1", "AccountName": "Gone Soon Inc"}])
    response = api_client.delete(URL.format(source="crm", entity="customer") + "/X1",
                                 HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response.json()["records"][0]["status"] == "deleted"
    record = SourceRecord.objects.get(source_id="X1")
    assert record.deleted and [v.version for v in record.history()] == [2, 1]
    assert api_client.delete(URL.format(source="crm", entity="customer") + "/nope",
                             HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 404
