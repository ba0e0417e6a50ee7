"""Source data is hostile: HTML or script in a company name renders as text on every page."""
from __future__ import annotations

import pytest
from django.urls import reverse

from mdm.models import IngestBatch, RejectedRecord
from tests.stewardship.hub import HOSTILE

pytestmark = pytest.mark.django_db

ESCAPED = "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;"


@pytest.fixture
def hostile(hub, customer_type, erp):
    a = hub.customer(HOSTILE, city="<b>Austin</b>")
    b = hub.customer(HOSTILE + " Ltd", source="crm")
    task = hub.possible_match(a, b, title=f"{HOSTILE} ~ twin")
    batch = IngestBatch.objects.create(source_system=erp, entity_type=customer_type, channel="upload",
                                       file_name=f"{HOSTILE}.csv", status="completed")
    RejectedRecord.objects.create(batch=batch, entity_type=customer_type, source_system=erp, position=2,
                                  source_id=HOSTILE, raw=f"{HOSTILE},,", reasons=[{"code": "x", "message": HOSTILE}])
    return a, task, batch


def assert_inert(page: str, shown: bool = True):
    assert "<script>alert" not in page and "onerror=alert(1)>" not in page
    if shown:
        assert ESCAPED in page or "&lt;script&gt;" in page


@pytest.mark.parametrize("name, args", [
    ("queue", lambda a, t, b: []), ("task", lambda a, t, b: [t.pk]), ("golden", lambda a, t, b: [a.golden_id]),
    ("upload", lambda a, t, b: [b.pk]), ("uploads", lambda a, t, b: []),
])
def test_a_script_in_a_company_name_is_shown_as_text(login, hostile, name, args):
    page = login("steward").get(reverse(f"stewardship:{name}", args=args(*hostile))).content.decode()
    assert_inert(page)


def test_the_dashboard_stays_inert(login, hostile):
    assert_inert(login("steward").get(reverse("stewardship:home")).content.decode(), shown=False)


def test_search_results_escape_it_too(login, hostile):
    page = login("viewer").get(reverse("stewardship:golden_search"), {"q": "script"}).content.decode()
    assert_inert(page)
    assert hostile[0].golden_id in page


def test_the_explanation_chart_escapes_compared_values(login, hostile):
    _, task, _ = hostile
    page = login("viewer").get(reverse("stewardship:task", args=[task.pk])).content.decode()
    svg = page[page.index("<svg class=\"chart\""):]
    assert "<script>" not in svg and "&lt;script&gt;" in svg
