"""Steward actions: merge, not-a-match, unmerge, split, overrides, conflicts and the task queue.

The UI, the API and tasks all call these functions; they parse nothing and
trust nothing:

* **Permission** first: every action needs a steward (``mdm.roles.is_steward``)
  and raises ``PermissionDenied`` otherwise.
* **Row locks** (``select_for_update``) on the golden records involved, in id
  order, taken first: two actions on overlapping records serialise instead
  of deadlocking, and each re-reads the state the other left (a golden
  retired by a concurrent merge cannot be merged again).
* **One transaction** per action. An action that answers a task then closes
  the task before it writes anything else, with a conditional update on its
  status and version (``close_task``): of two stewards acting on the same
  task, the second updates no row and gets ``TaskAlreadyHandled``, so
  nothing is applied twice. Golden rows are locked *before* task rows in
  every action (and in ``golden.recompute``, which closes conflict tasks):
  one global lock order, because a merge also closes or re-points other
  tasks of the records it retires, and locking a task first would let two
  stewards each hold what the other waits for.
* **Decisions, not patches.** A steward's judgement is stored as
  ``MatchDecision`` rows (origin ``steward``) that automation never
  overrides; golden values are then recomputed (``golden.recompute``, the one
  path that changes a golden record, writing history and outbox events)
  from the immutable source records plus decisions and overrides. That is
  why an unmerge or split restores the earlier values exactly.

Undo and golden IDs: when an unmerge or split takes out exactly the records
a retired golden record brought into a merge, that golden record is
*revived* (active again, same ID, its own overrides back) instead of a new
ID being minted, so merge-then-unmerge restores IDs as well as values and a
downstream system that kept the old ID finds it active again. Records taken
out in any other grouping get new golden records. A golden record's only
remaining record cannot be unmerged (there would be nothing to leave).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from itertools import combinations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from matching.standardize import Context, standardize_value
from mdm.models import (
    ChangeEvent,
    GoldenRecord,
    GoldenRecordVersion,
    MatchDecision,
    Override,
    SourceRecord,
    StewardTask,
)
from mdm.roles import is_steward
from mdm.services import golden as golden_service
from mdm.services import matching as matching_service

log = logging.getLogger(__name__)

Status = GoldenRecord.Status
TaskStatus = StewardTask.Status
PAIR_KINDS = (StewardTask.Kind.POSSIBLE_MATCH, StewardTask.Kind.MERGE_PROPOSAL)
CONFLICT_KINDS = (StewardTask.Kind.ATTRIBUTE_CONFLICT, StewardTask.Kind.PRICE_CONFLICT)
# Resolutions that close a task as "dismissed" (nothing was changed); any
# other resolution closes it as "resolved".
DISMISSALS = {"dismissed", "not_a_problem", "duplicate"}


class StewardActionError(Exception):
    """The action cannot be applied as asked; the message says why, for the steward to read."""


class TaskAlreadyHandled(StewardActionError):
    """Another steward (or the hub) closed or changed the task first; nothing was applied."""


# --------------------------------------------------------------------------- #
# Tasks
# --------------------------------------------------------------------------- #

def close_task(task: StewardTask, *, steward, resolution: str, note: str = "",
               expected_version: int | None = None, dismiss: bool | None = None) -> StewardTask:
    """Close an open task, once: a conditional update on status and version.

    ``expected_version`` is the version the steward saw (default: the
    instance's); if the task was closed or changed since, nothing is updated
    and ``TaskAlreadyHandled`` says by whom. Actions that answer a task call
    this, after locking their golden records and before writing anything
    else, inside their transaction; the row lock the update takes holds a
    second steward's update until the first commits, which then matches no row.

    ``steward`` may also be an API client with the ``tasks`` scope
    (automation closing what it fixed at the source); the note then names it.
    ``dismiss`` closes as dismissed (default: by the resolution code).
    """
    user, label = _require_closer(steward)
    if not resolution:
        raise StewardActionError("say how the task was resolved")
    expected = task.version if expected_version is None else int(expected_version)
    now = timezone.now()
    if dismiss is None:
        dismiss = resolution in DISMISSALS
    if user is None:
        note = f"[{label}] {note}".strip()
    updated = StewardTask.objects.filter(pk=task.pk, status=TaskStatus.OPEN, version=expected).update(
        status=TaskStatus.DISMISSED if dismiss else TaskStatus.RESOLVED, resolution=resolution[:40],
        resolution_note=note, resolved_by=user, resolved_at=now, version=F("version") + 1, updated_at=now,
    )
    if not updated:
        raise _already_handled(task.pk, expected)
    task.refresh_from_db()
    return task


def dismiss_task(task: StewardTask, *, steward, note: str = "", expected_version: int | None = None) -> StewardTask:
    """Close a task without changing anything (not a problem)."""
    return close_task(task, steward=steward, resolution="dismissed", note=note, expected_version=expected_version)


def skip_task(task: StewardTask, *, steward, note: str = "", expected_version: int | None = None) -> StewardTask:
    """Put a task back for later: it stays open, leaves the steward's hands, and remembers the skip.

    The queue shows tasks a steward skipped after the others (``details["skipped_by"]``).
    """
    _require_steward(steward)
    expected = task.version if expected_version is None else int(expected_version)
    current = StewardTask.objects.filter(pk=task.pk).first()
    if current is None or current.status != TaskStatus.OPEN or current.version != expected:
        raise _already_handled(task.pk, expected)
    details = dict(current.details or {})
    skipped = [name for name in details.get("skipped_by", []) if name != steward.get_username()]
    details["skipped_by"] = [*skipped, steward.get_username()]
    changes = {"details": details, "version": F("version") + 1, "updated_at": timezone.now()}
    if current.assignee_id == steward.pk:
        changes["assignee"] = None
    if not StewardTask.objects.filter(pk=task.pk, status=TaskStatus.OPEN, version=expected).update(**changes):
        raise _already_handled(task.pk, expected)
    task.refresh_from_db()
    return task


def assign_task(task: StewardTask, assignee, steward, *, expected_version: int | None = None) -> StewardTask:
    """Give an open task to a steward (``assignee=None`` puts it back in the shared queue)."""
    _require_steward(steward)
    if assignee is not None and not is_steward(assignee):
        raise StewardActionError(f"{assignee.get_username()} is not a data steward and cannot work tasks")
    expected = task.version if expected_version is None else int(expected_version)
    if not StewardTask.objects.filter(pk=task.pk, status=TaskStatus.OPEN, version=expected).update(
        assignee=assignee, version=F("version") + 1, updated_at=timezone.now(),
    ):
        raise _already_handled(task.pk, expected)
    task.refresh_from_db()
    return task


def claim_task(task: StewardTask, *, steward) -> StewardTask:
    """Take an unassigned open task; claiming one's own task again is a no-op."""
    _require_steward(steward)
    if StewardTask.objects.filter(pk=task.pk, status=TaskStatus.OPEN, assignee__isnull=True).update(
        assignee=steward, version=F("version") + 1, updated_at=timezone.now(),
    ):
        task.refresh_from_db()
        return task
    current = StewardTask.objects.select_related("assignee").filter(pk=task.pk).first()
    if current is not None and current.status == TaskStatus.OPEN and current.assignee_id == steward.pk:
        task.refresh_from_db()
        return task
    if current is not None and current.status == TaskStatus.OPEN:
        raise TaskAlreadyHandled(f"Task #{task.pk} is already claimed by {current.assignee.get_username()}.")
    raise _already_handled(task.pk, task.version)


def _already_handled(task_pk: int, expected: int) -> TaskAlreadyHandled:
    current = StewardTask.objects.select_related("resolved_by").filter(pk=task_pk).first()
    if current is None:
        return TaskAlreadyHandled(f"Task #{task_pk} no longer exists; nothing was applied.")
    if current.status != TaskStatus.OPEN:
        who = current.resolved_by.get_username() if current.resolved_by else "the hub"
        if current.resolved_by is None and current.resolution_note.startswith("[api:"):
            who = current.resolution_note[1:].split("]", 1)[0]  # an API client closed it
        when = timezone.localtime(current.resolved_at).strftime("%Y-%m-%d %H:%M") if current.resolved_at else ""
        how = f" ({current.resolution})" if current.resolution else ""
        return TaskAlreadyHandled(
            f"Task #{task_pk} was already {current.get_status_display().lower()} by {who}"
            f"{' at ' + when if when else ''}{how}; nothing was applied."
        )
    return TaskAlreadyHandled(
        f"Task #{task_pk} changed since you opened it (version {expected}, now {current.version}); "
        "reload it and decide again. Nothing was applied."
    )


# --------------------------------------------------------------------------- #
# Answering a match task (the UI's buttons and the API's resolve call)
# --------------------------------------------------------------------------- #

def pair_goldens(task: StewardTask, records=None) -> tuple[GoldenRecord | None, GoldenRecord | None]:
    """The two golden records a match task is about (its own fields, else its records' goldens).

    ``records``: the task's ``pair_records`` when the caller has read them already.
    """
    a, b = task.golden, task.other_golden
    if a is None or b is None:
        first, second = records or pair_records(task)
        a = a or (first.golden if first else None)
        b = b or (second.golden if second else None)
    return a, b


def pair_records(task: StewardTask) -> tuple[SourceRecord | None, SourceRecord | None]:
    """The two source records a match task compares (the explanation's pair when it names one)."""
    ids = [i for i in ((task.details or {}).get("records") or []) if isinstance(i, int)]
    ids = ids[:2] if len(ids) >= 2 else [i for i in (task.record_id, task.other_record_id) if i]
    records = SourceRecord.objects.filter(pk__in=ids).select_related("source_system", "golden").in_bulk()
    first = records.get(ids[0]) if ids else None
    second = records.get(ids[1]) if len(ids) > 1 else None
    return first, second


def proposed_survivor(golden_a: GoldenRecord | None, golden_b: GoldenRecord | None,
                      sizes: dict[int, int] | None = None) -> GoldenRecord | None:
    """Which golden record a merge keeps unless the steward picks the other.

    The one with more active source records, so fewer downstream systems see
    their golden ID retired; on a tie the older (lower number) ID.
    """
    candidates = [g for g in (golden_a, golden_b) if g is not None]
    if not candidates:
        return None
    if sizes is None:
        sizes = dict(SourceRecord.objects.filter(golden__in=candidates, deleted=False).order_by()
                     .values("golden_id").annotate(n=Count("id")).values_list("golden_id", "n"))
    return min(candidates, key=lambda g: (-sizes.get(g.pk, 0), g.pk))


def answer_match_task(task: StewardTask, *, merge: bool, steward, survivor: str = "", note: str = "",
                      expected_version: int | None = None) -> GoldenRecord:
    """Merge the pair a match task is about, or mark it not a match; returns the golden record kept.

    ``survivor`` is the golden ID to keep on a merge (default: the proposed
    survivor). When both records already share one golden record, merging
    confirms the match (a steward ``match`` decision, so automation keeps
    them together) and not-a-match takes the task's second record out.
    """
    _require_steward(steward)
    if task.kind not in PAIR_KINDS:
        raise StewardActionError(f"A {task.get_kind_display().lower()} task is not about a possible match.")
    golden_a, golden_b = pair_goldens(task)
    if golden_a is None or golden_b is None:
        raise StewardActionError(f"Task #{task.pk} no longer points at two golden records; close it instead.")
    if golden_a.pk == golden_b.pk:
        return _answer_within_one_golden(task, golden_a, merge=merge, steward=steward, note=note,
                                         expected_version=expected_version)
    if not merge:
        return not_a_match(golden=golden_a, other=golden_b, steward=steward, task=task,
                           expected_task_version=expected_version, note=note)[0]
    kept = proposed_survivor(golden_a, golden_b) if not survivor else next(
        (g for g in (golden_a, golden_b) if g.golden_id == survivor), None)
    if kept is None:
        raise StewardActionError(
            f"Keep {golden_a.golden_id} or {golden_b.golden_id}: {survivor} is not one of the pair.")
    other = golden_b if kept.pk == golden_a.pk else golden_a
    return merge_goldens(survivor=kept, others=[other], steward=steward, task=task,
                         expected_task_version=expected_version, note=note)


def _answer_within_one_golden(task: StewardTask, golden: GoldenRecord, *, merge: bool, steward, note: str,
                              expected_version: int | None) -> GoldenRecord:
    first, second = pair_records(task)
    if first is None or second is None:
        raise StewardActionError(f"Task #{task.pk} no longer names two source records; close it instead.")
    with transaction.atomic():
        locked = _lock_goldens([golden.pk])[golden.pk]
        close_task(task, steward=steward, resolution="merged" if merge else "not_a_match", note=note,
                   expected_version=expected_version)
        entity = locked.entity_type
        _require_matched(entity)
        _require_active(locked, entity)
        if merge:
            _set_decisions(entity, [(first.pk, second.pk)], MatchDecision.State.MATCH, steward,
                           note or "match confirmed by a steward")
            # Nothing moves, but the judgement belongs in the record's history.
            golden_service.recompute(entity, [locked.pk], reason=GoldenRecordVersion.Reason.MERGE,
                                     actor=steward.get_username(), note=note or "match confirmed",
                                     force_version=True)
            locked.refresh_from_db()
            return locked
        return unmerge_record(record=second, steward=steward, note=note or "not a match (steward)")


# --------------------------------------------------------------------------- #
# Merge, not a match, unmerge, split
# --------------------------------------------------------------------------- #

def merge_goldens(*, survivor: GoldenRecord, others: Iterable[GoldenRecord], steward, task: StewardTask | None = None,
                  expected_task_version: int | None = None, note: str = "") -> GoldenRecord:
    """Merge ``others`` into ``survivor``: their records join it, they retire pointing at it.

    The retired IDs keep resolving to the survivor (``golden.resolve``).
    The steward's judgement is stored as ``match`` decisions forming a
    spanning tree over all the records, so a full re-match keeps them
    together, and any ``no_match`` decision between them is dropped (the
    steward has just said otherwise). Events: the survivor ``merged``, the
    others ``retired``.
    """
    _require_steward(steward)
    other_pks = sorted({g.pk for g in others})
    if not other_pks:
        raise StewardActionError("Choose at least one golden record to merge into the survivor.")
    if survivor.pk in other_pks:
        raise StewardActionError(f"{survivor.golden_id} cannot be merged into itself.")
    with transaction.atomic():
        locked = _lock_goldens([survivor.pk, *other_pks])
        if task is not None:
            close_task(task, steward=steward, resolution="merged", note=note, expected_version=expected_task_version)
            _require_task_about(task, locked)
        target = locked[survivor.pk]
        entity = target.entity_type
        _require_matched(entity)
        for golden in locked.values():
            _require_active(golden, entity)
        members = _members(locked)
        everyone = sorted(r for pk in locked for r in members[pk])
        group_of = {r: pk for pk, ids in members.items() for r in ids}
        # The steward says these records are one: earlier "not a match"
        # answers between them no longer hold.
        contradicting = [
            d.pk for d in _decisions_among(everyone, states=[MatchDecision.State.NO_MATCH])
            if group_of[d.record_a_id] != group_of[d.record_b_id]
        ]
        MatchDecision.objects.filter(pk__in=contradicting).delete()
        _connect(entity, everyone, steward, note or "merged by a steward")
        SourceRecord.objects.filter(golden_id__in=other_pks).update(golden=target)
        GoldenRecord.objects.filter(pk__in=other_pks).update(status=Status.RETIRED, merged_into=target)
        _retarget_tasks(entity, other_pks, target, steward)
        event_types = {target.pk: ChangeEvent.Type.MERGED, **{pk: ChangeEvent.Type.RETIRED for pk in other_pks}}
        golden_service.recompute(entity, [target.pk, *other_pks], reason=GoldenRecordVersion.Reason.MERGE,
                                 actor=steward.get_username(), note=note, event_types=event_types,
                                 force_version=True)
    target.refresh_from_db()
    return target


def not_a_match(*, golden: GoldenRecord, other: GoldenRecord, steward, task: StewardTask | None = None,
                expected_task_version: int | None = None, note: str = "") -> tuple[GoldenRecord, GoldenRecord]:
    """Record that two golden records are different things: automation must never join them again.

    Stores a steward ``no_match`` decision for every pair of records across
    the two (replacing any match decision between them), closes the task
    and any other open match task about the same pair, and writes a history
    line on both.
    """
    _require_steward(steward)
    if golden.pk == other.pk:
        raise StewardActionError(f"{golden.golden_id} is one golden record; there is no pair to separate.")
    with transaction.atomic():
        locked = _lock_goldens([golden.pk, other.pk])
        if task is not None:
            close_task(task, steward=steward, resolution="not_a_match", note=note,
                       expected_version=expected_task_version)
            _require_task_about(task, locked)
        first, second = locked[golden.pk], locked[other.pk]
        entity = first.entity_type
        _require_active(first, entity)
        _require_active(second, entity)
        members = _members(locked)
        pairs = [(a, b) for a in members[first.pk] for b in members[second.pk]]
        _set_decisions(entity, pairs, MatchDecision.State.NO_MATCH, steward, note or "not a match (steward)")
        _close_pair_tasks(first.pk, second.pk, steward, "not_a_match", note)
        golden_service.recompute(entity, [first.pk, second.pk], reason=GoldenRecordVersion.Reason.NOT_A_MATCH,
                                 actor=steward.get_username(), note=note, force_version=True)
    first.refresh_from_db()
    second.refresh_from_db()
    return first, second


def unmerge_record(*, record: SourceRecord, steward, note: str = "") -> GoldenRecord:
    """Take one source record out of its golden record; returns the golden record it lands in.

    The record goes to a new golden record, or back to the retired golden
    record it came from when it was that record's only member (see the
    module docstring). The steward's ``no_match`` decisions with the
    remaining members replace any ``match`` decisions linking it to them;
    steward links among the remaining members that ran through this record
    are re-made directly, so they stay together.
    """
    _require_steward(steward)
    with transaction.atomic():
        golden_pk = SourceRecord.objects.filter(pk=record.pk).values_list("golden_id", flat=True).first()
        if golden_pk is None:
            raise StewardActionError(f"{record} is not part of a golden record; there is nothing to unmerge.")
        locked = _lock_goldens([golden_pk])
        golden = locked[golden_pk]
        entity = golden.entity_type
        _require_matched(entity)
        current = SourceRecord.objects.select_for_update(no_key=True).get(pk=record.pk)
        if current.golden_id != golden.pk:
            raise StewardActionError(f"{record} moved to another golden record meanwhile; reload and try again.")
        _require_active(golden, entity)
        members = _members(locked)[golden.pk]
        remaining = [r for r in members if r != current.pk]
        if not remaining:
            raise StewardActionError(
                f"{record} is the only record of {golden.golden_id}; there is nothing to unmerge it from.")
        target = _revived_or_new(entity, golden, [[current.pk]])[0]
        _lock_goldens([target.pk])
        before = _steward_components(members)
        SourceRecord.objects.filter(pk=current.pk).update(golden=target)
        _realign_pair_tasks([current.pk])
        _set_decisions(entity, [(current.pk, r) for r in remaining], MatchDecision.State.NO_MATCH, steward,
                       note or "unmerged by a steward")
        _close_pair_tasks(golden.pk, target.pk, steward, "not_a_match", note or "answered by an unmerge")
        # Steward links among the others that went through this record: re-make them directly.
        for component in before:
            if current.pk in component:
                _connect(entity, sorted(component - {current.pk}), steward, note or "kept together on unmerge")
        golden_service.recompute(entity, [golden.pk, target.pk], reason=GoldenRecordVersion.Reason.UNMERGE,
                                 actor=steward.get_username(), note=note,
                                 event_types={golden.pk: ChangeEvent.Type.SPLIT}, force_version=True)
    target.refresh_from_db()
    return target


def undo_merge(*, survivor: GoldenRecord, absorbed: GoldenRecord, records: Sequence[int], steward,
               task: StewardTask | None = None, note: str = "") -> GoldenRecord:
    """Take back a merge: ``records`` (what ``absorbed`` brought) return to ``absorbed``, revived under its ID.

    Unlike an unmerge or a split, an undo says nothing about whether the two
    are the same thing: the steward's ``match`` decisions across the two
    groups are removed and no ``no_match`` is stored, and the task that the
    merge answered (``task``) is open again, so the pair goes back to review.
    Refused when the records moved on since (another merge, an unmerge).
    """
    _require_steward(steward)
    records = sorted({int(r) for r in records})
    with transaction.atomic():
        locked = _lock_goldens([survivor.pk, absorbed.pk])
        current, former = locked[survivor.pk], locked[absorbed.pk]
        entity = current.entity_type
        _require_matched(entity)
        members = _members(locked)[current.pk]
        remaining = [r for r in members if r not in records]
        if former.status != Status.RETIRED or former.merged_into_id != current.pk:
            raise StewardActionError(f"{former.golden_id} is no longer merged into {current.golden_id}; "
                                     "there is nothing to undo.")
        if not records or not set(records) <= set(members) or not remaining:
            raise StewardActionError(f"The records of {former.golden_id} moved since the merge; "
                                     "undo it from the golden record page instead.")
        across = [_pair(a, b) for a in records for b in remaining]
        cross = Q()
        for a, b in across:
            cross |= Q(record_a_id=a, record_b_id=b)
        MatchDecision.objects.filter(cross, origin=MatchDecision.Origin.STEWARD,
                                     state=MatchDecision.State.MATCH).delete()
        # Each side stays one group even if the merge's links ran through the other side.
        _connect(entity, records, steward, note or "kept together on undo")
        _connect(entity, remaining, steward, note or "kept together on undo")
        SourceRecord.objects.filter(pk__in=records).update(golden=former)
        GoldenRecord.objects.filter(pk=former.pk).update(status=Status.ACTIVE, merged_into=None)
        _realign_pair_tasks(records)
        _reopen_answered_by_merge(current, records, remaining, task)
        if task is not None:
            reopened = StewardTask.objects.filter(pk=task.pk, status=TaskStatus.RESOLVED, resolution="merged") \
                .exclude(dedupe_key__in=StewardTask.objects.filter(status=TaskStatus.OPEN).values("dedupe_key")) \
                .update(status=TaskStatus.OPEN, resolution="", resolution_note="", resolved_at=None,
                        resolved_by=None, golden=current, other_golden=former, version=F("version") + 1,
                        updated_at=timezone.now())
            if not reopened:
                log.info("task %s not reopened on undo: it changed since the merge", task.pk)
        golden_service.recompute(entity, [current.pk, former.pk], reason=GoldenRecordVersion.Reason.UNMERGE,
                                 actor=steward.get_username(), note=note or "merge undone",
                                 event_types={current.pk: ChangeEvent.Type.SPLIT}, force_version=True)
    former.refresh_from_db()
    return former


def split_golden(*, golden: GoldenRecord, groups: Sequence[Sequence[int]], steward, note: str = "") -> list[GoldenRecord]:
    """Split a golden record into groups of its source record ids; returns one golden record per group.

    The first group keeps the golden ID; each other group gets a new golden
    record, or revives the retired golden record whose records it is
    exactly. ``groups`` must cover every active record of the golden record
    once (deleted records stay with the first group). The steward's
    decisions: ``match`` (a spanning tree) within each group, ``no_match``
    across groups.
    """
    _require_steward(steward)
    try:
        groups = [[int(r) for r in group] for group in groups]
    except (TypeError, ValueError) as exc:
        raise StewardActionError("Groups are lists of source record ids.") from exc
    groups = [g for g in groups if g]
    if len(groups) < 2:
        raise StewardActionError("A split needs at least two non-empty groups of records.")
    flat = [r for g in groups for r in g]
    if len(flat) != len(set(flat)):
        raise StewardActionError("A record can be in only one group.")
    with transaction.atomic():
        locked = _lock_goldens([golden.pk])
        current = locked[golden.pk]
        entity = current.entity_type
        _require_matched(entity)
        _require_active(current, entity)
        members = _members(locked)[current.pk]
        missing, unknown = sorted(set(members) - set(flat)), sorted(set(flat) - set(members))
        if unknown:
            raise StewardActionError(f"Record(s) {', '.join(map(str, unknown))} are not active members of "
                                     f"{current.golden_id}.")
        if missing:
            raise StewardActionError(f"Every record must go into a group; missing: {', '.join(map(str, missing))}.")
        targets = [current, *_revived_or_new(entity, current, groups[1:])]
        _lock_goldens([t.pk for t in targets[1:]])
        for group, target in zip(groups[1:], targets[1:]):
            SourceRecord.objects.filter(pk__in=group).update(golden=target)
        _realign_pair_tasks([r for group in groups[1:] for r in group])
        across = [(a, b) for g1, g2 in combinations(groups, 2) for a in g1 for b in g2]
        _set_decisions(entity, across, MatchDecision.State.NO_MATCH, steward, note or "split by a steward")
        for first, second in combinations(targets, 2):
            _close_pair_tasks(first.pk, second.pk, steward, "not_a_match", note or "answered by a split")
        for group in groups:
            _connect(entity, group, steward, note or "split by a steward")
        golden_service.recompute(entity, [t.pk for t in targets], reason=GoldenRecordVersion.Reason.SPLIT,
                                 actor=steward.get_username(), note=note,
                                 event_types={current.pk: ChangeEvent.Type.SPLIT}, force_version=True)
    for target in targets:
        target.refresh_from_db()
    return targets


# --------------------------------------------------------------------------- #
# Overrides and conflicts
# --------------------------------------------------------------------------- #

def set_override(*, golden: GoldenRecord, attribute: str, value, reason: str, steward) -> Override:
    """Set a steward's value for one attribute; it wins over every source until cleared.

    The value is standardized like a source value of the attribute's type
    (a phone number becomes E.164, a money amount a plain decimal); a value
    the standardizer rejects raises ``StewardActionError`` with its reason.
    """
    _require_steward(steward)
    reason = (reason or "").strip()
    if not reason:
        raise StewardActionError("Give a reason for the override; it is shown next to the value.")
    with transaction.atomic():
        current = _lock_goldens([golden.pk])[golden.pk]
        entity = current.entity_type
        _require_active(current, entity)
        stored = standardize_override(entity, attribute, value, **_context_of(current))
        override, _ = Override.objects.update_or_create(
            golden=current, attribute=attribute,
            defaults={"value": stored, "reason": reason[:500], "created_by": steward, "created_at": timezone.now()},
        )
        golden_service.recompute(entity, [current.pk], reason=GoldenRecordVersion.Reason.OVERRIDE,
                                 actor=steward.get_username(), note=f"{attribute}: {reason}", force_version=True)
    golden.refresh_from_db()
    return override


def clear_override(*, golden: GoldenRecord, attribute: str, steward, reason: str = "") -> GoldenRecord:
    """Remove a steward's override; the attribute goes back to its survivorship rules."""
    _require_steward(steward)
    with transaction.atomic():
        current = _lock_goldens([golden.pk])[golden.pk]
        entity = current.entity_type
        deleted, _ = Override.objects.filter(golden=current, attribute=attribute).delete()
        if not deleted:
            raise StewardActionError(f"{current.golden_id} has no override on {attribute!r}.")
        golden_service.recompute(entity, [current.pk], reason=GoldenRecordVersion.Reason.OVERRIDE,
                                 actor=steward.get_username(),
                                 note=f"{attribute}: override cleared" + (f" ({reason})" if reason else ""),
                                 force_version=True)
    golden.refresh_from_db()
    return golden


def resolve_conflict(*, task: StewardTask, steward, value=None, record_id: int | None = None, reason: str,
                     expected_version: int | None = None) -> GoldenRecord:
    """Answer an attribute or price conflict with a value that becomes an override.

    Either pick a competing source record's value (``record_id``, one of the
    golden record's members) or type one (``value``). For a price conflict,
    picking a record takes its price *and* unit (or its validity window for
    overlapping windows), so the golden price stays consistent.
    """
    _require_steward(steward)
    reason = (reason or "").strip()
    if not reason:
        raise StewardActionError("Give a reason; it is kept with the override.")
    if (value is None) == (record_id is None):
        raise StewardActionError("Pick one source record's value or type a value (one of the two).")
    if task.kind not in CONFLICT_KINDS:
        raise StewardActionError(f"A {task.get_kind_display().lower()} task is not a value conflict.")
    if task.golden_id is None:
        raise StewardActionError(f"Task #{task.pk} is not about a golden record any more.")
    attributes = _conflict_attributes(task)
    with transaction.atomic():
        current = _lock_goldens([task.golden_id])[task.golden_id]
        close_task(task, steward=steward, resolution="override", note=reason, expected_version=expected_version)
        if task.golden_id != current.pk:
            raise StewardActionError(f"Task #{task.pk} moved to another golden record meanwhile; reload it.")
        entity = current.entity_type
        _require_active(current, entity)
        if record_id is not None:
            member = SourceRecord.objects.filter(pk=record_id, golden=current).first()
            if member is None:
                raise StewardActionError(f"Record {record_id} is not a member of {current.golden_id}.")
            chosen = {}
            for name in attributes:
                if member.attributes.get(name) in (None, ""):
                    raise StewardActionError(f"{member} has no {name} to pick.")
                chosen[name] = member.attributes[name]
            origin = f"{member.source_system.code}:{member.source_id}"
        else:
            chosen = {attributes[0]: value}
            origin = "typed"
        for name, picked in chosen.items():
            stored = standardize_override(entity, name, picked, **_context_of(current))
            Override.objects.update_or_create(
                golden=current, attribute=name,
                defaults={"value": stored, "reason": f"{reason} (conflict #{task.pk}, {origin})"[:500],
                          "created_by": steward, "created_at": timezone.now()},
            )
        golden_service.recompute(entity, [current.pk], reason=GoldenRecordVersion.Reason.CONFLICT,
                                 actor=steward.get_username(), note=f"{', '.join(chosen)}: {reason}",
                                 force_version=True)
    current.refresh_from_db()
    return current


def _context_of(golden: GoldenRecord) -> dict:
    """Where a steward's value is read: the golden record's country, else its sources' home region."""
    region = (SourceRecord.objects.filter(golden=golden).exclude(source_system__default_region="")
              .values_list("source_system__default_region", flat=True).order_by("id").first())
    return {"country": golden.values.get("country") or None, "region": region or None}


def standardize_override(entity, attribute: str, value, *, country: str | None = None, region: str | None = None):
    """The stored form of a steward's value, standardized by the attribute's type; raises on bad input."""
    spec = next((s for s in entity.attribute_specs if s.name == attribute), None)
    if spec is None:
        raise StewardActionError(
            f"{entity.code} has no attribute {attribute!r} (attributes: {', '.join(entity.attribute_names)}).")
    chain = golden_service.rules_for(entity).get(attribute)
    aggregates = chain is not None and chain._aggregates
    if aggregates:
        # An aggregate attribute holds a list of values with their sources:
        # the override is the list the steward gives (one value or several).
        raw_values = value if isinstance(value, (list, tuple)) else [value]
        entries = []
        for raw in raw_values:
            entries.append({"value": _standardize_one(spec, raw, country, region), "sources": ["steward"],
                            "record_ids": []})
        if not entries:
            raise StewardActionError(f"Give at least one value for {attribute}.")
        return entries
    return _standardize_one(spec, value, country, region)


def _standardize_one(spec, raw, country, region):
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise StewardActionError(f"Give a value for {spec.name} (to go back to the sources, clear the override).")
    if isinstance(raw, (dict, list)):
        raise StewardActionError(f"{spec.name} takes a single {spec.type} value.")
    context = Context(default_region=region or country, country=country)
    result = standardize_value(spec.type, raw, context, max_length=spec.max_length)
    if result.value is None:
        raise StewardActionError(f"{raw!r} is not a valid {spec.name} ({result.issue or spec.type}).")
    value = result.value
    if hasattr(value, "isoformat"):
        value = value.isoformat()
    return value


def _conflict_attributes(task: StewardTask) -> list[str]:
    details = task.details or {}
    if task.kind == StewardTask.Kind.PRICE_CONFLICT:
        return list(details.get("attributes") or ["unit_price", "uom"])
    attribute = details.get("attribute")
    if not attribute:
        raise StewardActionError(f"Task #{task.pk} does not name the attribute in conflict.")
    return [attribute]


# --------------------------------------------------------------------------- #
# Internals
# --------------------------------------------------------------------------- #

def _require_steward(user) -> None:
    if user is None or not getattr(user, "is_authenticated", False):
        raise PermissionDenied("Only data stewards may do this; sign in first.")
    if not isinstance(user, get_user_model()):
        # Decisions and overrides name the person who took them; a machine
        # credential (API client) acts on behalf of a steward's account.
        raise PermissionDenied("Steward actions are taken by a person with the Stewards role.")
    if not user.is_active or not is_steward(user):
        raise PermissionDenied(f"{user.get_username()} is not a data steward.")


def _require_closer(actor):
    """(user, label) of whoever may close a task: a steward, or an API client with the ``tasks`` scope."""
    from mdm.models import ApiClient

    if isinstance(actor, ApiClient):
        if not actor.has_scope("tasks"):
            raise PermissionDenied(f"API client {actor.name} lacks the 'tasks' scope.")
        return None, f"api:{actor.name}"
    _require_steward(actor)
    return actor, actor.get_username()


def acting_steward(principal, note: str = "") -> tuple:
    """``(person, note)`` for a steward action taken by ``principal``.

    A signed-in steward acts as themself. An API client acts for the steward
    an admin named on it (``ApiClient.acts_for``), and the note says which
    client it was, so history shows both the person answerable for the
    decision and the automation that took it.
    """
    from mdm.models import ApiClient

    if isinstance(principal, ApiClient):
        person = principal.acts_for
        if person is None:
            raise PermissionDenied(
                f"API client {principal.name} may close tasks but not decide them: an admin must set the "
                "steward it acts for.")
        _require_steward(person)
        return person, f"[api:{principal.name}] {note}".strip()
    _require_steward(principal)
    return principal, note


def _require_task_about(task: StewardTask, goldens: dict) -> None:
    """The task answered must concern the golden records acted on (a wrong id from a form is refused)."""
    concerned = {task.golden_id, task.other_golden_id} - {None}
    if concerned and not concerned & set(goldens):
        raise StewardActionError(f"Task #{task.pk} is about other golden records; nothing was applied.")


def _require_matched(entity) -> None:
    if entity.config.get("prices") is not None:
        # Golden prices are grouped by their key (customer, product, currency,
        # unit, window), not by matching: a regroup would undo a manual merge.
        raise StewardActionError(
            f"{entity.name} golden records are grouped by customer, product, currency and validity, not merged "
            "by hand; correct the source prices or override a value instead.")


def _require_active(golden: GoldenRecord, entity) -> None:
    if golden.entity_type_id != entity.pk:
        raise StewardActionError(f"{golden.golden_id} is a {golden.entity_type.code}, not a {entity.code}.")
    if golden.status == Status.RETIRED:
        survivor = golden_service.resolve(golden.golden_id)
        raise StewardActionError(
            f"{golden.golden_id} was already merged into {survivor.golden_id if survivor else 'another record'}; "
            "reload and act on that one.")


def _lock_goldens(pks: Iterable[int]) -> dict[int, GoldenRecord]:
    """Lock golden rows in id order (no deadlocks between overlapping actions) and return them fresh."""
    pks = sorted(set(pks))
    rows = list(GoldenRecord.objects.select_for_update(of=("self",), no_key=True).select_related("entity_type")
                .filter(pk__in=pks).order_by("pk"))
    found = {g.pk: g for g in rows}
    missing = [pk for pk in pks if pk not in found]
    if missing:
        raise StewardActionError("A golden record involved no longer exists; reload and try again.")
    for entity in {g.entity_type_id: g.entity_type for g in rows}.values():
        if not matching_service.gate_open(entity.pk):
            # Its write would undo this action or be undone by it (it works from what it loaded).
            raise StewardActionError(f"A full re-match of the {entity.name.lower()} records is running; nothing "
                                     "was changed. Try again when it has finished.")
    return found


def _members(goldens: dict[int, GoldenRecord]) -> dict[int, list[int]]:
    """Active (not deleted) member record ids of each golden record, sorted."""
    members: dict[int, list[int]] = {pk: [] for pk in goldens}
    for rid, golden_pk in (SourceRecord.objects.filter(golden_id__in=list(goldens), deleted=False)
                           .order_by("id").values_list("id", "golden_id")):
        members[golden_pk].append(rid)
    return members


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _decisions_among(record_ids: Sequence[int], *, states=None, origin=None):
    ids = list(record_ids)
    qs = MatchDecision.objects.filter(record_a_id__in=ids, record_b_id__in=ids)
    if states:
        qs = qs.filter(state__in=states)
    if origin:
        qs = qs.filter(origin=origin)
    return qs


def _set_decisions(entity, pairs: Iterable[tuple[int, int]], state: str, steward, note: str) -> None:
    """Store the steward's decision on each pair, replacing whatever was known about it."""
    pairs = sorted({_pair(a, b) for a, b in pairs if a != b})
    if not pairs:
        return
    now = timezone.now()
    MatchDecision.objects.bulk_create(
        [MatchDecision(entity_type=entity, record_a_id=a, record_b_id=b, state=state,
                       origin=MatchDecision.Origin.STEWARD, decided_by=steward, decided_at=now, note=note[:500])
         for a, b in pairs],
        batch_size=1000, update_conflicts=True, unique_fields=["record_a", "record_b"],
        update_fields=["state", "origin", "decided_by", "decided_at", "note"],
    )


def _components(record_ids: Sequence[int], edges: Iterable[tuple[int, int]]) -> list[set[int]]:
    parent = {r: r for r in record_ids}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        if a in parent and b in parent:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, set[int]] = {}
    for r in record_ids:
        groups.setdefault(find(r), set()).add(r)
    return sorted(groups.values(), key=min)


def _steward_components(record_ids: Sequence[int]) -> list[set[int]]:
    edges = _decisions_among(record_ids, states=[MatchDecision.State.MATCH], origin=MatchDecision.Origin.STEWARD)
    return _components(record_ids, edges.values_list("record_a_id", "record_b_id"))


def _connect(entity, record_ids: Sequence[int], steward, note: str) -> None:
    """Add the fewest steward ``match`` decisions that make ``record_ids`` one connected group.

    Existing steward match decisions count; each other component is linked
    to the one holding the lowest record id. The result is a spanning tree
    whenever the steward's earlier decisions were one.
    """
    if len(record_ids) < 2:
        return
    components = _steward_components(record_ids)
    if len(components) < 2:
        return
    root = min(components[0])
    _set_decisions(entity, [(root, min(c)) for c in components[1:]], MatchDecision.State.MATCH, steward, note)


def _revived_or_new(entity, golden: GoldenRecord, groups: Sequence[Sequence[int]]) -> list[GoldenRecord]:
    """A golden record for each group leaving ``golden``: a revived retired one, or a new one."""
    former: dict[frozenset, GoldenRecord] = {}
    for retired in GoldenRecord.objects.filter(merged_into=golden, status=Status.RETIRED).order_by("pk"):
        last_active = (GoldenRecordVersion.objects.filter(golden=retired).exclude(status=Status.RETIRED)
                       .order_by("-version").values_list("members", flat=True).first())
        if last_active:
            former.setdefault(frozenset(last_active), retired)
    targets: list[GoldenRecord | None] = []
    for group in groups:
        revived = former.pop(frozenset(group), None)
        targets.append(revived)
    new = iter(golden_service.create_goldens(entity, sum(1 for t in targets if t is None)))
    result = []
    for target in targets:
        if target is None:
            result.append(next(new))
        else:
            GoldenRecord.objects.filter(pk=target.pk).update(status=Status.ACTIVE, merged_into=None)
            target.status, target.merged_into = Status.ACTIVE, None
            result.append(target)
    return result


def _retarget_tasks(entity, retired_pks: list[int], survivor: GoldenRecord, steward) -> None:
    """Open tasks about retired golden records now concern the survivor.

    A match task between two records that are now one golden record has
    been answered by the merge; a conflict task of a retired record is
    re-raised on the survivor by its recompute if it still holds.
    """
    now = timezone.now()
    closing = dict(status=TaskStatus.RESOLVED, resolution="merged", resolved_by=steward, resolved_at=now,
                   resolution_note=f"answered by the merge into {survivor.golden_id}",
                   version=F("version") + 1, updated_at=now)
    open_tasks = StewardTask.objects.filter(status=TaskStatus.OPEN)
    involved = [survivor.pk, *retired_pks]
    open_tasks.filter(kind__in=PAIR_KINDS, golden_id__in=involved, other_golden_id__in=involved).update(**closing)
    open_tasks.filter(kind__in=CONFLICT_KINDS, golden_id__in=retired_pks).update(
        status=TaskStatus.DISMISSED, resolution="golden_retired", resolved_at=now,
        resolution_note=f"merged into {survivor.golden_id}", version=F("version") + 1, updated_at=now)
    open_tasks.filter(golden_id__in=retired_pks).update(golden=survivor, version=F("version") + 1, updated_at=now)
    open_tasks.filter(other_golden_id__in=retired_pks).update(other_golden=survivor, version=F("version") + 1,
                                                              updated_at=now)


def _realign_pair_tasks(record_ids: Sequence[int]) -> None:
    """Open match tasks follow their records: after ``record_ids`` moved to other golden
    records (undo, unmerge, split), a task about them names the golden records they are in now.

    A merge points such tasks at the survivor (``_retarget_tasks``); without
    this, taking the merge back would leave them naming the survivor while
    their record sits in the revived golden record again.
    """
    ids = list(record_ids)
    if not ids:
        return
    StewardTask.objects.filter(Q(record_id__in=ids) | Q(other_record_id__in=ids), status=TaskStatus.OPEN,
                               kind__in=PAIR_KINDS).update(
        golden=_golden_now("record_id", "golden_id"), other_golden=_golden_now("other_record_id", "other_golden_id"),
        version=F("version") + 1, updated_at=timezone.now())


def _reopen_answered_by_merge(survivor: GoldenRecord, records: Sequence[int], remaining: Sequence[int],
                              task: StewardTask | None) -> None:
    """Match tasks across the two sides that the merge closed as answered (``_retarget_tasks``) are
    open questions again once it is undone; they name the golden records their records are in now."""
    across = (Q(record_id__in=list(records), other_record_id__in=list(remaining))
              | Q(record_id__in=list(remaining), other_record_id__in=list(records)))
    answered = StewardTask.objects.filter(
        across, status=TaskStatus.RESOLVED, resolution="merged", kind__in=PAIR_KINDS,
        resolution_note=f"answered by the merge into {survivor.golden_id}",
    ).exclude(dedupe_key__in=StewardTask.objects.filter(status=TaskStatus.OPEN).values("dedupe_key"))
    if task is not None:
        answered = answered.exclude(pk=task.pk)
    answered.update(status=TaskStatus.OPEN, resolution="", resolution_note="", resolved_at=None, resolved_by=None,
                    golden=_golden_now("record_id", "golden_id"),
                    other_golden=_golden_now("other_record_id", "other_golden_id"),
                    version=F("version") + 1, updated_at=timezone.now())


def _golden_now(record_field: str, golden_field: str):
    """The golden record a task's record is in now (the task's own field when it names no record)."""
    return Coalesce(Subquery(SourceRecord.objects.filter(pk=OuterRef(record_field)).values("golden_id")[:1]),
                    F(golden_field))


def _close_pair_tasks(a: int, b: int, steward, resolution: str, note: str) -> None:
    now = timezone.now()
    StewardTask.objects.filter(
        Q(golden_id=a, other_golden_id=b) | Q(golden_id=b, other_golden_id=a),
        status=TaskStatus.OPEN, kind__in=PAIR_KINDS,
    ).update(status=TaskStatus.RESOLVED, resolution=resolution, resolution_note=note, resolved_by=steward,
             resolved_at=now, version=F("version") + 1, updated_at=now)
