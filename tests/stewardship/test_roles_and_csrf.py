"""Every page checks the role on the server; CSRF protects every form, htmx included."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from mdm.models import StewardTask
from tests.stewardship.hub import htmx

pytestmark = pytest.mark.django_db


def stewardship_patterns():
    resolver = get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace == "stewardship":
            for pattern in entry.url_patterns:
                if isinstance(pattern, URLPattern):
                    yield pattern


def test_every_stewardship_view_declares_the_role_it_needs():
    unguarded = [p.name for p in stewardship_patterns()
                 if p.name not in {"login", "logout"} and not hasattr(p.callback, "required_role")]
    assert unguarded == []


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(reverse("stewardship:queue"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("stewardship:login"))


def test_an_anonymous_htmx_request_redirects_the_whole_page_to_sign_in(client):
    response = client.get(reverse("stewardship:queue"), **htmx("queue"))
    assert response.status_code == 401
    assert response["HX-Redirect"].startswith(reverse("stewardship:login") + "?next=")


def test_a_user_without_a_role_is_told_which_role_is_needed(login):
    response = login("norole").get(reverse("stewardship:home"))
    assert response.status_code == 403
    assert b"any role" in response.content and b"Ask an administrator" in response.content


@pytest.mark.parametrize("name", ["home", "queue", "golden_search", "uploads"])
def test_a_viewer_reads_every_page(login, name):
    assert login("viewer").get(reverse(f"stewardship:{name}")).status_code == 200


def test_a_viewer_cannot_merge(login, hub):
    task = hub.possible_match(hub.customer("Acme Supply Inc"), hub.customer("ACME Supply", source="crm"))
    response = login("viewer").post(reverse("stewardship:task_merge", args=[task.pk]), {"version": task.version})
    assert response.status_code == 403
    task.refresh_from_db()
    assert task.status == StewardTask.Status.OPEN


def test_a_viewer_sees_no_action_buttons(login, hub):
    task = hub.possible_match(hub.customer("Acme Supply Inc"), hub.customer("ACME Supply", source="crm"))
    page = login("viewer").get(reverse("stewardship:task", args=[task.pk])).content.decode()
    assert 'data-shortcut="m"' not in page and "Not a match" not in page


@pytest.mark.parametrize("role", ["viewer", "steward"])
def test_only_admins_open_the_rule_pages(login, customer_type, role):
    client = login(role)
    assert client.get(reverse("stewardship:rules")).status_code == 403
    assert client.post(reverse("stewardship:rule_draft_new", args=["customer"]),
                       {"rules": "default: [{rule: most_recent}]"}).status_code == 403


def test_an_admin_opens_the_rule_pages(login, customer_type):
    assert login("admin").get(reverse("stewardship:rules")).status_code == 200


def test_a_viewer_cannot_upload(login, erp, customer_type):
    response = login("viewer").post(reverse("stewardship:upload_new"), {"source": "erp", "entity_type": "customer"})
    assert response.status_code == 403


def test_a_post_without_the_csrf_token_is_refused(users, hub):
    task = hub.possible_match(hub.customer("Acme Supply Inc"), hub.customer("ACME Supply", source="crm"))
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["steward"])
    response = client.post(reverse("stewardship:task_skip", args=[task.pk]), {"version": task.version})
    assert response.status_code == 403


def test_htmx_requests_carry_the_csrf_token_in_a_header(users, hub):
    task = hub.possible_match(hub.customer("Acme Supply Inc"), hub.customer("ACME Supply", source="crm"))
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["steward"])
    page = client.get(reverse("stewardship:task", args=[task.pk])).content.decode()
    token = page.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    response = client.post(reverse("stewardship:task_skip", args=[task.pk]), {"version": task.version},
                           HTTP_X_CSRFTOKEN=token, **htmx("content"))
    assert response.status_code == 204
    assert "HX-Location" in response


def test_the_htmx_script_is_served_by_the_app_not_a_cdn(login):
    page = login("viewer").get(reverse("stewardship:home")).content.decode()
    assert "/static/django_htmx/htmx" in page
    assert "https://" not in page.split("<body", 1)[0]
