"""Match review: side by side, probability and its explanation; merge, not a match, skip; concurrency."""
from __future__ import annotations

import json

import pytest
from django.urls import reverse

from mdm.models import GoldenRecord, GoldenRecordVersion, MatchDecision, StewardTask
from tests.stewardship.hub import htmx

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(hub):
    a = hub.customer("Acme Supply Inc", phone="415-555-0134", city="Austin")
    b = hub.customer("ACME Supply", source="crm", phone="(415) 555-0134", city="Dallas")
    return a, b, hub.possible_match(a, b, probability=0.93)


def test_the_review_page_shows_both_records_attribute_by_attribute(login, pair):
    _, _, task = pair
    response = login("steward").get(reverse("stewardship:task", args=[task.pk]))
    rows = {r["name"]: r for r in response.context["rows"]}
    assert rows["phone"]["mark"] == "same"
    assert rows["name"]["mark"] == "similar"
    assert rows["city"]["mark"] == "different"
    page = response.content.decode()
    assert "93.0 %" in page and "erp:ERP-1" in page and "crm:CRM-2" in page


def test_the_explanation_is_drawn_as_one_bar_per_comparison(login, pair):
    _, _, task = pair
    page = login("steward").get(reverse("stewardship:task", args=[task.pk])).content.decode()
    assert page.count('class="expl-row expl-comparison"') == 3
    assert 'data-weight="+5.20"' in page and 'data-weight="-1.40"' in page
    assert 'class="expl-row expl-total" data-weight="+3.90"' in page


def test_merge_joins_the_pair_closes_the_task_and_opens_the_next_one(login, hub, pair):
    a, b, task = pair
    other = hub.possible_match(hub.customer("Bolt & Nut LLC"), hub.customer("Bolt and Nut", source="crm"),
                               priority=10)
    response = login("steward").post(reverse("stewardship:task_merge", args=[task.pk]),
                                      {"version": task.version, "survivor": a.golden_id})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("stewardship:task", args=[other.pk]))
    b.refresh_from_db()
    task.refresh_from_db()
    assert b.status == GoldenRecord.Status.RETIRED and b.merged_into == a
    assert task.status == StewardTask.Status.RESOLVED and task.resolution == "merged"


def test_the_steward_chooses_which_id_survives(login, pair):
    a, b, task = pair
    login("steward").post(reverse("stewardship:task_merge", args=[task.pk]),
                          {"version": task.version, "survivor": b.golden_id})
    a.refresh_from_db()
    assert a.status == GoldenRecord.Status.RETIRED and a.merged_into_id == b.pk


def test_an_htmx_merge_answers_with_the_next_location_for_the_content_area(login, pair):
    a, _, task = pair
    response = login("steward").post(reverse("stewardship:task_merge", args=[task.pk]),
                                      {"version": task.version, "survivor": a.golden_id}, **htmx("content"))
    assert response.status_code == 204
    location = json.loads(response["HX-Location"])
    assert location["target"] == "#content" and location["path"].startswith(reverse("stewardship:queue"))


def test_not_a_match_keeps_them_apart_for_good(login, pair):
    _a, _b, task = pair
    response = login("steward").post(reverse("stewardship:task_not_a_match", args=[task.pk]),
                                      {"version": task.version, "note": "different tax IDs"})
    assert response.status_code == 302
    decision = MatchDecision.objects.get()
    assert decision.state == "no_match" and decision.origin == "steward"
    task.refresh_from_db()
    assert task.status == StewardTask.Status.RESOLVED and task.resolution == "not_a_match"


def test_skip_leaves_the_task_open_and_moves_to_the_next_one(login, hub, pair):
    _, _, task = pair
    later = hub.possible_match(hub.customer("Zed Co"), hub.customer("Zed Company", source="crm"), priority=1)
    response = login("steward").post(reverse("stewardship:task_skip", args=[task.pk]), {"version": task.version})
    assert response["Location"].startswith(reverse("stewardship:task", args=[later.pk]))
    task.refresh_from_db()
    assert task.status == StewardTask.Status.OPEN and task.details["skipped_by"] == ["stella"]


def test_the_second_steward_on_the_same_task_is_told_and_nothing_is_applied_twice(client, users, pair):
    a, _, task = pair
    version = task.version
    client.force_login(users["steward"])
    client.post(reverse("stewardship:task_merge", args=[task.pk]), {"version": version, "survivor": a.golden_id})
    client.force_login(users["steward2"])
    response = client.post(reverse("stewardship:task_not_a_match", args=[task.pk]), {"version": version})
    assert response.status_code == 409
    page = response.content.decode()
    assert "Someone else was faster" in page and "by stella" in page and "nothing was applied" in page
    assert not MatchDecision.objects.filter(state="no_match").exists()
    assert GoldenRecordVersion.objects.filter(reason="merge").count() == 2  # survivor + retired, once


def test_a_stale_page_cannot_merge_after_the_task_changed(client, users, pair):
    a, _, task = pair
    client.force_login(users["steward"])
    client.post(reverse("stewardship:task_assign", args=[task.pk]), {"version": task.version, "assignee": "sam"})
    response = client.post(reverse("stewardship:task_merge", args=[task.pk]),
                           {"version": task.version, "survivor": a.golden_id})
    assert response.status_code == 409 and b"changed since you opened it" in response.content
    a.refresh_from_db()
    assert a.status == GoldenRecord.Status.ACTIVE


def test_j_and_k_links_follow_the_filtered_queue(login, hub, pair):
    _, _, task = pair
    later = hub.possible_match(hub.customer("Zed Co"), hub.customer("Zed Company", source="crm"), priority=1)
    response = login("steward").get(reverse("stewardship:task", args=[task.pk]), {"kind": "possible_match"})
    assert response.context["next_url"] == reverse("stewardship:task", args=[later.pk]) + "?kind=possible_match"
    assert response.context["prev_url"] is None
    page = response.content.decode()
    for key in ("m", "n", "s", "j"):
        assert f'data-shortcut="{key}"' in page


def test_a_resolved_task_shows_its_outcome_instead_of_actions(login, pair):
    a, _, task = pair
    client = login("steward")
    client.post(reverse("stewardship:task_merge", args=[task.pk]), {"version": task.version, "survivor": a.golden_id})
    page = client.get(reverse("stewardship:task", args=[task.pk])).content.decode()
    assert "This task is <strong>resolved</strong> by stella" in page
    assert 'data-shortcut="m"' not in page


def test_assigning_a_task_to_another_steward(login, users, pair):
    _, _, task = pair
    login("steward").post(reverse("stewardship:task_assign", args=[task.pk]),
                          {"version": task.version, "assignee": "sam"})
    task.refresh_from_db()
    assert task.assignee == users["steward2"]


def test_a_task_cannot_be_assigned_to_a_viewer(login, pair):
    _, _, task = pair
    response = login("steward").post(reverse("stewardship:task_assign", args=[task.pk]),
                                     {"version": task.version, "assignee": "vera"})
    assert response.status_code == 400
    task.refresh_from_db()
    assert task.assignee is None


def test_a_comment_on_a_task_is_kept_and_shown(login, pair):
    _, _, task = pair
    client = login("steward")
    client.post(reverse("stewardship:task_comment", args=[task.pk]), {"text": "Called the customer"})
    assert "Called the customer" in client.get(reverse("stewardship:task", args=[task.pk])).content.decode()


def test_a_double_submit_by_the_same_steward_says_it_was_already_done_by_them(login, pair):
    a, _, task = pair
    client = login("steward")
    data = {"version": task.version, "survivor": a.golden_id}
    client.post(reverse("stewardship:task_merge", args=[task.pk]), data)
    response = client.post(reverse("stewardship:task_merge", args=[task.pk]), data)
    assert response.status_code == 409 and b"You already handled this task" in response.content


def test_a_pair_already_in_one_golden_record_is_confirmed_or_separated_from_the_page(login, hub):
    first, second = hub.record("erp", name="Acme Supply Inc"), hub.record("crm", name="ACME Supply")
    third = hub.record("crm", name="Acme Supply (Dallas)")
    golden = hub.golden(first, second, third)

    def task(a, b):
        return StewardTask.objects.create(
            kind=StewardTask.Kind.POSSIBLE_MATCH, entity_type=hub.entity, golden=golden, other_golden=golden,
            record=a, other_record=b, dedupe_key=f"in:{a.pk}:{b.pk}", title="same?", details={"records": [a.pk, b.pk]})

    steward = login("steward")
    confirm = task(first, second)
    assert "Both records already belong to" in steward.get(reverse("stewardship:task", args=[confirm.pk])).content.decode()
    steward.post(reverse("stewardship:task_merge", args=[confirm.pk]), {"version": confirm.version})
    assert MatchDecision.objects.get(record_a=first, record_b=second).origin == "steward"
    separate = task(first, third)
    response = steward.post(reverse("stewardship:task_not_a_match", args=[separate.pk]), {"version": separate.version},
                            follow=True)
    third.refresh_from_db()
    assert third.golden_id != golden.pk and f"Took the second record out of {golden.golden_id}" in \
        response.content.decode()
