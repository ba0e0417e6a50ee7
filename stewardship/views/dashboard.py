"""The dashboard: backlog, decision rates, score distribution, sources, publishing, as pictures."""
from __future__ import annotations

from mdm.models import IngestBatch, StewardTask
from stewardship import charts, selectors
from stewardship.permissions import VIEWER, role_required
from stewardship.rendering import render_page


@role_required(VIEWER)
def home(request):
    backlog = selectors.backlog()
    backlog_chart = charts.stacked_hbar(
        [(label, [(bucket, backlog.cells.get((kind, bucket), 0)) for bucket, _ in backlog.buckets])
         for kind, label in backlog.kinds],
        charts.AGE_COLORS,
    )
    for row in backlog_chart["rows"]:
        for part in row["parts"]:
            part["label"] = dict(backlog.buckets)[part["key"]]
    rates = selectors.match_rates()
    histogram = selectors.score_histogram()
    flow = selectors.throughput(14)
    sources = selectors.records_per_source()
    publishing = selectors.publishing_status()
    context = {
        "backlog": backlog,
        "backlog_chart": backlog_chart,
        "age_legend": [(label, charts.AGE_COLORS[key]) for key, label in backlog.buckets],
        "rates": rates,
        "histogram_chart": charts.histogram(histogram["counts"], histogram["bins"]),
        "state_legend": [("not a match", charts.STATE_COLORS["no_match"]),
                         ("possible (review)", charts.STATE_COLORS["possible"]),
                         ("match", charts.STATE_COLORS["match"])],
        "flow_chart": charts.grouped_columns(
            [{"label": p["day"].strftime("%d %b"), "opened": p["opened"], "closed": p["closed"]} for p in flow],
            [("opened", "tasks opened", "#f59e0b"), ("closed", "tasks closed", "#16a34a")],
        ),
        "sources_chart": charts.hbar_chart(
            [(f"{r['source_system__code']} · {r['entity_type__code']}", r["n"]) for r in sources[:12]]),
        "records_total": sum(r["n"] for r in sources),
        "goldens": selectors.golden_counts(),
        "matching": selectors.matching_backlog(),
        "models": selectors.match_models(sources),
        "failed_jobs": selectors.failed_jobs(),
        "publishing": publishing,
        "publishing_chart": charts.stacked_hbar(
            [(s.name, [("dead", s.dead), ("failing", s.failing), ("pending", max(s.pending - s.failing, 0))])
             for s in publishing],
            {"dead": "#b91c1c", "failing": "#f59e0b", "pending": "#93c5fd"},
        ) if publishing else None,
        "publishing_problems": sum(1 for s in publishing or [] if s.health in ("dead letters", "failing")),
        "my_open": StewardTask.objects.filter(status=StewardTask.Status.OPEN, assignee=request.user).count(),
        "recent_batches": IngestBatch.objects.select_related("source_system", "entity_type")[:6],
    }
    return render_page(request, "stewardship/dashboard.html", context)
