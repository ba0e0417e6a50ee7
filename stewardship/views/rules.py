"""Survivorship rules, for admins: edit a draft, preview its impact, activate it and watch the recompute."""
from __future__ import annotations

import textwrap

import yaml
from django.contrib import messages
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST

from mdm.models import EntityConfigVersion, EntityType, RuleChangeJob
from mdm.services import rules as rule_services
from stewardship.forms import RuleDraftForm
from stewardship.permissions import ADMIN, role_required
from stewardship.rendering import go, render_page

Status = EntityConfigVersion.Status
PREVIEW_EXAMPLES = 10


def section_text(config: dict) -> str:
    section = (config or {}).get("survivorship") or {}
    return yaml.safe_dump(section, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


def active_rules_text(entity: EntityType) -> str:
    """The survivorship block as the admin wrote it in the entity's YAML (comments kept), dedented.

    Falls back to a dump of the parsed section when the block is not found as
    text (e.g. written in flow style on one line).
    """
    lines = entity.config_yaml.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("survivorship:")), None)
    if start is None or lines[start].split(":", 1)[1].split("#", 1)[0].strip():
        return section_text(entity.config)
    end = next((i for i in range(start + 1, len(lines)) if lines[i][:1].strip() and not lines[i].startswith("#")),
               len(lines))
    body = textwrap.dedent("\n".join(lines[start + 1:end])).strip("\n") + "\n"
    try:
        same = (yaml.safe_load(body) or {}) == (entity.config.get("survivorship") or {})
    except yaml.YAMLError:
        same = False
    return body if same else section_text(entity.config)


@role_required(ADMIN)
def rules(request):
    entities = list(EntityType.objects.order_by("code"))
    drafts = {}
    for draft in EntityConfigVersion.objects.filter(status=Status.DRAFT).order_by("-version"):
        drafts.setdefault(draft.entity_type_id, []).append(draft)
    history = {}
    for version in EntityConfigVersion.objects.exclude(status=Status.DRAFT).order_by("-version")[:100]:
        history.setdefault(version.entity_type_id, []).append(version)
    jobs = RuleChangeJob.objects.select_related("entity_type", "config_version")[:10]
    rows = [{"entity": e, "rules": active_rules_text(e), "drafts": drafts.get(e.pk, []),
             "history": history.get(e.pk, [])[:5]} for e in entities]
    return render_page(request, "stewardship/rules/index.html", {"rows": rows, "jobs": jobs})


@role_required(ADMIN)
def rule_draft_new(request, entity_code: str):
    entity = get_object_or_404(EntityType, code=entity_code)
    if request.method == "POST":
        form = RuleDraftForm(request.POST)
        if form.is_valid():
            try:
                draft = rule_services.create_rule_draft(entity, form.cleaned_data["rules"], request.user,
                                                        note=form.cleaned_data["note"])
            except rule_services.RuleDraftInvalid as exc:
                for error in exc.errors:
                    form.add_error("rules", error)
            else:
                messages.success(request, f"Saved draft v{draft.version}. Preview its impact, then activate it.")
                return go(request, reverse("stewardship:rule_draft", args=[draft.pk]))
        status = 400
    else:
        form = RuleDraftForm(initial={"rules": active_rules_text(entity)})
        status = 200
    return render_page(request, "stewardship/rules/draft.html",
                       {"entity": entity, "form": form, "draft": None, "current": active_rules_text(entity)},
                       status=status)


def _draft(pk: int) -> EntityConfigVersion:
    return get_object_or_404(EntityConfigVersion.objects.select_related("entity_type"), pk=pk)


@role_required(ADMIN)
def rule_draft(request, pk: int):
    draft = _draft(pk)
    entity = draft.entity_type
    status = 200
    if request.method == "POST":
        form = RuleDraftForm(request.POST)
        if form.is_valid():
            try:
                rule_services.update_rule_draft(draft, form.cleaned_data["rules"], request.user,
                                                note=form.cleaned_data["note"] or None)
            except rule_services.RuleDraftInvalid as exc:
                for error in exc.errors:
                    form.add_error("rules", error)
                status = 400
            except rule_services.RuleDraftError as exc:
                form.add_error(None, str(exc))
                status = 409
            else:
                messages.success(request, f"Saved draft v{draft.version}.")
                return go(request, reverse("stewardship:rule_draft", args=[draft.pk]))
        else:
            status = 400
    else:
        form = RuleDraftForm(initial={"rules": draft.rules_yaml or section_text(draft.config), "note": draft.note})
    jobs = RuleChangeJob.objects.filter(config_version=draft).order_by("-created_at")[:5]
    return render_page(request, "stewardship/rules/draft.html", {
        "entity": entity, "form": form, "draft": draft, "current": active_rules_text(entity),
        "is_draft": draft.status == Status.DRAFT, "jobs": jobs,
    }, status=status)


@role_required(ADMIN)
def rule_draft_preview(request, pk: int):
    """Counts and example before/after diffs, computed without writing (can take seconds on big data)."""
    draft = _draft(pk)
    preview = rule_services.preview_rule_draft(draft, examples=PREVIEW_EXAMPLES)
    for example in preview.get("examples", []):
        example["changes"] = [{"attribute": k, "before": v[0], "after": v[1]} for k, v in example["diff"].items()]
    return render_page(request, "stewardship/rules/draft.html", {
        "entity": draft.entity_type, "draft": draft, "preview": preview, "is_draft": draft.status == Status.DRAFT,
        "form": RuleDraftForm(initial={"rules": draft.rules_yaml or section_text(draft.config), "note": draft.note}),
        "current": active_rules_text(draft.entity_type),
    }, fragments={"preview": "stewardship/rules/_preview.html"})


@require_POST
@role_required(ADMIN)
def rule_draft_activate(request, pk: int):
    draft = _draft(pk)
    try:
        job = rule_services.activate_rule_draft(draft, request.user)
    except (rule_services.RuleDraftError, rule_services.RuleDraftInvalid) as exc:
        messages.error(request, str(exc))
        return go(request, reverse("stewardship:rule_draft", args=[draft.pk]))
    messages.success(request, f"Rules v{draft.version} of {draft.entity_type.name} are active; "
                              "golden records are being recomputed.")
    return go(request, reverse("stewardship:rule_job", args=[job.pk]))


@require_POST
@role_required(ADMIN)
def rule_draft_discard(request, pk: int):
    draft = _draft(pk)
    try:
        rule_services.discard_rule_draft(draft, request.user)
    except rule_services.RuleDraftError as exc:
        messages.error(request, str(exc))
        return go(request, reverse("stewardship:rule_draft", args=[pk]))
    messages.success(request, f"Discarded draft v{draft.version}.")
    return go(request, reverse("stewardship:rules"))


@role_required(ADMIN)
def rule_job(request, pk: int):
    job = get_object_or_404(RuleChangeJob.objects.select_related("entity_type", "config_version"), pk=pk)
    return render_page(request, "stewardship/rules/job.html", {"job": job},
                       fragments={"job-progress": "stewardship/rules/_job.html"})
