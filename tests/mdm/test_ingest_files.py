"""File ingestion through `python manage.py ingest`: every row lands once or is kept as a reject."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from mdm.models import IngestBatch, RejectedRecord, SourceRecord, SourceRecordVersion

HEADER = "CustomerNo,CustomerName,Phone,City,State,Zip,Country,TaxID,LastModified\n"
ROWS = [
    "C001,Acme Industrial Supply Inc,(415) 555-0134,San Francisco,CA,94105,US,12-3456789,2024-01-02\n",
    "C002,Bolt & Nut Distributors LLC,212.555.0199,New York,NY,10001-2345,USA,,2024-01-03\n",
]
MAP = ["--map", "CustomerName=name", "--map", "Phone=phone", "--map", "City=city", "--map", "State=region",
       "--map", "Zip=postcode", "--map", "Country=country", "--map", "TaxID=tax_id"]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def ingest(path: Path, *extra: str, source: str = "erp", entity: str = "customer") -> None:
    call_command("ingest", str(path), "--source", source, "--entity", entity, "--id-column", "CustomerNo",
                 "--updated-at-column", "LastModified", "--no-progress", *MAP, *extra)


@pytest.fixture
def customers_csv(tmp_path):
    return write(tmp_path / "customers.csv", HEADER + "".join(ROWS))


pytestmark = pytest.mark.django_db


def test_ingest_keeps_the_raw_payload_verbatim_and_standardizes_beside_it(customer_type, erp, customers_csv):
    ingest(customers_csv)
    record = SourceRecord.objects.get(source_system=erp, source_id="C001")
    assert record.raw_payload["CustomerName"] == "Acme Industrial Supply Inc"
    assert record.raw_payload["Phone"] == "(415) 555-0134"
    assert record.attributes["phone"] == "+14155550134"
    assert record.attributes["region"] == "CA"
    assert record.attributes["country"] == "US"
    assert record.attributes["name__core"] == "acme industrial supply"
    assert record.version == 1 and len(record.content_hash) == 32
    assert record.source_updated_at.date().isoformat() == "2024-01-02"
    assert [v.version for v in record.history()] == [1]  # the record is its current version
    assert not SourceRecordVersion.objects.exists()  # a payload is stored once until it changes


def test_the_same_file_twice_changes_nothing(customer_type, erp, customers_csv):
    ingest(customers_csv)
    before = list(SourceRecord.objects.values_list("id", "version", "content_hash"))
    ingest(customers_csv)
    assert list(SourceRecord.objects.values_list("id", "version", "content_hash")) == before
    assert not SourceRecordVersion.objects.exists()
    batch = IngestBatch.objects.order_by("-id").first()
    assert batch.unchanged_count == 2 and batch.created_count == 0 and batch.updated_count == 0


def test_a_changed_row_becomes_a_new_version_and_the_old_one_is_kept(customer_type, erp, customers_csv, tmp_path):
    ingest(customers_csv)
    changed = write(tmp_path / "changed.csv", HEADER + ROWS[0].replace("San Francisco", "Oakland").replace("2024-01-02", "2024-02-01"))
    ingest(changed)
    record = SourceRecord.objects.get(source_id="C001")
    assert record.version == 2
    assert record.attributes["city"] == "Oakland"
    assert [(v.version, v.attributes["city"]) for v in record.history()] == [(2, "Oakland"), (1, "San Francisco")]
    assert record.versions.get().raw_payload["City"] == "San Francisco"  # the old one kept verbatim


def test_only_a_new_source_timestamp_is_not_a_change(customer_type, erp, customers_csv, tmp_path):
    ingest(customers_csv)
    touched = write(tmp_path / "touched.csv", HEADER + ROWS[0].replace("2024-01-02", "2024-03-01"))
    ingest(touched)
    assert SourceRecord.objects.get(source_id="C001").version == 1


def test_an_older_version_than_the_stored_one_is_rejected_as_stale(customer_type, erp, customers_csv, tmp_path):
    ingest(customers_csv)
    stale = write(tmp_path / "stale.csv", HEADER + ROWS[0].replace("San Francisco", "Fresno").replace("2024-01-02", "2023-12-01"))
    with pytest.raises(SystemExit) as exit_info:
        ingest(stale)
    assert exit_info.value.code == 3
    assert SourceRecord.objects.get(source_id="C001").attributes["city"] == "San Francisco"
    reject = RejectedRecord.objects.get()
    assert reject.reasons[0]["code"] == "stale" and "Fresno" in reject.raw


def test_a_delete_marks_the_record_deleted_and_never_erases_it(customer_type, erp, customers_csv, tmp_path):
    ingest(customers_csv)
    deleted = write(tmp_path / "deleted.csv", "CustomerNo,CustomerName,Deleted,LastModified\nC002,Bolt & Nut Distributors LLC,Y,2024-05-01\n")
    ingest(deleted, "--deleted-column", "Deleted")
    record = SourceRecord.objects.get(source_id="C002")
    assert record.deleted and record.deleted_at is not None
    assert [v.version for v in record.history()] == [2, 1]
    assert record.versions.get(version=1).attributes["city"] == "New York"


def test_latin1_files_are_detected_and_read_without_mangling(customer_type, erp, tmp_path):
    path = write(tmp_path / "latin1.csv", HEADER + "C003,Müller Café Supply®,,Zürich,,8001,CH,,2024-01-01\n", "latin-1")
    ingest(path)
    record = SourceRecord.objects.get(source_id="C003")
    assert record.raw_payload["CustomerName"] == "Müller Café Supply®"
    assert record.attributes["city"] == "Zürich"
    assert IngestBatch.objects.get().encoding in {"cp1252", "latin-1"}


def test_a_file_that_is_not_in_the_stated_encoding_fails_before_writing(customer_type, erp, tmp_path):
    path = write(tmp_path / "latin1.csv", HEADER + "C003,Müller Café,,,,,,,2024-01-01\n", "latin-1")
    with pytest.raises(CommandError, match=r"not valid utf-8: byte 0xfc"):
        ingest(path, "--encoding", "utf-8")
    assert not SourceRecord.objects.exists() and not IngestBatch.objects.exists()


def test_malformed_rows_are_rejected_with_their_line_and_good_rows_are_kept(customer_type, erp, tmp_path):
    text = (HEADER + ROWS[0]
            + "C010,Too,Many,Fields,Here,x,y,z,w,v\n"  # line 3: 10 fields, header has 9
            + '"C011,"Unbalanced quote,,,,,,,\n'  # line 4: bad quoting
            + ROWS[1])
    path = write(tmp_path / "bad.csv", text)
    rejects_file = tmp_path / "rejects.csv"
    with pytest.raises(SystemExit) as exit_info:
        ingest(path, "--rejects", str(rejects_file))
    assert exit_info.value.code == 3
    assert set(SourceRecord.objects.values_list("source_id", flat=True)) == {"C001", "C002"}
    rows = list(csv.DictReader(rejects_file.open()))
    assert rows[0]["line"] == "3" and "expected 9 fields" in rows[0]["reasons"]
    assert rows[0]["raw"] == "C010,Too,Many,Fields,Here,x,y,z,w,v"
    assert all(r["reasons"].startswith("malformed CSV") for r in rows)
    assert RejectedRecord.objects.count() == len(rows)


def test_missing_and_duplicate_ids_are_rejected_with_reasons(customer_type, erp, tmp_path):
    path = write(tmp_path / "ids.csv", HEADER + ROWS[0] + ",No Id Corp,,,,,,,\n" + ROWS[0].replace("Acme", "Acme Two"))
    with pytest.raises(SystemExit):
        ingest(path)
    reasons = {r.position: r.reasons[0]["code"] for r in RejectedRecord.objects.all()}
    assert reasons == {3: "missing_id", 4: "duplicate_id"}
    assert "already appears in this batch at line 2" in RejectedRecord.objects.get(position=4).reason_text
    assert SourceRecord.objects.get().attributes["name"].startswith("Acme Industrial")


def test_a_missing_required_value_rejects_the_row_and_names_the_attribute(customer_type, erp, tmp_path):
    path = write(tmp_path / "req.csv", HEADER + "C020,   ,,,,,,,\n")
    with pytest.raises(SystemExit):
        ingest(path)
    reject = RejectedRecord.objects.get()
    assert reject.reasons[0] == {"code": "missing_required", "message": "required attribute 'name' is missing or invalid", "attribute": "name"}


def test_an_invalid_optional_value_is_kept_raw_and_recorded_as_a_data_quality_issue(customer_type, erp, tmp_path):
    path = write(tmp_path / "dq.csv", HEADER + "C030,Quality Co,call me maybe,,,,,,\n")
    ingest(path)
    record = SourceRecord.objects.get()
    assert "phone" not in record.attributes
    assert record.raw_payload["Phone"] == "call me maybe"
    assert [i["code"] for i in record.issues] == ["invalid_phone"]


def test_unknown_columns_stay_in_the_raw_payload_and_are_reported(customer_type, erp, tmp_path, capsys):
    path = write(tmp_path / "extra.csv", "CustomerNo,CustomerName,SalesRep\nC040,Extra Co,Jane\n")
    ingest(path)
    record = SourceRecord.objects.get()
    assert record.raw_payload["SalesRep"] == "Jane" and "SalesRep" not in record.attributes
    assert IngestBatch.objects.get().unmapped_columns == ["SalesRep"]
    assert "unmapped" in capsys.readouterr().out


def test_hostile_strings_are_kept_as_text_and_oversized_values_do_not_crash(customer_type, erp, tmp_path):
    huge = "x" * 100_000
    rows = [
        {"CustomerNo": "H1", "CustomerName": "<b>Acme</b> <script>alert(1)</script>", "City": "Ba\x07d\x1bCity"},
        {"CustomerNo": "H2", "CustomerName": "Big Co", "City": huge},
        {"CustomerNo": "H3", "CustomerName": huge, "City": "Austin"},
    ]
    path = tmp_path / "hostile.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(SystemExit):
        call_command("ingest", str(path), "--source", "erp", "--entity", "customer", "--id-column", "CustomerNo",
                     "--no-progress", "--map", "CustomerName=name", "--map", "City=city")
    h1 = SourceRecord.objects.get(source_id="H1")
    assert h1.attributes["name"].startswith("<b>Acme</b> <script>")
    assert h1.raw_payload["City"] == "Ba\x07d\x1bCity" and "\x07" not in h1.attributes["city"]
    h2 = SourceRecord.objects.get(source_id="H2")
    assert "city" not in h2.attributes and h2.issues[0]["code"] == "too_long"
    assert RejectedRecord.objects.get().source_id == "H3"  # the required name is too long


def test_malformed_jsonl_lines_are_rejected_and_the_rest_ingested(customer_type, erp, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"CustomerNo": "J1", "CustomerName": "Json Co"}\n{"CustomerNo": "J2", oops}\n[1, 2]\n')
    with pytest.raises(SystemExit):
        call_command("ingest", str(path), "--source", "erp", "--entity", "customer", "--id-column", "CustomerNo",
                     "--map", "CustomerName=name", "--no-progress")
    assert list(SourceRecord.objects.values_list("source_id", flat=True)) == ["J1"]
    messages = sorted(r.reason_text for r in RejectedRecord.objects.all())
    assert messages[0].startswith("each line must be a JSON object") and messages[1].startswith("malformed JSON")


def test_unknown_source_or_entity_type_is_a_clear_error(customer_type, erp, customers_csv):
    with pytest.raises(CommandError, match=r"unknown source system .sap. \(known: crm, ecom, erp, wms"):
        call_command("ingest", str(customers_csv), "--source", "sap", "--entity", "customer")
    with pytest.raises(CommandError, match="unknown entity type 'supplier'"):
        call_command("ingest", str(customers_csv), "--source", "erp", "--entity", "supplier")


def test_a_file_without_the_id_column_fails_before_writing(customer_type, erp, customers_csv):
    with pytest.raises(CommandError, match="ID column 'AccountId' is not in the file"):
        call_command("ingest", str(customers_csv), "--source", "erp", "--entity", "customer",
                     "--id-column", "AccountId", "--no-progress")
    assert not SourceRecord.objects.exists()


def test_map_on_the_command_line_overrides_the_stored_mapping(customer_type, crm, tmp_path):
    from mdm.services.sources import set_mapping

    set_mapping(source=crm, entity_type=customer_type, spec={"id_field": "Id", "fields": {"AccountName": "name"}})
    path = write(tmp_path / "crm.csv", "Id,AccountName,LegalName\nA1,Acme (short),Acme Industrial Supply Inc\n")
    call_command("ingest", str(path), "--source", "crm", "--entity", "customer", "--map", "LegalName=name", "--no-progress")
    assert SourceRecord.objects.get().attributes["name"] == "Acme Industrial Supply Inc."


def test_new_and_changed_records_are_queued_for_matching_after_commit(customer_type, erp, customers_csv, tmp_path,
                                                                       django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr("mdm.services.ingest._enqueue_match", lambda entity_id, ids: queued.append(sorted(ids)))
    with django_capture_on_commit_callbacks(execute=True):
        ingest(customers_csv)
    assert queued == [sorted(SourceRecord.objects.values_list("id", flat=True))]
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ingest(customers_csv)
    assert queued == []  # unchanged records are not matched again


def test_each_rejected_row_becomes_a_steward_task_except_stale_ones(customer_type, erp, customers_csv, tmp_path):
    from mdm.models import StewardTask

    ingest(customers_csv)
    bad = write(tmp_path / "bad.csv", HEADER + ",No Id Corp,,,,,,,\n"
                + ROWS[0].replace("San Francisco", "Fresno").replace("2024-01-02", "2023-12-01"))
    with pytest.raises(SystemExit):
        ingest(bad)
    task = StewardTask.objects.get(kind="rejected_record")
    assert task.status == "open" and task.rejected.reasons[0]["code"] == "missing_id"
    assert task.title == "erp line 2: no source ID in field 'CustomerNo'"
    assert RejectedRecord.objects.count() == 2  # the stale row is kept too, without a task


def test_a_large_file_standardized_in_a_worker_process_gives_the_same_result(customer_type, erp, tmp_path):
    from mdm.services.files import ingest_file

    lines = [f"C{i:04d},Company {i} Inc,(415) 555-{i % 10000:04d},Austin,TX,78701,US,,2024-01-02\n" for i in range(1, 900)]
    lines.insert(500, "C0007,Duplicate of line 8,,,,,,,\n")  # a repeated ID in a later chunk
    lines.insert(700, ",No ID,,,,,,,\n")
    path = write(tmp_path / "big.csv", HEADER + "".join(lines))
    overrides = {"CustomerName": "name", "Phone": "phone", "City": "city", "State": "region", "Zip": "postcode"}
    result = ingest_file(path=path, source=erp, entity_type=customer_type, id_field="CustomerNo",
                         overrides=overrides, chunk_size=100, parallel=True, defer_match=True)
    assert result.batch.counts == {"rows": 901, "created": 899, "updated": 0, "unchanged": 0, "deleted": 0,
                                   "rejected": 2}
    assert {r.reasons[0]["code"] for r in RejectedRecord.objects.all()} == {"duplicate_id", "missing_id"}
    assert SourceRecord.objects.get(source_id="C0899").attributes["phone"] == "+14155550899"
    again = ingest_file(path=path, source=erp, entity_type=customer_type, id_field="CustomerNo",
                        overrides=overrides, chunk_size=100, parallel=False, defer_match=True)
    assert again.batch.unchanged_count == 899
