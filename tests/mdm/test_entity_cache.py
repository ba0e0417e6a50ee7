"""The per-process cache of entity types and source codes: cheap, never wrong for long, never blind to the new."""
import pytest

from mdm import entity_cache
from mdm.models import SourceSystem

pytestmark = pytest.mark.django_db


def test_a_source_system_created_elsewhere_is_seen_as_soon_as_a_record_names_it(sources):
    assert entity_cache.source_codes()[sources["erp"].pk] == "erp"
    # bulk_create sends no signal: like a source added by another process.
    (wms,) = SourceSystem.objects.bulk_create([SourceSystem(code="wms2", name="WMS 2", kind="wms")])

    assert entity_cache.source_codes({wms.pk})[wms.pk] == "wms2"


def test_a_source_saved_in_this_process_clears_the_cache_at_once(sources):
    erp = sources["erp"]
    assert entity_cache.source_codes()[erp.pk] == "erp"
    erp.code = "erp-eu"
    erp.save()

    assert entity_cache.source_codes()[erp.pk] == "erp-eu"


def test_an_entity_type_is_found_by_its_primary_key(customer_type):
    assert entity_cache.entity_type_by_pk(customer_type.pk).code == "customer"
