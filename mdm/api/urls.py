from django.urls import path, register_converter

from mdm.api import golden, ingest, match, publishing, records, schema, steward, tasks  # noqa: F401 (schema: extensions)

app_name = "api"


class CodeConverter:
    """Entity type and source codes: lower-case letters, digits, underscores."""

    regex = "[a-z][a-z0-9_]{0,39}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(CodeConverter, "code")

urlpatterns = [
    # Fixed prefixes first: they must not be read as entity type codes.
    path("sources/<str:source>/<str:entity_type>/records", ingest.SourceRecordsIngestView.as_view(), name="ingest"),
    path("sources/<str:source>/<str:entity_type>/records/<path:source_id>", records.SourceRecordView.as_view(),
         name="source-record"),
    path("xref/<str:source>/<path:source_id>", golden.SourceXrefView.as_view(), name="xref-source"),
    path("tasks", tasks.TaskListView.as_view(), name="tasks"),
    path("tasks/<int:pk>", tasks.TaskDetailView.as_view(), name="task"),
    path("tasks/<int:pk>/resolve", tasks.TaskResolveView.as_view(), name="task-resolve"),
    path("subscriptions", publishing.SubscriptionStatusView.as_view(), name="subscriptions"),
    path("subscriptions/<int:pk>/deliveries", publishing.DeliveryListView.as_view(), name="deliveries"),
    path("subscriptions/<int:pk>/replay", publishing.SubscriptionReplayView.as_view(), name="subscription-replay"),
    path("deliveries/<int:pk>/replay", publishing.DeliveryReplayView.as_view(), name="delivery-replay"),
    # Per entity type.
    path("<code:entity_type>/golden", golden.GoldenListView.as_view(), name="golden-list"),
    path("<code:entity_type>/golden/<str:golden_id>", golden.GoldenDetailView.as_view(), name="golden-detail"),
    path("<code:entity_type>/golden/<str:golden_id>/versions", golden.GoldenHistoryView.as_view(),
         name="golden-versions"),
    path("<code:entity_type>/golden/<str:golden_id>/xref", golden.GoldenXrefView.as_view(), name="golden-xref"),
    path("<code:entity_type>/golden/<str:golden_id>/ack", golden.GoldenAckView.as_view(), name="golden-ack"),
    path("<code:entity_type>/golden/<str:golden_id>/merge", steward.GoldenMergeView.as_view(), name="golden-merge"),
    path("<code:entity_type>/golden/<str:golden_id>/unmerge", steward.GoldenUnmergeView.as_view(),
         name="golden-unmerge"),
    path("<code:entity_type>/golden/<str:golden_id>/split", steward.GoldenSplitView.as_view(), name="golden-split"),
    path("<code:entity_type>/golden/<str:golden_id>/overrides/<code:attribute>", steward.GoldenOverrideView.as_view(),
         name="golden-override"),
    path("<code:entity_type>/records", records.SourceRecordListView.as_view(), name="record-list"),
    path("<code:entity_type>/match", match.MatchView.as_view(), name="match"),
]
