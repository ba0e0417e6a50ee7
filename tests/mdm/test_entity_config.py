"""Entity types as configuration: load, validate with line numbers, dump, edit in the admin."""
from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from mdm.models import EntityConfigVersion, EntityType, SourceRecord

pytestmark = pytest.mark.django_db

SUPPLIER = """\
code: supplier
name: Supplier
id_prefix: SUP
attributes:
  - {name: name, type: company_name, required: true}
  - {name: tax_id, type: tax_id}
  - {name: phone, type: phone}
  - {name: email, type: email}
survivorship:
  default: [{rule: valid_only}, {rule: most_recent}]
"""


def test_a_new_entity_type_needs_only_a_config_file(tmp_path, erp):
    path = tmp_path / "supplier.yaml"
    path.write_text(SUPPLIER)
    call_command("load_entity_config", str(path))
    supplier = EntityType.objects.get(code="supplier")
    assert supplier.attribute_names == ["name", "tax_id", "phone", "email"]
    data = tmp_path / "suppliers.csv"
    data.write_text("id,name,phone\nS1,Fastenal Company,507-454-5374\n")
    call_command("ingest", str(data), "--source", "erp", "--entity", "supplier", "--no-progress")
    assert SourceRecord.objects.get().attributes["phone"] == "+15074545374"


def test_errors_name_the_bad_key_and_its_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(SUPPLIER.replace("type: phone", "type: phnoe").replace("{rule: most_recent}", "{rule: newest}"))
    with pytest.raises(CommandError) as error:
        call_command("load_entity_config", str(path))
    message = str(error.value)
    assert "line 7, attributes[2].type: unknown type 'phnoe'" in message
    assert "line 10, survivorship.default[1].rule: unknown rule 'newest'" in message
    assert not EntityType.objects.exists()


def test_invalid_yaml_is_reported_with_its_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("code: x\nattributes:\n  - {name: a, type: text\n")
    with pytest.raises(CommandError, match=r"line \d+, \(top level\): not valid YAML"):
        call_command("load_entity_config", str(path))


def test_reloading_a_changed_config_makes_a_new_version_and_dump_writes_it_back(tmp_path):
    path = tmp_path / "supplier.yaml"
    path.write_text(SUPPLIER)
    call_command("load_entity_config", str(path))
    call_command("load_entity_config", str(path))
    assert EntityType.objects.get().version == 1
    path.write_text(SUPPLIER + "  # rules reviewed\n")
    call_command("load_entity_config", str(path))
    assert EntityType.objects.get().version == 2
    assert EntityConfigVersion.objects.count() == 2
    out = tmp_path / "dumped.yaml"
    call_command("dump_entity_config", "supplier", "--output", str(out))
    assert out.read_text() == SUPPLIER + "  # rules reviewed\n"


def test_the_shipped_configs_are_valid():
    from mdm.services.entity_config import check_entity_config
    from tests.conftest import ENTITY_DIR

    for path in ENTITY_DIR.glob("*.yaml"):
        assert check_entity_config(path.read_text(), path.name)["code"] == path.stem


def test_the_admin_shows_and_validates_the_config(admin_client, tmp_path):
    path = tmp_path / "supplier.yaml"
    path.write_text(SUPPLIER)
    call_command("load_entity_config", str(path))
    supplier = EntityType.objects.get()
    url = f"/admin/mdm/entitytype/{supplier.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200 and "id_prefix: SUP" in page.content.decode()
    inline = {"versions-TOTAL_FORMS": "1", "versions-INITIAL_FORMS": "1", "versions-MAX_NUM_FORMS": "0",
              "versions-0-id": str(supplier.versions.get().pk), "versions-0-entity_type": str(supplier.pk)}
    bad = admin_client.post(url, {"config_yaml": SUPPLIER.replace("type: email", "type: mail"), "active": "on", **inline})
    assert bad.status_code == 200 and "unknown type &#x27;mail&#x27;" in bad.content.decode()
    good = admin_client.post(url, {"config_yaml": SUPPLIER.replace("name: Supplier", "name: Vendor"), "active": "on", **inline})
    assert good.status_code == 302, good.context["adminform"].form.errors
    supplier.refresh_from_db()
    assert supplier.name == "Vendor" and supplier.version == 2


def test_add_source_registers_a_source_system():
    call_command("add_source", "crm", "--name", "Salesforce", "--kind", "crm", "--region", "CA")
    from mdm.models import SourceSystem

    source = SourceSystem.objects.get(code="crm")
    assert (source.name, source.kind, source.default_region, source.active) == ("Salesforce", "crm", "CA", True)
    with pytest.raises(CommandError):
        call_command("add_source", "Bad Code!", "--name", "x")
