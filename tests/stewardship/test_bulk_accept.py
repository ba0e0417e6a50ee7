"""Bulk accept of a filtered set of possible matches, and its undo (IDs restored, pairs back in review)."""
from __future__ import annotations

import pytest
from django.urls import reverse

from mdm.models import GoldenRecord, SourceRecord, StewardTask
from stewardship.models import BulkAction

pytestmark = pytest.mark.django_db


@pytest.fixture
def pairs(hub):
    out = []
    for i, probability in enumerate([0.97, 0.95, 0.70]):
        a = hub.customer(f"Firm {i} Inc")
        b = hub.customer(f"Firm {i}", source="crm")
        out.append((a, b, hub.possible_match(a, b, probability=probability, title=f"pair {i}")))
    return out


def test_the_confirmation_lists_exactly_the_pairs_that_would_merge(login, pairs):
    response = login("steward").post(reverse("stewardship:bulk_accept"),
                                     {"querystring": "kind=possible_match", "min_probability": "0.9"})
    assert [t.title for t in response.context["tasks"]] == ["pair 0", "pair 1"]
    assert GoldenRecord.objects.filter(status="retired").count() == 0


def test_confirming_merges_each_pair_and_offers_undo(login, pairs):
    client = login("steward")
    chosen = [f"{t.pk}:{t.version}" for _, _, t in pairs[:2]]
    response = client.post(reverse("stewardship:bulk_accept"), {"confirm": "1", "task": chosen,
                                                                "querystring": "kind=possible_match"})
    action = BulkAction.objects.get()
    assert response["Location"] == reverse("stewardship:bulk", args=[action.pk])
    assert [i["outcome"] for i in action.items] == ["merged", "merged"]
    assert GoldenRecord.objects.filter(status="retired").count() == 2
    assert StewardTask.objects.get(title="pair 2").status == "open"
    assert b"Undo these 2 merges" in client.get(response["Location"]).content


def test_undo_puts_each_pair_back_under_the_old_golden_ids_and_back_in_review(login, pairs):
    client = login("steward")
    before = {g.golden_id: sorted(SourceRecord.objects.filter(golden=g).values_list("id", flat=True))
              for a, b, _ in pairs[:2] for g in (a, b)}
    client.post(reverse("stewardship:bulk_accept"),
                {"confirm": "1", "task": [f"{t.pk}:{t.version}" for _, _, t in pairs[:2]]})
    action = BulkAction.objects.get()
    client.post(reverse("stewardship:bulk_undo", args=[action.pk]))
    after = {g.golden_id: sorted(SourceRecord.objects.filter(golden=g).values_list("id", flat=True))
             for g in GoldenRecord.objects.filter(golden_id__in=before)}
    assert after == before
    assert GoldenRecord.objects.filter(golden_id__in=before, status="active").count() == 4
    action.refresh_from_db()
    assert action.undone_at is not None and [i["outcome"] for i in action.undo_items] == ["undone", "undone"]
    # An undo is not a "not a match": the pairs are open for review again, no steward decision across them.
    from mdm.models import MatchDecision

    assert set(StewardTask.objects.filter(title__in=["pair 0", "pair 1"]).values_list("status", flat=True)) == {"open"}
    for a, b, _ in pairs[:2]:
        left = SourceRecord.objects.filter(golden__golden_id=a.golden_id).values_list("id", flat=True)
        right = SourceRecord.objects.filter(golden__golden_id=b.golden_id).values_list("id", flat=True)
        assert not MatchDecision.objects.filter(origin="steward", record_a_id__in=[*left, *right],
                                                record_b_id__in=[*left, *right]).exclude(
            record_a_id__in=left, record_b_id__in=left).exclude(record_a_id__in=right, record_b_id__in=right).exists()


def test_undo_happens_once(login, pairs):
    client = login("steward")
    client.post(reverse("stewardship:bulk_accept"), {"confirm": "1", "task": [f"{pairs[0][2].pk}:1"]})
    action = BulkAction.objects.get()
    client.post(reverse("stewardship:bulk_undo", args=[action.pk]))
    response = client.post(reverse("stewardship:bulk_undo", args=[action.pk]), follow=True)
    assert b"already undone" in response.content


def test_a_pair_another_steward_handled_meanwhile_is_reported_and_skipped(client, users, pairs):
    a, b, task = pairs[0]
    version = task.version
    client.force_login(users["steward2"])
    client.post(reverse("stewardship:task_not_a_match", args=[task.pk]), {"version": version})
    client.force_login(users["steward"])
    client.post(reverse("stewardship:bulk_accept"), {"confirm": "1", "task": [f"{task.pk}:{version}"]})
    item = BulkAction.objects.get().items[0]
    assert item["outcome"] == "already_handled" and "by sam" in item["message"]
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.status == b.status == "active"


def test_a_viewer_cannot_bulk_accept(login, pairs):
    response = login("viewer").post(reverse("stewardship:bulk_accept"), {"confirm": "1", "task": ["1:1"]})
    assert response.status_code == 403
