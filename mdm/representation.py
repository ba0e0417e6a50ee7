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
    rows = SourceRecord.objects.filter(golden_id__in=list(golden_pks), deleted=False).values_list(
        "golden_id", "source_system__code", "source_id")
    for golden_pk, source, source_id in rows:
        members[golden_pk].append((source, source_id))
    return members


def payloads_for(goldens) -> list[dict[str, Any]]:
    """Current payloads of golden records loaded with ``select_related("entity_type", "merged_into")``."""
    goldens = list(goldens)
    members = current_members([g.pk for g in goldens])
    return [
        golden_payload(g, members.get(g.pk, []), merged_into=g.merged_into.golden_id if g.merged_into_id else None)
        for g in goldens
    ]


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
