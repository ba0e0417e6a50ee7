"""A steward's day in a real browser: sign in, review and merge, not a match, unmerge,
resolve a conflict, change a rule, upload a file. Screenshots go to test-artifacts/screenshots/."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from mdm.models import (
    EntityConfigVersion,
    GoldenRecord,
    IngestBatch,
    MatchDecision,
    SourceRecord,
    StewardTask,
)
from tests.browser.conftest import shot, sign_in
from tests.stewardship.hub import HOSTILE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pair(hub):
    a = hub.customer("Acme Supply Inc", phone="415-555-0134", city="Austin", tax_id="12-3456789")
    b = hub.customer("ACME SUPPLY", source="crm", phone="(415) 555-0134", city="Dallas")
    return a, b, hub.possible_match(a, b, probability=0.91)


def test_sign_in_lands_on_the_dashboard(page, users, hub):
    hub.possible_match(hub.customer("Acme Supply Inc"), hub.customer("Acme", source="crm"))
    page.goto("/queue/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/queue/"))
    page.fill("input[name=username]", "stella")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("did not match")
    shot(page, "01-sign-in-failed")
    page.fill("input[name=username]", "stella")
    page.fill("input[name=password]", "correct-horse-battery-staple")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/queue/$"))
    expect(page.locator(".topbar .role")).to_have_text("steward")
    expect(page.locator("#queue-table tbody tr")).to_have_count(1)
    shot(page, "02-queue")
    page.click("text=Dashboard")
    expect(page.locator("#chart-backlog svg")).to_be_visible()
    shot(page, "03-dashboard")


def test_review_a_possible_match_and_merge_it_with_the_keyboard(page, users, hub, pair):
    a, b, task = pair
    hostile = hub.possible_match(hub.customer(HOSTILE), hub.customer(HOSTILE + " Ltd", source="crm"), priority=5,
                                 title=f"{HOSTILE} ~ twin")
    sign_in(page, "stella")
    page.goto("/queue/?kind=possible_match")
    page.keyboard.press("j")
    expect(page.locator("tr.selected")).to_contain_text("Acme Supply Inc")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("Acme Supply Inc")
    expect(page.locator("#compare tr.same[data-attribute=phone]")).to_be_visible()
    expect(page.locator("#compare tr.different[data-attribute=city]")).to_be_visible()
    expect(page.locator("#explanation .expl-comparison")).to_have_count(3)
    expect(page.locator(".prob")).to_have_text("91.0 %")
    shot(page, "04-match-review")
    page.keyboard.press("m")
    # htmx swaps the next task in: the hostile pair, shown as text.
    expect(page.locator("h1")).to_contain_text("<script>alert")
    expect(page.locator(".msg-success")).to_contain_text(f"Merged {b.golden_id} into {a.golden_id}")
    shot(page, "05-after-merge-next-task")
    b.refresh_from_db()
    assert b.status == GoldenRecord.Status.RETIRED and b.merged_into_id == a.pk
    assert StewardTask.objects.get(pk=task.pk).resolution == "merged"
    assert StewardTask.objects.get(pk=hostile.pk).status == "open"


def test_mark_a_pair_not_a_match(page, users, pair):
    _a, _b, task = pair
    sign_in(page, "stella")
    page.goto(f"/tasks/{task.pk}/")
    page.fill("#decision-note", "different tax IDs")
    page.click("button:has-text('Not a match')")
    expect(page.locator(".msg-success")).to_contain_text("not a match")
    expect(page.locator(".empty h2")).to_have_text("The queue is empty")
    shot(page, "06-not-a-match-queue-empty")
    decision = MatchDecision.objects.get()
    assert decision.state == "no_match" and decision.note == "different tax IDs"
    assert GoldenRecord.objects.filter(status="active").count() == 2


def test_a_second_steward_on_the_same_task_is_told_someone_was_faster(browser, live_server, page, users, pair):
    _a, _b, task = pair
    sign_in(page, "stella")
    page.goto(f"/tasks/{task.pk}/")
    other = browser.new_context(base_url=live_server.url)
    second = other.new_page()
    sign_in(second, "sam")
    second.goto(f"/tasks/{task.pk}/")
    second.click("button:has-text('Merge')")
    expect(second.locator(".msg-success")).to_contain_text("Merged")
    other.close()
    page.click("button:has-text('Not a match')")
    expect(page.locator("#conflict-message")).to_contain_text("already resolved by sam")
    shot(page, "07-someone-else-was-faster")
    assert not MatchDecision.objects.filter(state="no_match").exists()


def test_unmerge_a_record_from_the_golden_record_page(page, users, hub):
    golden = hub.golden(hub.record("erp", name="Acme Supply Inc", city="Austin"),
                        hub.record("crm", name="Acme Holdings", city="Boston"))
    sign_in(page, "stella")
    page.goto("/golden/")
    page.fill("input[name=q][autofocus]", "acme supply")
    page.click(f"#search-results a:has-text('{golden.golden_id}')")
    expect(page.locator("h1")).to_contain_text(golden.golden_id)
    crm_card = page.locator(".member", has_text="crm:CRM-2")
    crm_card.locator("summary:has-text('Raw payload')").click()
    expect(crm_card.locator("pre")).to_contain_text('"name": "Acme Holdings"')
    shot(page, "08-golden-record")
    page.click("[data-testid=unmerge-crm-CRM-2]")
    expect(page.locator(".msg-success")).to_contain_text("Unmerged crm:CRM-2")
    expect(page.locator("#members .member")).to_have_count(1)
    expect(page.locator("#history .timeline > li").first).to_contain_text("Unmerge")
    shot(page, "09-after-unmerge")
    crm = SourceRecord.objects.get(source_id="CRM-2")
    assert crm.golden_id != golden.pk


def test_resolve_a_conflict_by_picking_a_value_with_a_reason(page, users, hub):
    golden, task = hub.credit_conflict()
    sign_in(page, "stella")
    page.goto("/queue/?kind=attribute_conflict")
    page.click(f"a:has-text('{task.title}')")
    expect(page.locator("#competing-values tbody tr")).to_have_count(3)  # two values and "another value"
    page.check("#competing-values input[type=radio] >> nth=1")
    page.fill("input[name=reason]", "the signed credit agreement")
    shot(page, "10-conflict")
    page.click("button:has-text('Resolve conflict')")
    expect(page.locator(".msg-success")).to_contain_text("Resolved")
    golden.refresh_from_db()
    assert golden.values["credit_limit"] == "25000.00"
    assert StewardTask.objects.get(pk=task.pk).status == "resolved"


def test_preview_and_activate_a_rule_change(page, users, hub):
    goldens = [hub.golden(hub.record("erp", name=f"Firm {i}", city="Austin"),
                          hub.record("crm", name=f"Firm {i}", city="Dallas")) for i in range(3)]
    sign_in(page, "ada")
    page.click("text=Survivorship rules")
    page.click("#entity-customer >> text=New draft")
    rules = page.locator("textarea[name=rules]")
    rules.fill(rules.input_value().replace("sources: [erp, crm, ecom]}, {rule: most_recent}",
                                           "sources: [crm, erp, ecom]}, {rule: most_recent}", 1))
    page.fill("input[name=note]", "CRM knows addresses best")
    page.click("button:has-text('Save draft')")
    expect(page.locator(".msg-success")).to_contain_text("Saved draft")
    page.click("#preview-button")
    expect(page.locator("#preview-changed")).to_have_text("3")
    expect(page.locator("#preview .diff").first).to_contain_text("Dallas")
    shot(page, "11-rule-preview")
    page.click("#activate-button")
    expect(page.locator("#job-progress")).to_have_attribute("data-status", "completed")
    expect(page.locator("#job-progress")).to_contain_text("3 of 3 golden records processed")
    shot(page, "12-rule-activated")
    assert EntityConfigVersion.objects.get(note="CRM knows addresses best").status == "active"
    for golden in goldens:
        golden.refresh_from_db()
        assert golden.values["city"] == "Dallas"


def test_upload_a_file_and_see_progress_and_rejects(page, users, hub, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    extract = tmp_path / "crm-accounts.csv"
    extract.write_text("id,name,city\nA-1,Acme Supply Inc,Austin\nA-2,,Dallas\nA-3," + HOSTILE.replace(",", " ")
                       + ",Houston\n")
    sign_in(page, "stella")
    page.click("nav >> text=Uploads")
    page.select_option("select[name=source]", "crm")
    page.select_option("select[name=entity_type]", "customer")
    page.set_input_files("input[name=file]", str(extract))
    page.click("button:has-text('Upload and ingest')")
    expect(page.locator("#upload-progress")).to_have_attribute("data-status", "completed")
    expect(page.locator("#batch-counts")).to_contain_text("3")
    expect(page.locator("#rejects tbody tr")).to_have_count(1)
    expect(page.locator("#rejects")).to_contain_text("missing_required")
    shot(page, "13-upload-done")
    batch = IngestBatch.objects.get()
    assert batch.created_count == 2 and batch.rejected_count == 1
    assert SourceRecord.objects.filter(source_system__code="crm", source_id="A-3").exists()


def htmx_idle(page) -> None:
    """Wait until htmx has no request, swap or settle in flight."""
    page.wait_for_function(
        "() => window.htmx && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")


def test_filter_the_queue_in_place_and_claim_a_task(page, users, hub):
    hub.possible_match(hub.customer("Acme Supply Inc"), hub.customer("Acme", source="crm"))
    hub.credit_conflict("Bolt Industrial")
    sign_in(page, "stella")
    page.goto("/queue/")
    expect(page.locator("#queue-table tbody tr")).to_have_count(2)
    page.click(".tabs >> text=Attribute conflict")
    expect(page).to_have_url(re.compile(r"kind=attribute_conflict"))
    expect(page.locator("#queue-table tbody tr")).to_have_count(1)
    htmx_idle(page)  # the swapped-in filter form must be wired before it is used
    page.select_option("select[name=source]", "wms")  # htmx refreshes the results on change
    expect(page.locator("#queue .empty h2")).to_have_text("Nothing matches these filters")
    expect(page).to_have_url(re.compile(r"source=wms"))
    htmx_idle(page)
    page.click("text=Reset")
    expect(page.locator("#queue-table tbody tr")).to_have_count(2)
    htmx_idle(page)
    row = page.locator("#queue-table tbody tr", has_text="Acme")
    row.locator("button:has-text('Claim')").click()
    expect(row.locator(".badge-info")).to_have_text("yours")
    shot(page, "14-queue-claimed")
    assert StewardTask.objects.get(kind="possible_match").assignee.username == "stella"
