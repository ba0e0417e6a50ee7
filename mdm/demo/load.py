"""Load the demo: configs, sources, users, generated extracts, matching.

Used by ``setup_demo`` (``make run``) and by benchmarks, so a benchmark
measures exactly what a user gets.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from mdm.models import EntityType, FieldMapping, SourceSystem
from mdm.roles import ADMINS, ROLE_GROUPS, STEWARDS, VIEWERS
from mdm.services.entity_config import save_entity_config
from mdm.services.files import ingest_file
from mdm.services.sources import load_sources

CONFIG_DIR = Path(settings.BASE_DIR) / "mdm" / "config"
DEMO_SOURCES = CONFIG_DIR / "sources" / "demo.yaml"
# Customers and products before prices: a price resolves through their golden IDs.
ENTITY_ORDER = ["customer", "product", "price"]


def load_configs() -> list[EntityType]:
    loaded = []
    for path in sorted((CONFIG_DIR / "entities").glob("*.yaml")):
        entity, _, _ = save_entity_config(path.read_text(encoding="utf-8"), filename=path.name, user="setup")
        loaded.append(entity)
    load_sources(DEMO_SOURCES.read_text(encoding="utf-8"), str(DEMO_SOURCES))
    return loaded


@transaction.atomic
def ensure_demo_users(credentials_file: Path) -> dict[str, str]:
    """Demo admin, steward and viewer with random passwords kept in ``credentials_file`` (mode 600)."""
    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)
    stored: dict[str, str] = {}
    if credentials_file.exists():
        for line in credentials_file.read_text().splitlines():
            user, _, password = line.partition(" ")
            if user and password:
                stored[user] = password
    User = get_user_model()
    wanted = [("admin", ADMINS, True), ("steward", STEWARDS, False), ("viewer", VIEWERS, False)]
    for username, group, superuser in wanted:
        user = User.objects.filter(username=username).first()
        if user is None or username not in stored:
            password = stored.get(username) or secrets.token_urlsafe(12)
            user = user or User(username=username, email=f"{username}@example.com")
            user.is_staff = superuser
            user.is_superuser = superuser
            user.set_password(password)
            user.save()
            stored[username] = password
        user.groups.add(Group.objects.get(name=group))
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    credentials_file.write_text("".join(f"{u} {p}\n" for u, p in stored.items()))
    credentials_file.chmod(0o600)
    return stored


def ingest_demo_files(folder: Path, *, defer_match: bool = True,
                      report: Callable[[str], None] = print) -> dict[str, dict[str, int]]:
    """Ingest every extract of ``folder`` that a demo source maps; returns counts per file."""
    results = {}
    mappings = FieldMapping.objects.select_related("source_system", "entity_type").exclude(file_name="")
    ordered = sorted(mappings, key=lambda m: (ENTITY_ORDER.index(m.entity_type.code)
                                              if m.entity_type.code in ENTITY_ORDER else 99, m.source_system.code))
    for mapping in ordered:
        path = folder / mapping.file_name
        if not path.exists():
            continue
        result = ingest_file(path=path, source=mapping.source_system, entity_type=mapping.entity_type,
                             defer_match=defer_match, submitted_by="demo")
        results[path.name] = result.batch.counts
        c = result.batch.counts
        report(f"  {path.name:28} → {mapping.source_system.code}/{mapping.entity_type.code}: "
               f"{c['created']} created, {c['updated']} updated, {c['unchanged']} unchanged, {c['rejected']} rejected")
    return results


def demo_sources() -> list[SourceSystem]:
    return list(SourceSystem.objects.all())
