from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from mdm.models import EntityType, IngestBatch, SourceSystem


@login_required
def home(request):
    return render(request, "stewardship/home.html", {
        "entity_types": EntityType.objects.all(),
        "sources": SourceSystem.objects.all(),
        "batches": IngestBatch.objects.select_related("source_system", "entity_type")[:10],
    })
