"""Bulk row writes (mdm.db): a few rows and many rows end up the same as the ORM would write them."""
from datetime import UTC, datetime

import pytest

from mdm.db import SMALL, JsonText, update_rows
from mdm.models import GoldenRecord
from mdm.services.golden import create_goldens

pytestmark = pytest.mark.django_db

FIELDS = ["version", "values", "status", "display_name", "merged_into", "updated_at"]


@pytest.mark.parametrize("count", [1, 3, SMALL + 5], ids=["one row", "a few rows", "many rows"])
def test_update_rows_sets_every_kind_of_column(customer_type, count):
    goldens = create_goldens(customer_type, count)
    survivor = goldens[0]
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    rows = [(g.pk, 7, JsonText('{"name": "Acme \\u00e9 <b>"}') if i % 2 else {"name": f"N{i}", "n": [1, 2]},
             GoldenRecord.Status.RETIRED, f"Name {i} 'quoted'", survivor.pk if i else None, moment)
            for i, g in enumerate(goldens)]

    assert update_rows(GoldenRecord, FIELDS, rows) == count

    stored = {g.pk: g for g in GoldenRecord.objects.filter(pk__in=[g.pk for g in goldens])}
    for i, golden in enumerate(goldens):
        row = stored[golden.pk]
        assert row.version == 7 and row.status == "retired" and row.updated_at == moment
        assert row.values == ({"name": "Acme é <b>"} if i % 2 else {"name": f"N{i}", "n": [1, 2]})
        assert row.display_name == f"Name {i} 'quoted'"
        assert row.merged_into_id == (survivor.pk if i else None)


def test_update_rows_with_nothing_to_do_writes_nothing():
    assert update_rows(GoldenRecord, FIELDS, []) == 0
