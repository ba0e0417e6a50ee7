"""Steward actions: merge, not-a-match, unmerge, split, overrides, conflicts and the task queue."""
from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from golden_helpers import (
    admin,
    fresh,
    golden_of,
    ingest,
    members,
    payment_terms_conflict,
    steward,
    viewer,
)

from mdm.models import (
    ChangeEvent,
    GoldenRecordVersion,
    MatchDecision,
    Override,
    SourceRecord,
    StewardTask,
)
from mdm.services import golden as golden_service
from mdm.services import stewardship as s
from mdm.services.stewardship import StewardActionError, TaskAlreadyHandled

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(customer_type, erp, crm):
    """Two golden customers that are the same company: ERP's and CRM's."""
    e1, = ingest(erp, customer_type, {"id": "E1", "name": "Acme Supply Inc", "credit_limit": "10000",
                                      "phone": "415-555-0134", "city": "Austin", "payment_terms": "NET30"})
    c1, = ingest(crm, customer_type, {"id": "C1", "name": "ACME SUPPLY", "email": "ap@acme.example",
                                      "phone": "415-555-0199", "city": "Dallas"})
    return golden_of(customer_type, e1), golden_of(customer_type, c1)


def pair_task(first, second, kind="possible_match"):
    return StewardTask.objects.create(kind=kind, entity_type=first.entity_type, golden=first, other_golden=second,
                                      dedupe_key=f"pair:{first.pk}:{second.pk}:{kind}", title="same company?")


def decisions():
    return {(d.record_a_id, d.record_b_id): (d.state, d.origin) for d in MatchDecision.objects.all()}


def connected(record_ids, edges):
    ids = set(record_ids)
    seen, todo = set(), [min(ids)]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        todo += [b for a, b in edges if a == node] + [a for a, b in edges if b == node]
    return seen == ids


# --- merge ---------------------------------------------------------------------

def test_a_merge_moves_the_records_and_retires_the_other_golden_record(acme):
    first, second = acme
    alice = steward("alice")
    task = pair_task(first, second)
    survivor = s.merge_goldens(survivor=first, others=[second], steward=alice, task=task, note="same tax id")
    second = fresh(second)
    assert survivor == first
    assert members(survivor) == sorted(SourceRecord.objects.values_list("id", flat=True))
    assert second.status == "retired" and second.merged_into == survivor and second.values == {}
    assert survivor.values["email"] == "ap@acme.example"  # the CRM's email now survives in the merged record
    assert fresh(task).status == "resolved" and task.resolution == "merged" and task.resolved_by == alice
    events = {e.golden_id: e.event_type for e in ChangeEvent.objects.filter(golden_version__gt=1)}
    assert events == {survivor.pk: "merged", second.pk: "retired"}
    version = GoldenRecordVersion.objects.get(golden=survivor, version=survivor.version)
    assert (version.reason, version.actor, version.note) == ("merge", "alice", "same tax id")


def test_a_retired_golden_id_still_resolves_to_its_survivor(acme):
    first, second = acme
    s.merge_goldens(survivor=first, others=[second], steward=steward())
    assert golden_service.resolve(second.golden_id) == first
    assert ChangeEvent.objects.filter(golden=second).last().payload["merged_into"] == first.golden_id


def test_a_merge_stores_steward_match_decisions_spanning_every_record(customer_type, erp, crm):
    a = golden_of(customer_type, *ingest(erp, customer_type, {"id": "E1", "name": "Acme"}, {"id": "E2", "name": "Acme"}))
    b = golden_of(customer_type, *ingest(crm, customer_type, {"id": "C1", "name": "Acme"}))
    c = golden_of(customer_type, *ingest(crm, customer_type, {"id": "C2", "name": "Acme"}))
    everyone = members(a) + members(b) + members(c)
    s.merge_goldens(survivor=b, others=[a, c], steward=steward())
    edges = [pair for pair, (state, origin) in decisions().items() if state == "match" and origin == "steward"]
    assert connected(everyone, edges) and len(edges) == len(everyone) - 1


def test_a_merge_drops_earlier_not_a_match_answers_between_the_records(acme):
    first, second = acme
    mary = steward()
    s.not_a_match(golden=first, other=second, steward=mary)
    s.merge_goldens(survivor=first, others=[second], steward=mary)
    assert [state for state, _ in decisions().values()] == ["match"]


def test_a_golden_record_cannot_be_merged_twice(acme, customer_type, crm):
    first, second = acme
    third = golden_of(customer_type, *ingest(crm, customer_type, {"id": "C9", "name": "Acme"}))
    s.merge_goldens(survivor=first, others=[second], steward=steward())
    with pytest.raises(StewardActionError, match=f"{second.golden_id} was already merged into {first.golden_id}"):
        s.merge_goldens(survivor=third, others=[second], steward=steward())
    assert members(third) == [SourceRecord.objects.get(source_id="C9").pk]


def test_only_stewards_may_merge(acme):
    first, second = acme
    for someone in (viewer(), None):
        with pytest.raises(PermissionDenied):
            s.merge_goldens(survivor=first, others=[second], steward=someone)
    assert fresh(second).status == "active"
    s.merge_goldens(survivor=first, others=[second], steward=admin())  # admins are stewards too
    assert fresh(second).status == "retired"


def test_a_stale_task_version_applies_nothing(acme):
    first, second = acme
    task = pair_task(first, second)
    seen = task.version
    s.assign_task(task, steward("bob"), steward())  # someone touched the task meanwhile
    with pytest.raises(TaskAlreadyHandled, match="changed since you opened it"):
        s.merge_goldens(survivor=first, others=[second], steward=steward(), task=task, expected_task_version=seen)
    assert fresh(second).status == "active" and fresh(task).status == "open"


def test_a_task_about_other_golden_records_is_refused(acme, customer_type, crm):
    first, second = acme
    third = golden_of(customer_type, *ingest(crm, customer_type, {"id": "C9", "name": "Acme"}))
    unrelated = pair_task(third, third)
    with pytest.raises(StewardActionError, match="about other golden records"):
        s.merge_goldens(survivor=first, others=[second], steward=steward(), task=unrelated)
    assert fresh(unrelated).status == "open" and fresh(second).status == "active"


def test_open_tasks_about_a_retired_golden_record_follow_the_survivor(acme, customer_type, crm):
    first, second = acme
    third = golden_of(customer_type, *ingest(crm, customer_type, {"id": "C9", "name": "Acme"}))
    about_pair = pair_task(first, second)
    about_third = pair_task(third, second)
    s.merge_goldens(survivor=first, others=[second], steward=steward())
    assert fresh(about_pair).status == "resolved"  # answered by the merge itself
    about_third = fresh(about_third)
    assert about_third.status == "open" and about_third.other_golden == first


# --- not a match -----------------------------------------------------------------

def test_not_a_match_records_a_steward_no_match_for_every_pair_and_closes_the_tasks(customer_type, erp, crm):
    a = golden_of(customer_type, *ingest(erp, customer_type, {"id": "E1", "name": "Acme"}, {"id": "E2", "name": "Acme"}))
    b = golden_of(customer_type, *ingest(crm, customer_type, {"id": "C1", "name": "Acme Labs"}))
    task, duplicate = pair_task(a, b), pair_task(b, a, kind="merge_proposal")
    s.not_a_match(golden=a, other=b, steward=steward("carol"), task=task, note="different tax ids")
    assert set(decisions().values()) == {("no_match", "steward")} and len(decisions()) == 2
    assert fresh(task).resolution == "not_a_match" and fresh(duplicate).status == "resolved"
    history = GoldenRecordVersion.objects.filter(reason="not_a_match")
    assert sorted(v.golden_id for v in history) == sorted([a.pk, b.pk])
    assert {v.actor for v in history} == {"carol"}
    assert members(a) != members(b) and fresh(a).status == fresh(b).status == "active"


# --- unmerge -------------------------------------------------------------------------

def test_unmerging_what_a_merge_brought_in_restores_both_golden_records_exactly(acme):
    first, second = acme
    before = {g.golden_id: (g.values, members(g)) for g in (first, second)}
    s.set_override(golden=second, attribute="city", value="Houston", reason="HQ moved", steward=steward())
    before[second.golden_id] = (fresh(second).values, members(second))
    record = SourceRecord.objects.get(source_id="C1")
    s.merge_goldens(survivor=first, others=[second], steward=steward())
    landed = s.unmerge_record(record=record, steward=steward(), note="wrong merge")
    assert landed == second and fresh(second).status == "active" and second.merged_into is None
    after = {g.golden_id: (fresh(g).values, members(g)) for g in (first, second)}
    assert after == before
    assert ChangeEvent.objects.filter(golden=first).last().event_type == "split"
    assert golden_service.resolve(second.golden_id) == second


def test_undoing_a_merge_restores_both_golden_records_and_reopens_the_question(acme):
    first, second = acme
    before = {g.golden_id: (g.values, members(g)) for g in (first, second)}
    task = pair_task(first, second)
    moved = members(second)
    s.merge_goldens(survivor=first, others=[second], steward=steward(), task=task)
    assert fresh(task).status == "resolved"
    revived = s.undo_merge(survivor=first, absorbed=second, records=moved, steward=steward(), task=task)
    assert revived == second and revived.status == "active" and revived.merged_into is None
    assert {g.golden_id: (fresh(g).values, members(g)) for g in (first, second)} == before
    # Unlike an unmerge, an undo does not answer "not a match": the pair is back in review.
    assert not MatchDecision.objects.filter(origin="steward").exists()
    task = fresh(task)
    assert task.status == "open" and {task.golden_id, task.other_golden_id} == {first.pk, second.pk}
    with pytest.raises(StewardActionError, match="no longer merged"):
        s.undo_merge(survivor=first, absorbed=second, records=moved, steward=steward())


def record_task(first, second):
    """An open possible match between two source records, naming the golden records they are in."""
    return StewardTask.objects.create(kind="possible_match", entity_type=first.entity_type, golden=first.golden,
                                      other_golden=second.golden, record=first, other_record=second,
                                      dedupe_key=f"rec:{first.pk}:{second.pk}", title="same?")


def test_undoing_a_merge_gives_the_tasks_the_merge_retargeted_back_to_the_revived_golden_record(
        acme, customer_type, erp):
    first, second = acme
    third, = ingest(erp, customer_type, {"id": "E9", "name": "Acme Supply West"})
    golden_of(customer_type, third)
    crm_record = second.members.get()
    elsewhere = record_task(fresh(crm_record), fresh(third))  # about the CRM record and a third company
    moved = members(second)
    s.merge_goldens(survivor=first, others=[second], steward=steward())
    assert fresh(elsewhere).golden == first  # the merge pointed it at the survivor
    s.undo_merge(survivor=first, absorbed=second, records=moved, steward=steward())
    elsewhere = fresh(elsewhere)
    assert elsewhere.status == "open" and (elsewhere.golden, elsewhere.other_golden) == (second, fresh(third).golden)


def test_undoing_a_merge_reopens_the_other_questions_the_merge_had_answered(customer_type, erp, crm):
    e1, = ingest(erp, customer_type, {"id": "E1", "name": "Acme"})
    c1, c2 = ingest(crm, customer_type, {"id": "C1", "name": "ACME"}, {"id": "C2", "name": "Acme Inc"})
    first, second = golden_of(customer_type, e1), golden_of(customer_type, c1, c2)
    asked, also = record_task(fresh(e1), fresh(c1)), record_task(fresh(e1), fresh(c2))
    moved = members(second)
    s.merge_goldens(survivor=first, others=[second], steward=steward(), task=asked)
    assert fresh(also).status == "resolved" and also.resolution_note.startswith("answered by the merge")
    s.undo_merge(survivor=first, absorbed=second, records=moved, steward=steward(), task=asked)
    for task in (fresh(asked), fresh(also)):
        assert task.status == "open" and {task.golden_id, task.other_golden_id} == {first.pk, second.pk}


def test_an_unmerge_moves_the_records_tasks_with_it_and_answers_those_inside_the_old_golden_record(
        customer_type, erp, crm):
    e1, e2 = ingest(erp, customer_type, {"id": "E1", "name": "Acme"}, {"id": "E2", "name": "Acme West"})
    c9, = ingest(crm, customer_type, {"id": "C9", "name": "Acme W"})
    golden, other = golden_of(customer_type, e1, e2), golden_of(customer_type, c9)
    inside, outside = record_task(fresh(e1), fresh(e2)), record_task(fresh(e2), fresh(c9))
    landed = s.unmerge_record(record=e2, steward=steward(), note="a branch")
    assert members(golden) == [e1.pk] and members(landed) == [e2.pk]
    assert fresh(inside).status == "resolved" and inside.resolution == "not_a_match"
    outside = fresh(outside)
    assert outside.status == "open" and (outside.golden, outside.other_golden) == (landed, other)


def test_a_split_answers_the_tasks_between_its_groups(customer_type, erp, crm):
    e1, e2 = ingest(erp, customer_type, {"id": "E1", "name": "Acme"}, {"id": "E2", "name": "Acme West"})
    c1, = ingest(crm, customer_type, {"id": "C1", "name": "ACME"})
    golden = golden_of(customer_type, e1, e2, c1)
    across, within = record_task(fresh(c1), fresh(e2)), record_task(fresh(e1), fresh(c1))
    s.split_golden(golden=golden, groups=[[e1.pk, c1.pk], [e2.pk]], steward=steward())
    assert fresh(across).status == "resolved" and across.resolution == "not_a_match"
    assert fresh(within).status == "open" and (within.golden, within.other_golden) == (golden, golden)


def test_unmerging_an_original_record_gives_it_a_new_golden_record(customer_type, erp, crm):
    e1, e2 = ingest(erp, customer_type, {"id": "E1", "name": "Acme"}, {"id": "E2", "name": "Acme West"})
    golden = golden_of(customer_type, e1, e2)
    landed = s.unmerge_record(record=e2, steward=steward())
    assert landed != golden and members(landed) == [e2.pk] and members(golden) == [e1.pk]
    assert ChangeEvent.objects.filter(golden=landed).get().event_type == "created"
    assert decisions() == {(e1.pk, e2.pk): ("no_match", "steward")}


def test_an_unmerged_record_loses_its_steward_links_but_the_others_stay_linked(customer_type, erp):
    e1, e2, e3 = ingest(erp, customer_type, *[{"id": f"E{i}", "name": "Acme"} for i in (1, 2, 3)])
    first, second, third = (golden_of(customer_type, r) for r in (e1, e2, e3))
    s.merge_goldens(survivor=first, others=[second, third], steward=steward())  # a star around e1
    s.unmerge_record(record=e1, steward=steward())
    d = decisions()
    assert d[(e1.pk, e2.pk)] == d[(e1.pk, e3.pk)] == ("no_match", "steward")
    assert d[(e2.pk, e3.pk)] == ("match", "steward")  # re-linked directly, so a re-match keeps them together


def test_the_only_record_of_a_golden_record_cannot_be_unmerged(acme):
    with pytest.raises(StewardActionError, match="only record"):
        s.unmerge_record(record=SourceRecord.objects.get(source_id="E1"), steward=steward())


# --- split ------------------------------------------------------------------------------

def test_a_split_keeps_the_id_for_the_first_group_and_records_the_decisions(customer_type, erp, crm):
    e1, e2 = ingest(erp, customer_type, {"id": "E1", "name": "Acme"}, {"id": "E2", "name": "Acme North"})
    c1, c2 = ingest(crm, customer_type, {"id": "C1", "name": "Acme"}, {"id": "C2", "name": "Acme North"})
    golden = golden_of(customer_type, e1, e2, c1, c2)
    kept, new = s.split_golden(golden=golden, groups=[[e1.pk, c1.pk], [e2.pk, c2.pk]], steward=steward())
    assert kept == golden and members(kept) == [e1.pk, c1.pk] and members(new) == [e2.pk, c2.pk]
    assert kept.values["name"] == "Acme" and new.values["name"] == "Acme North"
    d = decisions()
    assert d[(e1.pk, c1.pk)] == d[(e2.pk, c2.pk)] == ("match", "steward")
    assert {d[(a, b)] for a in (e1.pk, c1.pk) for b in (e2.pk, c2.pk) if a < b} == {("no_match", "steward")}
    assert ChangeEvent.objects.filter(golden=golden).last().event_type == "split"


@pytest.mark.parametrize("groups, message", [
    ("single", "at least two"),
    ("missing", "missing"),
    ("unknown", "not active members"),
    ("twice", "only one group"),
])
def test_a_split_must_partition_the_records(customer_type, erp, groups, message):
    e1, e2, e3 = ingest(erp, customer_type, *[{"id": f"E{i}", "name": "Acme"} for i in (1, 2, 3)])
    golden = golden_of(customer_type, e1, e2, e3)
    groups = {"single": [[e1.pk, e2.pk, e3.pk]], "missing": [[e1.pk], [e2.pk]], "unknown": [[e1.pk, e2.pk], [e3.pk, 10**9]],
              "twice": [[e1.pk, e2.pk], [e2.pk, e3.pk]]}.get(groups, groups)
    with pytest.raises(StewardActionError, match=message):
        s.split_golden(golden=golden, groups=groups, steward=steward())
    assert members(golden) == [e1.pk, e2.pk, e3.pk]


# --- overrides ---------------------------------------------------------------------

def test_an_override_is_standardized_and_survives_recomputes_until_cleared(acme, customer_type, erp):
    first, _ = acme
    s.set_override(golden=first, attribute="credit_limit", value="$12,500", reason="approved by finance",
                   steward=steward("dana"))
    assert fresh(first).values["credit_limit"] == "12500.00"
    assert first.lineage["credit_limit"]["override"]["by"] == "dana"
    ingest(erp, customer_type, {"id": "E1", "name": "Acme Supply Inc", "credit_limit": "99000"})  # the ERP changes
    golden_service.recompute(customer_type, [first.pk], reason="ingest")
    assert fresh(first).values["credit_limit"] == "12500.00"
    assert first.lineage["credit_limit"]["override"]["computed"] == "99000.00"
    s.clear_override(golden=first, attribute="credit_limit", steward=steward())
    assert fresh(first).values["credit_limit"] == "99000.00"


def test_an_override_of_an_aggregate_attribute_is_a_list_of_values(acme):
    first, _ = acme
    s.set_override(golden=first, attribute="phone", value=["(415) 555-0100"], reason="main line", steward=steward())
    assert [entry["value"] for entry in fresh(first).values["phone"]] == ["+14155550100"]


@pytest.mark.parametrize("attribute, value, message", [
    ("credit_limt", "1", "no attribute 'credit_limt'"),
    ("credit_limit", "lots", "not a valid credit_limit"),
    ("email", "not-an-email", "not a valid email"),
    ("city", "  ", "Give a value"),
])
def test_an_invalid_override_is_refused_with_a_clear_message(acme, attribute, value, message):
    first, _ = acme
    with pytest.raises(StewardActionError, match=message):
        s.set_override(golden=first, attribute=attribute, value=value, reason="because", steward=steward())
    assert not Override.objects.exists() and fresh(first).version == 1


def test_an_override_needs_a_reason(acme):
    with pytest.raises(StewardActionError, match="reason"):
        s.set_override(golden=acme[0], attribute="city", value="Austin", reason=" ", steward=steward())


# --- answering a match task ----------------------------------------------------------

def test_answering_a_match_task_merges_into_the_golden_record_with_more_sources(customer_type, erp, crm):
    e1, = ingest(erp, customer_type, {"id": "E1", "name": "Acme"})
    c1, c2 = ingest(crm, customer_type, {"id": "C1", "name": "ACME"}, {"id": "C2", "name": "Acme Inc"})
    small, big = golden_of(customer_type, e1), golden_of(customer_type, c1, c2)
    kept = s.answer_match_task(pair_task(small, big), merge=True, steward=steward())
    assert kept == big and fresh(small).merged_into == big


def test_a_match_task_inside_one_golden_record_is_confirmed_or_separated(customer_type, erp, crm):
    e1, = ingest(erp, customer_type, {"id": "E1", "name": "Acme"})
    c1, c2 = ingest(crm, customer_type, {"id": "C1", "name": "ACME"}, {"id": "C2", "name": "Acme Inc"})
    golden = golden_of(customer_type, e1, c1, c2)

    def task(record, other):
        return StewardTask.objects.create(kind="possible_match", entity_type=customer_type, golden=golden,
                                          other_golden=golden, record=record, other_record=other,
                                          dedupe_key=f"in:{record.pk}:{other.pk}", title="same?")

    confirm = task(e1, c1)
    assert s.answer_match_task(confirm, merge=True, steward=steward("ivy")) == golden
    assert decisions()[(e1.pk, c1.pk)] == ("match", "steward") and fresh(confirm).resolution == "merged"
    last = GoldenRecordVersion.objects.filter(golden=golden).order_by("-version").first()
    assert (last.reason, last.actor, last.note) == ("merge", "ivy", "match confirmed")
    separate = task(e1, c2)
    apart = s.answer_match_task(separate, merge=False, steward=steward(), note="a branch")
    assert members(apart) == [c2.pk] and members(golden) == [e1.pk, c1.pk]
    assert fresh(separate).status == "resolved" and separate.resolution == "not_a_match"


def test_only_match_tasks_are_answered_as_matches(conflicted):
    _, task, _ = conflicted
    with pytest.raises(StewardActionError, match="not about a possible match"):
        s.answer_match_task(task, merge=True, steward=steward())


# --- conflicts ---------------------------------------------------------------------

@pytest.fixture
def conflicted(customer_type, erp, crm):
    return payment_terms_conflict(customer_type, erp, crm)


def test_resolving_a_conflict_with_a_sources_value_overrides_and_closes_it(conflicted):
    golden, task, crm_record = conflicted
    s.resolve_conflict(task=task, steward=steward(), record_id=crm_record.pk, reason="CRM has the new contract")
    golden = fresh(golden)
    assert golden.values["payment_terms"] == "NET45" and golden.lineage["payment_terms"]["rule"] == "override"
    assert fresh(task).status == "resolved" and task.resolution == "override"
    golden_service.recompute(golden.entity_type, [golden.pk], reason="rematch")
    assert not StewardTask.objects.filter(kind="attribute_conflict", status="open").exists()


def test_resolving_a_conflict_with_a_typed_value(conflicted):
    golden, task, _ = conflicted
    s.resolve_conflict(task=task, steward=steward(), value="net 60", reason="renegotiated")
    assert fresh(golden).values["payment_terms"] == "NET 60"


def test_a_conflict_can_be_resolved_only_once(conflicted):
    golden, task, crm_record = conflicted
    stale = StewardTask.objects.get(pk=task.pk)
    s.resolve_conflict(task=task, steward=steward("erin"), value="NET60", reason="renegotiated")
    with pytest.raises(TaskAlreadyHandled, match="already resolved by erin"):
        s.resolve_conflict(task=stale, steward=steward(), record_id=crm_record.pk, reason="CRM")
    assert fresh(golden).values["payment_terms"] == "NET60"


def test_a_value_from_outside_the_golden_record_is_refused(conflicted, customer_type, crm):
    _, task, _ = conflicted
    stranger, = ingest(crm, customer_type, {"id": "C7", "name": "Other", "payment_terms": "NET10"})
    with pytest.raises(StewardActionError, match="not a member"):
        s.resolve_conflict(task=task, steward=steward(), record_id=stranger.pk, reason="?")
    assert fresh(task).status == "open"  # the whole action rolled back


def test_a_dismissed_conflict_is_not_raised_again_until_the_values_change(conflicted, customer_type, crm):
    golden, task, _ = conflicted
    s.dismiss_task(task, steward=steward(), note="both are fine")
    golden_service.recompute(customer_type, [golden.pk], reason="rematch", force_version=True)
    assert not StewardTask.objects.filter(status="open").exists()
    ingest(crm, customer_type, {"id": "C1", "name": "Acme", "payment_terms": "NET90"})
    golden_service.recompute(customer_type, [golden.pk], reason="ingest")
    assert StewardTask.objects.get(status="open").details["attribute"] == "payment_terms"


# --- the task queue -------------------------------------------------------------------

def test_claiming_assigning_and_skipping_tasks(acme):
    task = pair_task(*acme)
    frank, gina = steward("frank"), steward("gina")
    s.claim_task(task, steward=frank)
    assert fresh(task).assignee == frank
    s.claim_task(task, steward=frank)  # claiming one's own task again is fine
    with pytest.raises(TaskAlreadyHandled, match="already claimed by frank"):
        s.claim_task(task, steward=gina)
    s.skip_task(task, steward=frank)
    task = fresh(task)
    assert task.assignee is None and task.status == "open" and task.details["skipped_by"] == ["frank"]
    s.assign_task(task, gina, frank)
    assert fresh(task).assignee == gina
    with pytest.raises(StewardActionError, match="not a data steward"):
        s.assign_task(task, viewer("henry"), frank)


def test_closing_a_task_twice_says_who_closed_it(acme):
    task = pair_task(*acme)
    copy = StewardTask.objects.get(pk=task.pk)
    s.close_task(task, steward=steward("ivan"), resolution="dismissed", note="not relevant")
    assert task.status == "dismissed"
    with pytest.raises(TaskAlreadyHandled, match="already dismissed by ivan"):
        s.close_task(copy, steward=steward(), resolution="merged")
