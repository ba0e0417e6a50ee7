"""Steward actions on golden records, for automation: merge, unmerge, split, override.

The same service functions as the steward UI (``mdm.services.stewardship``),
so every action locks, versions, writes history and publishes its events
the same way. Scopes ``steward:<entity_type>`` and ``read:<entity_type>``;
an API client acts for the steward an admin named on it
(``ApiClient.acts_for``), whose name the history carries beside the
client's; a signed-in steward acts as themself.

Each call may send the ``version`` of the golden record it read: when the
record changed since, nothing is applied and the answer is 409.
"""
from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import transaction
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from mdm.api.common import Conflict, EntityScope
from mdm.api.golden import GoldenRecordSerializer
from mdm.models import GoldenRecord, SourceRecord
from mdm.representation import for_payload, payloads_for
from mdm.services.stewardship import (
    StewardActionError,
    acting_steward,
    clear_override,
    merge_goldens,
    set_override,
    split_golden,
    unmerge_record,
)

RESPONSES = {200: GoldenRecordSerializer,
             400: OpenApiResponse(description="The action was refused; `detail` says why."),
             403: OpenApiResponse(), 404: OpenApiResponse(),
             409: OpenApiResponse(description="The golden record changed since `version`.")}


class SourceRef(serializers.Serializer):
    source = serializers.CharField(max_length=40)
    source_id = serializers.CharField(max_length=255)


class ActionSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)
    version = serializers.IntegerField(required=False, min_value=1,
                                       help_text="The version of the golden record you read; 409 when it changed.")


class MergeSerializer(ActionSerializer):
    others = serializers.ListField(child=serializers.CharField(max_length=20), min_length=1, max_length=50,
                                   help_text="Golden IDs to merge into this one (they retire, resolving to it).")


class UnmergeSerializer(ActionSerializer, SourceRef):
    pass


class SplitSerializer(ActionSerializer):
    groups = serializers.ListField(
        child=serializers.ListField(child=SourceRef(), min_length=1), min_length=2, max_length=50,
        help_text="Every active source record of the golden record, in groups; the first group keeps the ID.")


class OverrideSerializer(serializers.Serializer):
    value = serializers.JSONField(help_text="The steward's value (a list for an aggregate attribute).")
    reason = serializers.CharField(max_length=500)
    version = serializers.IntegerField(required=False, min_value=1)


class StewardActionView(APIView):
    """Shared by the actions: who acts, the golden record at the expected version, errors as HTTP."""

    permission_classes = [EntityScope.of("steward"), EntityScope.of("read")]

    def begin(self, request, serializer_class, golden_id: str) -> dict:
        """The request's validated body (400 otherwise), with the golden record acted on as ``self.target``."""
        data = serializer_class(data=request.data)
        data.is_valid(raise_exception=True)
        self.target = self.golden(golden_id)
        return data.validated_data

    def golden(self, golden_id: str) -> GoldenRecord:
        golden = GoldenRecord.objects.filter(entity_type=self.entity, golden_id=golden_id).first()
        if golden is None:
            raise NotFound(f"no {self.entity.code} golden record {golden_id!r}")
        return golden

    def act(self, request, data, action):
        """Run ``action(steward, note)`` in one transaction, after checking the golden version (409)."""
        try:
            steward, note = acting_steward(request.user, data.get("note", ""))
            with transaction.atomic():
                expected = data.get("version")
                if expected is not None:
                    # Locked first, as the services lock it: nobody changes it between the check and the action.
                    current = (GoldenRecord.objects.select_for_update(no_key=True).filter(pk=self.target.pk)
                               .values_list("version", flat=True).get())
                    if current != expected:
                        raise Conflict(f"{self.target.golden_id} changed since you read it "
                                       f"(version {expected}, now {current}); read it again.")
                return action(steward, note)
        except StewardActionError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from exc
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc

    def body(self, goldens: list[GoldenRecord]) -> list[dict]:
        fresh = list(for_payload(GoldenRecord.objects.filter(pk__in=[g.pk for g in goldens]), self.entity))
        order = {g.pk: i for i, g in enumerate(goldens)}
        fresh.sort(key=lambda g: order[g.pk])
        return payloads_for(fresh, self.entity)

    def member(self, golden: GoldenRecord, ref: dict) -> SourceRecord:
        record = SourceRecord.objects.filter(entity_type=self.entity, source_system__code=ref["source"],
                                             source_id=ref["source_id"]).first()
        if record is None:
            raise NotFound(f"no {self.entity.code} record {ref['source']}:{ref['source_id']}")
        if record.golden_id != golden.pk or record.deleted:
            raise serializers.ValidationError(
                {"detail": f"{ref['source']}:{ref['source_id']} is not an active record of {golden.golden_id}."})
        return record


class GoldenMergeView(StewardActionView):
    """Merge other golden records into this one: their records join it and their IDs retire to it."""

    @extend_schema(tags=["steward actions"], request=MergeSerializer, responses=RESPONSES)
    def post(self, request, entity_type: str, golden_id: str):
        data = self.begin(request, MergeSerializer, golden_id)
        others = [self.golden(other) for other in dict.fromkeys(data["others"])]
        survivor = self.act(request, data, lambda steward, note: merge_goldens(
            survivor=self.target, others=others, steward=steward, note=note))
        return Response(self.body([survivor])[0])


class GoldenUnmergeView(StewardActionView):
    """Take one source record out of this golden record; answers the golden record it lands in."""

    @extend_schema(tags=["steward actions"], request=UnmergeSerializer, responses=RESPONSES)
    def post(self, request, entity_type: str, golden_id: str):
        data = self.begin(request, UnmergeSerializer, golden_id)
        record = self.member(self.target, data)
        landed = self.act(request, data, lambda steward, note: unmerge_record(
            record=record, steward=steward, note=note))
        return Response(self.body([landed])[0])


class GoldenSplitView(StewardActionView):
    """Split this golden record into groups of its source records; answers one golden record per group."""

    @extend_schema(tags=["steward actions"], request=SplitSerializer,
                   responses={**RESPONSES, 200: inline_serializer(
                       "SplitResult", {"results": GoldenRecordSerializer(many=True)})})
    def post(self, request, entity_type: str, golden_id: str):
        data = self.begin(request, SplitSerializer, golden_id)
        groups = [[self.member(self.target, ref).pk for ref in group] for group in data["groups"]]
        named = {r.pk: f"{r.source_system.code}:{r.source_id}" for r in SourceRecord.objects.filter(
            golden=self.target, deleted=False).select_related("source_system")}
        missing = sorted(named[pk] for pk in set(named) - {pk for group in groups for pk in group})
        if missing:
            raise serializers.ValidationError({"detail": f"Every record must go into a group; missing: "
                                                         f"{', '.join(missing)}."})
        parts = self.act(request, data, lambda steward, note: split_golden(
            golden=self.target, groups=groups, steward=steward, note=note))
        return Response({"results": self.body(parts)})


class GoldenOverrideView(StewardActionView):
    """A steward's value for one attribute (wins over every source until cleared), or clear it."""

    @extend_schema(tags=["steward actions"], request=OverrideSerializer, responses=RESPONSES)
    def put(self, request, entity_type: str, golden_id: str, attribute: str):
        data = self.begin(request, OverrideSerializer, golden_id)
        self.act(request, {**data, "note": ""}, lambda steward, note: set_override(
            golden=self.target, attribute=attribute, value=data["value"],
            reason=f"{note} {data['reason']}".strip(), steward=steward))
        return Response(self.body([self.target])[0])

    @extend_schema(tags=["steward actions"], request=None, responses=RESPONSES,
                   parameters=[OpenApiParameter("reason", str, description="Why the override goes (kept in history)."),
                               OpenApiParameter("version", int)])
    def delete(self, request, entity_type: str, golden_id: str, attribute: str):
        self.target = self.golden(golden_id)
        version = request.query_params.get("version")
        if version is not None and not version.isdigit():
            raise serializers.ValidationError({"version": ["a whole number"]})
        data = {"note": request.query_params.get("reason", "")[:500],
                "version": int(version) if version else None}
        self.act(request, data, lambda steward, note: clear_override(
            golden=self.target, attribute=attribute, steward=steward, reason=note))
        return Response(self.body([self.target])[0])
