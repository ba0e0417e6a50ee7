"""Turning a parsed row into a candidate write: IDs, delete flags, the source's
timestamp, mapping to attributes, standardization, hashing.

Pure (no Django, no database) so it can run in a worker process: a large
file's next chunk is standardized there while the ingest process writes the
current one.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import unicodedata
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from matching.standardize import AttributeSpec, Context, standardize_record, standardize_value
from mdm.readers import RawRow

MAX_ID_LENGTH = 255
TRUTHY = {"1", "true", "t", "yes", "y", "x", "deleted", "d", "del"}


_PLAIN = (str, int, bool, type(None))


def compact_json(value: dict) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``, at orjson's speed.

    The text is stored as the raw payload and hashed, so it must not depend on
    which library wrote it: orjson writes the very same text for a flat dict of
    strings, integers, booleans and nulls (a test checks this); floats (written
    differently, e.g. ``1e16``), nested values and whatever orjson refuses
    (surrogates, integers beyond 64 bits) take the standard library's path.
    """
    if all(type(v) in _PLAIN for v in value.values()):
        try:
            return orjson.dumps(value).decode()
        except TypeError:  # orjson.JSONEncodeError: a non-str key, a surrogate, a huge integer
            pass
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def reason(code: str, message: str, attribute: str | None = None) -> dict:
    item = {"code": code, "message": message}
    if attribute:
        item["attribute"] = attribute
    return item


def clean_id(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def is_truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    return str(value).strip().lower() in TRUTHY


@dataclass
class RowPreparer:
    specs: tuple[AttributeSpec, ...]
    fields: dict[str, str]  # source column -> attribute
    id_field: str
    updated_at_field: str
    deleted_fields: tuple[str, ...]
    default_region: str | None
    _plans: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.context = Context(default_region=self.default_region)
        self.attribute_names = {s.name for s in self.specs}
        self.mapped_attributes = set(self.fields.values())
        self.special = {self.id_field, self.updated_at_field, *self.deleted_fields}

    def plan(self, keys: Iterable[str], unmapped: set[str]) -> list[tuple[str, str]]:
        """(column, attribute) pairs for a row shape; cached because shapes repeat.

        A column named like an attribute maps to it unless another column was
        mapped there explicitly; the rest stays in the raw payload only.
        """
        shape = frozenset(keys)
        cached = self._plans.get(shape)
        if cached is None:
            plan, extra = [], set()
            for column in shape:
                if column in self.fields:
                    plan.append((column, self.fields[column]))
                elif column in self.attribute_names and column not in self.mapped_attributes:
                    plan.append((column, column))
                elif column not in self.special:
                    extra.add(column)
            cached = self._plans[shape] = (plan, extra)
        unmapped |= cached[1]
        return cached[0]

    def prepare(self, row: RawRow, unmapped: set[str]) -> dict:
        """A reject (``"reject"`` key with reasons) or a candidate write."""
        if row.payload is None:
            return {"reject": [reason(row.error_code or "malformed_row", row.error or "could not be parsed")],
                    "row": row, "source_id": ""}
        payload = row.payload
        source_id = clean_id(payload.get(self.id_field))
        if source_id is None:
            return {"reject": [reason("missing_id", f"no source ID in field {self.id_field!r}")],
                    "row": row, "source_id": ""}
        if len(source_id) > MAX_ID_LENGTH or any(unicodedata.category(ch) == "Cc" for ch in source_id):
            return {"reject": [reason("invalid_id", "the source ID is longer than 255 characters or holds control characters")],
                    "row": row, "source_id": source_id[:MAX_ID_LENGTH]}

        deleted = any(is_truthy(payload.get(f)) for f in self.deleted_fields)
        issues: list[dict] = []
        updated_at = None
        if self.updated_at_field:
            raw_updated = payload.get(self.updated_at_field)
            if raw_updated not in (None, ""):
                parsed = standardize_value("datetime", raw_updated, self.context)
                if parsed.value is None:
                    issues.append({"attribute": self.updated_at_field, "code": "invalid_updated_at",
                                   "message": parsed.issue or "not a date and time", "value": str(raw_updated)[:200]})
                else:
                    updated_at = datetime.fromisoformat(parsed.value.replace("Z", "+00:00"))

        canonical = {attr: payload[column] for column, attr in self.plan(payload.keys(), unmapped)}
        std = standardize_record(self.specs, canonical, self.context)
        issues.extend(std.issues)
        if std.missing_required and not deleted:
            reasons = [reason("missing_required", f"required attribute {name!r} is missing or invalid", name)
                       for name in std.missing_required]
            # Say why a present value did not count, not just that it is missing.
            reasons += [reason(issue["code"], issue["message"], issue["attribute"])
                        for issue in std.issues if issue["attribute"] in std.missing_required]
            return {"reject": reasons, "row": row, "source_id": source_id}

        raw = compact_json(payload)
        hashed = raw
        if self.updated_at_field in payload:
            # The source's own timestamp alone changing is not a change of content.
            hashed = compact_json({k: v for k, v in payload.items() if k != self.updated_at_field})
        return {
            "row": row, "source_id": source_id, "raw": raw,
            "hash": hashlib.blake2b(hashed.encode(), digest_size=16).hexdigest(),
            "issues": issues, "deleted": deleted, "updated_at": updated_at,
            # The standardized attributes travel as JSON text only: that is what is
            # written, and the writer parses it back just for records it compares.
            "attributes_json": compact_json(std.attributes),
        }

    def prepare_chunk(self, rows: list[RawRow]) -> tuple[list[dict], set[str]]:
        unmapped: set[str] = set()
        return [self.prepare(row, unmapped) for row in rows], unmapped


# --- the worker process ---------------------------------------------------------

_worker: RowPreparer | None = None


def _init_worker(preparer: RowPreparer) -> None:
    global _worker
    _worker = preparer


def _prepare_in_worker(rows: list[RawRow]) -> tuple[list[dict], set[str]]:
    prepared, unmapped = _worker.prepare_chunk(rows)
    for item in prepared:
        del item["row"]  # the parent holds the rows: send back only what it lacks
    return prepared, unmapped


def start_preparer_pool(preparer: RowPreparer, workers: int = 1) -> ProcessPoolExecutor:
    # "spawn", not fork: a forked child would share the parent's database socket.
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(preparer,))


def prepare_ahead(pool: ProcessPoolExecutor, chunks: Iterator[list[RawRow]], depth: int = 2):
    """Yield (chunk, prepared) in order, keeping ``depth`` chunks in preparation (at least
    one per worker process, so none waits while the writer works)."""
    pending: list[tuple[list[RawRow], Future]] = []

    def done(chunk: list[RawRow], future: Future):
        prepared, unmapped = future.result()
        for row, item in zip(chunk, prepared):
            item["row"] = row
        return chunk, (prepared, unmapped)

    for chunk in chunks:
        pending.append((chunk, pool.submit(_prepare_in_worker, chunk)))
        if len(pending) > depth:
            yield done(*pending.pop(0))
    for chunk, future in pending:
        yield done(chunk, future)
