"""The benchmark commands run end to end at a small scale, so they cannot rot between benchmark runs."""
from io import StringIO

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_ui_benchmark_builds_its_data_times_every_page_and_cleans_up():
    out = StringIO()
    call_command("benchmark", "ui", "--goldens", "60", "--tasks", "12", "--requests", "1", stdout=out)
    report = out.getvalue()
    assert "golden search by name" in report and "queue, first page" in report
    assert "Benchmark data deleted" in report


def test_the_matching_benchmark_times_incremental_matches_again_on_records_a_kept_run_left(tmp_path):
    from mdm.celery import app as celery_app
    from mdm.demo import generator
    from mdm.demo.load import ingest_demo_files, load_configs
    from mdm.models import SourceRecord
    from mdm.services.matching import match_all

    load_configs()
    generator.generate(tmp_path, customers=60, products=10, prices=5, seed=3)
    ingest_demo_files(tmp_path, report=lambda line: None)
    match_all("customer")
    before = SourceRecord.objects.filter(entity_type__code="customer").count()
    celery_app.conf.task_always_eager = False  # as with REDIS_URL: the ingest enqueues, the benchmark matches
    try:
        out = StringIO()
        call_command("benchmark", "matching", "--incremental-only", "--incremental", "4", stdout=out)
    finally:
        celery_app.conf.task_always_eager = True
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge("mdm")  # the ingest's task messages: matched already
    report = out.getvalue()
    assert "incremental: 4 new records against" in report and "p95" in report
    assert SourceRecord.objects.filter(entity_type__code="customer").count() == before + 4
    assert not SourceRecord.objects.filter(entity_type__code="customer", needs_match=True).exists()


def test_the_matching_benchmark_loads_prices_for_its_customers_and_removes_them_again(tmp_path):
    from mdm.benchmarks.ingest import _bench_mappings
    from mdm.benchmarks.matching import _load_prices, _reset
    from mdm.demo import generator
    from mdm.demo.load import load_configs
    from mdm.models import EntityType, GoldenRecord, PriceResolution, SourceRecord
    from mdm.services.files import ingest_file
    from mdm.services.matching import match_all

    load_configs()
    generator.generate(tmp_path, customers=40, products=10, prices=80, seed=3)
    customer, price = EntityType.objects.get(code="customer"), EntityType.objects.get(code="price")
    for mapping in _bench_mappings("customer"):
        ingest_file(path=tmp_path / mapping.file_name, source=mapping.source_system, entity_type=customer,
                    defer_match=True, submitted_by="test")
    match_all(customer)
    out = StringIO()
    _load_prices(out.write, price, tmp_path)
    prices = SourceRecord.objects.filter(entity_type=price)
    assert prices.exists() and f"prices: {prices.count():,} records ingested" in out.getvalue()
    assert not prices.filter(needs_match=True).exists()
    assert PriceResolution.objects.filter(entity_type=price, customer_record__isnull=False).exists()
    _reset(price, customer)  # prices first: they reference the customers
    assert not SourceRecord.objects.filter(entity_type__in=[price, customer]).exists()
    assert not GoldenRecord.objects.filter(entity_type__in=[price, customer]).exists()
    assert not PriceResolution.objects.exists()


def test_the_incremental_only_run_says_what_is_missing_on_an_empty_database():
    out = StringIO()
    call_command("benchmark", "matching", "--incremental-only", stdout=out)
    assert "run with --keep first" in out.getvalue()


def test_the_ingest_benchmark_loads_twice_and_leaves_only_the_other_sources_records(tmp_path):
    from mdm.demo import generator
    from mdm.demo.load import ingest_demo_files, load_configs
    from mdm.models import IngestBatch, SourceRecord

    load_configs()  # the demo's own sources hold records the benchmark must not touch
    generator.generate(tmp_path, customers=20, products=5, prices=2, seed=4)
    ingest_demo_files(tmp_path, report=lambda line: None)
    demo_records = SourceRecord.objects.count()

    out = StringIO()
    call_command("benchmark", "ingest", "--records", "200", stdout=out)

    report = out.getvalue()
    assert "first load" in report and "same files again (no-op)" in report and "records/s" in report
    assert SourceRecord.objects.count() == demo_records
    assert not SourceRecord.objects.filter(source_system__code__startswith="bench_").exists()
    assert not IngestBatch.objects.filter(source_system__code__startswith="bench_").exists()


@pytest.mark.parametrize("how", ["--one-by-one", "--batch"])
def test_the_first_load_benchmark_matches_every_file_scores_it_and_leaves_an_empty_hub(how):
    from mdm.models import GoldenRecord, MatchModel, SourceRecord

    out = StringIO()
    call_command("benchmark", "firstload", "--customers", "40", "--products", "20", how, stdout=out)

    report = out.getvalue()
    assert "matched and golden values written" in report
    assert " completed, 0 failed" in report or "golden-values jobs: none" in report
    for entity in ("customer", "product"):
        line = next(row for row in report.splitlines() if row.startswith(entity))
        assert "F1 " in line and "0 records in none" in line and "(0 without members)" in line
    assert ("ingest --defer-match, then match" in report) == (how == "--batch")
    assert report.count("matched at") == (10 if how == "--one-by-one" else 0)  # after each extract
    assert not SourceRecord.objects.exists() and not GoldenRecord.objects.exists()
    assert not MatchModel.objects.exists()


def test_the_first_load_benchmark_needs_an_empty_hub(tmp_path):
    from mdm.demo import generator
    from mdm.demo.load import ingest_demo_files, load_configs
    from mdm.models import SourceRecord

    load_configs()
    generator.generate(tmp_path, customers=10, products=5, prices=2, seed=4)
    ingest_demo_files(tmp_path, report=lambda line: None)
    out = StringIO()
    call_command("benchmark", "firstload", "--customers", "10", stdout=out)
    assert "needs an empty hub" in out.getvalue()
    assert not SourceRecord.objects.filter(source_system__code__startswith="bench_").exists()


def test_the_stream_benchmark_scores_records_sent_one_by_one_beside_the_same_records_in_a_batch():
    from mdm.models import SourceRecord

    out = StringIO()
    call_command("benchmark", "stream", "--customers", "60", "--holdout", "0.3", stdout=out)

    report = out.getvalue()
    assert "batch, every row" in report and "then one by one" in report
    assert report.count("F1 ") == 3 and "0 left pending" in report
    assert "pairs with a record sent one by one: F1 " in report and " in the batch (" in report
    assert not SourceRecord.objects.exists()  # the hub is left empty
