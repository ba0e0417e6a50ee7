"""The OpenAPI schema validates, the docs page is served by the app (no CDN), and a
schema-driven fuzzer finds no server error against the running API."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from publishing_support import make_golden, source_record

from mdm.celery import app as celery_app
from mdm.models import StewardTask, Subscription


def test_the_schema_validates_without_warnings(db, capsys):
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json")
    schema = json.loads(capsys.readouterr().out)
    paths = schema["paths"]
    for path in ["/api/v1/{entity_type}/golden", "/api/v1/{entity_type}/golden/{golden_id}",
                 "/api/v1/xref/{source}/{source_id}", "/api/v1/{entity_type}/golden/{golden_id}/xref",
                 "/api/v1/{entity_type}/match", "/api/v1/tasks/{id}/resolve", "/api/v1/subscriptions",
                 "/api/v1/deliveries/{id}/replay", "/api/v1/sources/{source}/{entity_type}/records"]:
        assert path in paths, path
    assert schema["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"


def test_the_docs_page_loads_its_assets_from_the_app(admin_client):
    page = admin_client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui" in a for a in assets)
    assert not [a for a in assets if a.startswith(("http:", "https:", "//"))], assets
    schema = admin_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200 and "openapi" in json.loads(schema.content)


@pytest.mark.django_db(transaction=True)
def test_the_fuzzer_finds_no_server_error(live_server, admin_client, api_token, customer_type, product_type,
                                          erp, crm, tmp_path, httpserver):
    golden = make_golden(customer_type, source_record(customer_type, erp, "E1", name="Acme"),
                         source_record(customer_type, crm, "C1", name="ACME"))
    StewardTask.objects.create(kind="attribute_conflict", entity_type=customer_type, golden=golden,
                               dedupe_key="c1", title="conflict")
    Subscription.objects.create(name="hook", url=httpserver.url_for("/hook"))
    schema = tmp_path / "schema.json"
    schema.write_bytes(admin_client.get("/api/schema/", HTTP_ACCEPT="application/json").content)
    from golden_helpers import steward

    # Acting for a steward, so fuzzed merges, splits, overrides and task decisions reach the services.
    token = api_token("admin", acts_for=steward("fuzz"))
    # Real identifiers for the path, so the fuzzed queries and bodies reach the views' logic
    # rather than bouncing off 404s.
    config = tmp_path / "schemathesis.toml"
    config.write_text('[parameters]\n"path.entity_type" = "customer"\n"path.source" = "erp"\n'
                      f'"path.golden_id" = "{golden.golden_id}"\n"path.source_id" = "E1"\n"path.attribute" = "city"\n')
    exclude = []
    try:
        import mdm.services.matching  # noqa: F401
    except ImportError:  # until the matching integration lands, search-before-create answers 503 by design
        exclude = ["--exclude-path", "/api/v1/{entity_type}/match"]
    # Like production, the server hands tasks to the broker instead of running them inline.
    celery_app.conf.task_always_eager = False
    try:
        result = subprocess.run(
            [str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(config), "run", str(schema), "--url", live_server.url,
             "-H", f"Authorization: Bearer {token}", "--checks", "not_a_server_error", "--max-examples", "6",
             "--phases", "examples,fuzzing", "--workers", "1", "--generation-database", "none", "--no-color",
             "--seed", "6", "--request-timeout", "20", *exclude],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,  # its cache stays out of the repo
        )
    finally:
        celery_app.conf.task_always_eager = True
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge("mdm")
    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
