"""The work queue: every open task, filtered, ordered by effective priority."""
from __future__ import annotations

from django.core.paginator import Paginator
from django.utils import timezone

from mdm.models import StewardTask
from stewardship import selectors
from stewardship.filters import TaskFilter, assignable_users
from stewardship.permissions import VIEWER, role_required
from stewardship.rendering import render_page

PAGE_SIZE = 50


def filtered_queue(request) -> TaskFilter:
    return TaskFilter(request.GET, queryset=selectors.queue_base(request.user), request=request)


@role_required(VIEWER)
def queue(request):
    filters = filtered_queue(request)
    tasks = filters.qs if filters.is_valid() else StewardTask.objects.none()
    counts = selectors.kind_counts(filters.without("kind").qs) if filters.is_valid() else {}
    page = Paginator(tasks.values_list("id", flat=True), PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = selectors.page_rows(tasks, list(page.object_list))
    now = timezone.now()
    for task in page.object_list:
        task.overdue = task.status == StewardTask.Status.OPEN and selectors.is_overdue(task, now)
    kind_tabs = [(kind, label, counts.get(kind, 0)) for kind, label in StewardTask.Kind.choices]
    context = {
        "filters": filters,
        "page": page,
        "kind_tabs": kind_tabs,
        "total": sum(counts.values()),
        "current_kind": filters.data.get("kind", ""),
        "querystring": request.GET.urlencode(),
        "stewards": list(assignable_users()),
        "bulk_possible": filters.data.get("kind") == StewardTask.Kind.POSSIBLE_MATCH
        and filters.data.get("status", "open") == "open",
    }
    return render_page(request, "stewardship/queue/queue.html", context,
                       fragments={"queue": "stewardship/queue/_results.html"})
