"""Golden records, their history and the cross-reference, for downstream systems.

Every body is built by ``mdm.representation`` (the same dict a webhook
carries under ``data``); scopes are ``read:<entity_type>`` (``read:*``).
"""
from __future__ import annotations

import django_filters
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from mdm.api.common import (
    EntityScope,
    KeysetPage,
    entity_or_404,
    page_serializer,
    parse_fields,
    parse_include,
    parse_time,
    require_scope,
    select_fields,
    with_etag,
)
from mdm.models import (
    GoldenRecord,
    GoldenRecordVersion,
    SourceRecord,
    SourceSystem,
    XrefAcknowledgement,
)
from mdm.representation import for_payload, payloads_for, version_payload
from mdm.services import golden as golden_service

PAYLOAD_FIELDS = {"golden_id", "entity_type", "status", "version", "merged_into", "values", "sources", "updated_at",
                  "lineage", "source_records", "resolved_from"}


class SourceRefSerializer(serializers.Serializer):
    source = serializers.CharField()
    source_id = serializers.CharField()


class SourceRecordBriefSerializer(serializers.Serializer):
    source = serializers.CharField()
    source_id = serializers.CharField()
    record_id = serializers.IntegerField()
    version = serializers.IntegerField()
    deleted = serializers.BooleanField()
    attributes = serializers.DictField()
    received_at = serializers.DateTimeField()
    source_updated_at = serializers.DateTimeField(allow_null=True)


class GoldenRecordSerializer(serializers.Serializer):
    """Documentation of the golden-record body (the API and webhooks build it in mdm.representation)."""

    golden_id = serializers.CharField(help_text="Stable ID, e.g. CUS-000123.")
    entity_type = serializers.CharField()
    status = serializers.ChoiceField(GoldenRecord.Status.choices)
    version = serializers.IntegerField(help_text="Grows by one with every change; webhooks carry it too.")
    merged_into = serializers.CharField(allow_null=True, help_text="Survivor's ID when this record is retired.")
    values = serializers.DictField(help_text="Attribute values after survivorship.")
    sources = SourceRefSerializer(many=True, help_text="The source records it is built from.")
    updated_at = serializers.DateTimeField()
    resolved_from = serializers.CharField(required=False,
                                          help_text="Present when the requested ID was retired into this one.")
    lineage = serializers.DictField(required=False, help_text="With include=lineage: where each value came from.")
    source_records = SourceRecordBriefSerializer(many=True, required=False, help_text="With include=sources.")


def member_details(golden_pks, *, record_ids=None) -> dict[int, list[dict]]:
    """Source records of golden records (current members, or the given record ids), one query."""
    qs = SourceRecord.objects.select_related("source_system").order_by("source_system__code", "source_id")
    qs = qs.filter(id__in=record_ids) if record_ids is not None else qs.filter(golden_id__in=list(golden_pks),
                                                                               deleted=False)
    out: dict[int, list[dict]] = {}
    for r in qs.only("id", "golden_id", "source_system__code", "source_id", "version", "deleted", "attributes",
                     "received_at", "source_updated_at"):
        key = r.golden_id if record_ids is None else "as_of"
        out.setdefault(key, []).append({
            "source": r.source_system.code, "source_id": r.source_id, "record_id": r.pk, "version": r.version,
            "deleted": r.deleted, "attributes": r.attributes, "received_at": r.received_at,
            "source_updated_at": r.source_updated_at,
        })
    return out


class GoldenFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=GoldenRecord.Status.choices)
    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte",
        help_text="Incremental sync: records changed at or after this time (ISO 8601).")
    golden_id = django_filters.BaseInFilter(field_name="golden_id", help_text="One or more IDs, comma-separated.")
    source = django_filters.CharFilter(method="filter_source", help_text="Only records with a member from this source.")
    search = django_filters.CharFilter(field_name="display_name", lookup_expr="icontains",
                                       min_length=golden_service.NAME_SEARCH_MIN,
                                       help_text="Part of the display name (case-insensitive), at least "
                                                 f"{golden_service.NAME_SEARCH_MIN} characters.")

    class Meta:
        model = GoldenRecord
        fields = ["status", "updated_since", "golden_id", "source", "search"]

    def filter_source(self, queryset, name, value):
        members = SourceRecord.objects.filter(golden_id=OuterRef("pk"), source_system__code=value, deleted=False)
        return queryset.filter(Exists(members))


COMMON_PARAMS = [
    OpenApiParameter("fields", str, description="Comma-separated top-level fields and/or values.<attribute>."),
    OpenApiParameter("include", str, description="lineage and/or sources (full member source records)."),
]


@with_etag
class GoldenListView(GenericAPIView):
    """List golden records of one entity type, oldest change first, with an opaque cursor."""

    permission_classes = [EntityScope.of("read")]
    filterset_class = GoldenFilter
    queryset = GoldenRecord.objects.none()  # for the schema; get_queryset narrows by entity type

    def get_queryset(self):
        entity = getattr(self, "entity", None)
        if entity is None:  # schema generation
            return GoldenRecord.objects.none()
        include = parse_include(self.request, {"lineage", "sources"})
        return for_payload(GoldenRecord.objects.filter(entity_type=entity), entity, lineage="lineage" in include)

    @extend_schema(
        operation_id="golden_list", tags=["golden records"],
        parameters=[*COMMON_PARAMS,
                    OpenApiParameter("cursor", str, description="next_cursor of a previous page."),
                    OpenApiParameter("limit", int, description="Page size, 1–1000 (default 100).")],
        responses={200: page_serializer("GoldenRecordPage", GoldenRecordSerializer), 304: OpenApiResponse(),
                   400: OpenApiResponse(), 403: OpenApiResponse(), 404: OpenApiResponse()},
    )
    def get(self, request, entity_type: str):
        fields = parse_fields(request, PAYLOAD_FIELDS, self.entity)
        include = parse_include(request, {"lineage", "sources"})
        page = KeysetPage(request, table=GoldenRecord._meta.db_table)
        goldens = page.paginate(self.filter_queryset(self.get_queryset()))
        payloads = payloads_for(goldens, self.entity)
        if "lineage" in include:
            for golden, payload in zip(goldens, payloads):
                payload["lineage"] = golden.lineage
        if "sources" in include:
            details = member_details([g.pk for g in goldens])
            for golden, payload in zip(goldens, payloads):
                payload["source_records"] = details.get(golden.pk, [])
        return page.response([select_fields(p, fields) for p in payloads])


def golden_or_404(entity, golden_id: str) -> GoldenRecord:
    golden = for_payload(GoldenRecord.objects.filter(golden_id=golden_id, entity_type=entity), entity,
                         lineage=True).first()
    if golden is None:
        raise NotFound(f"no {entity.code} golden record {golden_id!r}")
    golden.entity_type = entity
    return golden


def resolved(golden: GoldenRecord) -> tuple[GoldenRecord, str | None]:
    """A retired record's survivor, and the ID it was asked for (None when not retired)."""
    if golden.status != GoldenRecord.Status.RETIRED or not golden.merged_into_id:
        return golden, None
    survivor = golden_service.resolve(golden.golden_id)
    survivor = for_payload(GoldenRecord.objects.filter(pk=survivor.pk), lineage=True).get()
    return survivor, golden.golden_id


@with_etag
class GoldenDetailView(APIView):
    """One golden record; a retired ID answers with its survivor unless resolve=false."""

    permission_classes = [EntityScope.of("read")]

    @extend_schema(
        tags=["golden records"],
        parameters=[*COMMON_PARAMS,
                    OpenApiParameter("as_of", OpenApiTypes.DATETIME,
                                     description="The record as it was at this time (its version history)."),
                    OpenApiParameter("version", int, description="The record at this version."),
                    OpenApiParameter("resolve", bool, description="Follow a retired ID to its survivor "
                                                                  "(default true; ignored with as_of/version).")],
        responses={200: GoldenRecordSerializer, 304: OpenApiResponse(), 400: OpenApiResponse(),
                   403: OpenApiResponse(), 404: OpenApiResponse()},
    )
    def get(self, request, entity_type: str, golden_id: str):
        fields = parse_fields(request, PAYLOAD_FIELDS, self.entity)
        include = parse_include(request, {"lineage", "sources"})
        golden = golden_or_404(self.entity, golden_id)
        as_of = parse_time(request.query_params.get("as_of"), "as_of")
        version_param = request.query_params.get("version")
        if as_of is not None or version_param:
            versions = GoldenRecordVersion.objects.filter(golden=golden)
            if version_param:
                if not version_param.isdigit():
                    raise ValidationError({"version": ["a whole number"]})
                versions = versions.filter(version=int(version_param))
            if as_of is not None:
                versions = versions.filter(created_at__lte=as_of)
            version = versions.order_by("-version").first()
            if version is None:
                raise NotFound(f"{golden_id} has no such version" if version_param
                               else f"{golden_id} did not exist yet at {as_of.isoformat()}")
            payload = version_payload(golden, version)
            if "lineage" in include:
                payload["lineage"] = version.lineage
            if "sources" in include:
                payload["source_records"] = member_details([], record_ids=version.members).get("as_of", [])
            return Response(select_fields(payload, fields))
        resolved_from = None
        if request.query_params.get("resolve", "true").lower() not in ("false", "0", "no"):
            golden, resolved_from = resolved(golden)
        payload = payloads_for([golden], golden.entity_type)[0]
        if resolved_from:
            payload["resolved_from"] = resolved_from
        if "lineage" in include:
            payload["lineage"] = golden.lineage
        if "sources" in include:
            payload["source_records"] = member_details([golden.pk]).get(golden.pk, [])
        return Response(select_fields(payload, fields))


class VersionSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    status = serializers.CharField()
    reason = serializers.CharField()
    actor = serializers.CharField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    merged_into = serializers.CharField(allow_null=True)


class GoldenHistoryView(APIView):
    """Every version of a golden record, newest first: when, why and by whom it changed."""

    permission_classes = [EntityScope.of("read")]

    @extend_schema(tags=["golden records"], responses={200: VersionSerializer(many=True), 403: OpenApiResponse(),
                                                       404: OpenApiResponse()})
    def get(self, request, entity_type: str, golden_id: str):
        golden = golden_or_404(self.entity, golden_id)
        rows = golden.versions.order_by("-version").values(
            "version", "status", "reason", "actor", "note", "created_at", "merged_into_golden_id")
        return Response([{**{k: v for k, v in r.items() if k != "merged_into_golden_id"},
                          "merged_into": r["merged_into_golden_id"] or None} for r in rows])


# --- cross-reference ---------------------------------------------------------------

class XrefEntrySerializer(serializers.Serializer):
    source = serializers.CharField()
    source_id = serializers.CharField()
    in_hub = serializers.BooleanField(help_text="The hub holds this source record (false: only acknowledged).")
    deleted = serializers.BooleanField()
    acknowledged_version = serializers.IntegerField(allow_null=True, help_text="Golden version the system confirmed.")
    acknowledged_at = serializers.DateTimeField(allow_null=True)


class GoldenXrefSerializer(serializers.Serializer):
    golden_id = serializers.CharField()
    entity_type = serializers.CharField()
    status = serializers.CharField()
    version = serializers.IntegerField()
    resolved_from = serializers.CharField(required=False)
    xref = XrefEntrySerializer(many=True)


def xref_of(golden: GoldenRecord) -> list[dict]:
    """Every source ID of a golden record: its source records (deleted ones flagged) and the IDs
    source systems acknowledged after a write-back, with the acknowledgement."""
    acks = {
        (a.source_system.code, a.source_id): a
        for a in XrefAcknowledgement.objects.filter(golden=golden).select_related("source_system")
    }
    entries = {}
    for code, source_id, deleted in SourceRecord.objects.filter(golden=golden).values_list(
            "source_system__code", "source_id", "deleted"):
        entries[(code, source_id)] = {"source": code, "source_id": source_id, "in_hub": True, "deleted": deleted}
    for key in acks:
        entries.setdefault(key, {"source": key[0], "source_id": key[1], "in_hub": False, "deleted": False})
    out = []
    for key in sorted(entries):
        ack = acks.get(key)
        out.append({**entries[key], "acknowledged_version": ack.golden_version if ack else None,
                    "acknowledged_at": ack.acknowledged_at if ack else None})
    return out


def xref_body(golden: GoldenRecord, resolved_from: str | None) -> dict:
    body = {"golden_id": golden.golden_id, "entity_type": golden.entity_type.code, "status": golden.status,
            "version": golden.version}
    if resolved_from:
        body["resolved_from"] = resolved_from
    body["xref"] = xref_of(golden)
    return body


@with_etag
class GoldenXrefView(APIView):
    """Golden ID → every source ID (a retired ID answers for its survivor)."""

    permission_classes = [EntityScope.of("read")]

    @extend_schema(tags=["cross-reference"], responses={200: GoldenXrefSerializer, 403: OpenApiResponse(),
                                                        404: OpenApiResponse()})
    def get(self, request, entity_type: str, golden_id: str):
        golden, resolved_from = resolved(golden_or_404(self.entity, golden_id))
        return Response(xref_body(golden, resolved_from))


class SourceXrefSerializer(serializers.Serializer):
    source = serializers.CharField()
    source_id = serializers.CharField()
    entity_type = serializers.CharField()
    golden_id = serializers.CharField()
    resolved_from = serializers.CharField(required=False)
    golden = GoldenRecordSerializer()


@with_etag
class SourceXrefView(APIView):
    """(source system, source ID) → its golden record; a retired golden answers with its survivor."""

    @extend_schema(
        tags=["cross-reference"],
        parameters=[OpenApiParameter("entity_type", str, description="Needed when the source uses the same ID "
                                                                     "for records of several entity types.")],
        responses={200: SourceXrefSerializer, 400: OpenApiResponse(), 403: OpenApiResponse(), 404: OpenApiResponse()},
    )
    def get(self, request, source: str, source_id: str):
        source_obj = SourceSystem.objects.filter(code=source).first()
        if source_obj is None:
            raise NotFound(f"unknown source system {source!r}")
        records = SourceRecord.objects.filter(source_system=source_obj, source_id=source_id)
        acks = XrefAcknowledgement.objects.filter(source_system=source_obj, source_id=source_id)
        entity_code = request.query_params.get("entity_type")
        if entity_code:
            entity = entity_or_404(entity_code)
            records, acks = records.filter(entity_type=entity), acks.filter(golden__entity_type=entity)
        found = {(r.entity_type_id, r.golden_id) for r in records.only("entity_type_id", "golden_id")}
        found |= {(a.golden.entity_type_id, a.golden_id) for a in acks.select_related("golden")}
        entity_ids = {e for e, _ in found}
        if not found:
            raise NotFound(f"no record {source_id!r} from {source}" + (f" of type {entity_code}" if entity_code else ""))
        if len(entity_ids) > 1:
            raise ValidationError({"entity_type": ["this source uses the ID for several entity types; name one"]})
        golden_pks = {g for _, g in found if g is not None}
        if not golden_pks:
            raise NotFound(f"{source}:{source_id} is not linked to a golden record yet (matching pending)")
        golden = for_payload(GoldenRecord.objects.filter(pk=min(golden_pks))).get()
        require_scope(request, f"read:{golden.entity_type.code}", f"read {golden.entity_type.code} records")
        golden, resolved_from = resolved(golden)
        body = {"source": source, "source_id": source_id, "entity_type": golden.entity_type.code,
                "golden_id": golden.golden_id}
        if resolved_from:
            body["resolved_from"] = resolved_from
        body["golden"] = payloads_for([golden])[0]
        return Response(body)


class AckRequestSerializer(serializers.Serializer):
    source = serializers.CharField(required=False, help_text="Defaults to the API client's own source system.")
    source_ids = serializers.ListField(child=serializers.CharField(max_length=255, allow_blank=False),
                                       min_length=1, max_length=100)
    version = serializers.IntegerField(min_value=1, help_text="The golden version the system now holds.")
    webhook_id = serializers.CharField(required=False, max_length=40, allow_blank=True)


class GoldenAckView(APIView):
    """A source system confirms it holds the golden record under its own ID(s) (write-back)."""

    @extend_schema(tags=["cross-reference"], request=AckRequestSerializer,
                   responses={200: GoldenXrefSerializer, 400: OpenApiResponse(), 403: OpenApiResponse(),
                              404: OpenApiResponse()})
    def post(self, request, entity_type: str, golden_id: str):
        entity = entity_or_404(entity_type)
        data = AckRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        code = data.validated_data.get("source") or getattr(getattr(request.user, "source_system", None), "code", None)
        if not code:
            raise ValidationError({"source": ["name the source system that holds the IDs"]})
        require_scope(request, f"write:{code}", f"acknowledge as source {code!r}")
        source_obj = SourceSystem.objects.filter(code=code).first()
        if source_obj is None:
            raise NotFound(f"unknown source system {code!r}")
        golden, resolved_from = resolved(golden_or_404(entity, golden_id))
        version = data.validated_data["version"]
        if version > golden.version:
            raise ValidationError({"version": [f"{golden.golden_id} is at version {golden.version}"]})
        who = getattr(request.user, "name", None) or request.user.get_username()
        now = timezone.now()
        with transaction.atomic():
            for source_id in dict.fromkeys(data.validated_data["source_ids"]):
                ack, created = XrefAcknowledgement.objects.select_for_update().get_or_create(
                    golden=golden, source_system=source_obj, source_id=source_id,
                    defaults={"golden_version": version, "acknowledged_at": now, "acknowledged_by": str(who),
                              "webhook_id": data.validated_data.get("webhook_id", "")})
                # An acknowledgement never goes back in time: a late ack of an older version is kept as is.
                if not created and version >= ack.golden_version:
                    ack.golden_version, ack.acknowledged_at, ack.acknowledged_by = version, now, str(who)
                    ack.webhook_id = data.validated_data.get("webhook_id", "") or ack.webhook_id
                    ack.save()
        return Response(xref_body(golden, resolved_from))
