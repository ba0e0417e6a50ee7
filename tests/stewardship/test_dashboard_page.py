"""The dashboard draws backlog, rates, score distribution and sources as inline SVG."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from mdm.models import IngestBatch, MatchDecision, SourceRecord, StewardTask
from stewardship import selectors

pytestmark = pytest.mark.django_db


def test_the_dashboard_draws_its_charts_as_svg(login, hub):
    hub.possible_match(hub.customer("Acme"), hub.customer("Acme Inc", source="crm"))
    hub.credit_conflict()
    page = login("viewer").get(reverse("stewardship:home")).content.decode()
    for section in ("chart-backlog", "chart-flow", "chart-scores", "chart-sources"):
        assert f'id="{section}"' in page
    assert page.count("<svg") >= 3
    assert "Possible match, Under 1 day: 1" in page  # the backlog bar segment tooltip


def test_backlog_counts_open_tasks_by_kind_and_age(hub):
    task = hub.possible_match(hub.customer("Acme"), hub.customer("Acme Inc", source="crm"))
    StewardTask.objects.filter(pk=task.pk).update(created_at=timezone.now() - timedelta(days=5))
    hub.credit_conflict()
    backlog = selectors.backlog()
    assert backlog.cells == {("possible_match", "3-7d"): 1, ("attribute_conflict", "today"): 1}
    assert backlog.total == 2 and backlog.overdue == 1


def test_rates_and_the_score_histogram_come_from_match_decisions(hub, customer_type):
    records = [hub.record("erp", name=f"R{i}") for i in range(4)]
    ids = sorted(r.pk for r in records)
    MatchDecision.objects.bulk_create([
        MatchDecision(entity_type=customer_type, record_a_id=ids[0], record_b_id=ids[1], state="match",
                      probability=0.99),
        MatchDecision(entity_type=customer_type, record_a_id=ids[0], record_b_id=ids[2], state="possible",
                      probability=0.62),
        MatchDecision(entity_type=customer_type, record_a_id=ids[0], record_b_id=ids[3], state="no_match",
                      origin="steward", probability=0.55),
    ])
    rates = selectors.match_rates()
    assert rates["auto_link_rate"] == 1.0 and rates["review_rate"] == pytest.approx(2 / 3)
    counts = selectors.score_histogram(bins=20)["counts"]
    assert counts[19] == {"match": 1} and counts[12] == {"possible": 1} and counts[11] == {"no_match": 1}


def test_records_per_source(hub):
    hub.customer("A")
    hub.customer("B", source="crm")
    hub.customer("C", source="crm")
    rows = selectors.records_per_source()
    assert [(r["source_system__code"], r["n"]) for r in rows] == [("crm", 2), ("erp", 1)]
    assert SourceRecord.objects.count() == 3


def test_an_empty_hub_has_an_honest_dashboard(login, customer_type):
    page = login("viewer").get(reverse("stewardship:home")).content.decode()
    assert "No open tasks" in page and "No pairs scored yet" in page and "No source records yet" in page


def test_publishing_failures_show_per_subscription(login, hub):
    from mdm.models import Delivery, Subscription

    Subscription.objects.create(name="ERP write-back", url="https://erp.example/hooks")
    Subscription.objects.create(name="Web shop", url="https://shop.example/hooks")
    hub.customer("Acme Supply Inc")  # a change event: one pending delivery per subscription
    Delivery.objects.filter(subscription__name="ERP write-back").update(
        status="dead", attempts=8, last_error="HTTP 503 from https://erp.example/hooks")
    page = login("viewer").get(reverse("stewardship:home")).content.decode()
    panel = page[page.index('id="chart-publishing"'):]
    assert "1 subscription failing" in panel and "dead letters" in panel and "HTTP 503" in panel
    assert "catching up" in panel  # the web shop's delivery is still pending
    assert "ERP write-back, dead: 1" in panel


def test_the_dashboard_counts_records_waiting_for_matching(login, hub):
    hub.record("erp", name="Acme")
    late = hub.record("crm", name="Beta")
    # hub.record leaves matching to a later run; this one's match task was lost instead.
    IngestBatch.objects.filter(pk=late.last_batch_id).update(match_deferred=False)
    SourceRecord.objects.filter(pk=late.pk).update(received_at=timezone.now() - timedelta(hours=2))

    figures = selectors.matching_backlog()
    assert (figures["waiting"], figures["late"], figures["grace_minutes"]) == (2, 1, 15)
    assert figures["oldest"] < timezone.now() - timedelta(hours=1)
    page = login("viewer").get(reverse("stewardship:home")).content.decode()
    assert "records waiting for matching, the oldest for 2\xa0hours" in page
    assert "1 past 15 min: is a worker running?" in page


def test_records_left_for_a_match_run_are_waiting_but_not_late(login, hub):
    deferred = hub.record("crm", name="Gamma")  # ingested with --defer-match
    SourceRecord.objects.filter(pk=deferred.pk).update(received_at=timezone.now() - timedelta(hours=2))

    figures = selectors.matching_backlog()

    assert IngestBatch.objects.get(pk=deferred.last_batch_id).match_deferred
    assert (figures["waiting"], figures["late"]) == (1, 0)
    page = login("viewer").get(reverse("stewardship:home")).content.decode()
    assert "records waiting for matching, the oldest for 2\xa0hours" in page
    assert "is a worker running?" not in page


def test_the_dashboard_shows_each_model_and_the_source_that_starts_its_next_retraining(login, hub, settings):
    from mdm.models import MatchModel
    from mdm.services import matching

    MatchModel.objects.create(entity_type=hub.entity, version=1, settings={}, parameters={},
                              training_stats={"per_source": {"erp": 2, "crm": 1}})
    MatchModel.objects.create(entity_type=hub.entity, version=2, settings={}, parameters={}, active=False,
                              training_stats={"per_source": {"erp": 1_500}})  # a model set aside: not shown
    matching._trained_on.clear()
    for name in ("Acme", "Beta", "Gamma"):
        hub.record("erp", name=name)
    hub.record("crm", name="Delta")

    status = {m.entity: m for m in selectors.match_models(selectors.records_per_source())}["customer"]
    assert (status.version, status.trained_on, status.learning, status.next) == (1, 3, True, ("erp", 3, 4))
    page = login("viewer").get(reverse("stewardship:home")).content.decode()
    panel = page[page.index('id="match-models"'):]
    assert "v1" in panel and "3 records" in panel and "learning" in panel
    assert "when erp reaches 4 records (now 3)" in panel
    assert "manage.py match --entity customer --retrain</code> in a quiet hour" in panel

    hub.record("erp", name="Epsilon")  # twice what the model saw: its next erp task retrains it
    page = login("viewer").get(reverse("stewardship:home")).content.decode()
    assert "erp has 4 records, twice what the model saw: the next erp match task retrains it" in page

    settings.MDM_AUTO_RETRAIN_BELOW = 0  # no automatic retraining: the admin is told to retrain
    page = login("viewer").get(reverse("stewardship:home")).content.decode()
    assert "erp has 4 records, twice what the model saw: run <code>manage.py match --entity customer --retrain" in page

    MatchModel.objects.filter(version=1).update(training_stats={})  # a model from before per-source counts
    matching._trained_on.clear()
    page = login("viewer").get(reverse("stewardship:home")).content.decode()
    assert "not automatic for a model from before per-source counts" in page


def test_record_counts_read_at_a_glance():
    from stewardship.templatetags.steward import thousands

    assert (thousands(80_000), thousands(7), thousands(None)) == ("80,000", "7", "—")


def test_a_failed_recompute_job_shows_until_a_later_job_of_its_entity_type_completes(login, hub):
    from mdm.models import RuleChangeJob
    from mdm.services.rules import active_config_version

    version = active_config_version(hub.entity)
    failed = RuleChangeJob.objects.create(entity_type=hub.entity, config_version=version, status="failed",
                                          error="slice 1: OperationalError: out of shared memory")
    page = login("viewer").get(reverse("stewardship:home")).content.decode()
    assert f"1</div><div class=\"stat-label\">recompute job failed (customer, job {failed.pk})" in page
    assert "/admin/mdm/rulechangejob/?status__exact=failed" in page

    RuleChangeJob.objects.create(entity_type=hub.entity, config_version=version, status="completed")
    assert selectors.failed_jobs() == []
    assert 'id="failed-jobs"' not in login("viewer").get(reverse("stewardship:home")).content.decode()
