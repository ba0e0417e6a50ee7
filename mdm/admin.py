"""Django admin: configuration editable, source data read-only (the hub never edits it)."""
from __future__ import annotations

import json

import yaml
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from mdm.models import (
    ApiClient,
    EntityConfigVersion,
    EntityType,
    FieldMapping,
    IngestBatch,
    RejectedRecord,
    RuleChangeJob,
    SourceRecord,
    SourceRecordVersion,
    SourceSystem,
)
from mdm.roles import steward_accounts
from mdm.services import rules as rule_service
from mdm.services.entity_config import EntityConfigInvalid, check_entity_config, save_entity_config


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def pretty_json(value) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


class EntityTypeForm(forms.ModelForm):
    config_yaml = forms.CharField(
        label="Configuration (YAML)",
        widget=forms.Textarea(attrs={"rows": 40, "cols": 110, "style": "font-family: monospace"}),
        help_text="Attributes, matching and survivorship. Saved as a new version after validation.",
    )

    class Meta:
        model = EntityType
        fields = ["config_yaml", "active"]

    def clean_config_yaml(self):
        text = self.cleaned_data["config_yaml"].replace("\r\n", "\n")
        try:
            data = check_entity_config(text)
        except EntityConfigInvalid as exc:
            raise forms.ValidationError([str(e) for e in exc.errors]) from exc
        self.rules_draft = None
        if self.instance.pk:
            if data["code"] != self.instance.code:
                raise forms.ValidationError("The code of an existing entity type cannot change.")
            current = self.instance.config
            if (data.get("survivorship") or {}) != (current.get("survivorship") or {}):
                # Rule changes are previewed before they rewrite golden records.
                rest_same = ({k: v for k, v in data.items() if k != "survivorship"}
                             == {k: v for k, v in current.items() if k != "survivorship"})
                if not rest_same:
                    raise forms.ValidationError(
                        "Survivorship rules change through a rule draft (preview, then activate). Save the other "
                        "changes first, then change the survivorship section on its own: it becomes a draft.")
                self.rules_draft = data.get("survivorship") or {}
        return text


class EntityConfigVersionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = EntityConfigVersion
    fields = ["version", "status", "created_at", "created_by", "note"]
    readonly_fields = fields
    extra = 0
    ordering = ["-version"]


@admin.register(EntityType)
class EntityTypeAdmin(admin.ModelAdmin):
    form = EntityTypeForm
    list_display = ["code", "name", "id_prefix", "version", "active", "updated_at"]
    inlines = [EntityConfigVersionInline]

    readonly_fields = ["code", "name", "id_prefix", "version", "rule_drafts"]

    @admin.display(description="Survivorship rules")
    def rule_drafts(self, obj):
        if not obj.pk:
            return "-"
        add = reverse("admin:mdm_entityconfigversion_add") + f"?entity_type={obj.pk}"
        listing = reverse("admin:mdm_entityconfigversion_changelist") + f"?entity_type__id__exact={obj.pk}"
        return format_html('<a href="{}">New rule draft</a> · <a href="{}">versions and drafts</a>', add, listing)

    def save_model(self, request, obj, form, change):
        if getattr(form, "rules_draft", None) is not None:
            draft = rule_service.create_rule_draft(obj, form.rules_draft, request.user,
                                                   note="survivorship edited in the admin")
            obj._rules_draft = draft
            messages.warning(request, format_html(
                'The survivorship rules were saved as draft <a href="{}">v{}</a>: preview it, then activate it.',
                reverse("admin:mdm_entityconfigversion_change", args=[draft.pk]), draft.version))
            return
        entity, created, changed = save_entity_config(
            form.cleaned_data["config_yaml"], user=request.user.get_username(), note="edited in the admin"
        )
        if entity.active != form.cleaned_data["active"]:
            entity.active = form.cleaned_data["active"]
            entity.save(update_fields=["active"])
        obj.pk = entity.pk
        obj.refresh_from_db()
        if changed:
            messages.info(request, f"{entity.code} saved as version {entity.version}.")


class FieldMappingInline(admin.StackedInline):
    model = FieldMapping
    extra = 0


@admin.register(SourceSystem)
class SourceSystemAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "default_region", "active"]
    list_filter = ["kind", "active"]
    inlines = [FieldMappingInline]


@admin.register(FieldMapping)
class FieldMappingAdmin(admin.ModelAdmin):
    list_display = ["source_system", "entity_type", "id_field", "file_format", "encoding"]
    list_filter = ["source_system", "entity_type"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)

        class MappingForm(form):
            def clean(self):
                cleaned = super().clean()
                entity = cleaned.get("entity_type")
                fields = cleaned.get("fields") or {}
                if entity and isinstance(fields, dict):
                    bad = sorted(set(map(str, fields.values())) - set(entity.attribute_names))
                    if bad:
                        raise forms.ValidationError(f"unknown attribute(s) of {entity.code}: {', '.join(bad)}")
                elif not isinstance(fields, dict):
                    raise forms.ValidationError("fields must be a JSON object {source column: attribute}")
                return cleaned

        return MappingForm


class SourceRecordVersionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SourceRecordVersion
    verbose_name_plural = "earlier versions (the current one is this record)"
    fields = ["version", "received_at", "source_updated_at", "deleted", "content_hash", "batch"]
    readonly_fields = fields
    extra = 0
    ordering = ["-version"]


@admin.register(SourceRecord)
class SourceRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["source_id", "source_system", "entity_type", "version", "deleted", "received_at"]
    list_filter = ["entity_type", "source_system", "deleted"]
    search_fields = ["source_id"]
    list_select_related = ["source_system", "entity_type"]
    show_full_result_count = False
    readonly_fields = ["entity_type", "source_system", "source_id", "version", "raw_pretty", "attributes_pretty",
                       "issues", "content_hash", "received_at", "source_updated_at", "deleted", "deleted_at",
                       "created_at", "last_batch"]
    exclude = ["raw", "attributes", "needs_match"]
    inlines = [SourceRecordVersionInline]

    @admin.display(description="Raw payload (as received)")
    def raw_pretty(self, obj):
        return format_html("<pre>{}</pre>", pretty_json(obj.raw))

    @admin.display(description="Standardized attributes")
    def attributes_pretty(self, obj):
        return format_html("<pre>{}</pre>", pretty_json(obj.attributes))


class RejectedRecordInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RejectedRecord
    fields = ["position", "source_id", "reason_text", "raw"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    show_change_link = True


@admin.register(IngestBatch)
class IngestBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "source_system", "entity_type", "channel", "status", "rows_total", "created_count",
                    "updated_count", "unchanged_count", "deleted_count", "rejected_count", "started_at"]
    list_filter = ["status", "channel", "source_system", "entity_type"]
    inlines = [RejectedRecordInline]


@admin.register(RejectedRecord)
class RejectedRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "source_system", "entity_type", "source_id", "position", "reason_text", "created_at"]
    list_filter = ["source_system", "entity_type"]
    search_fields = ["source_id"]


class ApiClientForm(forms.ModelForm):
    scopes = forms.CharField(
        help_text="Comma-separated: write:<source>, read:<entity>|read:*, match:<entity>|match:*, tasks, "
                  "steward:<entity>|steward:*, admin",
        required=False,
    )

    class Meta:
        model = ApiClient
        fields = ["name", "source_system", "scopes", "acts_for", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["scopes"] = ", ".join(self.instance.scopes)
        self.fields["acts_for"].queryset = steward_accounts()

    def clean(self):
        data = super().clean()
        kinds = {scope.partition(":")[0] for scope in data.get("scopes") or []}
        if data.get("acts_for") and not kinds & {"tasks", "steward", "admin"}:
            self.add_error("acts_for", "Acting for a steward only matters with the 'tasks' or 'steward' scope.")
        return data

    def clean_scopes(self):
        scopes = [s.strip() for s in self.cleaned_data["scopes"].split(",") if s.strip()]
        for scope in scopes:
            kind = scope.partition(":")[0]
            if kind not in {"write", "read", "match", "tasks", "steward", "admin"}:
                raise forms.ValidationError(f"unknown scope {scope!r}")
        return scopes


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    form = ApiClientForm
    list_display = ["name", "source_system", "scope_list", "acts_for", "active", "last_used_at"]
    readonly_fields = ["key_id", "created_at", "last_used_at"]
    actions = ["rotate_tokens"]

    @admin.display(description="Scopes")
    def scope_list(self, obj):
        return ", ".join(obj.scopes)

    def save_model(self, request, obj, form, change):
        if not change:
            client, token = ApiClient.issue(name=obj.name, scopes=obj.scopes, source_system=obj.source_system,
                                            acts_for=obj.acts_for)
            client.active = obj.active
            client.save(update_fields=["active"])
            obj.pk = client.pk
            obj.refresh_from_db()
            messages.warning(request, f"Token for {client.name} (shown once, copy it now): {token}")
        else:
            super().save_model(request, obj, form, change)

    @admin.action(description="Rotate token (shows the new token once)")
    def rotate_tokens(self, request, queryset):
        for client in queryset:
            messages.warning(request, f"New token for {client.name}: {client.rotate()}")


# --- Survivorship rule drafts -------------------------------------------------------

class RuleDraftForm(forms.ModelForm):
    rules_yaml = forms.CharField(
        label="Survivorship rules (YAML)",
        widget=forms.Textarea(attrs={"rows": 24, "cols": 110, "style": "font-family: monospace"}),
        help_text="The survivorship section: default, attributes (chains per attribute), critical. "
                  "Validated like the whole configuration; nothing changes until the draft is activated.",
    )

    class Meta:
        model = EntityConfigVersion
        fields = ["entity_type", "rules_yaml", "note"]

    def clean(self):
        cleaned = super().clean()
        entity = cleaned.get("entity_type") or (self.instance.entity_type if self.instance.pk else None)
        text = cleaned.get("rules_yaml")
        if entity is not None and text:
            try:
                rule_service.validate_rules(entity, text)
            except rule_service.RuleDraftInvalid as exc:
                self.add_error("rules_yaml", forms.ValidationError(exc.errors))
        return cleaned


@admin.register(EntityConfigVersion)
class EntityConfigVersionAdmin(admin.ModelAdmin):
    """Every rule set and config version; drafts are edited, previewed and activated here."""

    form = RuleDraftForm
    list_display = ["__str__", "entity_type", "version", "status", "created_by", "created_at", "activated_at", "note"]
    list_filter = ["status", "entity_type"]
    ordering = ["entity_type", "-version"]
    actions = ["preview_drafts", "activate_drafts"]
    change_form_template = "admin/mdm/entityconfigversion/change_form.html"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["entity_type", "rules_yaml", "note"]
        if obj.status == EntityConfigVersion.Status.DRAFT:
            return ["entity_type", "version", "status", "base_version", "rules_yaml", "note", "created_by",
                    "created_at"]
        return ["entity_type", "version", "status", "config_pretty", "note", "created_by", "created_at",
                "activated_by", "activated_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        fixed = ["entity_type", "version", "status", "base_version", "created_by", "created_at", "activated_by",
                 "activated_at", "config_pretty"]
        return fixed if obj.status == EntityConfigVersion.Status.DRAFT else [*fixed, "note"]

    def has_delete_permission(self, request, obj=None):
        return obj is not None and obj.status == EntityConfigVersion.Status.DRAFT and super().has_delete_permission(
            request, obj)

    @admin.display(description="Configuration")
    def config_pretty(self, obj):
        return format_html("<pre>{}</pre>", obj.config_yaml)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        entity = EntityType.objects.filter(pk=request.GET.get("entity_type") or 0).first()
        if entity is not None:
            initial["entity_type"] = entity.pk
            initial["rules_yaml"] = yaml.safe_dump(entity.config.get("survivorship") or {}, sort_keys=False,
                                                   default_flow_style=None, width=100)
        return initial

    def save_model(self, request, obj, form, change):
        if change:
            saved = rule_service.update_rule_draft(obj, form.cleaned_data["rules_yaml"], request.user,
                                                   note=form.cleaned_data.get("note") or "")
        else:
            saved = rule_service.create_rule_draft(form.cleaned_data["entity_type"], form.cleaned_data["rules_yaml"],
                                                   request.user, note=form.cleaned_data.get("note") or "")
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        rule_service.discard_rule_draft(obj, request.user)

    def get_urls(self):
        own = [
            path("<int:pk>/preview/", self.admin_site.admin_view(self.preview_view), name="mdm_rule_draft_preview"),
            path("<int:pk>/activate/", self.admin_site.admin_view(self.activate_view),
                 name="mdm_rule_draft_activate"),
        ]
        return own + super().get_urls()

    def preview_view(self, request, pk):
        draft = get_object_or_404(EntityConfigVersion, pk=pk)
        if not self.has_view_permission(request, draft):
            raise PermissionDenied
        preview = error = None
        if draft.status == EntityConfigVersion.Status.DRAFT:
            try:
                preview = rule_service.preview_rule_draft(draft, examples=20)
            except rule_service.RuleDraftInvalid as exc:
                error = "; ".join(exc.errors)
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "draft": draft, "preview": preview,
            "error": error, "title": f"Preview of {draft.entity_type.code} rules v{draft.version}",
            "jobs": RuleChangeJob.objects.filter(config_version=draft)[:5],
        }
        return TemplateResponse(request, "admin/mdm/entityconfigversion/preview.html", context)

    def activate_view(self, request, pk):
        draft = get_object_or_404(EntityConfigVersion, pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, draft):
            raise PermissionDenied
        self._activate(request, draft)
        return redirect("admin:mdm_rulechangejob_changelist")

    def _activate(self, request, draft) -> None:
        try:
            job = rule_service.activate_rule_draft(draft, request.user)
        except (rule_service.RuleDraftError, rule_service.RuleDraftInvalid) as exc:
            messages.error(request, str(exc))
            return
        except PermissionDenied as exc:
            messages.error(request, str(exc))
            return
        messages.success(request, f"{draft.entity_type.code} rules v{draft.version} are active; recomputing "
                                  f"{job.total:,} golden records in the background (job #{job.pk}).")

    @admin.action(description="Preview the selected draft")
    def preview_drafts(self, request, queryset):
        drafts = list(queryset.filter(status=EntityConfigVersion.Status.DRAFT)[:2])
        if len(drafts) != 1:
            messages.error(request, "Select exactly one draft to preview.")
            return None
        return redirect("admin:mdm_rule_draft_preview", pk=drafts[0].pk)

    @admin.action(description="Activate the selected draft (recomputes in the background)")
    def activate_drafts(self, request, queryset):
        drafts = list(queryset.filter(status=EntityConfigVersion.Status.DRAFT))
        if not drafts:
            messages.error(request, "Only drafts can be activated.")
        for draft in drafts:
            self._activate(request, draft)


@admin.register(RuleChangeJob)
class RuleChangeJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "entity_type", "config_version", "status", "progress", "changed", "versions_written",
                    "created_by", "created_at", "finished_at"]
    list_filter = ["status", "entity_type"]
    readonly_fields = ["entity_type", "config_version", "status", "total", "processed", "changed",
                       "versions_written", "last_pk", "error", "created_by", "created_at", "started_at",
                       "finished_at"]

    actions = ["run_again"]

    @admin.display(description="Progress")
    def progress(self, obj):
        return format_html('<progress max="100" value="{}"></progress> {} / {}', obj.percent, obj.processed,
                           obj.total)

    @admin.action(description="Run failed jobs again (recomputes their entity types in the background)")
    def run_again(self, request, queryset):
        from mdm.services.rules import run_failed_job_again

        # One new job per entity type: each recomputes all of it.
        failed = {job.entity_type_id: job for job in queryset.filter(status=RuleChangeJob.Status.FAILED)
                  .select_related("entity_type").order_by("pk")}
        if not failed:
            messages.error(request, "Only failed jobs can be run again.")
        for job in failed.values():
            try:
                new = run_failed_job_again(job, request.user)
            except PermissionDenied as exc:
                messages.error(request, str(exc))
                return
            messages.success(request, f"Job {new.pk} recomputes {job.entity_type.code} in place of failed job {job.pk}.")

from mdm import admin_publishing  # noqa: E402,F401  (subscriptions, deliveries, acknowledgements)
