"""Django admin: configuration editable, source data read-only (the hub never edits it)."""
from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from mdm.models import (
    ApiClient, EntityConfigVersion, EntityType, FieldMapping, IngestBatch, RejectedRecord, SourceRecord,
    SourceRecordVersion, SourceSystem,
)
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
        if self.instance.pk and data["code"] != self.instance.code:
            raise forms.ValidationError("The code of an existing entity type cannot change.")
        return text


class EntityConfigVersionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = EntityConfigVersion
    fields = ["version", "created_at", "created_by", "note"]
    readonly_fields = fields
    extra = 0
    ordering = ["-version"]


@admin.register(EntityType)
class EntityTypeAdmin(admin.ModelAdmin):
    form = EntityTypeForm
    list_display = ["code", "name", "id_prefix", "version", "active", "updated_at"]
    readonly_fields = ["code", "name", "id_prefix", "version"]
    inlines = [EntityConfigVersionInline]

    def save_model(self, request, obj, form, change):
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
        help_text="Comma-separated: write:<source>, read:<entity>|read:*, match:<entity>|match:*, tasks, admin",
        required=False,
    )

    class Meta:
        model = ApiClient
        fields = ["name", "source_system", "scopes", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["scopes"] = ", ".join(self.instance.scopes)

    def clean_scopes(self):
        scopes = [s.strip() for s in self.cleaned_data["scopes"].split(",") if s.strip()]
        for scope in scopes:
            kind = scope.partition(":")[0]
            if kind not in {"write", "read", "match", "tasks", "admin"}:
                raise forms.ValidationError(f"unknown scope {scope!r}")
        return scopes


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    form = ApiClientForm
    list_display = ["name", "source_system", "scope_list", "active", "last_used_at"]
    readonly_fields = ["key_id", "created_at", "last_used_at"]
    actions = ["rotate_tokens"]

    @admin.display(description="Scopes")
    def scope_list(self, obj):
        return ", ".join(obj.scopes)

    def save_model(self, request, obj, form, change):
        if not change:
            client, token = ApiClient.issue(name=obj.name, scopes=obj.scopes, source_system=obj.source_system)
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

from mdm import admin_publishing  # noqa: E402,F401  (subscriptions, deliveries, acknowledgements)
