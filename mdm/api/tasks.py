"""Steward tasks for automation: list the queue, read one, answer one.

Scope ``tasks``, and ``read:<entity_type>`` for the tasks of that entity
type (they show golden IDs and values). Any such client may close a task
(``resolve``, ``dismiss``); deciding one (``merge``, ``not_a_match``,
``pick``) is a steward's judgement, so it needs a signed-in steward or a
client an admin set to act for one (``ApiClient.acts_for``).
"""
from __future__ import annotations

import django_filters
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from mdm.api.auth import HasScope, user_has_scope
from mdm.api.common import Conflict, KeysetPage, page_serializer, with_etag
from mdm.models import EntityType, GoldenRecord, SourceSystem, StewardTask
from mdm.services.matching import ensure_explanation
from mdm.services.stewardship import (
    CONFLICT_KINDS,
    PAIR_KINDS,
    StewardActionError,
    TaskAlreadyHandled,
    acting_steward,
    answer_match_task,
    close_task,
    resolve_conflict,
)


def _ref(record):
    return {"source": record.source_system.code, "source_id": record.source_id, "record_id": record.pk} \
        if record is not None else None


class TaskSerializer(serializers.ModelSerializer):
    entity_type = serializers.CharField(source="entity_type.code")
    golden_id = serializers.SerializerMethodField()
    other_golden_id = serializers.SerializerMethodField()
    record = serializers.SerializerMethodField()
    other_record = serializers.SerializerMethodField()
    assignee = serializers.SerializerMethodField()

    class Meta:
        model = StewardTask
        fields = ["id", "kind", "status", "entity_type", "title", "priority", "probability", "golden_id",
                  "other_golden_id", "record", "other_record", "details", "assignee", "version", "created_at",
                  "updated_at", "resolved_at", "resolution", "resolution_note"]

    def get_golden_id(self, obj) -> str | None:
        return obj.golden.golden_id if obj.golden_id else None

    def get_other_golden_id(self, obj) -> str | None:
        return obj.other_golden.golden_id if obj.other_golden_id else None

    def get_record(self, obj) -> dict | None:
        return _ref(obj.record)

    def get_other_record(self, obj) -> dict | None:
        return _ref(obj.other_record)

    def get_assignee(self, obj) -> str | None:
        return obj.assignee.get_username() if obj.assignee_id else None


class TaskFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=StewardTask.Status.choices)
    kind = django_filters.ChoiceFilter(choices=StewardTask.Kind.choices)
    entity_type = django_filters.CharFilter(field_name="entity_type__code")
    golden_id = django_filters.CharFilter(method="filter_golden", help_text="Tasks about this golden record.")
    source = django_filters.CharFilter(method="filter_source", help_text=(
        "Tasks about this source system (by code): its rejected rows, matches involving its records."))
    assignee = django_filters.CharFilter(field_name="assignee__username")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = StewardTask
        fields = ["status", "kind", "entity_type", "golden_id", "source", "assignee", "updated_since"]

    def filter_golden(self, queryset, name, value):
        # The golden record's key first: a join inside the OR would read every task.
        golden = GoldenRecord.objects.filter(golden_id=value).values_list("pk", flat=True).first()
        if golden is None:
            return queryset.none()
        return queryset.filter(Q(golden_id=golden) | Q(other_golden_id=golden))

    def filter_source(self, queryset, name, value):
        system = SourceSystem.objects.filter(code=value).values_list("pk", flat=True).first()
        if system is None:
            return queryset.none()
        return queryset.about_source(system)


def readable_entities(user):
    return [e.pk for e in EntityType.objects.all() if user_has_scope(user, f"read:{e.code}")]


def task_queryset(request):
    return (StewardTask.objects.filter(entity_type__in=readable_entities(request.user))
            .select_related("entity_type", "golden", "other_golden", "record__source_system",
                            "other_record__source_system", "assignee"))


@with_etag
class TaskListView(GenericAPIView):
    """The steward queue, oldest change first (keyset cursor); filter by status=open for work to do."""

    permission_classes = [HasScope.for_("tasks")]
    filterset_class = TaskFilter
    queryset = StewardTask.objects.none()

    def get_queryset(self):
        return task_queryset(self.request)

    @extend_schema(operation_id="tasks_list", tags=["steward tasks"],
                   parameters=[OpenApiParameter("cursor", str), OpenApiParameter("limit", int)],
                   responses={200: page_serializer("StewardTaskPage", TaskSerializer), 400: OpenApiResponse(),
                              403: OpenApiResponse()})
    def get(self, request):
        page = KeysetPage(request, table=StewardTask._meta.db_table)
        rows = page.paginate(self.filter_queryset(self.get_queryset()))
        return page.response(TaskSerializer(rows, many=True).data)


def task_or_404(request, pk: int) -> StewardTask:
    task = task_queryset(request).filter(pk=pk).first()
    if task is None:
        raise NotFound(f"no task {pk} (or not one of an entity type this credential may read)")
    return task


class TaskDetailView(APIView):
    permission_classes = [HasScope.for_("tasks")]

    @extend_schema(tags=["steward tasks"], responses={200: TaskSerializer, 403: OpenApiResponse(),
                                                      404: OpenApiResponse()})
    def get(self, request, pk: int):
        task = task_or_404(request, pk)
        if task.kind in (StewardTask.Kind.POSSIBLE_MATCH, StewardTask.Kind.MERGE_PROPOSAL):
            ensure_explanation(task)  # batch matching leaves it to the first reader
        return Response(TaskSerializer(task).data)


class ResolveSerializer(serializers.Serializer):
    action = serializers.ChoiceField(["resolve", "dismiss", "merge", "not_a_match", "pick"], help_text=(
        "resolve: the problem was fixed (e.g. at the source); dismiss: nothing to do. "
        "Match tasks: merge (keep `survivor`, default the golden record with more sources) or not_a_match. "
        "Conflict tasks: pick the value of member `record_id`, or a typed `value`, with a `note` as the reason."))
    resolution = serializers.RegexField(r"^[a-z0-9_]{1,40}$", required=False,
                                        help_text="resolve/dismiss: a short code for reports, e.g. fixed_at_source.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    version = serializers.IntegerField(required=False, min_value=1,
                                       help_text="The task version you read; 409 when it changed since.")
    survivor = serializers.CharField(required=False, max_length=20,
                                     help_text="merge: the golden ID to keep (one of the pair).")
    record_id = serializers.IntegerField(required=False, min_value=1,
                                         help_text="pick: the source record (a member) whose value wins.")
    value = serializers.JSONField(required=False, help_text="pick: the value to use instead of a source's.")

    def validate(self, data):
        action = data["action"]
        if action == "pick":
            if ("record_id" in data) == ("value" in data):
                raise serializers.ValidationError("pick: give either record_id or value.")
            if not (data.get("note") or "").strip():
                raise serializers.ValidationError({"note": "pick: give the reason in note; it is kept with the value."})
        stray = [f for f in ("survivor", "record_id", "value") if f in data and not (
            (f == "survivor" and action == "merge") or (f != "survivor" and action == "pick"))]
        if stray:
            raise serializers.ValidationError(f"{', '.join(stray)} does not apply to {action}.")
        return data


class TaskResolveView(APIView):
    """Close or decide an open task. 409 when it is closed already or changed since ``version``."""

    permission_classes = [HasScope.for_("tasks")]

    @extend_schema(tags=["steward tasks"], request=ResolveSerializer,
                   responses={200: TaskSerializer, 400: OpenApiResponse(), 403: OpenApiResponse(),
                              404: OpenApiResponse(), 409: OpenApiResponse()})
    def post(self, request, pk: int):
        task = task_or_404(request, pk)
        data = ResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        action = fields["action"]
        note, version = fields.get("note", ""), fields.get("version")
        try:
            if action in ("resolve", "dismiss"):
                resolution = fields.get("resolution") or ("dismissed" if action == "dismiss" else "resolved")
                close_task(task, steward=request.user, resolution=resolution, note=note,
                           dismiss=action == "dismiss", expected_version=version)
            elif action in ("merge", "not_a_match"):
                self._require_kind(task, PAIR_KINDS, action)
                steward, note = acting_steward(request.user, note)
                answer_match_task(task, merge=action == "merge", steward=steward, survivor=fields.get("survivor", ""),
                                  note=note, expected_version=version)
            else:
                self._require_kind(task, CONFLICT_KINDS, action)
                steward, note = acting_steward(request.user, note)
                resolve_conflict(task=task, steward=steward, record_id=fields.get("record_id"),
                                 value=fields.get("value"), reason=note, expected_version=version)
        except TaskAlreadyHandled as exc:
            raise Conflict(str(exc)) from exc
        except StewardActionError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from exc
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(TaskSerializer(task_or_404(request, task.pk)).data)

    @staticmethod
    def _require_kind(task: StewardTask, kinds, action: str) -> None:
        if task.kind not in kinds:
            raise serializers.ValidationError(
                {"detail": f"{action} does not answer a task of kind {task.kind}."})
