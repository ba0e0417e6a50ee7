"""POST records of a source system as a JSON array; DELETE one by its source ID."""
from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ParseError, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from mdm.api.auth import user_has_scope
from mdm.services.ingest import (
    API_DELETE_MARKER,
    IngestError,
    ingest_payloads,
    resolve_source_and_entity,
)

OutcomeSerializer = inline_serializer(
    "IngestOutcome",
    {
        "index": serializers.IntegerField(),
        "source_id": serializers.CharField(),
        "status": serializers.ChoiceField(["created", "updated", "unchanged", "deleted", "rejected"]),
        "record_id": serializers.IntegerField(required=False),
        "version": serializers.IntegerField(required=False),
        "reasons": serializers.ListField(child=serializers.DictField(), required=False),
        "issues": serializers.ListField(child=serializers.DictField(), required=False),
    },
    many=True,
)
IngestResponse = inline_serializer(
    "IngestResponse",
    {
        "batch": serializers.IntegerField(),
        "counts": serializers.DictField(child=serializers.IntegerField()),
        "unmapped_fields": serializers.ListField(child=serializers.CharField()),
        "records": OutcomeSerializer,
    },
)


class PayloadTooLarge(serializers.ValidationError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


def _check_writer(request, source_code: str):
    if not user_has_scope(request.user, f"write:{source_code}"):
        raise PermissionDenied(f"This credential may not write records as source {source_code!r}.")


def _resolve(source_code: str, entity_code: str):
    try:
        return resolve_source_and_entity(source_code, entity_code)
    except IngestError as exc:
        raise NotFound(str(exc)) from exc


def _response(result) -> Response:
    batch = result.batch
    return Response({
        "batch": batch.pk,
        "counts": batch.counts,
        "unmapped_fields": batch.unmapped_columns,
        "records": [o.as_dict() for o in result.outcomes],
    })


class SourceRecordsIngestView(APIView):
    """Send records of one source system and entity type.

    The body is a JSON array of objects, at most ``MDM_INGEST_MAX_BATCH``
    (10,000) per call. Field names are the source's own; the stored field
    mapping turns them into attributes. ``"_deleted": true`` marks a delete.
    The batch is written in one transaction; each record's outcome is
    returned (created, updated, unchanged, deleted, rejected with reasons).
    """

    @extend_schema(
        request={"application/json": {"type": "array", "items": {"type": "object"}}},
        responses={
            200: IngestResponse,
            400: OpenApiResponse(description="Malformed JSON or not an array"),
            403: OpenApiResponse(description="The token may not write as this source"),
            404: OpenApiResponse(description="Unknown source system or entity type"),
            413: OpenApiResponse(description="More records than the batch limit"),
        },
        tags=["ingestion"],
    )
    def post(self, request, source: str, entity_type: str):
        _check_writer(request, source)
        source_obj, entity = _resolve(source, entity_type)
        limit = settings.MDM_INGEST_MAX_BATCH
        # Reject a huge body before parsing it.
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            raise PayloadTooLarge({"detail": f"request body of {length} bytes exceeds the limit of "
                                             f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes; split the batch"})
        payloads = request.data
        if not isinstance(payloads, list):
            raise ParseError("The body must be a JSON array of record objects.")
        if len(payloads) > limit:
            raise PayloadTooLarge({"detail": f"batch of {len(payloads)} records exceeds the limit of {limit}; "
                                             "send it in smaller batches"})
        who = getattr(request.user, "name", None) or getattr(request.user, "username", "")
        try:
            result = ingest_payloads(source=source_obj, entity_type=entity, payloads=payloads, submitted_by=str(who))
        except IngestError as exc:
            raise ParseError(str(exc)) from exc
        return _response(result)


class SourceRecordDeleteView(APIView):
    """Mark one source record deleted (it is kept, never erased)."""

    @extend_schema(request=None, responses={200: IngestResponse, 403: OpenApiResponse(), 404: OpenApiResponse()},
                   tags=["ingestion"], parameters=[])
    def delete(self, request, source: str, entity_type: str, source_id: str):
        _check_writer(request, source)
        source_obj, entity = _resolve(source, entity_type)
        from mdm.models import SourceRecord

        if not SourceRecord.objects.filter(source_system=source_obj, entity_type=entity, source_id=source_id).exists():
            raise NotFound(f"no {entity.code} record {source_id!r} from {source_obj.code}")
        from mdm.services.ingest import ResolvedMapping

        mapping = ResolvedMapping.for_source(source_obj, entity)
        payload = {mapping.id_field: source_id, API_DELETE_MARKER: True}
        who = getattr(request.user, "name", None) or getattr(request.user, "username", "")
        result = ingest_payloads(source=source_obj, entity_type=entity, payloads=[payload], submitted_by=str(who))
        return _response(result)

