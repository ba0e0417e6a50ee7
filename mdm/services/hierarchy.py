"""Hierarchies: relationships sources state between their records, resolved to golden records.

A CRM account's ``parent_id`` names another CRM account; the ERP's
``bill_to_id`` names another ERP customer. Each statement becomes one
``GoldenRelationship`` row (referencing record + attribute), resolved through
the cross-reference to the golden record the referenced record belongs to
today. Branches of one company stay separate golden records linked this way;
matching never merges them because of the link.

The table is derived data, maintained by ``refresh_relationships`` whenever
golden records change (``mdm.services.derived`` calls it from every
recompute): the rows of records now in those golden records are rebuilt
(child side) and rows pointing at their records are re-resolved (parent
side), so after a merge the children of either golden record hang under the
survivor, and a reference to a record that arrives later resolves then.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import Q

from mdm.db import json_text, marks, table
from mdm.models import EntityType, GoldenRecord, GoldenRelationship, SourceRecord


def relationship_attributes(entity: EntityType) -> list[tuple[str, str, str]]:
    """(attribute, kind, referenced entity code) of each reference attribute that states a relationship."""
    return [
        (a["name"], a["relationship"], a["references"])
        for a in entity.config.get("attributes", [])
        if a.get("type") == "reference" and a.get("relationship") and a.get("references")
    ]


def referencing_entities(entity: EntityType) -> list[tuple[EntityType, str, str]]:
    """(entity type, attribute, kind) of relationship attributes that point at ``entity``'s records."""
    found = []
    from mdm.entity_cache import entity_types

    for other in entity_types().values():
        for attribute, kind, references in relationship_attributes(other):
            if references == entity.code:
                found.append((other, attribute, kind))
    return found


def has_relationships(entity: EntityType) -> bool:
    """Whether records of this entity type reference others or are referenced (links to keep)."""
    return bool(relationship_attributes(entity) or referencing_entities(entity))


def member_rows(entity: EntityType, golden_pks: Sequence[int]) -> list[dict]:
    """The records of these golden records, deleted ones too (links pointing at them must
    let go): id, golden_id, source_system_id, source_id, deleted, the golden record's
    status as ``golden_status`` and each reference attribute's value as ``ref_<name>``.
    Read once for both sides of the hierarchy and for the prices waiting for these records
    (raw: on the path of every incremental match, see mdm.db on the ORM's cost)."""
    pks = list(golden_pks)
    if not pks:
        return []
    refs = [name for name, _, _ in relationship_attributes(entity)]
    names = ["id", "golden_id", "source_system_id", "source_id", "deleted", "golden_status", *(f"ref_{n}" for n in refs)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT r.id, r.golden_id, r.source_system_id, r.source_id, r.deleted, g.status
                       {"".join(", " + json_text("r.attributes") for _ in refs)}
                FROM {table(SourceRecord)} r JOIN {table(GoldenRecord)} g ON g.id = r.golden_id
                WHERE r.golden_id IN ({marks(pks)})""", [*refs, *pks])
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def refresh_relationships(entity: EntityType, golden_pks: Iterable[int], records: list[dict] | None = None) -> int:
    """Rebuild the links of the records in these golden records and re-resolve links pointing at them.

    ``records``: their ``member_rows`` when the caller has read them already.
    Returns the number of rows written or re-pointed. Call inside the
    transaction that changed the golden records.
    """
    pks = sorted(set(golden_pks))
    if not pks:
        return 0
    touched = 0
    attributes = relationship_attributes(entity)
    incoming = referencing_entities(entity)
    if not attributes and not incoming:
        return 0
    if records is None:
        records = member_rows(entity, pks)
    if attributes:
        touched += _rebuild_child_side(entity, pks, attributes, [r for r in records if not r["deleted"]])
    if incoming:
        touched += _resolve_parent_side(entity, pks, incoming, records)
    return touched


def _rebuild_child_side(entity: EntityType, pks: list[int], attributes, rows: list[dict]) -> int:
    wanted = []
    for row in rows:
        for name, kind, references in attributes:
            ref = row[f"ref_{name}"]
            if ref:
                wanted.append((row["id"], row["golden_id"], row["source_system_id"], name, kind, references, ref))
    # Rows of records that left these golden records (or were deleted) go too:
    # their child is one of these golden records. One plain DELETE on two
    # indexed columns (no join, no per-row collection: nothing cascades from it).
    via = [row["id"] for row in rows]
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table(GoldenRelationship)} WHERE child_id IN ({marks(pks)})"
            + (f" OR via_record_id IN ({marks(via)})" if via else ""), [*pks, *via])
    if not wanted:
        return 0
    targets = _resolve_refs({(references, source, ref) for _, _, source, _, _, references, ref in wanted})
    GoldenRelationship.objects.bulk_create([
        GoldenRelationship(
            entity_type=entity, kind=kind, attribute=name, via_record_id=record_id, child_id=golden_pk,
            parent_source_id=source, parent_ref=ref,
            parent_record_id=targets.get((references, source, ref), (None, None))[0],
            parent_id=targets.get((references, source, ref), (None, None))[1],
        )
        for record_id, golden_pk, source, name, kind, references, ref in wanted
    ], batch_size=1000)
    return len(wanted)


def _resolve_parent_side(entity: EntityType, pks: list[int], incoming, rows: list[dict]) -> int:
    """Re-point links whose referenced record is (or was) in these golden records, and resolve waiting ones."""
    touched = 0
    records = [(r["id"], r["golden_id"], r["source_system_id"], r["source_id"], r["deleted"]) for r in rows]
    current = {rid: (None if deleted else golden_pk) for rid, golden_pk, _, _, deleted in records}
    # Members of a retired golden record are the exception (they move to the
    # survivor): look survivors up only when the rows show one.
    live = {g for g in current.values() if g}
    retired = {r["golden_id"] for r in rows if r.get("golden_status", GoldenRecord.Status.RETIRED)
               == GoldenRecord.Status.RETIRED} & live
    survivors = _survivors(retired) if retired else {}
    # Links pointing at these records or golden records, and references that
    # were waiting for these records to arrive: one query for both.
    by_key = {(source, sid): (rid, current[rid]) for rid, _, source, sid, deleted in records if not deleted}
    entity_ids = {e.pk for e, _, _ in incoming}
    attributes = {name for _, name, _ in incoming}
    pk_set = set(pks)
    conditions, params = [f"parent_id IN ({marks(pks)})"], list(pks)
    if current:
        conditions.append(f"parent_record_id IN ({marks(current)})")
        params += list(current)
    if by_key:
        refs = sorted({sid for _, sid in by_key})
        conditions.append(f"(parent_record_id IS NULL AND entity_type_id IN ({marks(entity_ids)}) "
                          f"AND attribute IN ({marks(attributes)}) AND parent_ref IN ({marks(refs)}))")
        params += [*entity_ids, *attributes, *refs]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT id, parent_record_id, parent_id, entity_type_id, attribute, parent_source_id, parent_ref
                FROM {table(GoldenRelationship)} WHERE {" OR ".join(conditions)}""", params)
        links = cursor.fetchall()
    updates: dict[int | None, list[int]] = defaultdict(list)
    arrived = []
    for row_id, parent_record, parent, entity_id, attribute, source, ref in links:
        hit = by_key.get((source, ref)) if parent_record is None else None
        if hit and entity_id in entity_ids and attribute in attributes:
            arrived.append((row_id, *hit))
            continue
        if parent_record not in current and parent not in pk_set:
            continue  # a waiting reference to another record with the same ID elsewhere
        golden_pk = current.get(parent_record) if parent_record in current else _golden_of(parent_record)
        golden_pk = survivors.get(golden_pk, golden_pk)
        if golden_pk != parent:
            updates[golden_pk].append(row_id)
    for golden_pk, row_ids in updates.items():
        touched += GoldenRelationship.objects.filter(pk__in=row_ids).update(parent_id=golden_pk)
    for row_id, record_id, golden_pk in arrived:
        touched += GoldenRelationship.objects.filter(pk=row_id).update(
            parent_record_id=record_id, parent_id=survivors.get(golden_pk, golden_pk))
    return touched


def _resolve_refs(keys: set[tuple[str, int, str]]) -> dict[tuple[str, int, str], tuple[int, int | None]]:
    """(entity code, source id, source ID) → (record id, golden pk) for referenced records that exist."""
    by_entity: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for code, source, ref in keys:
        by_entity[code].add((source, ref))
    return {(code, source, sid): hit for code, refs in by_entity.items()
            for (source, sid), hit in resolve_source_refs(code, refs).items()}


def resolve_source_refs(entity_code: str | None, refs: set[tuple[int, str]]) -> dict[tuple[int, str], tuple[int, int | None]]:
    """(source, source ID) → (record id, golden pk) of the live records of ``entity_code`` these name.

    A retired golden record is followed to its survivor. How prices and
    customer hierarchies find what they reference: each reference names its
    own source, so one condition per source on the (source system, source ID)
    index. Source IDs alone, with the entity type joined by code and the
    model's ordering, made PostgreSQL probe every source's IDs: about a
    second per 2,000 references at a million customers.
    """
    from mdm.entity_cache import entity_types

    entity = entity_types().get(entity_code) if entity_code else None
    if entity is None or not refs:
        return {}
    by_source: dict[int, set[str]] = defaultdict(set)
    for source, sid in refs:
        by_source[source].add(sid)
    wanted = Q()
    for source, sids in sorted(by_source.items()):
        wanted |= Q(source_system_id=source, source_id__in=sorted(sids))
    rows = list(SourceRecord.objects.filter(wanted, entity_type_id=entity.pk, deleted=False).order_by()
                .values_list("source_system_id", "source_id", "id", "golden_id", "golden__status"))
    found = {(source, sid): (rid, golden) for source, sid, rid, golden, _ in rows if (source, sid) in refs}
    # A live record in a retired golden record is the exception: look survivors up only then.
    retired = {golden for source, sid, _, golden, status in rows
               if status == GoldenRecord.Status.RETIRED and (source, sid) in refs}
    survivors = _survivors(retired) if retired else {}
    return {k: (rid, survivors.get(g, g)) for k, (rid, g) in found.items()}


def _survivors(golden_pks: set[int]) -> dict[int, int]:
    """Retired golden pk → the active golden it resolves to (members normally move, this is the safety net)."""
    result = {}
    pending = dict(GoldenRecord.objects.filter(pk__in=golden_pks, status=GoldenRecord.Status.RETIRED)
                   .values_list("pk", "merged_into_id"))
    for pk, target in pending.items():
        seen = {pk}
        while target is not None and target not in seen:
            seen.add(target)
            row = GoldenRecord.objects.filter(pk=target).values_list("status", "merged_into_id").first()
            if row is None or row[0] != GoldenRecord.Status.RETIRED:
                break
            target = row[1]
        result[pk] = target
    return result


def _golden_of(record_id: int | None) -> int | None:
    if record_id is None:
        return None
    row = SourceRecord.objects.filter(pk=record_id).values_list("golden_id", "deleted").first()
    return None if row is None or row[1] else row[0]
