"""One representation of a golden record, used by the REST API and by the
change events subscribers receive (so a webhook body equals a GET)."""
from __future__ import annotations

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
