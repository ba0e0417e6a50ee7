"""Bulk accept of a filtered set of possible matches, and its undo."""
from __future__ import annotations

from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from mdm.models import StewardTask
from stewardship import selectors
from stewardship.filters import TaskFilter
from stewardship.models import BulkAction
from stewardship.permissions import STEWARD, VIEWER, role_required
from stewardship.rendering import render_page
from stewardship.services import BULK_MAX, AlreadyUndone, bulk_accept, undo_bulk


def _candidates(request, querystring: str, min_probability: float):
    params = QueryDict(querystring, mutable=True)
    params["kind"] = StewardTask.Kind.POSSIBLE_MATCH
    params["status"] = "open"
    params.pop("page", None)
    filters = TaskFilter(params, queryset=selectors.queue_base(request.user), request=request)
    if not filters.is_valid():
        return StewardTask.objects.none(), params
    return filters.qs.filter(probability__gte=min_probability), params


@require_POST
@role_required(STEWARD)
def bulk_accept_view(request):
    """Step 1 (no ``confirm``): show exactly which pairs would merge. Step 2: merge those, by id and version."""
    querystring = request.POST.get("querystring", "")
    try:
        min_probability = min(max(float(request.POST.get("min_probability") or 0), 0.0), 1.0)
    except ValueError:
        min_probability = 1.0
    if request.POST.get("confirm") != "1":
        queryset, params = _candidates(request, querystring, min_probability)
        total = queryset.count()
        tasks = selectors.page_rows(queryset, list(queryset.values_list("id", flat=True)[:BULK_MAX]))
        return render_page(request, "stewardship/bulk/confirm.html", {
            "tasks": tasks, "total": total, "limit": BULK_MAX, "min_probability": min_probability,
            "querystring": params.urlencode(),
        })
    chosen = []
    for token in request.POST.getlist("task"):
        pk, _, version = token.partition(":")
        if pk.isdigit() and version.isdigit():
            chosen.append((int(pk), int(version)))
    tasks = {t.pk: t for t in StewardTask.objects.select_related("golden", "other_golden").filter(
        pk__in=[pk for pk, _ in chosen])}
    action = bulk_accept(tasks=[(tasks[pk], version) for pk, version in chosen if pk in tasks],
                         steward=request.user, filters=querystring)
    merged = len(action.merged)
    messages.success(request, f"Merged {merged} of {len(chosen)} pair{'s' if len(chosen) != 1 else ''}."
                     + (" Undo is below." if merged else ""))
    return redirect("stewardship:bulk", pk=action.pk)


@role_required(VIEWER)
def bulk_detail(request, pk: int):
    action = get_object_or_404(BulkAction.objects.select_related("steward", "undone_by"), pk=pk)
    counts = {}
    for item in action.items:
        counts[item.get("outcome")] = counts.get(item.get("outcome"), 0) + 1
    return render_page(request, "stewardship/bulk/detail.html", {
        "action": action, "counts": counts, "queue_url": reverse("stewardship:queue") + (
            f"?{action.filters}" if action.filters else ""),
    })


@require_POST
@role_required(STEWARD)
def bulk_undo(request, pk: int):
    action = get_object_or_404(BulkAction, pk=pk)
    try:
        action = undo_bulk(action, steward=request.user)
    except AlreadyUndone as exc:
        messages.warning(request, str(exc))
        return redirect("stewardship:bulk", pk=pk)
    undone = sum(1 for i in action.undo_items if i.get("outcome") == "undone")
    messages.success(request, f"Undid {undone} of {len(action.merged)} merges; the absorbed golden records are "
                              "back under their own IDs.")
    return redirect("stewardship:bulk", pk=pk)
