"""Conflict resolution: the competing values with sources and dates; pick one or type one, with a reason."""
from __future__ import annotations

import pytest
from django.urls import reverse

from mdm.models import Override, StewardTask

pytestmark = pytest.mark.django_db


@pytest.fixture
def conflict(hub):
    return hub.credit_conflict()


def test_the_page_lists_each_competing_value_with_its_source_and_dates(login, conflict):
    _golden, task = conflict
    response = login("steward").get(reverse("stewardship:task", args=[task.pk]))
    page = response.content.decode()
    values = response.context["values"]
    assert sorted(v["value"] for v in values) == ["10000.00", "25000.00"]
    assert all(v["received_at"] is not None for v in values)
    assert "Sources disagree on" in page and "credit_limit" in page and "erp:" in page
    assert page.count('name="choice" value="record:') == 2


def test_picking_a_value_makes_it_the_golden_value_with_the_reason(login, conflict):
    golden, task = conflict
    chosen = task.details["values"][1]
    response = login("steward").post(reverse("stewardship:task_resolve", args=[task.pk]), {
        "version": task.version, "choice": f"record:{chosen['record_id']}", "reason": "signed agreement"})
    assert response.status_code == 302
    golden.refresh_from_db()
    task.refresh_from_db()
    assert golden.values["credit_limit"] == chosen["value"]
    assert task.status == StewardTask.Status.RESOLVED
    assert "signed agreement" in Override.objects.get(golden=golden, attribute="credit_limit").reason


def test_typing_a_value_standardizes_and_keeps_it(login, conflict):
    golden, task = conflict
    login("steward").post(reverse("stewardship:task_resolve", args=[task.pk]), {
        "version": task.version, "choice": "custom", "custom_value": "20,000", "reason": "credit committee"})
    golden.refresh_from_db()
    assert golden.values["credit_limit"] == "20000.00"


def test_a_resolution_without_a_reason_is_refused_and_nothing_changes(login, conflict):
    _golden, task = conflict
    response = login("steward").post(reverse("stewardship:task_resolve", args=[task.pk]), {
        "version": task.version, "choice": "custom", "custom_value": "20000", "reason": ""})
    assert response.status_code == 400
    assert b"give a reason" in response.content.lower()
    task.refresh_from_db()
    assert task.status == StewardTask.Status.OPEN and not Override.objects.exists()


def test_an_invalid_typed_value_is_explained(login, conflict):
    _, task = conflict
    response = login("steward").post(reverse("stewardship:task_resolve", args=[task.pk]), {
        "version": task.version, "choice": "custom", "custom_value": "lots", "reason": "why not"})
    assert response.status_code == 400
    assert b"is not a valid credit_limit" in response.content


def test_resolving_an_already_resolved_conflict_is_refused_with_who_did_it(client, users, conflict):
    _, task = conflict
    record_id = task.details["values"][0]["record_id"]
    client.force_login(users["steward"])
    client.post(reverse("stewardship:task_resolve", args=[task.pk]),
                {"version": task.version, "choice": f"record:{record_id}", "reason": "first"})
    client.force_login(users["steward2"])
    response = client.post(reverse("stewardship:task_resolve", args=[task.pk]),
                           {"version": task.version, "choice": "custom", "custom_value": "1", "reason": "second"})
    assert response.status_code == 409 and b"by stella" in response.content
    assert Override.objects.get().reason.startswith("first")


@pytest.fixture
def price_conflict(hub, entity_types, sources):
    """ERP sells gloves to Acme at 120.00 a case of 12, the CRM quoted 11.00 each: 10 vs 11 per each."""
    from mdm.services.prices import resolve_price_records
    from tests.stewardship.hub import Hub

    products, prices = Hub(entity_types["product"], sources), Hub(entity_types["price"], sources)
    hub.golden(hub.record("erp", id="C100", name="Acme Supply"), hub.record("crm", id="A-1", name="Acme Supply"))
    products.golden(products.record("erp", id="P1", name="Nitrile gloves", base_uom="EA", pack_uom="CS",
                                    pack_qty="12"),
                    products.record("crm", id="CP1", name="Nitrile Gloves"))
    erp = prices.record("erp", id="E1", currency="USD", customer_id="C100", product_id="P1", unit_price="120.00",
                        uom="CS")
    crm = prices.record("crm", id="Q1", currency="USD", customer_id="A-1", product_id="CP1", unit_price="11.00",
                        uom="EA")
    resolve_price_records(entity_types["price"], [erp.pk, crm.pk])
    return StewardTask.objects.get(kind="price_conflict", status="open"), crm


def test_a_price_conflict_shows_units_and_the_price_per_base_unit(login, price_conflict):
    task, _ = price_conflict
    page = login("steward").get(reverse("stewardship:task", args=[task.pk])).content.decode()
    assert "Prices differ beyond the tolerance" in page and "Per EA" in page
    rows = page[page.index('id="competing-values"'):page.index('id="choice-custom"')]
    assert ">120</label></td>\n          <td>CS</td><td class=\"num\">10</td>" in rows
    assert ">11</label></td>\n          <td>EA</td><td class=\"num\">11</td>" in rows


def test_picking_the_crm_quote_takes_its_price_and_unit(login, price_conflict):
    task, quote = price_conflict
    login("steward").post(reverse("stewardship:task_resolve", args=[task.pk]),
                          {"version": task.version, "choice": f"record:{quote.pk}", "reason": "CRM quote agreed"})
    task.refresh_from_db()
    assert task.status == "resolved"
    assert (task.golden.values["unit_price"], task.golden.values["uom"]) == ("11.00", "EA")
