"""The work queue: every kind, filters, priority with age against the SLA, counts, claim, pages."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from mdm.models import StewardTask
from stewardship import selectors
from tests.stewardship.hub import htmx

pytestmark = pytest.mark.django_db


@pytest.fixture
def pairs(hub):
    """Three possible matches with different priorities and one credit-limit conflict."""
    tasks = []
    for i, priority in enumerate([10.0, 60.0, 30.0]):
        a = hub.customer(f"Pair {i} Industrial")
        b = hub.customer(f"Pair {i} Industrial LLC", source="crm")
        tasks.append(hub.possible_match(a, b, priority=priority, title=f"pair {i}"))
    return tasks


def titles(response) -> list[str]:
    return [t.title for t in response.context["page"].object_list]


def age(task, days: float):
    StewardTask.objects.filter(pk=task.pk).update(created_at=timezone.now() - timedelta(days=days))


def test_the_queue_lists_open_tasks_by_priority(login, pairs):
    response = login("steward").get(reverse("stewardship:queue"))
    assert titles(response) == ["pair 1", "pair 2", "pair 0"]


def test_a_task_past_its_service_level_rises_above_newer_ones(login, pairs):
    age(pairs[0], 4)  # possible match: SLA 3 days; +25 × 1.0 at 3 days (half-SLA steps)
    response = login("steward").get(reverse("stewardship:queue"))
    assert titles(response)[:2] == ["pair 1", "pair 0"]
    row = response.context["page"].object_list[1]
    assert row.effective_priority == pytest.approx(10.0 + 25.0) and row.overdue


def test_the_age_boost_is_capped_at_three_service_levels():
    assert selectors.AGE_POINTS * selectors.AGE_CAP == 75.0


def test_counts_per_kind_follow_the_other_filters(login, hub, pairs):
    hub.credit_conflict()
    response = login("steward").get(reverse("stewardship:queue"), {"kind": "attribute_conflict"})
    counts = {kind: count for kind, _, count in response.context["kind_tabs"]}
    assert counts["possible_match"] == 3 and counts["attribute_conflict"] == 1
    assert titles(response) == [StewardTask.objects.get(kind="attribute_conflict").title]


def test_filters_by_source_age_and_assignee(login, users, pairs):
    client = login("steward")
    assert len(titles(client.get(reverse("stewardship:queue"), {"source": "crm"}))) == 3
    assert titles(client.get(reverse("stewardship:queue"), {"source": "wms"})) == []
    age(pairs[2], 2)
    assert titles(client.get(reverse("stewardship:queue"), {"age": "1-3d"})) == ["pair 2"]
    StewardTask.objects.filter(pk=pairs[0].pk).update(assignee=users["steward"])
    assert titles(client.get(reverse("stewardship:queue"), {"assignee": "me"})) == ["pair 0"]
    assert titles(client.get(reverse("stewardship:queue"), {"assignee": "none"})) == ["pair 1", "pair 2"]
    assert titles(client.get(reverse("stewardship:queue"), {"entity": "customer", "q": "pair 1"})) == ["pair 1"]


def test_a_possible_match_is_listed_under_the_source_of_either_record(login, hub):
    erp_only = hub.possible_match(hub.customer("Both In Erp Co"), hub.customer("Both In Erp Company"), title="erp pair")
    mixed = hub.possible_match(hub.customer("Half Crm Co"), hub.customer("Half Crm Company", source="crm"),
                               title="mixed pair")
    client = login("steward")
    assert sorted(titles(client.get(reverse("stewardship:queue"), {"source": "erp"}))) == [erp_only.title,
                                                                                          mixed.title]
    assert titles(client.get(reverse("stewardship:queue"), {"source": "crm"})) == [mixed.title]


def test_an_unknown_filter_value_says_so_instead_of_failing(login, pairs):
    response = login("steward").get(reverse("stewardship:queue"), {"kind": "bogus"})
    assert response.status_code == 200
    assert b"Some filters were not understood" in response.content


def test_an_empty_queue_says_there_is_nothing_to_do(login, customer_type):
    response = login("steward").get(reverse("stewardship:queue"))
    assert b"The queue is empty" in response.content


def test_filters_matching_nothing_offer_the_whole_queue(login, pairs):
    response = login("steward").get(reverse("stewardship:queue"), {"source": "wms"})
    assert b"Nothing matches these filters" in response.content


def test_the_queue_pages_fifty_at_a_time(login, hub, customer_type):
    a = hub.customer("Paged Co")
    StewardTask.objects.bulk_create([
        StewardTask(kind="rejected_record", entity_type=customer_type, golden=a, dedupe_key=f"page:{i}",
                    title=f"task {i:03d}", priority=100 - i) for i in range(55)
    ])
    client = login("steward")
    first = client.get(reverse("stewardship:queue"))
    second = client.get(reverse("stewardship:queue"), {"page": 2})
    assert len(titles(first)) == 50 and titles(second) == [f"task {i:03d}" for i in range(50, 55)]
    assert b"Page 1 of 2" in first.content


def test_htmx_gets_the_results_fragment_and_a_normal_request_the_full_page(login, pairs):
    client = login("steward")
    full = client.get(reverse("stewardship:queue"))
    partial = client.get(reverse("stewardship:queue"), **htmx("queue"))
    assert b"<html" in full.content and b'id="queue"' in full.content
    assert b"<html" not in partial.content and partial.content.lstrip().startswith(b'<div id="queue">')
    assert "HX-Request" in partial["Vary"] and "HX-Request" in full["Vary"]


def test_htmx_navigation_into_the_content_area_gets_the_page_without_the_layout(login, pairs):
    response = login("steward").get(reverse("stewardship:queue"), **htmx("content"))
    assert b"<html" not in response.content and b"<title>Work queue" in response.content
    assert b'class="topbar"' not in response.content


def test_the_queue_page_runs_a_bounded_number_of_queries(login, hub, customer_type, django_assert_max_num_queries):
    for i in range(15):
        hub.possible_match(hub.customer(f"Q{i} Corp"), hub.customer(f"Q{i} Corp", source="crm"))
        hub.credit_conflict(f"C{i} Corp")
    client = login("steward")
    with django_assert_max_num_queries(11):
        response = client.get(reverse("stewardship:queue"))
    assert len(titles(response)) == 30


def test_claiming_a_task_from_the_queue_assigns_it_and_swaps_the_row(login, users, pairs):
    task = pairs[1]
    response = login("steward").post(reverse("stewardship:task_claim", args=[task.pk]),
                                     {"version": task.version}, **htmx(f"task-row-{task.pk}"))
    assert response.status_code == 200
    assert response.content.lstrip().startswith(f'<tr id="task-row-{task.pk}"'.encode())
    task.refresh_from_db()
    assert task.assignee == users["steward"]


def test_a_second_steward_claiming_the_same_task_is_told_who_has_it(client, users, pairs):
    task = pairs[1]
    client.force_login(users["steward"])
    client.post(reverse("stewardship:task_claim", args=[task.pk]), {"version": task.version})
    client.force_login(users["steward2"])
    response = client.post(reverse("stewardship:task_claim", args=[task.pk]), {"version": task.version},
                           **htmx(f"task-row-{task.pk}"))
    assert response.status_code == 409
    assert b"already claimed by stella" in response.content
    task.refresh_from_db()
    assert task.assignee == users["steward"]


def test_a_task_the_steward_skipped_waits_behind_the_others_for_that_steward(client, users, pairs):
    top = pairs[1]
    client.force_login(users["steward"])
    client.post(reverse("stewardship:task_skip", args=[top.pk]), {"version": top.version})
    assert titles(client.get(reverse("stewardship:queue")))[-1] == "pair 1"
    client.force_login(users["steward2"])
    assert titles(client.get(reverse("stewardship:queue")))[0] == "pair 1"


def test_start_opens_the_top_task_of_the_filtered_queue(login, pairs):
    response = login("steward").get(reverse("stewardship:queue_next"), {"kind": "possible_match"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("stewardship:task", args=[pairs[1].pk]))
