"""Undo is exact: merge then split (or unmerge) gives back the golden records it started from.

Golden values are computed from immutable source records plus steward
decisions and overrides, so taking the records back out must restore every
value, every lineage entry and every golden ID, whatever the data.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from golden_helpers import golden_of, ingest, members, steward
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdm.models import GoldenRecord, SourceRecord
from mdm.services import stewardship as s

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 1, 1, tzinfo=UTC)

record = st.fixed_dictionaries({
    "source": st.sampled_from(["erp", "crm", "ecom"]),
    "name": st.sampled_from(["Acme Supply", "ACME SUPPLY INC", "Acme Supply Co", "Acme"]),
    "city": st.sampled_from(["Austin", "Dallas", "Houston", None]),
    "credit_limit": st.sampled_from(["10000", "25000", "25000.00", None]),
    "payment_terms": st.sampled_from(["NET30", "NET45", None]),
    "phone": st.sampled_from(["415-555-0134", "415-555-0199", "not a phone", None]),
    "email": st.sampled_from(["ap@acme.example", "billing@acme.example", "nope@", None]),
    "updated": st.integers(0, 3),
})
golden = st.tuples(st.lists(record, min_size=1, max_size=3),
                   st.sampled_from([None, ("city", "San Antonio"), ("credit_limit", "30000")]))
scenario = st.lists(golden, min_size=2, max_size=4)

SETTINGS = settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])


_ids = iter(range(10**9))


def build(customer_type, sources, spec):
    """The golden records of ``spec``: one per entry, its records ingested from their sources."""
    from mdm.services.sources import set_mapping

    for source in sources.values():
        set_mapping(source=source, entity_type=customer_type, spec={"id_field": "id", "updated_at_field": "updated_at"})
    goldens = []
    for rows, override in spec:
        records = []
        for row in rows:
            payload = {k: v for k, v in row.items() if k not in ("source", "updated") and v is not None}
            payload["id"] = f"R{next(_ids)}"
            payload["updated_at"] = (T0 + timedelta(days=row["updated"])).isoformat()
            records += ingest(sources[row["source"]], customer_type, payload)
        g = golden_of(customer_type, *records)
        if override:
            s.set_override(golden=g, attribute=override[0], value=override[1], reason="steward knows",
                           steward=steward())
        goldens.append(g)
    return goldens


def state(goldens):
    """What a downstream system sees of each golden record."""
    out = {}
    for g in goldens:
        g = GoldenRecord.objects.get(pk=g.pk)
        out[g.golden_id] = (g.status, g.merged_into_id, g.values, g.lineage, members(g))
    return out


def in_rollback(check):
    """Run one example in a transaction that is rolled back: a clean database per example."""
    with transaction.atomic():
        check()
        transaction.set_rollback(True)


@SETTINGS
@given(spec=scenario, survivor=st.integers(0, 3), data=st.data())
def test_merge_then_split_is_the_identity(customer_type, sources, spec, survivor, data):
    def check():
        goldens = build(customer_type, sources, spec)
        target = goldens[survivor % len(goldens)]
        others = [g for g in goldens if g != target]
        others = data.draw(st.lists(st.sampled_from(others), min_size=1, unique_by=lambda g: g.pk))
        before = state(goldens)
        groups = [members(target)] + [members(o) for o in others]
        s.merge_goldens(survivor=target, others=others, steward=steward())
        assert GoldenRecord.objects.get(pk=others[0].pk).status == "retired"
        s.split_golden(golden=target, groups=groups, steward=steward())
        assert state(goldens) == before

    in_rollback(check)


@SETTINGS
@given(spec=scenario, survivor=st.integers(0, 3))
def test_merge_then_unmerge_of_single_record_golden_records_is_the_identity(customer_type, sources, spec, survivor):
    def check():
        goldens = build(customer_type, sources, spec)
        target = goldens[survivor % len(goldens)]
        others = [g for g in goldens if g != target and len(members(g)) == 1]
        if not others:
            return
        before = state(goldens)
        records = [SourceRecord.objects.get(golden=o) for o in others]
        s.merge_goldens(survivor=target, others=others, steward=steward())
        for r in reversed(records):
            s.unmerge_record(record=r, steward=steward())
        assert state(goldens) == before

    in_rollback(check)
