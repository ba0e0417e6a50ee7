"""The golden record page: values with lineage, members with raw payloads, history, actions; and search."""
from __future__ import annotations

import pytest
from django.urls import reverse

from mdm.models import GoldenRecord, Override, SourceRecord, TaskComment
from mdm.services import stewardship as steward_services
from tests.stewardship.hub import htmx

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(hub):
    erp = hub.record("erp", name="Acme Supply Inc", city="Austin", credit_limit="10000", phone="415-555-0134")
    crm = hub.record("crm", name="ACME SUPPLY", city="Dallas", email="ap@acme.example", phone="415-555-0199")
    return hub.golden(erp, crm)


def page_of(client, golden, **params):
    return client.get(reverse("stewardship:golden", args=[golden.golden_id]), params)


def test_each_value_shows_its_source_and_rule_and_what_it_beat(login, acme):
    response = page_of(login("viewer"), acme)
    rows = {r["name"]: r for r in response.context["rows"]}
    assert rows["city"]["value"] == "Austin" and rows["city"]["lineage"]["source"] == "erp"
    assert rows["city"]["competing"][0]["value"] == "Dallas"
    page = response.content.decode()
    assert "from <strong>erp</strong>" in page and "source priority" in page and "1 competing value" in page


def test_the_contributing_records_show_their_raw_payload_verbatim(login, acme):
    page = page_of(login("viewer"), acme).content.decode()
    assert "erp:ERP-1" in page and "crm:CRM-2" in page
    assert "&quot;ACME SUPPLY&quot;" in page  # the CRM payload, as received, escaped


def test_an_override_is_marked_with_who_and_why(login, users, acme):
    steward_services.set_override(golden=acme, attribute="city", value="Round Rock", reason="moved in 2024",
                                  steward=users["steward"])
    response = page_of(login("viewer"), acme)
    row = next(r for r in response.context["rows"] if r["name"] == "city")
    assert row["override"] is not None and row["value"] == "Round Rock"
    page = response.content.decode()
    assert "moved in 2024" in page and "the rules would give: Austin" in page


def test_history_is_a_timeline_with_the_changes_of_each_version(login, users, acme):
    steward_services.set_override(golden=acme, attribute="city", value="Round Rock", reason="moved",
                                  steward=users["steward"])
    history = page_of(login("viewer"), acme).context["history"]
    assert [e["version"].version for e in history] == [2, 1]
    assert history[0]["changes"] == [{"attribute": "city", "before": "Austin", "after": "Round Rock"}]
    assert history[1]["added"] == ["erp:ERP-1", "crm:CRM-2"]


def test_unmerge_takes_a_record_out_into_its_own_golden_record(login, acme):
    crm = SourceRecord.objects.get(source_id="CRM-2")
    response = login("steward").post(reverse("stewardship:golden_unmerge", args=[acme.golden_id, crm.pk]))
    assert response.status_code == 302
    crm.refresh_from_db()
    assert crm.golden_id != acme.pk and crm.golden.status == GoldenRecord.Status.ACTIVE
    assert list(SourceRecord.objects.filter(golden=acme).values_list("source_id", flat=True)) == ["ERP-1"]


def test_unmerging_from_an_out_of_date_page_is_refused(login, hub, acme):
    stranger = hub.record("wms", name="Other Co")
    hub.golden(stranger)
    response = login("steward").post(reverse("stewardship:golden_unmerge", args=[acme.golden_id, stranger.pk]))
    assert response.status_code == 409 and b"no longer part of" in response.content


def test_split_moves_the_ticked_records_to_a_new_golden_record(login, hub, acme):
    third = hub.record("ecom", name="Acme Web Account")
    SourceRecord.objects.filter(pk=third.pk).update(golden=acme)
    ids = list(SourceRecord.objects.filter(source_id__in=["CRM-2", "ECOM-3"]).values_list("id", flat=True))
    response = login("steward").post(reverse("stewardship:golden_split", args=[acme.golden_id]), {"records": ids})
    assert response.status_code == 302
    moved = SourceRecord.objects.filter(pk__in=ids)
    assert len({r.golden_id for r in moved}) == 1 and moved[0].golden_id != acme.pk


def test_splitting_out_every_record_is_refused(login, acme):
    ids = list(SourceRecord.objects.filter(golden=acme).values_list("id", flat=True))
    response = login("steward").post(reverse("stewardship:golden_split", args=[acme.golden_id]), {"records": ids})
    assert response.status_code == 400 and b"Leave at least one record" in response.content


def test_override_and_clear_from_the_page(login, acme):
    client = login("steward")
    client.post(reverse("stewardship:golden_override", args=[acme.golden_id]),
                {"attribute": "phone", "value": "(512) 555-0100", "reason": "main switchboard"})
    acme.refresh_from_db()
    assert acme.values["phone"][0]["value"] == "+15125550100"
    client.post(reverse("stewardship:golden_override_clear", args=[acme.golden_id]), {"attribute": "phone"})
    assert not Override.objects.exists()


def test_an_override_needs_a_reason(login, acme):
    response = login("steward").post(reverse("stewardship:golden_override", args=[acme.golden_id]),
                                     {"attribute": "city", "value": "Waco", "reason": ""})
    assert response.status_code == 400 and not Override.objects.exists()


def test_a_comment_on_a_golden_record(login, acme):
    client = login("steward")
    client.post(reverse("stewardship:golden_comment", args=[acme.golden_id]), {"text": "Key account"})
    assert TaskComment.objects.get().golden == acme
    assert "Key account" in page_of(client, acme).content.decode()


def test_a_retired_record_points_to_its_survivor(login, users, hub, acme):
    other = hub.customer("Acme Supply Incorporated", source="ecom")
    steward_services.merge_goldens(survivor=acme, others=[other], steward=users["steward"])
    page = page_of(login("viewer"), other).content.decode()
    assert "This golden record was merged" in page and acme.golden_id in page


def test_the_page_runs_a_bounded_number_of_queries(login, hub, acme, django_assert_max_num_queries):
    for i in range(20):
        SourceRecord.objects.filter(pk=hub.record("ecom", name=f"Acme {i}").pk).update(golden=acme)
    client = login("viewer")
    with django_assert_max_num_queries(14):
        response = page_of(client, acme)
    assert len(response.context["members"]) == 22


def test_htmx_gets_the_page_without_the_layout(login, acme):
    response = login("viewer").get(reverse("stewardship:golden", args=[acme.golden_id]), **htmx("content"))
    assert b"<html" not in response.content and acme.golden_id.encode() in response.content


@pytest.mark.parametrize("query, how", [("acme supp", "name"), ("ERP-1", "source ID erp:ERP-1")])
def test_search_by_name_or_source_id(login, acme, query, how):
    hits = login("viewer").get(reverse("stewardship:golden_search"), {"q": query}).context["hits"]
    assert [(h.golden.golden_id, h.matched_by) for h in hits] == [(acme.golden_id, how)]


def test_search_by_name_is_served_by_the_trigram_index_on_postgresql(acme):
    from django.db import connection, transaction

    from stewardship.selectors import search_goldens

    if connection.vendor != "postgresql":
        pytest.skip("the trigram index is PostgreSQL's")
    query = GoldenRecord.objects.filter(display_name__icontains="supp").order_by("-updated_at", "-id")[:20]
    with transaction.atomic(), connection.cursor() as cursor:
        # A test table is tiny: forbid scanning it (or walking another index)
        # so the plan shows what a big table would use.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        assert "golden_display_name_trgm" in query.explain()
    assert [hit.golden.golden_id for hit in search_goldens("CME SUP")] == [acme.golden_id]


def test_text_shorter_than_three_characters_finds_ids_but_not_names(login, hub):
    hub.customer("AB Supply")
    coded = hub.customer("Harbor Freight", id="ab")
    response = login("viewer").get(reverse("stewardship:golden_search"), {"q": "ab"})
    # "ab" is in the first name too, but only the exact source ID is looked up.
    assert [h.golden.golden_id for h in response.context["hits"]] == [coded.golden_id]
    assert "Names are searched from 3 characters" in response.content.decode()


def test_search_by_a_retired_golden_id_finds_the_survivor(login, users, hub, acme):
    other = hub.customer("Acme Web", source="ecom")
    steward_services.merge_goldens(survivor=acme, others=[other], steward=users["steward"])
    hits = login("viewer").get(reverse("stewardship:golden_search"), {"q": other.golden_id.lower()}).context["hits"]
    assert [h.golden.golden_id for h in hits][:2] == [acme.golden_id, other.golden_id]
    assert hits[0].matched_by == f"retired ID {other.golden_id}"


def test_search_results_come_as_a_fragment_to_htmx(login, acme):
    response = login("viewer").get(reverse("stewardship:golden_search"), {"q": "acme"}, **htmx("search-results"))
    assert response.content.lstrip().startswith(b'<div id="search-results">')


def test_a_search_without_results_says_so(login, acme):
    page = login("viewer").get(reverse("stewardship:golden_search"), {"q": "zzz"}).content.decode()
    assert "No golden record found" in page


def test_the_page_reads_the_record_as_of_an_earlier_version(login, users, acme):
    first = acme.versions.get(version=1)
    steward_services.set_override(golden=acme, attribute="city", value="Round Rock", reason="moved",
                                  steward=users["steward"])
    response = page_of(login("viewer"), acme, as_of=first.created_at.isoformat())
    city = next(r for r in response.context["rows"] if r["name"] == "city")
    assert city["value"] == "Austin" and response.context["as_of_version"] == first
    page = response.content.decode()
    assert "Showing version 1" in page and "Unmerge" not in page


def test_a_date_it_cannot_read_is_said_so(login, acme):
    page = page_of(login("viewer"), acme, as_of="yesterday-ish").content.decode()
    assert "was not understood" in page


def test_the_hierarchy_lists_parents_and_children(login, hub):
    parent = hub.customer("Acme Holdings", source="crm", id="P-1")
    child = hub.customer("Acme Supply West", source="crm", parent_id="P-1")
    hierarchy = page_of(login("viewer"), child).content.decode()
    assert 'id="hierarchy"' in hierarchy and parent.golden_id in hierarchy and "Hangs under" in hierarchy
    assert child.golden_id in page_of(login("viewer"), parent).content.decode()


def test_the_whole_tree_page_nests_the_children(login, hub):
    top = hub.customer("Acme Group", source="crm", id="G-1")
    mid = hub.customer("Acme Holdings", source="crm", id="P-1", parent_id="G-1")
    leaf = hub.customer("Acme Supply West", source="crm", parent_id="P-1")
    page = login("viewer").get(reverse("stewardship:golden_tree", args=[top.golden_id])).content.decode()
    assert page.index(mid.golden_id) < page.index(leaf.golden_id) and page.count('<ul class="tree">') == 2
    leaf_page = login("viewer").get(reverse("stewardship:golden_tree", args=[leaf.golden_id])).content.decode()
    assert f"{top.golden_id}</a> Acme Group ›" in leaf_page
