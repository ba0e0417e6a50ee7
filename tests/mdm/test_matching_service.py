"""Matching in the hub: batch and incremental, stable golden IDs, steward decisions kept."""
from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.db.models import Count

from matching.evaluate import pairwise_scores
from mdm.demo import generator
from mdm.demo.load import ingest_demo_files, load_configs
from mdm.models import (
    EntityType,
    GoldenRecord,
    MatchDecision,
    MatchModel,
    SourceRecord,
    SourceSystem,
    StewardTask,
)
from mdm.services import golden as golden_service
from mdm.services import matching
from mdm.services.ingest import ingest_payloads
from mdm.services.matching import ensure_explanation, match_all, match_candidate

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(tmp_path):
    """A small generated demo, ingested (matching deferred), with its ground truth."""
    load_configs()
    generator.generate(tmp_path, customers=150, products=60, prices=50, seed=11)
    ingest_demo_files(tmp_path, report=lambda line: None)
    truth = {}
    with open(tmp_path / "ground_truth.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["source_id"]:
                truth[(row["entity_type"], row["source"], row["source_id"])] = row["entity_key"]
    return truth


def clusters_of(entity_code: str) -> dict[int, list[tuple[str, str]]]:
    out: dict[int, list] = {}
    for golden, source, source_id in SourceRecord.objects.filter(
            entity_type__code=entity_code, deleted=False).values_list("golden_id", "source_system__code", "source_id"):
        out.setdefault(golden, []).append((source, source_id))
    return out


def f1_against_truth(entity_code: str, truth: dict) -> float:
    predicted: dict[int, list[int]] = {}
    true_clusters: dict[str, list[int]] = {}
    for rid, golden, source, source_id in SourceRecord.objects.filter(
            entity_type__code=entity_code, deleted=False).values_list("id", "golden_id", "source_system__code", "source_id"):
        predicted.setdefault(golden, []).append(rid)
        true_clusters.setdefault(truth[(entity_code, source, source_id)], []).append(rid)
    return pairwise_scores(predicted.values(), truth_clusters=true_clusters.values())["f1"]


def test_batch_matching_puts_every_active_record_in_exactly_one_golden_record(demo):
    stats = match_all("customer")
    assert stats.records == SourceRecord.objects.filter(entity_type__code="customer", deleted=False).count()
    assert not SourceRecord.objects.filter(entity_type__code="customer", deleted=False, golden__isnull=True).exists()
    goldens = GoldenRecord.objects.filter(entity_type__code="customer", status="active")
    assert goldens.count() == len(clusters_of("customer"))
    assert all(g.golden_id.startswith("CUS-") and g.version >= 1 and g.values.get("name") for g in goldens)
    assert MatchModel.objects.get(entity_type__code="customer").version == 1
    assert f1_against_truth("customer", demo) >= 0.95


def test_products_match_across_erp_wms_ecom_and_crm(demo):
    match_all("product")
    assert f1_against_truth("product", demo) >= 0.95


def test_a_rerun_never_renames_a_golden_record(demo):
    match_all("customer")
    before = dict(SourceRecord.objects.filter(entity_type__code="customer", deleted=False)
                  .values_list("id", "golden__golden_id"))
    stats = match_all("customer")
    after = dict(SourceRecord.objects.filter(entity_type__code="customer", deleted=False)
                 .values_list("id", "golden__golden_id"))
    assert after == before
    assert stats.goldens_created == 0 and stats.goldens_changed == 0


def test_possible_matches_become_steward_tasks_that_explain_themselves(demo):
    match_all("customer")
    task = StewardTask.objects.filter(kind__in=["possible_match", "merge_proposal"], status="open").first()
    assert task is not None, "the demo plants ambiguous pairs"
    assert "explanation" not in task.details  # computed when first needed, then kept
    explanation = ensure_explanation(task)
    task.refresh_from_db()
    assert task.details["explanation"] == explanation
    total = explanation["prior_weight"] + sum(c["weight"] for c in explanation["comparisons"]) \
        + sum(r["weight"] for r in explanation["rules"])
    assert total == pytest.approx(explanation["match_weight"], abs=1e-3)
    assert {c["name"] for c in explanation["comparisons"]} >= {"name"}
    assert task.golden_id != task.other_golden_id
    assert MatchDecision.objects.filter(state="possible", origin="auto").exists()


def test_a_match_task_keeps_the_source_systems_of_its_records(demo):
    match_all("customer")
    tasks = StewardTask.objects.filter(kind__in=["possible_match", "merge_proposal"]).select_related(
        "record", "other_record")
    assert tasks.exists()
    for task in tasks:
        assert task.record_source_id == task.record.source_system_id
        assert task.other_record_source_id == task.other_record.source_system_id


def test_steward_decisions_survive_a_full_rematch(demo):
    match_all("customer")
    entity = EntityType.objects.get(code="customer")
    pair = next(members for members in clusters_of("customer").values() if len(members) >= 2)
    a, b = SourceRecord.objects.filter(entity_type=entity, source_id__in=[s for _, s in pair[:2]]).order_by("pk")[:2]
    MatchDecision.objects.update_or_create(record_a=a, record_b=b, defaults={
        "entity_type": entity, "state": "no_match", "origin": "steward"})
    singles = [m for m in clusters_of("customer").values() if len(m) == 1][:2]
    c, d = (SourceRecord.objects.get(entity_type=entity, source_system__code=s, source_id=i) for (s, i), in singles)
    lo, hi = sorted([c, d], key=lambda r: r.pk)
    MatchDecision.objects.create(entity_type=entity, record_a=lo, record_b=hi, state="match", origin="steward")

    match_all("customer", retrain=True)
    a.refresh_from_db(), b.refresh_from_db(), c.refresh_from_db(), d.refresh_from_db()
    assert a.golden_id != b.golden_id
    assert c.golden_id == d.golden_id
    assert MatchDecision.objects.filter(origin="steward").count() == 2


def test_a_new_near_duplicate_joins_its_golden_record_as_it_is_ingested(demo, django_capture_on_commit_callbacks):
    match_all("customer")
    entity = EntityType.objects.get(code="customer")
    existing = SourceRecord.objects.filter(entity_type=entity, source_system__code="erp", deleted=False,
                                           attributes__has_key="phone").exclude(attributes__has_key="parent_id").first()
    raw = existing.raw_payload

    crm = SourceSystem.objects.get(code="crm")
    payload = {"Id": "NEW-1", "Name": raw["CustomerName"].upper(), "Phone": raw["Phone"], "BillingStreet": raw["Address1"],
               "BillingCity": raw["City"], "BillingState": raw["State"], "BillingPostalCode": raw["Zip"]}
    with django_capture_on_commit_callbacks(execute=True):
        result = ingest_payloads(source=crm, entity_type=entity, payloads=[
            payload, {"Id": "NEW-2", "Name": "Zyxwvut Quantum Widgets LLC", "BillingCity": "Nome", "BillingState": "AK"}])
    assert [o.status for o in result.outcomes] == ["created", "created"]
    new = SourceRecord.objects.get(source_system=crm, source_id="NEW-1")
    assert new.golden_id == existing.golden_id and not new.needs_match
    lonely = SourceRecord.objects.get(source_system=crm, source_id="NEW-2")
    assert lonely.golden_id not in {existing.golden_id, None}
    assert GoldenRecord.objects.get(pk=lonely.golden_id).values["name"].startswith("Zyxwvut")
    assert MatchDecision.objects.filter(record_b=new, state="match", origin="auto").exists()

    # Deleted at the source: it leaves its golden record, which then has no active member.
    with django_capture_on_commit_callbacks(execute=True):
        ingest_payloads(source=crm, entity_type=entity, payloads=[{"Id": "NEW-2", "_deleted": True}])
    lonely.refresh_from_db()
    assert lonely.golden_id is None
    assert GoldenRecord.objects.filter(status="empty").exists()


def test_records_that_arrive_or_change_while_a_batch_runs_are_matched_after_it(
        demo, django_capture_on_commit_callbacks):
    entity = EntityType.objects.get(code="customer")
    crm = SourceSystem.objects.get(code="crm")
    changed = SourceRecord.objects.filter(entity_type=entity, source_system=crm, deleted=False).order_by("pk").first()
    sent = []

    def meanwhile(stage):
        if stage == "write":  # the batch has computed from what it loaded; a source sends this now
            result = ingest_payloads(source=crm, entity_type=entity, payloads=[
                {"Id": "LATE-1", "Name": "Zyxwvut Quantum Widgets LLC", "BillingCity": "Nome", "BillingState": "AK"},
                {**changed.raw_payload, "Name": "Renamed Meanwhile Inc"}])
            sent.extend(o.record_id for o in result.outcomes)

    with django_capture_on_commit_callbacks(execute=True):
        stats = match_all(entity, progress=meanwhile)
    late = SourceRecord.objects.get(source_system=crm, source_id="LATE-1")
    assert sorted(sent) == sorted([late.pk, changed.pk])
    # Left pending: those two, and records deleted at the source (a batch reads active records
    # only; their task takes them out of their golden records).
    others = set(stats.left_pending) - set(sent)
    assert set(sent) <= set(stats.left_pending)
    assert all(SourceRecord.objects.filter(pk__in=others).values_list("deleted", flat=True))
    # Matched after the batch, each as it is now: nothing pending, nobody outside a golden record.
    records = SourceRecord.objects.filter(entity_type=entity, deleted=False)
    assert not records.filter(needs_match=True).exists() and not records.filter(golden__isnull=True).exists()
    changed.refresh_from_db()
    assert changed.version == 2 and changed.golden.values["name"] != ""
    assert GoldenRecord.objects.get(pk=late.golden_id).values["name"].startswith("Zyxwvut")
    assert not GoldenRecord.objects.filter(entity_type=entity, status="active").exclude(
        pk__in=records.values("golden_id")).exists()


def test_a_first_load_through_the_match_tasks_retrains_as_sources_and_records_arrive(
        tmp_path, django_capture_on_commit_callbacks):
    # As a source system sends its extracts with a worker running: the first task finds no
    # model and trains on its chunk, the ERP's; the CRM's records must not be matched with
    # a model that never saw a pair across sources.
    from mdm.services.files import ingest_file

    load_configs()
    generator.generate(tmp_path, customers=150, products=5, prices=1, seed=11)
    entity = EntityType.objects.get(code="customer")
    erp, crm = SourceSystem.objects.get(code="erp"), SourceSystem.objects.get(code="crm")
    for source, name in ((erp, "erp_customers.csv"), (crm, "crm_accounts.jsonl")):
        with django_capture_on_commit_callbacks(execute=True):  # the match task runs as the chunk commits
            ingest_file(path=tmp_path / name, source=source, entity_type=entity, submitted_by="test")
    models = list(MatchModel.objects.filter(entity_type=entity).order_by("version")
                  .values_list("training_stats__per_source", "active"))
    assert [(sorted(per_source), active) for per_source, active in models] == [(["erp"], False), (["crm", "erp"], True)]
    active = SourceRecord.objects.filter(entity_type=entity, deleted=False)
    assert models[-1][0] == {code: active.filter(source_system__code=code).count() for code in ("crm", "erp")}
    records = SourceRecord.objects.filter(entity_type=entity, deleted=False)
    assert not records.filter(needs_match=True).exists() and not records.filter(golden__isnull=True).exists()
    # A model trained on both keeps matching their records incrementally; a third source is new to it.
    assert matching.training_due(entity, {"crm", "erp"}) is None
    assert "first records of ecom" in matching.training_due(entity, {"ecom"})


@pytest.fixture
def pair_left_apart(demo):
    """A true pair linked with less than overwhelming evidence (auto <= p < merge), put in two
    golden records, as a model still learning might have left it. Returns (a, b, b's golden record)."""
    entity = EntityType.objects.get(code="customer")
    match_all(entity)
    two = {g for g, members in clusters_of("customer").items() if len(members) == 2}
    pair = MatchDecision.objects.filter(entity_type=entity, origin="auto", state="match",
                                        probability__lt=0.995).order_by("pk")
    pair = next(d for d in pair if d.record_a.golden_id in two)
    apart = golden_service.create_goldens(entity, 1)[0]
    SourceRecord.objects.filter(pk=pair.record_b_id).update(golden=apart)
    golden_service.recompute(entity, [pair.record_a.golden_id, apart.pk], reason="test")
    return pair.record_a, pair.record_b, apart


def _first_web_shop_record_arrives(entity, capture):
    """The active model is made one trained before the web shop's records came; one arrives."""
    model = MatchModel.objects.get(entity_type=entity, active=True)
    per_source = model.training_stats["per_source"]
    model.training_stats = {**model.training_stats, "per_source": {s: n for s, n in per_source.items() if s != "ecom"}}
    model.save()
    matching._trained_on.clear()
    with capture(execute=True):
        ingest_payloads(source=SourceSystem.objects.get(code="ecom"), entity_type=entity, payloads=[
            {"account_id": "W-NEW-1", "company_name": "Zyxwvut Quantum Widgets LLC", "city": "Nome", "state": "AK"}])
    assert MatchModel.objects.get(entity_type=entity, active=True).version == model.version + 1


def _proposed_for_merging(a, b) -> bool:
    goldens = [a.golden_id, b.golden_id]
    return StewardTask.objects.filter(kind="merge_proposal", status="open", golden_id__in=goldens,
                                      other_golden_id__in=goldens).exists()


def test_what_a_learning_model_left_apart_an_admins_rematch_only_proposes_and_its_retraining_merges(
        pair_left_apart, django_capture_on_commit_callbacks):
    a, b, apart = pair_left_apart
    entity = EntityType.objects.get(code="customer")
    match_all(entity)  # an admin's re-match with the same model: two existing golden records stay apart
    a.refresh_from_db(), b.refresh_from_db()
    assert a.golden_id != b.golden_id == apart.pk and _proposed_for_merging(a, b)

    # The first web shop record's task retrains the model (trained on fewer than
    # MDM_AUTO_RETRAIN_BELOW records) and re-decides what it linked, as one batch would have.
    _first_web_shop_record_arrives(entity, django_capture_on_commit_callbacks)
    a.refresh_from_db(), b.refresh_from_db(), apart.refresh_from_db()
    assert a.golden_id == b.golden_id != apart.pk
    assert apart.status == "retired" and apart.merged_into_id == a.golden_id  # its ID resolves to the survivor
    assert not StewardTask.objects.filter(kind="merge_proposal", status="open", golden=apart).exists()


def test_an_established_model_is_retrained_for_a_new_source_but_its_golden_records_merge_only_on_overwhelming_evidence(
        pair_left_apart, django_capture_on_commit_callbacks, settings):
    a, b, apart = pair_left_apart
    entity = EntityType.objects.get(code="customer")
    settings.MDM_AUTO_RETRAIN_BELOW = 10  # the model was trained on more: established
    _first_web_shop_record_arrives(entity, django_capture_on_commit_callbacks)
    a.refresh_from_db(), b.refresh_from_db()
    assert a.golden_id != b.golden_id == apart.pk and _proposed_for_merging(a, b)


def test_a_model_is_retrained_once_a_source_has_twice_the_records_it_was_trained_on(demo, settings):
    entity = EntityType.objects.get(code="customer")
    match_all(entity)
    model = MatchModel.objects.get(entity_type=entity, active=True)
    per_source = model.training_stats["per_source"]
    active = SourceRecord.objects.filter(entity_type=entity, deleted=False)
    assert per_source == {code: active.filter(source_system__code=code).count() for code in per_source}
    assert matching.training_due(entity, {"erp", "crm"}) is None
    # As if trained when the ERP had sent half of its records.
    model.training_stats = {**model.training_stats, "per_source": {**per_source, "erp": per_source["erp"] // 2}}
    model.save()
    matching._trained_on.clear()
    matching._counted.clear()
    assert matching.training_due(entity, {"crm"}) is None
    assert "erp records the model was trained on" in matching.training_due(entity, {"erp"})
    assert "first records of wms" in matching.training_due(entity, {"crm", "wms"})
    settings.MDM_AUTO_RETRAIN_BELOW = 0  # no automatic retraining at all
    assert matching.training_due(entity, {"erp", "wms"}) is None


def test_the_next_retraining_is_the_source_nearest_to_twice_what_the_model_saw():
    trained_on = {"crm": 1_000, "erp": 4_000}
    assert matching.next_retraining(trained_on, {"crm": 1_500, "erp": 7_000}) == ("erp", 7_000, 8_000)
    assert matching.next_retraining(trained_on, {"crm": 2_500, "erp": 4_100}) == ("crm", 2_500, 2_000)  # due
    assert matching.next_retraining(trained_on, {"crm": 1_000, "ecom": 3}) == ("ecom", 3, 1)  # never seen
    assert matching.next_retraining(trained_on, {}) is None
    assert matching.next_retraining(None, {"crm": 9_000}) is None  # a model from before per-source counts


def test_search_before_create_ranks_golden_records_and_stores_nothing(demo):
    match_all("customer")
    entity = EntityType.objects.get(code="customer")
    golden = GoldenRecord.objects.filter(entity_type=entity, status="active", values__has_key="phone").first()
    counts = (GoldenRecord.objects.count(), SourceRecord.objects.count(), MatchDecision.objects.count())
    phone = golden.values["phone"][0]["value"]
    ranked = match_candidate(entity, {"name": golden.values["name"], "phone": phone,
                                      "city": golden.values.get("city"), "region": golden.values.get("region"),
                                      "postcode": golden.values.get("postcode"),
                                      "address_line1": golden.values.get("address_line1")})
    assert ranked[0]["golden_id"] == golden.golden_id and ranked[0]["band"] == "match"
    assert ranked[0]["explanation"]["comparisons"]
    assert (GoldenRecord.objects.count(), SourceRecord.objects.count(), MatchDecision.objects.count()) == counts


def test_match_and_export_xref_commands(demo, tmp_path):
    out = io.StringIO()
    call_command("match", "--entity", "customer", "--no-progress", stdout=out)
    assert "golden records created" in out.getvalue()
    path = tmp_path / "xref.csv"
    call_command("export_xref", "--entity", "customer", "--output", str(path), stdout=io.StringIO())
    rows = list(csv.DictReader(path.open()))
    assert rows and set(rows[0]) == {"source", "source_id", "golden_id"}
    assert all(r["golden_id"].startswith("CUS-") for r in rows)


def test_a_big_batch_commits_identities_and_computes_golden_values_in_the_recompute_job(
        demo, settings, django_capture_on_commit_callbacks):
    from mdm.models import RuleChangeJob

    settings.MDM_MATCH_INLINE_RECOMPUTE = 10
    with django_capture_on_commit_callbacks(execute=True):
        stats = match_all("customer")
    job = RuleChangeJob.objects.get(pk=stats.recompute_job)
    assert job.reason == "match" and job.status == "completed" and job.processed == stats.goldens_changed
    goldens = GoldenRecord.objects.filter(entity_type__code="customer", status="active")
    assert goldens.filter(version=0).count() == 0
    assert all(g.values.get("name") for g in goldens)
    assert f1_against_truth("customer", demo) >= 0.95


def test_the_sweeper_matches_records_whose_match_task_was_lost(demo, tmp_path, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from mdm.services.files import ingest_file
    from mdm.services.matching import sweep_pending_matches

    match_all("customer")
    entity = EntityType.objects.get(code="customer")
    crm = SourceSystem.objects.get(code="crm")
    # Outside django_capture_on_commit_callbacks the match task enqueued on
    # commit never runs: as if the broker had lost it.
    ingest_payloads(source=crm, entity_type=entity, payloads=[
        {"Id": "LOST-1", "Name": "Zyxwvut Quantum Widgets LLC", "BillingCity": "Nome", "BillingState": "AK"},
        {"Id": "FRESH-1", "Name": "Qwerty Fresh Arrivals Inc", "BillingCity": "Nome", "BillingState": "AK"}])
    deferred = tmp_path / "deferred.jsonl"
    deferred.write_text('{"Id": "LATER-1", "Name": "Deferred Holdings Ltd", "BillingCity": "Juneau"}\n',
                        encoding="utf-8")
    ingest_file(path=deferred, source=crm, entity_type=entity, defer_match=True)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    SourceRecord.objects.filter(source_id__in=["LOST-1", "LATER-1"]).update(received_at=an_hour_ago)

    with django_capture_on_commit_callbacks(execute=True):
        swept = sweep_pending_matches()

    assert swept == {"customer": 1}
    records = {r.source_id: r for r in SourceRecord.objects.filter(source_id__in=["LOST-1", "FRESH-1", "LATER-1"])}
    assert records["LOST-1"].golden_id is not None and not records["LOST-1"].needs_match
    # Still within the grace period: its task may yet be in a healthy queue.
    assert records["FRESH-1"].needs_match and records["FRESH-1"].golden_id is None
    # Ingested with --defer-match: a later `match` run is meant to pick it up.
    assert records["LATER-1"].needs_match and records["LATER-1"].golden_id is None
    assert sweep_pending_matches() == {}  # nothing left to sweep
    assert settings.CELERY_BEAT_SCHEDULE["sweep-pending-matches"]["task"] == "mdm.tasks.sweep_pending_matches"


def test_the_sweeper_leaves_a_match_backlog_alone_and_sweeps_once_it_has_drained(demo):
    from datetime import timedelta

    from django.utils import timezone

    from mdm.celery import app
    from mdm.services.matching import queued_tasks, sweep_pending_matches
    from mdm.tasks import deliver_many, match_records

    match_all("customer")
    entity = EntityType.objects.get(code="customer")
    ingest_payloads(source=SourceSystem.objects.get(code="crm"), entity_type=entity, payloads=[
        {"Id": "SLOW-1", "Name": "Zyxwvut Quantum Widgets LLC", "BillingCity": "Nome", "BillingState": "AK"}])
    SourceRecord.objects.filter(source_id="SLOW-1").update(received_at=timezone.now() - timedelta(hours=1))
    app.conf.task_always_eager = False  # as with REDIS_URL: tasks go through the real broker, no worker here
    try:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge("mdm")  # SLOW-1 sent none: the test's transaction never commits
            match_records.delay(entity.pk, [])  # a backlog: other tasks are queued ahead
            assert queued_tasks() == 1
            assert sweep_pending_matches() == {}  # SLOW-1's task may be among them
            conn.default_channel.queue_purge("mdm")  # drained, and SLOW-1 still pending: its task was lost
            deliver_many.delay([])  # webhook deliveries queue apart, and never hold the sweep off
            assert conn.default_channel.queue_declare(queue="mdm.deliveries").message_count == 1
            assert queued_tasks() == 0
            assert sweep_pending_matches() == {"customer": 1}
            assert queued_tasks() == 1  # a match task for it, on the broker, and on no other queue
            assert conn.default_channel.queue_declare(queue="mdm.deliveries").message_count == 1
            conn.default_channel.queue_purge("mdm")
            conn.default_channel.queue_purge("mdm.deliveries")
    finally:
        app.conf.task_always_eager = True
    assert SourceRecord.objects.get(source_id="SLOW-1").needs_match


def test_a_match_task_that_hits_a_deadlock_is_retried(demo, monkeypatch):
    from django.db import OperationalError

    from mdm.services import matching
    from mdm.tasks import match_records

    match_all("customer")
    entity = EntityType.objects.get(code="customer")
    crm = SourceSystem.objects.get(code="crm")
    # Not matched on ingest: outside django_capture_on_commit_callbacks its task is never enqueued.
    ingest_payloads(source=crm, entity_type=entity, payloads=[
        {"Id": "RETRY-1", "Name": "Zyxwvut Quantum Widgets LLC", "BillingCity": "Nome"}])
    record = SourceRecord.objects.get(source_id="RETRY-1")
    real, calls = matching.match_pending_records, []

    def deadlocked_once(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise OperationalError("deadlock detected")
        return real(**kwargs)

    monkeypatch.setattr(matching, "match_pending_records", deadlocked_once)
    # Run in this process (a worker would wait for the backoff first).
    result = match_records.apply(args=[entity.pk, [record.pk]], throw=False)

    assert result.state == "SUCCESS" and len(calls) == 2  # the second attempt claimed the record
    record.refresh_from_db()
    assert record.golden_id is not None and not record.needs_match


def test_a_task_between_golden_records_of_several_records_scores_them_record_by_record(demo, client):
    from django.urls import reverse

    from tests.stewardship.hub import make_users

    match_all("customer")
    entity = EntityType.objects.get(code="customer")
    sizes = dict(SourceRecord.objects.filter(entity_type=entity, deleted=False).order_by().values("golden_id")
                 .annotate(n=Count("id")).values_list("golden_id", "n"))
    pair = next(d for d in MatchDecision.objects.filter(entity_type=entity, origin="auto", state="match",
                                                         probability__gte=0.99).select_related("record_a", "record_b")
                .order_by("pk") if d.record_a.golden_id == d.record_b.golden_id and sizes[d.record_a.golden_id] == 2)
    x, z = pair.record_a, pair.record_b
    y = SourceRecord.objects.filter(entity_type=entity, deleted=False).exclude(golden_id=x.golden_id).order_by("pk")[0]
    # As an earlier link can leave it: x with another company's record y, x's true mate z alone.
    alone = golden_service.create_goldens(entity, 1)[0]
    SourceRecord.objects.filter(pk=z.pk).update(golden=alone)
    SourceRecord.objects.filter(pk=y.pk).update(golden_id=x.golden_id)
    golden_service.recompute(entity, [x.golden_id, alone.pk, y.golden_id], reason="test")

    cross = matching.cross_scores(entity, x.golden_id, alone.pk)
    scores = {(c.record_a.pk, c.record_b.pk): c.probability for c in cross.pairs}
    assert scores[(x.pk, z.pk)] >= 0.99 and scores[(y.pk, z.pk)] < 0.05 and len(scores) == 2
    assert cross.contradicts
    SourceRecord.objects.filter(pk=y.pk).update(golden=None)  # x alone again: nothing contradicts
    assert not matching.cross_scores(entity, x.golden_id, alone.pk).contradicts
    SourceRecord.objects.filter(pk=y.pk).update(golden_id=x.golden_id)

    task = StewardTask.objects.create(
        kind=StewardTask.Kind.POSSIBLE_MATCH, entity_type=entity, golden_id=x.golden_id, other_golden=alone,
        record=x, other_record=z, record_source=x.source_system, other_record_source=z.source_system,
        dedupe_key=f"pair:{x.pk}:{z.pk}", title="test", probability=0.6,
        details={"probability": 0.6, "records": [x.pk, z.pk]})
    # Source data is hostile: the other company's name holds markup.
    SourceRecord.objects.filter(pk=y.pk).update(attributes={**y.attributes, "name": "<script>alert(1)</script>"})
    client.force_login(make_users()["steward"])
    page = client.get(reverse("stewardship:task", args=[task.pk])).content.decode()
    panel = page[page.index('id="cross-scores"'):]
    assert "one of these golden records may hold two companies" in panel
    assert f"{z.source_system.code}:{z.source_id}" in panel and "100.0 %" in panel
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in panel and "<script>alert" not in panel
