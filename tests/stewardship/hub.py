"""Test data for the steward UI: golden records built the real way (ingest, attach, recompute)
and tasks shaped like the ones matching and survivorship open."""
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
from mdm.services.sources import set_mapping

PASSWORD = "correct-horse-battery-staple"
HOSTILE = '<script>alert("pwned")</script><img src=x onerror=alert(1)> & Sons'


def htmx(target: str | None = None) -> dict:
    """Headers of an htmx request (optionally aimed at the element with id ``target``)."""
    headers = {"HTTP_HX_REQUEST": "true"}
    if target:
        headers["HTTP_HX_TARGET"] = target
    return headers


def make_users() -> dict:
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in (VIEWERS, STEWARDS, ADMINS)}
    User = get_user_model()

    def make(username, *group_names):
        user = User.objects.create_user(username, password=PASSWORD)
        for name in group_names:
            user.groups.add(groups[name])
        return user

    return {
        "viewer": make("vera", VIEWERS), "steward": make("stella", STEWARDS), "steward2": make("sam", STEWARDS),
        "admin": make("ada", ADMINS), "norole": make("nobody"),
    }


def explanation(name_a: str, name_b: str, probability: float = 0.93) -> dict:
    return {
        "prior_weight": -4.0, "match_weight": 3.9, "probability": probability,
        "comparisons": [
            {"name": "name", "level": "fuzzy ≥ 0.90", "weight": 5.2, "values": [name_a, name_b]},
            {"name": "phone", "level": "exact", "weight": 4.1, "values": ["+14155550134", "+14155550134"]},
            {"name": "city", "level": "different", "weight": -1.4, "values": ["Austin", "Dallas"]},
        ],
    }


class Hub:
    """Builds golden records and steward tasks for one entity type through the hub's services."""

    def __init__(self, entity, sources):
        self.entity = entity
        self.sources = sources
        self._ids = itertools.count(1)
        for source in sources.values():
            set_mapping(source=source, entity_type=entity, spec={"id_field": "id"})

    def record(self, source: str, **payload) -> SourceRecord:
        """Ingest one record through the real ingest path, without the match task (tests place records)."""
        payload.setdefault("id", f"{source.upper()}-{next(self._ids)}")
        system = self.sources[source]
        batch = start_batch(source=system, entity_type=self.entity, channel="api")
        ingest_rows(batch=batch, rows=read_json_array([payload]),
                    mapping=ResolvedMapping.for_source(system, self.entity), defer_match=True)
        return SourceRecord.objects.get(source_system=system, source_id=payload["id"])

    def golden(self, *records: SourceRecord) -> GoldenRecord:
        with transaction.atomic():
            golden = golden_service.create_goldens(self.entity, 1)[0]
            SourceRecord.objects.filter(pk__in=[r.pk for r in records]).update(golden=golden)
            golden_service.recompute(self.entity, [golden.pk], reason="match")
        golden.refresh_from_db()
        return golden

    def customer(self, name: str, source: str = "erp", **extra) -> GoldenRecord:
        return self.golden(self.record(source, name=name, **extra))

    def possible_match(self, a: GoldenRecord, b: GoldenRecord, *, probability: float = 0.93, priority: float = 50.0,
                       title: str | None = None) -> StewardTask:
        ra = SourceRecord.objects.filter(golden=a).order_by("id").first()
        rb = SourceRecord.objects.filter(golden=b).order_by("id").first()
        return StewardTask.objects.create(
            kind=StewardTask.Kind.POSSIBLE_MATCH, entity_type=self.entity, golden=a, other_golden=b, record=ra,
            other_record=rb, record_source=ra.source_system, other_record_source=rb.source_system,
            dedupe_key=f"pair:{ra.pk}:{rb.pk}",
            title=title or f"{a.display_name} ~ {b.display_name}", probability=probability, priority=priority,
            details={"probability": probability, "records": [ra.pk, rb.pk],
                     "explanation": explanation(a.display_name, b.display_name, probability)},
        )

    def credit_conflict(self, name: str = "Acme Supply Inc") -> tuple[GoldenRecord, StewardTask]:
        """Two ERP records (the trusted source of credit limits) that disagree: recompute opens the task."""
        first = self.record("erp", name=name, credit_limit="10000")
        second = self.record("erp", name=name, credit_limit="25000")
        golden = self.golden(first, second)
        task = StewardTask.objects.get(kind=StewardTask.Kind.ATTRIBUTE_CONFLICT, golden=golden, status="open")
        return golden, task
