"""Entity types as each process sees them, for a few seconds.

Nearly every request, task and recompute needs the entity types (their
config drives standardization, matching, survivorship, prices, hierarchy);
they change only when an admin edits configuration. A save or delete in this
process clears the cache at once; other processes see it within
``SECONDS``.
"""
from __future__ import annotations

import time

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from mdm.models import EntityType

SECONDS = 5.0
_cache: tuple[float, dict[str, EntityType]] | None = None


def entity_types() -> dict[str, EntityType]:
    """Every entity type (active or not) by code. Treat them as read-only."""
    global _cache
    now = time.monotonic()
    if _cache is None or now - _cache[0] > SECONDS:
        _cache = (now, {e.code: e for e in EntityType.objects.all()})
    return _cache[1]


def clear() -> None:
    global _cache
    _cache = None


@receiver([post_save, post_delete], sender=EntityType)
def _forget(**kwargs) -> None:
    clear()
