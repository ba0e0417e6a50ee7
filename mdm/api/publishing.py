"""Delivery status and dead-letter replay for admins (scope ``admin``)."""
from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from mdm.api.auth import HasScope
from mdm.api.common import KeysetPage, page_serializer
from mdm.models import Delivery, Subscription
from mdm.selectors_publishing import subscription_status
from mdm.services.publishing import replay

AdminOnly = HasScope.for_("admin")


class SubscriptionStatusSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.URLField()
    active = serializers.BooleanField()
    target_system = serializers.CharField(allow_null=True)
    pending = serializers.IntegerField(help_text="Waiting, sending or retrying.")
    failing = serializers.IntegerField(help_text="Pending after at least one failed attempt.")
    delivered = serializers.IntegerField()
    dead = serializers.IntegerField(help_text="Dead letters: rejected (4xx) or retries exhausted.")
    lag_seconds = serializers.FloatField(help_text="Age of the oldest undelivered event.")
    oldest_pending_at = serializers.DateTimeField(allow_null=True)
    last_delivered_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    health = serializers.ChoiceField(["ok", "catching up", "failing", "dead letters"])


class SubscriptionStatusView(APIView):
    """Delivery status of every subscription."""

    permission_classes = [AdminOnly]

    @extend_schema(tags=["publishing"], responses={200: SubscriptionStatusSerializer(many=True),
                                                   403: OpenApiResponse()})
    def get(self, request):
        return Response([s.as_dict() for s in subscription_status()])


class DeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.CharField(read_only=True)
    golden_id = serializers.CharField(source="event.golden_id_text")
    event_type = serializers.CharField(source="event.event_type")
    subscription = serializers.CharField(source="subscription.name")

    class Meta:
        model = Delivery
        fields = ["id", "webhook_id", "subscription", "golden_id", "golden_version", "event_type", "status",
                  "attempts", "next_attempt_at", "last_attempt_at", "last_status_code", "last_response",
                  "last_error", "delivered_at", "created_at"]


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Delivery.Status.choices)
    golden_id = django_filters.CharFilter(field_name="event__golden_id_text")

    class Meta:
        model = Delivery
        fields = ["status", "golden_id"]


def subscription_or_404(pk: int) -> Subscription:
    sub = Subscription.objects.filter(pk=pk).first()
    if sub is None:
        raise NotFound(f"no subscription {pk}")
    return sub


class DeliveryListView(GenericAPIView):
    """Deliveries of one subscription, oldest first (keyset cursor); status=dead for its dead letters."""

    permission_classes = [AdminOnly]
    filterset_class = DeliveryFilter
    queryset = Delivery.objects.none()

    def get_queryset(self):
        return Delivery.objects.filter(subscription_id=self.kwargs.get("pk")).select_related("event", "subscription")

    @extend_schema(tags=["publishing"], parameters=[OpenApiParameter("cursor", str), OpenApiParameter("limit", int)],
                   responses={200: page_serializer("DeliveryPage", DeliverySerializer), 400: OpenApiResponse(),
                              403: OpenApiResponse(), 404: OpenApiResponse()})
    def get(self, request, pk: int):
        subscription_or_404(pk)
        page = KeysetPage(request, time_field="created_at", table=Delivery._meta.db_table)
        rows = page.paginate(self.filter_queryset(self.get_queryset()))
        return page.response(DeliverySerializer(rows, many=True).data)


class ReplayRequestSerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text="Only dead letters of events written since.")


class ReplayResultSerializer(serializers.Serializer):
    requeued = serializers.IntegerField()
    superseded = serializers.IntegerField(help_text="Not sent: the subscriber already has a newer version.")


def _who(request) -> str:
    return str(getattr(request.user, "name", None) or request.user.get_username())


class SubscriptionReplayView(APIView):
    """Replay every dead letter (failed or dead) of a subscription, optionally since a time."""

    permission_classes = [AdminOnly]

    @extend_schema(tags=["publishing"], request=ReplayRequestSerializer,
                   responses={200: ReplayResultSerializer, 400: OpenApiResponse(), 403: OpenApiResponse(),
                              404: OpenApiResponse()})
    def post(self, request, pk: int):
        sub = subscription_or_404(pk)
        data = ReplayRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deliveries = Delivery.objects.filter(subscription=sub)
        if data.validated_data.get("since"):
            deliveries = deliveries.filter(created_at__gte=data.validated_data["since"])
        result = replay(deliveries, actor=_who(request))
        return Response({"requeued": result.requeued, "superseded": result.superseded})


class DeliveryReplayView(APIView):
    """Replay one dead letter."""

    permission_classes = [AdminOnly]

    @extend_schema(tags=["publishing"], request=None,
                   responses={200: ReplayResultSerializer, 403: OpenApiResponse(), 404: OpenApiResponse(),
                              409: OpenApiResponse()})
    def post(self, request, pk: int):
        from mdm.api.tasks import Conflict

        delivery = Delivery.objects.filter(pk=pk).first()
        if delivery is None:
            raise NotFound(f"no delivery {pk}")
        if delivery.status not in Delivery.DEAD_LETTERS:
            raise Conflict(f"delivery {pk} is {delivery.status}; only failed or dead deliveries are replayed")
        result = replay(Delivery.objects.filter(pk=pk), actor=_who(request))
        return Response({"requeued": result.requeued, "superseded": result.superseded})
