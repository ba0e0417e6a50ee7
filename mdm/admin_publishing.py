"""Admin for publishing: subscriptions with their delivery status, deliveries
(read-only) with dead-letter replay, write-back acknowledgements."""
from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.utils.html import format_html

from mdm.models import Delivery, Subscription, XrefAcknowledgement
from mdm.models.publishing import generate_secret
from mdm.selectors_publishing import subscription_status
from mdm.services.publishing import replay


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["name", "url", "target_system", "active", "pending", "failing", "delivered", "dead", "lag"]
    list_filter = ["active", "target_system"]
    fields = ["name", "url", "target_system", "entity_types", "event_types", "active", "secret"]
    actions = ["replay_dead_letters", "rotate_secret"]
    # A URL typed without a scheme means https (Django 6's default; said explicitly until then).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_readonly_fields(self, request, obj=None):
        # The secret is generated; shown for copying to the receiver, changed only by rotation.
        return ["secret"] if obj else []

    def get_fields(self, request, obj=None):
        return self.fields if obj else [f for f in self.fields if f != "secret"]

    def changelist_view(self, request, extra_context=None):
        self._status = {s.id: s for s in subscription_status()}
        return super().changelist_view(request, extra_context)

    def _s(self, obj):
        return getattr(self, "_status", {}).get(obj.pk)

    @admin.display(description="Pending")
    def pending(self, obj):
        s = self._s(obj)
        return s.pending if s else "-"

    @admin.display(description="Failing")
    def failing(self, obj):
        s = self._s(obj)
        return s.failing if s else "-"

    @admin.display(description="Delivered")
    def delivered(self, obj):
        s = self._s(obj)
        return s.delivered if s else "-"

    @admin.display(description="Dead letters")
    def dead(self, obj):
        s = self._s(obj)
        if not s or not s.dead:
            return 0
        return format_html('<a href="../delivery/?subscription__id__exact={}&status__in=failed,dead">{}</a>',
                           obj.pk, s.dead)

    @admin.display(description="Lag")
    def lag(self, obj):
        s = self._s(obj)
        return f"{s.lag_seconds:.1f} s" if s else "-"

    @admin.action(description="Replay dead letters of the selected subscriptions")
    def replay_dead_letters(self, request, queryset):
        result = replay(Delivery.objects.filter(subscription__in=queryset), actor=request.user.get_username())
        messages.info(request, f"{result.requeued} re-queued, {result.superseded} superseded by newer versions.")

    @admin.action(description="Rotate signing secret")
    def rotate_secret(self, request, queryset):
        for sub in queryset:
            sub.secret = generate_secret()
            sub.save(update_fields=["secret", "updated_at"])
            messages.warning(request, f"New secret for {sub.name}: {sub.secret}")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "subscription", "golden_link", "golden_version", "event_type", "status", "attempts",
                    "last_status_code", "next_attempt_at", "delivered_at", "created_at"]
    list_filter = ["status", "subscription"]
    search_fields = ["event__golden_id_text"]
    list_select_related = ["subscription", "event"]
    show_full_result_count = False
    actions = ["replay_selected"]
    readonly_fields = ["subscription", "event", "golden", "golden_version", "status", "attempts", "next_attempt_at",
                       "claimed_at", "last_attempt_at", "last_status_code", "last_response", "last_error",
                       "delivered_at", "created_at"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        statuses = request.GET.get("status__in")
        return qs.filter(status__in=statuses.split(",")) if statuses else qs

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "status__in" or super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Golden record")
    def golden_link(self, obj):
        return obj.event.golden_id_text

    @admin.display(description="Event")
    def event_type(self, obj):
        return obj.event.event_type

    @admin.action(description="Replay selected dead letters")
    def replay_selected(self, request, queryset):
        result = replay(queryset, actor=request.user.get_username())
        messages.info(request, f"{result.requeued} re-queued, {result.superseded} superseded by newer versions.")


@admin.register(XrefAcknowledgement)
class XrefAcknowledgementAdmin(admin.ModelAdmin):
    list_display = ["golden", "source_system", "source_id", "golden_version", "acknowledged_by", "acknowledged_at"]
    list_filter = ["source_system"]
    search_fields = ["source_id", "golden__golden_id"]
    readonly_fields = ["golden", "source_system", "source_id", "golden_version", "webhook_id", "acknowledged_by",
                       "acknowledged_at"]

    def has_add_permission(self, request):
        return False
