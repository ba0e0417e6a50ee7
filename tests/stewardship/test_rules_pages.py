"""Survivorship rules for admins: draft, preview (counts and example diffs), activate with progress."""
from __future__ import annotations

import pytest
from django.urls import reverse

from mdm.models import EntityConfigVersion, RuleChangeJob
from tests.stewardship.hub import htmx

pytestmark = pytest.mark.django_db

# CRM first for the city instead of the ERP.
CRM_FIRST = """\
default: [{rule: valid_only}, {rule: source_priority, sources: [crm, erp, ecom]}, {rule: most_recent}]
attributes:
  name: [{rule: source_priority, sources: [erp, crm, ecom]}, {rule: most_complete}]
critical: [credit_limit]
"""


@pytest.fixture
def two_sourced(hub):
    goldens = []
    for i in range(3):
        goldens.append(hub.golden(hub.record("erp", name=f"Firm {i}", city="Austin"),
                                  hub.record("crm", name=f"Firm {i}", city="Dallas")))
    return goldens


def new_draft(client, text=CRM_FIRST):
    return client.post(reverse("stewardship:rule_draft_new", args=["customer"]), {"rules": text, "note": "CRM city"})


def test_the_rules_page_shows_the_active_rules_of_each_entity_type(login, customer_type):
    page = login("admin").get(reverse("stewardship:rules")).content.decode()
    assert "Customer" in page and "source_priority" in page and "New draft" in page


def test_a_new_draft_starts_from_the_active_rules(login, customer_type):
    response = login("admin").get(reverse("stewardship:rule_draft_new", args=["customer"]))
    assert "credit_limit" in response.context["form"].initial["rules"]


def test_saving_a_draft_changes_nothing_until_it_is_activated(login, customer_type):
    response = new_draft(login("admin"))
    draft = EntityConfigVersion.objects.get(status="draft")
    assert response["Location"] == reverse("stewardship:rule_draft", args=[draft.pk])
    customer_type.refresh_from_db()
    assert "crm, erp" not in customer_type.config_yaml


def test_an_invalid_draft_names_each_problem(login, customer_type):
    response = new_draft(login("admin"), "default: [{rule: most_recnt}]\n")
    assert response.status_code == 400
    assert b"unknown rule" in response.content and b"most_recnt" in response.content
    assert not EntityConfigVersion.objects.filter(status="draft").exists()


def test_a_draft_can_be_edited(login, customer_type):
    client = login("admin")
    new_draft(client)
    draft = EntityConfigVersion.objects.get(status="draft")
    client.post(reverse("stewardship:rule_draft", args=[draft.pk]), {"rules": "default: [{rule: most_recent}]\n"})
    draft.refresh_from_db()
    assert draft.rules_yaml.strip() == "default: [{rule: most_recent}]"


def test_preview_counts_the_golden_records_that_would_change_with_examples(login, customer_type, two_sourced):
    client = login("admin")
    new_draft(client)
    draft = EntityConfigVersion.objects.get(status="draft")
    response = client.get(reverse("stewardship:rule_draft_preview", args=[draft.pk]), **htmx("preview"))
    preview = response.context["preview"]
    assert preview["total"] == 3 and preview["changed"] == 3
    assert preview["examples"][0]["changes"][0] == {"attribute": "city", "before": "Austin", "after": "Dallas"}
    assert response.content.lstrip().startswith(b'<div id="preview">')
    assert b"Activate v" in response.content


def test_activating_recomputes_in_the_background_with_progress(
        login, customer_type, two_sourced, django_capture_on_commit_callbacks):
    client = login("admin")
    new_draft(client)
    draft = EntityConfigVersion.objects.get(status="draft")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("stewardship:rule_draft_activate", args=[draft.pk]))
    job = RuleChangeJob.objects.get()
    assert response["Location"] == reverse("stewardship:rule_job", args=[job.pk])
    job.refresh_from_db()
    assert job.status == "completed" and job.processed == 3 and job.changed == 3
    for golden in two_sourced:
        golden.refresh_from_db()
        assert golden.values["city"] == "Dallas"
    page = client.get(reverse("stewardship:rule_job", args=[job.pk]), **htmx("job-progress"))
    assert b'data-status="completed"' in page.content and b"hx-trigger" not in page.content


def test_a_running_job_keeps_polling(login, customer_type, two_sourced):
    client = login("admin")
    new_draft(client)
    draft = EntityConfigVersion.objects.get(status="draft")
    client.post(reverse("stewardship:rule_draft_activate", args=[draft.pk]))  # the task waits for the commit
    job = RuleChangeJob.objects.get()
    page = client.get(reverse("stewardship:rule_job", args=[job.pk]), **htmx("job-progress"))
    assert b'hx-trigger="every 1s"' in page.content and b"0 of 3 golden records" in page.content


def test_an_activated_draft_cannot_be_activated_again(login, customer_type):
    client = login("admin")
    new_draft(client)
    draft = EntityConfigVersion.objects.get(status="draft")
    client.post(reverse("stewardship:rule_draft_activate", args=[draft.pk]))
    response = client.post(reverse("stewardship:rule_draft_activate", args=[draft.pk]), follow=True)
    assert b"not a draft" in response.content
    assert RuleChangeJob.objects.count() == 1


def test_a_draft_can_be_discarded(login, customer_type):
    client = login("admin")
    new_draft(client)
    draft = EntityConfigVersion.objects.get(status="draft")
    client.post(reverse("stewardship:rule_draft_discard", args=[draft.pk]))
    assert not EntityConfigVersion.objects.filter(pk=draft.pk).exists()
