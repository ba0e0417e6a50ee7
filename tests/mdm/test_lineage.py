"""Lineage and history: every value explains itself; any past state can be read."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from golden_helpers import fresh, golden_of, ingest, steward

from mdm.models import GoldenRecordVersion
from mdm.selectors import explain, golden_as_of
from mdm.services import golden as golden_service
from mdm.services.stewardship import set_override

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(customer_type, erp, crm):
    return golden_of(customer_type,
                     *ingest(erp, customer_type, {"id": "E1", "name": "Acme Supply Inc", "city": "Austin",
                                                  "email": "bad@"}),
                     *ingest(crm, customer_type, {"id": "C1", "name": "ACME SUPPLY", "city": "Dallas",
                                                  "email": "ap@acme.example"}))


def test_explain_names_the_source_rule_and_beaten_values_of_each_attribute(acme):
    why = explain(acme)
    assert list(why)[:2] == ["name", "city"]  # the entity type's attribute order
    name = why["name"]
    assert (name["value"], name["source"], name["source_id"], name["rule"]) == (
        "Acme Supply Inc.", "erp", "E1", "source_priority")
    assert name["competing"] == [{"value": "Acme Supply", "source": "crm", "source_id": "C1",
                                  "record_id": name["competing"][0]["record_id"], "valid": True,
                                  "eliminated_by": "source_priority"}]
    assert name["override"] is None
    assert why["email"]["value"] == "ap@acme.example" and why["email"]["source"] == "crm"


def test_explain_shows_an_override_and_what_the_rules_would_have_picked(acme):
    set_override(golden=acme, attribute="city", value="Houston", reason="moved", steward=steward("kim"))
    city = explain(fresh(acme))["city"]
    assert city["value"] == "Houston" and city["rule"] == "override" and city["source"] is None
    assert city["override"]["reason"] == "moved" and city["override"]["by"] == "kim"
    assert city["override"]["computed"] == "Austin"
    assert city["competing"][0]["eliminated_by"] == "override"


def test_a_golden_record_can_be_read_as_of_any_past_time(acme, customer_type):
    first = GoldenRecordVersion.objects.get(golden=acme)
    GoldenRecordVersion.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=2))
    set_override(golden=acme, attribute="city", value="Houston", reason="moved", steward=steward())
    assert golden_as_of(acme, timezone.now() - timedelta(days=3)) is None
    yesterday = golden_as_of(acme, timezone.now() - timedelta(days=1))
    assert yesterday.version == 1 and yesterday.values["city"] == "Austin" and yesterday.reason == "match"
    now = golden_as_of(acme, timezone.now())
    assert now.version == 2 and now.values["city"] == "Houston" and now.reason == "override"
    assert now.members == yesterday.members


def test_every_change_is_a_version_with_who_what_why(acme, customer_type):
    set_override(golden=acme, attribute="city", value="Houston", reason="moved", steward=steward("lee"))
    golden_service.recompute(customer_type, [acme.pk], reason="rematch", force_version=True)
    rows = list(GoldenRecordVersion.objects.filter(golden=acme).order_by("version")
                .values_list("version", "reason", "actor"))
    assert rows == [(1, "match", "system"), (2, "override", "lee"), (3, "rematch", "system")]
