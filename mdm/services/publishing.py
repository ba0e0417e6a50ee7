"""Publishing golden-record changes to subscribers, reliably.

Flow: ``recompute`` writes ChangeEvents (the outbox) and calls
``fan_out`` in the same transaction, which adds one pending Delivery per
matching subscription and enqueues them on commit, in batches of one
subscription (``mdm.tasks.deliver_many``; a retry is ``mdm.tasks.deliver``).
``deliver_batch`` claims the batch's rows with one conditional update, POSTs
each signed body and records every outcome in one statement.

Ordering rule (per subscription and golden record): a delivery is claimed
only while no delivery of an *older* version of the same record to the same
subscription is pending or sending. ``delivered``, ``failed`` (4xx),
``dead`` (retries exhausted) and ``superseded`` are final and release the
next one, so a dead older event never blocks the record forever; when an
older delivery finishes, it enqueues the next waiting one. Replaying a dead
letter whose record the subscriber has meanwhile received at a newer version
marks it ``superseded`` instead of sending old data over new.

Failures: 2xx delivered; 5xx, 408, 429, connection errors and timeouts are
temporary (retried with exponential backoff and jitter, ``next_attempt_at``
stored); other 4xx and 3xx (redirects are not followed) fail at once with
the response kept; a temporary failure on the last allowed attempt is dead.
The sweeper (celery beat) re-enqueues deliveries whose worker died while
sending (lease expired) and due pending ones whose task message was lost.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import random
import re
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import certifi
import urllib3
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from mdm.db import marks, table
from mdm.models import ChangeEvent, Delivery, Subscription, XrefAcknowledgement

log = logging.getLogger(__name__)

RESPONSE_KEEP = 2000  # characters of a receiver's response body kept for the admin
TEMPORARY_4XX = {408, 425, 429}
USER_AGENT = "mdm-hub-webhooks/1.0"


# --- fan-out (inside the transaction that wrote the events) -----------------

def fan_out(events: list[ChangeEvent]) -> list[int]:
    """One pending delivery per (event, active subscription that wants it); enqueue on commit."""
    if not events:
        return []
    # Raw: on the path of every golden-record change (see mdm.db on the ORM's cost).
    subscriptions = list(Subscription.objects.raw(f"SELECT * FROM {table(Subscription)} WHERE active"))
    if not subscriptions:
        return []
    now = timezone.now()
    deliveries = [
        Delivery(subscription=sub, event=event, golden_id=event.golden_id, golden_version=event.golden_version,
                 next_attempt_at=now, created_at=now)
        for event in events
        for sub in subscriptions
        if sub.wants(event.entity_type.code, event.event_type)
    ]
    if not deliveries:
        return []
    created = Delivery.objects.bulk_create(deliveries, batch_size=1000)
    by_subscription: dict[int, list[int]] = {}
    for d in created:
        by_subscription.setdefault(d.subscription_id, []).append(d.pk)
    transaction.on_commit(lambda: [enqueue(ids) for ids in by_subscription.values()])
    return [d.pk for d in created]


TASK_BATCH = 25  # deliveries (of one subscription) per task message


def enqueue(delivery_ids, countdown: float | None = None) -> None:
    """Hand delivery ids to the workers: one at a time for a retry, else in small batches of
    one subscription (a message per delivery would cost more than the delivery itself)."""
    from mdm.tasks import deliver as deliver_task
    from mdm.tasks import deliver_many

    ids = list(delivery_ids)
    if countdown:
        for delivery_id in ids:
            deliver_task.apply_async((delivery_id,), countdown=countdown)
        return
    for start in range(0, len(ids), TASK_BATCH):
        chunk = ids[start:start + TASK_BATCH]
        if len(chunk) == 1:
            deliver_task.delay(chunk[0])
        else:
            deliver_many.delay(chunk)


# --- signing and the body -----------------------------------------------------

def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks signature: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@dataclass
class Job:
    """A claimed delivery with what sending it needs, loaded in the claim's round trip."""

    id: int
    attempt: int
    subscription_id: int
    subscription_name: str
    url: str
    secret: str
    target_system_id: int | None
    golden_pk: int
    golden_version: int
    event_id: int
    event_type: str
    golden_id: str
    event_created_at: datetime
    entity_code: str
    payload_text: str  # the golden record as the API represents it at that version (JSON text)

    @property
    def webhook_id(self) -> str:
        return f"msg_{self.id}"


def write_back_ids(target_system_id: int, golden_pk: int, payload: dict) -> tuple[str, list[str]]:
    """The target system's own IDs of the record: its member records at that version plus
    IDs it acknowledged for the record (e.g. a customer it created from an earlier webhook)."""
    from mdm.models import SourceSystem

    code = SourceSystem.objects.filter(pk=target_system_id).values_list("code", flat=True).get()
    ids = {s["source_id"] for s in payload.get("sources", []) if s["source"] == code}
    ids |= set(XrefAcknowledgement.objects.filter(golden_id=golden_pk, source_system_id=target_system_id)
               .values_list("source_id", flat=True))
    return code, sorted(ids)


def body_bytes(job: Job) -> bytes:
    """The webhook body: event metadata, and under ``data`` the golden record exactly as
    ``GET /api/v1/{entity_type}/golden/{golden_id}?version=…`` returns it. The stored JSON
    text is spliced in as is: no parse and re-serialization per delivery."""
    head = {
        "type": f"{job.entity_code}.{job.event_type}",
        "timestamp": job.event_created_at.isoformat(),
        "event": {"id": job.event_id, "type": job.event_type, "entity_type": job.entity_code,
                  "golden_id": job.golden_id, "version": job.golden_version},
    }
    if job.target_system_id:
        code, ids = write_back_ids(job.target_system_id, job.golden_pk, json.loads(job.payload_text))
        head["write_back"] = {"source": code, "source_ids": ids}
    text = json.dumps(head, separators=(",", ":"), ensure_ascii=False)
    return (text[:-1] + ',"data":' + job.payload_text + "}").encode()


# --- delivering -------------------------------------------------------------

_local = threading.local()
# The environment variables that choose a proxy, as curl and requests read them.
_PROXY_ENV = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
              "no_proxy", "NO_PROXY")
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)


def http_pool(url: str) -> urllib3.PoolManager:
    """The keep-alive connection pool for ``url`` in this worker thread: direct, or through
    the proxy the environment names for that host (``HTTPS_PROXY``, ``NO_PROXY``…), and
    verifying TLS against ``SSL_CERT_FILE`` or ``REQUESTS_CA_BUNDLE`` if set, else certifi's.

    urllib3 directly rather than requests: requests spends three times the CPU
    on a POST (environment, netrc and charset look-ups on every call), and a
    worker's delivery rate is bound by its CPU, not by the network.
    """
    pools = getattr(_local, "pools", None)
    if pools is None:
        pools = _local.pools = {}
    parts = urllib3.util.parse_url(url)
    proxy = _proxy_for(parts.scheme or "http", parts.host or "", tuple(os.environ.get(k) for k in _PROXY_ENV))
    authorities = os.environ.get("SSL_CERT_FILE") or os.environ.get("REQUESTS_CA_BUNDLE") or certifi.where()
    pool = pools.get((proxy, authorities))
    if pool is None:
        # A pool per subscriber host (one connection each: this thread sends one at a time).
        options = {"ca_certs": authorities, "num_pools": 64}
        pool = urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        pools[proxy, authorities] = pool
    return pool


@lru_cache(maxsize=1024)
def _proxy_for(scheme: str, host: str, environment: tuple) -> str:
    """The proxy URL for a host, '' for none. ``environment``, the proxy variables' values,
    is there for the cache: changing them (a test, a reconfigured worker) is a new entry."""
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(scheme) or proxies.get("all") or ""
    if proxy and urllib.request.proxy_bypass_environment(host, proxies):
        return ""
    if proxy and "://" not in proxy:
        proxy = "http://" + proxy
    return proxy


def read_response(response: urllib3.BaseHTTPResponse) -> str:
    """The start of a receiver's answer as text, for the admin. A longer answer is cut,
    and its connection closed rather than read to the end."""
    limit = RESPONSE_KEEP * 4  # bytes: up to four per character in UTF-8
    data = response.read(limit)
    if len(data) == limit and response.read(1):
        response.close()
    match = _CHARSET.search(response.headers.get("Content-Type", ""))
    try:
        text = data.decode(match.group(1) if match else "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = data.decode("utf-8", errors="replace")
    return text[:RESPONSE_KEEP]


def backoff_delay(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: exponential, capped, ±20 % jitter."""
    base = settings.MDM_WEBHOOK_BACKOFF_BASE * settings.MDM_WEBHOOK_BACKOFF_FACTOR ** max(attempts - 1, 0)
    return min(base, settings.MDM_WEBHOOK_BACKOFF_MAX) * random.uniform(0.8, 1.2)


# The ordering predicate, shared by the claim, the sweeper and the status view.
_OLDER_OPEN = """
    NOT EXISTS (SELECT 1 FROM mdm_delivery o
                WHERE o.subscription_id = d.subscription_id AND o.golden_id = d.golden_id
                  AND o.golden_version < d.golden_version AND o.status IN ('pending', 'sending'))
"""
_JOB_COLUMNS = """d.id, d.attempts, d.subscription_id, s.name, s.url, s.secret, s.target_system_id, d.golden_id,
    d.golden_version, e.id, e.event_type, e.golden_id_text, e.created_at,
    (SELECT t.code FROM mdm_entitytype t WHERE t.id = e.entity_type_id), CAST(e.payload AS TEXT)"""


def older_open():
    """ORM twin of ``_OLDER_OPEN``: an older delivery of the same record is still on its way."""
    return Exists(Delivery.objects.filter(
        subscription_id=OuterRef("subscription_id"), golden_id=OuterRef("golden_id"),
        golden_version__lt=OuterRef("golden_version"), status__in=Delivery.BLOCKING))


def claim(delivery_ids: Sequence[int], now: datetime) -> list[Job]:
    """PENDING → SENDING for each of ``delivery_ids`` that is due and not held back by an
    older delivery, in one conditional UPDATE; returns the claimed ones, in the order asked.

    When two workers race for a row, one gets it back and the other does not. An
    older and a newer version of one record in the same batch: the newer one sees
    the older still pending and stays behind until the older one is final. On
    PostgreSQL the same statement returns the event and subscription
    (UPDATE … FROM … RETURNING).
    """
    ids = list(delivery_ids)
    if not ids:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""UPDATE mdm_delivery AS d SET status = 'sending', claimed_at = %s, attempts = d.attempts + 1
                    FROM mdm_changeevent e, mdm_subscription s
                    WHERE d.id = ANY(%s) AND d.status = 'pending' AND d.next_attempt_at <= %s
                      AND e.id = d.event_id AND s.id = d.subscription_id AND {_OLDER_OPEN}
                    RETURNING {_JOB_COLUMNS}""",
                [now, ids, now])
            rows = cursor.fetchall()
        else:
            cursor.execute(
                f"""UPDATE mdm_delivery AS d SET status = 'sending', claimed_at = %s, attempts = d.attempts + 1
                    WHERE d.id IN ({marks(ids)}) AND d.status = 'pending' AND d.next_attempt_at <= %s AND {_OLDER_OPEN}
                    RETURNING id""",
                [now, *ids, now])
            claimed = [row[0] for row in cursor.fetchall()]
            rows = []
            if claimed:
                cursor.execute(
                    f"""SELECT {_JOB_COLUMNS} FROM mdm_delivery d JOIN mdm_changeevent e ON e.id = d.event_id
                        JOIN mdm_subscription s ON s.id = d.subscription_id
                        WHERE d.id IN ({marks(claimed)})""", claimed)
                rows = cursor.fetchall()
    jobs = [Job(*row) for row in rows]
    for job in jobs:
        if isinstance(job.event_created_at, str):  # SQLite hands back text
            job.event_created_at = datetime.fromisoformat(job.event_created_at)
    asked = {pk: n for n, pk in enumerate(ids)}
    return sorted(jobs, key=lambda job: asked[job.id])


@dataclass
class Outcome:
    status: str
    status_code: int | None = None
    response: str = ""
    error: str = ""


def attempt(job: Job, now: datetime) -> Outcome:
    """POST the signed body once and classify the result."""
    body = body_bytes(job)
    timestamp = int(now.timestamp())
    msg_id = job.webhook_id
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(job.secret, msg_id, timestamp, body),
        "Idempotency-Key": msg_id,
    }
    timeout = urllib3.Timeout(connect=settings.MDM_WEBHOOK_CONNECT_TIMEOUT, read=settings.MDM_WEBHOOK_READ_TIMEOUT)
    try:
        response = http_pool(job.url).urlopen("POST", job.url, body=body, headers=headers, timeout=timeout,
                                              retries=False, redirect=False, preload_content=False)
        try:
            text = read_response(response)
        finally:
            response.release_conn()
    except urllib3.exceptions.NewConnectionError as exc:  # a subclass of the connect timeout
        return Outcome("temporary", error=f"connection error: {exc}"[:500])
    except urllib3.exceptions.TimeoutError as exc:
        return Outcome("temporary", error=f"timeout: {exc}"[:500])
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return Outcome("temporary", error=f"connection error: {exc}"[:500])
    code = response.status
    if 200 <= code < 300:
        return Outcome(Delivery.Status.DELIVERED, code, text)
    if code >= 500 or code in TEMPORARY_4XX:
        return Outcome("temporary", code, text, error=f"HTTP {code}")
    reason = "redirects are not followed; point the subscription at the final URL" if 300 <= code < 400 else \
        "the receiver rejected the request"
    return Outcome(Delivery.Status.FAILED, code, text, error=f"HTTP {code}: {reason}")


@dataclass
class Result:
    """An attempt's outcome as it is written to the delivery row."""

    job: Job
    status: str
    finished: datetime
    status_code: int | None
    response: str
    error: str
    retry_in: float | None = None

    @property
    def final(self) -> bool:
        return self.status != Delivery.Status.PENDING


def settle(job: Job, outcome: Outcome, finished: datetime) -> Result:
    """What the row becomes: delivered, failed, back to pending with a backoff, or dead on the last attempt."""
    result = Result(job, outcome.status, finished, outcome.status_code, outcome.response, outcome.error)
    if outcome.status == "temporary":
        if job.attempt >= settings.MDM_WEBHOOK_MAX_ATTEMPTS:
            result.status = Delivery.Status.DEAD
            result.error = (f"{outcome.error} (attempt {job.attempt} of {settings.MDM_WEBHOOK_MAX_ATTEMPTS}, "
                            "giving up)")[:500]
        else:
            result.status = Delivery.Status.PENDING
            result.retry_in = backoff_delay(job.attempt)
    return result


def deliver(delivery_id: int) -> str:
    """Claim, send and record one delivery; returns what happened (for logs and tests)."""
    return deliver_batch([delivery_id])[delivery_id]


def deliver_many(delivery_ids: list[int]) -> dict[str, int]:
    """Deliver a batch (one subscription's share of a change); counts per result."""
    counts: dict[str, int] = {}
    for result in deliver_batch(delivery_ids).values():
        counts[result] = counts.get(result, 0) + 1
    return counts


def deliver_batch(delivery_ids: Sequence[int]) -> dict[int, str]:
    """Claim a batch in one statement, POST each claimed delivery, write every outcome in one
    statement: two database round trips per batch instead of two per delivery.

    A batch keeps its claim for at most half the lease (a slow or timing-out
    receiver): what it has not sent by then goes back to pending, the attempt
    not counted, and is enqueued again, so the sweeper never reclaims a delivery
    this worker still holds. Returns each id's result: delivered, pending (a
    retry is scheduled), failed, dead, released, not claimable (delivered
    already, taken by another worker, not due, or held back), or stale (the row
    was reclaimed meanwhile; this outcome was dropped).
    """
    claimed_at = timezone.now()
    jobs = claim(delivery_ids, claimed_at)
    results: dict[int, str] = dict.fromkeys(delivery_ids, "not claimable")
    deadline = time.monotonic() + settings.MDM_WEBHOOK_LEASE / 2
    done: list[Result] = []
    unsent: list[Job] = []
    for job in jobs:
        if done and time.monotonic() > deadline:
            unsent.append(job)
            continue
        done.append(settle(job, attempt(job, timezone.now()), timezone.now()))
    written, released = record_outcomes(done)
    retries: list[tuple[int, float]] = []
    for result in done:
        job = result.job
        if job.id not in written:
            log.warning("delivery %s: outcome of attempt %s dropped, the row was reclaimed", job.id, job.attempt)
            results[job.id] = "stale"
            continue
        results[job.id] = result.status
        if result.retry_in is not None:
            retries.append((job.id, result.retry_in))
        if result.status != Delivery.Status.DELIVERED:
            log.info("delivery %s to %s: %s", job.webhook_id, job.subscription_name, result.error or result.status)
    if unsent:
        given_back = Delivery.objects.filter(pk__in=[job.id for job in unsent], status=Delivery.Status.SENDING,
                                             claimed_at=claimed_at)
        again = list(given_back.values_list("pk", flat=True))
        given_back.update(status=Delivery.Status.PENDING, attempts=F("attempts") - 1, claimed_at=None)
        results.update(dict.fromkeys(again, "released"))
        released = [*released, *again]
    for delivery_id, delay in retries:
        schedule_retry(delivery_id, delay)
    if released:
        # A final state releases the next waiting version of the same record.
        transaction.on_commit(lambda: enqueue(released))
    return results


def record_outcomes(results: Sequence[Result]) -> tuple[set[int], list[int]]:
    """Write each attempt's outcome, if this worker still holds the attempt (the sweeper may
    have handed the row to another worker meanwhile): one statement for the batch.
    Returns the ids written and, for final outcomes, the next waiting version of the
    same record for the same subscription."""
    if not results:
        return set(), []
    if connection.vendor == "postgresql":
        types = ["bigint", "integer", "varchar", "timestamptz", "integer", "text", "varchar", "timestamptz",
                 "timestamptz"]
        row_sql = "(" + ", ".join(f"%s::{t}" for t in types) + ")"
        params: list = []
        for r in results:
            retry_at = r.finished + timedelta(seconds=r.retry_in) if r.retry_in is not None else None
            delivered_at = r.finished if r.status == Delivery.Status.DELIVERED else None
            params += [r.job.id, r.job.attempt, r.status, r.finished, r.status_code, r.response, r.error, retry_at,
                       delivered_at]
        with connection.cursor() as cursor:
            cursor.execute(
                f"""UPDATE mdm_delivery AS d
                    SET status = v.status, last_attempt_at = v.finished, last_status_code = v.code,
                        last_response = v.response, last_error = v.error,
                        next_attempt_at = COALESCE(v.retry_at, d.next_attempt_at),
                        delivered_at = COALESCE(v.delivered_at, d.delivered_at)
                    FROM (VALUES {", ".join([row_sql] * len(results))})
                         AS v(id, attempts, status, finished, code, response, error, retry_at, delivered_at)
                    WHERE d.id = v.id AND d.status = 'sending' AND d.attempts = v.attempts
                    RETURNING d.id, CASE WHEN v.status <> 'pending' THEN
                        (SELECT n.id FROM mdm_delivery n
                         WHERE n.subscription_id = d.subscription_id AND n.golden_id = d.golden_id
                           AND n.golden_version > d.golden_version AND n.status = 'pending'
                         ORDER BY n.golden_version LIMIT 1) END""",
                params)
            rows = cursor.fetchall()
        return {row[0] for row in rows}, [row[1] for row in rows if row[1] is not None]
    written: set[int] = set()
    released: list[int] = []
    for r in results:
        fields = {"status": r.status, "last_attempt_at": r.finished, "last_status_code": r.status_code,
                  "last_response": r.response, "last_error": r.error}
        if r.retry_in is not None:
            fields["next_attempt_at"] = r.finished + timedelta(seconds=r.retry_in)
        if r.status == Delivery.Status.DELIVERED:
            fields["delivered_at"] = r.finished
        if not Delivery.objects.filter(pk=r.job.id, status=Delivery.Status.SENDING,
                                       attempts=r.job.attempt).update(**fields):
            continue
        written.add(r.job.id)
        if r.final:
            next_id = (Delivery.objects.filter(subscription_id=r.job.subscription_id, golden_id=r.job.golden_pk,
                                               golden_version__gt=r.job.golden_version,
                                               status=Delivery.Status.PENDING)
                       .order_by("golden_version").values_list("pk", flat=True).first())
            if next_id is not None:
                released.append(next_id)
    return written, released


def schedule_retry(delivery_id: int, delay: float) -> None:
    # A broker holding hour-long ETAs would redeliver them (visibility timeout);
    # the sweeper picks those up when they are due instead.
    if delay <= settings.MDM_WEBHOOK_ETA_MAX:
        enqueue([delivery_id], countdown=delay)


# --- sweeper and replay --------------------------------------------------------

@dataclass
class SweepResult:
    reclaimed: int = 0
    dead: int = 0
    requeued: int = 0


def sweep(now: datetime | None = None, limit: int = 5000) -> SweepResult:
    """Re-enqueue what a crash or a lost message left behind.

    - SENDING past its lease: its worker died mid-send; back to PENDING (that
      attempt counts; on the last attempt it is dead instead).
    - PENDING, due for longer than a sweep interval and not held back by an
      older delivery: its task message is gone; enqueue it again.
    Duplicates are harmless: the claim lets one task through.
    """
    now = now or timezone.now()
    result = SweepResult()
    cutoff = now - timedelta(seconds=settings.MDM_WEBHOOK_LEASE)
    stuck = Delivery.objects.filter(status=Delivery.Status.SENDING, claimed_at__lt=cutoff)
    result.dead = stuck.filter(attempts__gte=settings.MDM_WEBHOOK_MAX_ATTEMPTS).update(
        status=Delivery.Status.DEAD, last_error="the worker was lost during the last allowed attempt")
    lost = list(stuck.values_list("pk", flat=True)[:limit])
    if lost:
        result.reclaimed = Delivery.objects.filter(pk__in=lost, status=Delivery.Status.SENDING,
                                                   claimed_at__lt=cutoff).update(
            status=Delivery.Status.PENDING, next_attempt_at=now,
            last_error="the worker was lost while sending; retrying")
    grace = now - timedelta(seconds=settings.MDM_SWEEP_INTERVAL * 2)
    due = list(
        Delivery.objects.filter(Q(status=Delivery.Status.PENDING) & (Q(next_attempt_at__lte=grace) | Q(pk__in=lost)))
        .exclude(older_open()).order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    )
    result.requeued = len(due)
    if due:
        enqueue(due)
    if result.reclaimed or result.dead or result.requeued:
        log.info("sweep: %s reclaimed from dead workers, %s dead, %s re-enqueued", result.reclaimed, result.dead,
                 result.requeued)
    return result


@dataclass
class ReplayResult:
    requeued: int = 0
    superseded: int = 0


def replay(deliveries, *, actor: str = "") -> ReplayResult:
    """Send dead letters (failed or dead deliveries) again, from attempt one.

    A dead letter whose record the subscriber has since received (or is
    receiving) at a newer version is marked superseded rather than sent:
    old data must not overwrite new.
    """
    result = ReplayResult()
    ids = list(deliveries.filter(status__in=Delivery.DEAD_LETTERS).values_list("pk", flat=True))
    if not ids:
        return result
    newer_sent = Exists(Delivery.objects.filter(
        subscription_id=OuterRef("subscription_id"), golden_id=OuterRef("golden_id"),
        golden_version__gt=OuterRef("golden_version"),
        status__in=[Delivery.Status.DELIVERED, Delivery.Status.SENDING]))
    now = timezone.now()
    note = f"replayed by {actor}" if actor else "replayed"
    with transaction.atomic():
        for start in range(0, len(ids), 1000):
            chunk = Delivery.objects.filter(pk__in=ids[start:start + 1000], status__in=Delivery.DEAD_LETTERS)
            result.superseded += chunk.filter(newer_sent).update(
                status=Delivery.Status.SUPERSEDED, last_error=f"{note}: a newer version was delivered already")
            again = list(chunk.values_list("pk", flat=True))
            result.requeued += Delivery.objects.filter(pk__in=again).update(
                status=Delivery.Status.PENDING, attempts=0, next_attempt_at=now, claimed_at=None, last_error=note)
            transaction.on_commit(lambda again=again: enqueue(again))
    return result
