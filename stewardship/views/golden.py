"""Golden record pages: search, and one record with lineage, members, history and actions."""
from __future__ import annotations

from django.contrib import messages
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from mdm import selectors as mdm_selectors
from mdm.models import EntityType, GoldenRecord, Override, SourceRecord, StewardTask, TaskComment
from mdm.services import stewardship as services
from mdm.services.golden import NAME_SEARCH_MIN
from stewardship import selectors
from stewardship.forms import ClearOverrideForm, CommentForm, NoteForm, OverrideForm, SplitForm
from stewardship.permissions import STEWARD, VIEWER, role_required
from stewardship.rendering import go, render_page
from stewardship.services import add_comment

HISTORY_LIMIT = 30


@role_required(VIEWER)
def golden_search(request):
    query = request.GET.get("q", "").strip()
    entity = request.GET.get("entity", "")
    hits = selectors.search_goldens(query, entity_code=entity,
                                    include_inactive=request.GET.get("inactive") == "1") if query else []
    context = {
        "search_query": query, "hits": hits, "entity": entity, "entity_types": EntityType.objects.all(),
        "inactive": request.GET.get("inactive") == "1", "limit": selectors.SEARCH_LIMIT,
        "names_skipped": 0 < len(query) < NAME_SEARCH_MIN, "name_min": NAME_SEARCH_MIN,
        "recent": [] if query else GoldenRecord.objects.select_related("entity_type").filter(
            status=GoldenRecord.Status.ACTIVE).order_by("-updated_at", "-id")[:15],
    }
    return render_page(request, "stewardship/golden/search.html", context,
                       fragments={"search-results": "stewardship/golden/_results.html"})


def golden_context(golden: GoldenRecord, as_of=None) -> dict:
    """Everything the golden record page shows, in a bounded number of queries.

    ``as_of``: a past version (``GoldenRecordVersion``) whose values, lineage
    and members are shown instead of the current ones.
    """
    entity = golden.entity_type
    if as_of is not None:
        members = list(SourceRecord.objects.filter(pk__in=as_of.members).select_related("source_system")
                       .order_by("source_system__code", "source_id"))
        values, lineage, overrides = as_of.values or {}, as_of.lineage or {}, {}
    else:
        members = list(
            SourceRecord.objects.filter(golden=golden).select_related("source_system").order_by(
                "deleted", "source_system__code", "source_id")
        )
        values, lineage = golden.values or {}, golden.lineage or {}
        overrides = {o.attribute: o for o in Override.objects.filter(golden=golden).select_related("created_by")}
    labels = {a["name"]: a.get("label") or a["name"].replace("_", " ").capitalize()
              for a in entity.config.get("attributes", [])}
    # The current state reads lineage the way the API does (mdm.selectors.explain).
    explained = mdm_selectors.explain(golden) if as_of is None and golden.status != GoldenRecord.Status.RETIRED else {}
    rows = []
    for spec in entity.attribute_specs:
        entry = explained.get(spec.name) or lineage.get(spec.name) or {}
        value = entry["value"] if "value" in entry and spec.name in explained else values.get(spec.name)
        if value is None and not entry and spec.name not in overrides:
            continue
        rows.append({
            "name": spec.name, "label": labels.get(spec.name, spec.name), "type": spec.type, "value": value,
            "lineage": entry, "override": overrides.get(spec.name),
            "as_of_override": bool(entry.get("override")) and as_of is not None,
            "competing": entry.get("competing") or [],
        })
    empty_attributes = [
        {"name": spec.name, "label": labels.get(spec.name, spec.name)}
        for spec in entity.attribute_specs if spec.name not in {r["name"] for r in rows}
    ]
    history, more_history = selectors.history_with_diffs(golden, HISTORY_LIMIT)
    tasks = list(
        StewardTask.objects.filter(status=StewardTask.Status.OPEN).filter(
            Q(golden=golden) | Q(other_golden=golden)).order_by("-priority")[:20]
    )
    return {
        "golden": golden, "entity": entity, "rows": rows, "empty_attributes": empty_attributes,
        "members": members, "active_members": [m for m in members if not m.deleted],
        "history": history, "more_history": more_history,
        "comments": TaskComment.objects.filter(golden=golden).select_related("author").order_by("-created_at")[:50],
        "tasks": tasks,
        "absorbed": list(GoldenRecord.objects.filter(merged_into=golden).values_list("golden_id", flat=True)[:50]),
        "links": selectors.relationships(golden),
    }


@role_required(VIEWER)
def golden_detail(request, golden_id: str):
    golden = get_object_or_404(GoldenRecord.objects.select_related("entity_type", "merged_into"),
                               golden_id=golden_id)
    when = parse_datetime(request.GET.get("as_of", "").replace(" ", "+")) if request.GET.get("as_of") else None
    version = selectors.version_as_of(golden, when) if when else None
    context = golden_context(golden, as_of=version)
    if when is not None:
        context.update(as_of=when, as_of_version=version)
    if request.GET.get("as_of") and when is None:
        context["action_error"] = "The date to view the record as of was not understood; showing the current state."
    return render_page(request, "stewardship/golden/detail.html", context)


@role_required(VIEWER)
def golden_tree(request, golden_id: str):
    """The whole account hierarchy around a golden record (ancestors, nested children, other links)."""
    golden = get_object_or_404(GoldenRecord.objects.select_related("entity_type"), golden_id=golden_id)
    tree = mdm_selectors.customer_tree(golden)
    return render_page(request, "stewardship/golden/tree.html", {"golden": golden, "tree": tree})


# --- actions ------------------------------------------------------------------------------


def _golden_for_action(golden_id: str) -> GoldenRecord:
    return get_object_or_404(GoldenRecord.objects.select_related("entity_type"), golden_id=golden_id)


def _back(golden: GoldenRecord, anchor: str = "") -> str:
    return reverse("stewardship:golden", args=[golden.golden_id]) + (f"#{anchor}" if anchor else "")


def _refused(request, golden: GoldenRecord, message: str, status: int = 400):
    context = golden_context(golden)
    context["action_error"] = message
    return render_page(request, "stewardship/golden/detail.html", context, status=status)


@require_POST
@role_required(STEWARD)
def golden_unmerge(request, golden_id: str, record_id: int):
    golden = _golden_for_action(golden_id)
    record = get_object_or_404(SourceRecord.objects.select_related("source_system"), pk=record_id)
    if record.golden_id != golden.pk:
        return _refused(request, golden, f"{record.source_system.code}:{record.source_id} is no longer part of "
                                         f"{golden.golden_id}; the page was out of date.", status=409)
    form = NoteForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        result = services.unmerge_record(record=record, steward=request.user, note=note)
    except services.StewardActionError as exc:
        return _refused(request, golden, str(exc))
    messages.success(request, f"Unmerged {record.source_system.code}:{record.source_id} from {golden.golden_id}; "
                              f"it is now {result.golden_id}.")
    return go(request, _back(golden, "members"))


@require_POST
@role_required(STEWARD)
def golden_split(request, golden_id: str):
    golden = _golden_for_action(golden_id)
    member_ids = list(SourceRecord.objects.filter(golden=golden, deleted=False).values_list("id", flat=True))
    form = SplitForm(request.POST, member_ids=member_ids)
    if not form.is_valid():
        return _refused(request, golden, "Tick the source records to move into a new golden record "
                                         "(they must still belong to this one).")
    chosen = set(form.cleaned_data["records"])
    if chosen == set(member_ids):
        return _refused(request, golden, "Leave at least one record in this golden record; tick only those that "
                                         "belong to a different real-world entity.")
    # The first group keeps this golden ID; the ticked records leave together.
    groups = [sorted(set(member_ids) - chosen), sorted(chosen)]
    try:
        result = services.split_golden(golden=golden, groups=groups, steward=request.user,
                                       note=form.cleaned_data.get("note", ""))
    except services.StewardActionError as exc:
        return _refused(request, golden, str(exc))
    created = ", ".join(g.golden_id for g in result[1:])
    messages.success(request, f"Split {len(chosen)} record{'s' if len(chosen) != 1 else ''} out of "
                              f"{golden.golden_id} into {created}.")
    return go(request, _back(golden, "members"))


@require_POST
@role_required(STEWARD)
def golden_override(request, golden_id: str):
    golden = _golden_for_action(golden_id)
    form = OverrideForm(request.POST)
    if not form.is_valid():
        return _refused(request, golden, "An override needs the attribute, a value and a reason.")
    data = form.cleaned_data
    try:
        services.set_override(golden=golden, attribute=data["attribute"], value=data["value"], reason=data["reason"],
                              steward=request.user)
    except services.StewardActionError as exc:
        return _refused(request, golden, str(exc))
    messages.success(request, f"{data['attribute']} of {golden.golden_id} is now set by you; it stays until cleared.")
    return go(request, _back(golden, f"attr-{data['attribute']}"))


@require_POST
@role_required(STEWARD)
def golden_override_clear(request, golden_id: str):
    golden = _golden_for_action(golden_id)
    form = ClearOverrideForm(request.POST)
    if not form.is_valid():
        return _refused(request, golden, "Which override should be cleared?")
    try:
        services.clear_override(golden=golden, attribute=form.cleaned_data["attribute"], steward=request.user,
                                reason=form.cleaned_data.get("reason", ""))
    except services.StewardActionError as exc:
        return _refused(request, golden, str(exc))
    messages.success(request, f"Cleared the override of {form.cleaned_data['attribute']}; the rules decide again.")
    return go(request, _back(golden, f"attr-{form.cleaned_data['attribute']}"))


@require_POST
@role_required(STEWARD)
def golden_comment(request, golden_id: str):
    golden = _golden_for_action(golden_id)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _refused(request, golden, "A comment needs some text.")
    add_comment(author=request.user, text=form.cleaned_data["text"], golden=golden)
    messages.success(request, "Comment added.")
    return go(request, _back(golden, "comments"))
