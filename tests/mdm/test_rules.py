"""Survivorship rule changes: a draft until activated, previewed without writing, recomputed in the background."""
from __future__ import annotations

import time

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from golden_helpers import admin, golden_of, ingest, steward

from mdm.models import (
    ChangeEvent,
    EntityConfigVersion,
    EntityType,
    GoldenRecord,
    GoldenRecordVersion,
    RuleChangeJob,
)
from mdm.services import rules
from mdm.services.entity_config import save_entity_config
from mdm.services.rules import RuleDraftError, RuleDraftInvalid

pytestmark = pytest.mark.django_db

# The shipped customer rules, except that the CRM, not the ERP, now wins the company name.
CRM_WINS_NAMES = """\
# reviewed with sales ops
default: [{rule: valid_only}, {rule: source_priority, sources: [erp, crm, ecom]}, {rule: most_recent}]
attributes:
  name: [{rule: source_priority, sources: [crm, erp]}]   # CRM spelling is curated
  tax_id: [{rule: valid_only}, {rule: source_priority, sources: [erp, crm, ecom]}]
  credit_limit: [{rule: source_priority, sources: [erp]}, {rule: maximum}]
  payment_terms: [{rule: source_priority, sources: [erp, crm]}]
  email: [{rule: source_priority, sources: [crm, ecom, erp]}, {rule: most_recent}]
  phone: [{rule: aggregate}]
  contact_name: [{rule: source_priority, sources: [crm, ecom, erp]}, {rule: most_recent}]
critical: [credit_limit, payment_terms, tax_id]
"""


@pytest.fixture
def customers(customer_type, erp, crm):
    """Four golden customers; in three of them ERP and CRM spell the name differently."""
    goldens = []
    for i, (erp_name, crm_name) in enumerate([("Acme Supply Inc", "ACME SUPPLY"), ("Bolt Co", "Bolt Company"),
                                               ("Cogs LLC", "Cogs LLC"), ("Dyna Corp", "Dyna Corporation")]):
        e, = ingest(erp, customer_type, {"id": f"E{i}", "name": erp_name, "city": "Austin", "credit_limit": "100"})
        c, = ingest(crm, customer_type, {"id": f"C{i}", "name": crm_name, "city": "Dallas"})
        goldens.append(golden_of(customer_type, e, c))
    return goldens


def activate_now(draft, user, django_capture_on_commit_callbacks):
    """Activate and run the background job in-process (Celery eager), as it runs on commit."""
    with django_capture_on_commit_callbacks(execute=True):
        job = rules.activate_rule_draft(draft, user)
    job.refresh_from_db()
    return job


# --- drafts ----------------------------------------------------------------------

def test_a_draft_changes_nothing_until_activated(customer_type, customers):
    before = {g.pk: g.values for g in GoldenRecord.objects.all()}
    draft = rules.create_rule_draft(customer_type, CRM_WINS_NAMES, admin())
    customer_type.refresh_from_db()
    assert draft.status == "draft" and draft.version == 2 and draft.base_version == 1
    assert customer_type.version == 1 and "curated" not in customer_type.config_yaml
    assert {g.pk: g.values for g in GoldenRecord.objects.all()} == before


def test_a_draft_keeps_the_admins_comments_and_the_rest_of_the_config(customer_type):
    draft = rules.create_rule_draft(customer_type, CRM_WINS_NAMES, admin())
    assert "# CRM spelling is curated" in draft.config_yaml and "# reviewed with sales ops" in draft.config_yaml
    assert "# Customer master: accounts from ERP, CRM, eCommerce." in draft.config_yaml
    assert draft.config["attributes"] == customer_type.config["attributes"]
    assert draft.config["survivorship"]["attributes"]["name"] == [{"rule": "source_priority", "sources": ["crm", "erp"]}]


def test_editing_a_draft_locks_the_draft_alone_not_its_entity_type(customer_type):
    # Ingests and matching of the entity type go on while an admin saves a draft.
    draft = rules.create_rule_draft(customer_type, CRM_WINS_NAMES, admin())
    with CaptureQueriesContext(connection) as queries:
        rules.update_rule_draft(draft, CRM_WINS_NAMES.replace("[crm, erp]", "[crm, ecom, erp]"), admin())
    locks = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    assert locks and all("mdm_entitytype" not in sql for sql in locks), locks


@pytest.mark.parametrize("rules_input", [
    "survivorship:\n  default: [{rule: most_recent}]\n",
    {"default": [{"rule": "most_recent"}]},
    "default: [most_recent]\n",
])
def test_rules_may_be_given_as_a_mapping_or_yaml_with_or_without_the_section_key(customer_type, rules_input):
    draft = rules.create_rule_draft(customer_type, rules_input, admin())
    assert draft.config["survivorship"]["default"] in ([{"rule": "most_recent"}], ["most_recent"])


def test_an_invalid_draft_is_refused_with_paths_and_lines(customer_type):
    text = CRM_WINS_NAMES.replace("rule: aggregate", "rule: agregate").replace("critical: [credit_limit,",
                                                                               "critical: [credit_limt,")
    with pytest.raises(RuleDraftInvalid) as error:
        rules.create_rule_draft(customer_type, text, admin())
    messages = error.value.errors
    assert any(m.startswith("line 9, survivorship.attributes.phone[0].rule: unknown rule 'agregate'") for m in messages)
    assert any("line 11" in m and "unknown attribute 'credit_limt'" in m for m in messages)
    assert not EntityConfigVersion.objects.filter(status="draft").exists()


def test_only_admins_change_rules(customer_type):
    with pytest.raises(PermissionDenied):
        rules.create_rule_draft(customer_type, CRM_WINS_NAMES, steward())


def test_versions_are_one_sequence_shared_by_drafts_and_loaded_configs(customer_type):
    draft = rules.create_rule_draft(customer_type, CRM_WINS_NAMES, admin())
    text = customer_type.config_yaml.replace("name: Customer", "name: Customer account")
    entity, _, changed = save_entity_config(text)
    assert changed and entity.version == 3 and draft.version == 2
    assert list(EntityConfigVersion.objects.filter(entity_type=entity).order_by("version")
                .values_list("version", "status")) == [(1, "archived"), (2, "draft"), (3, "active")]


# --- preview ---------------------------------------------------------------------

def test_the_preview_counts_the_golden_records_that_would_change_and_shows_diffs(customer_type, customers):
    draft = rules.create_rule_draft(customer_type, CRM_WINS_NAMES, admin())
    versions, events = GoldenRecordVersion.objects.count(), ChangeEvent.objects.count()
    preview = rules.preview_rule_draft(draft, examples=2)
    assert preview["total"] == 4 and preview["changed"] == 3 and preview["attributes"] == ["name"]
    assert preview["examples"] == [
        {"golden_id": customers[0].golden_id, "diff": {"name": ["Acme Supply Inc.", "Acme Supply"]}},
        {"golden_id": customers[1].golden_id, "diff": {"name": ["Bolt Co.", "Bolt Company"]}},
    ]
    assert (GoldenRecordVersion.objects.count(), ChangeEvent.objects.count()) == (versions, events)


def test_the_preview_equals_what_activation_then_does(customer_type, customers, django_capture_on_commit_callbacks):
    draft = rules.create_rule_draft(customer_type, CRM_WINS_NAMES.replace("critical: [credit_limit, payment_terms, tax_id]",
                                                                          "critical: []"), admin())
    preview = rules.preview_rule_draft(draft, examples=100)
    before = {g.golden_id: g.values for g in GoldenRecord.objects.all()}
    job = activate_now(draft, admin("root"), django_capture_on_commit_callbacks)
    after = {g.golden_id: g.values for g in GoldenRecord.objects.all()}
    actual = {gid: {k: [before[gid].get(k), after[gid].get(k)] for k in set(before[gid]) | set(after[gid])
                    if before[gid].get(k) != after[gid].get(k)} for gid in before}
    actual = {gid: diff for gid, diff in actual.items() if diff}
    assert job.status == "completed" and job.processed == job.total == preview["total"] == 4
    assert job.changed == preview["changed"] == len(actual) == 3
    assert {e["golden_id"]: e["diff"] for e in preview["examples"]} == actual
    changed = GoldenRecordVersion.objects.filter(reason="rule_change")
    assert {v.actor for v in changed} == {"root"} and changed.count() == job.versions_written
    assert {v.note for v in changed} == {f"rules v{draft.version}"}


def test_a_rule_change_that_moves_no_value_previews_as_no_change(customer_type, customers):
    # The name chain changes after its deciding rule (source_priority): no value moves.
    text = CRM_WINS_NAMES.replace("[{rule: source_priority, sources: [crm, erp]}]",
                                  "[{rule: source_priority, sources: [erp, crm, ecom]}, {rule: most_recent}]")
    preview = rules.preview_rule_draft(rules.create_rule_draft(customer_type, text, admin()))
    assert preview["changed"] == 0 and preview["examples"] == []


def test_an_override_holds_through_a_rule_change(customer_type, customers, django_capture_on_commit_callbacks):
    from mdm.services.stewardship import set_override

    set_override(golden=customers[0], attribute="name", value="Acme Supply (HQ)", reason="legal name", steward=steward())
    draft = rules.create_rule_draft(customer_type, CRM_WINS_NAMES, admin())
    assert rules.preview_rule_draft(draft)["changed"] == 2
    activate_now(draft, admin(), django_capture_on_commit_callbacks)
    customers[0].refresh_from_db()
    assert customers[0].values["name"] == "Acme Supply (HQ)"
    assert customers[0].lineage["name"]["override"]["computed"] == "Acme Supply"


# --- activation ------------------------------------------------------------------

def test_activation_switches_the_rules_and_archives_the_old_ones(customer_type, customers,
                                                                django_capture_on_commit_callbacks):
    draft = rules.create_rule_draft(customer_type, CRM_WINS_NAMES, admin())
    job = activate_now(draft, admin("root"), django_capture_on_commit_callbacks)
    customer_type.refresh_from_db()
    draft.refresh_from_db()
    assert customer_type.version == draft.version and "# CRM spelling is curated" in customer_type.config_yaml
    assert draft.status == "active" and draft.activated_by == "root" and draft.activated_at
    assert EntityConfigVersion.objects.get(entity_type=customer_type, version=1).status == "archived"
    assert job.config_version == draft and job.percent == 100
    with pytest.raises(RuleDraftError, match="not a draft"):
        rules.activate_rule_draft(draft, admin())


def test_a_draft_written_before_another_config_change_does_not_revert_it(customer_type, customers,
                                                                        django_capture_on_commit_callbacks):
    draft = rules.create_rule_draft(customer_type, CRM_WINS_NAMES, admin())
    save_entity_config(customer_type.config_yaml.replace("name: Customer\n", "name: Customer account\n"))
    activate_now(draft, admin(), django_capture_on_commit_callbacks)
    customer = EntityType.objects.get(code="customer")
    assert customer.name == "Customer account" and customer.config["name"] == "Customer account"
    assert customer.config["survivorship"]["attributes"]["name"][0]["sources"] == ["crm", "erp"]


def test_going_back_to_an_earlier_rule_set_is_a_new_draft_of_its_rules(customer_type, customers,
                                                                      django_capture_on_commit_callbacks):
    original = EntityConfigVersion.objects.get(entity_type=customer_type, version=1)
    activate_now(rules.create_rule_draft(customer_type, CRM_WINS_NAMES, admin()), admin(),
                 django_capture_on_commit_callbacks)
    back = rules.draft_from_version(original, admin())
    assert back.version == 3 and back.note == "back to the rules of v1"
    assert rules.preview_rule_draft(back)["changed"] == 3
    activate_now(back, admin(), django_capture_on_commit_callbacks)
    assert GoldenRecord.objects.get(pk=customers[1].pk).values["name"] == "Bolt Co."


def test_a_newer_activation_supersedes_a_job_still_running(customer_type, customers):
    first = rules.activate_rule_draft(rules.create_rule_draft(customer_type, CRM_WINS_NAMES, admin()), admin())
    second = rules.activate_rule_draft(rules.create_rule_draft(customer_type, "default: [most_recent]\n", admin()),
                                       admin())
    first.refresh_from_db()
    assert first.status == "superseded" and second.status == "pending"
    assert rules.run_recompute_job(first.pk) is None  # a superseded job is never claimed
    assert rules.run_recompute_job(second.pk).status == "completed"
    assert rules.run_recompute_job(second.pk) is None  # nor a finished one twice


def test_a_job_runs_in_slices_and_completes_when_the_last_one_is_done(customer_type, customers):
    from mdm.models import RuleChangeSlice

    job = rules.activate_rule_draft(rules.create_rule_draft(customer_type, CRM_WINS_NAMES, admin()), admin())
    slice_ids = rules.plan_job(job.pk, slices=3)
    assert [s.last_pk - s.first_pk >= 0 for s in RuleChangeSlice.objects.filter(job=job)] == [True] * 3
    rules.run_slice(slice_ids[0])
    rules.run_slice(slice_ids[1])
    job.refresh_from_db()
    assert job.status == "running" and 0 < job.processed < 4
    assert rules.run_slice(slice_ids[0]) is None  # a finished slice is not run twice
    rules.run_slice(slice_ids[2])
    job.refresh_from_db()
    assert job.status == "completed" and job.processed == 4 and job.changed == 3


@pytest.mark.django_db(transaction=True)
def test_a_chunk_rolled_back_by_a_deadlock_is_run_again(customer_type, customers):
    # A real deadlock: another transaction holds the chunk's last golden row, and once the
    # slice (locking in id order) waits for it, asks for the first, which the slice holds.
    # PostgreSQL aborts the slice's transaction (the other waits longer before it checks).
    import threading

    from django.db import connections, transaction

    from mdm.celery import app

    app.conf.task_always_eager = False  # the job is run below, not as the activation commits
    try:
        job = rules.activate_rule_draft(rules.create_rule_draft(customer_type, CRM_WINS_NAMES, admin()), admin())
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge("mdm")
    finally:
        app.conf.task_always_eager = True
    [slice_id] = rules.plan_job(job.pk, slices=1)
    first, last = customers[0].pk, customers[-1].pk
    other_ready, other_failed = threading.Event(), []

    def other():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL deadlock_timeout = '30s'")
                cursor.execute("SELECT id FROM mdm_goldenrecord WHERE id = %s FOR UPDATE", [last])
                other_ready.set()
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:  # until the slice waits for the row
                    cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                    if cursor.fetchone()[0]:
                        break
                    time.sleep(0.05)
                cursor.execute("SELECT id FROM mdm_goldenrecord WHERE id = %s FOR UPDATE", [first])
        except Exception as exc:  # reported to the test below
            other_failed.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other)
    thread.start()
    assert other_ready.wait(10)
    done = rules.run_slice(slice_id)
    thread.join(30)

    assert not other_failed, other_failed
    job.refresh_from_db()
    assert done.status == "done" and job.status == "completed", job.error
    assert job.processed == 4 and job.changed == 3  # once each, though the chunk ran twice
    assert GoldenRecord.objects.get(pk=first).values["name"] == "Acme Supply"


def test_changing_a_loaded_config_recomputes_the_golden_records_too(customer_type, customers,
                                                                   django_capture_on_commit_callbacks):
    text = customer_type.config_yaml.replace("name: [{rule: source_priority, sources: [erp, crm, ecom]}",
                                             "name: [{rule: source_priority, sources: [crm, erp, ecom]}")
    with django_capture_on_commit_callbacks(execute=True):
        save_entity_config(text, user="ops")
    job = RuleChangeJob.objects.get()
    assert job.status == "completed" and job.changed == 3 and job.created_by == "ops"
    assert GoldenRecord.objects.get(pk=customers[1].pk).values["name"] == "Bolt Company"


# --- the real worker ------------------------------------------------------------------

@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_activation_recomputes_in_a_real_celery_worker(celery_worker_process, customer_type, customers):
    draft = rules.create_rule_draft(customer_type, CRM_WINS_NAMES, admin())
    preview = rules.preview_rule_draft(draft)
    job = rules.activate_rule_draft(draft, admin())  # committed: the worker picks it up from Redis
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.finished:
            break
        time.sleep(0.2)
    assert job.status == "completed", (job.status, job.error, celery_worker_process.log())
    assert job.changed == preview["changed"] == 3 and job.processed == 4
    assert GoldenRecord.objects.get(pk=customers[0].pk).values["name"] == "Acme Supply"


# --- the admin -------------------------------------------------------------------------

def test_admins_draft_preview_and_activate_rules_in_the_django_admin(admin_client, customer_type, customers,
                                                                     django_capture_on_commit_callbacks):
    add = admin_client.get(f"/admin/mdm/entityconfigversion/add/?entity_type={customer_type.pk}")
    assert add.status_code == 200 and "source_priority" in add.content.decode()  # prefilled with today's rules
    bad = admin_client.post("/admin/mdm/entityconfigversion/add/", {
        "entity_type": customer_type.pk, "rules_yaml": CRM_WINS_NAMES.replace("maximum", "maximun"), "note": ""})
    assert bad.status_code == 200 and "unknown rule &#x27;maximun&#x27;" in bad.content.decode()
    good = admin_client.post("/admin/mdm/entityconfigversion/add/", {
        "entity_type": customer_type.pk, "rules_yaml": CRM_WINS_NAMES, "note": "CRM names"})
    assert good.status_code == 302
    draft = EntityConfigVersion.objects.get(status="draft")
    assert draft.created_by == "admin" and draft.note == "CRM names"
    preview = admin_client.get(f"/admin/mdm/entityconfigversion/{draft.pk}/preview/")
    page = preview.content.decode()
    assert "<strong>3</strong> of 4 active golden records would change" in page and "Bolt Company" in page
    with django_capture_on_commit_callbacks(execute=True):
        activated = admin_client.post(f"/admin/mdm/entityconfigversion/{draft.pk}/activate/")
    assert activated.status_code == 302
    assert RuleChangeJob.objects.get().status == "completed"
    jobs = admin_client.get("/admin/mdm/rulechangejob/").content.decode()
    assert "4 / 4" in jobs


def test_an_admin_runs_a_failed_job_again_and_it_finishes_what_the_failed_one_left(
        admin_client, client, customer_type, customers, django_capture_on_commit_callbacks):
    from django.contrib.auth import get_user_model

    with django_capture_on_commit_callbacks(execute=False):  # its task never runs: it fails first
        job = rules.activate_rule_draft(rules.create_rule_draft(customer_type, CRM_WINS_NAMES, admin()), admin())
    RuleChangeJob.objects.filter(pk=job.pk).update(status="failed", error="slice 0: OperationalError: …")
    assert GoldenRecord.objects.get(pk=customers[0].pk).values["name"] == "Acme Supply Inc."  # not recomputed

    url = "/admin/mdm/rulechangejob/"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"action": "run_again", "_selected_action": [job.pk]}, follow=True)
    assert f"in place of failed job {job.pk}" in response.content.decode()
    again = RuleChangeJob.objects.exclude(pk=job.pk).get()
    assert again.status == "completed" and again.processed == 4 and again.config_version == job.config_version
    assert GoldenRecord.objects.get(pk=customers[0].pk).values["name"] == "Acme Supply"
    assert rules.run_failed_job_again(again, admin()) is None  # only a failed job

    get_user_model().objects.create_user("viewer-only", password="x", is_staff=True)
    with pytest.raises(PermissionDenied):
        rules.run_failed_job_again(RuleChangeJob.objects.get(pk=job.pk), get_user_model().objects.get(
            username="viewer-only"))


def test_editing_survivorship_in_the_entity_type_admin_makes_a_draft(admin_client, customer_type, customers):
    url = f"/admin/mdm/entitytype/{customer_type.pk}/change/"
    inline = {"versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0", "versions-MAX_NUM_FORMS": "0"}
    text = customer_type.config_yaml.replace("name: [{rule: source_priority, sources: [erp, crm, ecom]}",
                                             "name: [{rule: source_priority, sources: [crm, erp, ecom]}")
    response = admin_client.post(url, {"config_yaml": text, "active": "on", **inline})
    assert response.status_code == 302
    customer_type.refresh_from_db()
    assert customer_type.version == 1  # nothing active changed
    draft = EntityConfigVersion.objects.get(status="draft")
    assert draft.config["survivorship"]["attributes"]["name"][0]["sources"] == ["crm", "erp", "ecom"]
    both = text.replace("name: Customer\n", "name: Client\n")
    refused = admin_client.post(url, {"config_yaml": both, "active": "on", **inline})
    assert refused.status_code == 200 and "through a rule draft" in refused.content.decode()
