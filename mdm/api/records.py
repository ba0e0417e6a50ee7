"""Source records as the hub holds them: raw payload verbatim, standardized
attributes, data-quality issues, golden link and every version."""
from __future__ import annotations

import json

import django_filters
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from mdm.api.auth import user_has_scope
from mdm.api.common import EntityScope, KeysetPage, entity_or_404, page_serializer, with_etag
from mdm.api.ingest import SourceRecordDeleteView
from mdm.models import SourceRecord, SourceSystem


def _payload(raw: str):
    try:
        return json.loads(raw)
    except ValueError:  # kept verbatim even when it was never JSON (a file row)
        return raw


class SourceRecordSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="source_system.code")
    entity_type = serializers.CharField(source="entity_type.code")
    golden_id = serializers.SerializerMethodField()
    payload = serializers.SerializerMethodField(help_text="The record exactly as the source sent it.")

    class Meta:
        model = SourceRecord
        fields = ["id", "source", "source_id", "entity_type", "golden_id", "version", "deleted", "payload",
                  "attributes", "issues", "received_at", "source_updated_at", "created_at"]

    def get_golden_id(self, obj) -> str | None:
        return obj.golden.golden_id if obj.golden_id else None

    @extend_schema_field(serializers.JSONField())
    def get_payload(self, obj):
        return _payload(obj.raw)


class SourceRecordVersionSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    deleted = serializers.BooleanField()
    payload = serializers.JSONField()
    attributes = serializers.DictField()
    issues = serializers.ListField(child=serializers.DictField())
    received_at = serializers.DateTimeField()
    source_updated_at = serializers.DateTimeField(allow_null=True)
    batch = serializers.IntegerField(allow_null=True)


class SourceRecordDetailSerializer(SourceRecordSerializer):
    versions = serializers.SerializerMethodField()

    class Meta(SourceRecordSerializer.Meta):
        fields = [*SourceRecordSerializer.Meta.fields, "versions"]

    @staticmethod
    def versions_of(obj) -> list[dict]:
        return [
            {"version": v.version, "deleted": v.deleted, "payload": _payload(v.raw), "attributes": v.attributes,
             "issues": v.issues, "received_at": v.received_at, "source_updated_at": v.source_updated_at,
             "batch": v.batch_id}
            for v in obj.history()
        ]

    @extend_schema_field(SourceRecordVersionSerializer(many=True))
    def get_versions(self, obj) -> list[dict]:
        return self.versions_of(obj)


class SourceRecordFilter(django_filters.FilterSet):
    source = django_filters.CharFilter(field_name="source_system__code")
    source_id = django_filters.CharFilter()
    golden_id = django_filters.CharFilter(field_name="golden__golden_id")
    deleted = django_filters.BooleanFilter()
    updated_since = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="gte",
                                                     help_text="Records received (new or changed) since.")

    class Meta:
        model = SourceRecord
        fields = ["source", "source_id", "golden_id", "deleted", "updated_since"]


@with_etag
class SourceRecordListView(GenericAPIView):
    """Source records of one entity type, oldest receipt first (keyset cursor)."""

    permission_classes = [EntityScope.of("read")]
    filterset_class = SourceRecordFilter
    queryset = SourceRecord.objects.none()

    def get_queryset(self):
        entity = getattr(self, "entity", None)
        if entity is None:
            return SourceRecord.objects.none()
        return SourceRecord.objects.filter(entity_type=entity).select_related("source_system", "entity_type", "golden")

    @extend_schema(
        tags=["source records"],
        parameters=[OpenApiParameter("cursor", str), OpenApiParameter("limit", int)],
        responses={200: page_serializer("SourceRecordPage", SourceRecordSerializer), 400: OpenApiResponse(),
                   403: OpenApiResponse(), 404: OpenApiResponse()},
    )
    def get(self, request, entity_type: str):
        page = KeysetPage(request, time_field="received_at", table=SourceRecord._meta.db_table)
        rows = page.paginate(self.filter_queryset(self.get_queryset()))
        return page.response(SourceRecordSerializer(rows, many=True).data)


class SourceRecordView(SourceRecordDeleteView):
    """GET one source record with its versions; DELETE marks it deleted (see ingestion)."""

    @extend_schema(tags=["source records"], responses={200: SourceRecordDetailSerializer, 403: OpenApiResponse(),
                                                       404: OpenApiResponse()})
    def get(self, request, source: str, entity_type: str, source_id: str):
        entity = entity_or_404(entity_type)
        # Readers of the entity type, and the source system itself for its own records.
        if not (user_has_scope(request.user, f"read:{entity.code}") or user_has_scope(request.user, f"write:{source}")):
            raise PermissionDenied(f"This credential lacks the scope 'read:{entity.code}'.")
        source_obj = SourceSystem.objects.filter(code=source).first()
        if source_obj is None:
            raise NotFound(f"unknown source system {source!r}")
        record = (SourceRecord.objects.select_related("source_system", "entity_type", "golden")
                  .filter(source_system=source_obj, entity_type=entity, source_id=source_id).first())
        if record is None:
            raise NotFound(f"no {entity.code} record {source_id!r} from {source}")
        return Response(SourceRecordDetailSerializer(record).data)
