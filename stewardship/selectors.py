"""Read-side queries of the steward UI: the work queue's order, counts and the
dashboard figures. They only read; every write goes through ``mdm.services``.

Queue order (effective priority)
--------------------------------
A task's stored ``priority`` is set by whoever opens it and carries the
business impact and the score uncertainty (money at stake in a conflict, a
possible match's closeness to the review band's middle). On top of it the
queue adds **age against a service level** per kind, so an old task rises
past a newer one of similar impact instead of rotting at the bottom::

    effective = priority + AGE_POINTS * min(age / SLA[kind], AGE_CAP), in half-SLA steps

e.g. a price conflict (SLA 1 day) waiting 2 days gets +50, a possible match
(SLA 3 days) waiting 1 day none yet (+0 below half its SLA, +12.5 from 1.5
days). Steps rather than a continuous curve keep the expression a plain
``CASE`` on ``created_at``, which every database runs (the embedded SQLite
included) and which is one comparison per row over the open tasks only. A
task is *overdue* once it is older than its SLA; the queue marks it and the
age filter can show only those.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Case, Count, F, FloatField, Max, Min, Q, Value, When, Window
from django.db.models.functions import Floor, Lag, Lead, TruncDate
from django.utils import timezone

from mdm.entity_cache import entity_types
from mdm.models import (
    GoldenRecord,
    MatchDecision,
    MatchModel,
    RuleChangeJob,
    SourceRecord,
    SourceSystem,
    StewardTask,
)
from mdm.services.golden import NAME_SEARCH_MIN
from mdm.services.matching import learning, next_retraining

Kind = StewardTask.Kind

SLA: dict[str, timedelta] = {
    Kind.POSSIBLE_MATCH: timedelta(days=3),
    Kind.MERGE_PROPOSAL: timedelta(days=3),
    Kind.ATTRIBUTE_CONFLICT: timedelta(days=2),
    Kind.PRICE_CONFLICT: timedelta(days=1),  # a wrong price is quoted today
    Kind.REJECTED_RECORD: timedelta(days=1),  # the source keeps sending it until fixed
}
AGE_POINTS = 25.0
AGE_CAP = 3.0  # an SLA elapsed three times adds no more
AGE_STEP = 0.5

AGE_BUCKETS: list[tuple[str, str, timedelta | None, timedelta | None]] = [
    # (key, label, at least, less than)
    ("today", "Under 1 day", None, timedelta(days=1)),
    ("1-3d", "1–3 days", timedelta(days=1), timedelta(days=3)),
    ("3-7d", "3–7 days", timedelta(days=3), timedelta(days=7)),
    ("7d+", "Over 7 days", timedelta(days=7), None),
]


def age_boost(now=None) -> Case:
    """The SLA age term of the effective priority as a database expression."""
    now = now or timezone.now()
    whens = []
    steps = int(AGE_CAP / AGE_STEP)
    for kind, sla in SLA.items():
        for k in range(steps, 0, -1):  # largest first: the first matching When wins
            fraction = k * AGE_STEP
            whens.append(When(kind=kind, created_at__lte=now - sla * fraction, then=Value(AGE_POINTS * fraction)))
    return Case(*whens, default=Value(0.0), output_field=FloatField())


def overdue_q(now=None) -> Q:
    now = now or timezone.now()
    q = Q()
    for kind, sla in SLA.items():
        q |= Q(kind=kind, created_at__lte=now - sla)
    return q


SKIP_PENALTY = 10_000.0


def queue_base(user=None):
    """Tasks with what one queue row shows, in queue order.

    ``effective_priority`` is the priority plus the SLA age term; ``rank``
    orders the queue: the effective priority, except that tasks ``user``
    skipped (``details["skipped_by"]``, kept by ``skip_task``) come after all
    others for that user, so "skip" really moves on.
    """
    now = timezone.now()
    queryset = StewardTask.objects.annotate(effective_priority=F("priority") + age_boost(now))
    if user is not None and user.is_authenticated:
        skipped = When(details__skipped_by__icontains=f'"{user.get_username()}"', then=Value(1))
        queryset = queryset.annotate(skipped=Case(skipped, default=Value(0)))
        queryset = queryset.annotate(rank=F("effective_priority") - F("skipped") * Value(SKIP_PENALTY))
    else:
        queryset = queryset.annotate(skipped=Value(0), rank=F("effective_priority"))
    return queryset.order_by("-rank", "created_at", "id")


ROW_RELATIONS = ("entity_type", "source_system", "assignee", "golden", "other_golden", "record__source_system",
                 "other_record__source_system")


def page_rows(queryset, ids: list[int]) -> list[StewardTask]:
    """The tasks of one queue page with what a row shows, in the page's order.

    The queue is paged on ids first (one table, sorted by the rank
    expression) and only the page's rows are joined to their golden and
    source records: joining before sorting made PostgreSQL join every open
    task (10,000 of them) to 100,000-row tables for 50 rows.
    """
    rows = {t.pk: t for t in queryset.filter(pk__in=ids).select_related(*ROW_RELATIONS).defer(*ROW_HEAVY)}
    return [rows[i] for i in ids if i in rows]


# What a queue row never shows: big JSON a page of 50 rows would fetch and parse for nothing.
ROW_HEAVY = (
    "details", "entity_type__config", "entity_type__config_yaml",
    "golden__values", "golden__lineage", "other_golden__values", "other_golden__lineage",
    "record__raw", "record__attributes", "record__issues",
    "other_record__raw", "other_record__attributes", "other_record__issues",
)


def apply_age(queryset, key: str, now=None):
    now = now or timezone.now()
    if key == "overdue":
        return queryset.filter(overdue_q(now))
    for bucket, _label, at_least, less_than in AGE_BUCKETS:
        if bucket == key:
            if at_least is not None:
                queryset = queryset.filter(created_at__lte=now - at_least)
            if less_than is not None:
                queryset = queryset.filter(created_at__gt=now - less_than)
    return queryset


def kind_counts(queryset) -> dict[str, int]:
    """Tasks per kind in ``queryset`` (one grouped query), every kind present."""
    counts = {kind: 0 for kind in Kind.values}
    for row in queryset.order_by().values("kind").annotate(n=Count("id")):
        counts[row["kind"]] = row["n"]
    return counts


def is_overdue(task, now=None) -> bool:
    now = now or timezone.now()
    sla = SLA.get(task.kind)
    return bool(sla and task.created_at and now - task.created_at > sla)


def neighbours(queryset, task) -> tuple[int | None, int | None]:
    """The open tasks just before and after ``task`` in the (filtered) queue order.

    Used for j/k and "skip" on a task page. One pass over the queue with
    ``LAG``/``LEAD`` in the queue's own order: the rank expression is
    computed once per task, where three queries comparing against the
    task's rank computed it several times per task and scanned the queue
    three times (about 85 ms with 37,000 open tasks).
    """
    order = [F("rank").desc(), F("created_at").asc(), F("id").asc()]
    ranked = queryset.order_by().annotate(
        prev_id=Window(Lag("id"), order_by=order), next_id=Window(Lead("id"), order_by=order),
    ).values_list("id", "prev_id", "next_id")
    sql, params = ranked.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT prev_id, next_id FROM ({sql}) ranked WHERE id = %s", [*params, task.pk])
        row = cursor.fetchone()
    if row is None:  # not in this view of the queue: its first task is next
        return None, queryset.values_list("id", flat=True).first()
    return row[0], row[1]


# --- dashboard -------------------------------------------------------------------


@dataclass
class Backlog:
    kinds: list[tuple[str, str]]  # (kind, label)
    buckets: list[tuple[str, str]]  # (bucket, label)
    cells: dict[tuple[str, str], int]
    overdue: int
    total: int


def backlog(now=None) -> Backlog:
    """Open tasks by kind and age bucket, in one grouped query."""
    now = now or timezone.now()
    whens = []
    for key, _label, at_least, less_than in AGE_BUCKETS:
        cond = Q()
        if at_least is not None:
            cond &= Q(created_at__lte=now - at_least)
        if less_than is not None:
            cond &= Q(created_at__gt=now - less_than)
        whens.append(When(cond, then=Value(key)))
    rows = (
        StewardTask.objects.filter(status=StewardTask.Status.OPEN).order_by()
        .annotate(bucket=Case(*whens, default=Value("7d+")))
        .values("kind", "bucket").annotate(n=Count("id"))
    )
    cells = {(r["kind"], r["bucket"]): r["n"] for r in rows}
    overdue = StewardTask.objects.filter(status=StewardTask.Status.OPEN).filter(overdue_q(now)).count()
    return Backlog(
        kinds=list(Kind.choices), buckets=[(k, label) for k, label, _, _ in AGE_BUCKETS], cells=cells,
        overdue=overdue, total=sum(cells.values()),
    )


def match_rates() -> dict:
    """How pairs above the candidate threshold were decided: automatically or by a steward.

    ``auto_link_rate``: share of matched pairs the engine linked on its own;
    ``review_rate``: share of all scored, non-rejected pairs that needed a
    steward (still possible, or decided by one).
    """
    rows = MatchDecision.objects.order_by().values("origin", "state").annotate(n=Count("id"))
    n = {(r["origin"], r["state"]): r["n"] for r in rows}
    auto_match = n.get(("auto", "match"), 0)
    possible = n.get(("auto", "possible"), 0) + n.get(("steward", "possible"), 0)
    steward_match = n.get(("steward", "match"), 0)
    steward_no = n.get(("steward", "no_match"), 0)
    matched = auto_match + steward_match
    reviewed = possible + steward_match + steward_no
    considered = auto_match + reviewed
    return {
        "auto_match": auto_match, "possible": possible, "steward_match": steward_match, "steward_no_match": steward_no,
        "auto_link_rate": auto_match / matched if matched else None,
        "review_rate": reviewed / considered if considered else None,
    }


def score_histogram(bins: int = 20) -> dict:
    """Match decisions per probability bin and state (one grouped query)."""
    rows = (
        MatchDecision.objects.filter(probability__isnull=False).order_by()
        .annotate(bin=Floor(F("probability") * bins))
        .values("bin", "state").annotate(n=Count("id"))
    )
    counts: dict[int, dict[str, int]] = {i: {} for i in range(bins)}
    for r in rows:
        index = min(max(int(r["bin"]), 0), bins - 1)  # probability 1.0 falls in the top bin
        counts[index][r["state"]] = counts[index].get(r["state"], 0) + r["n"]
    return {"bins": bins, "counts": counts}


def throughput(days: int = 14, now=None) -> list[dict]:
    """Per day: tasks opened and tasks closed by a steward or by the hub."""
    now = now or timezone.now()
    start = (now - timedelta(days=days - 1)).date()
    opened = dict(
        StewardTask.objects.filter(created_at__date__gte=start).order_by()
        .annotate(day=TruncDate("created_at")).values("day").annotate(n=Count("id")).values_list("day", "n")
    )
    closed = dict(
        StewardTask.objects.filter(resolved_at__date__gte=start).order_by()
        .annotate(day=TruncDate("resolved_at")).values("day").annotate(n=Count("id")).values_list("day", "n")
    )
    return [
        {"day": start + timedelta(days=i), "opened": opened.get(start + timedelta(days=i), 0),
         "closed": closed.get(start + timedelta(days=i), 0)}
        for i in range(days)
    ]


def records_per_source() -> list[dict]:
    rows = (
        SourceRecord.objects.filter(deleted=False).order_by()
        .values("source_system__code", "source_system__name", "entity_type__code").annotate(n=Count("id"))
    )
    return sorted(rows, key=lambda r: (-r["n"], r["source_system__code"], r["entity_type__code"]))


def matching_backlog() -> dict:
    """Records waiting for matching: how many, since when, and how many the
    pending-match sweeper counts as lost (waited past its grace; the sweeper
    sends them again, a worker must be running). Records of batches ingested
    with ``--defer-match`` wait for a ``match`` run: waiting, not late."""
    from mdm.services.matching import lost_match_records

    matched = [e.pk for e in entity_types().values() if e.config.get("matching") or e.config.get("prices")]
    figures = SourceRecord.objects.filter(needs_match=True, entity_type_id__in=matched).aggregate(
        waiting=Count("id"), oldest=Min("received_at"))
    figures["late"] = lost_match_records().filter(entity_type_id__in=matched).count() if figures["waiting"] else 0
    return {**figures, "grace_minutes": round(settings.MDM_MATCH_SWEEP_GRACE / 60)}


def failed_jobs() -> list:
    """Each entity type's latest recompute job, where it failed: golden records it had not reached
    keep their old values until an admin runs it again (``rules.run_failed_job_again``)."""
    latest = RuleChangeJob.objects.values("entity_type").annotate(last=Max("pk")).values("last")
    return list(RuleChangeJob.objects.filter(pk__in=latest, status=RuleChangeJob.Status.FAILED)
                .select_related("entity_type").order_by("entity_type__code"))


@dataclass
class ModelStatus:
    entity: str
    version: int | None = None
    trained_at: object = None
    trained_on: int | None = None  # records; None for a model from before per-source counts were kept
    learning: bool = False
    automatic: bool = False  # retrained by the match tasks (MDM_AUTO_RETRAIN_BELOW > 0)
    next: tuple[str, int, int] | None = None  # (source, records now, records at which it retrains)

    @property
    def due(self) -> bool:
        return self.next is not None and self.next[1] >= self.next[2]


def match_models(per_source: list[dict]) -> list[ModelStatus]:
    """Each matched entity type's active model: what it was trained on, and when it is retrained.

    ``per_source``: ``records_per_source()``'s rows. The match tasks retrain a model when a source
    doubles (a full re-match, eight minutes at a million records); shown here, an admin can run
    ``match --retrain`` in a quiet hour first, or when automatic retraining is off.
    """
    models = {m.entity_type_id: m for m in MatchModel.objects.filter(active=True).order_by("entity_type", "version")
              .only("pk", "entity_type_id", "version", "created_at", "training_stats")}
    statuses = []
    for code, entity in sorted(entity_types().items()):
        if not entity.config.get("matching"):
            continue
        model = models.get(entity.pk)
        if model is None:
            statuses.append(ModelStatus(code))
            continue
        trained_on = (model.training_stats or {}).get("per_source")
        records = {r["source_system__code"]: r["n"] for r in per_source if r["entity_type__code"] == code}
        statuses.append(ModelStatus(
            code, model.version, model.created_at, sum(trained_on.values()) if trained_on is not None else None,
            learning(model.pk), settings.MDM_AUTO_RETRAIN_BELOW > 0, next_retraining(trained_on, records)))
    return statuses


def golden_counts() -> dict[str, int]:
    rows = GoldenRecord.objects.order_by().values("status").annotate(n=Count("id"))
    return {r["status"]: r["n"] for r in rows}


def publishing_status():
    """Publishing failures per subscription, once publishing exists (issue 6's selector)."""
    try:
        from mdm.selectors_publishing import subscription_status
    except ImportError:
        return None
    return subscription_status()


# --- golden records ---------------------------------------------------------------

SEARCH_LIMIT = 50


@dataclass
class SearchHit:
    golden: GoldenRecord
    matched_by: str  # "golden ID", "retired ID", "source ID crm:C-1", "name"


def search_goldens(query: str, *, entity_code: str = "", include_inactive: bool = False) -> list[SearchHit]:
    """Golden records by golden ID (a retired one leads to its survivor), any source ID, or name.

    Exact identifiers first, then names containing the text (active records,
    most recently changed first; from ``NAME_SEARCH_MIN`` characters), at
    most ``SEARCH_LIMIT`` hits.
    """
    from mdm.services.golden import resolve

    text = (query or "").strip()
    if not text:
        return []
    hits: list[SearchHit] = []
    seen: set[int] = set()

    def add(golden, how):
        if golden is not None and golden.pk not in seen and (not entity_code or golden.entity_type.code == entity_code):
            seen.add(golden.pk)
            hits.append(SearchHit(golden, how))

    # Golden IDs are upper case (CUS-000123): an exact match on the upper-cased
    # text uses the unique index, where iexact would scan every golden record.
    exact = GoldenRecord.objects.select_related("entity_type").filter(golden_id=text.upper()).first()
    if exact is not None:
        if exact.status == GoldenRecord.Status.RETIRED:
            add(resolve(exact.golden_id), f"retired ID {exact.golden_id}")
        add(exact, "golden ID")
    # Naming every source system lets PostgreSQL use the (source_system, source_id)
    # index instead of scanning all source records for a bare source ID.
    systems = list(SourceSystem.objects.values_list("pk", flat=True))
    records = (
        SourceRecord.objects.filter(source_system_id__in=systems, source_id=text, golden__isnull=False)
        .select_related("source_system", "golden__entity_type")[:SEARCH_LIMIT]
    )
    for record in records:
        add(record.golden, f"source ID {record.source_system.code}:{record.source_id}")
    if len(text) < NAME_SEARCH_MIN:
        return hits[:SEARCH_LIMIT]
    names = GoldenRecord.objects.select_related("entity_type").filter(display_name__icontains=text)
    if not include_inactive:
        names = names.filter(status=GoldenRecord.Status.ACTIVE)
    if entity_code:
        names = names.filter(entity_type__code=entity_code)
    for golden in names.order_by("-updated_at", "-id")[:SEARCH_LIMIT]:
        add(golden, "name")
    return hits[:SEARCH_LIMIT]


def history_with_diffs(golden: GoldenRecord, limit: int = 30) -> tuple[list[dict], bool]:
    """The newest ``limit`` versions, each with what changed since the one before.

    One query (``limit + 1`` rows: the extra one is the baseline of the
    oldest shown). Returns (entries, more_exist).
    """
    from mdm.models import GoldenRecordVersion
    from mdm.survivorship import diff_values

    versions = list(GoldenRecordVersion.objects.filter(golden=golden).order_by("-version")[:limit + 1])
    more = len(versions) > limit
    entries = []
    for index, version in enumerate(versions[:limit]):
        previous = versions[index + 1] if index + 1 < len(versions) else None
        before_values = previous.values if previous else {}
        before_members = set(previous.members) if previous else set()
        entries.append({
            "version": version,
            "changes": [
                {"attribute": name, "before": old, "after": new}
                for name, (old, new) in diff_values(before_values, version.values).items()
            ] if (previous is not None or version.version == 1) else [],
            "added": sorted(set(version.members) - before_members) if previous is not None or version.version == 1 else [],
            "removed": sorted(before_members - set(version.members)) if previous is not None else [],
            "status_changed": previous is not None and previous.status != version.status,
            "baseline_missing": previous is None and version.version > 1,
        })
    # Name the records that joined or left as source:ID, in one query.
    ids = {rid for e in entries for rid in e["added"] + e["removed"]}
    names = {
        rid: f"{code}:{source_id}"
        for rid, code, source_id in SourceRecord.objects.filter(id__in=ids).values_list(
            "id", "source_system__code", "source_id")
    } if ids else {}
    for e in entries:
        e["added"] = [names.get(rid, f"record {rid}") for rid in e["added"]]
        e["removed"] = [names.get(rid, f"record {rid}") for rid in e["removed"]]
    return entries, more


def version_as_of(golden: GoldenRecord, when):
    """The version of ``golden`` in force at ``when`` (the newest one written at or before it), or None.

    Uses ``mdm.selectors.golden_as_of`` when the golden-record services
    provide it, so the UI and the API read history the same way.
    """
    try:
        from mdm.selectors import golden_as_of
    except ImportError:
        from mdm.models import GoldenRecordVersion

        return (GoldenRecordVersion.objects.filter(golden=golden, created_at__lte=when)
                .order_by("-created_at", "-version").first())
    return golden_as_of(golden, when)


def relationships(golden: GoldenRecord, limit: int = 50) -> dict:
    """The golden records this one hangs under (parent, bill-to …) and those hanging under it, by kind.

    Read from ``GoldenRelationship`` (kept by the hierarchy service on every
    recompute); unresolved links (the referenced record has not arrived)
    are listed with the source's reference.
    """
    from mdm.models import GoldenRelationship

    up = list(GoldenRelationship.objects.filter(child=golden).select_related("parent", "parent_source")
              .order_by("kind", "parent_ref")[:limit])
    down = list(GoldenRelationship.objects.filter(parent=golden).exclude(child=golden)
                .select_related("child", "via_record__source_system").order_by("kind", "child__golden_id")[:limit])
    return {"up": up, "down": down}
