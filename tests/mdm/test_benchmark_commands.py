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
