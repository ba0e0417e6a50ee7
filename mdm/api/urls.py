from django.urls import path

from mdm.api import ingest

app_name = "api"

urlpatterns = [
    path("sources/<str:source>/<str:entity_type>/records", ingest.SourceRecordsIngestView.as_view(), name="ingest"),
    path("sources/<str:source>/<str:entity_type>/records/<path:source_id>", ingest.SourceRecordDeleteView.as_view(),
         name="source-record-delete"),
]
