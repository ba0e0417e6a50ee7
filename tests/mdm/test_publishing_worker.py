"""Publishing end to end: real Celery workers on the real Redis deliver to a real HTTP
receiver that verifies signatures and deduplicates by webhook id."""
from __future__ import annotations

import json
import threading
import time
from collections import defaultdict

import pytest
from django.db import connections
from publishing_support import change, make_golden, source_record
from pytest_httpserver import HTTPServer
from standardwebhooks.webhooks import Webhook
from werkzeug import Response

from mdm.models import Delivery, Subscription

pytestmark = [pytest.mark.celery_worker]

FAST_RETRIES = {"MDM_WEBHOOK_BACKOFF_BASE": "0.4", "MDM_WEBHOOK_BACKOFF_FACTOR": "2"}


class Receiver:
    """A subscriber: verifies each request, answers per ``respond(body, attempt)``, and keeps
    what it processed once per webhook id (the idempotency key)."""

    def __init__(self, secret: str):
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.webhook = Webhook(secret)
        self.lock = threading.Lock()
        self.requests: list[dict] = []  # every request, in arrival order
        self.processed: dict[str, dict] = {}  # webhook id -> body, first time only
        self.attempts: dict[str, int] = defaultdict(int)
        self.respond = lambda body, attempt: 200
        self.hold_first: threading.Event | None = None
        self.holding = threading.Event()
        self.server.expect_request("/hooks", method="POST").respond_with_handler(self._handle)
        self.server.start()

    @property
    def url(self) -> str:
        return self.server.url_for("/hooks")

    def _handle(self, request):
        raw = request.get_data()
        body = self.webhook.verify(raw, dict(request.headers))  # raises on a bad signature
        msg_id = request.headers["webhook-id"]
        with self.lock:
            self.attempts[msg_id] += 1
            attempt = self.attempts[msg_id]
            first_ever = not self.requests
            status = self.respond(body, attempt)
            self.requests.append({"id": msg_id, "at": time.monotonic(), "status": status,
                                  "golden_id": body["event"]["golden_id"], "version": body["event"]["version"]})
            if 200 <= status < 300:
                self.processed.setdefault(msg_id, body)
        if first_ever and self.hold_first is not None:
            self.holding.set()
            self.hold_first.wait(30)
        return Response(json.dumps({"ok": status < 300}), status=status, content_type="application/json")

    def stop(self):
        if self.hold_first is not None:
            self.hold_first.set()
        self.server.clear()
        if self.server.is_running():
            self.server.stop()


@pytest.fixture
def receiver(transactional_db):
    secret = Subscription._meta.get_field("secret").default()
    rec = Receiver(secret)
    rec.subscription_secret = secret
    yield rec
    rec.stop()


@pytest.fixture
def subscription(receiver, customer_type):
    return Subscription.objects.create(name="downstream", url=receiver.url, secret=receiver.subscription_secret)


def wait_for(predicate, timeout: float = 40, what: str = "condition", workers=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    logs = workers.logs()[-4000:] if workers else ""
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def statuses():
    return sorted(Delivery.objects.values_list("status", flat=True))


def test_changes_reach_the_subscriber_signed_through_the_real_worker(
        celery_worker_process, receiver, subscription, customer_type, erp, crm):
    record = source_record(customer_type, erp, "E1", name="Acme Supply Inc.")
    golden = make_golden(customer_type, record, source_record(customer_type, crm, "C1", name="ACME"))
    change(record, city="Austin")
    wait_for(lambda: len(receiver.processed) == 2, what=f"two deliveries\n{celery_worker_process.log()}")
    bodies = sorted(receiver.processed.values(), key=lambda b: b["event"]["version"])
    assert [(b["type"], b["data"]["golden_id"], b["data"]["version"]) for b in bodies] == [
        ("customer.created", golden.golden_id, 1), ("customer.updated", golden.golden_id, 2)]
    assert bodies[1]["data"]["values"]["city"] == "Austin"
    wait_for(lambda: statuses() == ["delivered", "delivered"], what="rows marked delivered")


def test_a_failing_subscriber_is_retried_with_growing_waits_until_it_accepts(
        celery_workers, receiver, subscription, customer_type, erp):
    receiver.respond = lambda body, attempt: 503 if attempt <= 2 else 200
    celery_workers.start(env=FAST_RETRIES)
    make_golden(customer_type, source_record(customer_type, erp, "E1", name="Acme"))
    wait_for(lambda: len(receiver.processed) == 1, what="the delivery after two 503s", workers=celery_workers)
    times = [r["at"] for r in receiver.requests]
    assert [r["status"] for r in receiver.requests] == [503, 503, 200]
    # waits of ~0.4 s then ~0.8 s (±20 % jitter): exponential
    assert times[1] - times[0] >= 0.3 and times[2] - times[1] >= 0.6
    wait_for(lambda: statuses() == ["delivered"], what="row marked delivered")
    delivery = Delivery.objects.get()
    assert delivery.attempts == 3 and delivery.last_status_code == 200


def test_a_dead_letter_is_replayed_through_the_api(celery_workers, receiver, subscription, customer_type, erp,
                                                   api_client, api_token):
    receiver.respond = lambda body, attempt: 500
    celery_workers.start(env={**FAST_RETRIES, "MDM_WEBHOOK_MAX_ATTEMPTS": "2"})
    make_golden(customer_type, source_record(customer_type, erp, "E1", name="Acme"))
    wait_for(lambda: statuses() == ["dead"], what="the delivery to die", workers=celery_workers)
    assert len(receiver.requests) == 2 and not receiver.processed
    receiver.respond = lambda body, attempt: 200  # the subscriber is fixed
    response = api_client.post(f"/api/v1/subscriptions/{subscription.pk}/replay", {}, format="json",
                               HTTP_AUTHORIZATION=f"Bearer {api_token('admin')}")
    assert response.json() == {"requeued": 1, "superseded": 0}
    wait_for(lambda: statuses() == ["delivered"], what="the replayed delivery", workers=celery_workers)
    assert len(receiver.processed) == 1


def test_versions_of_a_record_arrive_in_order_under_concurrent_changes(
        celery_workers, receiver, subscription, customer_type, erp):
    # Some first attempts fail, so a newer version is ready while an older one waits for its retry.
    receiver.respond = lambda body, attempt: 503 if attempt == 1 and body["event"]["version"] % 3 == 2 else 200
    records = [source_record(customer_type, erp, f"E{i}", name=f"Company {i}") for i in range(3)]
    goldens = [make_golden(customer_type, r) for r in records]
    celery_workers.start(env=FAST_RETRIES)
    celery_workers.start(env=FAST_RETRIES)  # two workers claim in parallel

    def writer(n: int):
        try:
            for k in range(4):
                change(records[(n + k) % 3], city=f"City {n}-{k}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = {g.golden_id: g.version for g in type(goldens[0]).objects.all()}
    assert sum(expected.values()) == 3 + 16
    wait_for(lambda: len(receiver.processed) == 19, timeout=60, what="all 19 versions",
             workers=celery_workers)
    arrivals = defaultdict(list)
    for r in receiver.requests:
        arrivals[r["golden_id"]].append(r["version"])
    for golden_id, versions in arrivals.items():
        assert versions == sorted(versions), f"{golden_id} got versions out of order: {versions}"
        assert sorted(set(versions)) == list(range(1, expected[golden_id] + 1))
    assert any(r["status"] == 503 for r in receiver.requests)


def test_a_worker_killed_mid_delivery_loses_nothing(celery_workers, receiver, subscription, customer_type, erp):
    receiver.hold_first = threading.Event()
    first = celery_workers.start()
    for i in range(5):
        make_golden(customer_type, source_record(customer_type, erp, f"E{i}", name=f"Company {i}"))
    wait_for(receiver.holding.is_set, what="the receiver to hold the first request", workers=celery_workers)
    celery_workers.kill(first)  # kill -9 while the request is in flight
    receiver.hold_first.set()  # the subscriber processed it, but the hub never heard back
    assert Delivery.objects.filter(status="sending").count() == 1
    celery_workers.start(beat=True, env={"MDM_WEBHOOK_LEASE": "2", "MDM_SWEEP_INTERVAL": "1"})
    wait_for(lambda: statuses() == ["delivered"] * 5, timeout=60, what="every delivery after the crash",
             workers=celery_workers)
    assert len(receiver.processed) == 5  # each event processed once
    resent = [msg_id for msg_id, n in receiver.attempts.items() if n > 1]
    assert len(resent) == 1  # the one in flight was sent again (at least once), and deduplicated
    assert len(receiver.requests) == 6
