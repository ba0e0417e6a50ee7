"""Stream rows out of source files without losing any: every row comes back,
parsed or with the reason it could not be, and with its raw text.

Encoding: UTF-8 (with or without BOM) when the whole file decodes as UTF-8,
else Windows-1252 (a superset of Latin-1's printable range, which is what
"Latin-1" ERP exports usually are), else Latin-1. UTF-16 is recognised by its
BOM. ``--encoding`` overrides the guess.
"""
from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

MAX_ROW_BYTES = 1024 * 1024  # one record larger than this is rejected, not parsed
csv.field_size_limit(MAX_ROW_BYTES * 2)


@dataclass(slots=True)
class RawRow:
    position: int  # 1-based line number where the row starts (files) or index (API)
    payload: dict[str, Any] | None  # None when the row could not be parsed
    raw_text: str  # the row exactly as read
    error: str | None = None  # why it could not be parsed
    error_code: str | None = None


def detect_encoding(path: Path, sample_only: bool = False) -> str:
    """Guess the file's encoding by decoding it; cheap (C-speed) even for big files."""
    with open(path, "rb") as handle:
        head = handle.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
                if sample_only:
                    break
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
        handle.seek(0)
        cp1252 = codecs.getincrementaldecoder("cp1252")()
        try:
            while chunk := handle.read(1 << 20):
                cp1252.decode(chunk)
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"


def open_text(path: Path, encoding: str | None) -> tuple[IO[str], str]:
    encoding = encoding or detect_encoding(path)
    codecs.lookup(encoding)  # LookupError for an unknown name, before anything is read
    # errors="strict": a file declared UTF-8 that is not must fail loudly, not mangle text.
    return open(path, encoding=encoding, newline="", errors="strict"), encoding


class _LineRecorder:
    """Feeds lines to csv.reader while remembering them, so a row's raw text is exact."""

    def __init__(self, handle: IO[str]):
        self._handle = handle
        self.lines: list[str] = []
        self.line_no = 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self._handle.readline()
        if not line:
            raise StopIteration
        self.line_no += 1
        self.lines.append(line)
        return line

    def take(self) -> str:
        text = "".join(self.lines)
        self.lines.clear()
        return text


def read_csv(handle: IO[str], *, delimiter: str | None = None) -> Iterator[RawRow]:
    """Rows of a CSV file with a header line. Rows with too many or too few
    fields, bad quoting or oversized content are yielded with an error."""
    recorder = _LineRecorder(handle)
    first = handle.readline()
    if not first:
        return
    recorder.line_no = 1
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(first, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    header = next(csv.reader([first], delimiter=delimiter, strict=True))
    header = [h.strip().lstrip("\ufeff") for h in header]
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise ValueError(f"the header names a column twice: {', '.join(dupes)}")
    reader = csv.reader(recorder, delimiter=delimiter, strict=True)
    while True:
        start = recorder.line_no + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RawRow(start, None, recorder.take(), f"malformed CSV: {exc}", "malformed_row")
            continue
        raw_text = recorder.take()
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # blank line
        if len(raw_text) > MAX_ROW_BYTES:
            yield RawRow(start, None, raw_text[:MAX_ROW_BYTES], f"row is larger than {MAX_ROW_BYTES // 1024} KB", "row_too_large")
            continue
        if len(fields) != len(header):
            yield RawRow(
                start, None, raw_text,
                f"malformed CSV: expected {len(header)} fields as in the header, found {len(fields)}",
                "malformed_row",
            )
            continue
        yield RawRow(start, dict(zip(header, fields)), raw_text)


def read_jsonl(handle: IO[str]) -> Iterator[RawRow]:
    for line_no, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        if len(line) > MAX_ROW_BYTES:
            yield RawRow(line_no, None, line[:MAX_ROW_BYTES], f"row is larger than {MAX_ROW_BYTES // 1024} KB", "row_too_large")
            continue
        try:
            payload = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RawRow(line_no, None, line, f"malformed JSON: {exc.msg} at column {exc.colno}", "malformed_row")
            continue
        if not isinstance(payload, dict):
            yield RawRow(line_no, None, line, f"each line must be a JSON object, found {type(payload).__name__}", "malformed_row")
            continue
        yield RawRow(line_no, payload, line)


def read_json_array(items: list[Any]) -> Iterator[RawRow]:
    """Records of a REST batch (already parsed by the API layer); positions are 0-based indexes."""
    for index, item in enumerate(items):
        raw_text = json.dumps(item, ensure_ascii=False)
        if not isinstance(item, dict):
            yield RawRow(index, None, raw_text, f"each record must be a JSON object, found {type(item).__name__}", "malformed_row")
        elif len(raw_text) > MAX_ROW_BYTES:
            yield RawRow(index, None, raw_text[:MAX_ROW_BYTES], f"record is larger than {MAX_ROW_BYTES // 1024} KB", "row_too_large")
        else:
            yield RawRow(index, item, raw_text)


def guess_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    return "csv"


def iter_file(path: Path, *, fmt: str | None = None, encoding: str | None = None) -> tuple[Iterator[RawRow], str, IO[str]]:
    """Open ``path`` and return (rows, encoding used, handle to close)."""
    handle, used = open_text(path, encoding)
    fmt = fmt or guess_format(path)
    rows = read_jsonl(handle) if fmt == "jsonl" else read_csv(handle)
    return rows, used, handle


def iter_text(text: str, fmt: str) -> Iterator[RawRow]:
    handle = io.StringIO(text, newline="")
    return read_jsonl(handle) if fmt == "jsonl" else read_csv(handle)
