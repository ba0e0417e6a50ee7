"""Publishing: outbox fan-out, signed delivery to a real HTTP receiver, retries, dead letters,
replay, the sweeper and per-record ordering (the delivery service called directly; the
real worker is in test_publishing_worker.py)."""
from __future__ import annotations

import json
import ssl
from datetime import timedelta

import pytest
import trustme
from django.core.management import call_command
from django.utils import timezone
from publishing_support import change, make_golden, merge, source_record
from pytest_httpserver import HTTPServer
from standardwebhooks.webhooks import Webhook
from werkzeug import Response

from mdm.models import ChangeEvent, Delivery, Subscription, XrefAcknowledgement
from mdm.models.publishing import generate_secret, validate_secret
from mdm.selectors_publishing import subscription_status
from mdm.services import publishing

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscription(httpserver, customer_type):
    return Subscription.objects.create(name="analytics", url=httpserver.url_for("/hooks"))


@pytest.fixture
def golden(customer_type, erp, crm, subscription):  # the subscription first: it gets the events
    return make_golden(customer_type, source_record(customer_type, erp, "E1", name="Acme Supply Inc."),
                       source_record(customer_type, crm, "C1", name="ACME SUPPLY", city="Austin"))


def received(httpserver) -> list[tuple[dict, dict]]:
    return [(json.loads(req.get_data()), dict(req.headers)) for req, _ in httpserver.log]


def test_a_generated_secret_follows_the_standard_webhooks_format():
    secret = generate_secret()
    assert secret.startswith("whsec_")
    validate_secret(secret)
    Webhook(secret)  # the reference library accepts it


def test_each_change_event_gets_one_pending_delivery_per_matching_active_subscription(
        customer_type, product_type, erp, crm, httpserver, django_capture_on_commit_callbacks):
    url = httpserver.url_for("/hooks")
    everything = Subscription.objects.create(name="all", url=url)
    customers_updates = Subscription.objects.create(name="customer updates", url=url, entity_types=["customer"],
                                                    event_types=["updated"])
    Subscription.objects.create(name="products", url=url, entity_types=["product"])
    Subscription.objects.create(name="switched off", url=url, active=False)
    with django_capture_on_commit_callbacks() as callbacks:
        record = source_record(customer_type, erp, "E1", name="Acme")
        make_golden(customer_type, record)
        change(record, city="Austin")
    events = list(ChangeEvent.objects.order_by("id"))
    assert [e.event_type for e in events] == ["created", "updated"]
    pairs = sorted((d.event.event_type, d.subscription.name) for d in Delivery.objects.all())
    assert pairs == [("created", "all"), ("updated", "all"), ("updated", "customer updates")]
    assert all(d.status == "pending" and d.golden_version == d.event.golden_version for d in Delivery.objects.all())
    assert len(callbacks) == 2  # enqueued on commit, never before
    assert customers_updates.deliveries.count() == 1 and everything.deliveries.count() == 2


def test_nothing_is_published_when_the_change_rolls_back(customer_type, erp, subscription):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        make_golden(customer_type, source_record(customer_type, erp, "E1", name="Acme"))
        raise RuntimeError("the surrounding work failed")
    assert not ChangeEvent.objects.exists() and not Delivery.objects.exists()


def test_a_delivery_is_signed_per_standard_webhooks_and_carries_what_the_api_returns(
        golden, subscription, httpserver, api_client, api_token):
    httpserver.expect_request("/hooks", method="POST").respond_with_data("thanks", status=200)
    delivery = Delivery.objects.get()
    assert publishing.deliver(delivery.pk) == "delivered"
    (body, headers), = received(httpserver)
    raw = httpserver.log[0][0].get_data()
    verified = Webhook(subscription.secret).verify(raw, headers)
    assert verified == body
    assert headers["Webhook-Id"] == f"msg_{delivery.pk}" == headers["Idempotency-Key"]
    assert body["type"] == "customer.created"
    assert body["event"] == {"id": delivery.event_id, "type": "created", "entity_type": "customer",
                             "golden_id": golden.golden_id, "version": 1}
    api = api_client.get(f"/api/v1/customer/golden/{golden.golden_id}", {"version": 1},
                         HTTP_AUTHORIZATION=f"Bearer {api_token('read:customer')}").json()
    assert body["data"] == api
    assert "write_back" not in body
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 1 and delivery.last_status_code == 200
    assert delivery.last_response == "thanks" and delivery.delivered_at is not None


def test_a_tampered_body_fails_verification(golden, subscription, httpserver):
    from standardwebhooks.webhooks import WebhookVerificationError

    httpserver.expect_request("/hooks").respond_with_data("ok")
    publishing.deliver(Delivery.objects.get().pk)
    request = httpserver.log[0][0]
    tampered = request.get_data().replace(b"Acme", b"Evil")
    with pytest.raises(WebhookVerificationError):
        Webhook(subscription.secret).verify(tampered, dict(request.headers))


def test_a_5xx_is_retried_later_with_exponential_backoff_and_jitter(golden, subscription, httpserver, settings):
    settings.MDM_WEBHOOK_BACKOFF_BASE = 10.0
    settings.MDM_WEBHOOK_BACKOFF_FACTOR = 4.0
    settings.MDM_WEBHOOK_ETA_MAX = 0  # keep the retries out of the (eager) queue: this test drives them
    httpserver.expect_request("/hooks").respond_with_data("busy", status=503)
    delivery = Delivery.objects.get()
    waits = []
    for expected_base in (10.0, 40.0, 160.0):
        before = timezone.now()
        assert publishing.deliver(delivery.pk) == "pending"
        delivery.refresh_from_db()
        waits.append((delivery.next_attempt_at - before).total_seconds())
        assert 0.8 * expected_base - 1 <= waits[-1] <= 1.2 * expected_base + 1
        assert publishing.deliver(delivery.pk) == "not claimable"  # not due yet
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    delivery.refresh_from_db()
    assert delivery.attempts == 3 and delivery.last_status_code == 503 and delivery.last_response == "busy"
    assert delivery.last_error == "HTTP 503"


def test_backoff_is_capped():
    from django.test import override_settings

    with override_settings(MDM_WEBHOOK_BACKOFF_BASE=10.0, MDM_WEBHOOK_BACKOFF_FACTOR=4.0, MDM_WEBHOOK_BACKOFF_MAX=60.0):
        assert all(48 <= publishing.backoff_delay(n) <= 72 for n in range(3, 12))


def test_a_timeout_is_temporary(golden, subscription, httpserver, settings):
    import threading

    settings.MDM_WEBHOOK_READ_TIMEOUT = 0.3
    settings.MDM_WEBHOOK_ETA_MAX = 0
    release = threading.Event()
    httpserver.expect_request("/hooks").respond_with_handler(lambda r: (release.wait(5), Response("late"))[1])
    delivery = Delivery.objects.get()
    try:
        assert publishing.deliver(delivery.pk) == "pending"
    finally:
        release.set()
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("timeout") and delivery.last_status_code is None


def test_a_4xx_fails_at_once_and_keeps_the_response(golden, subscription, httpserver):
    httpserver.expect_request("/hooks").respond_with_json({"error": "unknown customer schema"}, status=422)
    delivery = Delivery.objects.get()
    assert publishing.deliver(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.last_status_code == 422
    assert "unknown customer schema" in delivery.last_response
    assert "rejected" in delivery.last_error


def test_a_long_answer_is_cut_and_decoded_by_its_charset(golden, subscription, httpserver):
    answer = ("Kunde abgelehnt: Müller & Söhne. " * 200).encode("latin-1")
    httpserver.expect_request("/hooks").respond_with_data(answer, status=409,
                                                          content_type="text/plain; charset=ISO-8859-1")
    delivery = Delivery.objects.get()
    assert publishing.deliver(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.last_response.startswith("Kunde abgelehnt: Müller & Söhne.")
    assert len(delivery.last_response) == publishing.RESPONSE_KEEP


def test_an_unreachable_receiver_is_a_temporary_connection_error(golden, subscription, settings):
    settings.MDM_WEBHOOK_ETA_MAX = 0
    Subscription.objects.filter(pk=subscription.pk).update(url="http://127.0.0.1:9/hooks")  # discard: refused
    delivery = Delivery.objects.get()
    assert publishing.deliver(delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("connection error") and delivery.last_status_code is None


def test_deliveries_go_through_the_proxy_the_environment_names(golden, subscription, httpserver, monkeypatch):
    # The "proxy" is the test server: a request for a host that does not resolve reaching it
    # went through the proxy, in absolute form.
    monkeypatch.setenv("HTTP_PROXY", httpserver.url_for("/").rstrip("/"))
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.setenv("NO_PROXY", "localhost")
    Subscription.objects.filter(pk=subscription.pk).update(url="http://erp.example.invalid/hooks")
    httpserver.expect_request("/hooks").respond_with_data("ok")
    assert publishing.deliver(Delivery.objects.get().pk) == "delivered"
    (request, _), = httpserver.log
    assert request.headers["Host"] == "erp.example.invalid"
    assert request.headers["User-Agent"] == publishing.USER_AGENT


def test_hosts_named_in_no_proxy_are_reached_directly(golden, subscription, httpserver, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.setenv("NO_PROXY", ".example.com,localhost")  # the test server's host
    httpserver.expect_request("/hooks").respond_with_data("ok")
    assert publishing.deliver(Delivery.objects.get().pk) == "delivered"


def test_https_receivers_are_verified_against_the_configured_authorities(golden, subscription, tmp_path,
                                                                           monkeypatch, settings):
    settings.MDM_WEBHOOK_ETA_MAX = 0
    authority = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("localhost").configure_cert(context)
    server = HTTPServer(ssl_context=context)
    server.start()
    try:
        server.expect_request("/hooks").respond_with_data("ok")
        Subscription.objects.filter(pk=subscription.pk).update(url=server.url_for("/hooks"))
        delivery = Delivery.objects.get()
        assert delivery.subscription.url.startswith("https://")
        assert publishing.deliver(delivery.pk) == "pending"  # signed by an authority nobody trusts
        delivery.refresh_from_db()
        assert "CERTIFICATE_VERIFY_FAILED" in delivery.last_error
        bundle = tmp_path / "authorities.pem"
        authority.cert_pem.write_to_path(str(bundle))
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        assert publishing.deliver(delivery.pk) == "delivered"
        assert len(server.log) == 1
    finally:
        server.clear()
        if server.is_running():
            server.stop()


def test_the_last_failed_attempt_dead_letters_the_delivery(golden, subscription, httpserver, settings):
    settings.MDM_WEBHOOK_MAX_ATTEMPTS = 2
    settings.MDM_WEBHOOK_ETA_MAX = 0
    httpserver.expect_request("/hooks").respond_with_data("down", status=500)
    delivery = Delivery.objects.get()
    assert publishing.deliver(delivery.pk) == "pending"
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert publishing.deliver(delivery.pk) == "dead"
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and "giving up" in delivery.last_error


def test_a_delivery_waits_for_the_older_version_of_the_same_record(
        customer_type, erp, subscription, httpserver, settings):
    settings.MDM_WEBHOOK_ETA_MAX = 0
    record = source_record(customer_type, erp, "E1", name="Acme")
    make_golden(customer_type, record)
    change(record, city="Austin")
    make_golden(customer_type, source_record(customer_type, erp, "E2", name="Beta"))
    v1, v2, other_v1 = Delivery.objects.order_by("id")
    httpserver.expect_oneshot_request("/hooks").respond_with_data("oops", status=500)
    httpserver.expect_request("/hooks").respond_with_data("ok")
    assert publishing.deliver(v1.pk) == "pending"  # v1 failed once and waits for its retry
    assert publishing.deliver(v2.pk) == "not claimable"  # held back behind v1
    assert publishing.deliver(other_v1.pk) == "delivered"  # other records are not held back
    Delivery.objects.filter(pk=v1.pk).update(next_attempt_at=timezone.now())
    assert publishing.deliver(v1.pk) == "delivered"
    assert publishing.deliver(v2.pk) == "delivered"
    versions = [(b["event"]["golden_id"], b["event"]["version"]) for b, _ in received(httpserver)]
    assert versions == [("CUS-000001", 1), ("CUS-000002", 1), ("CUS-000001", 1), ("CUS-000001", 2)]


def test_a_dead_older_delivery_releases_the_newer_one(customer_type, erp, subscription, httpserver,
                                                      django_capture_on_commit_callbacks):
    record = source_record(customer_type, erp, "E1", name="Acme")
    make_golden(customer_type, record)
    change(record, city="Austin")
    v1, v2 = Delivery.objects.order_by("id")
    httpserver.expect_oneshot_request("/hooks").respond_with_data("no", status=400)
    httpserver.expect_request("/hooks").respond_with_data("ok")
    with django_capture_on_commit_callbacks(execute=True):  # the release enqueues v2 (eager here)
        assert publishing.deliver(v1.pk) == "failed"
    v2.refresh_from_db()
    assert v2.status == "delivered"


def test_a_batch_is_claimed_in_one_statement_and_its_mixed_outcomes_written_in_one(
        customer_type, erp, subscription, httpserver, settings, django_assert_max_num_queries):
    settings.MDM_WEBHOOK_ETA_MAX = 0
    for n in range(1, 7):
        make_golden(customer_type, source_record(customer_type, erp, f"E{n}", name=f"Company {n}"))
    ids = list(Delivery.objects.order_by("id").values_list("pk", flat=True))
    answers = {"CUS-000002": ("busy", 503), "CUS-000004": ("bad schema", 422)}

    def answer(request):
        text, status = answers.get(json.loads(request.get_data())["event"]["golden_id"], ("ok", 200))
        return Response(text, status=status)

    httpserver.expect_request("/hooks").respond_with_handler(answer)
    with django_assert_max_num_queries(2):  # the claim (with events and subscription) and the outcomes
        counts = publishing.deliver_many(ids)
    assert counts == {"delivered": 4, "pending": 1, "failed": 1}
    rows = {d.event.golden_id_text: d for d in Delivery.objects.select_related("event")}
    assert rows["CUS-000002"].status == "pending" and rows["CUS-000002"].next_attempt_at > timezone.now()
    assert rows["CUS-000004"].status == "failed" and rows["CUS-000004"].last_response == "bad schema"
    assert rows["CUS-000001"].status == "delivered" and rows["CUS-000001"].delivered_at is not None
    assert {d.attempts for d in rows.values()} == {1}
    assert [b["event"]["golden_id"] for b, _ in received(httpserver)] == [f"CUS-00000{n}" for n in range(1, 7)]


def test_two_versions_of_one_record_in_one_batch_go_out_in_order(
        customer_type, erp, subscription, httpserver, django_capture_on_commit_callbacks):
    record = source_record(customer_type, erp, "E1", name="Acme")
    make_golden(customer_type, record)
    change(record, city="Austin")
    change(record, city="Dallas")
    httpserver.expect_request("/hooks").respond_with_data("ok")
    ids = list(Delivery.objects.order_by("-id").values_list("pk", flat=True))  # newest first, on purpose
    with django_capture_on_commit_callbacks(execute=True):  # each final version releases the next (eager here)
        assert publishing.deliver_many(ids) == {"delivered": 1, "not claimable": 2}
    assert [b["event"]["version"] for b, _ in received(httpserver)] == [1, 2, 3]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_batch_gives_back_what_it_could_not_send_within_half_its_lease(
        customer_type, erp, subscription, httpserver, settings):
    import time

    settings.MDM_WEBHOOK_LEASE = 0.4
    settings.MDM_WEBHOOK_ETA_MAX = 0
    for n in range(1, 4):
        make_golden(customer_type, source_record(customer_type, erp, f"E{n}", name=f"Company {n}"))
    ids = list(Delivery.objects.order_by("id").values_list("pk", flat=True))
    httpserver.expect_request("/hooks").respond_with_handler(lambda r: (time.sleep(0.3), Response("ok"))[1])
    results = publishing.deliver_batch(ids)
    assert results[ids[0]] == "delivered"
    assert {results[i] for i in ids[1:]} == {"released"}  # past half the lease: not tried, handed back
    given_back = Delivery.objects.filter(pk__in=ids[1:])
    assert {(d.status, d.attempts, d.claimed_at) for d in given_back} == {("pending", 0, None)}
    assert len(httpserver.log) == 1


def test_write_back_carries_the_target_systems_own_ids(customer_type, erp, crm, httpserver):
    Subscription.objects.create(name="erp write-back", url=httpserver.url_for("/erp"), target_system=erp)
    golden = make_golden(customer_type, source_record(customer_type, erp, "E1", name="Acme"),
                         source_record(customer_type, erp, "E7", name="Acme Branch"),
                         source_record(customer_type, crm, "C1", name="ACME"))
    XrefAcknowledgement.objects.create(golden=golden, source_system=erp, source_id="E9", golden_version=1,
                                       acknowledged_at=timezone.now())
    httpserver.expect_request("/erp").respond_with_data("ok")
    publishing.deliver(Delivery.objects.get().pk)
    (body, _), = received(httpserver)
    assert body["write_back"] == {"source": "erp", "source_ids": ["E1", "E7", "E9"]}
    assert {s["source"] for s in body["data"]["sources"]} == {"erp", "crm"}


def test_a_merge_publishes_merged_for_the_survivor_and_retired_for_the_absorbed(customer_type, erp, crm, subscription):
    survivor = make_golden(customer_type, source_record(customer_type, erp, "E1", name="Acme"))
    absorbed = make_golden(customer_type, source_record(customer_type, crm, "C1", name="ACME"))
    merge(customer_type, survivor, absorbed)
    last = {d.event.golden_id_text: d.event for d in Delivery.objects.select_related("event").order_by("id")}
    assert last[survivor.golden_id].event_type == "merged"
    assert last[absorbed.golden_id].event_type == "retired"
    assert last[absorbed.golden_id].payload["merged_into"] == survivor.golden_id


def test_replay_resends_dead_letters_from_attempt_one(golden, subscription, httpserver,
                                                      django_capture_on_commit_callbacks):
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(status="dead", attempts=8, last_error="HTTP 503 (giving up)")
    httpserver.expect_request("/hooks").respond_with_data("ok")
    with django_capture_on_commit_callbacks(execute=True):
        result = publishing.replay(Delivery.objects.all(), actor="admin")
    assert (result.requeued, result.superseded) == (1, 0)
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 1
    assert received(httpserver)[0][1]["Webhook-Id"] == f"msg_{delivery.pk}"  # same idempotency key


def test_replay_does_not_send_an_old_version_over_a_newer_delivered_one(customer_type, erp, subscription):
    record = source_record(customer_type, erp, "E1", name="Acme")
    make_golden(customer_type, record)
    change(record, city="Austin")
    v1, v2 = Delivery.objects.order_by("id")
    Delivery.objects.filter(pk=v1.pk).update(status="failed")
    Delivery.objects.filter(pk=v2.pk).update(status="delivered", delivered_at=timezone.now())
    result = publishing.replay(Delivery.objects.all())
    assert (result.requeued, result.superseded) == (0, 1)
    v1.refresh_from_db()
    assert v1.status == "superseded" and "newer version" in v1.last_error


def test_the_replay_command_selects_by_subscription_and_time(golden, subscription, httpserver, capsys,
                                                            django_capture_on_commit_callbacks):
    other = Subscription.objects.create(name="other", url=httpserver.url_for("/other"))
    change(golden.members.first(), city="Dallas")
    Delivery.objects.update(status="dead")
    Delivery.objects.filter(subscription=subscription, golden_version=1).update(
        created_at=timezone.now() - timedelta(days=2))
    with django_capture_on_commit_callbacks():
        call_command("replay", "--subscription", "analytics", "--since",
                     (timezone.now() - timedelta(days=1)).isoformat())
    assert "1 dead letter(s): 1 re-queued" in capsys.readouterr().out
    assert Delivery.objects.filter(status="pending").get().subscription == subscription
    with django_capture_on_commit_callbacks():
        call_command("replay", "--all-dead")
    assert not Delivery.objects.filter(status="dead").exists()
    assert other.deliveries.filter(status="pending").count() == 1
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="say what to replay"):
        call_command("replay")


def test_the_sweeper_takes_back_deliveries_of_a_dead_worker_and_lost_messages(
        customer_type, erp, subscription, settings, django_capture_on_commit_callbacks):
    settings.MDM_WEBHOOK_LEASE = 60
    settings.MDM_SWEEP_INTERVAL = 15
    record = source_record(customer_type, erp, "E1", name="Acme")
    make_golden(customer_type, record)
    change(record, city="Austin")
    fresh = make_golden(customer_type, source_record(customer_type, erp, "E2", name="Beta"))
    v1, v2, new = Delivery.objects.order_by("id")
    long_ago = timezone.now() - timedelta(minutes=5)
    Delivery.objects.filter(pk=v1.pk).update(status="sending", claimed_at=long_ago, attempts=1)
    Delivery.objects.filter(pk__in=[v2.pk, new.pk]).update(next_attempt_at=long_ago)
    with django_capture_on_commit_callbacks():
        from unittest import mock

        with mock.patch.object(publishing, "enqueue") as enqueue:
            result = publishing.sweep()
    assert result.reclaimed == 1
    requeued = [i for call in enqueue.call_args_list for i in call.args[0]]
    # v1 goes again; v2 stays behind v1; the other record's lost message is re-sent.
    assert sorted(requeued) == sorted([v1.pk, new.pk])
    v1.refresh_from_db()
    assert v1.status == "pending" and "worker was lost" in v1.last_error
    assert fresh.golden_id == "CUS-000002"


def test_the_sweeper_dead_letters_a_lost_last_attempt(golden, subscription, settings):
    settings.MDM_WEBHOOK_MAX_ATTEMPTS = 3
    Delivery.objects.update(status="sending", claimed_at=timezone.now() - timedelta(hours=1), attempts=3)
    assert publishing.sweep().dead == 1
    assert Delivery.objects.get().status == "dead"


def test_subscription_status_counts_pending_failing_delivered_dead_and_lag(customer_type, erp, httpserver):
    quiet = Subscription.objects.create(name="quiet", url=httpserver.url_for("/q"), entity_types=["product"])
    busy = Subscription.objects.create(name="busy", url=httpserver.url_for("/b"))
    for i in range(4):
        make_golden(customer_type, source_record(customer_type, erp, f"E{i}", name=f"Co {i}"))
    d = list(busy.deliveries.order_by("id"))
    Delivery.objects.filter(pk=d[0].pk).update(status="delivered", delivered_at=timezone.now())
    Delivery.objects.filter(pk=d[1].pk).update(status="dead", last_error="HTTP 500 (giving up)",
                                               last_attempt_at=timezone.now())
    Delivery.objects.filter(pk=d[2].pk).update(attempts=2, last_error="HTTP 503", last_attempt_at=timezone.now())
    Delivery.objects.filter(pk=d[3].pk).update(created_at=timezone.now() - timedelta(seconds=90))
    status = {s.name: s for s in subscription_status()}
    assert (status["busy"].pending, status["busy"].failing, status["busy"].delivered, status["busy"].dead) == (2, 1, 1, 1)
    assert 89 <= status["busy"].lag_seconds <= 120
    assert status["busy"].health == "dead letters" and status["busy"].last_error
    assert (status["quiet"].pending, status["quiet"].lag_seconds, status["quiet"].health) == (0, 0.0, "ok")
    assert quiet.pk != busy.pk


def test_the_admin_lists_subscriptions_with_status_and_replays_dead_letters(
        admin_client, golden, subscription, django_capture_on_commit_callbacks):
    Delivery.objects.update(status="dead")
    page = admin_client.get("/admin/mdm/subscription/")
    assert page.status_code == 200 and b"analytics" in page.content and b"Dead letters" in page.content
    with django_capture_on_commit_callbacks():
        response = admin_client.post("/admin/mdm/delivery/", {
            "action": "replay_selected", "_selected_action": [Delivery.objects.get().pk]}, follow=True)
    assert b"1 re-queued" in response.content
    assert Delivery.objects.get().status == "pending"
    new = admin_client.post("/admin/mdm/subscription/add/", {
        "name": "crm", "url": "https://crm.example.com/hooks", "entity_types": '["customer"]', "event_types": "[]",
        "active": "on"})
    assert new.status_code == 302
    assert Subscription.objects.get(name="crm").secret.startswith("whsec_")
    bad = admin_client.post("/admin/mdm/subscription/add/", {
        "name": "bad", "url": "https://x.example.com/", "entity_types": '["nope"]', "event_types": '["exploded"]'})
    assert bad.status_code == 200 and b"unknown event type" in bad.content


def test_admins_list_deliveries_and_replay_one_through_the_api(golden, subscription, api_client, api_token,
                                                               django_capture_on_commit_callbacks):
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(status="dead", last_error="HTTP 503 (giving up)")
    admin = {"HTTP_AUTHORIZATION": f"Bearer {api_token('admin')}"}
    listed = api_client.get(f"/api/v1/subscriptions/{subscription.pk}/deliveries", {"status": "dead"}, **admin).json()
    assert [(d["webhook_id"], d["golden_id"], d["last_error"]) for d in listed["results"]] == [
        (f"msg_{delivery.pk}", golden.golden_id, "HTTP 503 (giving up)")]
    status = api_client.get("/api/v1/subscriptions", **admin).json()
    assert status[0]["name"] == "analytics" and status[0]["dead"] == 1 and status[0]["health"] == "dead letters"
    reader = {"HTTP_AUTHORIZATION": f"Bearer {api_token('read:*')}"}
    assert api_client.post(f"/api/v1/deliveries/{delivery.pk}/replay", **reader).status_code == 403
    with django_capture_on_commit_callbacks():
        replayed = api_client.post(f"/api/v1/deliveries/{delivery.pk}/replay", **admin)
    assert replayed.json() == {"requeued": 1, "superseded": 0}
    again = api_client.post(f"/api/v1/deliveries/{delivery.pk}/replay", **admin)
    assert again.status_code == 409 and "only failed or dead deliveries" in again.json()["detail"]
