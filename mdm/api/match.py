"""Search before create: which golden records is this candidate? Stores nothing."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from mdm.api.common import EntityScope
from mdm.api.golden import GoldenRecordSerializer
from mdm.models import GoldenRecord, SourceSystem
from mdm.representation import for_payload, payloads_for


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"


class NotReady(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "not_ready"


class MatchRequestSerializer(serializers.Serializer):
    attributes = serializers.DictField(help_text="The candidate's attributes by canonical name, e.g. "
                                                 '{"name": "Acme Supply", "city": "Austin"}.')
    source = serializers.CharField(required=False, help_text="Standardize as this source would (region etc.).")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=50, default=10)


class ComparisonSerializer(serializers.Serializer):
    name = serializers.CharField()
    level = serializers.CharField()
    weight = serializers.FloatField()
    values = serializers.ListField()


class ExplanationSerializer(serializers.Serializer):
    prior_weight = serializers.FloatField(required=False)
    match_weight = serializers.FloatField(required=False)
    probability = serializers.FloatField(required=False)
    comparisons = ComparisonSerializer(many=True, required=False)


class CandidateSerializer(serializers.Serializer):
    golden_id = serializers.CharField()
    probability = serializers.FloatField()
    band = serializers.ChoiceField(["match", "possible", "distinct"], required=False,
                                   help_text="match: at or above the auto-link threshold; possible: a steward would "
                                             "review it; distinct: below review.")
    explanation = ExplanationSerializer()
    golden = GoldenRecordSerializer()


class MatchResponseSerializer(serializers.Serializer):
    candidates = CandidateSerializer(many=True)


class MatchView(APIView):
    """Rank golden records by the probability that they are the candidate; nothing is written."""

    permission_classes = [EntityScope.of("match")]

    @extend_schema(tags=["matching"], request=MatchRequestSerializer,
                   responses={200: MatchResponseSerializer, 400: OpenApiResponse(), 403: OpenApiResponse(),
                              404: OpenApiResponse(), 409: OpenApiResponse(description="No trained model yet")})
    def post(self, request, entity_type: str):
        data = MatchRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        attributes = data.validated_data["attributes"]
        unknown = sorted(set(attributes) - set(self.entity.attribute_names))
        if unknown:
            raise ValidationError({"attributes": [f"unknown attribute(s) of {self.entity.code}: {', '.join(unknown)}"]})
        source = None
        if data.validated_data.get("source"):
            source = SourceSystem.objects.filter(code=data.validated_data["source"]).first()
            if source is None:
                raise NotFound(f"unknown source system {data.validated_data['source']!r}")
        try:
            from mdm.services.matching import NotMatchable, match_candidate
        except ImportError as exc:  # a deployment without the matching engine
            raise ServiceUnavailable("matching is not available on this hub") from exc
        try:
            ranked = match_candidate(self.entity, attributes, source=source, limit=data.validated_data["limit"])
        except NotMatchable as exc:  # e.g. no trained model yet: a state to fix, not a server fault
            raise NotReady(str(exc)) from exc
        goldens = {g.golden_id: g for g in for_payload(
            GoldenRecord.objects.filter(golden_id__in=[c["golden_id"] for c in ranked]), self.entity)}
        payloads = dict(zip(goldens, payloads_for(goldens.values(), self.entity)))
        return Response({"candidates": [
            {"golden_id": c["golden_id"], "probability": c["probability"], "band": c.get("band"),
             "explanation": c["explanation"], "golden": payloads.get(c["golden_id"])}
            for c in ranked
        ]})
