"""Factories for golden-record tests: source records through real ingestion, golden records, people."""
from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from mdm.models import GoldenRecord, SourceRecord, StewardTask
from mdm.readers import read_json_array
from mdm.roles import ADMINS, STEWARDS, VIEWERS
from mdm.services import golden as golden_service
from mdm.services.ingest import ResolvedMapping, ingest_rows, start_batch

_names = itertools.count(1)


def person(role: str | None = STEWARDS, name: str | None = None):
    """A user with one role (Stewards, Admins, Viewers) or none."""
    user = get_user_model().objects.create_user(username=name or f"user{next(_names)}")  # no password: no slow hashing
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def steward(name: str | None = None):
    return person(STEWARDS, name)


def admin(name: str | None = None):
    return person(ADMINS, name)


def viewer(name: str | None = None):
    return person(VIEWERS, name)


def ingest(source, entity, *rows: dict) -> list[SourceRecord]:
    """Ingest rows as ``source`` (standardized like production) without enqueuing matching."""
    mapping = ResolvedMapping.for_source(source, entity)
    batch = start_batch(source=source, entity_type=entity, channel="api")
    result = ingest_rows(batch=batch, rows=read_json_array(list(rows)), mapping=mapping, collect_outcomes=True,
                         defer_match=True)
    rejected = [o for o in result.outcomes if o.status == "rejected"]
    assert not rejected, rejected
    ids = [o.record_id for o in result.outcomes]
    by_id = SourceRecord.objects.in_bulk(ids)
    return [by_id[i] for i in ids]


def golden_of(entity, *records, reason: str = "match") -> GoldenRecord:
    """A new golden record holding ``records``, recomputed as matching would."""
    with transaction.atomic():
        golden = golden_service.create_goldens(entity, 1)[0]
        SourceRecord.objects.filter(pk__in=[r.pk for r in records]).update(golden=golden)
        golden_service.recompute(entity, [golden.pk], reason=reason)
    golden.refresh_from_db()
    return golden


def members(golden) -> list[int]:
    return sorted(SourceRecord.objects.filter(golden=golden, deleted=False).values_list("id", flat=True))


def fresh(obj):
    obj.refresh_from_db()
    return obj


def payment_terms_conflict(entity, erp, crm):
    """ERP and CRM disagree on payment terms, a critical attribute both are trusted for:
    ``(golden record, its attribute-conflict task, the CRM record)``."""
    e1, = ingest(erp, entity, {"id": "E1", "name": "Acme", "payment_terms": "NET30"})
    c1, = ingest(crm, entity, {"id": "C1", "name": "Acme", "payment_terms": "NET45"})
    golden = golden_of(entity, e1, c1)
    return golden, StewardTask.objects.get(kind="attribute_conflict", golden=golden), c1
