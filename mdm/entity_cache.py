"""Entity types and source-system codes as each process sees them, for a few seconds.

Nearly every request, task and recompute needs the entity types (their
config drives standardization, matching, survivorship, prices, hierarchy)
and the codes of the source systems (lineage names them); they change only
when an admin edits configuration. A save or delete in this process clears
the cache at once; other processes see it within ``SECONDS``, and a source
system this process has not seen yet is read at once.
"""
from __future__ import annotations

import time

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from mdm.models import EntityType, SourceSystem

SECONDS = 5.0
_cache: tuple[float, dict[str, EntityType]] | None = None
_codes: tuple[float, dict[int, str]] | None = None


def entity_types() -> dict[str, EntityType]:
    """Every entity type (active or not) by code. Treat them as read-only."""
    global _cache
    now = time.monotonic()
    if _cache is None or now - _cache[0] > SECONDS:
        _cache = (now, {e.code: e for e in EntityType.objects.all()})
    return _cache[1]


def entity_type_by_pk(pk: int) -> EntityType:
    for entity in entity_types().values():
        if entity.pk == pk:
            return entity
    return EntityType.objects.get(pk=pk)  # created a moment ago in another process (or missing: DoesNotExist)


def source_codes(wanted=()) -> dict[int, str]:
    """Source system code by pk; read again when stale or when one of ``wanted`` is unknown."""
    global _codes
    now = time.monotonic()
    if _codes is None or now - _codes[0] > SECONDS or not set(wanted) <= _codes[1].keys():
        _codes = (now, dict(SourceSystem.objects.values_list("pk", "code")))
    return _codes[1]


def clear() -> None:
    global _cache, _codes
    _cache = _codes = None


@receiver([post_save, post_delete], sender=EntityType)
@receiver([post_save, post_delete], sender=SourceSystem)
def _forget(**kwargs) -> None:
    clear()
