"""Steward actions on golden records over REST: merge, unmerge, split, override, for automation."""
from __future__ import annotations

import pytest
from golden_helpers import fresh, golden_of, ingest, members, steward
from rest_framework.test import APIClient

from mdm.models import ChangeEvent, GoldenRecordVersion, Override

pytestmark = pytest.mark.django_db


def client_with(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def acme(customer_type, erp, crm):
    """The ERP's golden customer (one record) and the CRM's (two records) of one company."""
    e1, = ingest(erp, customer_type, {"id": "E1", "name": "Acme Supply Inc", "city": "Austin", "payment_terms": "NET30"})
    c1, c2 = ingest(crm, customer_type, {"id": "C1", "name": "ACME SUPPLY", "email": "ap@acme.example"},
                    {"id": "C2", "name": "Acme Supply (Dallas)", "city": "Dallas"})
    return golden_of(customer_type, e1), golden_of(customer_type, c1, c2)


@pytest.fixture
def bot(api_token):
    """A data-quality automation acting for the steward carol."""
    return client_with(api_token("steward:customer", "read:customer", acts_for=steward("carol")))


def test_a_merge_retires_the_others_into_this_golden_record_in_the_stewards_name(bot, acme):
    ours, theirs = acme
    response = bot.post(f"/api/v1/customer/golden/{ours.golden_id}/merge",
                        {"others": [theirs.golden_id], "note": "same DUNS", "version": 1}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["golden_id"] == ours.golden_id and body["values"]["email"] == "ap@acme.example"
    assert fresh(theirs).merged_into == ours and len(members(ours)) == 3
    version = GoldenRecordVersion.objects.get(golden=ours, version=fresh(ours).version)
    assert (version.reason, version.actor) == ("merge", "carol") and version.note.startswith("[api:client-")
    assert ChangeEvent.objects.filter(golden=theirs, event_type="retired").exists()


def test_an_action_on_a_golden_record_that_changed_since_it_was_read_gets_409(bot, acme):
    ours, theirs = acme
    stale = bot.post(f"/api/v1/customer/golden/{ours.golden_id}/merge",
                     {"others": [theirs.golden_id], "version": 7}, format="json")
    assert stale.status_code == 409 and "version 7, now 1" in stale.json()["detail"]
    assert fresh(theirs).status == "active"


def test_an_unmerge_takes_one_source_record_out(bot, acme):
    _, theirs = acme
    response = bot.post(f"/api/v1/customer/golden/{theirs.golden_id}/unmerge",
                        {"source": "crm", "source_id": "C2", "note": "the Dallas branch"}, format="json")
    assert response.status_code == 200, response.content
    landed = response.json()
    assert landed["golden_id"] != theirs.golden_id and landed["sources"] == [{"source": "crm", "source_id": "C2"}]
    assert len(members(theirs)) == 1
    outsider = bot.post(f"/api/v1/customer/golden/{theirs.golden_id}/unmerge",
                        {"source": "erp", "source_id": "E1"}, format="json")
    assert outsider.status_code == 400 and "erp:E1 is not an active record of" in outsider.json()["detail"]
    unknown = bot.post(f"/api/v1/customer/golden/{theirs.golden_id}/unmerge",
                       {"source": "crm", "source_id": "nope"}, format="json")
    assert unknown.status_code == 404
    last = bot.post(f"/api/v1/customer/golden/{theirs.golden_id}/unmerge",
                    {"source": "crm", "source_id": "C1"}, format="json")
    assert last.status_code == 400 and "is the only record of" in last.json()["detail"]


def test_a_split_needs_every_record_in_a_group_and_answers_one_golden_record_per_group(bot, acme):
    _, theirs = acme
    url = f"/api/v1/customer/golden/{theirs.golden_id}/split"
    incomplete = bot.post(url, {"groups": [[{"source": "crm", "source_id": "C1"}], []]}, format="json")
    assert incomplete.status_code == 400
    missing = bot.post(url, {"groups": [[{"source": "crm", "source_id": "C1"}],
                                        [{"source": "crm", "source_id": "C1"}]]}, format="json")
    assert missing.status_code == 400 and "missing: crm:C2" in missing.json()["detail"]
    response = bot.post(url, {"groups": [[{"source": "crm", "source_id": "C1"}],
                                         [{"source": "crm", "source_id": "C2"}]]}, format="json")
    assert response.status_code == 200, response.content
    first, second = response.json()["results"]
    assert first["golden_id"] == theirs.golden_id and second["values"]["city"] == "Dallas"


def test_an_override_wins_until_it_is_cleared(bot, acme):
    ours, _ = acme
    url = f"/api/v1/customer/golden/{ours.golden_id}/overrides/payment_terms"
    response = bot.put(url, {"value": "net 60", "reason": "renegotiated"}, format="json")
    assert response.status_code == 200 and response.json()["values"]["payment_terms"] == "NET 60"
    override = Override.objects.get(golden=ours, attribute="payment_terms")
    assert override.created_by.username == "carol" and override.reason.startswith("[api:client-")
    assert fresh(ours).lineage["payment_terms"]["rule"] == "override"
    bad = bot.put(f"/api/v1/customer/golden/{ours.golden_id}/overrides/credit_limit",
                  {"value": "lots", "reason": "x"}, format="json")
    assert bad.status_code == 400 and "is not a valid credit_limit" in bad.json()["detail"]
    unknown = bot.put(f"/api/v1/customer/golden/{ours.golden_id}/overrides/shoe_size",
                      {"value": "9", "reason": "x"}, format="json")
    assert unknown.status_code == 400 and "has no attribute 'shoe_size'" in unknown.json()["detail"]
    cleared = bot.delete(f"{url}?reason=contract+ended")
    assert cleared.status_code == 200 and cleared.json()["values"]["payment_terms"] == "NET30"
    assert not Override.objects.filter(golden=ours).exists()


def test_steward_actions_need_the_steward_scope_of_the_entity_type_and_a_steward_to_act_for(api_token, acme):
    ours, theirs = acme
    url = f"/api/v1/customer/golden/{ours.golden_id}/merge"
    body = {"others": [theirs.golden_id]}
    reader = client_with(api_token("read:customer", acts_for=steward()))
    assert reader.post(url, body, format="json").status_code == 403
    products_only = client_with(api_token("steward:product", "read:*", acts_for=steward()))
    assert products_only.post(url, body, format="json").status_code == 403
    nobody = client_with(api_token("steward:customer", "read:customer"))
    refused = nobody.post(url, body, format="json")
    assert refused.status_code == 403 and "must set the steward it acts for" in refused.json()["detail"]
    assert fresh(theirs).status == "active"


def test_a_signed_in_steward_acts_with_the_session(acme):
    ours, theirs = acme
    client = APIClient()
    client.force_login(steward("heidi"))
    response = client.post(f"/api/v1/customer/golden/{ours.golden_id}/merge", {"others": [theirs.golden_id]},
                           format="json")
    assert response.status_code == 200
    assert GoldenRecordVersion.objects.get(golden=ours, version=fresh(ours).version).actor == "heidi"
