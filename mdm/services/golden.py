"""Golden records: identities with stable IDs, whose values are recomputed
(survivorship) from member source records plus steward overrides.

``recompute`` is the one path that changes a golden record's state: it
writes the new values and lineage, a ``GoldenRecordVersion`` and a
``ChangeEvent`` (outbox) in the caller's transaction, and opens or closes
attribute-conflict tasks. Merges, splits, rematches and rule changes all end
in it, so history and events cannot be forgotten by one path.
"""
from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import orjson
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from mdm.db import SMALL as SMALL_BATCH
from mdm.db import (
    JsonText,
    allocate_ids,
    binary_results,
    bulk_insert,
    id_in,
    insert_rows,
    json_key_params,
    json_keys,
    marks,
    read_datetime,
    row_lock,
    table,
    update_rows,
)
from mdm.entity_cache import source_codes
from mdm.models import (
    ChangeEvent,
    EntityType,
    GoldenRecord,
    GoldenRecordVersion,
    Override,
    SourceRecord,
    StewardTask,
)
from mdm.representation import golden_payload
from mdm.survivorship import Contribution, GoldenResult, compile_rules, compute_golden
from mdm.survivorship import Override as RuleOverride

log = logging.getLogger(__name__)
CHUNK = 1000
# Names are searched (steward UI, API ``search``) from this many characters: the
# trigram index cannot serve a shorter text, which would scan every golden record
# (170-300 ms at 100,000) for more hits than anyone reads.
NAME_SEARCH_MIN = 3
VERSION_FIELDS = ["golden", "version", "status", "merged_into_golden_id", "values", "lineage", "members", "reason",
                  "actor", "note", "created_at"]
EVENT_FIELDS = ["entity_type", "golden", "golden_id_text", "golden_version", "event_type", "payload", "created_at"]

_rules_cache: dict[tuple[int, int], dict] = {}


def rules_for(entity: EntityType, config: dict | None = None) -> dict:
    """Compiled survivorship rules of the entity type's active config (or of ``config``)."""
    if config is not None:
        return compile_rules(config)
    key = (entity.pk, entity.version)
    rules = _rules_cache.get(key)
    if rules is None:
        rules = _rules_cache[key] = compile_rules(entity.config)
    return rules


def format_golden_id(entity: EntityType, number: int) -> str:
    return f"{entity.id_prefix}-{number:06d}"


def allocate_numbers(entity: EntityType, count: int) -> Sequence[int]:
    """Reserve ``count`` golden numbers, ascending; a number is never given out twice.

    On PostgreSQL from a sequence per entity type: ``nextval`` takes no lock
    a transaction keeps, so match tasks creating golden records side by side
    (two worker processes loading prices) do not wait for each other's
    commit, as they did on the counter row. A rolled-back transaction leaves
    a gap; numbers stay unique and readable. The embedded SQLite, one writer
    at a time anyway, counts on the entity type's row (``golden_seq``, which
    also holds where a new sequence starts).
    """
    if connection.vendor != "postgresql":
        with transaction.atomic():
            EntityType.objects.filter(pk=entity.pk).update(golden_seq=F("golden_seq") + count)
            last = EntityType.objects.filter(pk=entity.pk).values_list("golden_seq", flat=True).get()
        return range(last - count + 1, last + 1)
    name = prepare_numbers(entity)
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [name, count])
        return sorted(row[0] for row in cursor.fetchall())


def prepare_numbers(entity: EntityType) -> str:
    """The entity type's number sequence on PostgreSQL, created if missing (with the entity type;
    else on first use, the counter's value carried over). Concurrent first uses take turns on
    an advisory lock, until the creator commits."""
    name = _number_sequence(entity)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
            if not cursor.fetchone()[0]:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [name])
                cursor.execute(f"SELECT golden_seq FROM {table(EntityType)} WHERE id = %s", [entity.pk])
                start = cursor.fetchone()[0] + 1
                cursor.execute(f"CREATE SEQUENCE IF NOT EXISTS {name} AS bigint START {int(start)}")
    return name


def set_last_number(entity: EntityType, last: int) -> None:
    """Make ``last`` the entity type's last golden number given out (benchmarks that load or wipe golden records)."""
    EntityType.objects.filter(pk=entity.pk).update(golden_seq=last)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SEQUENCE IF EXISTS {_number_sequence(entity)}")  # recreated from golden_seq


def _number_sequence(entity: EntityType) -> str:
    return f"mdm_golden_number_{int(entity.pk)}"


def create_goldens(entity: EntityType, count: int) -> list[GoldenRecord]:
    """New, empty golden records (version 0) ready to receive members, then ``recompute``."""
    if count <= 0:
        return []
    now = timezone.now()
    numbers = allocate_numbers(entity, count)
    fields = ["entity_type", "golden_id", "status", "display_name", "values", "lineage", "version", "fingerprint",
              "created_at", "updated_at"]
    if count >= SMALL_BATCH and connection.vendor == "postgresql":
        # Initial loads create a hundred thousand at once: rows, not model instances.
        ids = allocate_ids(GoldenRecord, count)
        insert_rows(GoldenRecord, ["id", *fields], [
            (pk, entity.pk, format_golden_id(entity, n), GoldenRecord.Status.ACTIVE, "", {}, {}, 0, "", now, now)
            for pk, n in zip(ids, numbers)
        ])
        return [GoldenRecord(pk=pk, entity_type=entity, golden_id=format_golden_id(entity, n), version=0,
                             created_at=now, updated_at=now) for pk, n in zip(ids, numbers)]
    goldens = [
        GoldenRecord(entity_type=entity, golden_id=format_golden_id(entity, n), version=0, created_at=now,
                     updated_at=now)
        for n in numbers
    ]
    bulk_insert(goldens, fields)
    return goldens


def resolve(golden_id: str) -> GoldenRecord | None:
    """The golden record an ID designates today: a retired ID resolves to its survivor."""
    golden = GoldenRecord.objects.select_related("entity_type").filter(golden_id=golden_id).first()
    seen = set()
    while golden is not None and golden.status == GoldenRecord.Status.RETIRED and golden.merged_into_id:
        if golden.pk in seen:  # defensive: a cycle would be a bug, never loop forever
            break
        seen.add(golden.pk)
        golden = GoldenRecord.objects.select_related("entity_type").get(pk=golden.merged_into_id)
    return golden


def display_name(entity: EntityType, values: dict) -> str:
    for key in ("name", "display_name", "title"):
        if values.get(key):
            return str(values[key])[:300]
    for spec in entity.attribute_specs:
        value = values.get(spec.name)
        if isinstance(value, str) and value:
            return value[:300]
    return ""


@dataclass
class RecomputeResult:
    changed: list[GoldenRecord] = field(default_factory=list)
    # Pks of the changed golden records whose *values* changed (not only
    # lineage, status or members): what a rule-change preview counts.
    values_changed: list[int] = field(default_factory=list)
    unchanged: int = 0
    conflicts_opened: int = 0
    conflicts_closed: int = 0


def contributions_for(golden_pks: Sequence[int], attributes: Sequence[str] | None = None
                      ) -> dict[int, list[Contribution]]:
    """The members of these golden records as survivorship sees them.

    ``attributes``: read only these attributes of each member (a rule preview
    recomputes only the attributes whose rules changed, and the database
    sends a fraction of each record).
    """
    members: dict[int, list[Contribution]] = defaultdict(list)
    if not golden_pks:
        return members
    # Raw, attributes as JSON text parsed with orjson: reading the members is
    # most of a recompute's database time (and see mdm.db on the ORM's cost).
    among, params = id_in("golden_id", golden_pks)
    if attributes is None:
        attributes_sql = "CAST(attributes AS TEXT)"
    else:
        attributes_sql, params = json_keys("attributes", len(attributes)), [*json_key_params(attributes), *params]
    with connection.cursor() as cursor:
        binary_results(cursor)
        cursor.execute(
            f"""SELECT golden_id, id, source_system_id, source_id, {attributes_sql}, CAST(issues AS TEXT),
                       source_updated_at, received_at
                FROM {table(SourceRecord)} WHERE {among} AND NOT deleted""", params)
        rows = cursor.fetchall()
    loads = orjson.loads
    codes = source_codes({row[2] for row in rows})
    for golden_pk, rid, source, source_id, values, issues, updated, received in rows:
        values = loads(values)
        if attributes is not None:  # a key the record lacks came back as null
            values = {name: value for name, value in values.items() if value is not None}
        members[golden_pk].append(Contribution(rid, codes[source], source_id, values,
                                               loads(issues) if issues and issues != "[]" else (),
                                               read_datetime(updated), read_datetime(received)))
    return members


def overrides_for(golden_pks: Sequence[int]) -> dict[int, dict[str, RuleOverride]]:
    result: dict[int, dict[str, RuleOverride]] = defaultdict(dict)
    if not golden_pks:
        return result
    among, params = id_in("o.golden_id", golden_pks)
    user = get_user_model()
    username = connection.ops.quote_name(user._meta.get_field(user.USERNAME_FIELD).column)
    user_pk = connection.ops.quote_name(user._meta.pk.column)
    with connection.cursor() as cursor:
        binary_results(cursor)
        cursor.execute(
            f"""SELECT o.golden_id, o.attribute, CAST(o.value AS TEXT), o.reason, u.{username}, o.created_at
                FROM {table(Override)} o JOIN {table(user)} u ON u.{user_pk} = o.created_by_id
                WHERE {among}""", params)
        for golden_pk, attribute, value, reason, by, created in cursor.fetchall():
            result[golden_pk][attribute] = RuleOverride(orjson.loads(value), reason, by, read_datetime(created))
    return result


def compute(entity: EntityType, golden_pks: Sequence[int], *, config: dict | None = None,
            rules: dict | None = None, only_rules: bool = False) -> dict[int, tuple[GoldenResult, list[int]]]:
    """Compute (without saving) each golden record's result and member ids; used by recompute and previews.

    ``config`` computes with another config than the active one (a rule
    draft's preview); ``rules`` passes its compiled rules so a preview over
    many chunks compiles them once. ``only_rules``: ``rules`` covers only some
    attributes, and only those are read and computed (a preview of the
    attributes a draft changes; not for entity types with derived values,
    prices, which need the whole record).
    """
    return _compute(entity, golden_pks, config=config, rules=rules, only_rules=only_rules)[0]


def _compute(entity, golden_pks, *, config=None, rules=None, only_rules=False):
    """``compute`` plus the members read on the way: {golden pk: [Contribution]}."""
    config = config or entity.config
    if rules is None:
        rules = rules_for(entity, config if config is not entity.config else None)
    tolerance = float((config.get("survivorship") or {}).get("price_tolerance") or 0)
    members = contributions_for(golden_pks, list(rules) if only_rules else None)
    overrides = overrides_for(golden_pks)
    out = {}
    for pk in golden_pks:
        contributions = members.get(pk, [])
        result = compute_golden(rules, contributions, overrides.get(pk), price_tolerance=tolerance)
        out[pk] = (result, sorted(c.record_id for c in contributions))
    if config.get("prices") is not None:
        # Golden prices also carry what their references resolve to (golden
        # customer and product, price per base unit): derived values, added
        # here so every path (recompute, preview) sees the same record.
        from mdm.services.prices import enrich_price_results

        enrich_price_results(entity, config, out)
    return out, members


def recompute(
    entity: EntityType,
    golden_pks: Iterable[int],
    *,
    reason: str,
    actor: str = "system",
    note: str = "",
    event_types: dict[int, str] | None = None,
    force_version: bool = False,
) -> RecomputeResult:
    """Recompute golden records and record what changed; call inside a transaction.

    ``event_types`` lets the caller name the event of a golden record
    (``merged``, ``split``) instead of the default created/updated.
    ``force_version`` writes a version even when nothing changed (a steward
    action worth a line in the history).
    """
    result = RecomputeResult()
    pks = sorted(set(golden_pks))
    for start in range(0, len(pks), CHUNK):
        _recompute_chunk(entity, pks[start:start + CHUNK], reason, actor, note, event_types or {}, force_version,
                         result)
    return result


def _json(value) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # a value orjson does not know (never expected): the standard library's view of it
        import json

        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode()


def fingerprint(values_json: bytes, lineage_json: bytes, status: str, members: list[int]) -> str:
    """Digest of a golden record's state: values, then lineage + status + members."""
    first = hashlib.blake2b(values_json, digest_size=16).hexdigest()
    rest = hashlib.blake2b(lineage_json, digest_size=16)
    rest.update(f"|{status}|{','.join(map(str, members))}".encode())
    return f"{first}:{rest.hexdigest()}"


def _serialised(version: GoldenRecordVersion, memo: dict) -> GoldenRecordVersion:
    version.values, version.lineage = memo[id(version.values)], memo[id(version.lineage)]
    return version


def _payload_text(payload) -> JsonText:
    try:
        return JsonText(orjson.dumps(payload).decode())
    except TypeError:
        import json

        return JsonText(json.dumps(payload, ensure_ascii=False))


# What a recompute reads of the golden records it locks (all but values and lineage).
_GOLDEN_COLUMNS = ", ".join(
    connection.ops.quote_name(f.column) for f in GoldenRecord._meta.concrete_fields if f.name not in ("values", "lineage"))


def _recompute_chunk(entity, pks, reason, actor, note, event_types, force_version, result: RecomputeResult) -> None:
    # Lock in id order so two recomputes touching the same goldens cannot
    # deadlock; NO KEY UPDATE, so rows merely referencing these goldens
    # (relationships, prices written by a parallel slice) are not blocked by
    # their foreign-key checks. The stored values and lineage are not read
    # back: the fingerprint tells whether anything changed.
    among, params = id_in("id", pks)
    goldens = list(GoldenRecord.objects.raw(
        f"SELECT {_GOLDEN_COLUMNS} FROM {table(GoldenRecord)} WHERE {among} ORDER BY id{row_lock()}", params))
    # After the lock, inside the transaction: see mdm.api.common.sync_horizon.
    now = timezone.now()
    computed, members_read = _compute(entity, pks)
    xref = {c.record_id: (c.source, c.source_id) for contributions in members_read.values() for c in contributions}
    retired_targets = dict(
        GoldenRecord.objects.filter(pk__in=[g.merged_into_id for g in goldens if g.merged_into_id])
        .values_list("pk", "golden_id")
    )
    memo: dict[int, JsonText] = {}
    versions, events, changed = [], [], []
    all_conflicts: dict[int, list] = {}
    for golden in goldens:
        golden.entity_type = entity  # the payload names it; no query per record
        gr, members = computed[golden.pk]
        if golden.status == GoldenRecord.Status.RETIRED:
            status = GoldenRecord.Status.RETIRED
            values, lineage = {}, {}
        else:
            status = GoldenRecord.Status.ACTIVE if members else GoldenRecord.Status.EMPTY
            values, lineage = gr.values, gr.lineage
            all_conflicts[golden.pk] = gr.conflicts
        values_json, lineage_json = _json(values), _json(lineage)
        state = fingerprint(values_json, lineage_json, status, members)
        same = golden.version > 0 and golden.fingerprint == state
        if same and not force_version and golden.pk not in event_types:
            result.unchanged += 1
            continue
        if golden.fingerprint.partition(":")[0] != state.partition(":")[0]:
            result.values_changed.append(golden.pk)
        # Written as serialised here, once, for the record, its version and its event.
        memo[id(values)], memo[id(lineage)] = JsonText(values_json.decode()), JsonText(lineage_json.decode())
        created = golden.version == 0
        golden.version += 1
        golden.values = values
        golden.lineage = lineage
        golden.status = status
        golden.fingerprint = state
        golden.display_name = display_name(entity, values)
        golden.updated_at = now
        changed.append(golden)
        merged_into = retired_targets.get(golden.merged_into_id) if golden.merged_into_id else ""
        versions.append(GoldenRecordVersion(
            golden=golden, version=golden.version, status=status, merged_into_golden_id=merged_into or "",
            values=values, lineage=lineage, members=members, reason=reason, actor=actor, note=note[:500],
            created_at=now,
        ))
        event_type = event_types.get(golden.pk) or (
            ChangeEvent.Type.CREATED if created else
            ChangeEvent.Type.RETIRED if status == GoldenRecord.Status.RETIRED else ChangeEvent.Type.UPDATED
        )
        events.append(ChangeEvent(
            entity_type=entity, golden=golden, golden_id_text=golden.golden_id, golden_version=golden.version,
            event_type=event_type, created_at=now,
            payload=golden_payload(golden, [xref[i] for i in members], merged_into=merged_into or None),
        ))
    if changed:
        # COPY-based writes on PostgreSQL (mdm.db), each JSON document
        # serialised once for the record, its version and its event.
        update_rows(GoldenRecord, ["version", "values", "lineage", "status", "fingerprint", "display_name",
                                   "updated_at"],
                    [(g.pk, g.version, memo[id(g.values)], memo[id(g.lineage)], g.status, g.fingerprint,
                      g.display_name, g.updated_at) for g in changed])
        bulk_insert([_serialised(v, memo) for v in versions], VERSION_FIELDS)
        for event in events:
            event.payload = _payload_text(event.payload)
        bulk_insert(events, EVENT_FIELDS)
        for event in events:  # callers (the outbox) see the payload as data again
            if isinstance(event.payload, str):
                event.payload = orjson.loads(str(event.payload))  # orjson takes no str subclass
        from mdm.services.outbox import events_written

        events_written(events)
    result.changed.extend(changed)
    opened, closed = sync_conflict_tasks(entity, all_conflicts)
    result.conflicts_opened += opened
    result.conflicts_closed += closed
    if changed:
        # Derived tables (hierarchy links, price resolution) follow the
        # golden records in the same transaction, whatever changed them.
        from mdm.services.derived import golden_records_changed

        golden_records_changed(entity, [g.pk for g in changed], reason=reason, actor=actor)


def sync_conflict_tasks(entity: EntityType, conflicts: dict[int, list]) -> tuple[int, int]:
    """Open one task per distinct conflict; close open ones whose conflict disappeared."""
    if not conflicts:
        return 0, 0
    wanted = {}
    for golden_pk, items in conflicts.items():
        for conflict in items:
            wanted[f"conflict:{golden_pk}:{conflict.key}"] = (golden_pk, conflict)
    # Price conflicts (mdm.services.prices) come through here too, with their own kind and details.
    goldens = list(conflicts)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT id, dedupe_key FROM {table(StewardTask)}
                WHERE golden_id IN ({marks(goldens)}) AND status = %s AND kind IN (%s, %s)""",
            [*goldens, StewardTask.Status.OPEN, StewardTask.Kind.ATTRIBUTE_CONFLICT, StewardTask.Kind.PRICE_CONFLICT])
        open_tasks = cursor.fetchall()
    existing = {key for _, key in open_tasks}
    # A steward who dismissed this very disagreement (same attribute, same
    # values: same key) has answered it; asking again on every recompute
    # would bury the queue. A new value makes a new key and a new task.
    existing |= steward_closed_keys(set(wanted) - existing)
    stale = [task_id for task_id, key in open_tasks if key not in wanted]
    closed = 0
    if stale:
        closed = StewardTask.objects.filter(id__in=stale, status=StewardTask.Status.OPEN).update(
            status=StewardTask.Status.DISMISSED, resolution="conflict_gone",
            resolution_note="The sources no longer disagree.", resolved_at=timezone.now(),
            version=F("version") + 1,
        )
    new = []
    opening = [key for key in wanted if key not in existing]
    golden_names = dict(GoldenRecord.objects.filter(pk__in=list({wanted[key][0] for key in opening}))
                        .values_list("pk", "golden_id")) if opening else {}
    for key in opening:
        golden_pk, conflict = wanted[key]
        name = golden_names.get(golden_pk, golden_pk)
        kind = getattr(conflict, "task_kind", StewardTask.Kind.ATTRIBUTE_CONFLICT)
        if kind == StewardTask.Kind.ATTRIBUTE_CONFLICT:
            title = f"{name}: sources disagree on {conflict.attribute}"
            details = {"attribute": conflict.attribute, "values": conflict.values}
        else:
            title, details = conflict.title(name), conflict.details
        new.append(StewardTask(
            kind=kind, entity_type=entity, golden_id=golden_pk, dedupe_key=key, title=title[:300],
            priority=conflict_priority(conflict), details=details,
        ))
    if new:
        StewardTask.objects.bulk_create(new, ignore_conflicts=True)
    return len(new), closed


def steward_closed_keys(keys: set[str]) -> set[str]:
    """Dedupe keys of problems a steward already closed (resolved or dismissed)."""
    if not keys:
        return set()
    return set(
        StewardTask.objects.filter(dedupe_key__in=list(keys), resolved_by__isnull=False)
        .exclude(status=StewardTask.Status.OPEN).values_list("dedupe_key", flat=True)
    )


def conflict_priority(conflict) -> float:
    """Business impact first: money at stake (credit limits, prices) ranks higher."""
    from decimal import Decimal, InvalidOperation

    amounts = []
    for v in conflict.values:
        try:
            amounts.append(abs(Decimal(str(v.get("value")))))
        except (InvalidOperation, ValueError):
            pass
    spread = float(max(amounts) - min(amounts)) if len(amounts) >= 2 else 0.0
    return 50.0 + min(spread / 1000.0, 40.0)
