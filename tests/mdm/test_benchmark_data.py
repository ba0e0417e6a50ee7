"""The benchmark data loader writes rows the hub itself accepts.

Benchmarks load a million rows with COPY, bypassing the ORM: when a column is
added to the schema, this test fails instead of the next benchmark run.
"""
import pytest
from django.db import connection

from mdm.benchmarks._bench_data import drop_bench_data, ensure_goldens
from mdm.models import GoldenRecord, SourceRecord
from mdm.services import golden as golden_service


@pytest.mark.django_db
def test_benchmark_golden_records_load_and_recompute_like_any_other():
    if connection.vendor != "postgresql":
        pytest.skip("the loader uses COPY")
    entity, source = ensure_goldens(25, out=lambda *_: None)

    goldens = GoldenRecord.objects.filter(entity_type=entity)
    assert goldens.count() == 25
    assert SourceRecord.objects.filter(entity_type=entity, source_system=source, golden__isnull=False).count() == 25

    result = golden_service.recompute(entity, list(goldens.values_list("pk", flat=True)), reason="benchmark")
    first = goldens.order_by("golden_id").first()
    assert len(result.changed) == 25  # the loader stores no fingerprint: the first recompute records one
    assert first.fingerprint and first.values["name"].endswith(" 1 Inc.")

    drop_bench_data(out=lambda *_: None)
    assert not GoldenRecord.objects.filter(entity_type=entity).exists()
