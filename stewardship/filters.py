"""The work queue's filters (django-filter), one set for the page, its counts and bulk actions.

Filtering is by codes and names a steward can read in the URL
(``?kind=possible_match&entity=customer&source=crm&age=overdue&assignee=me``)
so a filtered queue can be bookmarked or shared.
"""
from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q

from mdm.models import EntityType, SourceSystem, StewardTask
from stewardship import selectors

STATUS_CHOICES = [("open", "Open"), ("resolved", "Resolved"), ("dismissed", "Dismissed"), ("all", "Any status")]
AGE_CHOICES = [(key, label) for key, label, _, _ in selectors.AGE_BUCKETS] + [("overdue", "Overdue (past SLA)")]


class TaskFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=StewardTask.Kind.choices, empty_label="All kinds")
    entity = django_filters.ModelChoiceFilter(
        field_name="entity_type", queryset=EntityType.objects.all(), to_field_name="code", empty_label="All entity types",
        label="Entity type",
    )
    source = django_filters.ModelChoiceFilter(
        queryset=SourceSystem.objects.all(), to_field_name="code", method="filter_source", empty_label="All sources",
    )
    age = django_filters.ChoiceFilter(choices=AGE_CHOICES, method="filter_age", empty_label="Any age")
    assignee = django_filters.CharFilter(method="filter_assignee", label="Assignee")
    status = django_filters.ChoiceFilter(choices=STATUS_CHOICES, method="filter_status", empty_label=None)
    q = django_filters.CharFilter(method="filter_text", label="Title contains")

    class Meta:
        model = StewardTask
        fields = ["kind", "entity", "source", "age", "assignee", "status", "q"]

    def __init__(self, data=None, *args, **kwargs):
        data = data.copy() if data is not None else {}
        if not data.get("status"):
            data["status"] = "open"
        super().__init__(data, *args, **kwargs)

    def filter_source(self, queryset, name, value):
        return queryset.about_source(value)

    def filter_age(self, queryset, name, value):
        return selectors.apply_age(queryset, value)

    def filter_assignee(self, queryset, name, value):
        if value == "me":
            return queryset.filter(assignee=self.request.user) if self.request else queryset.none()
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(assignee__username=value)

    def filter_status(self, queryset, name, value):
        if value == "all":
            return queryset
        if value != "open":
            queryset = queryset.order_by("-resolved_at", "-id")
        return queryset.filter(status=value)

    def filter_text(self, queryset, name, value):
        return queryset.filter(title__icontains=value.strip()) if value.strip() else queryset

    def without(self, *names: str):
        """The same filters minus ``names`` (the kind tabs count without the kind filter)."""
        data = self.data.copy()
        for name in names:
            data.pop(name, None)
        return type(self)(data, queryset=self.queryset, request=self.request)


def assignable_users():
    """Users a task can be assigned to: stewards and admins."""
    from mdm.roles import ADMINS, STEWARDS

    return (
        get_user_model().objects.filter(is_active=True)
        .filter(Q(groups__name__in=[STEWARDS, ADMINS]) | Q(is_superuser=True)).distinct().order_by("username")
    )
