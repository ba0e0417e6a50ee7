"""Source records and steward tasks over REST, and search-before-create."""
from __future__ import annotations

import pytest
from golden_helpers import fresh, golden_of, ingest, members, payment_terms_conflict, steward
from publishing_support import make_golden, source_record
from rest_framework.test import APIClient

from mdm.models import GoldenRecordVersion, MatchDecision, Override, SourceRecord, StewardTask
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


def test_tasks_about_a_golden_record_include_those_where_it_is_the_other_side(api_token, customer_type, erp, crm):
    ours = make_golden(customer_type, source_record(customer_type, erp, "E7", name="Harbor Supply"))
    theirs = make_golden(customer_type, source_record(customer_type, crm, "C7", name="Harbor Supplies"))
    pair = StewardTask.objects.create(kind="possible_match", entity_type=customer_type, golden=ours,
                                      other_golden=theirs, dedupe_key="m1", title="Harbor", priority=50)
    bot = client_with(api_token("tasks", "read:customer"))

    def ids(golden_id):
        return [t["id"] for t in bot.get("/api/v1/tasks", {"golden_id": golden_id}).json()["results"]]

    assert ids(ours.golden_id) == ids(theirs.golden_id) == [pair.pk]
    assert ids("CUS-999999") == []


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


# --- deciding tasks from automation ------------------------------------------------

@pytest.fixture
def harbor(customer_type, erp, crm):
    """The ERP's and the CRM's golden record of one company, and the possible match between them."""
    e1, = ingest(erp, customer_type, {"id": "E5", "name": "Harbor Supply Inc", "city": "Austin"})
    c1, c2 = ingest(crm, customer_type, {"id": "C5", "name": "HARBOR SUPPLY", "city": "Austin"},
                    {"id": "C6", "name": "Harbor Supply", "email": "ap@harbor.example"})
    ours, theirs = golden_of(customer_type, e1), golden_of(customer_type, c1, c2)
    task = StewardTask.objects.create(kind="possible_match", entity_type=customer_type, golden=ours,
                                      other_golden=theirs, record=e1, other_record=c1, dedupe_key="m:harbor",
                                      title="Harbor?", priority=50)
    return ours, theirs, task


def decide(client, task, **body):
    return client.post(f"/api/v1/tasks/{task.pk}/resolve", body, format="json")


def test_a_client_acting_for_a_steward_merges_a_possible_match_in_the_stewards_name(api_token, harbor):
    ours, theirs, task = harbor
    carol = steward("carol")
    bot = client_with(api_token("tasks", "read:customer", acts_for=carol))
    response = decide(bot, task, action="merge", note="same DUNS number", version=1)
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["resolution"]) == ("resolved", "merged")
    # The proposed survivor is the golden record with more sources; the other retires into it.
    assert fresh(ours).merged_into == theirs and members(theirs) == sorted(
        SourceRecord.objects.values_list("id", flat=True))
    version = GoldenRecordVersion.objects.get(golden=theirs, version=fresh(theirs).version)
    assert (version.reason, version.actor) == ("merge", "carol") and version.note.startswith("[api:client-")
    steward_links = MatchDecision.objects.filter(origin="steward", state="match")
    assert steward_links.exists() and {d.decided_by for d in steward_links} == {carol}
    assert fresh(task).resolved_by == carol and "same DUNS number" in task.resolution_note


def test_a_client_chooses_which_golden_id_survives_a_merge(api_token, harbor):
    ours, theirs, task = harbor
    bot = client_with(api_token("tasks", "read:customer", acts_for=steward()))
    refused = decide(bot, task, action="merge", survivor="CUS-999999")
    assert refused.status_code == 400 and "is not one of the pair" in refused.json()["detail"]
    assert decide(bot, task, action="merge", survivor=ours.golden_id).status_code == 200
    assert fresh(theirs).merged_into == ours and fresh(ours).status == "active"


def test_a_client_marks_not_a_match_and_automation_keeps_them_apart(api_token, harbor):
    ours, theirs, task = harbor
    bot = client_with(api_token("tasks", "read:customer", acts_for=steward()))
    response = decide(bot, task, action="not_a_match", note="different tax ids")
    assert response.status_code == 200 and response.json()["resolution"] == "not_a_match"
    assert fresh(ours).status == fresh(theirs).status == "active"
    across = MatchDecision.objects.filter(state="no_match", origin="steward")
    assert across.count() == 2  # E1 against each CRM record


def test_a_client_without_a_steward_to_act_for_can_close_tasks_but_not_decide_them(api_token, harbor):
    ours, theirs, task = harbor
    bot = client_with(api_token("tasks", "read:customer"))
    refused = decide(bot, task, action="merge")
    assert refused.status_code == 403 and "must set the steward it acts for" in refused.json()["detail"]
    assert fresh(ours).status == "active" and fresh(task).status == "open"
    assert decide(bot, task, action="dismiss").status_code == 200


def test_a_client_acting_for_someone_no_longer_a_steward_is_refused(api_token, harbor):
    _, _, task = harbor
    former = steward("dave")
    former.groups.clear()
    bot = client_with(api_token("tasks", "read:customer", acts_for=former))
    refused = decide(bot, task, action="not_a_match")
    assert refused.status_code == 403 and "dave is not a data steward" in refused.json()["detail"]
    assert fresh(task).status == "open"


def test_a_decision_must_fit_the_kind_of_task(api_token, harbor, tasks):
    _, _, match_task = harbor
    conflict, _, _ = tasks
    bot = client_with(api_token("tasks", "read:customer", acts_for=steward()))
    wrong = decide(bot, conflict, action="merge")
    assert wrong.status_code == 400 and "merge does not answer a task of kind attribute_conflict" in wrong.json()["detail"]
    assert decide(bot, match_task, action="pick", record_id=1, note="?").status_code == 400
    assert decide(bot, match_task, action="not_a_match", record_id=1).status_code == 400  # field of another action
    assert fresh(match_task).status == "open"


def test_a_second_decision_on_the_same_task_gets_409_and_changes_nothing(api_token, harbor):
    ours, theirs, task = harbor
    first = client_with(api_token("tasks", "read:customer", acts_for=steward("erin")))
    second = client_with(api_token("tasks", "read:customer", acts_for=steward("frank")))
    assert decide(first, task, action="not_a_match", version=1).status_code == 200
    late = decide(second, task, action="merge", version=1)
    assert late.status_code == 409 and "erin" in late.json()["detail"]
    assert fresh(ours).status == fresh(theirs).status == "active"


def test_a_client_resolves_a_conflict_with_a_sources_value_or_a_typed_one(api_token, customer_type, erp, crm):
    golden, task, crm_record = payment_terms_conflict(customer_type, erp, crm)
    bot = client_with(api_token("tasks", "read:customer", acts_for=steward("grace")))
    no_reason = decide(bot, task, action="pick", record_id=crm_record.pk)
    assert no_reason.status_code == 400 and "reason" in str(no_reason.json()["note"])
    both = decide(bot, task, action="pick", record_id=crm_record.pk, value="NET60", note="x")
    assert both.status_code == 400 and "either record_id or value" in str(both.json())
    bad = decide(bot, task, action="pick", value="", note="renegotiated")
    assert bad.status_code == 400 and "Give a value for payment_terms" in bad.json()["detail"]
    picked = decide(bot, task, action="pick", record_id=crm_record.pk, note="CRM has the new contract")
    assert picked.status_code == 200 and picked.json()["resolution"] == "override"
    golden = fresh(golden)
    assert golden.values["payment_terms"] == "NET45" and golden.lineage["payment_terms"]["rule"] == "override"
    override = Override.objects.get(golden=golden, attribute="payment_terms")
    assert override.created_by.username == "grace" and "[api:client-" in override.reason


def test_a_signed_in_steward_decides_through_the_api_with_the_session(harbor):
    ours, theirs, task = harbor
    client = APIClient()
    client.force_login(steward("heidi"))
    assert decide(client, task, action="merge").status_code == 200
    assert fresh(task).resolved_by.username == "heidi" and fresh(ours).merged_into == theirs


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
