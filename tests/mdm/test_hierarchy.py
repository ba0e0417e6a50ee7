"""Hierarchies: relationships sources state between records, resolved to golden customers."""
from __future__ import annotations

import pytest
from golden_helpers import golden_of, ingest, steward

from mdm.models import GoldenRecord, GoldenRelationship, SourceRecord
from mdm.selectors import customer_tree
from mdm.services import stewardship

pytestmark = pytest.mark.django_db


def ids(nodes):
    return [n["golden_id"] for n in nodes]


@pytest.fixture
def acme_group(customer_type, erp, crm):
    """Acme's head office as the CRM and the ERP know it (not yet merged), and three branches."""
    crm_hq = golden_of(customer_type, *ingest(crm, customer_type, {"id": "A-1", "name": "Acme Holdings"}))
    erp_hq = golden_of(customer_type, *ingest(erp, customer_type, {"id": "C100", "name": "Acme Holdings"}))
    north = golden_of(customer_type, *ingest(crm, customer_type, {"id": "A-2", "name": "Acme North", "parent_id": "A-1"}))
    south = golden_of(customer_type, *ingest(crm, customer_type, {"id": "A-3", "name": "Acme South", "parent_id": "A-1"}))
    west = golden_of(customer_type, *ingest(erp, customer_type, {"id": "C200", "name": "Acme West", "parent_id": "C100",
                                                                  "bill_to_id": "C100"}))
    return crm_hq, erp_hq, north, south, west


def test_branches_stay_separate_golden_records_linked_to_their_parent(acme_group):
    crm_hq, erp_hq, north, south, west = acme_group
    tree = customer_tree(crm_hq)
    assert tree["golden_id"] == crm_hq.golden_id and tree["ancestors"] == []
    assert ids(tree["children"]) == [north.golden_id, south.golden_id]
    assert tree["children"][0]["stated_by"] == [{"source": "crm", "source_id": "A-2"}]
    branch = customer_tree(west)
    assert ids(branch["ancestors"]) == [erp_hq.golden_id]
    assert branch["links"]["bill_to"]["to"][0]["golden_id"] == erp_hq.golden_id
    assert customer_tree(erp_hq)["links"]["bill_to"]["from"][0]["golden_id"] == west.golden_id
    assert GoldenRecord.objects.filter(status="active").count() == 5


def test_after_a_merge_the_children_of_either_golden_record_hang_under_the_survivor(acme_group):
    crm_hq, erp_hq, north, south, west = acme_group
    stewardship.merge_goldens(survivor=crm_hq, others=[erp_hq], steward=steward())
    tree = customer_tree(crm_hq)
    assert ids(tree["children"]) == sorted([north.golden_id, south.golden_id, west.golden_id])
    assert ids(customer_tree(west)["ancestors"]) == [crm_hq.golden_id]
    assert customer_tree(erp_hq)["golden_id"] == crm_hq.golden_id  # the retired ID answers with its survivor
    assert not GoldenRelationship.objects.filter(parent=erp_hq).exists()


def test_unmerging_takes_the_links_back(acme_group):
    crm_hq, erp_hq, north, south, west = acme_group
    stewardship.merge_goldens(survivor=crm_hq, others=[erp_hq], steward=steward())
    stewardship.unmerge_record(record=SourceRecord.objects.get(source_id="C100"), steward=steward())
    assert ids(customer_tree(crm_hq)["children"]) == [north.golden_id, south.golden_id]
    assert ids(customer_tree(erp_hq)["children"]) == [west.golden_id]


def test_a_parent_that_arrives_later_is_linked_when_it_does(customer_type, crm):
    branch = golden_of(customer_type, *ingest(crm, customer_type, {"id": "B-2", "name": "Bolt East", "parent_id": "B-1"}))
    link = GoldenRelationship.objects.get()
    assert link.parent is None and link.parent_ref == "B-1"
    assert customer_tree(branch)["ancestors"] == []
    parent = golden_of(customer_type, *ingest(crm, customer_type, {"id": "B-1", "name": "Bolt Group"}))
    assert ids(customer_tree(branch)["ancestors"]) == [parent.golden_id]
    assert ids(customer_tree(parent)["children"]) == [branch.golden_id]


def test_a_grandchild_shows_in_the_nested_tree_and_cycles_do_not_loop(customer_type, crm):
    top = golden_of(customer_type, *ingest(crm, customer_type, {"id": "G-1", "name": "Group", "parent_id": "G-3"}))
    mid = golden_of(customer_type, *ingest(crm, customer_type, {"id": "G-2", "name": "Division", "parent_id": "G-1"}))
    leaf = golden_of(customer_type, *ingest(crm, customer_type, {"id": "G-3", "name": "Branch", "parent_id": "G-2"}))
    tree = customer_tree(top)  # the sources made a cycle: G-1 → G-3 → G-2 → G-1
    assert ids(tree["children"]) == [mid.golden_id]
    assert ids(tree["children"][0]["children"]) == [leaf.golden_id]
    assert tree["children"][0]["children"][0]["children"] == []
    assert len(customer_tree(leaf)["ancestors"]) == 2
