"""Ingestion: every row lands exactly once, standardized, versioned, or kept as a reject.

The rule (also in the README):
- A row is *rejected* (kept verbatim in ``RejectedRecord`` with its reasons,
  and in the rejects file of ``ingest``) when it cannot be parsed, has no
  usable source ID, repeats an ID already seen in the same batch, lacks a
  required attribute, is larger than 1 MB, or is older than the version the
  hub holds (``stale``). Other rows are never lost because of it.
- An invalid value in an optional attribute does not reject the row: the raw
  value stays in the payload, the attribute is left out of the standardized
  attributes and a data-quality issue is recorded on the record.
- Rows are written in chunks, each in one transaction: a record is never half
  written. A REST batch is one chunk. Re-sending the same data is a no-op, so
  an interrupted file can simply be ingested again.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mdm.db import JsonText, bulk_insert, insert_rows
from mdm.models import (
    EntityType,
    FieldMapping,
    IngestBatch,
    RejectedRecord,
    SourceRecord,
    SourceRecordVersion,
    SourceSystem,
)
from mdm.prepare import MAX_ID_LENGTH, RowPreparer, prepare_ahead, reason, start_preparer_pool
from mdm.readers import RawRow

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 2000
RECORD_FIELDS = ["entity_type", "source_system", "source_id", "version", "raw", "attributes", "issues", "content_hash",
                 "received_at", "source_updated_at", "deleted", "deleted_at", "created_at", "last_batch", "needs_match",
                 "golden"]
REJECT_FIELDS = ["batch", "entity_type", "source_system", "position", "source_id", "raw", "reasons", "created_at"]
API_DELETE_MARKER = "_deleted"


class IngestError(Exception):
    """The whole request or file is unusable (unknown source, bad encoding…): nothing was written."""


@dataclass(slots=True)
class ResolvedMapping:
    id_field: str = "id"
    updated_at_field: str = ""
    deleted_field: str = ""
    fields: dict[str, str] = field(default_factory=dict)  # source column -> attribute

    @classmethod
    def for_source(
        cls,
        source: SourceSystem,
        entity_type: EntityType,
        *,
        overrides: dict[str, str] | None = None,
        id_field: str | None = None,
        updated_at_field: str | None = None,
        deleted_field: str | None = None,
    ) -> ResolvedMapping:
        stored = FieldMapping.objects.filter(source_system=source, entity_type=entity_type).first()
        mapping = cls()
        if stored:
            mapping = cls(stored.id_field or "id", stored.updated_at_field, stored.deleted_field, dict(stored.fields))
        if overrides:
            unknown = sorted(set(overrides.values()) - set(entity_type.attribute_names))
            if unknown:
                raise IngestError(
                    f"--map names unknown attribute(s) of {entity_type.code}: {', '.join(unknown)} "
                    f"(attributes: {', '.join(entity_type.attribute_names)})"
                )
            # A column mapped on the command line replaces any stored mapping of
            # that column and any stored column feeding the same attribute.
            targets = set(overrides.values())
            mapping.fields = {c: a for c, a in mapping.fields.items() if a not in targets and c not in overrides}
            mapping.fields.update(overrides)
        if id_field:
            mapping.id_field = id_field
        if updated_at_field is not None:
            mapping.updated_at_field = updated_at_field
        if deleted_field is not None:
            mapping.deleted_field = deleted_field
        return mapping


@dataclass(slots=True)
class Outcome:
    position: int
    source_id: str
    status: str  # created | updated | unchanged | deleted | rejected
    record_id: int | None = None
    version: int | None = None
    reasons: list[dict] = field(default_factory=list)
    issues: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = {"index": self.position, "source_id": self.source_id, "status": self.status}
        if self.record_id is not None:
            data["record_id"] = self.record_id
            data["version"] = self.version
        if self.reasons:
            data["reasons"] = self.reasons
        if self.issues:
            data["issues"] = self.issues
        return data


@dataclass(slots=True)
class IngestResult:
    batch: IngestBatch
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return self.batch.counts


def start_batch(*, source: SourceSystem, entity_type: EntityType, channel: str, file_name: str = "",
                encoding: str = "", submitted_by: str = "") -> IngestBatch:
    if not source.active:
        raise IngestError(f"source system {source.code!r} is inactive; activate it before sending records")
    if not entity_type.active:
        raise IngestError(f"entity type {entity_type.code!r} is inactive")
    return IngestBatch.objects.create(
        source_system=source, entity_type=entity_type, channel=channel,
        file_name=file_name, encoding=encoding, submitted_by=submitted_by,
    )


def resolve_source_and_entity(source_code: str, entity_code: str) -> tuple[SourceSystem, EntityType]:
    source = SourceSystem.objects.filter(code=source_code).first()
    if source is None:
        known = ", ".join(SourceSystem.objects.values_list("code", flat=True)) or "none yet"
        raise IngestError(f"unknown source system {source_code!r} (known: {known}; add one with add_source)")
    entity = EntityType.objects.filter(code=entity_code).first()
    if entity is None:
        known = ", ".join(EntityType.objects.values_list("code", flat=True)) or "none yet"
        raise IngestError(f"unknown entity type {entity_code!r} (known: {known}; load one with load_entity_config)")
    return source, entity


def ingest_rows(
    *,
    batch: IngestBatch,
    rows: Iterable[RawRow],
    mapping: ResolvedMapping,
    collect_outcomes: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    defer_match: bool = False,
    on_chunk: Callable[[IngestBatch, int, list[RejectedRecord]], None] | None = None,
    parallel: bool = False,
) -> IngestResult:
    """Ingest ``rows`` into ``batch``'s source and entity type; see the module docstring.

    ``parallel``: standardize the next chunks in ``MDM_INGEST_PREPARERS``
    worker processes while this one writes the current chunk (large files:
    standardizing and writing then use several cores instead of taking turns
    on one).
    """
    result = IngestResult(batch=batch)
    if defer_match and not batch.match_deferred:
        batch.match_deferred = True
        batch.save(update_fields=["match_deferred"])
    writer = _ChunkWriter(batch, mapping, defer_match=defer_match)
    chunks = _chunked(rows, chunk_size)
    pool = None
    try:
        if parallel:
            workers = settings.MDM_INGEST_PREPARERS
            pool = start_preparer_pool(writer.preparer, workers)
            for chunk, prepared in prepare_ahead(pool, chunks, depth=workers + 1):
                outcomes, rejects = writer.write(chunk, prepared)
                if collect_outcomes:
                    result.outcomes.extend(outcomes)
                if on_chunk:
                    on_chunk(batch, len(chunk), rejects)
        else:
            for chunk in chunks:
                outcomes, rejects = writer.write(chunk)
                if collect_outcomes:
                    result.outcomes.extend(outcomes)
                if on_chunk:
                    on_chunk(batch, len(chunk), rejects)
    except Exception as exc:
        # Inside an outer transaction (a REST batch) everything rolls back,
        # the batch row included; a file's committed chunks stay, so say so.
        if not transaction.get_connection().in_atomic_block:
            batch.status = IngestBatch.Status.FAILED
            batch.error = f"{type(exc).__name__}: {exc}"
            batch.finished_at = timezone.now()
            batch.save()
        raise
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    batch.status = IngestBatch.Status.COMPLETED
    batch.unmapped_columns = sorted(writer.unmapped)
    batch.finished_at = timezone.now()
    batch.save()
    return result


def _chunked(rows: Iterable[RawRow], size: int) -> Iterator[list[RawRow]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


class _ChunkWriter:
    """Prepares and writes one chunk of rows; keeps batch-wide state (IDs seen)."""

    def __init__(self, batch: IngestBatch, mapping: ResolvedMapping, *, defer_match: bool):
        self.batch = batch
        self.entity = batch.entity_type
        self.source = batch.source_system
        self.mapping = mapping
        self.defer_match = defer_match
        # Over the API a delete is always expressible as "_deleted": true,
        # whatever the source's own delete flag is called.
        deleted_fields = tuple(f for f in (
            mapping.deleted_field, API_DELETE_MARKER if batch.channel == IngestBatch.Channel.API else "") if f)
        self.preparer = RowPreparer(
            specs=tuple(self.entity.attribute_specs), fields=dict(mapping.fields), id_field=mapping.id_field,
            updated_at_field=mapping.updated_at_field, deleted_fields=deleted_fields,
            default_region=self.source.default_region or None,
        )
        self.seen: dict[str, int] = {}
        self.unmapped: set[str] = set()

    def prepare(self, rows: list[RawRow], prepared: list[dict] | None = None) -> list[dict]:
        """Standardize (unless done already, e.g. in a worker process), then reject
        IDs repeated within the batch: that needs the batch-wide state here."""
        if prepared is None:
            prepared, unmapped = self.preparer.prepare_chunk(rows)
        else:
            prepared, unmapped = prepared
        self.unmapped |= unmapped
        where = "line" if self.batch.channel != IngestBatch.Channel.API else "index"
        for item in prepared:
            if "reject" in item:
                continue
            source_id = item["source_id"]
            first = self.seen.get(source_id)
            if first is not None:
                item["reject"] = [reason("duplicate_id",
                                         f"source ID {source_id!r} already appears in this batch at {where} {first}")]
            else:
                self.seen[source_id] = item["row"].position
                item["attributes_json"] = JsonText(item["attributes_json"])
        return prepared

    # -- per chunk ----------------------------------------------------------

    def write(self, rows: list[RawRow], prepared: tuple | None = None) -> tuple[list[Outcome], list[RejectedRecord]]:
        prepared = self.prepare(rows, prepared)
        outcomes: list[Outcome] = []
        rejects: list[RejectedRecord] = []
        new_rows: list[tuple] = []  # in RECORD_FIELDS order: no model instance per new record
        new_outcomes: list[Outcome] = []
        changed: list[SourceRecord] = []
        superseded: list[int] = []
        to_match: list[int] = []
        counts = {"created": 0, "updated": 0, "unchanged": 0, "deleted": 0, "rejected": 0}

        def reject(item: dict, reasons: list[dict]) -> None:
            row: RawRow = item["row"]
            rejects.append(RejectedRecord(
                batch=self.batch, entity_type=self.entity, source_system=self.source,
                position=row.position, source_id=item["source_id"][:MAX_ID_LENGTH],
                raw=row.raw_text.replace("\x00", "\\u0000"), reasons=reasons, created_at=now,
            ))
            outcomes.append(Outcome(row.position, item["source_id"], "rejected", reasons=reasons))
            counts["rejected"] += 1

        with transaction.atomic():
            # Serialise writers of the same source system so two concurrent
            # batches cannot both create the same source ID.
            SourceSystem.objects.select_for_update(no_key=True).filter(pk=self.source.pk).exists()
            # Stamped inside the transaction, after the wait: an API sync relies on a row's time not
            # being earlier than the start of the transaction that wrote it (mdm.api.common.sync_horizon).
            now = timezone.now()
            ids = [p["source_id"] for p in prepared if "reject" not in p]
            existing = {
                r.source_id: r
                for r in SourceRecord.objects.filter(
                    entity_type=self.entity, source_system=self.source, source_id__in=ids
                ).only("id", "source_id", "version", "content_hash", "attributes", "issues", "deleted",
                       "source_updated_at", "needs_match")
            } if ids else {}

            for item in prepared:
                if "reject" in item:
                    reject(item, item["reject"])
                    continue
                row = item["row"]
                current = existing.get(item["source_id"])
                if current is None:
                    new_rows.append((
                        self.entity.pk, self.source.pk, item["source_id"], 1, item["raw"], item["attributes_json"],
                        item["issues"], item["hash"], now, item["updated_at"], item["deleted"],
                        now if item["deleted"] else None, now, self.batch.pk, True, None,
                    ))
                    status = "deleted" if item["deleted"] else "created"
                    outcome = Outcome(row.position, item["source_id"], status, version=1, issues=item["issues"])
                    new_outcomes.append(outcome)
                    outcomes.append(outcome)
                    counts[status] += 1
                    continue
                if (item["updated_at"] and current.source_updated_at
                        and item["updated_at"] < current.source_updated_at):
                    reject(item, [reason(
                        "stale",
                        f"older than the version the hub holds (updated {item['updated_at'].isoformat()} "
                        f"< {current.source_updated_at.isoformat()}); the newer version is kept",
                    )])
                    continue
                attributes = orjson.loads(str(item["attributes_json"]))  # orjson takes no str subclass
                same = (current.content_hash == item["hash"] and current.deleted == item["deleted"]
                        and current.attributes == attributes and current.issues == item["issues"])
                if same:
                    outcomes.append(Outcome(row.position, item["source_id"], "unchanged",
                                            current.id, current.version, issues=item["issues"]))
                    counts["unchanged"] += 1
                    continue
                attributes_changed = current.attributes != attributes or current.deleted != item["deleted"]
                superseded.append(current.pk)
                current.version += 1
                current.raw = item["raw"]
                current.content_hash = item["hash"]
                current.attributes = attributes
                current.issues = item["issues"]
                current.received_at = now
                current.source_updated_at = item["updated_at"] or current.source_updated_at
                if item["deleted"] and not current.deleted:
                    current.deleted_at = now
                current.deleted = item["deleted"]
                if not item["deleted"]:
                    current.deleted_at = None
                current.last_batch = self.batch
                current.needs_match = current.needs_match or attributes_changed
                changed.append(current)
                if attributes_changed:
                    to_match.append(current.pk)
                status = "deleted" if item["deleted"] else "updated"
                outcomes.append(Outcome(row.position, item["source_id"], status, current.id, current.version,
                                        issues=item["issues"]))
                counts[status] += 1

            if new_rows:
                new_ids = insert_rows(SourceRecord, RECORD_FIELDS, new_rows, returning=True)
                for record_id, outcome in zip(new_ids, new_outcomes):
                    outcome.record_id = record_id
                to_match.extend(new_ids)
            if superseded:
                _keep_superseded_versions(superseded)
            if changed:
                SourceRecord.objects.bulk_update(
                    changed,
                    ["version", "raw", "content_hash", "attributes", "issues", "received_at", "source_updated_at",
                     "deleted", "deleted_at", "last_batch", "needs_match"],
                    batch_size=500,
                )
            if rejects:
                bulk_insert(rejects, REJECT_FIELDS)
                _open_reject_tasks(self.batch, rejects)
            self.batch.rows_total += len(rows)
            for key, value in counts.items():
                setattr(self.batch, f"{key}_count", getattr(self.batch, f"{key}_count") + value)
            self.batch.save(update_fields=[
                "rows_total", "created_count", "updated_count", "unchanged_count", "deleted_count", "rejected_count",
            ])
            if to_match and not self.defer_match:
                entity_id = self.entity.id
                transaction.on_commit(lambda: _enqueue_match(entity_id, to_match))
        return outcomes, rejects


def _keep_superseded_versions(record_ids: list[int]) -> None:
    """Move the current state of these records into the history, in the database
    (one INSERT … SELECT), before they are overwritten."""
    from django.db import connection

    versions = SourceRecordVersion._meta.db_table
    records = SourceRecord._meta.db_table
    quote = connection.ops.quote_name
    placeholders = ", ".join(["%s"] * len(record_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(versions)} (record_id, version, raw, attributes, issues, content_hash, received_at, "
            f"source_updated_at, deleted, batch_id) "
            f"SELECT id, version, raw, attributes, issues, content_hash, received_at, source_updated_at, deleted, "
            f"last_batch_id FROM {quote(records)} WHERE id IN ({placeholders})",
            record_ids,
        )


def _open_reject_tasks(batch: IngestBatch, rejects: list[RejectedRecord]) -> None:
    """A rejected row is work for a steward (fix at the source, or dismiss), except a
    stale one: the hub already holds a newer version, nothing is wrong."""
    from mdm.models import StewardTask

    where = "index" if batch.channel == IngestBatch.Channel.API else "line"
    tasks = [
        StewardTask(
            kind=StewardTask.Kind.REJECTED_RECORD, entity_type_id=batch.entity_type_id,
            source_system_id=batch.source_system_id, rejected_id=reject.pk, dedupe_key=f"reject:{reject.pk}",
            title=f"{batch.source_system.code} {reject.source_id or f'{where} {reject.position}'}: "
                  f"{reject.reason_text}"[:300],
            priority=10.0, details={"batch": batch.pk, "position": reject.position, "reasons": reject.reasons},
        )
        for reject in rejects if not all(r.get("code") == "stale" for r in reject.reasons)
    ]
    if tasks:
        StewardTask.objects.bulk_create(tasks, batch_size=1000)


def _enqueue_match(entity_type_id: int, record_ids: list[int]) -> None:
    from mdm.tasks import match_records

    match_records.delay(entity_type_id, record_ids)


def ingest_payloads(
    *, source: SourceSystem, entity_type: EntityType, payloads: list[Any], submitted_by: str = "",
    channel: str = IngestBatch.Channel.API,
) -> IngestResult:
    """A REST batch: one transaction, one outcome per record."""
    from mdm.readers import read_json_array

    mapping = ResolvedMapping.for_source(source, entity_type)
    with transaction.atomic():
        batch = start_batch(source=source, entity_type=entity_type, channel=channel, submitted_by=submitted_by)
        return ingest_rows(batch=batch, rows=read_json_array(payloads), mapping=mapping,
                           collect_outcomes=True, chunk_size=max(len(payloads), 1))
