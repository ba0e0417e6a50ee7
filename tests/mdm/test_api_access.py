"""Who may call what: tokens, scopes per entity type and source, session users, throttling,
and clear, logged denials."""
from __future__ import annotations

import json
import logging

import pytest
from django.contrib.auth.models import Group, User
from publishing_support import make_golden, source_record

from mdm.api.auth import ApiClientThrottle
from mdm.models import ApiClient, SourceRecord
from mdm.roles import ADMINS, VIEWERS
from mdm.services.sources import set_mapping

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(customer_type, erp):
    return make_golden(customer_type, source_record(customer_type, erp, "E1", name="Acme"))


def get(client, url, token=None, **params):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get(url, params, **extra)


READ_URLS = [
    "/api/v1/customer/golden",
    "/api/v1/customer/golden/{golden_id}",
    "/api/v1/customer/golden/{golden_id}/xref",
    "/api/v1/customer/golden/{golden_id}/versions",
    "/api/v1/customer/records",
    "/api/v1/xref/erp/E1",
    "/api/v1/sources/erp/customer/records/E1",
]


@pytest.mark.parametrize("url", READ_URLS)
def test_every_read_endpoint_needs_the_read_scope_of_its_entity_type(api_client, api_token, acme, crm, url):
    url = url.format(golden_id=acme.golden_id)
    assert get(api_client, url).status_code == 401
    assert get(api_client, url, api_token("read:customer")).status_code == 200
    assert get(api_client, url, api_token("read:*")).status_code == 200
    assert get(api_client, url, api_token("admin")).status_code == 200
    denied = get(api_client, url, api_token("read:product", source=crm))
    assert denied.status_code == 403
    assert "read:customer" in denied.json()["detail"]


def test_a_crm_token_cannot_write_erp_records_nor_read_an_entity_type_it_was_not_granted(
        api_client, api_token, customer_type, product_type, erp, crm):
    set_mapping(source=erp, entity_type=customer_type, spec={"id_field": "id"})
    crm_token = api_token("read:product", source=crm)
    write = api_client.post("/api/v1/sources/erp/customer/records", data=json.dumps([{"id": "E1", "name": "X"}]),
                            content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {crm_token}")
    assert write.status_code == 403 and "may not write records as source 'erp'" in write.json()["detail"]
    assert get(api_client, "/api/v1/customer/golden", crm_token).status_code == 403
    assert get(api_client, "/api/v1/product/golden", crm_token).status_code == 200
    assert not SourceRecord.objects.exists()


def test_a_source_may_read_its_own_records_but_not_another_sources(api_client, api_token, acme, customer_type, erp,
                                                                  crm):
    source_record(customer_type, crm, "C1", name="Acme")
    erp_token = api_token(source=erp)
    own = get(api_client, "/api/v1/sources/erp/customer/records/E1", erp_token)
    assert own.status_code == 200 and own.json()["payload"] == {"id": "E1", "name": "Acme"}
    assert own.json()["versions"] == [] or own.json()["versions"][0]["version"] == 1
    assert get(api_client, "/api/v1/sources/crm/customer/records/C1", erp_token).status_code == 403


def test_denied_calls_are_logged_with_who_and_why(api_client, api_token, acme, caplog):
    with caplog.at_level(logging.WARNING, logger="mdm.api.denied"):
        get(api_client, "/api/v1/customer/golden", api_token("read:product"))
        get(api_client, "/api/v1/customer/golden", "mdm_nope_nope")
    messages = [r.getMessage() for r in caplog.records if r.name == "mdm.api.denied"]
    assert any("GET /api/v1/customer/golden by client-0" in m and "read:customer" in m for m in messages)
    assert any("anonymous" in m and "Unknown or malformed API token" in m for m in messages)


def test_a_deactivated_client_is_refused(api_client, api_token, acme):
    token = api_token("read:*")
    ApiClient.objects.update(active=False)
    response = get(api_client, "/api/v1/customer/golden", token)
    assert response.status_code == 401 and "deactivated" in response.json()["detail"]


def test_signed_in_users_get_the_scopes_of_their_role(client, acme):
    viewer = User.objects.create_user("vera", password="pw-123456789")
    viewer.groups.add(Group.objects.get_or_create(name=VIEWERS)[0])
    nobody = User.objects.create_user("nora", password="pw-123456789")
    client.force_login(nobody)
    assert client.get("/api/v1/customer/golden").status_code == 403
    client.force_login(viewer)
    assert client.get("/api/v1/customer/golden").status_code == 200
    assert client.get("/api/v1/subscriptions").status_code == 403
    admin = User.objects.create_user("ada", password="pw-123456789")
    admin.groups.add(Group.objects.get_or_create(name=ADMINS)[0])
    client.force_login(admin)
    assert client.get("/api/v1/subscriptions").status_code == 200


def test_session_writes_need_the_csrf_token(acme):
    from django.test import Client

    admin = User.objects.create_user("ada", password="pw-123456789")
    admin.groups.add(Group.objects.get_or_create(name=ADMINS)[0])
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post("/api/v1/tasks/1/resolve", data=json.dumps({"action": "dismiss"}),
                           content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]


def test_each_client_is_throttled_on_its_own(api_client, api_token, acme, monkeypatch):
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr(ApiClientThrottle, "rate", "3/min", raising=False)
    busy, calm = api_token("read:*"), api_token("read:*")
    codes = [get(api_client, "/api/v1/customer/golden", busy).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = get(api_client, "/api/v1/customer/golden", busy)
    assert "throttled" in limited.json()["detail"].lower() and int(limited["Retry-After"]) > 0
    assert get(api_client, "/api/v1/customer/golden", calm).status_code == 200


def test_create_api_client_issues_a_token_that_acts_for_a_named_steward(db):
    from io import StringIO

    from django.core.management import CommandError, call_command
    from golden_helpers import steward, viewer

    carol = steward("carol")
    viewer("victor")
    out = StringIO()
    call_command("create_api_client", "dedupe-bot", "--scope", "tasks", "--scope", "read:customer",
                 "--acts-for", "carol", stdout=out)
    assert "acting for steward carol" in out.getvalue() and "token (shown once" in out.getvalue()
    assert ApiClient.objects.get(name="dedupe-bot").acts_for == carol
    with pytest.raises(CommandError, match="'victor' is not an active data steward"):
        call_command("create_api_client", "bot-2", "--scope", "tasks", "--acts-for", "victor", stdout=StringIO())
    with pytest.raises(CommandError, match="--acts-for needs --scope tasks or --scope steward"):
        call_command("create_api_client", "bot-3", "--scope", "read:*", "--acts-for", "carol", stdout=StringIO())


def test_an_admin_issues_a_client_acting_for_a_steward_in_the_django_admin(client, db):
    from golden_helpers import steward, viewer

    client.force_login(User.objects.create_superuser("root", password=None))
    carol, victor = steward("carol"), viewer("victor")
    add = "/admin/mdm/apiclient/add/"
    choices = client.get(add).context["adminform"].form.fields["acts_for"].queryset
    assert carol in choices and victor not in choices
    refused = client.post(add, {"name": "bot", "scopes": "read:*", "acts_for": carol.pk, "active": "on"})
    assert "only matters with the &#x27;tasks&#x27; or &#x27;steward&#x27; scope" in refused.content.decode()
    done = client.post(add, {"name": "bot", "scopes": "tasks, read:customer", "acts_for": carol.pk, "active": "on"},
                       follow=True)
    assert "shown once, copy it now" in done.content.decode()
    assert ApiClient.objects.get(name="bot").acts_for == carol
