"""Ingesting a file: the shared path of the ``ingest`` command and the web upload."""
from __future__ import annotations

import codecs
import csv
from collections.abc import Callable
from pathlib import Path

from mdm.models import EntityType, FieldMapping, IngestBatch, RejectedRecord, SourceSystem
from mdm.readers import detect_encoding, guess_format, read_csv, read_jsonl
from mdm.services.ingest import IngestError, IngestResult, ResolvedMapping, ingest_rows, start_batch

PARALLEL_FROM_BYTES = 4 * 1024 * 1024


def verify_encoding(path: Path, encoding: str) -> None:
    """Fail before writing anything when the file is not in the stated encoding."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError as exc:
        raise IngestError(f"unknown encoding {encoding!r}") from exc
    offset = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                guess = detect_encoding(path)
                raise IngestError(
                    f"{path.name} is not valid {encoding}: byte 0x{chunk[exc.start]:02x} at offset {offset + exc.start}; "
                    f"it decodes as {guess} (omit --encoding to detect it)"
                ) from exc
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise IngestError(f"{path.name} is not valid {encoding}: it ends inside a character") from exc


def count_lines(path: Path) -> int:
    lines = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines


def ingest_file(
    *,
    path: Path,
    source: SourceSystem,
    entity_type: EntityType,
    fmt: str | None = None,
    encoding: str | None = None,
    id_field: str | None = None,
    overrides: dict[str, str] | None = None,
    updated_at_field: str | None = None,
    deleted_field: str | None = None,
    channel: str = IngestBatch.Channel.FILE,
    submitted_by: str = "",
    defer_match: bool = False,
    chunk_size: int = 2000,
    on_chunk: Callable[[IngestBatch, int, list[RejectedRecord]], None] | None = None,
    batch: IngestBatch | None = None,
    display_name: str | None = None,
    parallel: bool | None = None,
) -> IngestResult:
    """Ingest one file. ``parallel`` (default: files over 4 MB) standardizes in a
    worker process alongside the writes; small files are not worth its start-up."""
    if not path.exists():
        raise IngestError(f"no such file: {path}")
    stored = FieldMapping.objects.filter(source_system=source, entity_type=entity_type).first()
    fmt = fmt or (stored.file_format if stored and stored.file_format else None) or guess_format(path)
    if fmt not in {"csv", "jsonl"}:
        raise IngestError(f"unknown format {fmt!r} (expected csv or jsonl)")
    encoding = encoding or (stored.encoding if stored and stored.encoding else None)
    if encoding:
        verify_encoding(path, encoding)
    else:
        encoding = detect_encoding(path)
    mapping = ResolvedMapping.for_source(
        source, entity_type, overrides=overrides, id_field=id_field,
        updated_at_field=updated_at_field, deleted_field=deleted_field,
    )
    handle = open(path, encoding=encoding, newline="", errors="strict")
    try:
        try:
            rows = read_jsonl(handle) if fmt == "jsonl" else read_csv(handle)
            if fmt == "csv":
                rows = _check_header(rows, mapping)
        except (csv.Error, ValueError) as exc:
            raise IngestError(f"{path.name}: unreadable CSV header: {exc}") from exc
        if batch is None:
            batch = start_batch(source=source, entity_type=entity_type, channel=channel,
                                file_name=display_name or path.name, encoding=encoding, submitted_by=submitted_by)
        else:
            batch.encoding = encoding
            batch.save(update_fields=["encoding"])
        if parallel is None:
            parallel = path.stat().st_size > PARALLEL_FROM_BYTES
        return ingest_rows(batch=batch, rows=rows, mapping=mapping, defer_match=defer_match,
                           chunk_size=chunk_size, on_chunk=on_chunk, parallel=parallel)
    finally:
        handle.close()


def _check_header(rows, mapping: ResolvedMapping):
    """Peek at the first row so a file without the ID column fails before anything is written."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return iter(())
    if first.payload is not None and mapping.id_field not in first.payload:
        columns = ", ".join(list(first.payload)[:30])
        raise IngestError(
            f"the ID column {mapping.id_field!r} is not in the file (columns: {columns}); "
            f"name it with --id-column or in the source's field mapping"
        )

    def chained():
        yield first
        yield from iterator

    return chained()


def write_rejects(writer: csv.writer, rejects: list[RejectedRecord]) -> None:
    for reject in rejects:
        writer.writerow([reject.position, reject.source_id, reject.reason_text, reject.raw.rstrip("\r\n")])
