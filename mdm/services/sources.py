"""The registry of source systems and their field mappings."""
from __future__ import annotations

from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction

from mdm.models import EntityType, FieldMapping, SourceSystem

KINDS = {choice.value for choice in SourceSystem.Kind}
MAPPING_KEYS = {"file", "format", "encoding", "id_field", "updated_at_field", "deleted_field", "fields"}


class SourceConfigInvalid(Exception):
    pass


@transaction.atomic
def add_source(*, code: str, name: str, kind: str = "other", default_region: str = "US", active: bool = True) -> tuple[SourceSystem, bool]:
    """Create or update a source system; returns (source, created)."""
    if kind not in KINDS:
        raise SourceConfigInvalid(f"unknown kind {kind!r} (expected one of {', '.join(sorted(KINDS))})")
    source = SourceSystem.objects.filter(code=code).first()
    created = source is None
    source = source or SourceSystem(code=code)
    source.name = name
    source.kind = kind
    source.default_region = (default_region or "").upper()
    source.active = active
    try:
        source.full_clean()
    except ValidationError as exc:
        raise SourceConfigInvalid("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
    source.save()
    return source, created


@transaction.atomic
def set_mapping(*, source: SourceSystem, entity_type: EntityType, spec: dict[str, Any], where: str = "") -> FieldMapping:
    where = where or f"{source.code}.mappings.{entity_type.code}"
    unknown = set(spec) - MAPPING_KEYS
    if unknown:
        raise SourceConfigInvalid(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (expected {', '.join(sorted(MAPPING_KEYS))})")
    fields = spec.get("fields") or {}
    if not isinstance(fields, dict):
        raise SourceConfigInvalid(f"{where}.fields: a mapping of source column to attribute")
    bad = sorted({attr for attr in fields.values() if attr not in entity_type.attribute_names})
    if bad:
        raise SourceConfigInvalid(
            f"{where}.fields: unknown attribute(s) of {entity_type.code}: {', '.join(map(str, bad))}"
        )
    fmt = spec.get("format", "")
    if fmt and fmt not in FieldMapping.Format.values:
        raise SourceConfigInvalid(f"{where}.format: expected csv or jsonl")
    mapping, _ = FieldMapping.objects.update_or_create(
        source_system=source, entity_type=entity_type,
        defaults={
            "id_field": spec.get("id_field") or "id",
            "updated_at_field": spec.get("updated_at_field") or "",
            "deleted_field": spec.get("deleted_field") or "",
            "fields": {str(k): str(v) for k, v in fields.items()},
            "file_format": fmt,
            "encoding": spec.get("encoding") or "",
            "file_name": spec.get("file") or "",
        },
    )
    return mapping


@transaction.atomic
def load_sources(text: str, filename: str = "") -> list[SourceSystem]:
    """Load a sources YAML file (see mdm/config/sources/demo.yaml)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SourceConfigInvalid(f"{filename}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        raise SourceConfigInvalid(f"{filename}: expected a mapping with a 'sources' list")
    loaded = []
    for index, entry in enumerate(data["sources"]):
        where = f"sources[{index}]"
        if not isinstance(entry, dict) or "code" not in entry:
            raise SourceConfigInvalid(f"{where}: each source needs at least a code")
        source, _ = add_source(
            code=entry["code"], name=entry.get("name", entry["code"]), kind=entry.get("kind", "other"),
            default_region=entry.get("default_region", "US"), active=entry.get("active", True),
        )
        for entity_code, spec in (entry.get("mappings") or {}).items():
            entity = EntityType.objects.filter(code=entity_code).first()
            if entity is None:
                raise SourceConfigInvalid(f"{where}.mappings.{entity_code}: unknown entity type (load its config first)")
            set_mapping(source=source, entity_type=entity, spec=spec or {}, where=f"{where}.mappings.{entity_code}")
        loaded.append(source)
    return loaded
