"""One task: match review, conflict resolution, rejected record; and the actions on it.

Actions post the task's ``version`` they were shown; the services compare it
(optimistic lock) and raise ``TaskAlreadyHandled`` when another steward got
there first, so nothing is applied twice and the second steward is told who
did what.
"""
from __future__ import annotations

from django.contrib import messages
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from mdm.models import SourceRecord, StewardTask, TaskComment
from mdm.services import stewardship as services
from mdm.services.matching import cross_scores, ensure_explanation
from stewardship import charts, compare, selectors
from stewardship.filters import TaskFilter, assignable_users
from stewardship.forms import (
    AssignForm,
    CloseTaskForm,
    CommentForm,
    ConflictForm,
    MatchActionForm,
    VersionedForm,
)
from stewardship.permissions import STEWARD, VIEWER, role_required
from stewardship.rendering import go, render_page
from stewardship.services import add_comment

Kind = StewardTask.Kind
MATCH_KINDS = {Kind.POSSIBLE_MATCH, Kind.MERGE_PROPOSAL}
CONFLICT_KINDS = {Kind.ATTRIBUTE_CONFLICT, Kind.PRICE_CONFLICT}


def _queue_params(request) -> str:
    """The queue filters the steward came with, carried from task to task."""
    source = request.POST if request.method == "POST" else request.GET
    return source.get("querystring", request.GET.urlencode() if request.method == "GET" else "")


def _queue(request, querystring: str):
    from django.http import QueryDict

    return TaskFilter(QueryDict(querystring), queryset=selectors.queue_base(request.user), request=request)


def task_url(task_id: int, querystring: str = "") -> str:
    url = reverse("stewardship:task", args=[task_id])
    return f"{url}?{querystring}" if querystring else url


def next_url(request, querystring: str, *, after=None) -> str:
    """Where to go after handling a task: the queue's next task, or the queue when none is left."""
    filters = _queue(request, querystring)
    queryset = filters.qs if filters.is_valid() else StewardTask.objects.none()
    if after is not None:
        _prev, nxt = selectors.neighbours(queryset, after)
    else:
        nxt = queryset.values_list("id", flat=True).first()
    if nxt is None:
        return reverse("stewardship:queue") + (f"?{querystring}" if querystring else "")
    return task_url(nxt, querystring)


@role_required(STEWARD)
def queue_next(request):
    """The top task of the (filtered) queue: the steward's "start" button."""
    querystring = request.GET.urlencode()
    url = next_url(request, querystring)
    if url.startswith(reverse("stewardship:queue")):
        messages.info(request, "The queue has no open task with these filters.")
    return redirect(url)


# --- the task page ----------------------------------------------------------------------


def match_context(task: StewardTask) -> dict:
    details = task.details or {}
    left, right = services.pair_records(task)
    golden_a, golden_b = services.pair_goldens(task, (left, right))
    sizes = dict(SourceRecord.objects.filter(golden__in=[g for g in (golden_a, golden_b) if g], deleted=False)
                 .order_by().values("golden_id").annotate(n=Count("id")).values_list("golden_id", "n"))
    entity = task.entity_type
    labels = {a["name"]: a.get("label") or a["name"].replace("_", " ").capitalize()
              for a in entity.config.get("attributes", [])}
    # Batch matching leaves explanations to the first reader.
    explanation = details.get("explanation") or ensure_explanation(task) or {}
    rows = compare.compare_rows(entity.attribute_specs, labels, left.attributes if left else {},
                                right.attributes if right else {}, explanation)
    probability = details.get("probability", task.probability)
    survivor = services.proposed_survivor(golden_a, golden_b, sizes)
    # Golden records of several records: how each record scores against each record of the other.
    cross = (cross_scores(entity, golden_a.pk, golden_b.pk)
             if golden_a and golden_b and golden_a != golden_b and max(sizes.values(), default=0) > 1 else None)
    return {
        "cross": cross,
        "left": left, "right": right, "golden_a": golden_a, "golden_b": golden_b,
        "size_a": sizes.get(golden_a.pk, 0) if golden_a else 0, "size_b": sizes.get(golden_b.pk, 0) if golden_b else 0,
        "rows": rows, "explanation": explanation, "chart": charts.explanation_chart(explanation),
        "probability": probability, "survivor": survivor,
        "same_golden": golden_a is not None and golden_a == golden_b,
        # Matching titles tasks by golden IDs; the steward reads names.
        # (a retired golden record has no values any more: its record still has a name).
        "heading": " ↔ ".join(
            (g.display_name if g else "") or str((r.attributes or {}).get("name") or "") or (g.golden_id if g else "?")
            for g, r in ((golden_a, left), (golden_b, right)) if g or r) or task.title,
        "counts": {m: sum(1 for r in rows if r["mark"] == m) for m in ("same", "similar", "different", "missing")},
    }


def conflict_context(task: StewardTask) -> dict:
    """Competing values with their sources and dates; price conflicts carry prices with units and windows."""
    details = task.details or {}
    values = [dict(v) for v in (details.get("values") or details.get("prices") or []) if isinstance(v, dict)]
    record_ids = [v.get("record_id") for v in values if isinstance(v.get("record_id"), int)]
    records = {r.pk: r for r in SourceRecord.objects.filter(pk__in=record_ids).select_related("source_system")}
    for value in values:
        record = records.get(value.get("record_id"))
        value["record"] = record
        value["received_at"] = record.received_at if record else None
        # The date the source gave the value: the conflict's own note of it, else the record's.
        value["updated"] = parse_datetime(value.get("updated_at") or "") if isinstance(
            value.get("updated_at"), str) else None
        if value["updated"] is None and record is not None:
            value["updated"] = record.source_updated_at
    golden = task.golden
    attributes = details.get("attributes") or ([details["attribute"]] if details.get("attribute") else [])
    attribute = attributes[0] if attributes else None
    current = (golden.values or {}).get(attribute) if golden and attribute else None
    lineage = (golden.lineage or {}).get(attribute) if golden and attribute else None
    labels = {a["name"]: a.get("label") or a["name"].replace("_", " ").capitalize()
              for a in task.entity_type.config.get("attributes", [])}
    return {"values": values, "attribute": attribute, "attributes": attributes, "current": current,
            "attribute_label": labels.get(attribute, attribute),
            "lineage": lineage, "problem": details.get("problem"), "is_price": task.kind == Kind.PRICE_CONFLICT,
            "details": details}


def rejected_context(task: StewardTask) -> dict:
    return {"rejected": task.rejected}


def task_page_context(request, task: StewardTask, querystring: str) -> dict:
    queue = _queue(request, querystring)
    queryset = queue.qs if queue.is_valid() else StewardTask.objects.none()
    prev_id, next_id = selectors.neighbours(queryset, task) if task.status == StewardTask.Status.OPEN else (None, None)
    context = {
        "task": task, "querystring": querystring, "queue_url": reverse("stewardship:queue") + (
            f"?{querystring}" if querystring else ""),
        "prev_url": task_url(prev_id, querystring) if prev_id else None,
        "next_url": task_url(next_id, querystring) if next_id else None,
        "overdue": task.status == StewardTask.Status.OPEN and selectors.is_overdue(task),
        "sla": selectors.SLA.get(task.kind),
        "comments": TaskComment.objects.filter(task=task).select_related("author").order_by("created_at"),
        "stewards": assignable_users(),
        "is_open": task.status == StewardTask.Status.OPEN,
    }
    if task.kind in MATCH_KINDS:
        context.update(match_context(task))
    elif task.kind in CONFLICT_KINDS:
        context.update(conflict_context(task))
    elif task.kind == Kind.REJECTED_RECORD:
        context.update(rejected_context(task))
    return context


def _task(pk: int) -> StewardTask:
    return get_object_or_404(
        StewardTask.objects.select_related("entity_type", "source_system", "assignee", "resolved_by", "golden",
                                           "other_golden", "record__source_system", "other_record__source_system",
                                           "rejected"),
        pk=pk,
    )


def template_for(task: StewardTask) -> str:
    if task.kind in MATCH_KINDS:
        return "stewardship/tasks/match.html"
    if task.kind in CONFLICT_KINDS:
        return "stewardship/tasks/conflict.html"
    return "stewardship/tasks/rejected.html"


def render_task(request, task: StewardTask, querystring: str, *, status: int = 200, extra: dict | None = None):
    context = task_page_context(request, task, querystring)
    context.update(extra or {})
    return render_page(request, template_for(task), context, status=status)


@role_required(VIEWER)
def task_detail(request, pk: int):
    task = _task(pk)
    return render_task(request, task, _queue_params(request))


# --- actions ------------------------------------------------------------------------------


def handled_elsewhere(request, task_id: int, querystring: str, error) -> object:
    """409: someone else acted on the task first; show its current state and say so (the service says who)."""
    task = _task(task_id)
    text = str(error) or "This task was changed by someone else; nothing was applied."
    yours = task.status != StewardTask.Status.OPEN and task.resolved_by_id == request.user.pk
    return render_task(request, task, querystring, status=409, extra={
        "conflict_message": text, "conflict_yours": yours, "next_after": next_url(request, querystring)})


def invalid(request, task: StewardTask, querystring: str, message: str, form=None):
    return render_task(request, task, querystring, status=400, extra={"error_message": message, "form": form})


def act(request, task: StewardTask, querystring: str, form, action, *, success=None, destination):
    """Run one steward action (a service call) the same way for every button.

    The second steward to act gets 409 with who did what; an action the
    service refuses gets 400 with its reason; otherwise ``success`` (text,
    or a function of the service's result) is flashed and the steward moves on
    to ``destination`` (a URL, or a function giving it once the action is
    done: the next task in the queue is only known then).
    """
    try:
        result = action()
    except services.TaskAlreadyHandled as exc:
        return handled_elsewhere(request, task.pk, querystring, exc)
    except services.StewardActionError as exc:
        return invalid(request, task, querystring, str(exc), form)
    if success:
        messages.success(request, success(result) if callable(success) else success)
    return go(request, destination() if callable(destination) else destination)


def _answer_match(request, pk: int, *, merge: bool):
    """Merge or not-a-match, one service call (``answer_match_task``) for both buttons."""
    task = _task(pk)
    querystring = _queue_params(request)
    form = MatchActionForm(request.POST)
    if task.kind not in MATCH_KINDS:
        raise Http404("not a match task")
    if not form.is_valid():
        return invalid(request, task, querystring, "The decision could not be read; reload the page.", form)
    golden_a, golden_b = services.pair_goldens(task)
    names = [g.golden_id for g in (golden_a, golden_b) if g]

    def done(kept) -> str:
        if len(set(names)) < 2:
            return (f"Confirmed the match in {kept.golden_id}." if merge
                    else f"Took the second record out of {names[0] if names else '?'} into {kept.golden_id}.")
        if merge:
            return f"Merged {', '.join(n for n in names if n != kept.golden_id)} into {kept.golden_id}."
        return f"Marked {' and '.join(names)} as not a match; they will not be proposed again."

    return act(request, task, querystring, form, lambda: services.answer_match_task(
        task, merge=merge, steward=request.user, survivor=form.cleaned_data.get("survivor") or "",
        note=form.cleaned_data.get("note", ""), expected_version=form.cleaned_data["version"]),
        success=done, destination=lambda: next_url(request, querystring))


@require_POST
@role_required(STEWARD)
def task_merge(request, pk: int):
    return _answer_match(request, pk, merge=True)


@require_POST
@role_required(STEWARD)
def task_not_a_match(request, pk: int):
    return _answer_match(request, pk, merge=False)


@require_POST
@role_required(STEWARD)
def task_skip(request, pk: int):
    task = _task(pk)
    querystring = _queue_params(request)
    form = VersionedForm(request.POST)
    return act(request, task, querystring, form, lambda: services.skip_task(
        task, steward=request.user, expected_version=form.cleaned_data["version"] if form.is_valid() else None),
        destination=next_url(request, querystring, after=task))


@require_POST
@role_required(STEWARD)
def task_resolve(request, pk: int):
    task = _task(pk)
    querystring = _queue_params(request)
    if task.kind not in CONFLICT_KINDS:
        raise Http404("not a conflict task")
    form = ConflictForm(request.POST)
    if not form.is_valid():
        return invalid(request, task, querystring, "Pick one of the values or type one, and give a reason.", form)
    data = form.cleaned_data
    return act(request, task, querystring, form, lambda: services.resolve_conflict(
        task=task, steward=request.user, value=data.get("value"), record_id=data.get("record_id"),
        reason=data["reason"], expected_version=data["version"]),
        success=f"Resolved: {task.title}.", destination=lambda: next_url(request, querystring))


@require_POST
@role_required(STEWARD)
def task_close(request, pk: int):
    task = _task(pk)
    querystring = _queue_params(request)
    form = CloseTaskForm(request.POST)
    if not form.is_valid():
        return invalid(request, task, querystring, "Say how the task was handled.", form)
    return act(request, task, querystring, form, lambda: services.close_task(
        task, steward=request.user, resolution=form.cleaned_data["resolution"],
        note=form.cleaned_data.get("note", ""), expected_version=form.cleaned_data["version"]),
        success=f"Closed: {task.title}.", destination=lambda: next_url(request, querystring))


@require_POST
@role_required(STEWARD)
def task_claim(request, pk: int):
    task = _task(pk)
    querystring = _queue_params(request)
    message, level = None, "success"
    try:
        services.claim_task(task, steward=request.user)
    except services.TaskAlreadyHandled as exc:
        message, level = str(exc) or "This task is no longer open.", "warning"
    if getattr(request, "htmx", False) and request.htmx.target == f"task-row-{pk}":
        row = (selectors.page_rows(selectors.queue_base(request.user), [pk]) or [_task(pk)])[0]
        row.overdue = row.status == StewardTask.Status.OPEN and selectors.is_overdue(row)
        return render_page(request, "stewardship/queue/_row.html",
                           {"task": row, "querystring": querystring, "row_message": message,
                            "row_message_level": level}, status=409 if message else 200)
    if message:
        messages.warning(request, message)
    else:
        messages.success(request, f"You claimed: {task.title}.")
    return redirect(request.POST.get("back") or task_url(pk, querystring))


@require_POST
@role_required(STEWARD)
def task_assign(request, pk: int):
    task = _task(pk)
    querystring = _queue_params(request)
    form = AssignForm(request.POST, users=assignable_users())
    if not form.is_valid():
        return invalid(request, task, querystring, "Choose a steward to assign the task to.", form)
    assignee = form.cleaned_data["assignee"]
    return act(request, task, querystring, form, lambda: services.assign_task(
        task, assignee, request.user, expected_version=form.cleaned_data["version"]),
        success=f"Assigned to {assignee.get_username()}." if assignee else "Unassigned.",
        destination=task_url(pk, querystring))


@require_POST
@role_required(STEWARD)
def task_comment(request, pk: int):
    task = _task(pk)
    querystring = _queue_params(request)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return invalid(request, task, querystring, "A comment needs some text.", form)
    add_comment(author=request.user, text=form.cleaned_data["text"], task=task)
    messages.success(request, "Comment added.")
    return go(request, task_url(pk, querystring))
