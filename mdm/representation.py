"""One representation of a golden record, used by the REST API and by the
change events subscribers receive (so a webhook body equals a GET).

``golden_payload`` is the shape; ``payloads_for`` builds it for many golden
records in two queries (list endpoints), ``version_payload`` for a past
version (``as_of``), from the same history rows the change events came from.
"""
from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any


def golden_payload(golden, members: list[tuple[str, str]] | None = None, *, merged_into: str | None = None) -> dict[str, Any]:
    """``members``: (source code, source ID) of the active member records."""
    return {
        "golden_id": golden.golden_id,
        "entity_type": golden.entity_type.code,
        "status": golden.status,
        "version": golden.version,
        "merged_into": merged_into,
        "values": golden.values,
        "sources": [{"source": s, "source_id": i} for s, i in sorted(members or [])],
        "updated_at": golden.updated_at.isoformat() if golden.updated_at else None,
    }


def current_members(golden_pks) -> dict[int, list[tuple[str, str]]]:
    """(source code, source ID) of the active member records of each golden record, in one query."""
    from mdm.models import SourceRecord

    members: dict[int, list[tuple[str, str]]] = defaultdict(list)
    # order_by(): the model's default ordering would join and sort by entity type for nothing.
    rows = SourceRecord.objects.filter(golden_id__in=list(golden_pks), deleted=False).order_by().values_list(
        "golden_id", "source_system__code", "source_id")
    for golden_pk, source, source_id in rows:
        members[golden_pk].append((source, source_id))
    return members


def merged_into_id_text(golden) -> str | None:
    if not golden.merged_into_id:
        return None
    # Loaded as an annotation by list queries (see ``for_payload``), else through the relation.
    text = getattr(golden, "merged_into_code", None)
    return text if text is not None else golden.merged_into.golden_id


def for_payload(queryset, entity=None, *, lineage: bool = False):
    """Load just what a payload needs: no lineage unless asked for, the survivor's ID as an
    annotation instead of its whole row, and the entity type once rather than per row."""
    from django.db import connection
    from django.db.models import F, OuterRef, Value
    from django.db.models.functions import Concat

    from mdm.models import SourceRecord

    queryset = queryset.annotate(merged_into_code=F("merged_into__golden_id"))
    if connection.vendor == "postgresql":
        # Members in the same round trip: "code:source_id" strings (codes never contain ':').
        from django.contrib.postgres.expressions import ArraySubquery

        refs = (SourceRecord.objects.filter(golden_id=OuterRef("pk"), deleted=False).order_by()
                .values_list(Concat("source_system__code", Value(":"), "source_id")))
        queryset = queryset.annotate(member_refs=ArraySubquery(refs))
    if not lineage:
        queryset = queryset.defer("lineage")
    return queryset if entity is not None else queryset.select_related("entity_type")


def payloads_for(goldens, entity=None) -> list[dict[str, Any]]:
    """Current payloads of golden records (of ``entity``, when given, saving a join per row)."""
    goldens = list(goldens)
    if entity is not None:
        for g in goldens:
            g.entity_type = entity
    if all(hasattr(g, "member_refs") for g in goldens):
        members = {g.pk: [tuple(ref.split(":", 1)) for ref in g.member_refs] for g in goldens}
    else:
        members = current_members([g.pk for g in goldens])
    return [golden_payload(g, members.get(g.pk, []), merged_into=merged_into_id_text(g)) for g in goldens]


def version_payload(golden, version) -> dict[str, Any]:
    """The payload of ``golden`` as it was at ``version`` (a GoldenRecordVersion): equal to
    the payload of the change event written with that version."""
    from mdm.models import SourceRecord

    members = list(SourceRecord.objects.filter(id__in=version.members).values_list("source_system__code", "source_id"))
    past = SimpleNamespace(
        golden_id=golden.golden_id, entity_type=golden.entity_type, status=version.status, version=version.version,
        values=version.values, updated_at=version.created_at,
    )
    return golden_payload(past, members, merged_into=version.merged_into_golden_id or None)
