"""Matching in the hub: incremental (each ingest's task) and batch (``match``).

The engine (``matching``) is pure; this module feeds it records from the
database and turns its decisions into golden-record memberships, stored link
decisions, steward tasks and recomputed golden records.

Invariants:
- Every active source record belongs to exactly one golden record.
- Golden IDs are stable: a record that stays with its cluster keeps its
  golden ID; a re-run continues existing golden records (largest overlap)
  and never renames one.
- Steward decisions (``MatchDecision.origin = steward``) are constraints the
  engine never overrides: ``match`` = must-link, ``no_match`` = cannot-link.
- Matching of one entity type is serialised by a row lock on its
  ``EntityType``: two tasks cannot both create a golden record for two
  records that match each other.
"""
from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice
from typing import Any

import orjson
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from matching.engine import Constraints, MatchEngine
from matching.standardize import Context, standardize_record
from mdm.db import chunked, id_in, insert_rows, marks, row_lock, table, update_rows
from mdm.entity_cache import entity_type_by_pk, source_codes
from mdm.models import (
    BlockingKey,
    EntityType,
    GoldenRecord,
    MatchDecision,
    MatchModel,
    SourceRecord,
    SourceSystem,
    StewardTask,
)
from mdm.models.events import ChangeEvent
from mdm.services import golden as golden_service

log = logging.getLogger(__name__)
Report = Callable[[str], None]


class NotMatchable(Exception):
    """The entity type has no matching settings."""


# --- engine and model -----------------------------------------------------------

DECISION_FIELDS = ["entity_type", "record_a", "record_b", "state", "origin", "probability", "explanation",
                   "decided_at", "note"]
_engines: dict[tuple[int, int, int | None], MatchEngine] = {}


def match_settings(entity: EntityType) -> dict:
    settings = entity.config.get("matching")
    if not settings:
        raise NotMatchable(f"entity type {entity.code!r} has no matching settings")
    return settings


def active_model(entity: EntityType) -> MatchModel | None:
    return MatchModel.objects.filter(entity_type=entity, active=True).order_by("-version").first()


_trained_on: dict[int, dict[str, int] | None] = {}  # model pk -> {source code: records}; models never change
_counted: dict[tuple[int, str], tuple[float, int]] = {}  # (entity pk, source) -> (monotonic time, records), briefly


def _trained_on_of(model_pk: int) -> dict[str, int] | None:
    """{source code: records} a model was trained on; None for models trained before this was kept."""
    if model_pk not in _trained_on:
        stats = MatchModel.objects.filter(pk=model_pk).values_list("training_stats", flat=True).first() or {}
        _trained_on[model_pk] = stats.get("per_source")
    return _trained_on[model_pk]


def learning(model_pk: int) -> bool:
    """Whether a model is still learning: trained on fewer than ``MDM_AUTO_RETRAIN_BELOW`` records.

    What such a model linked is provisional: its retrain re-decides it (``match_all(provisional=True)``).
    """
    trained = _trained_on_of(model_pk)
    return trained is not None and sum(trained.values()) < settings.MDM_AUTO_RETRAIN_BELOW


def _source_records(entity: EntityType, source: str, upto: int) -> int:
    """Records of one source, counted no further than ``upto``, and cached a while.

    Counted under the entity type's matching lock, which every match task of
    the type waits for, so on the unique index alone: records deleted at the
    source count too (a few in a thousand), since reading each row for its
    flag took a second at 456,000 records against 82 ms. Kept for longer
    the more there are to count (a minute at 550,000), while a first load's
    few thousand are counted afresh every five seconds.
    """
    now, (at, counted) = time.monotonic(), _counted.get((entity.pk, source), (0.0, 0))
    if now - at > 5 + counted / 10_000:
        with connection.cursor() as cursor:
            cursor.execute(f"""SELECT count(*) FROM (SELECT 1 FROM {table(SourceRecord)}
                               WHERE entity_type_id = %s AND source_system_id =
                                     (SELECT id FROM {table(SourceSystem)} WHERE code = %s) LIMIT %s) AS upto""",
                           [entity.pk, source, upto])
            counted = cursor.fetchone()[0]
        _counted[(entity.pk, source)] = (now, counted)
    return counted


def training_due(entity: EntityType, sources: set[str], model_pk: int | None = -1) -> str | None:
    """Why a model must be trained before records of ``sources`` are matched, or None.

    No model yet. Or one of ``sources`` has at least twice the records the
    model was trained on, a source it never saw first of all: a first load
    sent through the match tasks trains on the first chunk to arrive, and
    the CRM's chunk taught it nothing about the web shop's records nor about
    pairs across the two. Retrained each time a source doubles, a model
    has seen at least half of every source's records: 40,000 demo
    companies onboarded one source after another ended at F1 0.962 with a
    model that never saw the ERP, and at 0.983 with one that saw its first
    chunk of 2,000 (the other 33,000 matched one by one), against 0.994 for
    one batch. A source growing from a first chunk of 2,000 to N records
    costs log2(N / 2,000) runs, each a full re-match (at a million records
    eight minutes, in which match tasks wait); the records a run matches
    are not matched one by one after it; the dashboard shows which source
    will start the next (``next_retraining``). ``MDM_AUTO_RETRAIN_BELOW`` = 0
    turns all but the first training off. ``model_pk``: the active model's,
    when the caller read it.
    """
    if model_pk == -1:
        model = active_model(entity)
        model_pk = model.pk if model else None
    if model_pk is None:
        return "no model yet"
    seen = _trained_on_of(model_pk)
    if seen is None or settings.MDM_AUTO_RETRAIN_BELOW <= 0:
        return None
    if sources - seen.keys():
        return (f"first records of {', '.join(sorted(sources - seen.keys()))} for a model trained on "
                f"{', '.join(sorted(seen))}")
    for source in sorted(sources):
        at = retrain_at(seen, source)
        if _source_records(entity, source, at) >= at:
            return f"twice the {seen[source]} {source} records the model was trained on"
    return None


def retrain_at(trained_on: dict[str, int], source: str) -> int:
    """Records of ``source`` at which a match task retrains a model trained on ``trained_on``:
    twice what it saw, or the first record of a source it never saw."""
    return 2 * trained_on[source] if trained_on.get(source) else 1


def next_retraining(trained_on: dict[str, int] | None, records: dict[str, int]) -> tuple[str, int, int] | None:
    """The source nearest to starting an automatic retrain: ``(source, records now, records at which
    a match task retrains)``, or None (no per-source counts kept for the model, or no records).

    ``records``: {source code: active records now} (the tasks count records deleted at the source
    too, a few in a thousand). The dashboard shows it, so that an admin can run ``match --retrain``
    (a full re-match) in a quiet hour before a match task starts one at an hour nobody chose.
    """
    if trained_on is None:
        return None
    nearest = None
    for source, now in sorted(records.items()):
        at = retrain_at(trained_on, source)
        if now and (nearest is None or now / at > nearest[1] / nearest[2]):
            nearest = (source, now, at)
    return nearest


def engine_for(entity: EntityType, model_pk: int | None = None) -> MatchEngine:
    """A compiled engine for the entity type's settings and its active model (cached per version).

    Only the model's id is read per call (or passed in as ``model_pk``): its
    parameters (term-frequency tables included) are large and loaded once
    per process and version.
    """
    if model_pk is None:
        model_pk = (MatchModel.objects.filter(entity_type=entity, active=True).order_by("-version")
                    .values_list("pk", flat=True).first())
    key = (entity.pk, entity.version, model_pk)
    engine = _engines.get(key)
    if engine is None:
        parameters = MatchModel.objects.values_list("parameters", flat=True).get(pk=model_pk) if model_pk else None
        engine = MatchEngine(match_settings(entity), model=parameters)
        if len(_engines) > 32:
            _engines.clear()
        _engines[key] = engine
    return engine


def save_model(entity: EntityType, engine: MatchEngine, stats: dict) -> MatchModel:
    """Store the engine's freshly trained model as the entity type's next active version."""
    last = MatchModel.objects.filter(entity_type=entity).order_by("-version").values_list("version", flat=True).first()
    MatchModel.objects.filter(entity_type=entity, active=True).update(active=False)
    return MatchModel.objects.create(
        entity_type=entity, version=(last or 0) + 1, settings=match_settings(entity),
        parameters=engine.model.to_dict(), training_stats=stats, active=True,
    )


def _lock_entity(entity: EntityType) -> int | None:
    """Lock the entity type for matching; returns its active model's pk, read in the same round trip.

    NO KEY UPDATE: matching runs of one entity type exclude each other, while
    ingests (whose new rows reference the entity type) are not held up.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT (SELECT id FROM {table(MatchModel)} WHERE entity_type_id = %s AND active
                        ORDER BY version DESC LIMIT 1)
                FROM {table(EntityType)} WHERE id = %s{row_lock()}""", [entity.pk, entity.pk])
        row = cursor.fetchone()
    return row[0] if row else None


def steward_constraints(entity: EntityType, record_ids: Iterable[int] | None = None) -> Constraints:
    qs = MatchDecision.objects.filter(entity_type=entity, origin=MatchDecision.Origin.STEWARD)
    if record_ids is not None:
        ids = list(record_ids)
        qs = qs.filter(Q(record_a_id__in=ids) | Q(record_b_id__in=ids))
    must, cannot = [], []
    for a, b, state in qs.values_list("record_a_id", "record_b_id", "state"):
        if state == MatchDecision.State.MATCH:
            must.append((a, b))
        elif state == MatchDecision.State.NO_MATCH:
            cannot.append((a, b))
    return Constraints(must_link=must, cannot_link=cannot)


def explanation(engine: MatchEngine, record_a: tuple, record_b: tuple) -> dict:
    """The engine's explanation in the hub's shape (UI, tasks, API)."""
    raw = engine.explain(record_a, record_b)
    return {
        "prior_weight": round(raw["prior_weight"], 4),
        "match_weight": round(raw["total_weight"], 4),
        "probability": round(raw["probability"], 6),
        "comparisons": [
            {"name": t["comparison"], "level": t["level"], "weight": round(t["weight"], 4),
             "tf_adjustment": round(t["tf_adjustment"], 4), "m": t["m"], "u": t["u"],
             "attribute": t["attribute"], "values": [_plain(t["value_a"]), _plain(t["value_b"])]}
            for t in raw["comparisons"]
        ],
        "rules": [{"name": r["rule"], "weight": round(r["weight"], 4)} for r in raw["rules"]],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return str(value)


def _engine_record(rid: int, source: str, attributes: dict) -> tuple:
    return (rid, source, attributes)


# --- results ------------------------------------------------------------------------

@dataclass
class MatchStats:
    records: int = 0
    goldens_created: int = 0
    goldens_retired: int = 0
    goldens_changed: int = 0
    moved: int = 0
    possible_tasks: int = 0
    merge_tasks: int = 0
    actions: Counter = field(default_factory=Counter)
    stages: dict = field(default_factory=dict)
    write_steps: dict = field(default_factory=dict)  # seconds per step of the batch write (benchmarks print them)
    engine: dict = field(default_factory=dict)
    model_version: int | None = None
    result: Any = None  # the engine's BatchResult of a batch run (benchmarks compare clusterings)
    recompute_job: int | None = None  # the background job computing golden values of a big batch
    left_pending: list[int] = field(default_factory=list)  # pending when the run was done: enqueued then

    def summary(self) -> str:
        if "resolve prices" in self.stages:
            return f"{self.records} price records grouped into {self.goldens_changed} golden prices (changed)"
        parts = [f"{self.records} records", f"{self.goldens_created} golden records created"]
        if self.goldens_retired:
            parts.append(f"{self.goldens_retired} retired (merged)")
        if self.moved:
            parts.append(f"{self.moved} records moved")
        parts.append(f"{self.possible_tasks} possible-match and {self.merge_tasks} merge-proposal tasks")
        if self.recompute_job:
            parts.append(f"golden values of {self.goldens_changed} records computing in job #{self.recompute_job}")
        if self.actions:
            parts.append(", ".join(f"{k}: {v}" for k, v in sorted(self.actions.items())))
        return "; ".join(parts)


# --- batch ------------------------------------------------------------------------------

@dataclass
class Loaded:
    """What a batch run read: engine tuples, current golden pks, and the pending records' versions."""

    records: list[tuple]
    existing: dict[int, int]
    pending_ids: list[int] = field(default_factory=list)
    pending_versions: list[int] = field(default_factory=list)


def load_engine_records(entity: EntityType, engine: MatchEngine, *, chunk: int = 5000) -> Loaded:
    """All active records as engine tuples, their current golden pk, and which were pending
    in which version (streamed from the DB).

    Only the attributes the settings read are kept: a million records with
    every attribute would not fit the memory budget.
    """
    wanted = {name for _, name in engine.settings.referenced_attributes()}
    loaded = Loaded([], {})
    qs = (SourceRecord.objects.filter(entity_type=entity, deleted=False)
          .values_list("id", "source_system__code", "attributes", "golden_id", "needs_match", "version")
          .order_by("id"))
    sources: dict[str, str] = {}
    for rid, source, attributes, golden_pk, pending, version in qs.iterator(chunk_size=chunk):
        source = sources.setdefault(source, source)  # one string object per source code
        loaded.records.append((rid, source, {k: v for k, v in attributes.items() if k in wanted}))
        if golden_pk is not None:
            loaded.existing[rid] = golden_pk
        if pending:
            loaded.pending_ids.append(rid)
            loaded.pending_versions.append(version)
    return loaded


# A batch run holds its entity type's gate exclusively from its load to its commit;
# an incremental match takes it shared for its transaction. (Advisory lock keys:
# this namespace and the entity type's pk.)
BATCH_GATE = 0x4D444D


@contextmanager
def batch_gate(entity: EntityType):
    """Exclusive to one batch run of ``entity`` at a time, with no incremental match beside it.

    A batch computes from what it loaded, minutes before it writes: a second
    batch, or an incremental match writing memberships in between, would make
    its picture stale (two first loads at once each created every golden
    record, half of them left empty). Waits for the matches in flight; later
    ones wait for it (``_pass_gate``). A session lock, released however the
    run ends; the embedded SQLite runs one task at a time and needs none.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [BATCH_GATE, entity.pk])
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [BATCH_GATE, entity.pk])
        except DatabaseError:
            # A failed transaction refuses the unlock: end the session, which releases it
            # (a worker's kept connection would otherwise hold the gate shut for good).
            connection.close()


def _pass_gate(entity: EntityType) -> None:
    """Take the gate shared for the caller's transaction, after any batch run holding it.

    Waiting, rather than leaving the records to the batch: a task that gave
    up while a run merely checked whether training was still due (and did
    nothing) had its records enqueued by nobody.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", [BATCH_GATE, entity.pk])


def gate_open(entity_pk: int) -> bool:
    """Pass the gate shared for the caller's transaction if no batch run holds it (a steward
    action, which should not wait minutes for a re-match to finish nor write under it)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock_shared(%s, %s)", [BATCH_GATE, entity_pk])
        return cursor.fetchone()[0]


def _pending_since(entity: EntityType, loaded: Loaded) -> set[int]:
    """Records pending now that the batch did not read as they are: new since its load or changed since."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""SELECT s.id FROM {table(SourceRecord)} s
                    LEFT JOIN unnest(%s::bigint[], %s::integer[]) AS l(id, version) ON l.id = s.id
                    WHERE s.entity_type_id = %s AND s.needs_match AND (l.id IS NULL OR l.version <> s.version)""",
                [loaded.pending_ids, loaded.pending_versions, entity.pk])
            return {row[0] for row in cursor.fetchall()}
        cursor.execute(f"SELECT id, version FROM {table(SourceRecord)} WHERE entity_type_id = %s AND needs_match",
                       [entity.pk])
        seen = dict(zip(loaded.pending_ids, loaded.pending_versions))
        return {rid for rid, version in cursor.fetchall() if seen.get(rid) != version}


def enqueue_matches(entity: EntityType, record_ids: Iterable[int]) -> None:
    """Match tasks for these pending records, a task per 2,000 (what a batch run or the
    sweeper leaves pending; an ingest enqueues its chunk's own)."""
    from mdm.tasks import match_records

    for chunk in chunked(sorted(record_ids), 2000):
        match_records.delay(entity.pk, list(chunk))


def match_all(entity: EntityType | str, *, retrain: bool = False, report: Report | None = None,
              progress: Callable[[str], None] | None = None, truth_pairs=None,
              counted: Callable[[int, int], None] | None = None,
              only_if: Callable[[], str | None] | None = None, provisional: bool = False) -> MatchStats | None:
    """Match every active record of the entity type (train first when asked or when no model exists).

    ``progress(stage)`` names each stage as it starts; ``counted(done, total)``
    reports records done where a stage counts them (price resolution).
    ``only_if`` (a match task that wants a model trained): checked once this
    run's turn comes; None from it means a run it waited for did the work, and
    this one returns None, having done nothing. ``provisional``: the existing
    golden records are the work of a model being replaced while it learns
    (``learning``): two of them merge at the auto threshold, not only on
    overwhelming evidence (the merged one is retired into the survivor, as
    in any merge); steward decisions bind as always.
    """
    if isinstance(entity, str):
        entity = EntityType.objects.get(code=entity)
    if entity.config.get("prices"):
        # Prices are not fuzzy-matched: they are grouped by key through the
        # customers' and products' golden records.
        from mdm.services.prices import resolve_price_records

        t0 = time.perf_counter()
        stats = MatchStats(records=SourceRecord.objects.filter(entity_type=entity, deleted=False).count())
        stats.goldens_changed = len(resolve_price_records(entity, None, progress=counted))
        stats.stages["resolve prices"] = time.perf_counter() - t0
        if report:
            report(f"  {entity.code}: {stats.summary()}")
        return stats
    with batch_gate(entity):
        if only_if is not None and only_if() is None:
            return None  # another run trained what was due while this one waited
        stats = _match_all(entity, retrain=retrain, report=report, progress=progress, truth_pairs=truth_pairs,
                           provisional=provisional)
    # Read once the gate is open: what is still pending (arrived or changed after
    # the load, or deleted, which a batch does not read) gets a task, also when
    # it came from an ingest that deferred matching to this run. (A record whose
    # task is waiting at the gate is enqueued twice; its claim makes one a no-op.)
    stats.left_pending = sorted(SourceRecord.objects.filter(entity_type=entity, needs_match=True)
                                .order_by().values_list("pk", flat=True))
    if stats.left_pending:
        enqueue_matches(entity, stats.left_pending)
    return stats


def _match_all(entity: EntityType, *, retrain: bool, report: Report | None, progress, truth_pairs,
               provisional: bool = False) -> MatchStats:
    stats = MatchStats()
    step = progress or (lambda stage: None)
    model = None if retrain else active_model(entity)
    engine = MatchEngine(match_settings(entity), model=model.parameters if model else None)
    t0 = time.perf_counter()
    step("load")
    loaded = load_engine_records(entity, engine)
    records, existing = loaded.records, loaded.existing
    stats.records = len(records)
    stats.stages["load"] = time.perf_counter() - t0
    if not records:
        return stats
    constraints = steward_constraints(entity)
    step("block, train, score, cluster")
    result = engine.run(records, existing=existing, constraints=constraints, train=True if model is None else None,
                        truth_pairs=truth_pairs, provisional=provisional)
    stats.engine = result.stats
    stats.result = result
    for stage in ("block", "train", "score", "cluster"):
        if stage in result.stats:
            stats.stages[stage] = result.stats[stage]["seconds"]
    t0 = time.perf_counter()
    step("write")
    with transaction.atomic():
        _lock_entity(entity)
        if model is None:
            model = save_model(entity, engine, {
                **{k: v for k, v in result.stats.items() if k in ("train", "block")},
                # What it was trained on, for the matches that follow (``training_due``).
                "per_source": dict(Counter(record[1] for record in records)),
            })
        stats.model_version = model.version
        _write_batch(entity, engine, loaded, result, stats)
        t_commit = time.perf_counter()
    stats.write_steps["commit (deferred foreign-key checks)"] = time.perf_counter() - t_commit
    stats.stages["write"] = time.perf_counter() - t0
    if report:
        report(f"  {entity.code}: {stats.summary()}")
    return stats


def _write_batch(entity, engine, loaded: Loaded, result, stats: MatchStats) -> None:
    existing = loaded.existing
    now = timezone.now()
    clock = [time.perf_counter()]

    def lap(step: str) -> None:
        stats.write_steps[step] = time.perf_counter() - clock[0]
        clock[0] = time.perf_counter()
    # 1. Golden record per output cluster: the one it continues, else a new one.
    new_needed = [c for c in result.clusters if c.continues is None]
    fresh = iter(golden_service.create_goldens(entity, len(new_needed)))
    golden_of_cluster: list[int] = []
    for cluster in result.clusters:
        golden_of_cluster.append(cluster.continues if cluster.continues is not None else next(fresh).pk)
    stats.goldens_created = len(new_needed)
    lap("golden records created")
    target = {}
    for k, cluster in enumerate(result.clusters):
        for rid in cluster.records:
            target[rid] = golden_of_cluster[k]
    moves = [(rid, g) for rid, g in target.items() if existing.get(rid) != g]
    stats.moved = sum(1 for rid, _ in moves if rid in existing)
    # Ingests go on while a batch computes: a record that arrived or changed
    # since the load stays pending (for the match task run after this commit),
    # every other pending record the batch read is matched now.
    left = _pending_since(entity, loaded)
    # One rewrite per row: a moved record gets its golden record and loses its
    # pending flag together (PostgreSQL rewrites the whole wide row per UPDATE).
    update_rows(SourceRecord, ["golden", "needs_match"], [(rid, g, rid in left) for rid, g in moves])
    moved = {rid for rid, _ in moves}
    done = [rid for rid in loaded.pending_ids if rid not in moved and rid not in left]
    for chunk in chunked(done, 50_000):
        where, params = id_in("id", chunk)
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table(SourceRecord)} SET needs_match = false WHERE {where}", params)

    lap("memberships (source records updated)")
    # 2. Existing golden records no cluster continues: retired into where most of their records went.
    continued = {c.continues for c in result.clusters if c.continues is not None}
    abandoned: dict[int, Counter] = defaultdict(Counter)
    for rid, old in existing.items():
        if old not in continued and rid in target:
            abandoned[old][target[rid]] += 1
    event_types: dict[int, str] = {}
    for old, destinations in abandoned.items():
        survivor = destinations.most_common(1)[0][0]
        GoldenRecord.objects.filter(pk=old).update(status=GoldenRecord.Status.RETIRED, merged_into_id=survivor)
        event_types[old] = ChangeEvent.Type.RETIRED
        event_types.setdefault(survivor, ChangeEvent.Type.MERGED)
    stats.goldens_retired = len(abandoned)

    lap("retired golden records")
    # 3. Blocking keys of every active record, rebuilt (in slices: a million
    # records have several million keys).
    BlockingKey.objects.filter(entity_type=entity)._raw_delete(connection.alias)
    keys = result.record_keys()
    while chunk := [(entity.pk, key, rid) for rid, key in islice(keys, 200_000)]:
        insert_rows(BlockingKey, ["entity_type", "key", "record"], chunk)

    lap("blocking keys")
    # 4. Automatic link decisions: the scored pairs inside each cluster, and possible matches.
    MatchDecision.objects.filter(entity_type=entity, origin=MatchDecision.Origin.AUTO)._raw_delete(connection.alias)
    steward_pairs = set(MatchDecision.objects.filter(entity_type=entity).values_list("record_a_id", "record_b_id"))
    pairs = result.pairs
    decision_rows = []
    auto = engine.settings.thresholds.auto
    cluster_of = result.cluster_of
    for a, b, p in zip(pairs["record_a"].tolist(), pairs["record_b"].tolist(), pairs["probability"].tolist()):
        if p < auto or cluster_of[a] != cluster_of[b]:
            continue
        key = (min(a, b), max(a, b))
        if key not in steward_pairs:
            decision_rows.append((entity.pk, key[0], key[1], MatchDecision.State.MATCH, MatchDecision.Origin.AUTO,
                                  round(p, 6), {}, now, ""))
            steward_pairs.add(key)

    # 5. Steward tasks: possible matches and merge proposals between golden records.
    wanted: dict[str, StewardTask] = {}
    for pm in result.possible_matches:
        ga, gb = golden_of_cluster[pm.cluster_a], golden_of_cluster[pm.cluster_b]
        key = (min(pm.record_a, pm.record_b), max(pm.record_a, pm.record_b))
        if key not in steward_pairs:
            decision_rows.append((entity.pk, key[0], key[1], MatchDecision.State.POSSIBLE, MatchDecision.Origin.AUTO,
                                  round(pm.probability, 6), {}, now, ""))
            steward_pairs.add(key)
        # Explanations are computed when a steward opens the task (ensure_explanation):
        # thousands of them here would dominate a batch run.
        wanted.setdefault(_pair_key("match", ga, gb), _match_task(
            entity, StewardTask.Kind.POSSIBLE_MATCH, ga, gb, pm.record_a, pm.record_b, pm.linkage, None))
    for mp in result.merge_proposals:
        ga, gb = golden_of_cluster[mp.cluster_a], golden_of_cluster[mp.cluster_b]
        wanted.setdefault(_pair_key("match", ga, gb), _match_task(
            entity, StewardTask.Kind.MERGE_PROPOSAL, ga, gb, mp.record_a, mp.record_b, mp.linkage, None))
    lap("decisions computed")
    insert_rows(MatchDecision, DECISION_FIELDS, decision_rows)
    lap("decisions written")
    opened = _sync_match_tasks(entity, wanted)
    stats.possible_tasks = sum(1 for t in opened if t.kind == StewardTask.Kind.POSSIBLE_MATCH)
    stats.merge_tasks = sum(1 for t in opened if t.kind == StewardTask.Kind.MERGE_PROPOSAL)

    lap("steward tasks")
    # 6. Golden values, versions and events for every golden whose membership changed:
    # here when they are few; a big batch (an initial load) hands the active
    # ones to the parallel recompute job rules use, with progress, so matching
    # commits the identities in seconds instead of holding one huge transaction.
    touched = {g for _, g in moves} | {existing[rid] for rid, _ in moves if rid in existing} | set(event_types)
    touched |= {g for g in golden_of_cluster if g not in continued}
    if len(touched) <= settings.MDM_MATCH_INLINE_RECOMPUTE:
        recomputed = golden_service.recompute(entity, touched, reason="match", event_types=event_types)
        stats.goldens_changed = len(recomputed.changed)
        lap("golden values")
        return
    retired = [pk for pk, kind in event_types.items() if kind == ChangeEvent.Type.RETIRED]
    golden_service.recompute(entity, retired, reason="match", event_types=event_types)
    from mdm.services.rules import active_config_version, start_recompute_job

    job = start_recompute_job(entity, active_config_version(entity), user="matching", reason="match")
    stats.recompute_job = job.pk
    stats.goldens_changed = len(touched)
    lap("golden values job started")


def _pair_key(prefix: str, a: int, b: int) -> str:
    return f"{prefix}:{min(a, b)}:{max(a, b)}"


def _match_task(entity, kind, golden_a, golden_b, record_a, record_b, probability, explain) -> StewardTask:
    uncertainty = 1.0 - abs(probability - 0.5) * 2  # 1.0 at p = 0.5, 0 at certainty
    details = {"probability": round(probability, 6), "records": [record_a, record_b]}
    if explain is not None:
        details["explanation"] = explain
    return StewardTask(
        kind=kind, entity_type=entity, golden_id=golden_a, other_golden_id=golden_b,
        record_id=record_a, other_record_id=record_b, dedupe_key=_pair_key("match", golden_a, golden_b),
        title="", probability=round(probability, 6), priority=round(20 + 30 * uncertainty, 3),
        details=details,
    )


def ensure_explanation(task: StewardTask) -> dict | None:
    """The task's match explanation, computed (and kept) on first use from the current records and model."""
    if task.details.get("explanation") or not task.details.get("records"):
        return task.details.get("explanation")
    a, b = task.details["records"]
    rows = {rid: (rid, source, attributes) for rid, source, attributes in SourceRecord.objects.filter(pk__in=[a, b])
            .values_list("id", "source_system__code", "attributes")}
    if len(rows) != 2:
        return None
    engine = engine_for(task.entity_type)
    if engine.model is None:
        return None
    task.details = {**task.details, "explanation": explanation(engine, rows[a], rows[b])}
    StewardTask.objects.filter(pk=task.pk).update(details=task.details)
    return task.details["explanation"]


@dataclass(frozen=True, slots=True)
class CrossScore:
    record_a: SourceRecord
    record_b: SourceRecord
    probability: float


@dataclass(frozen=True, slots=True)
class CrossScores:
    pairs: list[CrossScore]
    contradicts: bool  # one pair at or above auto, another at or below 1 - auto


def cross_scores(entity: EntityType, golden_a: int, golden_b: int, *, limit: int = 6) -> CrossScores:
    """Every live record of one golden record scored against every live record of the other (at most
    ``limit`` of each, the first ingested), for a steward deciding whether to merge them.

    A task's score is the linkage over all these pairs; when one pair is
    certain and another far apart (``contradicts``), one of the golden
    records may hold two companies that an earlier link put together (a
    later record shows it: batch matching would have kept them apart).
    No pairs without a model.
    """
    engine = engine_for(entity)
    if engine.model is None or golden_a == golden_b:
        return CrossScores([], False)
    members: dict[int, list[SourceRecord]] = {golden_a: [], golden_b: []}
    for record in (SourceRecord.objects.filter(golden_id__in=[golden_a, golden_b], deleted=False)
                   .select_related("source_system").order_by("pk")):
        if len(members[record.golden_id]) < limit:
            members[record.golden_id].append(record)
    records = {r.pk: r for group in members.values() for r in group}
    pairs = [(a.pk, b.pk) for a in members[golden_a] for b in members[golden_b]]
    if not pairs:
        return CrossScores([], False)
    scored = engine.score_pairs([_engine_record(r.pk, r.source_system.code, r.attributes) for r in records.values()],
                                pairs)
    auto = engine.settings.thresholds.auto
    probabilities = [p.probability for p in scored]
    return CrossScores([CrossScore(records[p.record_a], records[p.record_b], p.probability) for p in scored],
                       max(probabilities) >= auto and min(probabilities) <= 1 - auto)


def _sync_match_tasks(entity: EntityType, wanted: dict[str, StewardTask], *, full: bool = True) -> list[StewardTask]:
    """Open wanted match tasks not yet open; on a full re-match, dismiss open automatic ones no longer wanted."""
    kinds = [StewardTask.Kind.POSSIBLE_MATCH, StewardTask.Kind.MERGE_PROPOSAL]
    open_tasks = StewardTask.objects.filter(entity_type=entity, kind__in=kinds, status=StewardTask.Status.OPEN)
    if not full:
        # One record's few pairs: look those up, not the tens of thousands of open tasks.
        open_tasks = open_tasks.filter(dedupe_key__in=list(wanted))
    open_keys = set(open_tasks.order_by().values_list("dedupe_key", flat=True))
    if full:
        for stale in chunked(sorted(open_keys - set(wanted))):
            StewardTask.objects.filter(entity_type=entity, kind__in=kinds, status=StewardTask.Status.OPEN,
                                       dedupe_key__in=stale).update(
                status=StewardTask.Status.DISMISSED, resolution="superseded", version=F("version") + 1,
                resolution_note="No longer a possible match after re-matching.", resolved_at=timezone.now())
    new = [t for key, t in wanted.items() if key not in open_keys]
    names, systems = {}, {}
    for pks in chunked(sorted({t.golden_id for t in new} | {t.other_golden_id for t in new})):
        names.update(GoldenRecord.objects.filter(pk__in=pks).values_list("pk", "golden_id"))
    for pks in chunked(sorted({t.record_id for t in new} | {t.other_record_id for t in new})):
        systems.update(SourceRecord.objects.filter(pk__in=pks).values_list("pk", "source_system_id"))
    for task in new:
        task.title = f"{names.get(task.golden_id)} ↔ {names.get(task.other_golden_id)}"
        task.record_source_id = systems.get(task.record_id)
        task.other_record_source_id = systems.get(task.other_record_id)
    StewardTask.objects.bulk_create(new, batch_size=500, ignore_conflicts=True)
    return new


# --- incremental ---------------------------------------------------------------------------

def _block_caps(engine: MatchEngine) -> tuple[dict[str, int], int]:
    blocking = engine.settings.blocking
    return {p.name: p.max_block_size for p in blocking.passes if p.max_block_size}, blocking.max_block_size


def candidate_ids(entity: EntityType, engine: MatchEngine, keys: list[str], exclude: int | None = None) -> list[int]:
    """Records sharing a blocking key, skipping keys shared by more records than the
    pass's ``max_block_size`` (the same cap the batch applies).

    One query, and each key reads at most its cap plus one index entry: counting
    how many records share a common key (a big city at a million records) would
    cost more than all the rest of matching one record.
    """
    if not keys:
        return []
    caps, default_cap = _block_caps(engine)
    keys = list(dict.fromkeys(keys))
    limits = [caps.get(k.partition(":")[0], default_cap) for k in keys]
    keys_table = table(BlockingKey)
    sql = " UNION ALL ".join(
        f"SELECT * FROM (SELECT key, record_id FROM {keys_table} WHERE entity_type_id = %s AND key = %s LIMIT %s) AS k{i}"
        for i in range(len(keys)))
    params = [p for key, cap in zip(keys, limits) for p in (entity.pk, key, cap + 1)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    per_key: dict[str, list[int]] = defaultdict(list)
    for key, record_id in rows:
        per_key[key].append(record_id)
    ids = {rid for key, cap in zip(keys, limits) if len(per_key[key]) <= cap for rid in per_key[key]}
    ids.discard(exclude)
    return sorted(ids)


def _candidates_with_clusters(entity: EntityType, ids: list[int], exclude: int | None):
    """Candidate records plus every other member of their golden records (cluster-as-a-whole scoring).

    One round trip, two indexed lookups (a UNION: an OR of both conditions
    makes PostgreSQL scan the whole table), attributes parsed with orjson.
    On the path of every incremental match, so no ORM here: building the
    query, the default ordering's joins and per-row JSON decoding cost
    several times the lookups themselves.
    """
    if not ids:
        return [], {}
    records = table(SourceRecord)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH c AS (SELECT id, golden_id FROM {records} WHERE id IN ({marks(ids)}) AND NOT deleted)
                SELECT id, source_system_id, CAST(attributes AS TEXT), golden_id FROM {records}
                WHERE id IN (SELECT id FROM c)
                UNION ALL
                SELECT id, source_system_id, CAST(attributes AS TEXT), golden_id FROM {records}
                WHERE golden_id IN (SELECT golden_id FROM c) AND NOT deleted AND id NOT IN (SELECT id FROM c)""",
            ids)
        rows = [row for row in cursor.fetchall() if row[0] != exclude]
    codes = source_codes({row[1] for row in rows})
    loads = orjson.loads
    return ([(rid, codes[source], loads(attributes)) for rid, source, attributes, _ in rows],
            {rid: golden for rid, _, _, golden in rows if golden is not None})


def match_pending_records(*, entity_type_id: int, record_ids: list[int]) -> dict:
    """The ingest task: claim the given records still pending and match each one."""
    entity = entity_type_by_pk(entity_type_id)
    if entity.config.get("prices"):
        from mdm.services.prices import resolve_price_records

        with transaction.atomic():
            # Locked here, cleared of their pending flag as each chunk resolves them.
            # Only the records' rows (``of``, no default ordering): locking the entity type and
            # source rows the ordering joins made a second task skip every record while the
            # first held them, leaving its prices pending until the sweeper came.
            claimed = list(SourceRecord.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
                           .filter(pk__in=record_ids, needs_match=True).order_by("pk").values_list("pk", flat=True))
            resolve_price_records(entity, claimed)
        return {"claimed": len(claimed)}
    if not entity.config.get("matching"):
        return {"claimed": 0, "skipped": "no matching settings"}
    actions: Counter = Counter()
    sources: set[str] = set()
    with transaction.atomic():
        _pass_gate(entity)
        model_pk = _lock_entity(entity)
        provisional = False
        if model_pk is not None:
            claimed = _claim(record_ids)
            if not claimed:
                return {"claimed": 0}
            sources = {r.source for r in claimed if not r.deleted}
            if training_due(entity, sources, model_pk) is not None:
                provisional = learning(model_pk)
                model_pk = None
        if model_pk is not None:
            engine = engine_for(entity, model_pk)
            touched: set[int] = set()
            event_types: dict[int, str] = {}
            for record in claimed:
                action = _match_one(entity, engine, record, touched, event_types)
                actions[action] += 1
            # _match_one cleared the flag of the records it moved, in the same row update.
            pending = [r.pk for r in claimed if r.needs_match]
            if pending:
                SourceRecord.objects.filter(pk__in=pending).update(needs_match=False)
            golden_service.recompute(entity, touched, reason="ingest", event_types=event_types)
            return {"claimed": len(claimed), **actions}
    # No model yet, or one these records outgrow: a batch run trains on everything
    # there is and matches it all (the claim above is released, nothing written).
    # What a model still learning linked is re-decided as if loaded in one batch:
    # otherwise a pair it missed (a CRM item it never learned to match with the
    # web catalog) stays two golden records until a steward merges them. An
    # established model's golden records merge only on overwhelming evidence.
    stats = match_all(entity, retrain=True, only_if=lambda: training_due(entity, sources), provisional=provisional)
    if stats is None:  # trained by the batch run this task waited for
        return match_pending_records(entity_type_id=entity_type_id, record_ids=record_ids)
    return {"claimed": stats.records, "batch": True, "model": stats.model_version}


@dataclass(slots=True)
class _Claimed:
    """What incremental matching reads of a pending record (no model instance: see ``_claim``)."""

    pk: int
    golden_id: int | None
    deleted: bool
    source: str
    attributes: dict
    needs_match: bool = True


def _claim(record_ids: list[int]) -> list[_Claimed]:
    """Lock the given records still pending, skipping any another task holds, in id order.

    Raw, attributes parsed with orjson: on the path of every ingest (see mdm.db
    on the ORM's cost).
    """
    ids = list(record_ids)
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT id, golden_id, deleted, source_system_id, CAST(attributes AS TEXT) FROM {table(SourceRecord)}
                WHERE id IN ({marks(ids)}) AND needs_match ORDER BY id{row_lock(skip_locked=True)}""", ids)
        rows = cursor.fetchall()
    codes = source_codes({row[3] for row in rows})
    return [_Claimed(rid, golden, bool(deleted), codes[source], orjson.loads(attributes))
            for rid, golden, deleted, source, attributes in rows]


def lost_match_records(grace: float | None = None):
    """Records still waiting for matching ``grace`` seconds (``MDM_MATCH_SWEEP_GRACE``)
    after they arrived: their match task was lost or failed for good. Records of
    batches ingested with ``--defer-match`` wait for a ``match`` run and are not lost."""
    grace = settings.MDM_MATCH_SWEEP_GRACE if grace is None else grace
    cutoff = timezone.now() - timedelta(seconds=grace)
    return (SourceRecord.objects.filter(needs_match=True, received_at__lt=cutoff)
            .exclude(last_batch__match_deferred=True))


def queued_tasks() -> int | None:
    """Messages waiting in the hub's task queue on the broker; None when tasks run in-process.

    The default queue only: webhook deliveries have their own (``MDM_DELIVERY_QUEUE``), so a steady
    stream of them does not count as a match backlog.
    """
    from mdm.celery import app

    if app.conf.task_always_eager:
        return None
    with app.connection_for_read() as conn:
        return conn.default_channel.queue_declare(queue=app.conf.task_default_queue).message_count


def sweep_pending_matches(*, grace: float | None = None, limit: int = 20_000) -> dict[str, int]:
    """Enqueue matching again for records still pending long after they arrived; {entity code: records}.

    Ingest enqueues a match task on commit; a broker that restarts without
    persistence, or a task that failed for good, leaves its records pending
    (no golden record, no cross-reference) until something matches them.
    A record is swept once it has waited ``MDM_MATCH_SWEEP_GRACE`` and no
    task is queued: behind a backlog (a first load of a million records
    queues for an hour) its task may still be waiting, and sweeping every
    few minutes would queue the backlog again and again; what a backlog
    hides is swept once it has drained. (A task a worker holds is running:
    a duplicate would find its records claimed.) At most ``limit`` records
    per entity type and sweep. Records of batches ingested with
    ``--defer-match`` are left to ``match``.
    """
    grace = settings.MDM_MATCH_SWEEP_GRACE if grace is None else grace
    swept = {}
    backlog = queued_tasks()
    if backlog:
        log.info("%s tasks queued: pending records are swept once they have run", backlog)
        return swept
    for entity in EntityType.objects.order_by("code"):
        if not (entity.config.get("matching") or entity.config.get("prices")):
            continue  # nothing would claim them: matching is not configured
        ids = list(lost_match_records(grace).filter(entity_type=entity).order_by("pk")
                   .values_list("pk", flat=True)[:limit])
        if not ids:
            continue
        log.warning("%s %s records waited over %.0f s for matching: enqueued again", len(ids), entity.code, grace)
        enqueue_matches(entity, ids)
        swept[entity.code] = len(ids)
    return swept


def _match_one(entity: EntityType, engine: MatchEngine, record: _Claimed, touched: set[int],
               event_types: dict[int, str]) -> str:
    old_golden = record.golden_id
    # A record never matched has no keys, no steward decisions and no golden
    # record to leave: skip the queries that would find nothing.
    first_time = old_golden is None
    if not first_time or record.deleted:
        BlockingKey.objects.filter(record_id=record.pk)._raw_delete(connection.alias)  # nothing depends on them
    if record.deleted:
        if old_golden:
            SourceRecord.objects.filter(pk=record.pk).update(golden=None, needs_match=False)
            record.needs_match = False
            touched.add(old_golden)
        return "deleted"
    keys = engine.blocking_keys(record.attributes)
    insert_rows(BlockingKey, ["entity_type", "key", "record"], [(entity.pk, k, record.pk) for k in keys])
    ids = candidate_ids(entity, engine, keys, exclude=record.pk)
    if old_golden:
        # Its own golden record's other members are candidates too: staying put is an option.
        ids = sorted(set(ids) | set(SourceRecord.objects.filter(golden_id=old_golden, deleted=False)
                                     .exclude(pk=record.pk).order_by().values_list("pk", flat=True)))
    candidates, cluster_of = _candidates_with_clusters(entity, ids, exclude=record.pk)
    me = _engine_record(record.pk, record.source, record.attributes)
    constraints = None if first_time else steward_constraints(entity, [record.pk])
    decision = engine.match_record(me, candidates, cluster_of, constraints)
    by_id = {c[0]: c for c in candidates}
    action = decision.action
    alone = not first_time and not SourceRecord.objects.filter(golden_id=old_golden, deleted=False) \
        .exclude(pk=record.pk).exists()

    def goes_to(golden_pk: int | None) -> int:
        if golden_pk is None:
            if old_golden is not None and alone:
                golden_pk = old_golden  # a record on its own keeps its golden ID
            else:
                golden_pk = golden_service.create_goldens(entity, 1)[0].pk
        if golden_pk != old_golden:
            # The pending flag goes in the same update: one rewrite of the wide row, not two.
            SourceRecord.objects.filter(pk=record.pk).update(golden_id=golden_pk, needs_match=False)
            record.needs_match = False
            if old_golden:
                touched.add(old_golden)
        touched.add(golden_pk)
        record.golden_id = golden_pk
        return golden_pk

    now = timezone.now()
    if action in ("join", "merge_proposal", "merge"):
        target = decision.cluster_id if not isinstance(decision.cluster_id, tuple) else None
        mine = goes_to(target)
        if isinstance(decision.cluster_id, tuple):  # a candidate that had no golden record yet
            SourceRecord.objects.filter(pk=decision.cluster_id[1]).update(golden_id=mine)
        best = max((m for m in decision.clusters if m.cluster_id == decision.cluster_id),
                   key=lambda m: m.probability, default=None)
        if best is not None:
            _record_decision(entity, record.pk, best.best_record_id, MatchDecision.State.MATCH, best.best_probability,
                             now, known=not first_time)
        if action == "merge":
            for other in decision.merge_cluster_ids:
                if isinstance(other, tuple) or other == mine:
                    continue
                SourceRecord.objects.filter(golden_id=other).update(golden_id=mine)
                GoldenRecord.objects.filter(pk=other).update(status=GoldenRecord.Status.RETIRED, merged_into_id=mine)
                event_types[other] = ChangeEvent.Type.RETIRED
                event_types[mine] = ChangeEvent.Type.MERGED
                touched.update({other, mine})
        elif action == "merge_proposal":
            wanted = {}
            for m in decision.clusters:
                if m.cluster_id in decision.merge_cluster_ids and not isinstance(m.cluster_id, tuple):
                    wanted[_pair_key("match", mine, m.cluster_id)] = _match_task(
                        entity, StewardTask.Kind.MERGE_PROPOSAL, mine, m.cluster_id, record.pk, m.best_record_id,
                        m.probability, explanation(engine, me, by_id[m.best_record_id]))
            _sync_match_tasks(entity, wanted, full=False)
    else:  # new or possible
        mine = goes_to(None)
        if action == "possible":
            wanted = {}
            for m in decision.possible:
                other = m.cluster_id
                if isinstance(other, tuple):
                    other = SourceRecord.objects.filter(pk=other[1]).values_list("golden_id", flat=True).first()
                if other is None or other == mine:
                    continue
                _record_decision(entity, record.pk, m.best_record_id, MatchDecision.State.POSSIBLE,
                                 m.best_probability, now, known=not first_time)
                wanted[_pair_key("match", mine, other)] = _match_task(
                    entity, StewardTask.Kind.POSSIBLE_MATCH, mine, other, record.pk, m.best_record_id,
                    m.probability, explanation(engine, me, by_id[m.best_record_id]))
            _sync_match_tasks(entity, wanted, full=False)
    return action


def _record_decision(entity, a: int, b: int, state: str, probability: float, now, *, known: bool = True) -> None:
    """Store an automatic decision unless a steward already decided the pair
    (``known=False``: the record is new, no decision about it can exist)."""
    lo, hi = min(a, b), max(a, b)
    existing = MatchDecision.objects.filter(record_a_id=lo, record_b_id=hi).first() if known else None
    if existing is None:
        insert_rows(MatchDecision, DECISION_FIELDS, [(entity.pk, lo, hi, state, MatchDecision.Origin.AUTO,
                                                      round(probability, 6), {}, now, "")])
    elif existing.origin == MatchDecision.Origin.AUTO:
        MatchDecision.objects.filter(pk=existing.pk).update(state=state, probability=round(probability, 6),
                                                            decided_at=now)


# --- search before create ------------------------------------------------------------------

def match_candidate(entity: EntityType, attributes: dict, source=None, limit: int = 10) -> list[dict]:
    """Rank golden records a candidate record would match; stores nothing.

    ``attributes`` are canonical attribute names with raw values (as a
    source would send them after mapping); they are standardized first.
    """
    engine = engine_for(entity)
    if engine.model is None:
        raise NotMatchable(f"no trained model for {entity.code!r} yet; run `manage.py match --entity {entity.code}`")
    std = standardize_record(entity.attribute_specs, attributes,
                             Context(default_region=getattr(source, "default_region", None) or "US"))
    me = _engine_record(0, source.code if source else "_candidate", std.attributes)
    ids = candidate_ids(entity, engine, engine.blocking_keys(std.attributes))
    candidates, cluster_of = _candidates_with_clusters(entity, ids, exclude=None)
    if not candidates:
        return []
    decision = engine.match_record(me, candidates, cluster_of)
    by_id = {c[0]: c for c in candidates}
    golden_ids = dict(GoldenRecord.objects.filter(pk__in=[m.cluster_id for m in decision.clusters
                                                          if not isinstance(m.cluster_id, tuple)])
                      .values_list("pk", "golden_id"))
    thresholds = engine.settings.thresholds
    ranked = []
    for m in sorted(decision.clusters, key=lambda m: -m.probability)[:limit]:
        if isinstance(m.cluster_id, tuple):
            continue
        band = "match" if m.probability >= thresholds.auto else "possible" if m.probability >= thresholds.review else "distinct"
        ranked.append({
            "golden_id": golden_ids[m.cluster_id], "probability": m.probability, "band": band,
            "best_record_id": m.best_record_id, "members": m.members,
            "explanation": explanation(engine, me, by_id[m.best_record_id]),
        })
    return ranked
